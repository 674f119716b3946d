/**
 * Notices between boxes (src/cluster/im-peers.ts) on the messaging connection: each user's Redis slot also lists where the user's
 * devices are synced, `<prefix>:im:{<mid>}:boxes` = a set of `<nodeId>:<worker>` (the worker whose
 * shard holds the cursors), written by that shard when a device of the user first syncs there and
 * removed when its last one goes. The append script (src/cluster/im-scripts.ts) reads the set and
 * publishes the notice on each member's channel `<prefix>:im:notify:<nodeId>:<worker>` in the same
 * atomic step as the commit, straight to the right shard.
 *
 * Stale members heal themselves: a publish that reaches no subscriber (a dead box, a worker that no
 * longer exists, a subscriber reconnecting) removes that member in the same script, and a shard whose
 * subscriber comes back adds every user it holds again (RedisImShard.engineUp); a notice for a user
 * the shard no longer holds removes it too.
 */
import type { Logger } from '../logger.js';
import type { ImPeers } from './im-peers.js';
import type { ImRedis } from './im-redis.js';
import type { RedisImStore } from './im-store-redis.js';
import { ThrottledWarning } from './throttled-log.js';

export class RedisImPeers implements ImPeers {
  private readonly redis: ImRedis;
  private readonly store: RedisImStore;
  private readonly self: string;
  private readonly channelPrefix: string;
  private readonly warning: ThrottledWarning;

  constructor(store: RedisImStore, prefix: string, nodeId: string, worker: number, log: Logger) {
    this.store = store;
    this.redis = store.redis;
    this.self = `${nodeId}:${worker}`;
    this.channelPrefix = `${prefix}:im:notify:`;
    this.warning = new ThrottledWarning(log);
    store.notifyFrom({ channelPrefix: this.channelPrefix, self: this.self });
  }

  /** Subscribes this shard's channel; `onNotice` gets each notice as an ImNotify body. Waits for Redis. */
  async start(onNotice: (body: Uint8Array) => void): Promise<void> {
    await this.redis.subscribe(this.channelPrefix + this.self, onNotice);
  }

  private boxes(mid: number): string {
    return this.store.keys.boxes(mid);
  }

  /** This shard holds cursors of `mid` now. */
  hold(mid: number): void {
    this.redis.call(['SADD', this.boxes(mid), this.self]).catch((err: unknown) => this.failed(err));
  }

  /** This shard holds no cursor of `mid` any more. */
  release(mid: number): void {
    this.redis.call(['SREM', this.boxes(mid), this.self]).catch((err: unknown) => this.failed(err));
  }

  private failed(err: unknown): void {
    this.warning.warn(err, 'im (cluster): notifying the other boxes failed; their devices get the message with the next one, their next sync, or when Redis is back');
  }
}
