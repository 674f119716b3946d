/**
 * The deadline of every engine call. node-redis's own command timeout covers only the wait to be
 * written: a command already on a socket to a Redis that stopped answering waits for ever. So every
 * call is registered here with its deadline, and one coarse interval (running only while calls are
 * open, like src/request-table.ts) fails the late ones: no timer per call.
 */
export interface OpenCall {
  readonly at: number;
  fail: (err: Error) => void;
  done: boolean;
}

export class Deadlines {
  private readonly open = new Set<OpenCall>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly ms: number,
    private readonly late: () => Error,
  ) {}

  /** Run `fn` and settle with it, or fail with `late()` once `ms` has passed. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const call: OpenCall = { at: performance.now() + this.ms, fail: reject, done: false };
      this.open.add(call);
      this.arm();
      fn().then(
        (v) => {
          call.done = true;
          this.open.delete(call);
          resolve(v);
        },
        (err: unknown) => {
          call.done = true;
          this.open.delete(call);
          reject(err);
        },
      );
    });
  }

  private arm(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.sweep(), Math.max(10, Math.floor(this.ms / 4)));
    this.timer.unref();
  }

  private sweep(): void {
    const now = performance.now();
    for (const call of this.open) {
      if (call.at > now) continue;
      this.open.delete(call);
      if (!call.done) call.fail(this.late());
    }
    if (this.open.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** Fail every open call now (the engine is closing). */
  failAll(err: Error): void {
    for (const call of this.open) if (!call.done) call.fail(err);
    this.open.clear();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
