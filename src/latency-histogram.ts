/**
 * Push-to-write latency per worker: how long a push waited from its record's arrival at the worker
 * to the socket write (actors/deliverer.ts). Kept in fixed log-2 buckets inside each worker's own
 * status words (src/layout.ts, ST_LATENCY_FIRST), so the acceptor's /metrics and the dashboard read
 * it from shared memory without asking the worker (docs/operations.md#dashboard).
 *
 *   bucket i < LATENCY_BUCKETS - 1: latencies up to 2^(i + LATENCY_MIN_LOG2) µs (8 µs, 16 µs, … 8.4 s)
 *   the last bucket:                everything longer (+Inf)
 *   the sum:                        µs, in two words (low, high), so it does not wrap for 584,000 years
 *
 * Counts are uint32 and wrap; readers take differences modulo 2^32 (a worker records far fewer than
 * 2^32 pushes between two reads). Only the worker writes its words: recording is an Atomics.add per
 * bucket, no allocation, no lock.
 */
import { ST_LATENCY_FIRST, STATUS_WORDS } from './layout.js';

/** log2 of the first bucket's upper bound in µs (8 µs). */
export const LATENCY_MIN_LOG2 = 3;
/** 21 bounded buckets (8 µs … 2^23 µs = 8.4 s) and +Inf. */
export const LATENCY_BUCKETS = 22;
/** Status-word offsets (from ST_LATENCY_FIRST) of the sum's low and high 32 bits. */
const SUM_LO = LATENCY_BUCKETS;
const SUM_HI = LATENCY_BUCKETS + 1;
/** Status words the histogram takes. */
export const LATENCY_WORDS = LATENCY_BUCKETS + 2;

const TWO_32 = 2 ** 32;
/** The last bounded bucket's upper bound, µs (2^23: 8.4 s). */
const TOP_BOUND_US = 2 ** (LATENCY_BUCKETS - 2 + LATENCY_MIN_LOG2);

/** The bucket of a latency in µs: the first whose upper bound is at least it. */
export function latencyBucket(us: number): number {
  if (!(us > 1 << LATENCY_MIN_LOG2)) return 0; // also NaN and negative (a clock step)
  if (us > TOP_BOUND_US) return LATENCY_BUCKETS - 1;
  // ceil(log2(us)) for an integer us >= 2 is 32 - clz32(us - 1).
  return 32 - Math.clz32(Math.ceil(us) - 1) - LATENCY_MIN_LOG2;
}

/** Upper bound of bucket i in seconds (Infinity for the last). */
export function bucketUpperSeconds(i: number): number {
  return i >= LATENCY_BUCKETS - 1 ? Infinity : 2 ** (i + LATENCY_MIN_LOG2) / 1e6;
}

/** The worker's writer of its own histogram. */
export class LatencyRecorder {
  private readonly words: Int32Array;
  private readonly base: number;

  constructor(words: Int32Array, thread: number) {
    this.words = words;
    this.base = thread * STATUS_WORDS + ST_LATENCY_FIRST;
  }

  /** `n` pushes that waited `us` µs each. */
  record(us: number, n = 1): void {
    const w = this.words;
    const b = this.base;
    Atomics.add(w, b + latencyBucket(us), n);
    const add = us > 0 ? Math.round(us) * n : 0;
    const lo = (Atomics.load(w, b + SUM_LO) >>> 0) + add;
    // The only writer: a load and a store cannot lose an add; a reader may see the carry a moment late.
    if (lo >= TWO_32) {
      Atomics.add(w, b + SUM_HI, Math.floor(lo / TWO_32));
      Atomics.store(w, b + SUM_LO, lo % TWO_32 | 0);
    } else {
      Atomics.store(w, b + SUM_LO, lo | 0);
    }
  }
}

export interface LatencyCounts {
  /** Per bucket, not cumulative; uint32 (they wrap). */
  readonly buckets: readonly number[];
  readonly sumUs: number;
}

/** One thread's histogram as it stands. */
export function readLatency(words: Int32Array, thread: number): LatencyCounts {
  const b = thread * STATUS_WORDS + ST_LATENCY_FIRST;
  const buckets: number[] = new Array<number>(LATENCY_BUCKETS);
  for (let i = 0; i < LATENCY_BUCKETS; i++) buckets[i] = Atomics.load(words, b + i) >>> 0;
  return { buckets, sumUs: (Atomics.load(words, b + SUM_HI) >>> 0) * TWO_32 + (Atomics.load(words, b + SUM_LO) >>> 0) };
}

/** What was recorded between two reads (counts modulo 2^32). */
export function latencySince(now: LatencyCounts, before: LatencyCounts | undefined): LatencyCounts {
  if (before === undefined) return now;
  return { buckets: now.buckets.map((n, i) => (n - (before.buckets[i] ?? 0) + TWO_32) % TWO_32), sumUs: Math.max(0, now.sumUs - before.sumUs) };
}

/** Bucket counts summed over several histograms (the workers'). */
export function sumLatency(all: readonly LatencyCounts[]): LatencyCounts {
  const buckets = new Array<number>(LATENCY_BUCKETS).fill(0);
  let sumUs = 0;
  for (const h of all) {
    for (let i = 0; i < LATENCY_BUCKETS; i++) buckets[i]! += h.buckets[i] ?? 0;
    sumUs += h.sumUs;
  }
  return { buckets, sumUs };
}

/**
 * The q-quantile (0 < q ≤ 1) in µs, interpolated linearly inside its bucket (between the bucket's
 * lower and upper bound; the last bucket reports its lower bound); null when nothing was recorded.
 */
export function latencyQuantileUs(h: LatencyCounts, q: number): number | null {
  let total = 0;
  for (const n of h.buckets) total += n;
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < LATENCY_BUCKETS; i++) {
    const n = h.buckets[i]!;
    if (n === 0 || seen + n < rank) {
      seen += n;
      continue;
    }
    const lower = i === 0 ? 0 : 2 ** (i - 1 + LATENCY_MIN_LOG2);
    if (i === LATENCY_BUCKETS - 1) return lower;
    const upper = 2 ** (i + LATENCY_MIN_LOG2);
    return lower + ((rank - seen) / n) * (upper - lower);
  }
  return TOP_BOUND_US;
}
