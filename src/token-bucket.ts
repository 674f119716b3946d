/**
 * A token bucket (no timers: state is advanced by the caller's clock). Used for a connection's upstream
 * request rate (src/upstream/limiter.ts) and the control port's request rate (src/control/http.ts).
 */

export class TokenBucket {
  private tokens: number;
  private last = Number.NaN;
  private readonly perMs: number;

  constructor(
    ratePerSec: number,
    private readonly burst: number,
  ) {
    if (!(ratePerSec > 0) || !Number.isFinite(ratePerSec)) throw new RangeError(`ratePerSec must be > 0, got ${ratePerSec}`);
    if (!(burst >= 1) || !Number.isFinite(burst)) throw new RangeError(`burst must be >= 1, got ${burst}`);
    this.perMs = ratePerSec / 1000;
    this.tokens = burst;
  }

  /** Takes one token if available. Starts full; refills at ratePerSec up to burst. A clock going back refills nothing. */
  take(nowMs: number): boolean {
    if (Number.isNaN(this.last)) {
      this.last = nowMs;
    } else if (nowMs > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + (nowMs - this.last) * this.perMs);
      this.last = nowMs;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }
}
