/**
 * Names the calling OS thread (Linux: /proc/thread-self/comm, at most 15 bytes), so that `top -H`,
 * `ps -T` and the benchmarks' per-thread CPU accounting (bench/load/threads.ts) can tell the workers
 * apart: `rc-worker-<index>`. The acceptor keeps its name: it is the main thread (thread id = process
 * id), and its name is the process's (`ps -C node`, `pgrep node`). Elsewhere than Linux, or when
 * /proc is not writable, it does nothing.
 */
import { writeFileSync } from 'node:fs';

/** The thread name of worker `index` is this prefix and the index. */
export const WORKER_THREAD_PREFIX = 'rc-worker-';

export function nameThisThread(name: string): void {
  if (process.platform !== 'linux') return;
  try {
    writeFileSync('/proc/thread-self/comm', name.slice(0, 15));
  } catch {
    // A read-only /proc (some sandboxes): the thread keeps the name it has.
  }
}
