/**
 * Everything one worker thread runs: its actor system (mailbox drain loop), its connection actors in
 * buckets, its room actors, its router-shard actor, its timer wheel, and its own listeners on its own
 * descriptors of the shared listening sockets. workers/worker.ts only builds this from workerData.
 */
import type net from 'node:net';
import type http from 'node:http';
import { ActorKind, ActorSystem, type Actor } from './actor-system.js';
import { createAuthenticator, type AuthRequest, type AuthResult, type Authenticator } from './auth.js';
import { kickPlatforms, parseServices, type Config } from './config.js';
import { shardOfMid } from './hash.js';
import { ACTOR_ID_MASK, ST_SLOW_CLOSED, ST_SLOW_DROPPED, ST_SLOW_GAPS, ST_IM_STORED, ST_IM_SENT, ST_IM_REDELIVERED, ST_LOOP_LAG_MS, ST_ACCEPTED, ST_CONNECTIONS, ST_ROOM_VERSION, ST_ROOMS, ST_ROUTER_ENTRIES, ST_STATE, STATUS_WORDS, WorkerState } from './layout.js';
import { Limit, SharedLimits } from './limits.js';
import type { Logger } from './logger.js';
import { MessageKind, RouterActorId, SystemActorId, type CrashMode, type WorkerAdmin } from './messages.js';
import { listenMars } from './protocols/mars.js';
import { listenTcp } from './protocols/tcp.js';
import type { Transport, TransportSink } from './protocols/transport.js';
import { listenWs } from './protocols/ws.js';
import { threadMemory, type ThreadMemory } from './thread-memory.js';
import { TimerWheel } from './timer-wheel.js';
import { flushWakes } from './ring/ring.js';
import { RequestLimiter, UpstreamClient, type UpstreamReply } from './upstream.js';
import { Buckets } from '../actors/bucket.js';
import { ConnectionActor, ConnState, type ConnectionHost } from '../actors/connection.js';
import { Disconnect } from './errors.js';
import { Rooms } from '../actors/room.js';
import { ImOp } from './ops.js';
import { Deliverer, type DeliveryHost, type DeliveryTarget } from './push/deliverer.js';
import { PushRouter } from './push/router-push.js';
import { SlowConsumerPolicies } from './push/slow-policy.js';
import { encodeReply as encodePushReply, encodeRoomPush } from './push/records.js';
import { ImGateway } from './im/gateway.js';
import { ImRequests } from './im/requests.js';
import { GROUP_ROOM_PREFIX, ImService } from './im/service.js';
import { ImShard } from './im/shard.js';
import { ImStore } from './im/store.js';
import { decodeKick, encodeKey, encodeKick, encodeRegister, encodeUnregister, FLAG_KICK_SAME_PLATFORM, RouterShard } from '../actors/router-shard.js';

export interface WorkerInit {
  index: number;
  workers: number;
  config: Config;
  mailboxes: SharedArrayBuffer[];
  status: SharedArrayBuffer;
  /** Connection counts and limit refusals shared by every thread (src/limits.ts). */
  limits: SharedArrayBuffer;
  /** PEM text of tls.cert and tls.key, read by the acceptor at start-up; null without TLS. */
  tls: { cert: string; key: string } | null;
  fds: Record<string, number>;
}

/** The worker's system actor: supervision records addressed to the worker itself. */
class SystemActor implements Actor {
  private readonly runtime: WorkerRuntime;
  constructor(runtime: WorkerRuntime) {
    this.runtime = runtime;
  }
  receive(kind: number, _source: number, buf: Uint8Array, off: number, len: number): void {
    if (kind === MessageKind.Probe) {
      // Consuming it is the proof of progress; how late it came is this thread's loop lag.
      if (len >= 8) this.runtime.recordLag(Date.now() - new DataView(buf.buffer, buf.byteOffset + off, 8).getFloat64(0));
      return;
    }
    if (kind === MessageKind.RouterResync && len >= 2) this.runtime.resyncShard((buf[off]! << 8) | buf[off + 1]!);
  }
}


const TIMER_SLOTS = 4096;
/** Status word of each ImCount. */
const IM_COUNT_WORDS = [ST_IM_STORED, ST_IM_SENT, ST_IM_REDELIVERED];

