/**
 * The cluster engine: everything a box needs from the service the boxes share (docs/cluster.md).
 * Redis implements it (src/cluster/redis-engine.ts); another engine (NATS JetStream) can follow by
 * implementing this interface, without touching the actors or the control API.
 *
 * Who holds what: the acceptor holds one engine for the lease, the start-up id check and the
 * box's counts; each worker holds its own (its own command and subscriber connections) for the
 * directory, the messages addressed to it and its rooms, so that no cross-box push passes one thread.
 *
 * Rules every implementation keeps:
 *   - every call has a deadline (`cluster.commandTimeoutMs`): a call that cannot be answered in time,
 *     or while the engine is not up, rejects with `EngineUnavailable` (never hangs, never a false success);
 *   - bodies are bytes, carried as they are (no JSON on the fan-out path);
 *   - after an outage the engine reconnects and restores its own subscriptions by itself; the owner
 *     learns of it through `onState` ('up' after 'down' or 'stale') and re-registers what only it knows
 *     (its directory entries), and tells the clients of rooms whose subscription was down (op 104).
 */
import { ErrorCode, ServiceError } from '../errors.js';

/**
 * The engine cannot answer now (down, not connected yet, past the deadline). The control API answers
 * 503 with this message: `cluster engine redis://host:port unavailable: <why>`.
 */
export class EngineUnavailable extends ServiceError {
  readonly engineUrl: string;
  readonly reason: string;
  constructor(engineUrl: string, reason: string) {
    super(503, `cluster engine ${engineUrl} unavailable: ${reason}`, ErrorCode.Unavailable);
    this.engineUrl = engineUrl;
    this.reason = reason;
  }
}

/**
 * - `connecting`: not up yet (first connect, or reconnecting after `down`);
 * - `up`: commands answer and the probe came back in time;
 * - `down`: the command or subscriber connection is lost; calls reject at once;
 * - `stale`: commands answer but our own probe publish did not come back within `cluster.probeTimeoutMs`
 *   (a subscriber that looks connected and receives nothing); calls that depend on pub/sub reject.
 */
export type EngineState = 'connecting' | 'up' | 'down' | 'stale';

export interface EngineStateEvent {
  readonly state: EngineState;
  readonly previous: EngineState;
  /** Why, when not up (the error message, "probe not back within 1000 ms"). */
  readonly reason: string;
}

/** What a box advertises about itself with its lease (for /goim/nodes/weighted and /health). */
export interface NodeAdvert {
  /** Listener addresses clients use, e.g. {tcp: "10.0.0.5:3101", ws: "10.0.0.5:3102"}. */
  readonly addrs: Readonly<Record<string, string>>;
  /** Relative weight for /goim/nodes/weighted (goim's node weight). */
  readonly weight: number;
  /** Anything else to show (version, control address). */
  readonly meta?: Readonly<Record<string, string>>;
}

export interface LiveNode extends NodeAdvert {
  readonly nodeId: string;
  /** When its lease runs out unless renewed, ms since the epoch (the engine's clock). */
  readonly leaseUntil: number;
}

/** One connection in the directory. */
export interface DirectoryEntry {
  readonly key: string;
  readonly mid: number;
  readonly platform: string;
  readonly worker: number;
  readonly connId: number;
}

/** Where a connection lives. */
export interface Holding {
  readonly nodeId: string;
  readonly worker: number;
  readonly connId: number;
  readonly key: string;
  readonly platform: string;
}

export interface RegisterResult {
  /** The previous holder of this key on another box or connection (to be replaced, op 6 4001), if any. */
  readonly replaced: Holding | null;
  /** The user's other connections (any box) after this one was added, for the multi-login policy. */
  readonly others: readonly Holding[];
}

/**
 * Connections grouped by the (box, worker) holding them: one message per group. The group names
 * the connections by key, not by connection id: the holder resolves each key in its own registry, so
 * an entry left behind by a dead worker or box can never reach a connection that reused the id.
 */
export interface HolderGroup {
  readonly nodeId: string;
  readonly worker: number;
  readonly keys: string[];
}

export interface LookupResult {
  readonly groups: HolderGroup[];
  /** Connections found, all groups together. */
  readonly connections: number;
}

/** One box's exact counts, as it publishes them every second. */
export interface BoxCounts {
  readonly connections: number;
  readonly ips: number;
  /** Full room key (`type://id`) → members on this box. */
  readonly rooms: ReadonlyMap<string, number>;
}

/** The sum over the live boxes. */
export interface ClusterCounts {
  readonly connections: number;
  readonly ips: number;
  readonly rooms: Map<string, number>;
  /** Boxes counted, and the age of the oldest count (ms). */
  readonly boxes: number;
  readonly oldestMs: number;
  /** Each counted box's own totals and when it published them (ms since the epoch), by box id. */
  readonly byBox: ReadonlyMap<string, { readonly connections: number; readonly ips: number; readonly at: number }>;
}

export interface ProbeResult {
  /** Round trip of our own publish, ms; null when it did not come back within the bound. */
  readonly latencyMs: number | null;
  readonly state: EngineState;
}

/** Engine metrics, for /metrics and /health. */
export interface EngineStats {
  readonly state: EngineState;
  readonly url: string;
  readonly lastProbeMs: number | null;
  readonly errors: number;
  readonly commands: number;
  readonly published: number;
  readonly received: number;
  readonly rooms: number;
}

/** A message addressed to this worker (from `publishToWorker`), as raw bytes valid during the call. */
export type WorkerMessageHandler = (bytes: Uint8Array) => void;
/** A room push (or a push to all, room = null), raw bytes valid during the call. */
export type RoomMessageHandler = (room: string | null, bytes: Uint8Array) => void;

