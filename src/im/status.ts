/**
 * Reliable messaging's status words, in the extensions' range of each worker's status words
 * (src/layout.ts, ST_EXT_FIRST), and how /health and /metrics read them.
 */
import { ST_EXT_FIRST } from '../layout.js';

/** Messages made durable in the inboxes this worker's shard owns (uint32, wraps). */
export const ST_IM_STORED = ST_EXT_FIRST;
/** Op 112 messages sent to devices, redeliveries included (uint32, wraps). */
export const ST_IM_SENT = ST_EXT_FIRST + 1;
/** Messages sent again because no ack came within im.redeliverMs (uint32, wraps). */
export const ST_IM_REDELIVERED = ST_EXT_FIRST + 2;

/** A worker's messaging figures as the supervisor reports them (WorkerStatus), from its status words. */
export function imStatus(word: (index: number) => number): { imStored: number; imSent: number; imRedelivered: number } {
  return { imStored: word(ST_IM_STORED) >>> 0, imSent: word(ST_IM_SENT) >>> 0, imRedelivered: word(ST_IM_REDELIVERED) >>> 0 };
}
