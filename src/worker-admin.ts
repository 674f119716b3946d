/**
 * A worker's admin surface: what the acceptor asks of it over comlink (WorkerAdmin in
 * src/messages.ts: drain, exit, room counts, lookups, test commands), and its supervision endpoint
 * (probes and resync requests, as ring records). Control plane only, never the hot path.
 */
import type http from 'node:http';
import type net from 'node:net';
import type { Actor } from './actor-system.js';
import { Disconnect } from './errors.js';
import v8 from 'node:v8';
import { ST_HEAP_KB, ST_LOOP_LAG_MS, ST_STATE, WorkerState } from './layout.js';
import { MessageKind, type ClusterWorkerStats, type CrashMode, type WorkerAdmin } from './messages.js';
import { flushWakes } from './ring/ring.js';
import { threadMemory, type ThreadMemory } from './thread-memory.js';
import type { WorkerContext } from '../actors/context.js';
import type { Deliverer } from '../actors/deliverer.js';
import type { RouterShard } from '../actors/router-shard.js';

/** What the admin surface closes or reads besides the worker's context. */
export interface AdminParts {
  readonly router: RouterShard;
  readonly deliverer: Deliverer;
  /** The worker's listeners, filled in as they start. */
  readonly servers: Array<net.Server | http.Server>;
  /** protocol.timerTickMs: the drain waits this much past its grace time. */
  readonly timerTickMs: number;
  /** Closed at the end of a drain (upstream client, pending message sends). */
  readonly closeAtDrain: ReadonlyArray<{ close(): void }>;
}

export class WorkerAdminSurface implements WorkerAdmin {
  private readonly ctx: WorkerContext;
  private readonly parts: AdminParts;

  /** Cluster mode: the worker's cluster member (set by the runtime once its engine is built). */
  cluster: { resync(): void; stats(): ClusterWorkerStats } | null = null;

  constructor(ctx: WorkerContext, parts: AdminParts) {
    this.ctx = ctx;
    this.parts = parts;
  }

  clusterResync(): void {
    this.cluster?.resync();
  }

  clusterStats(): ClusterWorkerStats | null {
    return this.cluster?.stats() ?? null;
  }

  async quiesce(): Promise<number> {
    const { registry, status, system } = this.ctx;
    if (registry.accepting) {
      registry.accepting = false;
      status.store(ST_STATE, WorkerState.Draining);
      for (const s of this.parts.servers) s.close();
    }
    // Pushes already in the mailbox, and merged batches waiting for their window, go out now.
    const records = system.drainAll();
    this.parts.deliverer.flushAll();
    await system.settled();
    return records;
  }

