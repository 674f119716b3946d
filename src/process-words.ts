/**
 * The control plane's process-wide limits and flags, in one SharedArrayBuffer every thread maps
 * (created by the supervisor, handed to each worker in workerData), so that a limit set for the
 * process stays one limit while every worker serves the control port:
 *
 *   - the control rate limit (`control.ratePerSec`, burst `control.burst`): one GCRA cell, the
 *     theoretical arrival time of the next request, advanced with compareExchange by whichever
 *     thread takes a request (equivalent to a token bucket of `burst` tokens refilled at the rate);
 *   - requests in flight (`push.maxInFlight`: pushes, and reliable sends from the control API): a
 *     process total checked against the limit, plus each worker's own share, so that the supervisor
 *     can take back a dead worker's share (its requests died with its connections);
 *   - the draining flag, set by the acceptor when a drain begins (/goim/nodes lists no node then).
 *
 * Every access is an Atomics operation; nothing here allocates but the BigInt of the rate cell.
 */

const HEADER_WORDS = 16; // Int32 words before the per-worker shares
const W_DRAINING = 0;
const W_PUSHES = 1;
const W_SENDS = 2;
/** The rate cell is a BigInt64 at this byte offset (8-aligned, after the Int32 header). */
const RATE_BYTE = 8 * 4;
const SHARE_WORDS = 2; // per worker: pushes, sends

export function createProcessWords(workers: number): SharedArrayBuffer {
  return new SharedArrayBuffer((HEADER_WORDS + workers * SHARE_WORDS) * 4);
}

/** Wall-clock nanoseconds with sub-millisecond precision, comparable between threads. */
function nowNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
}

/** One kind of request in flight, process-wide, with each worker's share. */
export class InFlight {
  private readonly words: Int32Array;
  private readonly total: number;
  private readonly share: number;

  constructor(words: Int32Array, total: number, share: number) {
    this.words = words;
    this.total = total;
    this.share = share;
  }

  /** Takes one place when fewer than `max` are in flight in the process; false otherwise. */
  tryAcquire(max: number): boolean {
    if (Atomics.add(this.words, this.total, 1) >= max) {
      Atomics.sub(this.words, this.total, 1);
      return false;
    }
    if (this.share >= 0) Atomics.add(this.words, this.share, 1);
    return true;
  }

  release(): void {
    Atomics.sub(this.words, this.total, 1);
    if (this.share >= 0) Atomics.sub(this.words, this.share, 1);
  }

  /** In flight in the whole process. */
  count(): number {
    return Atomics.load(this.words, this.total);
  }
}

export class ProcessWords {
  private readonly words: Int32Array;
  private readonly rate: BigInt64Array;
  private readonly workers: number;
  /** Pushes in flight (push.maxInFlight). */
  readonly pushes: InFlight;
  /** Reliable sends of the control API in flight (push.maxInFlight). */
  readonly sends: InFlight;

  /** `self`: this thread's worker index, or -1 for the acceptor (which holds no share). */
  constructor(buffer: SharedArrayBuffer, workers: number, self: number) {
    this.words = new Int32Array(buffer);
    this.rate = new BigInt64Array(buffer, RATE_BYTE, 1);
    this.workers = workers;
    const share = (kind: number): number => (self < 0 ? -1 : HEADER_WORDS + self * SHARE_WORDS + kind);
    this.pushes = new InFlight(this.words, W_PUSHES, share(0));
    this.sends = new InFlight(this.words, W_SENDS, share(1));
  }

  /**
   * The control rate limit: true when one more request fits `ratePerSec` with bursts of `burst`
   * over the whole process (GCRA: each request moves the theoretical arrival time on by 1/rate; a
   * request is refused while that time would run more than burst/rate ahead of now).
   */
  takeRate(ratePerSec: number, burst: number): boolean {
    const interval = BigInt(Math.max(1, Math.round(1e9 / ratePerSec)));
    const limit = interval * BigInt(burst);
    const now = nowNs();
    for (;;) {
      const tat = Atomics.load(this.rate, 0);
      const next = (tat > now ? tat : now) + interval;
      if (next - now > limit) return false;
      if (Atomics.compareExchange(this.rate, 0, tat, next) === tat) return true;
    }
  }

  get draining(): boolean {
    return Atomics.load(this.words, W_DRAINING) !== 0;
  }

  setDraining(): void {
    Atomics.store(this.words, W_DRAINING, 1);
  }

  /** A worker died: its requests in flight died with its connections; takes its shares back. */
  clearWorker(worker: number): void {
    if (worker < 0 || worker >= this.workers) return;
    const base = HEADER_WORDS + worker * SHARE_WORDS;
    Atomics.sub(this.words, W_PUSHES, Atomics.exchange(this.words, base, 0));
    Atomics.sub(this.words, W_SENDS, Atomics.exchange(this.words, base + 1, 0));
  }
}
