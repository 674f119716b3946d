import { TokenBucket } from '../token-bucket.js';
import { UpstreamStatus } from './envelope.js';

/** Per-connection admission: at most maxInFlight concurrent requests and a token bucket for the rate. */
export class RequestLimiter {
  private n = 0;
  private readonly bucket: TokenBucket;

  constructor(
    private readonly maxInFlight: number,
    ratePerSec: number,
    burst: number,
  ) {
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new RangeError(`maxInFlight must be an integer >= 1, got ${maxInFlight}`);
    this.bucket = new TokenBucket(ratePerSec, burst);
  }

  get inFlight(): number {
    return this.n;
  }

  /**
   * 0: admitted (call finish() once it completes, whatever the outcome). Otherwise the gateway status
   * to answer with. The in-flight check comes first, so a rejected-for-concurrency request costs no token.
   */
  tryStart(nowMs: number): 0 | UpstreamStatus.RateLimited | UpstreamStatus.TooManyInFlight {
    if (this.n >= this.maxInFlight) return UpstreamStatus.TooManyInFlight;
    if (!this.bucket.take(nowMs)) return UpstreamStatus.RateLimited;
    this.n++;
    return 0;
  }

  finish(): void {
    if (this.n > 0) this.n--;
  }
}