/** Reason texts by Limit index (the admission limits only). */
const LIMIT_REASONS = ['too many connections (limits.maxConnections)', 'too many connections on this worker (limits.maxConnectionsPerWorker)', 'too many connections from this address (limits.maxConnectionsPerIp)', 'too many pending handshakes (limits.maxPendingHandshakes)'];

/** Anything with a deadline on the worker's timer wheel (connections, reliable-messaging devices). */
interface Expiring {
  onTimeout(): void;
}

export class WorkerRuntime implements ConnectionHost, WorkerAdmin, DeliveryHost {
  readonly index: number;
  readonly workers: number;
  readonly system: ActorSystem;
  readonly router: RouterShard;
  /** Authenticated connections by key. */
  readonly connections: Buckets<ConnectionActor>;
  readonly rooms = new Rooms<ConnectionActor>();
  readonly maxRooms: number;
  readonly heartbeatTimeoutMs: number;
  private readonly config: Config;
  private readonly log: Logger;
  private readonly status: Int32Array;
  private readonly base: number;
  private readonly servers: Array<net.Server | http.Server> = [];
  private readonly byId = new Map<number, ConnectionActor>();
  private readonly wheel: TimerWheel<Expiring>;
  private readonly imStore: ImStore;
  private readonly imRequests: ImRequests;
  private readonly imGateway: ImGateway;
  private readonly authenticator: Authenticator;
  private readonly upstreamClient: UpstreamClient;
  private readonly deliverer: Deliverer;
  /** Open connections per client IP (distinct IPs for /goim/online/total). */
  private readonly ipCounts = new Map<string, number>();
  private readonly limits: SharedLimits;
  private readonly tlsInit: { cert: string; key: string } | null;
  private nextId = 1;
  private accepting = true;
  /** Resolves the drain's wait once the last connection has gone. */
  private onEmpty: (() => void) | null = null;

