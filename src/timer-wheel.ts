/**
 * One coarse timer per worker for every connection's deadlines (goim comet's Round/Timer, undici's
 * FastTimer): a hashed wheel of `slots` lists, advanced every `tickMs` by a single interval. An entry
 * belongs to its owner (allocated once per connection, rescheduled in O(1) on every heartbeat), so
 * a connection costs no setTimeout and no closure. Deadlines fire up to one tick late, never early.
 */

/** Anything with a deadline on a worker's timer wheel (connections, reliable-messaging devices). */
export interface Expiring {
  onTimeout(): void;
}

export class TimerEntry<T> {
  readonly owner: T;
  /** Slot index while scheduled, -1 otherwise. */
  slot = -1;
  /** Full turns of the wheel still to wait once the cursor reaches the slot. */
  rounds = 0;
  next: TimerEntry<T> | null = null;
  prev: TimerEntry<T> | null = null;

  constructor(owner: T) {
    this.owner = owner;
  }
  get scheduled(): boolean {
    return this.slot >= 0;
  }
}

export class TimerWheel<T> {
  readonly tickMs: number;
  private readonly heads: Array<TimerEntry<T> | null>;
  private cursor = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly onExpire: (owner: T) => void;
  /** Entries scheduled now. */
  size = 0;

  constructor(tickMs: number, slots: number, onExpire: (owner: T) => void) {
    this.tickMs = tickMs;
    this.heads = new Array<TimerEntry<T> | null>(slots).fill(null);
    this.onExpire = onExpire;
  }

  private enabled = false;

  /** Ticks while entries are scheduled; a wheel with nothing on it costs no wake-ups. */
  start(): void {
    this.enabled = true;
    if (this.size > 0) this.arm();
  }
  stop(): void {
    this.enabled = false;
    this.disarm();
  }
  private arm(): void {
    if (this.timer !== null || !this.enabled) return;
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.timer.unref();
  }
  private disarm(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** (Re)schedules `entry` to expire after `delayMs`. */
  schedule(entry: TimerEntry<T>, delayMs: number): void {
    if (entry.slot >= 0) this.unlink(entry);
    // +1: the current slot's turn may be almost over, so a deadline never fires early.
    const ticks = Math.max(1, Math.ceil(delayMs / this.tickMs)) + 1;
    const slots = this.heads.length;
    const slot = (this.cursor + ticks) % slots;
    entry.rounds = Math.floor((ticks - 1) / slots);
    entry.slot = slot;
    entry.prev = null;
    entry.next = this.heads[slot]!;
    if (entry.next !== null) entry.next.prev = entry;
    this.heads[slot] = entry;
    if (this.size++ === 0) this.arm();
  }

  cancel(entry: TimerEntry<T>): void {
    if (entry.slot >= 0) this.unlink(entry);
  }

  /** Advances one slot and expires what is due there. Public as a test hook. */
  tick(): void {
    this.cursor = (this.cursor + 1) % this.heads.length;
    let e: TimerEntry<T> | null = this.heads[this.cursor]!;
    while (e !== null) {
      const next: TimerEntry<T> | null = e.next;
      if (e.rounds > 0) {
        e.rounds--;
      } else {
        this.unlink(e);
        // onExpire may reschedule e; it must not cancel other entries synchronously (closing a
        // connection does that later, from the socket's close event).
        this.onExpire(e.owner);
      }
      e = next;
    }
  }

  private unlink(entry: TimerEntry<T>): void {
    if (entry.prev !== null) entry.prev.next = entry.next;
    else this.heads[entry.slot] = entry.next;
    if (entry.next !== null) entry.next.prev = entry.prev;
    entry.next = entry.prev = null;
    entry.slot = -1;
    if (--this.size === 0) this.disarm();
  }
}
