/**
 * Binary layouts shared between threads, declared in one place.
 *
 * A mailbox ring is one SharedArrayBuffer: a control block of Int32 words, then the data region.
 * HEAD and TAIL sit on their own 64-byte lines so that the consumer and the producers do not
 * false-share one cache line on every record.
 */

/** Control-block word indices (Int32Array over the ring's SharedArrayBuffer). */
export const CTL_HEAD = 0; // consumer position (bytes, wraps at 2^32); only the consumer writes it
export const CTL_CONSUMED = 1; // records consumed so far (progress counter read by the supervisor)
export const CTL_TAIL = 16; // reservation cursor; producers advance it with compareExchange
export const CTL_FULL_EVENTS = 17; // times a producer found the ring full
export const CTL_SLEEP = 32; // non-zero while the consumer is (about to be) asleep
export const CTL_DOZE = 33; // non-zero while the consumer will drain by itself soon (lazy records need no wake)
export const CTL_SPACE_WAIT = 48; // non-zero while some producer waits for space
export const CTL_CAPACITY = 49; // data capacity in bytes, written once at creation
export const CTL_MAGIC = 50; // RING_MAGIC, to refuse a buffer that is not a ring

/** Bytes before the data region; a multiple of 64 so the data region starts on a cache line. */
export const CONTROL_BYTES = 256;
export const RING_MAGIC = 0x52494e47; // "RING"

/**
 * A record in the data region: a 16-byte header of four Int32 words, then the body, padded so that
 * the next record starts on a 16-byte boundary. With a power-of-two capacity (≥ 64) the header never
 * wraps around the end of the buffer; the body may, and the consumer then sees it copied into one
 * contiguous scratch buffer.
 *
 *   word 0  commit: body length + 1, stored last by the producer; 0 means "not yet written"
 *   word 1  kind:   message kind (see MessageKind in src/messages.ts)
 *   word 2  target: actor address inside the consumer thread ((actorKind << 24) | actorId)
 *   word 3  source: index of the producing thread
 */
export const RECORD_HEADER_BYTES = 16;
export const RECORD_ALIGN = 16;
export const REC_COMMIT = 0;
export const REC_KIND = 1;
export const REC_TARGET = 2;
export const REC_SOURCE = 3;

/** Bytes a record with a body of `bodyLength` bytes takes in the ring. */
export function recordBytes(bodyLength: number): number {
  return (RECORD_HEADER_BYTES + bodyLength + RECORD_ALIGN - 1) & ~(RECORD_ALIGN - 1);
}

/** Actor ids are 24 bits inside a thread; the top 8 bits of a target word carry the actor kind. */
export const ACTOR_ID_BITS = 24;
export const ACTOR_ID_MASK = (1 << ACTOR_ID_BITS) - 1;

export function packTarget(actorKind: number, actorId: number): number {
  return ((actorKind << ACTOR_ID_BITS) | (actorId & ACTOR_ID_MASK)) | 0;
}
export function targetKind(target: number): number {
  return target >>> ACTOR_ID_BITS;
}
export function targetId(target: number): number {
  return target & ACTOR_ID_MASK;
}

/**
 * Per-thread status words in one shared Int32Array (STATUS_WORDS per thread), written by the thread
 * itself and read by the supervisor and /health without any message round trip.
 */
export const STATUS_WORDS = 80;
export const ST_STATE = 0; // WorkerState
export const ST_CONNECTIONS = 1; // open connection actors
export const ST_ROOMS = 2; // room actors
export const ST_ROUTER_ENTRIES = 3; // router-shard entries (connections registered)
export const ST_ACCEPTED = 4; // connections accepted since the thread started
export const ST_PARKED = 5; // records parked in outbox overflow lists right now
export const ST_REJECTED = 6; // records given up because an overflow list was full (ever)
export const ST_UNDELIVERABLE = 7; // records whose target actor did not exist (ever)
export const ST_LOOP_LAG_MS = 8; // event-loop lag seen by the thread's coarse timer
export const ST_SLOW_CLOSED = 10; // connections closed because their outbound queue passed push.writeQueueBytes
export const ST_ROOM_VERSION = 9; // bumped on every room join/leave: the acceptor re-sums counts only when it moves
export const ST_SLOW_GAPS = 20; // drop-oldest: times a connection started dropping queued pushes (gaps opened)
export const ST_SLOW_DROPPED = 21; // drop-oldest: pushes dropped from outbound queues (uint32, wraps)
export const ST_HEAP_KB = 19; // V8 heap in use (KiB), written by the thread when it takes a supervision probe
/** Words ST_EXT_FIRST .. ST_EXT_FIRST + 9 belong to session extensions, each naming its own (src/im/status.ts). */
export const ST_EXT_FIRST = 22;
/** Words ST_LATENCY_FIRST .. +23: the deliverer's push-to-write latency histogram (src/latency-histogram.ts). */
export const ST_LATENCY_FIRST = 32;
/** Words ST_QUEUES_FIRST .. +15: the few deepest outbound queues of the worker's connections (src/deepest-queues.ts). */
export const ST_QUEUES_FIRST = 56;

export const enum WorkerState {
  Starting = 0,
  Ready = 1,
  Draining = 2,
  Stopped = 3,
}
