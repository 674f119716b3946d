/** FNV-1a over a string's UTF-16 code units: cheap, stable, good enough to spread keys over buckets. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Spreads user ids (int64 values held as JS numbers) over router shards. */
export function shardOfMid(mid: number, shards: number): number {
  const lo = mid % 0x100000000 | 0;
  const hi = Math.floor(mid / 0x100000000) | 0;
  let h = Math.imul(lo ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(hi + 0x27d4eb2f, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % shards;
}

/**
 * Spreads connection keys over the key-directory shards (one per worker, actors/key-directory.ts):
 * FNV-1a, then murmur3's finaliser, so that keys differing only in their last characters (k1, k2, ...)
 * spread evenly over a few shards too.
 */
export function shardOfKey(key: string, shards: number): number {
  let h = hashString(key);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % shards;
}
