/**
 * Connection limits shared by every thread, and the count of refusals of every limit, in one
 * SharedArrayBuffer of Int32 words (created by the supervisor, handed to each worker).
 *
 * Workers accept on their own descriptors, so a process-wide limit needs shared counts. Each worker
 * keeps its own counts in a region of its own (open connections, pending handshakes, a per-IP
 * count table), and admission sums the regions of all workers. A worker that dies cannot take its
 * counts back, so the supervisor clears its region (clearWorker); no count ever leaks.
 *
 * Admission is "add, then check, and take it back when over": every step is a sequentially
 * consistent Atomics operation, so of two workers admitting at the same instant at least one sees
 * the other's count. A limit is therefore never exceeded; at the boundary both may be refused.
 *
 * Per IP, the table is a count-min sketch: each address adds to one cell in each of two rows (two
 * hashes) and its count is the smaller cell. It never under-counts, so an address never gets past
 * the limit; it over-counts only when another address shares both cells (IP_SLOTS per row).
 */
import { hashString } from './hash.js';

/** Every limit counted in ringcast_limit_refusals_total, labelled by the config key that sets it. */
export const LIMITS = [
  'limits.maxConnections',
  'limits.maxConnectionsPerWorker',
  'limits.maxConnectionsPerIp',
  'limits.maxPendingHandshakes',
  'protocol.handshakeTimeoutMs',
  'protocol.maxBodyBytes',
  'rooms.maxPerConnection',
  'upstream.maxInFlight',
  'upstream.ratePerSec',
  'control.maxBodyBytes',
  'control.batchMaxTargets',
  'control.ratePerSec',
  'push.maxInFlight',
] as const;
export type LimitName = (typeof LIMITS)[number];

/** Index of each limit's refusal counter (word index in the shared buffer). */
export const enum Limit {
  MaxConnections = 0,
  MaxConnectionsPerWorker = 1,
  MaxConnectionsPerIp = 2,
  MaxPendingHandshakes = 3,
  HandshakeTimeout = 4,
  PacketSize = 5,
  RoomsPerConnection = 6,
  UpstreamInFlight = 7,
  UpstreamRate = 8,
}

/** Limits of the connection gateway (the `limits` config section); 0 = no limit. */
export interface ConnectionLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerWorker: number;
  readonly maxConnectionsPerIp: number;
  readonly maxPendingHandshakes: number;
}

const COUNTER_WORDS = 16; // refusal counters; LIMITS.length <= 16
/** Cells per row of the per-IP table. */
export const IP_SLOTS = 1 << 15;
const IP_ROWS = 2;
const W_CONNECTIONS = 0;
const W_PENDING = 1;
const REGION_HEADER = 16; // words before the IP table in a worker region

function regionWords(perIp: boolean): number {
  return REGION_HEADER + (perIp ? IP_ROWS * IP_SLOTS : 0);
}

/** The shared buffer for `workers` workers (the per-IP table only when that limit is on). */
export function createLimitsBuffer(workers: number, limits: ConnectionLimits): SharedArrayBuffer {
  return new SharedArrayBuffer((COUNTER_WORDS + workers * regionWords(limits.maxConnectionsPerIp > 0)) * 4);
}

/** A second hash of the address, independent enough of FNV-1a for the sketch's second row. */
function hash2(s: string): number {
  let h = 0x9747b28c;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 0x5bd1e995);
    h ^= h >>> 15;
  }
  return h >>> 0;
}

/** What admit() fills in for release() (a connection actor itself): its two IP cells, or -1 when per-IP counting is off. */
export interface Admission {
  ipCell0: number;
  ipCell1: number;
}

export class SharedLimits {
  private readonly words: Int32Array;
  private readonly workers: number;
  private readonly region: number;
  private readonly limits: ConnectionLimits;

  constructor(buffer: SharedArrayBuffer, workers: number, limits: ConnectionLimits) {
    this.words = new Int32Array(buffer);
    this.workers = workers;
    this.limits = limits;
    this.region = regionWords(limits.maxConnectionsPerIp > 0);
  }

  private base(worker: number): number {
    return COUNTER_WORDS + worker * this.region;
  }

