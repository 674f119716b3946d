/**
 * What bench/ring.ts (main thread) and bench/ring-worker.ts (the worker) agree on. Kept apart from
 * both so that importing it runs no thread-specific code.
 *
 * Rings: `toWorker` (main → worker, the measured one) and `toMain` (worker → main: batch-done
 * signals and pongs). postMessage cases use two MessageChannels so that their traffic never mixes
 * with the control messages on parentPort.
 */
import type { MessagePort } from 'node:worker_threads';

/** Record kinds used only by this benchmark (not ringcast's MessageKind). */
export const K_DATA = 1; // one record of a throughput batch; the worker sums its first byte
export const K_END = 2; // end of a batch; target = records sent in the batch
export const K_PING = 3; // latency probe; target = sequence number; the worker answers K_PONG
export const K_PONG = 4; // answer to K_PING, same target and body
export const K_DONE = 5; // worker → main: batch seen; target = records counted, body = u32 sum (LE)

export const BENCH_SOURCE_MAIN = 0;
export const BENCH_SOURCE_WORKER = 1;

/** Records the worker's MailboxLoop handles per turn before it yields to the event loop. */
export const DRAIN_BUDGET = 4096;

export interface RingWorkerData {
  toWorker: SharedArrayBuffer;
  toMain: SharedArrayBuffer;
  /** postMessage throughput: Uint8Array per record, then an `{ end: n }` object. */
  countPort: MessagePort;
  /** postMessage latency: every Uint8Array received is posted straight back. */
  pingPort: MessagePort;
}

/** parentPort messages (control plane only, never per record). */
export type ToWorkerControl = { type: 'stop' };
export type ToMainControl = { type: 'ready' } | { type: 'stopped' };
export type CountReply = { count: number; sum: number };
