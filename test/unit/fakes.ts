/**
 * In-memory stand-ins for the unit tests of the state owners: a transport that records what the
 * session writes, an actor system that records the ring records it would send, and a worker
 * context built around a real Registry, TimerWheel and SharedLimits (no thread, no socket).
 */
import type { ActorSystem } from '../../src/actor-system.js';
import type { AuthRequest, AuthResult } from '../../src/auth/index.js';
import { STATUS_WORDS } from '../../src/layout.js';
import { createLimitsBuffer, SharedLimits, type ConnectionLimits } from '../../src/limits.js';
import { createLogger } from '../../src/logger.js';
import type { PushFrames } from '../../src/protocols/frames.js';
import type { Transport } from '../../src/protocols/transport.js';
import { SendResult } from '../../src/ring/outbox.js';
import { SessionExtensions, type SessionExtension } from '../../src/session.js';
import { ThreadStatus } from '../../src/thread-status.js';
import { TimerWheel, type Expiring } from '../../src/timer-wheel.js';
import { UpstreamClient } from '../../src/upstream/index.js';
import type { SessionSettings, WorkerContext } from '../../actors/context.js';
import { Registry } from '../../actors/registry.js';
import { RouterShard } from '../../actors/router-shard.js';

export const silentLog = createLogger('silent', 'unit');

export interface SentPacket {
  ver: number;
  op: number;
  seq: number;
  body: Buffer;
}

/** A transport that records every packet, push and close. */
export class FakeTransport implements Transport {
  readonly protocol: 'tcp' | 'ws' | 'mars';
  readonly remoteAddress: string;
  readonly packets: SentPacket[] = [];
  readonly frames: PushFrames[] = [];
  /** Everything in order: 'packet:<op>', 'frames', 'close', 'destroy', 'discard'. */
  readonly events: string[] = [];
  queued = 0;
  gap = 0;
  /** What dropOldest reports (messages dropped) the next time. */
  dropNext = 0;
  closedWith: string | null = null;
  destroyed = false;

  constructor(protocol: 'tcp' | 'ws' | 'mars' = 'tcp', remoteAddress = '10.0.0.1') {
    this.protocol = protocol;
    this.remoteAddress = remoteAddress;
  }
  sendPacket(ver: number, op: number, seq: number, body: Uint8Array | null): boolean {
    this.packets.push({ ver, op, seq, body: Buffer.from(body ?? []) });
    this.events.push(`packet:${op}`);
    return true;
  }
  write(): boolean {
    return true;
  }
  writeFrames(frames: PushFrames): void {
    this.frames.push(frames);
    this.events.push('frames');
  }
  queuedBytes(): number {
    return this.queued;
  }
  dropOldest(): number {
    const n = this.dropNext;
    this.gap += n;
    return n;
  }
  pendingGap(): number {
    return this.gap;
  }
  discardQueued(): void {
    this.events.push('discard');
  }
  destroy(): void {
    this.destroyed = true;
    this.events.push('destroy');
  }
  close(reason: string): void {
    this.closedWith = reason;
    this.events.push('close');
  }
  /** The op 6 bodies sent, parsed. */
  disconnects(): Array<{ code: number; reason: string; reconnect_after_ms?: number }> {
    return this.packets.filter((p) => p.op === 6).map((p) => JSON.parse(p.body.toString()) as { code: number; reason: string });
  }
}

export interface SentRecord {
  thread: number;
  actorKind: number;
  actorId: number;
  kind: number;
  body: Uint8Array;
}

/** An actor system that records what would go into the rings. */
export class FakeSystem {
  readonly self: number;
  readonly sent: SentRecord[] = [];
  dozing = false;
  catchUps = 0;
  /** Threads whose mailbox refuses records (SendResult.Rejected). */
  readonly refusing = new Set<number>();