  /** Adds 1 to this worker's word at `offset`; when the sum over workers passes `max`, takes it back. */
  private tryAdd(worker: number, offset: number, max: number): boolean {
    Atomics.add(this.words, this.base(worker) + offset, 1);
    if (max === 0) return true;
    let sum = 0;
    for (let w = 0; w < this.workers; w++) sum += Atomics.load(this.words, this.base(w) + offset);
    if (sum <= max) return true;
    Atomics.sub(this.words, this.base(worker) + offset, 1);
    return false;
  }

  /**
   * Admits one new connection on `worker` (holding `local` connections already) from `ip`; returns
   * the refused limit, or -1 with `out` filled in for release(). A refusal is counted.
   */
  admit(worker: number, local: number, ip: string, out: Admission): number {
    const l = this.limits;
    out.ipCell0 = -1;
    out.ipCell1 = -1;
    let refused = -1;
    if (l.maxConnectionsPerWorker > 0 && local >= l.maxConnectionsPerWorker) refused = Limit.MaxConnectionsPerWorker;
    else if (!this.tryAdd(worker, W_CONNECTIONS, l.maxConnections)) refused = Limit.MaxConnections;
    else if (!this.tryAdd(worker, W_PENDING, l.maxPendingHandshakes)) {
      Atomics.sub(this.words, this.base(worker) + W_CONNECTIONS, 1);
      refused = Limit.MaxPendingHandshakes;
    } else if (l.maxConnectionsPerIp > 0 && !this.admitIp(worker, ip, out)) {
      Atomics.sub(this.words, this.base(worker) + W_CONNECTIONS, 1);
      Atomics.sub(this.words, this.base(worker) + W_PENDING, 1);
      refused = Limit.MaxConnectionsPerIp;
    }
    if (refused >= 0) this.count(refused);
    return refused;
  }

  private admitIp(worker: number, ip: string, out: Admission): boolean {
    const c0 = REGION_HEADER + (hashString(ip) & (IP_SLOTS - 1));
    const c1 = REGION_HEADER + IP_SLOTS + (hash2(ip) & (IP_SLOTS - 1));
    const base = this.base(worker);
    Atomics.add(this.words, base + c0, 1);
    Atomics.add(this.words, base + c1, 1);
    let s0 = 0;
    let s1 = 0;
    for (let w = 0; w < this.workers; w++) {
      s0 += Atomics.load(this.words, this.base(w) + c0);
      s1 += Atomics.load(this.words, this.base(w) + c1);
    }
    if (Math.min(s0, s1) <= this.limits.maxConnectionsPerIp) {
      out.ipCell0 = c0;
      out.ipCell1 = c1;
      return true;
    }
    Atomics.sub(this.words, base + c0, 1);
    Atomics.sub(this.words, base + c1, 1);
    return false;
  }

  /** The connection authenticated (or closed before it did): it no longer counts as pending. */
  handshakeDone(worker: number): void {
    Atomics.sub(this.words, this.base(worker) + W_PENDING, 1);
  }

  /** An admitted connection closed. */
  release(worker: number, a: Admission): void {
    const base = this.base(worker);
    Atomics.sub(this.words, base + W_CONNECTIONS, 1);
    if (a.ipCell0 >= 0) {
      Atomics.sub(this.words, base + a.ipCell0, 1);
      Atomics.sub(this.words, base + a.ipCell1, 1);
    }
  }

  /** Forgets every count of a worker (it died: its connections died with it). */
  clearWorker(worker: number): void {
    const base = this.base(worker);
    for (let i = 0; i < this.region; i++) Atomics.store(this.words, base + i, 0);
  }

  /** Counts one refusal of `limit`. */
  count(limit: Limit): void {
    Atomics.add(this.words, limit, 1);
  }

  /** Refusals so far of the limits counted in this buffer, by limit name. */
  refusals(): Partial<Record<LimitName, number>> {
    const out: Partial<Record<LimitName, number>> = {};
    for (let i = 0; i <= Limit.UpstreamRate; i++) out[LIMITS[i]!] = Atomics.load(this.words, i);
    return out;
  }

  /** Open (admitted) connections and pending handshakes over all workers. */
  totals(): { connections: number; pending: number } {
    let connections = 0;
    let pending = 0;
    for (let w = 0; w < this.workers; w++) {
      connections += Atomics.load(this.words, this.base(w) + W_CONNECTIONS);
      pending += Atomics.load(this.words, this.base(w) + W_PENDING);
    }
    return { connections, pending };
  }
}