  async drain(graceMs: number): Promise<{ connections: number; records: number; forced: number }> {
    const { registry, status, system, wheel } = this.ctx;
    let records = await this.quiesce();
    const connections = registry.byId.size;
    // Every client is told to reconnect after a random delay (spread, so a restart is not a connect
    // storm); what is queued for it is written before the FIN, for up to graceMs.
    for (const conn of [...registry.byId.values()]) conn.kick(Disconnect.Shutdown.code, Disconnect.Shutdown.reason, 0, registry.reconnectDelay(), graceMs);
    if (registry.byId.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs + this.parts.timerTickMs);
        registry.onEmpty = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      registry.onEmpty = null;
    }
    const forced = registry.byId.size;
    for (const conn of [...registry.byId.values()]) conn.transport.destroy();
    wheel.stop();
    for (const c of this.parts.closeAtDrain) c.close();
    await system.settled();
    records += system.drainAll();
    // The mailbox is still drained until exit: this worker's control port serves until every
    // worker has drained (its pushes' replies come back here). Stopped: the others send it no more pushes.
    status.store(ST_STATE, WorkerState.Stopped);
    return { connections, records, forced };
  }

  exit(): void {
    this.ctx.system.stop();
    flushWakes();
    setImmediate(() => process.exit(0));
  }

  roomCounts(): Record<string, number> {
    return this.ctx.registry.rooms.localCounts();
  }

  setRoomTotals(totals: Record<string, number>): void {
    this.ctx.registry.rooms.setTotals(totals);
  }

  connectionCount(): number {
    return this.ctx.registry.byId.size;
  }

  ips(): string[] {
    return [...this.ctx.registry.ips.keys()];
  }

  sessionInfo(keys: string[]): Array<{ key: string; rooms: string[]; since: number; protocol: 'tcp' | 'ws' | 'mars' }> {
    const out: Array<{ key: string; rooms: string[]; since: number; protocol: 'tcp' | 'ws' | 'mars' }> = [];
    for (const key of keys) {
      const conn = this.ctx.registry.byKey.get(key);
      if (conn !== undefined) out.push({ key, rooms: [...conn.rooms], since: conn.since, protocol: conn.transport.protocol });
    }
    return out;
  }

  evictFromRoom(keys: string[], room: string): number {
    let n = 0;
    for (const key of keys) if (this.ctx.registry.byKey.get(key)?.evict(room) === true) n++;
    return n;
  }

  kickKey(key: string): number {
    const conn = this.ctx.registry.byKey.get(key);
    if (conn === undefined) return 0;
    conn.kick(Disconnect.Kicked.code, Disconnect.Kicked.reason);
    return 1;
  }

  routerLookup(mid: number): Array<[string, number, string]> {
    // Registrations committed to this shard's mailbox before the question came are applied first.
    this.ctx.system.catchUp();
    return this.parts.router.lookup(mid);
  }

  debugRegister(mid: number, key: string, platform: string): void {
    this.ctx.registry.registerRoute({ mid, id: 0, platform, key }, 0);
  }

  debugCrash(mode: CrashMode): void {
    this.ctx.log.warn({ mode }, 'test command: crashing this worker');
    setImmediate(() => {
      if (mode === 'exit') process.exit(3);
      if (mode === 'oom') {
        const hoard: number[][] = [];
        for (;;) hoard.push(new Array<number>(1 << 20).fill(hoard.length));
      }
      throw new Error('test command: worker crash');
    });
  }

  debugMemory(gc: boolean): ThreadMemory & { timerEntries: number; connections: number } {
    return { ...threadMemory(gc), timerEntries: this.ctx.wheel.size, connections: this.ctx.registry.byId.size };
  }

  debugBlock(ms: number): void {
    this.ctx.log.warn({ ms }, 'test command: blocking this worker');
    setImmediate(() => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        // busy on purpose: the supervisor must notice the mailbox standing still
      }
    });
  }
}

/**
 * The worker's supervision endpoint (ActorKind.System, SystemActorId.Supervision): a probe proves
 * the mailbox is drained (how late it came is the loop lag); a resync means a replaced worker's
 * router and key-directory shards start empty, so this worker registers again the users and keys
 * it owns, and each session extension tells the new shard what it must know.
 */
export class SupervisionActor implements Actor {
  private readonly ctx: WorkerContext;

  constructor(ctx: WorkerContext) {
    this.ctx = ctx;
  }

  receive(kind: number, _source: number, buf: Uint8Array, off: number, len: number): void {
    if (kind === MessageKind.Probe) {
      if (len >= 8) {
        const lag = Date.now() - new DataView(buf.buffer, buf.byteOffset + off, 8).getFloat64(0);
        this.ctx.status.store(ST_LOOP_LAG_MS, Math.max(0, Math.round(lag)));
        // Once per probe (supervisor.probeIntervalMs), so the acceptor reads every heap without asking.
        this.ctx.status.store(ST_HEAP_KB, Math.round(v8.getHeapStatistics().used_heap_size / 1024));
      }
      return;
    }
    if (kind === MessageKind.RouterResync && len >= 2) this.resync((buf[off]! << 8) | buf[off + 1]!);
  }

  private resync(shard: number): void {
    const { registry, extensions } = this.ctx;
    registry.resync(shard, (conn) => {
      for (const ext of extensions.list) ext.resync(conn);
    });
  }
}
