/**
 * Telling the other boxes that a user's inbox grew (cluster mode, docs/cluster.md "Reliable
 * messaging"): after the append script committed, the writer's box looks up which boxes hold the
 * recipients' connections (the engine's directory, src/cluster/engine.ts) and publishes one notice
 * per recipient to one worker of each such box; that worker hands it to its own shard of the user
 * (ring record ImNotify), which reads what is due from Redis. A notice carries the message when it
 * is fresh, so a device that is caught up gets it without a read.
 *
 * Wire (the engine's worker channel, in the range src/cluster/wire.ts keeps for messaging):
 *   [u8 WireType.ImFirst][ImNotify body: f64 mid, f64 seq, message or nothing] (src/im/records.ts)
 *
 * Notices are hints, not the data: one that is lost (Redis restarting, a box dying between its
 * commit and its publish) delays delivery until the user's next message, the device's next sync, or
 * the engine coming back up (every shard then re-reads its users' newest seqs); one that comes twice
 * sends nothing twice (the device's cursor decides what is due).
 */
import type { Logger } from '../logger.js';
import { decodeNotify, encodeNotify } from '../im/records.js';
import type { ClusterEngine } from './engine.js';
import { ThrottledWarning } from './throttled-log.js';
import { WireType } from './wire.js';

export const IM_NOTIFY_WIRE = WireType.ImFirst;

export interface ImNotice {
  mid: number;
  seq: number;
  /** The stored message (fresh writes), or null (a retry's answer: the receiver reads it if it lacks it). */
  msg: Uint8Array | null;
}

/** What an IM shard needs to reach the other boxes. */
export interface ImPeers {
  /** Fire and forget: failures are counted and logged, never thrown (the write is already durable). */
  notify(notices: readonly ImNotice[]): void;
  /** This shard holds device cursors of `mid` now / no more (for a directory of its own; optional). */
  hold?(mid: number): void;
  release?(mid: number): void;
}

/** No other box (single box, or tests). */
export const NO_PEERS: ImPeers = { notify: () => undefined };

export class EngineImPeers implements ImPeers {
  private readonly engine: Pick<ClusterEngine, 'nodeId' | 'lookupMids' | 'publishToWorker'>;
  private readonly warning: ThrottledWarning;
  /** Notices published. */
  published = 0;

  constructor(engine: Pick<ClusterEngine, 'nodeId' | 'lookupMids' | 'publishToWorker'>, log: Logger) {
    this.engine = engine;
    this.warning = new ThrottledWarning(log);
  }

  notify(notices: readonly ImNotice[]): void {
    // One lookup per user (the directory answers per box and worker, not per user); the engine
    // pipelines the lookups of one turn.
    for (const n of notices) {
      this.engine.lookupMids([n.mid]).then(
        (found) => {
          let bytes: Uint8Array | null = null;
          const boxes = new Set<string>();
          for (const g of found.groups) {
            // This box's shard has delivered already; another box gets one notice, on the first of its
            // workers holding a connection of the user (that worker hands it to its shard of the user).
            if (g.nodeId === this.engine.nodeId || boxes.has(g.nodeId)) continue;
            boxes.add(g.nodeId);
            if (bytes === null) {
              bytes = encodeNotify(n.mid, n.seq, n.msg, 1);
              bytes[0] = IM_NOTIFY_WIRE;
            }
            this.published++;
            this.engine.publishToWorker(g.nodeId, g.worker, bytes).catch((err: unknown) => this.failed(err));
          }
        },
        (err: unknown) => this.failed(err),
      );
    }
  }

  private failed(err: unknown): void {
    this.warning.warn(err, 'im (cluster): notifying the other boxes failed; their devices get the message with the next one or their next sync');
  }

}

/** A notice from the engine's worker channel, as the ImNotify ring record body; null if it is not one. */
export function imNoticeRecord(bytes: Uint8Array): { mid: number; body: Uint8Array } | null {
  if (bytes.length < 1 || bytes[0] !== IM_NOTIFY_WIRE) return null;
  const r = decodeNotify(bytes, 1, bytes.length - 1);
  return r === null ? null : { mid: r.mid, body: bytes.subarray(1) };
}
