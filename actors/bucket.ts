/**
 * A bucket of connection actors keyed by connection key (goim comet's Bucket): a worker spreads its
 * connections over `bucketsPerWorker` of these by a hash of the key, so that per-key work (lookup,
 * kick of a duplicate key, later room fan-out) touches one smaller map.
 */
import { hashString } from '../src/hash.js';

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
