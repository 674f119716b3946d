/**
 * Calls in flight on one connection, by header seq: the server echoes the seq of the request in its
 * reply (or in op 199). Each has its own timeout; all are rejected when the connection ends.
 */
import { RingcastError, type RingcastErrorKind } from './errors.js';
import type { Timers } from './platform.js';

export interface Reply {
  op: number;
  body: Uint8Array;
}

interface Pending {
  resolve(r: Reply): void;
  reject(e: Error): void;
  timer: unknown;
}

const SEQ_MAX = 0x7fffffff;

export class PendingRequests {
  private readonly pending = new Map<number, Pending>();
  private nextSeq = 1;
  private readonly timers: Timers;

  constructor(timers: Timers) {
    this.timers = timers;
  }

  /** A fresh header seq (never 0: pushes carry 0). */
  seq(): number {
    const s = this.nextSeq;
    this.nextSeq = s >= SEQ_MAX ? 1 : s + 1;
    return s;
  }

  /** Waits for the reply to `seq`, for at most `timeoutMs`. */
  wait(seq: number, timeoutMs: number, what: string): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      const timer = this.timers.setTimeout(() => {
        this.pending.delete(seq);
        reject(new RingcastError('timeout', `${what}: no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(seq, { resolve, reject, timer });
    });
  }

  has(seq: number): boolean {
    return this.pending.has(seq);
  }

  resolve(seq: number, reply: Reply): boolean {
    const p = this.pending.get(seq);
    if (p === undefined) return false;
    this.pending.delete(seq);
    this.timers.clearTimeout(p.timer);
    p.resolve(reply);
    return true;
  }

  reject(seq: number, err: Error): boolean {
    const p = this.pending.get(seq);
    if (p === undefined) return false;
    this.pending.delete(seq);
    this.timers.clearTimeout(p.timer);
    p.reject(err);
    return true;
  }

  rejectAll(kind: RingcastErrorKind, message: string, code: number): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) {
      this.timers.clearTimeout(p.timer);
      p.reject(new RingcastError(kind, message, code));
    }
  }

  get size(): number {
    return this.pending.size;
  }
}
