/**
 * The registry of one worker (goim comet's Bucket): its connections by id and by key, its rooms and
 * their members, its client addresses, admission by the connection limits, and release. It is the
 * only writer of this state; the deliverer and the admin surface read it.
 *
 * Rooms are state of the registry, not actors: a room exists while it has members on this worker,
 * and nothing addresses a room by itself (a room push reaches every worker's deliverer, which finds
 * the members here). Counts are per worker; the acceptor sums them every `rooms.countIntervalMs`
 * (src/room-counts.ts), and heartbeat replies carry that sum, as goim's comet carries logic's AllOnline.
 *
 * Keys are spread over `bucketsPerWorker` buckets by a hash of the key, so that per-key work (lookup,
 * kick of a duplicate key) touches one smaller map.
 */
import { ActorKind, type ActorSystem } from '../src/actor-system.js';
import { kickPlatforms, type MultiLoginConfig } from '../src/config/index.js';
import { Disconnect } from '../src/errors.js';
import { hashString, shardOfKey, shardOfMid } from '../src/hash.js';
import { ACTOR_ID_MASK, ST_ACCEPTED, ST_CONNECTIONS, ST_ROOM_VERSION, ST_ROOMS } from '../src/layout.js';
import type { Admission, SharedLimits } from '../src/limits.js';
import { MessageKind, RouterActorId } from '../src/messages.js';
import { encodeKey, encodeRegister, encodeUnregister, FLAG_KICK_SAME_PLATFORM, KEY_FLAG_RESYNC } from '../src/router-records.js';
import type { Session } from '../src/session.js';
import type { ThreadStatus } from '../src/thread-status.js';
import type { Expiring, TimerEntry, TimerWheel } from '../src/timer-wheel.js';

/** What the registry keeps of a connection and needs of it (actors/connection.ts implements it). */
export interface RegistryMember extends Session, Admission {
  readonly timer: TimerEntry<Expiring>;
  readonly since: number;
  readonly accepts: ReadonlySet<number>;
  /** Every room the connection is in (the goim room included); written by the connection only. */
  readonly rooms: ReadonlySet<string>;
  /** Admitted by the connection limits (false: refused, only told why; or released). */
  admitted: boolean;
  /** Counted as a pending handshake until it authenticates or closes. */
  pendingHandshake: boolean;
  /** Registered with its router shard and its key's directory shard (undone on release). */
  registered: boolean;
  /** Takes the connection out of a room by the control plane's decision; false when it was not in it. */
  evict(room: string): boolean;
  /** A ring record addressed to the connection (Kick, or a session extension's kind); it decodes it. */
  onRecord(kind: number, buf: Uint8Array, off: number, len: number): void;
}

/**
 * What a cluster member (actors/cluster-member.ts) is told by the registry: connections opened and
 * gone, rooms that got their first member on this worker or lost their last. Null on one box.
 */
export interface ClusterHook {
  /**
   * Resolves (never rejects) once the connection is in the directory and its same-key and
   * multi-login checks are done, or the write failed or ran past the engine's deadline (the
   * resync writes it again): the auth reply waits for it (docs/cluster.md#keys-unique-cluster-wide-multi-login).
   */
  opened(conn: RegistryMember): Promise<void>;
  released(conn: RegistryMember): void;
  roomCreated(room: string): void;
  roomEmptied(room: string): void;
}

export class Bucket<C> {
  readonly byKey = new Map<string, C>();
}

export class Buckets<C> {
  readonly list: Array<Bucket<C>>;

  constructor(count: number) {
    this.list = Array.from({ length: count }, () => new Bucket<C>());
  }
  of(key: string): Bucket<C> {
    return this.list[hashString(key) % this.list.length]!;
  }
  get(key: string): C | undefined {
    return this.of(key).byKey.get(key);
  }
  put(key: string, conn: C): void {
    this.of(key).byKey.set(key, conn);
  }
  delete(key: string, conn: C): void {
    const b = this.of(key);
    if (b.byKey.get(key) === conn) b.byKey.delete(key);
  }
  get size(): number {
    let n = 0;
    for (const b of this.list) n += b.byKey.size;
    return n;
  }
}

export class Room<C> {
  readonly id: string;
  readonly members = new Set<C>();
  constructor(id: string) {
    this.id = id;
  }
}

export class Rooms<C> {
  readonly byId = new Map<string, Room<C>>();
  /** Process-wide member counts, last summed by the acceptor. */
  private totals = new Map<string, number>();

  join(roomId: string, conn: C): Room<C> {
    let room = this.byId.get(roomId);
    if (room === undefined) {
      room = new Room<C>(roomId);
      this.byId.set(roomId, room);
    }
    room.members.add(conn);
    return room;
  }

