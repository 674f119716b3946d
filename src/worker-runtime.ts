/**
 * Everything one worker thread runs: its actor system (mailbox drain loop), its connection actors in
 * buckets, its router-shard actor, and its own listeners on its own descriptors of the shared
 * listening sockets. workers/worker.ts only builds this from workerData.
 */
import type net from 'node:net';
import type http from 'node:http';
import { ActorKind, ActorSystem, type Actor } from './actor-system.js';
import type { Config } from './config.js';
import { shardOfMid } from './hash.js';
import { ACTOR_ID_MASK, ST_ACCEPTED, ST_CONNECTIONS, ST_ROUTER_ENTRIES, ST_STATE, STATUS_WORDS, WorkerState } from './layout.js';
import type { Logger } from './logger.js';
import { MessageKind, type CrashMode, type WorkerAdmin } from './messages.js';
import { listenTcp } from './protocols/tcp.js';
import type { Transport, TransportSink } from './protocols/transport.js';
import { listenWs } from './protocols/ws.js';
import { Buckets } from '../actors/bucket.js';
import { ConnectionActor, type ConnectionHost } from '../actors/connection.js';
import { encodeRegister, encodeUnregister, RouterShard } from '../actors/router-shard.js';

export interface WorkerInit {
  index: number;
  workers: number;
  config: Config;
  mailboxes: SharedArrayBuffer[];
  status: SharedArrayBuffer;
  fds: Record<string, number>;
}

/** The worker's system actor: supervision records addressed to the worker itself. */
class SystemActor implements Actor {
  private readonly runtime: WorkerRuntime;
  constructor(runtime: WorkerRuntime) {
    this.runtime = runtime;
  }
  receive(kind: number, _source: number, buf: Uint8Array, off: number, len: number): void {
    if (kind === MessageKind.Probe) return; // consuming it is the proof of progress
    if (kind === MessageKind.RouterResync && len >= 2) this.runtime.resyncShard((buf[off]! << 8) | buf[off + 1]!);
  }
}

export class WorkerRuntime implements ConnectionHost, WorkerAdmin {
  readonly index: number;
  readonly workers: number;
  readonly system: ActorSystem;
  readonly router: RouterShard;
  readonly connections: Buckets<ConnectionActor>;
  private readonly config: Config;
  private readonly log: Logger;
  private readonly status: Int32Array;
  private readonly base: number;
  private readonly servers: Array<net.Server | http.Server> = [];
  private readonly byId = new Map<number, ConnectionActor>();
  private nextId = 1;
  private accepting = true;

  constructor(init: WorkerInit, log: Logger) {
    this.index = init.index;
    this.workers = init.workers;
    this.config = init.config;
    this.log = log;
    this.status = new Int32Array(init.status);
    this.base = init.index * STATUS_WORDS;
    this.connections = new Buckets(init.config.bucketsPerWorker);
    this.system = new ActorSystem({
      self: init.index,
      mailboxes: init.mailboxes,
      status: init.status,
      overflowBytes: init.config.ring.overflowBytes,
      drainBudget: init.config.ring.drainBudget,
      log,
    });
    this.router = new RouterShard((n) => Atomics.store(this.status, this.base + ST_ROUTER_ENTRIES, n));
    this.system.register(ActorKind.System, 0, new SystemActor(this));
    this.system.register(ActorKind.RouterShard, 0, this.router);
  }

  async start(fds: Record<string, number>): Promise<void> {
    this.system.start();
    const accept = (t: Transport): TransportSink => this.accept(t);
    if (fds.tcp !== undefined) this.servers.push(await listenTcp(fds.tcp, accept));
    if (fds.ws !== undefined) this.servers.push(await listenWs(fds.ws, this.config.ws.path, false, accept));
    Atomics.store(this.status, this.base + ST_STATE, WorkerState.Ready);
  }

  private accept(transport: Transport): TransportSink {
    const id = this.allocateId();
    const conn = new ConnectionActor(id, `${this.index}-${id}-${Date.now().toString(36)}`, transport, this);
    this.byId.set(id, conn);
    this.connections.put(conn.key, conn);
    Atomics.add(this.status, this.base + ST_ACCEPTED, 1);
    Atomics.store(this.status, this.base + ST_CONNECTIONS, this.byId.size);
    if (!this.accepting) conn.close('server shutting down');
    return conn;
  }

  release(conn: ConnectionActor): void {
    this.byId.delete(conn.id);
    this.connections.delete(conn.key, conn);
    if (conn.mid !== null) this.sendToShard(conn.mid, MessageKind.RouterUnregister, encodeUnregister(conn.mid, conn.key));
    Atomics.store(this.status, this.base + ST_CONNECTIONS, this.byId.size);
  }

  /** Ids are 24-bit actor addresses inside this worker; skip ones still in use after wrapping. */
  private allocateId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = (this.nextId + 1) & ACTOR_ID_MASK || 1;
      if (!this.byId.has(id)) return id;
    }
  }

  /** Registers an authenticated connection with the router shard that owns its user. */
  registerRoute(conn: ConnectionActor): void {
    if (conn.mid === null) return;
    this.sendToShard(conn.mid, MessageKind.RouterRegister, encodeRegister(conn.mid, this.index, conn.id, conn.platform, conn.key));
  }

  /** A replaced worker's shard starts empty: tell it again about our users it owns. */
  resyncShard(shard: number): void {
    for (const conn of this.byId.values()) {
      if (conn.mid !== null && shardOfMid(conn.mid, this.workers) === shard) this.registerRoute(conn);
    }
  }

  private sendToShard(mid: number, kind: MessageKind, body: Uint8Array): void {
    this.system.send(shardOfMid(mid, this.workers), ActorKind.RouterShard, 0, kind, body);
  }

  // ---- WorkerAdmin (comlink, control plane) ----

  async drain(): Promise<{ connections: number; records: number }> {
    this.accepting = false;
    Atomics.store(this.status, this.base + ST_STATE, WorkerState.Draining);
    const closing = this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    const connections = this.byId.size;
    for (const conn of [...this.byId.values()]) conn.close('server shutting down');
    await Promise.all(closing);
    await this.system.settled();
    const records = this.system.drainAll();
    this.system.stop();
    Atomics.store(this.status, this.base + ST_STATE, WorkerState.Stopped);
    return { connections, records };
  }

  exit(): void {
    setImmediate(() => process.exit(0));
  }

  routerLookup(mid: number): Array<[string, number, string]> {
    return this.router.lookup(mid);
  }

  debugRegister(mid: number, key: string, platform: string): void {
    this.sendToShard(mid, MessageKind.RouterRegister, encodeRegister(mid, this.index, 0, platform, key));
  }

  debugCrash(mode: CrashMode): void {
    this.log.warn({ mode }, 'test command: crashing this worker');
    setImmediate(() => {
      if (mode === 'exit') process.exit(3);
      if (mode === 'oom') {
        const hoard: number[][] = [];
        for (;;) hoard.push(new Array<number>(1 << 20).fill(hoard.length));
      }
      throw new Error('test command: worker crash');
    });
  }

  debugBlock(ms: number): void {
    this.log.warn({ ms }, 'test command: blocking this worker');
    setImmediate(() => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        // busy on purpose: the supervisor must notice the mailbox standing still
      }
    });
  }
}
