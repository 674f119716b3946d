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
    let total = 0;
    for (;;) {
      const n = this.reader.drain(this.handler, this.budget);
      total += n;
      if (n === 0) return total;
    }
  }

  private schedule(): void {
    if (this.pending) return;
    this.pending = true;
    setImmediate(this.turnBound);
  }

  private turn(): void {
    this.pending = false;
    if (!this.running) return;
    const n = this.reader.drain(this.handler, this.budget);
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