  constructor(init: WorkerInit, log: Logger) {
    this.tlsInit = init.tls;
    this.index = init.index;
    this.workers = init.workers;
    this.config = init.config;
    this.log = log;
    this.maxRooms = init.config.rooms.maxPerConnection;
    this.heartbeatTimeoutMs = init.config.protocol.heartbeatTimeoutMs;
    this.status = new Int32Array(init.status);
    this.base = init.index * STATUS_WORDS;
    this.connections = new Buckets(init.config.bucketsPerWorker);
    this.limits = new SharedLimits(init.limits, init.workers, init.config.limits);
    // A replacement starts from zero (the supervisor cleared the dead worker's counts too).
    this.limits.clearWorker(init.index);
    this.system = new ActorSystem({
      self: init.index,
      mailboxes: init.mailboxes,
      status: init.status,
      overflowBytes: init.config.ring.overflowBytes,
      drainBudget: init.config.ring.drainBudget,
      log,
    });
    this.router = new RouterShard(
      (n) => Atomics.store(this.status, this.base + ST_ROUTER_ENTRIES, n),
      (worker, connId, code, reason) => this.system.send(worker, ActorKind.Connection, connId, MessageKind.Kick, encodeKick(code, reason)),
    );
    this.system.register(ActorKind.System, 0, new SystemActor(this));
    // Connection actors take ring records (kicks) through one handler per worker: no per-connection registration.
    this.system.registerKind(ActorKind.Connection, (id, kind, _source, buf, off, len) => {
      const conn = this.byId.get(id);
      if (conn === undefined) return false;
      if (kind === MessageKind.Kick) {
        const { code, reason } = decodeKick(buf, off, len);
        conn.kick(code, reason);
      } else if ((kind === MessageKind.ImDeliver || kind === MessageKind.ImSyncReply) && conn.open) {
        // Same bound as pushes: a client that stops reading is closed, its unacked messages wait in its inbox.
        if (conn.transport.queuedBytes() > this.config.push.writeQueueBytes) this.dropSlow(conn);
        else if (kind === MessageKind.ImDeliver) conn.transport.sendPacket(1, ImOp.Message, 0, buf.subarray(off, off + len));
        else conn.transport.sendPacket(conn.imSyncVer, ImOp.SyncReply, conn.imSyncSeq, buf.subarray(off, off + len));
      }
      return true;
    });
    this.system.register(ActorKind.RouterShard, RouterActorId.Shard, this.router);
    this.system.register(
      ActorKind.RouterShard,
      RouterActorId.PushRouter,
      new PushRouter(
        this.router,
        (worker, body) => this.system.send(worker, ActorKind.System, SystemActorId.Deliverer, MessageKind.Deliver, body),
        (req) => this.reply(MessageKind.PushReply, req, 0),
      ),
    );
    const push = init.config.push;
    this.deliverer = new Deliverer(this, push.batchWindowMs, push.batchMaxBytes, push.writeQueueBytes, new SlowConsumerPolicies(push.slowConsumerPolicy, push.roomPolicies));
    this.system.register(ActorKind.System, SystemActorId.Deliverer, this.deliverer);
    this.wheel = new TimerWheel<Expiring>(init.config.protocol.timerTickMs, TIMER_SLOTS, (owner) => owner.onTimeout());
    // Reliable messaging: this worker's shard of users, its senders' pending requests, its client ops.
    this.imStore = new ImStore(init.config.im.dataDir);
    this.imRequests = new ImRequests(this.system, this.workers, () => this.liveWorkers(), init.config.push.maxInFlight);
    this.system.register(ActorKind.System, SystemActorId.ImRequests, this.imRequests);
    const imService = new ImService(this.imStore, this.imRequests, init.config.im, (room, msg) => {
      const body = encodeRoomPush(0, ImOp.Message, room, msg);
      for (let w = 0; w < this.workers; w++) this.system.send(w, ActorKind.System, SystemActorId.Deliverer, MessageKind.PushRoom, body);
    });
    this.imGateway = new ImGateway(imService, this.system, this.workers, init.config.im);
    const imShard = new ImShard(
      this.imStore,
      this.router,
      init.config.im,
      {
        toConnection: (worker, connId, kind, body) => this.system.send(worker, ActorKind.Connection, connId, kind, body),
        toRequests: (thread, body) => this.system.send(thread, ActorKind.System, SystemActorId.ImRequests, MessageKind.ImSendReply, body),
        schedule: (entry, ms) => this.wheel.schedule(entry, ms),
        cancel: (entry) => this.wheel.cancel(entry),
        count: (what, n) => Atomics.add(this.status, this.base + IM_COUNT_WORDS[what]!, n),
      },
      log,
    );
    this.system.register(ActorKind.RouterShard, RouterActorId.Im, imShard);
    this.router.onRemoved = (mid, key, e) => imShard.connectionGone(mid, key, e.worker, e.connId);
    this.authenticator = createAuthenticator(init.config.auth, log);
    const services = parseServices(init.config.upstream.services);
    const serviceMap: Record<string, { url: string; timeoutMs: number }> = {};
    if (typeof services !== 'string') for (const [name, url] of Object.entries(services)) serviceMap[name] = { url, timeoutMs: init.config.upstream.timeoutMs };
    this.upstreamClient = new UpstreamClient({ services: serviceMap, maxInFlight: init.config.upstream.maxInFlight, ratePerSec: init.config.upstream.ratePerSec, burst: init.config.upstream.burst }, log);
  }

  async start(fds: Record<string, number>): Promise<void> {
    this.system.setLazyKinds([MessageKind.PushRoom, MessageKind.PushAll]);
    this.system.start();
    this.wheel.start();
    const accept = (t: Transport): TransportSink => this.accept(t);
    const maxBody = this.config.protocol.maxBodyBytes;
    const wsOpts = { path: this.config.ws.path, perMessageDeflate: this.config.ws.perMessageDeflate, maxBody, upgradeTimeoutMs: this.config.protocol.handshakeTimeoutMs };
    const secure = this.tlsInit ?? undefined;
    if (fds.tcp !== undefined) this.servers.push(await listenTcp(fds.tcp, maxBody, accept));
    if (fds.ws !== undefined) this.servers.push(await listenWs(fds.ws, wsOpts, accept));
    if (fds.mars !== undefined) this.servers.push(await listenMars(fds.mars, maxBody, accept));
    if (fds.tcps !== undefined && secure !== undefined) this.servers.push(await listenTcp(fds.tcps, maxBody, accept, secure));
    if (fds.wss !== undefined && secure !== undefined) this.servers.push(await listenWs(fds.wss, { ...wsOpts, secure }, accept));
    // An accept can fail (EMFILE: out of descriptors); without a listener that would kill the worker.
    // Logged at most once a second: keep limits.maxConnections below the descriptor limit.
    let loggedAt = 0;
    const onListenerError = (err: Error): void => {
      const now = Date.now();
      if (now - loggedAt < 1000) return;
      loggedAt = now;
      this.log.error({ err }, 'listener error (accept failed)');
    };
    for (const server of this.servers) server.on('error', onListenerError);
    Atomics.store(this.status, this.base + ST_STATE, WorkerState.Ready);
  }