  leave(roomId: string, conn: C): void {
    const room = this.byId.get(roomId);
    if (room === undefined) return;
    room.members.delete(conn);
    if (room.members.size === 0) this.byId.delete(roomId);
  }

  localCount(roomId: string): number {
    return this.byId.get(roomId)?.members.size ?? 0;
  }

  /** The online count a heartbeat reports: the process-wide sum, or this worker's own count until the first sum. */
  onlineCount(roomId: string): number {
    return this.totals.get(roomId) ?? this.localCount(roomId);
  }

  localCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [id, room] of this.byId) out[id] = room.members.size;
    return out;
  }

  setTotals(totals: Record<string, number>): void {
    this.totals = new Map(Object.entries(totals));
  }
}

/** Reason texts by Limit index (the admission limits only). */
const LIMIT_REASONS = ['too many connections (limits.maxConnections)', 'too many connections on this worker (limits.maxConnectionsPerWorker)', 'too many connections from this address (limits.maxConnectionsPerIp)', 'too many pending handshakes (limits.maxPendingHandshakes)'];

export interface RegistryOptions {
  readonly index: number;
  readonly workers: number;
  readonly buckets: number;
  readonly handshakeTimeoutMs: number;
  readonly multiLogin: MultiLoginConfig;
  /** A reconnect delay is drawn below this (supervisor.reconnectSpreadMs), so that a restart is not a connect storm. */
  readonly reconnectSpreadMs: number;
  /** How long a connection refused by a drain may flush before it is cut off (shutdown.graceMs). */
  readonly graceMs: number;
}

export class Registry {
  readonly byId = new Map<number, RegistryMember>();
  /** Authenticated connections by key. */
  readonly byKey: Buckets<RegistryMember>;
  readonly rooms = new Rooms<RegistryMember>();
  /** Open connections per client IP (distinct IPs for /goim/online/total). */
  readonly ips = new Map<string, number>();
  /** False once the worker drains: a new connection is told to reconnect elsewhere. */
  accepting = true;
  /** Called when the last connection has gone (the drain waits for it). */
  onEmpty: (() => void) | null = null;
  /** Cluster mode only (docs/cluster.md): told of connections and rooms; null on one box. */
  cluster: ClusterHook | null = null;
  private nextId = 1;
  private readonly opts: RegistryOptions;
  private readonly system: ActorSystem;
  private readonly limits: SharedLimits;
  private readonly wheel: TimerWheel<Expiring>;
  private readonly status: ThreadStatus;

  constructor(opts: RegistryOptions, system: ActorSystem, limits: SharedLimits, wheel: TimerWheel<Expiring>, status: ThreadStatus) {
    this.opts = opts;
    this.system = system;
    this.limits = limits;
    this.wheel = wheel;
    this.status = status;
    this.byKey = new Buckets(opts.buckets);
  }

