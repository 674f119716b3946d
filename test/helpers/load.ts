/**
 * The push body format and latency histogram shared by the tests that measure delivery
 * (the slow-consumer test) and the load tools in bench/load/ (which import them
 * from here: bench/ may use test/helpers/, never the other way round).
 *
 * Push body (BODY_BYTES unless asked otherwise, ASCII): `<streamSeq>:<sendTimeMs with 3 decimals>:<globalSeq>:` then
 * '.' padding. streamSeq counts 1, 2, 3... per target (per room for room pushes, per key for
 * unicast), so a client knows which messages it should have; sendTimeMs is the scheduled send time
 * (performance.timeOrigin + performance.now(), comparable across processes on one machine).
 */
import { performance } from 'node:perf_hooks';

export const BODY_BYTES = 100;

/** Wall-clock milliseconds with sub-millisecond precision, comparable between processes. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export function encodeBody(streamSeq: number, sendMs: number, globalSeq: number, bytes = BODY_BYTES): Buffer {
  const b = Buffer.alloc(bytes, 0x2e); // '.'
  b.write(`${streamSeq}:${sendMs.toFixed(3)}:${globalSeq}:`, 0, 'latin1');
  return b;
}

/** Parsed by parseBody: valid until the next call. */
export const parsed = { streamSeq: 0, sendMs: 0 };

/** Parses streamSeq and sendMs from a body at buf[off..off+len); false if malformed. No allocation. */
export function parseBody(buf: Uint8Array, off: number, len: number): boolean {
  const end = off + len;
  let p = off;
  let seq = 0;
  let c = 0;
  while (p < end && (c = buf[p]!) !== 0x3a) {
    if (c < 0x30 || c > 0x39) return false;
    seq = seq * 10 + (c - 0x30);
    p++;
  }
  if (p >= end || p === off) return false;
  p++;
  let ms = 0;
  while (p < end && (c = buf[p]!) !== 0x2e && c !== 0x3a) {
    ms = ms * 10 + (c - 0x30);
    p++;
  }
  if (c === 0x2e) {
    p++;
    let scale = 0.1;
    while (p < end && (c = buf[p]!) !== 0x3a) {
      ms += (c - 0x30) * scale;
      scale /= 10;
      p++;
    }
  }
  parsed.streamSeq = seq;
  parsed.sendMs = ms;
  return true;
}

/**
 * Latency histogram in microseconds, log buckets 2 % wide (HDR-like, bounded memory, mergeable by
 * summing counts). Bucket 0 holds values below 1 µs.
 */
const LOG_BASE = Math.log(1.02);
export const HIST_BUCKETS = 1200; // 1.02^1199 µs ≈ 2e10 µs: far beyond any run

export class Histogram {
  readonly counts: Float64Array;
  count = 0;
  max = 0; // µs
  sum = 0;

  constructor(counts?: ArrayLike<number>) {
    this.counts = new Float64Array(HIST_BUCKETS);
    if (counts !== undefined) this.counts.set(counts);
    for (const c of this.counts) this.count += c;
  }

  record(us: number): void {
    const i = us < 1 ? 0 : Math.min(HIST_BUCKETS - 1, 1 + Math.floor(Math.log(us) / LOG_BASE));
    this.counts[i]!++;
    this.count++;
    this.sum += us;
    if (us > this.max) this.max = us;
  }

  merge(counts: ArrayLike<number>, max: number, sum: number): void {
    for (let i = 0; i < HIST_BUCKETS; i++) {
      const c = counts[i]!;
      this.counts[i]! += c;
      this.count += c;
    }
    if (max > this.max) this.max = max;
    this.sum += sum;
  }

  /** Value (µs) at quantile q: the geometric middle of the bucket holding the q-th sample. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let acc = 0;
    for (let i = 0; i < HIST_BUCKETS; i++) {
      acc += this.counts[i]!;
      if (acc >= rank) {
        if (i === 0) return 0.5;
        const lo = Math.exp((i - 1) * LOG_BASE);
        return Math.min(this.max, lo * Math.sqrt(1.02));
      }
    }
    return this.max;
  }
}
