/**
 * A manual clock for the SDK's unit tests (RingcastClient's `timers` option): time moves only when
 * the test says so, and timers fire in due order. Between two timers the promise jobs they started
 * run (a real macrotask turn), so async chains (retry → wait for the connection → request) go on
 * as they would with real time, without any real waiting.
 */
import type { Timers } from '@ringcast/client';

interface Entry {
  id: number;
  at: number;
  fn: () => void;
}

export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A few macrotask turns: enough for promise chains and the fake server's replies to settle. */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await turn();
}

export class FakeClock implements Timers {
  private t: number;
  private nextId = 1;
  private entries: Entry[] = [];

  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const e = { id: this.nextId++, at: this.t + Math.max(0, ms), fn };
    this.entries.push(e);
    return e.id;
  }
  clearTimeout(handle: unknown): void {
    this.entries = this.entries.filter((e) => e.id !== handle);
  }
  /** Timers pending, with their due time relative to now. */
  pending(): number[] {
    return this.entries.map((e) => e.at - this.t).sort((a, b) => a - b);
  }
  /** Moves the wall clock without firing anything (a throttled tab, a sleeping laptop). */
  jump(ms: number): void {
    this.t += ms;
  }
  /** Moves time forward by `ms`, firing each timer due on the way, in order, settling after each. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await settle();
    for (;;) {
      const due = this.entries.filter((e) => e.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (due === undefined) break;
      this.entries = this.entries.filter((e) => e !== due);
      this.t = Math.max(this.t, due.at);
      due.fn();
      await settle();
    }
    this.t = end;
    await settle();
  }
}
