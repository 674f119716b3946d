/**
 * What an IM shard in cluster mode tells the other boxes (docs/cluster.md, "Reliable messaging"):
 * which users' device cursors it holds, so that the append script of whichever box writes to such a
 * user publishes a notice to this shard in the same atomic step as the commit
 * (src/cluster/im-scripts.ts APPEND; src/cluster/im-peers-redis.ts implements this on Redis).
 *
 * Notices are hints, not the data: the shard reads what is due from Redis (or sends the message the
 * notice carries when it is the next one due), so one that comes twice sends nothing twice, and one
 * lost (a subscriber reconnecting) is made up when the connection is back (the shard re-reads its
 * users' newest seqs).
 */
export interface ImPeers {
  /** This shard holds device cursors of `mid` now. */
  hold(mid: number): void;
  /** This shard holds no cursor of `mid` any more. */
  release(mid: number): void;
}
