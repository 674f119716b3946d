/**
 * What one thread holds, for leak tests (the test-only GET /debug/memory): its V8 heap, optionally
 * after a full garbage collection, and its event loop's active handles and requests by type
 * (sockets, servers, timers). Each thread (acceptor, worker) reports its own.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

export interface ThreadMemory {
  heapUsedBytes: number;
  heapTotalBytes: number;
  /** Capacity of V8's young generation (new space): V8 grows it under allocation load and keeps it. */
  newSpaceBytes: number;
  /** The young generation's pages in memory (they come in as a grown new space is used, round after round). */
  newSpacePhysicalBytes: number;
  /** Active libuv resources of this thread by type (TCPSocketWrap, TCPServerWrap, Timeout, ...). */
  resources: Record<string, number>;
}

let gcFn: (() => void) | null = null;

/** A full GC of this thread's heap; exposes `gc` once (the flag is process-wide, the function per context). */
function collect(): void {
  if (gcFn === null) {
    v8.setFlagsFromString('--expose-gc');
    gcFn = vm.runInNewContext('gc') as () => void;
  }
  gcFn();
}

export function threadMemory(gc: boolean): ThreadMemory {
  if (gc) collect();
  const h = v8.getHeapStatistics();
  const resources: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) resources[r] = (resources[r] ?? 0) + 1;
  const newSpace = v8.getHeapSpaceStatistics().find((sp) => sp.space_name === 'new_space');
  return { heapUsedBytes: h.used_heap_size, heapTotalBytes: h.total_heap_size, newSpaceBytes: newSpace?.space_size ?? 0, newSpacePhysicalBytes: newSpace?.physical_space_size ?? 0, resources };
}
