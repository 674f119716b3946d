/**
 * A worker's status as /health and /metrics report it (src/control/): its status words (src/layout.ts,
 * written by the worker itself) read together with what the supervisor knows of its position.
 */
import {
  ST_ACCEPTED,
  ST_CONNECTIONS,
  ST_HEAP_KB,
  ST_LOOP_LAG_MS,
  ST_PARKED,
  ST_REJECTED,
  ST_ROOMS,
  ST_ROUTER_ENTRIES,
  ST_SLOW_CLOSED,
  ST_SLOW_DROPPED,
  ST_SLOW_GAPS,
  ST_UNDELIVERABLE,
  STATUS_WORDS,
} from './layout.js';
import { readDeepestQueues, type DeepQueue } from './deepest-queues.js';
import { readLatency, type LatencyCounts } from './latency-histogram.js';
import type { RingReader } from './ring/ring.js';

export type SlotState = 'starting' | 'ready' | 'dead' | 'failed' | 'stopping' | 'stopped';

/** What the supervisor knows of one worker position (its Slot, src/supervisor.ts) that the status shows. */
export interface SlotView {
  index: number;
  state: SlotState;
  threadId: number;
  restarts: number;
  lastExit: { code: number; error: string | null; at: number } | null;
  // stall detection
  probe: RingReader;
  lastProgressAt: number;
  stalled: boolean;
}

export interface WorkerStatus {
  id: number;
  state: SlotState;
  stalled: boolean;
  threadId: number;
  restarts: number;
  connections: number;
  rooms: number;
  accepted: number;
  loopLagMs: number;
  /** V8 heap in use, as the worker last wrote it (with each supervision probe). */
  heapUsedBytes: number;
  slowConsumersClosed: number;
  /** Policy drop-oldest: gaps opened (a connection started dropping) and pushes dropped. */
  slowConsumerGaps: number;
  slowMessagesDropped: number;
  routerEntries: number;
  /** Push-to-write latency so far (src/latency-histogram.ts): counts per log-2 bucket, and their sum in µs. */
  pushWriteLatency: LatencyCounts;
  /** The few deepest outbound queues of its connections, deepest first, as of up to a second ago (src/deepest-queues.ts). */
  deepestQueues: DeepQueue[];
  mailbox: { usedBytes: number; capacityBytes: number; consumed: number; fullEvents: number; parked: number; rejected: number; undeliverable: number };
  lastProgressAgoMs: number;
  lastExit: { code: number; error: string | null; agoMs: number } | null;
}

/** Figures of the session extensions, read from their status words (src/layout.ts, ST_EXT_FIRST). */
export type ExtensionStatus = (word: (index: number) => number) => Record<string, number>;

/** One worker's status: `words` is every thread's status words (the supervisor's view of them). */
export function readWorkerStatus(slot: SlotView, words: Int32Array, extensionStatus: ExtensionStatus, now: number): WorkerStatus {
  const b = slot.index * STATUS_WORDS;
  const w = (i: number): number => Atomics.load(words, b + i);
  return {
    id: slot.index,
    state: slot.state,
    stalled: slot.stalled,
    threadId: slot.threadId,
    restarts: slot.restarts,
    connections: w(ST_CONNECTIONS),
    rooms: w(ST_ROOMS),
    accepted: w(ST_ACCEPTED),
    loopLagMs: w(ST_LOOP_LAG_MS),
    heapUsedBytes: w(ST_HEAP_KB) * 1024,
    slowConsumersClosed: w(ST_SLOW_CLOSED),
    slowConsumerGaps: w(ST_SLOW_GAPS),
    slowMessagesDropped: w(ST_SLOW_DROPPED) >>> 0,
    ...extensionStatus(w),
    routerEntries: w(ST_ROUTER_ENTRIES),
    pushWriteLatency: readLatency(words, slot.index),
    // A dead worker's entries described sockets that died with it.
    deepestQueues: slot.state === 'ready' || slot.state === 'stopping' ? readDeepestQueues(words, slot.index) : [],
    mailbox: {
      usedBytes: slot.probe.used(),
      capacityBytes: slot.probe.capacity,
      consumed: slot.probe.consumed(),
      fullEvents: slot.probe.fullEvents(),
      parked: w(ST_PARKED),
      rejected: w(ST_REJECTED),
      undeliverable: w(ST_UNDELIVERABLE),
    },
    lastProgressAgoMs: now - slot.lastProgressAt,
    lastExit: slot.lastExit === null ? null : { code: slot.lastExit.code, error: slot.lastExit.error, agoMs: now - slot.lastExit.at },
  };
}
