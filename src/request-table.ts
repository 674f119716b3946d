/**
 * Requests a thread has sent to other threads and awaits replies for, by a 32-bit id. Requests still
 * open after `timeoutMs` (a worker died meanwhile) are handed to `onTimeout` by one coarse sweep that
 * runs only while some request is open: no timer per request.
 *
 * A table made with an `origin` (a thread index) hands out ids that name it in their top
 * ORIGIN_BITS bits, so that a reply can be addressed from the id alone (`requestOrigin`), however
 * many hops the request took: the push path's records carry no other return address.
 */
const ORIGIN_BITS = 9; // thread indexes 0..511: 256 workers and the acceptor fit
const SEQ_BITS = 32 - ORIGIN_BITS;
const SEQ_MASK = (1 << SEQ_BITS) - 1;

/** The thread that made request id `req` (a table with an origin; 0 for the others). */
export function requestOrigin(req: number): number {
  return req >>> SEQ_BITS;
}

/** An id naming `origin` that no table hands out (sequence 0): for a push nobody waits for. */
export function unansweredRequest(origin: number): number {
  return (origin * (SEQ_MASK + 1)) >>> 0;
}

export class RequestTable<P extends { startedAt: number }> {
  private readonly open = new Map<number, P>();
  private nextId = 1;
  private readonly base: number;
  private readonly mask: number;
  private sweeper: NodeJS.Timeout | null = null;
  private readonly timeoutMs: number;
  private readonly onTimeout: (id: number, p: P) => void;

  constructor(timeoutMs: number, onTimeout: (id: number, p: P) => void, origin = -1) {
    this.timeoutMs = timeoutMs;
    this.onTimeout = onTimeout;
    if (origin >= 1 << ORIGIN_BITS) throw new RangeError(`thread index ${origin} does not fit a request id`);
    this.base = origin < 0 ? 0 : origin * (SEQ_MASK + 1);
    this.mask = origin < 0 ? 0xffffffff : SEQ_MASK;
  }

  get size(): number {
    return this.open.size;
  }

  /** Registers a request; returns its id (never 0 in its sequence, never one still open). */
  add(p: P): number {
    let id: number;
    do {
      id = (this.base + this.nextId) >>> 0;
      this.nextId = ((this.nextId + 1) & this.mask) >>> 0 || 1;
    } while (this.open.has(id));
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
