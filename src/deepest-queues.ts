/**
 * The few deepest outbound queues of a worker's connections (socket buffer plus held pushes,
 * src/protocols/backlog.ts), published in the worker's status words (src/layout.ts,
 * ST_QUEUES_FIRST) so that the dashboard's slow-consumers page shows them without asking the worker.
 *
 *   DEEPEST_QUEUES entries of 4 words: [connection id][queued bytes][mid / 2^32][mid % 2^32];
 *   deepest first; an entry of 0 bytes is empty.
 *
 * Cheap by construction: the deliverer reads a connection's queue after each write anyway, and only a
 * connection left with a queue is watched (a Set add); one timer per worker, running only while some
 * connection is watched, re-reads the watched ones every REFRESH_MS, publishes the deepest and
 * forgets those that drained or closed. A worker with no backed-up socket does nothing.
 */
import { ST_QUEUES_FIRST, STATUS_WORDS } from './layout.js';

export const DEEPEST_QUEUES = 4;
const ENTRY_WORDS = 4;
/** How often the watched queues are re-read while any is watched. */
export const REFRESH_MS = 1000;
const TWO_32 = 2 ** 32;

/** What the tracker needs of a connection. */
export interface QueuedConnection {
  readonly id: number;
  readonly mid: number;
  readonly open: boolean;
  readonly transport: { queuedBytes(): number };
}

export interface DeepQueue {
  conn: number;
  mid: number;
  bytes: number;
}

export class DeepestQueues {
  private readonly watched = new Set<QueuedConnection>();
  private timer: NodeJS.Timeout | null = null;
  private readonly words: Int32Array;
  private readonly base: number;
  private readonly refreshBound = (): void => this.refresh();

  constructor(words: Int32Array, thread: number) {
    this.words = words;
    this.base = thread * STATUS_WORDS + ST_QUEUES_FIRST;
    // A replacement worker starts from nothing: its predecessor's entries described sockets now gone.
    this.publish();
  }

  /** A write left `conn` with a queue: watch it until it drains or closes. */
  queued(conn: QueuedConnection): void {
    if (this.watched.has(conn)) return;
    this.watched.add(conn);
    if (this.timer === null) this.timer = setTimeout(this.refreshBound, REFRESH_MS).unref();
  }

  /** Re-reads the watched queues, publishes the deepest, forgets the drained and closed. */
  publish(): void {
    const top: DeepQueue[] = [];
    for (const c of this.watched) {
      const bytes = c.open ? c.transport.queuedBytes() : 0;
      if (bytes <= 0) {
        this.watched.delete(c);
        continue;
      }
      if (top.length === DEEPEST_QUEUES && bytes <= top[DEEPEST_QUEUES - 1]!.bytes) continue;
      top.push({ conn: c.id, mid: c.mid, bytes });
      top.sort((a, b) => b.bytes - a.bytes);
      if (top.length > DEEPEST_QUEUES) top.pop();
    }
    const w = this.words;
    for (let i = 0; i < DEEPEST_QUEUES; i++) {
      const e = top[i];
      const at = this.base + i * ENTRY_WORDS;
      Atomics.store(w, at, e?.conn ?? 0);
      Atomics.store(w, at + 1, Math.min(e?.bytes ?? 0, 0x7fffffff));
      Atomics.store(w, at + 2, e === undefined ? 0 : Math.floor(e.mid / TWO_32));
      Atomics.store(w, at + 3, e === undefined ? 0 : e.mid % TWO_32 | 0);
    }
  }

  /** Stops the timer (shutdown). */
  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private refresh(): void {
    this.timer = null;
    this.publish();
    if (this.watched.size > 0) this.timer = setTimeout(this.refreshBound, REFRESH_MS).unref();
  }
}

/** A thread's deepest queues as it last published them (deepest first, empty entries left out). */
export function readDeepestQueues(words: Int32Array, thread: number): DeepQueue[] {
  const out: DeepQueue[] = [];
  const base = thread * STATUS_WORDS + ST_QUEUES_FIRST;
  for (let i = 0; i < DEEPEST_QUEUES; i++) {
    const at = base + i * ENTRY_WORDS;
    const bytes = Atomics.load(words, at + 1);
    if (bytes <= 0) continue;
    out.push({ conn: Atomics.load(words, at), bytes, mid: (Atomics.load(words, at + 2) >>> 0) * TWO_32 + (Atomics.load(words, at + 3) >>> 0) });
  }
  return out;
}
