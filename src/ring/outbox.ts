/**
 * One producer thread's way into one destination mailbox, with a bounded overflow list.
 *
 * When the ring is full the record is copied into the overflow list (bounded in the bytes the records
 * will take in the ring) and written
 * later, in order, as soon as the consumer frees space; while anything is parked, later records queue
 * behind it so that per-destination order holds. When the overflow list is full too, the record is
 * refused: send() says so, the caller decides what that means, and the refusal is counted and
 * reported through onReject. Nothing is dropped without a trace.
 */
import { recordBytes } from '../layout.js';
import { RingWriter } from './ring.js';

export const enum SendResult {
  Written = 0,
  Parked = 1,
  Rejected = 2,
}

interface ParkedRecord {
  kind: number;
  target: number;
  body: Uint8Array | null;
}

export type RejectListener = (kind: number, target: number, bodyLength: number) => void;

export class Outbox {
  readonly writer: RingWriter;
  readonly limitBytes: number;
  /** Records refused since creation. */
  rejected = 0;
  /** Records that had to be parked since creation. */
  parkedEver = 0;
  private queue: ParkedRecord[] = [];
  private queueStart = 0;
  private queuedBytes = 0;
  private flushing = false;
  private readonly onReject: RejectListener;

  constructor(writer: RingWriter, limitBytes: number, onReject: RejectListener) {
    this.writer = writer;
    this.limitBytes = limitBytes;
    this.onReject = onReject;
  }

  /** Records waiting in the overflow list. */
  get parked(): number {
    return this.queue.length - this.queueStart;
  }
  get parkedBytes(): number {
    return this.queuedBytes;
  }

  send(kind: number, target: number, body: Uint8Array | null, off = 0, len = body === null ? 0 : body.length - off): SendResult {
    if (this.parked === 0 && this.writer.tryWrite(kind, target, body, off, len)) return SendResult.Written;
    // Counted as ring bytes (header included), so that even empty records are bounded.
    const size = recordBytes(len);
    if (len > this.writer.maxBody || this.queuedBytes + size > this.limitBytes) {
      this.rejected++;
      this.onReject(kind, target, len);
      return SendResult.Rejected;
    }
    this.queue.push({ kind, target, body: body === null || len === 0 ? null : body.slice(off, off + len) });
    this.queuedBytes += size;
    this.parkedEver++;
    if (!this.flushing) void this.flush();
    return SendResult.Parked;
  }

  /** Resolves when nothing is parked any more. */
  async settled(): Promise<void> {
    while (this.parked > 0) await this.writer.spaceFor(0);
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.parked > 0) {
        const rec = this.queue[this.queueStart]!;
        const len = rec.body === null ? 0 : rec.body.length;
        if (this.writer.tryWrite(rec.kind, rec.target, rec.body, 0, len)) {
          this.queue[this.queueStart++] = undefined as unknown as ParkedRecord;
          this.queuedBytes -= recordBytes(len);
          if (this.queueStart > 1024 && this.queueStart * 2 > this.queue.length) {
            this.queue = this.queue.slice(this.queueStart);
            this.queueStart = 0;
          }
        } else {
          await this.writer.spaceFor(len);
        }
      }
      this.queue.length = 0;
      this.queueStart = 0;
    } finally {
      this.flushing = false;
    }
  }
}
