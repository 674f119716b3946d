/**
 * Which store reliable messaging uses on this thread: the single-box LMDB store under im.dataDir
 * (the default, unchanged), or in cluster mode (cluster.redisUrl set) the Redis store every box
 * shares (src/cluster/im-store-redis.ts), with the deadline cluster.commandTimeoutMs.
 */
import { clusterEnabled } from '../config/derived.js';
import type { Config } from '../config/types.js';
import type { Logger } from '../logger.js';
import { ImStore } from '../im/store.js';
import { ImRedis } from './im-redis.js';
import { ALL_SCRIPTS } from './im-scripts.js';
import { RedisImStore } from './im-store-redis.js';

export type ImStores = { kind: 'lmdb'; store: ImStore } | { kind: 'redis'; store: RedisImStore };

/**
 * Opens this thread's store. In cluster mode nothing waits for Redis: the client connects in the
 * background, and calls fail with ImEngineUnavailable until it is up. `onUp` runs each time the
 * connection is (again) ready.
 */
export function openImStore(config: Config, log: Logger, onUp: () => void = () => undefined): ImStores {
  if (!clusterEnabled(config)) return { kind: 'lmdb', store: new ImStore(config.im.dataDir) };
  const redis = new ImRedis({
    url: config.cluster.redisUrl,
    timeoutMs: config.cluster.commandTimeoutMs,
    onError: (err) => log.warn({ err: err.message }, 'im (cluster): redis connection lost; sends answer 503 until it is back'),
    onReady: onUp,
    scripts: ALL_SCRIPTS,
  });
  const im = config.im;
  return { kind: 'redis', store: new RedisImStore(redis, config.cluster.keyPrefix, { count: im.retainCount, ms: im.retainMs, idempotencyMs: im.idempotencyMs }) };
}

/**
 * Says in the log what an acknowledged message survives with this Redis's persistence settings
 * (docs/cluster.md, "Reliable messaging"): only `appendonly yes` with `appendfsync always` makes a
 * 200 mean "on disk".
 */
export async function checkImPersistence(store: RedisImStore, log: Logger): Promise<void> {
  const p = await store.redis.persistence();
  if (p === null) return log.warn('im (cluster): cannot read Redis persistence settings (CONFIG GET refused); an acked message is on disk only with appendonly yes and appendfsync always');
  if (p.appendonly === 'yes' && p.appendfsync === 'always') return log.info('im (cluster): Redis appendonly yes, appendfsync always: an acked message is on disk');
  log.warn(p, 'im (cluster): Redis is not set to appendonly yes + appendfsync always: an acked message can be lost if Redis crashes (everysec: about the last second)');
}
