/**
 * Redis keys of reliable messaging in cluster mode (docs/cluster.md, "Reliable messaging"). Every key
 * of one user carries the user's mid as its hash tag (`{<mid>}`), so that they share one slot and the
 * append script (src/cluster/im-scripts.ts) may touch them all atomically, in a Redis Cluster too; a
 * group's keys carry `{g<gid>}`.
 */
export class ImKeys {
  private readonly p: string;

  constructor(prefix: string) {
    this.p = `${prefix}:im:`;
  }

  /** The user's last allocated seq (INCR; never expires, so seqs are never reused). */
  seq(mid: number): string {
    return `${this.p}{${mid}}:seq`;
  }

  /** The user's inbox: a stream whose entry ids are `<seq>-0`, field `m` = the message bytes (src/im/message.ts). */
  inbox(mid: number): string {
    return `${this.p}{${mid}}:inbox`;
  }

  /** The read position of each of the user's devices: a hash device key → seq. */
  reads(mid: number): string {
    return `${this.p}{${mid}}:reads`;
  }

  /** A send with a client_msg_id from `from` to `mid`: the seq it got (expires after im.idempotencyMs). */
  idem(mid: number, from: number, clientMsgId: string): string {
    return `${this.p}{${mid}}:idem:${from}:${clientMsgId}`;
  }

  /** Where the user's devices are synced: a set of `<nodeId>:<worker>` (src/cluster/im-peers-redis.ts). */
  boxes(mid: number): string {
    return `${this.p}{${mid}}:boxes`;
  }

  /** A group: a hash {created, count, seq} (seq: the last group seq of its read fan-out inbox). */
  group(gid: number): string {
    return `${this.p}{g${gid}}:meta`;
  }

  /** A group's members: a set of mids. */
  members(gid: number): string {
    return `${this.p}{g${gid}}:members`;
  }

  /** A read fan-out group's own inbox (a stream, as a user's). */
  groupInbox(gid: number): string {
    return `${this.p}{g${gid}}:inbox`;
  }

  /** A send with a client_msg_id to a read fan-out group: the group seq it got. */
  groupIdem(gid: number, from: number, clientMsgId: string): string {
    return `${this.p}{g${gid}}:idem:${from}:${clientMsgId}`;
  }
}
