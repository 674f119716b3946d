/**
 * The delivery cursor of one device (connection key), the same in both IM shards (actors/im-shard.ts
 * on LMDB, actors/im-shard-redis.ts on Redis; docs/reliable-messaging.md, "Guarantees"): the window,
 * what is in flight, the singly acked seqs, the ack rule, the redelivery rewind and the device's one
 * timer-wheel entry. Reading the store and sending stay in each shard (LMDB reads synchronously, Redis
 * answers later), so this holds only the state and the rules that move it: no closure, no allocation
 * per message (the `singles` set exists only while a single ack is out of order).
 */
import { TimerEntry, type Expiring, type TimerWheel } from '../timer-wheel.js';
import { setU64 } from './message.js';
import type { DeviceRef } from './records.js';

export abstract class DeviceCursor implements Expiring {
  readonly mid: number;
  readonly key: string;
  readonly worker: number;
  readonly connId: number;
  /** Highest seq sent (everything in (acked, sent] is in flight). */
  sent = 0;
  /** Read position: everything ≤ acked is acked. */
  acked = 0;
  /** Singly acked seqs above `acked` (not sent again on redelivery). */
  singles: Set<number> | null = null;
  /** At most this many sent and unacked. */
  window: number;
  /** The device's one timer (redelivery; the Redis shard also retries a failed sync with it). */
  readonly timer: TimerEntry<Expiring>;

  constructor(ref: DeviceRef, window: number) {
    this.mid = ref.mid;
    this.key = ref.key;
    this.worker = ref.worker;
    this.connId = ref.connId;
    this.window = window;
    this.timer = new TimerEntry<Expiring>(this);
  }

  /** The timer fired: the shard decides (redelivery, or a retry). */
  abstract onTimeout(): void;

  /** Whether `ref` is this cursor's connection (a newer connection of the same key is not). */
  same(ref: DeviceRef): boolean {
    return this.worker === ref.worker && this.connId === ref.connId;
  }

  /** The highest seq the device may have now, given the user's durable seq: min(durable, acked + window). */
  cap(durable: number): number {
    return Math.min(durable, this.acked + this.window);
  }

  /** Whether `seq` is still to be sent (it was not singly acked). */
  wants(seq: number): boolean {
    return this.singles === null || !this.singles.has(seq);
  }

  /** A sync: the device holds everything up to `from` and nothing is in flight. */
  start(from: number): void {
    this.acked = from;
    this.sent = from;
    this.singles = null;
  }

  /**
   * An ack of `seq` ("up to seq", or only `seq` when `single`). True when the read position moved:
   * the caller then persists `acked`, calls `rearm` and sends what the wider window allows. Acks of
   * what was never sent, or is already acked, are ignored.
   */
  ack(seq: number, single: boolean): boolean {
    if (seq > this.sent || seq <= this.acked) return false;
    if (single && seq !== this.acked + 1) {
      (this.singles ??= new Set()).add(seq);
      return false;
    }
    this.acked = seq;
    if (this.singles !== null) {
      while (this.singles.delete(this.acked + 1)) this.acked++;
      for (const s of this.singles) if (s <= this.acked) this.singles.delete(s);
      if (this.singles.size === 0) this.singles = null;
    }
    return true;
  }

  /** After ack progress: the redelivery deadline starts again; none is needed once everything is acked. */
  rearm(wheel: TimerWheel<Expiring>, redeliverMs: number): void {
    if (this.acked >= this.sent) wheel.cancel(this.timer);
    else wheel.schedule(this.timer, redeliverMs);
  }

  /** Something was sent: the redelivery deadline runs, unless it already does. */
  arm(wheel: TimerWheel<Expiring>, redeliverMs: number): void {
    if (!this.timer.scheduled) wheel.schedule(this.timer, redeliverMs);
  }

  /** Redelivery: the cursor goes back to the acked position. Returns how many will be sent again (singly acked ones are not). */
  rewind(): number {
    const again = Math.max(0, this.sent - this.acked - (this.singles?.size ?? 0));
    this.sent = this.acked;
    return again;
  }
}

/** The window of a device whose op 114 asked for `limit` (0: no limit of its own), at most im.ackWindow. */
export function syncWindow(limit: number, ackWindow: number): number {
  return limit > 0 ? Math.min(limit, ackWindow) : ackWindow;
}

/**
 * Where a sync starts. after < 0: from the device's stored read position; otherwise the client holds
 * everything up to `after` (its local store): that is its read position now. Never beyond what exists.
 */
export function syncFrom(after: number, stored: number, durable: number): number {
  return Math.max(0, after < 0 ? stored : Math.min(after, durable));
}

const SYNC_REPLY_BYTES = 16;

/** The op-115 body: the seq the stream starts after, and the user's durable seq. */
export function encodeSyncReply(from: number, durable: number): Uint8Array {
  const reply = new Uint8Array(SYNC_REPLY_BYTES);
  const dv = new DataView(reply.buffer);
  setU64(dv, 0, from);
  setU64(dv, 8, durable);
  return reply;
}