  private accept(transport: Transport): TransportSink {
    Atomics.add(this.status, this.base + ST_ACCEPTED, 1);
    const ip = transport.remoteAddress;
    const conn = new ConnectionActor(this.allocateId(), transport, this);
    const refused = this.limits.admit(this.index, this.byId.size, ip, conn);
    if (refused >= 0) {
      // Not indexed anywhere: it only says why and goes (release() knows it was never admitted).
      conn.kick(Disconnect.Limit.code, `${Disconnect.Limit.reason} ${LIMIT_REASONS[refused]}`);
      return conn;
    }
    conn.admitted = true;
    conn.pendingHandshake = true;
    this.byId.set(conn.id, conn);
    this.ipCounts.set(ip, (this.ipCounts.get(ip) ?? 0) + 1);
    Atomics.store(this.status, this.base + ST_CONNECTIONS, this.byId.size);
    if (this.accepting) this.wheel.schedule(conn.timer, this.config.protocol.handshakeTimeoutMs);
    else conn.kick(Disconnect.Shutdown.code, Disconnect.Shutdown.reason, 0, this.reconnectDelay(), this.config.shutdown.graceMs);
    return conn;
  }

  /** A random delay below supervisor.reconnectSpreadMs, so that a restart is not a connect storm. */
  private reconnectDelay(): number {
    return Math.floor(Math.random() * this.config.supervisor.reconnectSpreadMs);
  }

