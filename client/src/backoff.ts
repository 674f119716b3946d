/**
 * Reconnect delays with full jitter: retry n (1 for the first) waits a delay drawn uniformly from
 * [min, min(max, min * 2^n)]. At the cap the draw still spans [min, max]: clamping after jittering
 * (as socket.io-client does) puts every client of a restarted server on the same delay from the
 * fifth retry on, so they come back in step, a herd.
 */
export interface BackoffOptions {
  minDelayMs: number;
  maxDelayMs: number;
}

/** The upper end of retry n's range. */
export function backoffCeiling(n: number, o: BackoffOptions): number {
  return Math.min(o.maxDelayMs, o.minDelayMs * 2 ** Math.min(Math.max(n, 0), 52));
}

/** The delay of retry n (n >= 1), with `random` uniform in [0, 1). */
export function backoffDelay(n: number, o: BackoffOptions, random: () => number): number {
  const min = Math.min(o.minDelayMs, o.maxDelayMs);
  const ceiling = Math.max(min, backoffCeiling(n, o));
  return Math.round(min + random() * (ceiling - min));
}