export interface ClusterEngine {
  /** The engine's address as shown to users (no password). */
  readonly url: string;
  readonly nodeId: string;
  readonly state: EngineState;

  /** Connect (within the deadline, else EngineUnavailable); keeps reconnecting by itself afterwards. */
  connect(): Promise<void>;
  /** Close every connection; pending calls reject. Idempotent. */
  close(): Promise<void>;
  /** State changes; returns a function that removes the listener. */
  onState(listener: (ev: EngineStateEvent) => void): () => void;

  // ---- lease (acceptor) ------------------------------------------------------------------------
  /**
   * Take this box's lease: refuses with StartupError naming `cluster.nodeId` when a live box holds
   * the id. Renews it every leaseMs/3 by itself until `releaseLease` or `close`. A box whose lease
   * was lost (Redis restarted empty, a long pause) takes it again when nobody else holds it.
   */
  acquireLease(advert: NodeAdvert): Promise<void>;
  releaseLease(): Promise<void>;
  /** The boxes whose lease is live, this one included. */
  liveNodes(): Promise<LiveNode[]>;
  /** A box whose lease ran out, found by this box's renewal (this box removes its directory entries and counts). */
  onNodeDead(listener: (nodeId: string) => void): () => void;
  /**
   * The renewal found this box's own lease had run out (Redis was away longer than the lease, or
   * restarted empty) and took it again: other boxes may have removed this box's entries meanwhile,
   * so the workers register their connections again.
   */
  onLeaseRetaken(listener: () => void): () => void;
  /** Remove every directory entry this box's id holds (at start-up, left by a previous run). */
  sweepOwnEntries(): Promise<number>;
  /** Remove a dead box's directory entries and counts (called by the box `onNodeDead` told); stops if it is live again. */
  sweepNode(nodeId: string): Promise<number>;
  /**
   * Remove the directory entries a dead worker of this box held (its connections died with it),
   * before its replacement registers anything: a push to them answers 0, not "delivered".
   */
  sweepWorker(worker: number): Promise<number>;

  // ---- directory (workers) ---------------------------------------------------------------------
  /** Record a connection (on auth): key → this box/worker/connection, mid → its holders. */
  register(entry: DirectoryEntry): Promise<RegisterResult>;
  /** Remove it (on close), only if it is still this connection. */
  unregister(entry: DirectoryEntry): Promise<void>;
  /** The live holders of these users' connections, grouped per box and worker (pipelined). */
  lookupMids(mids: readonly number[]): Promise<LookupResult>;
  /** One user's connections on the live boxes, as the directory has them (GET /sessions). */
  lookupUser(mid: number): Promise<Holding[]>;
  /** The live holders of these keys, grouped per box and worker (pipelined). */
  lookupKeys(keys: readonly string[]): Promise<LookupResult>;

  // ---- messages between boxes (workers) --------------------------------------------------------
  /** Publish bytes to one box's worker channel; resolves with the subscribers reached (0: that worker is gone). */
  publishToWorker(nodeId: string, worker: number, bytes: Uint8Array): Promise<number>;
  /** Receive the messages addressed to (this box, `worker`); subscribed until close, restored after an outage. */
  subscribeWorker(worker: number, handler: WorkerMessageHandler): Promise<void>;

  // ---- rooms and all (workers) -----------------------------------------------------------------
  /** Called with every room push and push to all this engine is subscribed to. */
  onRoomMessage(handler: RoomMessageHandler): void;
  /** Subscribe to a room's channel (idempotent; a pending unsubscribe is cancelled). */
  joinRoom(room: string): void;
  /** Unsubscribe after `cluster.roomGraceMs`, unless joined again meanwhile. */
  leaveRoom(room: string): void;
  /** Subscribe to the push-to-all channel. */
  subscribeAll(): Promise<void>;
  /** Publish to a room's channel (every subscribed worker of every box, this one's included); resolves with the subscribers reached. */
  publishRoom(room: string, bytes: Uint8Array): Promise<number>;
  publishAll(bytes: Uint8Array): Promise<number>;
  /** The rooms this engine is subscribed to (or about to be). */
  subscribedRooms(): string[];

  // ---- counts (acceptor) -----------------------------------------------------------------------
  /** Publish this box's exact counts (they expire with the lease). */
  publishCounts(counts: BoxCounts): Promise<void>;
  /** The sum of the live boxes' counts (rooms: all of them, or only those given). */
  readCounts(rooms?: readonly string[]): Promise<ClusterCounts>;

  // ---- health ----------------------------------------------------------------------------------
  /** Publish to our own probe channel and wait for it (bounded by cluster.probeTimeoutMs). */
  probe(): Promise<ProbeResult>;
  stats(): EngineStats;
}

/** What an engine is built from (derived from the config in src/cluster/options.ts). */
export interface EngineOptions {
  readonly url: string;
  readonly nodeId: string;
  readonly keyPrefix: string;
  readonly leaseMs: number;
  /** Deadline of every call (ms). */
  readonly commandTimeoutMs: number;
  /** How long a probe may take before the engine is stale (ms). */
  readonly probeTimeoutMs: number;
  /** How often the engine probes itself (ms); 0 = only when `probe()` is called. */
  readonly probeIntervalMs: number;
  /** Delay before a room left by its last member is unsubscribed (ms). */
  readonly roomGraceMs: number;
  /** A name for logs and the Redis CLIENT SETNAME (`acceptor`, `worker-0`). */
  readonly role: string;
}
