/**
 * The cluster engine on Redis 7 (node-redis): src/cluster/engine.ts's contract, assembled from one
 * module per job: the connections, state and probe (redis-link.ts), the lease (redis-lease.ts), the
 * directory (redis-directory.ts), rooms (redis-rooms.ts), counts (redis-counts.ts). Key and channel
 * names are in redis-keys.ts.
 *
 * Pub/sub is sharded (SSUBSCRIBE/SPUBLISH): on one Redis it costs what plain pub/sub costs, and on a
 * Redis Cluster a message stays on the shard that owns its channel's slot instead of being copied to
 * every node of the cluster (docs/cluster.md#why-sharded-pubsub).
 */
import type {
  BoxCounts,
  ClusterCounts,
  ClusterEngine,
  DirectoryEntry,
  EngineOptions,
  EngineState,
  EngineStateEvent,
  EngineStats,
  Holding,
  LiveNode,
  LookupResult,
  NodeAdvert,
  ProbeResult,
  RegisterResult,
  RoomMessageHandler,
  WorkerMessageHandler,
} from './engine.js';
import { RedisCounts } from './redis-counts.js';
import { RedisDirectory } from './redis-directory.js';
import { RedisNames } from './redis-keys.js';
import { RedisLease } from './redis-lease.js';
import { RedisLink } from './redis-link.js';
import { RedisRooms } from './redis-rooms.js';

export class RedisEngine implements ClusterEngine {
  private readonly link: RedisLink;
  private readonly names: RedisNames;
  private readonly lease: RedisLease;
  private readonly directory: RedisDirectory;
  private readonly roomSubs: RedisRooms;
  private readonly counts: RedisCounts;
  private readonly deadListeners = new Set<(nodeId: string) => void>();
  private readonly retakenListeners = new Set<() => void>();
  private readonly workers = new Map<number, WorkerMessageHandler>();

  constructor(
    readonly opts: EngineOptions,
    private readonly onError: (err: unknown) => void = () => {},
  ) {
    this.names = new RedisNames(opts.keyPrefix);
    this.link = new RedisLink(opts, this.names.probeChannel(opts.nodeId, opts.role), onError);
    this.lease = new RedisLease(this.link, this.names, {
      dead: (id) => this.emit(this.deadListeners, id),
      retaken: () => this.emit(this.retakenListeners, undefined),
      lost: (reason) => onError(new Error(reason)),
    });
    this.directory = new RedisDirectory(this.link, this.names, this.lease);
    this.roomSubs = new RedisRooms(this.link, this.names, onError);
    this.counts = new RedisCounts(this.link, this.names, this.lease);
    this.link.onReconnected(() => {
      for (const [worker, handler] of this.workers) this.subscribeWorkerChannel(worker, handler).catch(onError);
    });
  }

  private emit<T>(listeners: Set<(v: T) => void>, v: T): void {
    for (const l of listeners) {
      try {
        l(v);
      } catch (err) {
        this.onError(err);
      }
    }
  }

  get url(): string {
    return this.link.url;
  }
  get nodeId(): string {
    return this.opts.nodeId;
  }
  get state(): EngineState {
    return this.link.state;
  }

  async connect(): Promise<void> {
    this.lease.watchLive();
    await this.link.connect();
  }

  async close(): Promise<void> {
    this.lease.stop();
    this.roomSubs.stop();
    await this.link.close();
  }

  onState(listener: (ev: EngineStateEvent) => void): () => void {
    return this.link.onState(listener);
  }

  acquireLease(advert: NodeAdvert): Promise<void> {
    return this.lease.acquire(advert);
  }
  releaseLease(): Promise<void> {
    return this.lease.release();
  }
  liveNodes(): Promise<LiveNode[]> {
    return this.lease.list();
  }
  onNodeDead(listener: (nodeId: string) => void): () => void {
    this.deadListeners.add(listener);
    return () => this.deadListeners.delete(listener);
  }
  onLeaseRetaken(listener: () => void): () => void {
    this.retakenListeners.add(listener);
    return () => this.retakenListeners.delete(listener);
  }
  sweepOwnEntries(): Promise<number> {
    return this.directory.sweep(this.opts.nodeId, true);
  }
  sweepNode(nodeId: string): Promise<number> {
    return this.directory.sweep(nodeId, false);
  }
  lookupUser(mid: number): Promise<Holding[]> {
    return this.directory.lookupUser(mid);
  }
  sweepWorker(worker: number): Promise<number> {
    return this.directory.sweepWorker(worker);
  }

  register(entry: DirectoryEntry): Promise<RegisterResult> {
    return this.directory.register(entry);
  }
  unregister(entry: DirectoryEntry): Promise<void> {
    return this.directory.unregister(entry);
  }
  lookupMids(mids: readonly number[]): Promise<LookupResult> {
    return this.directory.lookupMids(mids);
  }
  lookupKeys(keys: readonly string[]): Promise<LookupResult> {
    return this.directory.lookupKeys(keys);
  }

  publishToWorker(nodeId: string, worker: number, bytes: Uint8Array): Promise<number> {
    const channel = this.names.workerChannel(nodeId, worker);
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return this.link.call(async () => {
      this.link.published++;
      return Number(await this.link.cmd.sPublish(channel, buf));
    }, true);
  }

  private subscribeWorkerChannel(worker: number, handler: WorkerMessageHandler): Promise<void> {
    return this.link.sub.sSubscribe(
      this.names.workerChannel(this.opts.nodeId, worker),
      (m: Buffer) => {
        this.link.received++;
        handler(m);
      },
      true,
    );
  }

  async subscribeWorker(worker: number, handler: WorkerMessageHandler): Promise<void> {
    this.workers.set(worker, handler);
    await this.link.call(() => this.subscribeWorkerChannel(worker, handler));
  }

  onRoomMessage(handler: RoomMessageHandler): void {
    this.roomSubs.onMessage(handler);
  }
  joinRoom(room: string): void {
    this.roomSubs.join(room);
  }
  leaveRoom(room: string): void {
    this.roomSubs.leave(room);
  }
  subscribeAll(): Promise<void> {
    return this.roomSubs.subscribeAll();
  }
  publishRoom(room: string, bytes: Uint8Array): Promise<number> {
    return this.roomSubs.publish(room, bytes);
  }
  publishAll(bytes: Uint8Array): Promise<number> {
    return this.roomSubs.publish(null, bytes);
  }
  subscribedRooms(): string[] {
    return this.roomSubs.rooms();
  }

  publishCounts(counts: BoxCounts): Promise<void> {
    return this.counts.publish(counts);
  }
  readCounts(rooms?: readonly string[]): Promise<ClusterCounts> {
    return this.counts.read(rooms);
  }

  probe(): Promise<ProbeResult> {
    return this.link.probe();
  }

  stats(): EngineStats {
    const l = this.link;
    return {
      state: l.state,
      url: l.url,
      lastProbeMs: l.lastProbeMs,
      errors: l.errors,
      commands: l.commands,
      published: l.published,
      received: l.received,
      rooms: this.roomSubs.size,
    };
  }
}

/** The engine for this config (only Redis today; cluster.redisUrl names it). */
export function createEngine(opts: EngineOptions, onError?: (err: unknown) => void): ClusterEngine {
  return new RedisEngine(opts, onError);
}
