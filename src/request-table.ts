/**
 * Requests a thread has sent to other threads and awaits replies for, by a 32-bit id. Requests still
 * open after `timeoutMs` (a worker died meanwhile) are handed to `onTimeout` by one coarse sweep that
 * runs only while some request is open: no timer per request.
 */
export class RequestTable<P extends { startedAt: number }> {
  private readonly open = new Map<number, P>();
  private nextId = 1;
  private sweeper: NodeJS.Timeout | null = null;
  private readonly timeoutMs: number;
  private readonly onTimeout: (id: number, p: P) => void;

  constructor(timeoutMs: number, onTimeout: (id: number, p: P) => void) {
    this.timeoutMs = timeoutMs;
    this.onTimeout = onTimeout;
  }

  get size(): number {
    return this.open.size;
  }

  /** Registers a request; returns its id. */
  add(p: P): number {
    const id = this.nextId;
    this.nextId = (this.nextId + 1) >>> 0 || 1;
    this.open.set(id, p);
    if (this.sweeper === null) {
      this.sweeper = setInterval(() => this.sweep(), Math.min(1000, this.timeoutMs));
      this.sweeper.unref();
    }
    return id;
  }

  get(id: number): P | undefined {
    return this.open.get(id);
  }

  /** Removes and returns a request (undefined when it was taken already, e.g. timed out). */
  take(id: number): P | undefined {
    const p = this.open.get(id);
    if (p === undefined) return undefined;
    this.open.delete(id);
    if (this.open.size === 0) this.stop();
    return p;
  }

  ids(): number[] {
    return [...this.open.keys()];
  }

  stop(): void {
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, p] of this.open) if (now - p.startedAt >= this.timeoutMs) this.onTimeout(id, p);
  }
}