  /** Ids are 24-bit actor addresses inside this worker; skip ones still in use after wrapping. */
  allocateId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = (this.nextId + 1) & ACTOR_ID_MASK || 1;
      if (!this.byId.has(id)) return id;
    }
  }

  /** A new connection: admitted (indexed, its auth deadline set) or told why not. */
  admit(conn: RegistryMember): void {
    this.status.add(ST_ACCEPTED, 1);
    const ip = conn.transport.remoteAddress;
    const refused = this.limits.admit(this.opts.index, this.byId.size, ip, conn);
    if (refused >= 0) {
      // Not indexed anywhere: it only says why and goes (release() knows it was never admitted).
      conn.kick(Disconnect.Limit.code, `${Disconnect.Limit.reason} ${LIMIT_REASONS[refused]}`);
      return;
    }
    conn.admitted = true;
    conn.pendingHandshake = true;
    this.byId.set(conn.id, conn);
    this.ips.set(ip, (this.ips.get(ip) ?? 0) + 1);
    this.status.store(ST_CONNECTIONS, this.byId.size);
    if (this.accepting) this.wheel.schedule(conn.timer, this.opts.handshakeTimeoutMs);
    else conn.kick(Disconnect.Shutdown.code, Disconnect.Shutdown.reason, 0, this.reconnectDelay(), this.opts.graceMs);
  }

  /** A random delay below supervisor.reconnectSpreadMs, so that a restart is not a connect storm. */
  reconnectDelay(): number {
    return Math.floor(Math.random() * this.opts.reconnectSpreadMs);
  }

  /**
   * The connection authenticated: index it by key, register it with its router shard and its key's
   * directory shard. In cluster mode, returns what the auth reply must wait for (the directory
   * write); null on one box, where nothing waits (and nothing is allocated).
   */
  opened(conn: RegistryMember): Promise<void> | null {
    this.handshakeDone(conn);
    // Same key on this worker: the newer connection wins at once; the key's directory shard catches
    // the other workers.
    const local = this.byKey.get(conn.key);
    if (local !== undefined && local !== conn) local.kick(Disconnect.SameKey.code, Disconnect.SameKey.reason);
    this.byKey.put(conn.key, conn);
    conn.registered = true;
    const flags = kickPlatforms(this.opts.multiLogin, conn.platform) ? FLAG_KICK_SAME_PLATFORM : 0;
    this.registerRoute(conn, flags);
    this.registerKey(conn, 0);
    return this.cluster === null ? null : this.cluster.opened(conn);
  }

  joinRoom(conn: RegistryMember, room: string): void {
    const before = this.cluster !== null ? this.rooms.localCount(room) : 1;
    this.rooms.join(room, conn);
    if (before === 0) this.cluster!.roomCreated(room);
    this.roomsChanged();
  }

  leaveRoom(conn: RegistryMember, room: string): void {
    this.leaveOne(room, conn);
    this.roomsChanged();
  }

  private leaveOne(room: string, conn: RegistryMember): void {
    this.rooms.leave(room, conn);
    if (this.cluster !== null && this.rooms.localCount(room) === 0) this.cluster.roomEmptied(room);
  }

  private roomsChanged(): void {
    this.status.store(ST_ROOMS, this.rooms.byId.size);
    this.status.add(ST_ROOM_VERSION, 1);
  }

  private handshakeDone(conn: RegistryMember): void {
    if (!conn.pendingHandshake) return;
    conn.pendingHandshake = false;
    this.limits.handshakeDone(this.opts.index);
  }

  /** The connection is gone (socket closed): unindex and unregister everything. */
  release(conn: RegistryMember): void {
    this.wheel.cancel(conn.timer);
    if (!conn.admitted) return; // refused by a limit: never counted
    conn.admitted = false;
    this.handshakeDone(conn);
    this.limits.release(this.opts.index, conn);
    this.byId.delete(conn.id);
    const ip = conn.transport.remoteAddress;
    const left = (this.ips.get(ip) ?? 1) - 1;
    if (left <= 0) this.ips.delete(ip);
    else this.ips.set(ip, left);
    for (const room of conn.rooms) this.leaveOne(room, conn);
    if (conn.rooms.size > 0) this.roomsChanged();
    this.byKey.delete(conn.key, conn);
    if (conn.registered) {
      conn.registered = false;
      this.cluster?.released(conn);
      this.sendToShard(conn.mid, MessageKind.RouterUnregister, encodeUnregister(conn.mid, this.opts.index, conn.id, conn.key));
      this.sendToKeyShard(conn.key, MessageKind.KeyUnregister, encodeKey(this.opts.index, conn.id, conn.key));
    }
    this.status.store(ST_CONNECTIONS, this.byId.size);
    if (this.byId.size === 0 && this.onEmpty !== null) this.onEmpty();
  }

  /** Registers a connection (or, for tests, a synthetic entry with id 0) with the router shard that owns its user. */
  registerRoute(conn: { readonly mid: number; readonly id: number; readonly platform: string; readonly key: string }, flags: number): void {
    this.sendToShard(conn.mid, MessageKind.RouterRegister, encodeRegister(conn.mid, this.opts.index, conn.id, flags, conn.platform, conn.key));
  }

  /** Registers a connection's key with the directory shard that owns it. */
  registerKey(conn: { readonly id: number; readonly key: string }, flags: number): void {
    this.sendToKeyShard(conn.key, MessageKind.KeyRegister, encodeKey(this.opts.index, conn.id, conn.key, flags));
  }

  /**
   * A replaced worker's shards start empty: registers again, with it, the open connections whose
   * user (router shard) or key (key-directory shard, flagged as a resync) it owns.
   */
  resync(shard: number, each: (conn: RegistryMember) => void): void {
    const workers = this.opts.workers;
    for (const conn of this.byId.values()) {
      if (!conn.open || !conn.registered) continue;
      if (shardOfMid(conn.mid, workers) === shard) {
        this.registerRoute(conn, 0);
        each(conn);
      }
      if (shardOfKey(conn.key, workers) === shard) this.registerKey(conn, KEY_FLAG_RESYNC);
    }
  }

  private sendToShard(mid: number, kind: MessageKind, body: Uint8Array): void {
    this.system.send(shardOfMid(mid, this.opts.workers), ActorKind.RouterShard, RouterActorId.Shard, kind, body);
  }

  private sendToKeyShard(key: string, kind: MessageKind, body: Uint8Array): void {
    this.system.send(shardOfKey(key, this.opts.workers), ActorKind.RouterShard, RouterActorId.Keys, kind, body);
  }
}
