/**
 * One thread's status words (src/layout.ts, STATUS_WORDS per thread in one shared Int32Array):
 * written by the thread itself, read by the supervisor and /health without a message round trip.
 */
import { ST_STATE, STATUS_WORDS, WorkerState } from './layout.js';

export class ThreadStatus {
  readonly words: Int32Array;
  readonly base: number;

  constructor(buffer: SharedArrayBuffer, thread: number) {
    this.words = new Int32Array(buffer);
    this.base = thread * STATUS_WORDS;
  }

  add(word: number, n: number): void {
    Atomics.add(this.words, this.base + word, n);
  }
  store(word: number, value: number): void {
    Atomics.store(this.words, this.base + word, value);
  }
  load(word: number): number {
    return Atomics.load(this.words, this.base + word);
  }

  /** Whether a worker's state word says ready or draining: its mailbox is drained. */
  isRunning(worker: number): boolean {
    const state = Atomics.load(this.words, worker * STATUS_WORDS + ST_STATE);
    return state === WorkerState.Ready || state === WorkerState.Draining;
  }

  /** Workers whose state word says ready or draining: their mailbox is drained (pushes reach their connections). */
  runningWorkers(workers: number): number[] {
    const out: number[] = [];
    for (let w = 0; w < workers; w++) {
      const state = Atomics.load(this.words, w * STATUS_WORDS + ST_STATE);
      if (state === WorkerState.Ready || state === WorkerState.Draining) out.push(w);
    }
    return out;
  }

  /** Workers (0..workers-1) whose state word says ready (their shards answer). */
  liveWorkers(workers: number): number[] {
    const out: number[] = [];
    for (let w = 0; w < workers; w++) if (Atomics.load(this.words, w * STATUS_WORDS + ST_STATE) === WorkerState.Ready) out.push(w);
    return out;
  }
}
