/**
 * Shared pieces of the load tools: the push body format, a log-bucket latency histogram, the IPC
 * messages between the generator and its client processes, and /proc readers for server cost.
 *
 * Push body (BODY_BYTES unless asked otherwise, ASCII): `<streamSeq>:<sendTimeMs with 3 decimals>:<globalSeq>:` then
 * '.' padding. streamSeq counts 1, 2, 3... per target (per room for room pushes, per key for
 * unicast), so a client knows which messages it should have; sendTimeMs is the scheduled send time
 * (performance.timeOrigin + performance.now(), comparable across processes on one machine).
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

export const BODY_BYTES = 100;
export const PUSH_OP = 1000;
export const ROOM_TYPE = 'live';

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

// ---------------------------------------------------------------- IPC: parent ↔ client process

export type Transport = 'ws' | 'tcp';

export interface ClientInit {
  type: 'init';
  kind: Transport;
  host: string;
  port: number;
  path: string;
  /** Connections of this process: global indexes firstIndex .. firstIndex+count-1. */
  firstIndex: number;
  count: number;
  /** Connection g joins room `live://${g % rooms}`. */
  rooms: number;
  keyPrefix: string;
  heartbeatMs: number;
  /** Most connects in flight at once (the storm uses count). */
  connectConcurrency: number;
}

export type ToClient =
  | ClientInit
  | { type: 'go' }
  | { type: 'measure'; fromMs: number; toMs: number }
  | { type: 'mark'; id: number }
  | { type: 'finish'; roomExpected: Record<string, number> | null; keyExpected: number[] | null }
  | { type: 'stop' };

export interface ConnectReport {
  type: 'connected';
  ok: number;
  errors: number;
  /** Absolute ms: when 'go' arrived, when the last connection was authenticated. */
  goMs: number;
  lastAuthMs: number;
  errorSamples: string[];
}

export interface ProgressReport {
  type: 'progress';
  delivered: number;
  open: number;
  dropped: number;
}

/** The delivery accounting of a load run: each client process reports it, the generator sums it. */
export interface DeliveryCounts {
  delivered: number;
  unique: number;
  duplicates: number;
  missing: number;
  connsMissing: number;
  outOfOrder: number;
  dropped: number;
  malformed: number;
}

export interface FinalReport extends DeliveryCounts {
  type: 'final';
  hist: number[];
  histMax: number;
  histSum: number;
}

export type FromClient = { type: 'ready' } | ConnectReport | ProgressReport | { type: 'mark'; id: number; delivered: number } | FinalReport;

// ---------------------------------------------------------------- /proc

const CLK_TCK = 100;

/** user + system CPU seconds of a process, all its threads included. */
export function procCpuSeconds(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  // fields after ")": state(3) ppid ... utime is field 14, stime 15 (1-based over the whole line)
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/** Resident set size in bytes. */
export function procRssBytes(pid: number): number {
  const s = readFileSync(`/proc/${pid}/status`, 'latin1');
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(s);
  return m === null ? NaN : Number(m[1]) * 1024;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