  constructor(self: number) {
    this.self = self;
  }
  send(thread: number, actorKind: number, actorId: number, kind: number, body: Uint8Array | null = null): SendResult {
    if (this.refusing.has(thread)) return SendResult.Rejected;
    this.sent.push({ thread, actorKind, actorId, kind, body: body === null ? new Uint8Array(0) : body.slice() });
    return SendResult.Written;
  }
  setDozing(on: boolean): void {
    this.dozing = on;
  }
  catchUp(): number {
    this.catchUps++;
    return 0;
  }
  /** The records of one message kind, and forgets them. */
  take(kind: number): SentRecord[] {
    const out = this.sent.filter((r) => r.kind === kind);
    for (const r of out) this.sent.splice(this.sent.indexOf(r), 1);
    return out;
  }
  asSystem(): ActorSystem {
    return this as unknown as ActorSystem;
  }
}

export interface ContextOptions {
  index?: number;
  workers?: number;
  limits?: Partial<ConnectionLimits>;
  extensions?: SessionExtension[];
  settings?: Partial<SessionSettings>;
  authenticate?: (req: AuthRequest) => Promise<AuthResult>;
  multiLoginKick?: readonly string[];
  handshakeTimeoutMs?: number;
}

export interface TestWorker {
  ctx: WorkerContext;
  system: FakeSystem;
  wheel: TimerWheel<Expiring>;
  registry: Registry;
  status: ThreadStatus;
  limits: SharedLimits;
}

/** A worker context as src/worker-runtime.ts builds it, with a fake actor system; its wheel ticks only when the test calls tick(). */
export function testWorker(opts: ContextOptions = {}): TestWorker {
  const index = opts.index ?? 0;
  const workers = opts.workers ?? 2;
  const system = new FakeSystem(index);
  const statusBuffer = new SharedArrayBuffer((workers + 1) * STATUS_WORDS * 4);
  const status = new ThreadStatus(statusBuffer, index);
  const connectionLimits: ConnectionLimits = { maxConnections: 0, maxConnectionsPerWorker: 0, maxConnectionsPerIp: 0, maxPendingHandshakes: 0, ...opts.limits };
  const limits = new SharedLimits(createLimitsBuffer(workers, connectionLimits), workers, connectionLimits);
  const wheel = new TimerWheel<Expiring>(10, 64, (owner) => owner.onTimeout());
  const registry = new Registry(
    {
      index,
      workers,
      buckets: 4,
      handshakeTimeoutMs: opts.handshakeTimeoutMs ?? 1000,
      multiLogin: { default: 'allow', kick: opts.multiLoginKick ?? [], allow: [] },
      reconnectSpreadMs: 100,
      graceMs: 500,
    },
    system.asSystem(),
    limits,
    wheel,
    status,
  );
  const ctx: WorkerContext = Object.freeze({
    index,
    workers,
    system: system.asSystem(),
    registry,
    wheel,
    authenticate: opts.authenticate ?? (async (req: AuthRequest): Promise<AuthResult> => ({ ok: true, mid: req.mid, rooms: [] })),
    upstream: new UpstreamClient({ services: {}, maxInFlight: 10, ratePerSec: 100, burst: 10 }),
    limits,
    extensions: new SessionExtensions(opts.extensions ?? []),
    log: silentLog,
    status,
    settings: Object.freeze({ maxRooms: 4, heartbeatTimeoutMs: 1000, writeQueueBytes: 1000, upstream: { maxInFlight: 2, ratePerSec: 100, burst: 2 }, ...opts.settings }),
  });
  return { ctx, system, wheel, registry, status, limits };
}

/** Lets promise callbacks (an auth result) run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** What an IM shard's unit test starts from: one device registered with a router shard, a fake system, status words and a wheel. */
export function imShardParts(mid: number): {
  DEV: { mid: number; worker: number; connId: number; key: string };
  system: FakeSystem;
  status: ThreadStatus;
  wheel: TimerWheel<Expiring>;
  router: RouterShard;
} {
  const DEV = { mid, worker: 1, connId: 3, key: 'phone' };
  const system = new FakeSystem(0);
  const status = new ThreadStatus(new SharedArrayBuffer(3 * STATUS_WORDS * 4), 0);
  const wheel = new TimerWheel<Expiring>(10, 64, (owner) => owner.onTimeout());
  const router = new RouterShard({ entriesChanged: () => undefined, kick: () => undefined, deliver: () => undefined, replyEmpty: () => undefined });
  router.register(DEV.mid, DEV.key, { worker: DEV.worker, connId: DEV.connId, platform: '' }, false);
  return { DEV, system, status, wheel, router };
}
