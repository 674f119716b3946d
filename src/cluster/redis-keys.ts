/**
 * Every Redis key and channel ringcast uses (docs/cluster.md#keys-and-channels), under
 * `<cluster.keyPrefix>:`. The part in braces is the hash tag: the keys of one user share a slot, so
 * do the keys of one box, and the lease keys of all boxes (one script takes and renews a lease).
 */
export class RedisNames {
  constructor(readonly prefix: string) {}

  /** ZSET nodeId → lease end (ms, Redis clock). */
  get nodes(): string {
    return `${this.prefix}:{nodes}`;
  }
  /** HASH nodeId → advert JSON. */
  get nodeInfo(): string {
    return `${this.prefix}:{nodes}:info`;
  }
  /** HASH nodeId → the holding box's random token (who holds the id now). */
  get nodeTokens(): string {
    return `${this.prefix}:{nodes}:token`;
  }
  /** STRING: the connection holding `key` (node, worker, connId, mid, platform). */
  key(key: string): string {
    return `${this.prefix}:key:{${key}}`;
  }
  /** HASH key → the connection (node, worker, connId, platform) of each of the user's connections. */
  user(mid: number): string {
    return `${this.prefix}:user:{u${mid}}`;
  }
  /** SET of "mid␟key" registered by one box, so that its entries can be removed once it is dead. */
  nodeEntries(nodeId: string): string {
    return `${this.prefix}:entries:{n:${nodeId}}`;
  }
  /** HASH: one box's totals (c connections, i ips, t published at, ms). */
  counts(nodeId: string): string {
    return `${this.prefix}:counts:{n:${nodeId}}`;
  }
  /** HASH room → members on one box. */
  roomCounts(nodeId: string): string {
    return `${this.prefix}:rooms:{n:${nodeId}}`;
  }

  // ---- channels (sharded pub/sub) -------------------------------------------------------------
  workerChannel(nodeId: string, worker: number): string {
    return `${this.prefix}:w:{n:${nodeId}}:${worker}`;
  }
  roomChannel(room: string): string {
    return `${this.prefix}:room:{${room}}`;
  }
  get allChannel(): string {
    return `${this.prefix}:all`;
  }
  probeChannel(nodeId: string, role: string): string {
    return `${this.prefix}:probe:{n:${nodeId}}:${role}`;
  }
}

/** Field separator inside directory values (a unit separator: never in a node id we accept, see below). */
export const SEP = '\x1f';