  /** Ids are 24-bit actor addresses inside this worker; skip ones still in use after wrapping. */
  private allocateId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = (this.nextId + 1) & ACTOR_ID_MASK || 1;
      if (!this.byId.has(id)) return id;
    }
  }

  // ---- ConnectionHost ----

  authenticate(req: AuthRequest): Promise<AuthResult> {
    return this.authenticator(req);
  }

  opened(conn: ConnectionActor): void {
    this.handshakeDone(conn);
    // Same key on this worker: the newer connection wins at once; the acceptor's key directory
    // (thread index = workers) catches the other workers.
    const local = this.connections.get(conn.key);
    if (local !== undefined && local !== conn) local.kick(Disconnect.SameKey.code, Disconnect.SameKey.reason);
    this.connections.put(conn.key, conn);
    conn.registered = true;
    this.registerRoute(conn);
    this.system.send(this.workers, ActorKind.RouterShard, 0, MessageKind.KeyRegister, encodeKey(this.index, conn.id, conn.key));
  }

  joinRoom(conn: ConnectionActor, room: string): void {
    this.rooms.join(room, conn);
    this.roomsChanged();
  }

  mayJoin(conn: ConnectionActor, room: string): boolean {
    if (!room.startsWith(GROUP_ROOM_PREFIX)) return true;
    const gid = Number(room.slice(GROUP_ROOM_PREFIX.length));
    return Number.isSafeInteger(gid) && gid > 0 && this.imStore.isMember(gid, conn.mid);
  }

  leaveRoom(conn: ConnectionActor, room: string): void {
    this.rooms.leave(room, conn);
    this.roomsChanged();
  }

  private roomsChanged(): void {
    Atomics.store(this.status, this.base + ST_ROOMS, this.rooms.byId.size);
    Atomics.add(this.status, this.base + ST_ROOM_VERSION, 1);
  }

  onlineCount(room: string): number {
    return this.rooms.onlineCount(room);
  }

  schedule(conn: ConnectionActor, delayMs: number): void {
    this.wheel.schedule(conn.timer, delayMs);
  }

  upstream(conn: ConnectionActor, service: string, method: string, payload: Uint8Array): Promise<UpstreamReply> {
    return this.upstreamClient.call(service, method, payload, { mid: conn.mid, key: conn.key, platform: conn.platform });
  }

  newLimiter(): RequestLimiter {
    const u = this.config.upstream;
    return new RequestLimiter(u.maxInFlight, u.ratePerSec, u.burst);
  }

  countLimit(limit: Limit): void {
    this.limits.count(limit);
  }

  private handshakeDone(conn: ConnectionActor): void {
    if (!conn.pendingHandshake) return;
    conn.pendingHandshake = false;
    this.limits.handshakeDone(this.index);
  }

  imPacket(conn: ConnectionActor, ver: number, op: number, seq: number, buf: Uint8Array, off: number, len: number): boolean {
    return this.imGateway.onPacket(conn, ver, op, seq, buf, off, len);
  }

  /** Workers whose state word says ready (their shards answer). */
  private liveWorkers(): number[] {
    const out: number[] = [];
    for (let w = 0; w < this.workers; w++) if (Atomics.load(this.status, w * STATUS_WORDS + ST_STATE) === WorkerState.Ready) out.push(w);
    return out;
  }

  release(conn: ConnectionActor): void {
    this.wheel.cancel(conn.timer);
    if (!conn.admitted) return; // refused by a limit: never counted
    conn.admitted = false;
    this.handshakeDone(conn);
    this.limits.release(this.index, conn);
    this.byId.delete(conn.id);
    const ip = conn.transport.remoteAddress;
    const left = (this.ipCounts.get(ip) ?? 1) - 1;
    if (left <= 0) this.ipCounts.delete(ip);
    else this.ipCounts.set(ip, left);
    for (const room of conn.rooms) this.rooms.leave(room, conn);
    if (conn.rooms.size > 0) this.roomsChanged();
    this.connections.delete(conn.key, conn);
    if (conn.registered) {
      conn.registered = false;
      this.sendToShard(conn.mid, MessageKind.RouterUnregister, encodeUnregister(conn.mid, this.index, conn.id, conn.key));
      this.system.send(this.workers, ActorKind.RouterShard, 0, MessageKind.KeyUnregister, encodeKey(this.index, conn.id, conn.key));
    }
    Atomics.store(this.status, this.base + ST_CONNECTIONS, this.byId.size);
    if (this.byId.size === 0 && this.onEmpty !== null) this.onEmpty();
  }

  debug(conn: ConnectionActor, msg: string, extra?: object): void {
    if (this.log.isLevelEnabled('debug')) this.log.debug({ conn: conn.id, key: conn.key, mid: conn.mid, remote: conn.transport.remoteAddress, proto: conn.transport.protocol, ...extra }, msg);
  }

  error(conn: ConnectionActor, msg: string): void {
    this.log.error({ conn: conn.id, key: conn.key, mid: conn.mid, proto: conn.transport.protocol }, msg);
  }

  // ---- DeliveryHost ----

  connection(id: number): DeliveryTarget | undefined {
    return this.byId.get(id);
  }

  roomMembers(room: string): Iterable<DeliveryTarget> | undefined {
    return this.rooms.byId.get(room)?.members;
  }

  allConnections(): Iterable<DeliveryTarget> {
    return this.byId.values();
  }

  dropSlow(target: DeliveryTarget): void {
    const conn = target as ConnectionActor;
    Atomics.add(this.status, this.base + ST_SLOW_CLOSED, 1);
    this.log.warn({ conn: conn.id, key: conn.key, mid: conn.mid, queuedBytes: conn.transport.queuedBytes(), limit: this.config.push.writeQueueBytes }, 'slow consumer: outbound queue over push.writeQueueBytes, closing');
    conn.dropSlow();
  }

  droppedOldest(target: DeliveryTarget, messages: number, newGap: boolean): void {
    Atomics.add(this.status, this.base + ST_SLOW_DROPPED, messages);
    if (!newGap) return;
    Atomics.add(this.status, this.base + ST_SLOW_GAPS, 1);
    const conn = target as ConnectionActor;
    this.log.warn({ conn: conn.id, key: conn.key, mid: conn.mid, limit: this.config.push.writeQueueBytes }, 'slow consumer: outbound queue over push.writeQueueBytes, dropping the oldest pushes (gap marker follows)');
  }

  doze(on: boolean): void {
    this.system.setDozing(on);
  }

  catchUp(): void {
    this.system.catchUp();
  }

  reply(kind: MessageKind.PushReply | MessageKind.DeliverReply, req: number, connections: number, fanout = 0, shard = 0): void {
    this.system.send(this.workers, ActorKind.System, SystemActorId.Supervision, kind, encodePushReply(req, connections, fanout, shard));
  }

  // ---- router ----

  /** Registers an authenticated connection with the router shard that owns its user. */
  registerRoute(conn: ConnectionActor): void {
    const flags = kickPlatforms(this.config.multiLogin, conn.platform) ? FLAG_KICK_SAME_PLATFORM : 0;
    this.sendToShard(conn.mid, MessageKind.RouterRegister, encodeRegister(conn.mid, this.index, conn.id, flags, conn.platform, conn.key));
  }

  /** A replaced worker's shard starts empty: tell it again about our users it owns. */
  resyncShard(shard: number): void {
    for (const conn of this.byId.values()) {
      if (conn.state !== ConnState.Open) continue;
      if (shardOfMid(conn.mid, this.workers) === shard) {
        this.sendToShard(conn.mid, MessageKind.RouterRegister, encodeRegister(conn.mid, this.index, conn.id, 0, conn.platform, conn.key));
        this.imGateway.resync(conn);
      }
    }
  }

  private sendToShard(mid: number, kind: MessageKind, body: Uint8Array): void {
    this.system.send(shardOfMid(mid, this.workers), ActorKind.RouterShard, 0, kind, body);
  }

  // ---- WorkerAdmin (comlink, control plane) ----

  async quiesce(): Promise<number> {
    if (this.accepting) {
      this.accepting = false;
      Atomics.store(this.status, this.base + ST_STATE, WorkerState.Draining);
      for (const s of this.servers) s.close();
    }
    // Pushes already in the mailbox, and merged batches waiting for their window, go out now.
    const records = this.system.drainAll();
    this.deliverer.flushAll();
    await this.system.settled();
    return records;
  }

  async drain(graceMs: number): Promise<{ connections: number; records: number; forced: number }> {
    let records = await this.quiesce();
    const connections = this.byId.size;
    // Every client is told to reconnect after a random delay (spread, so a restart is not a connect
    // storm); what is queued for it is written before the FIN, for up to graceMs.
    for (const conn of [...this.byId.values()]) conn.kick(Disconnect.Shutdown.code, Disconnect.Shutdown.reason, 0, this.reconnectDelay(), graceMs);
    if (this.byId.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs + this.config.protocol.timerTickMs);
        this.onEmpty = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.onEmpty = null;
    }
    const forced = this.byId.size;
    for (const conn of [...this.byId.values()]) conn.transport.destroy();
    this.wheel.stop();
    this.upstreamClient.close();
    this.imRequests.close();
    await this.system.settled();
    records += this.system.drainAll();
    this.system.stop();
    Atomics.store(this.status, this.base + ST_STATE, WorkerState.Stopped);
    return { connections, records, forced };
  }

  exit(): void {
    flushWakes();
    setImmediate(() => process.exit(0));
  }

  roomCounts(): Record<string, number> {
    return this.rooms.localCounts();
  }

  setRoomTotals(totals: Record<string, number>): void {
    this.rooms.setTotals(totals);
  }

  recordLag(ms: number): void {
    Atomics.store(this.status, this.base + ST_LOOP_LAG_MS, Math.max(0, Math.round(ms)));
  }

  connectionCount(): number {
    return this.byId.size;
  }

  ips(): string[] {
    return [...this.ipCounts.keys()];
  }

  sessionInfo(keys: string[]): Array<{ key: string; rooms: string[]; since: number; protocol: 'tcp' | 'ws' | 'mars' }> {
    const out: Array<{ key: string; rooms: string[]; since: number; protocol: 'tcp' | 'ws' | 'mars' }> = [];
    for (const key of keys) {
      const conn = this.connections.get(key);
      if (conn !== undefined) out.push({ key, rooms: [...conn.rooms], since: conn.since, protocol: conn.transport.protocol });
    }
    return out;
  }

  evictFromRoom(keys: string[], room: string): number {
    let n = 0;
    for (const key of keys) {
      const conn = this.connections.get(key);
      if (conn === undefined || !conn.rooms.has(room)) continue;
      conn.rooms.delete(room);
      if (conn.room === room) conn.room = '';
      this.leaveRoom(conn, room);
      n++;
    }
    return n;
  }

  routerLookup(mid: number): Array<[string, number, string]> {
    // Registrations committed to this shard's mailbox before the question came are applied first.
    this.system.catchUp();
    return this.router.lookup(mid);
  }

  debugRegister(mid: number, key: string, platform: string): void {
    this.sendToShard(mid, MessageKind.RouterRegister, encodeRegister(mid, this.index, 0, 0, platform, key));
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

  debugMemory(gc: boolean): ThreadMemory & { timerEntries: number; connections: number } {
    return { ...threadMemory(gc), timerEntries: this.wheel.size, connections: this.byId.size };
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
