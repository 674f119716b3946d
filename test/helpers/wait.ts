/**
 * Waiting in tests. A test that needs some state (a registration, a count, a close) waits for that
 * state with `until`, asking the server where it can (GET /sessions, /goim/online/total, /metrics,
 * /health), never for a fixed time. `sleep` is for the few places where the time itself is what is
 * tested or paced (an interval measured, a rate kept, a window in which nothing may arrive); each
 * such call says why.
 */

/** Polls `check` every 20 ms until it returns true or `ms` passes (for state with no event to wait on); resolves with the ms it took. */
export async function until(check: () => Promise<boolean> | boolean, ms: number, what: string): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await check()) return Date.now() - t0;
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
