/**
 * The drain loop of a thread's mailbox: take up to `budget` records per turn, then either yield to
 * the event loop (more is waiting) or sleep on the ring until a producer commits. An idle thread
 * costs nothing: no timer, no polling, one pending Atomics.waitAsync.
 */
import { RecordHandler, RingReader } from './ring.js';

export class MailboxLoop {
  readonly reader: RingReader;
  private readonly handler: RecordHandler;
  private readonly budget: number;
  private running = false;
  /** True while records are being handed out: a drain must never nest in another. */
  private draining = false;
  /** True while a setImmediate or a ring wait will call turn(): at most one at a time. */
  private pending = false;
  private readonly turnBound: () => void;

  constructor(reader: RingReader, handler: RecordHandler, budget: number) {
    this.reader = reader;
    this.handler = handler;
    this.budget = budget;
    this.turnBound = () => this.turn();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  /** Stops taking records after the current turn; records left in the ring stay there. */
  stop(): void {
    this.running = false;
  }

  /** Drains synchronously until the ring has no committed record (used while shutting down). */
  drainAll(): number {
    if (this.draining) return 0;
    this.draining = true;
    let total = 0;
    try {
      for (;;) {
        const n = this.reader.drain(this.handler, this.budget);
        total += n;
        if (n === 0) return total;
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * Takes every record committed so far, now, from outside a turn: for a caller about to answer
   * something that must see them (a push by key must see the key registrations that were committed
   * before the client got its auth reply, even if their wake-up is still on its way). A sleep begun
   * before is interrupted, since the records it waited for are gone: the loop re-arms on the new HEAD.
   */
  catchUp(): number {
    if (!this.running || this.draining) return 0; // inside a turn: the turn takes them in order
    const n = this.drainAll();
    if (n > 0) this.reader.interruptSleep();
    return n;
  }

  private schedule(): void {
    if (this.pending) return;
    this.pending = true;
    setImmediate(this.turnBound);
  }

  private turn(): void {
    this.pending = false;
    if (!this.running) return;
    this.draining = true;
    let n: number;
    try {
      n = this.reader.drain(this.handler, this.budget);
    } finally {
      this.draining = false;
    }
    if (n === this.budget) {
      this.schedule(); // more may be waiting: let I/O run first
      return;
    }
    const asleep = this.reader.sleep();
    if (asleep === null) {
      this.schedule();
    } else {
      this.pending = true;
      void asleep.then(this.turnBound);
    }
  }
}
