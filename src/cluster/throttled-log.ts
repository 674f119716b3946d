/** A warning that may repeat on every message while Redis is down, logged at most once per interval. */
import type { Logger } from '../logger.js';

export class ThrottledWarning {
  private readonly log: Logger;
  private readonly intervalMs: number;
  private loggedAt = 0;
  /** Warnings raised, logged or not. */
  count = 0;

  constructor(log: Logger, intervalMs = 1000) {
    this.log = log;
    this.intervalMs = intervalMs;
  }

  warn(err: unknown, message: string): void {
    this.count++;
    const now = Date.now();
    if (now - this.loggedAt < this.intervalMs) return;
    this.loggedAt = now;
    this.log.warn({ err: (err as Error)?.message ?? String(err), times: this.count }, message);
  }
}
