/**
 * A multi-producer, single-consumer ring of variable-length binary records over a SharedArrayBuffer.
 * Every hot-path message between ringcast's threads goes through one of these; nothing on the hot
 * path uses postMessage.
 *
 * Why one multi-producer mailbox per thread and not one single-producer ring per ordered pair of
 * threads: with T threads, pair rings cost T·(T−1) buffers. With 64 workers plus the acceptor that is
 * 4,160 rings: at 1 MiB each, 4 GiB of shared memory, and a consumer that must poll 64 rings per
 * wake-up. One mailbox per thread costs T buffers (65 MiB at 1 MiB each) and one wait word. The price
 * is a compareExchange per record on the TAIL cursor, which costs tens of nanoseconds uncontended.
 *
 * Writing a record:
 *   1. reserve: compareExchange TAIL from t to t + size, provided t + size − HEAD ≤ capacity;
 *   2. fill: write header words 1..3 and the body (which may wrap around the end);
 *   3. commit: Atomics.store of header word 0 = body length + 1.
 * The free part of the data region is always zero (the consumer zeroes what it has consumed before
 * it moves HEAD), so the consumer knows a record is complete when its word 0 is non-zero, and can
 * take records in reservation order even while a later producer finishes first.
 *
 * Wake-up without a lost notify (docs/architecture.md, "Runtime facts"): the consumer stores a fresh
 * epoch into SLEEP and then waits, with Atomics.waitAsync, on the very word it needs, the commit word at HEAD, with
 * the expected value 0. A producer stores its commit word and then reads SLEEP; when it is set it
 * notifies its own commit word. Both sides use sequentially consistent atomics, so either the waiter
 * sees the commit (waitAsync answers "not-equal" at once) or the producer sees SLEEP and its notify
 * finds the waiter. A later record's producer notifying a word nobody waits on is harmless: the
 * record at HEAD will be committed by its own producer, which will notify.
 *
 * Deferred wake-ups (`deferWake`, what the actor system uses): a notify that wakes a sleeping thread
 * costs 17–60 µs on this machine (measured: the runtime posts a task to the other thread's loop), so
 * a producer that commits many records in one event-loop iteration (auth storms, a batch of replies)
 * should wake each consumer once, not once per record. With `deferWake` a committed record only marks
 * its writer; one setImmediate per producer thread then wakes each marked consumer. It notifies the
 * commit word at the published HEAD, which is the word a sleeping consumer waits on (a consumer
 * publishes HEAD before it sleeps), and only when that record is committed: a record still being
 * written at HEAD will be notified by its own producer. The latency cost is the rest of the current
 * loop iteration.
 *
 * Lazy records (`setLazyKinds`: room and broadcast pushes) need no wake while the consumer dozes
 * (DOZE non-zero: a timer of its own will drain the ring soon, e.g. a push merge window). The
 * consumer clears DOZE before that drain; a producer reads DOZE after its commit, so a record whose
 * wake was skipped is always seen by the drain.
 *
 * Space works the same way in the other direction: a producer that wants to wait stores
 * SPACE_WAIT = 1, re-reads HEAD and waits on HEAD; the consumer, after moving HEAD, notifies all.
 *
 * Never silent loss: a full ring makes tryWrite return false. It never overwrites. What to do then
 * (await space, park in a bounded overflow list, refuse) is the caller's decision; see outbox.ts.
 *
 * Caveat: a producer thread terminated from outside between steps 1 and 3 (worker.terminate())
 * leaves a reservation that is never committed, and the consumer stops at it. Nothing between the
 * reservation and the commit allocates or calls user code, so exceptions and out-of-memory deaths
 * cannot land there; ringcast only terminates a worker from outside at shutdown.
 */
import {
  CONTROL_BYTES,
  CTL_CAPACITY,
  CTL_CONSUMED,
  CTL_DOZE,
  CTL_FULL_EVENTS,
  CTL_HEAD,
  CTL_MAGIC,
  CTL_SLEEP,
  CTL_SPACE_WAIT,
  CTL_TAIL,
  RECORD_HEADER_BYTES,
  REC_COMMIT,
  REC_KIND,
  REC_SOURCE,
  REC_TARGET,
  RING_MAGIC,
  recordBytes,
} from '../layout.js';

export const MIN_RING_BYTES = 64;
export const MAX_RING_BYTES = 1 << 30;

/** Receives one record. `buf[off .. off + len)` is valid only during the call: copy what you keep. */
export type RecordHandler = (kind: number, target: number, source: number, buf: Uint8Array, off: number, len: number) => void;

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** Allocates a ring whose data region holds `capacity` bytes (a power of two, 64 B .. 1 GiB). */
export function createRingBuffer(capacity: number): SharedArrayBuffer {
  if (!isPowerOfTwo(capacity) || capacity < MIN_RING_BYTES || capacity > MAX_RING_BYTES) {
    throw new RangeError(`ring capacity must be a power of two between ${MIN_RING_BYTES} and ${MAX_RING_BYTES}, got ${capacity}`);
  }
  const sab = new SharedArrayBuffer(CONTROL_BYTES + capacity);
  const ctl = new Int32Array(sab, 0, CONTROL_BYTES >> 2);
  ctl[CTL_CAPACITY] = capacity;
  ctl[CTL_MAGIC] = RING_MAGIC;
  return sab;
}

/** Shared views over one ring buffer, used by both ends. */
class RingView {
  readonly sab: SharedArrayBuffer;
  readonly ctl: Int32Array;
  readonly words: Int32Array; // whole buffer, for header words at CONTROL_BYTES + position
  readonly bytes: Uint8Array; // whole buffer
  readonly capacity: number;
  readonly mask: number;

  constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.ctl = new Int32Array(sab, 0, CONTROL_BYTES >> 2);
    if (this.ctl[CTL_MAGIC] !== RING_MAGIC) throw new TypeError('buffer is not a ringcast ring');
    this.capacity = this.ctl[CTL_CAPACITY]!;
    this.mask = this.capacity - 1;
    this.words = new Int32Array(sab);
    this.bytes = new Uint8Array(sab);
  }

  /** Bytes reserved but not yet consumed (committed or in flight). */
  used(): number {
    return (Atomics.load(this.ctl, CTL_TAIL) - Atomics.load(this.ctl, CTL_HEAD)) >>> 0;
  }
  consumed(): number {
    return Atomics.load(this.ctl, CTL_CONSUMED) >>> 0;
  }
  fullEvents(): number {
    return Atomics.load(this.ctl, CTL_FULL_EVENTS) >>> 0;
  }
}

/** The producing end. Any number of threads may each hold a RingWriter over the same buffer. */
export class RingWriter extends RingView {
  /** Largest body a record may carry in this ring. */
  readonly maxBody: number;
  private readonly source: number;
  private readonly deferWake: boolean;
  /** True while this writer waits in the deferred-wake list. */
  wakePending = false;
  /** A record that is not lazy was written since the last wake. */
  private wakeUrgent = false;
  /** Record kinds that need no wake while the consumer dozes (by kind, up to 255). */
  private lazy: Uint8Array | null = null;

  /** `deferWake`: wake the consumer once per event-loop iteration instead of once per record (see above). */
  constructor(sab: SharedArrayBuffer, source: number, deferWake = false) {
    super(sab);
    this.source = source;
    this.deferWake = deferWake;
    this.maxBody = this.capacity - RECORD_HEADER_BYTES;
  }

  /**
   * Writes one record, or returns false when the ring has no room for it now (nothing is written,
   * nothing is overwritten). Throws RangeError for a body that could never fit.
   */
  tryWrite(kind: number, target: number, body: Uint8Array | null, off = 0, len = body === null ? 0 : body.length - off): boolean {
    if (len > this.maxBody || len < 0) throw new RangeError(`record body of ${len} bytes does not fit a ring of ${this.capacity} bytes`);
    // Allocation (the subarray view) happens before the reservation, never between reserve and commit.
    const src = body === null || len === 0 ? null : off === 0 && len === body.length ? body : body.subarray(off, off + len);
    const size = recordBytes(len);
    const ctl = this.ctl;
    let tail: number;
    for (;;) {
      tail = Atomics.load(ctl, CTL_TAIL);
      const head = Atomics.load(ctl, CTL_HEAD);
      if (((tail - head) >>> 0) + size > this.capacity) {
        Atomics.add(ctl, CTL_FULL_EVENTS, 1);
        return false;
      }
      if (Atomics.compareExchange(ctl, CTL_TAIL, tail, (tail + size) | 0) === tail) break;
    }
    const pos = tail & this.mask;
    const w = (CONTROL_BYTES + pos) >> 2;
    const words = this.words;
    words[w + REC_KIND] = kind;
    words[w + REC_TARGET] = target;
    words[w + REC_SOURCE] = this.source;
    if (src !== null) this.copyIn(src, (pos + RECORD_HEADER_BYTES) & this.mask);
    Atomics.store(words, w + REC_COMMIT, len + 1);
    if (this.deferWake) {
      if (this.lazy === null || kind > 255 || this.lazy[kind] === 0) this.wakeUrgent = true;
      if (!this.wakePending) scheduleWake(this);
      return true;
    }
    const sleeping = Atomics.load(ctl, CTL_SLEEP);
    // Clear the consumer's sleep epoch once our notify really woke it, so that the producers after
    // us skip the notify (60–110 ns each) until it sleeps again; a newer epoch is left alone.
    if (sleeping !== 0 && Atomics.notify(words, w + REC_COMMIT, 1) > 0) Atomics.compareExchange(ctl, CTL_SLEEP, sleeping, 0);
    return true;
  }

  /** Wakes the consumer if it sleeps on a committed record at HEAD (the deferred half of tryWrite). */
  wakeConsumer(): void {
    const ctl = this.ctl;
    const urgent = this.wakeUrgent;
    this.wakeUrgent = false;
    if (!urgent && Atomics.load(ctl, CTL_DOZE) !== 0) return; // only lazy records, and it drains soon
    const sleeping = Atomics.load(ctl, CTL_SLEEP);
    if (sleeping === 0) return;
    const w = (CONTROL_BYTES + (Atomics.load(ctl, CTL_HEAD) & this.mask)) >> 2;
    if (Atomics.load(this.words, w + REC_COMMIT) === 0) return;
    if (Atomics.notify(this.words, w + REC_COMMIT, 1) > 0) Atomics.compareExchange(ctl, CTL_SLEEP, sleeping, 0);
  }

  /** Record kinds that need no wake while the consumer dozes (deferred-wake writers only). */
  setLazyKinds(kinds: readonly number[]): void {
    this.lazy = new Uint8Array(256);
    for (const k of kinds) if (k >= 0 && k <= 255) this.lazy[k] = 1;
  }

  /** Writes one record, waiting (without blocking the thread) for space while the ring is full. */
  async write(kind: number, target: number, body: Uint8Array | null, off = 0, len = body === null ? 0 : body.length - off): Promise<void> {
    while (!this.tryWrite(kind, target, body, off, len)) await this.spaceFor(len);
  }

  /**
   * Resolves once a record with a body of `len` bytes would fit (another producer may still win it).
   * The wait is an Atomics.waitAsync, which does not keep a thread alive by itself: the calling
   * thread must hold some ref'd handle (a server, a port listener) while it waits.
   */
  async spaceFor(len: number): Promise<void> {
    const size = recordBytes(len);
    const ctl = this.ctl;
    for (;;) {
      Atomics.store(ctl, CTL_SPACE_WAIT, 1);
      const head = Atomics.load(ctl, CTL_HEAD);
      if (((Atomics.load(ctl, CTL_TAIL) - head) >>> 0) + size <= this.capacity) return;
      const waited = Atomics.waitAsync(ctl, CTL_HEAD, head);
      if (waited.async) await waited.value;
    }
  }

  private copyIn(src: Uint8Array, start: number): void {
    const bytes = this.bytes;
    const len = src.length;
    const first = Math.min(len, this.capacity - start);
    const at = CONTROL_BYTES + start;
    if (len <= 32) {
      // Small bodies: a loop beats the fixed cost of TypedArray#set.
      for (let i = 0; i < first; i++) bytes[at + i] = src[i]!;
      for (let i = first; i < len; i++) bytes[CONTROL_BYTES + i - first] = src[i]!;
      return;
    }
    if (first === len) {
      bytes.set(src, at);
    } else {
      bytes.set(src.subarray(0, first), at);
      bytes.set(src.subarray(first), CONTROL_BYTES);
    }
  }
}

/** The consuming end. Exactly one thread holds the RingReader of a buffer at a time. */
export class RingReader extends RingView {
  private head: number;
  private sleepEpoch = 0;
  /** The word the last sleep() waits on (see MailboxLoop.catchUp). */
  sleepWord = -1;
  private scratch: Uint8Array = new Uint8Array(256);
  /** Bytes consumed before HEAD is published (and producers may reuse the space) mid-batch. */
  private readonly releaseEvery: number;

  constructor(sab: SharedArrayBuffer) {
    super(sab);
    this.head = Atomics.load(this.ctl, CTL_HEAD);
    // A new consumer (a replacement worker on its predecessor's mailbox) has promised nothing yet.
    Atomics.store(this.ctl, CTL_DOZE, 0);
    this.releaseEvery = Math.max(RECORD_HEADER_BYTES, this.capacity >>> 2);
  }

  /**
   * Dozing: this consumer promises to drain soon by itself (a timer), so producers skip the wake for
   * lazy records. Clear it before that drain.
   */
  setDozing(on: boolean): void {
    Atomics.store(this.ctl, CTL_DOZE, on ? 1 : 0);
  }

  /** True when the record at HEAD is committed. */
  hasRecord(): boolean {
    return Atomics.load(this.words, (CONTROL_BYTES + (this.head & this.mask)) >> 2) !== 0;
  }

  /**
   * Hands up to `budget` committed records to `handler`, in reservation order, and returns how many.
   * Stops early at the first record that is not committed yet.
   */
  drain(handler: RecordHandler, budget: number): number {
    const words = this.words;
    const bytes = this.bytes;
    const mask = this.mask;
    let head = this.head;
    let released = head;
    let n = 0;
    while (n < budget) {
      const pos = head & mask;
      const w = (CONTROL_BYTES + pos) >> 2;
      const commit = Atomics.load(words, w + REC_COMMIT);
      if (commit === 0) break;
      const len = commit - 1;
      const bodyPos = (pos + RECORD_HEADER_BYTES) & mask;
      const kind = words[w + REC_KIND]!;
      const target = words[w + REC_TARGET]!;
      const source = words[w + REC_SOURCE]!;
      // Advance before calling out, so a handler that throws cannot make us replay the record.
      head = (head + recordBytes(len)) | 0;
      this.head = head;
      n++;
      if (bodyPos + len <= this.capacity) {
        handler(kind, target, source, bytes, CONTROL_BYTES + bodyPos, len);
      } else {
        handler(kind, target, source, this.unwrap(bodyPos, len), 0, len);
      }
      if (((head - released) >>> 0) >= this.releaseEvery) {
        this.release(released, head);
        released = head;
      }
    }
    if (head !== released) this.release(released, head);
    if (n > 0) Atomics.add(this.ctl, CTL_CONSUMED, n);
    return n;
  }

  /**
   * Resolves when the record at HEAD may be committed; returns null instead when it already is
   * (the caller drains again at once). Never resolves otherwise: there is no timeout by design.
   */
  sleep(): Promise<unknown> | null {
    const ctl = this.ctl;
    // A fresh non-zero epoch per sleep: a producer clears only the epoch it saw (see tryWrite).
    this.sleepEpoch = (this.sleepEpoch + 1) | 0 || 1;
    Atomics.store(ctl, CTL_SLEEP, this.sleepEpoch);
    const word = (CONTROL_BYTES + (this.head & this.mask)) >> 2;
    this.sleepWord = word;
    const waited = Atomics.waitAsync(this.words, word, 0);
    if (!waited.async) {
      Atomics.store(ctl, CTL_SLEEP, 0);
      return null;
    }
    return waited.value.then(clearSleep.bind(null, ctl));
  }

  /**
   * Resolves a pending sleep() at once (its record may have been taken by a synchronous drain since,
   * so it waits on a word no producer will notify); the caller drains and sleeps again.
   */
  interruptSleep(): void {
    if (this.sleepWord >= 0) Atomics.notify(this.words, this.sleepWord);
  }

  /** Zeroes consumed bytes [from, to) and publishes the new HEAD, waking producers that wait for space. */
  private release(from: number, to: number): void {
    const start = from & this.mask;
    const length = (to - from) >>> 0;
    const end = start + length;
    if (end <= this.capacity) {
      this.bytes.fill(0, CONTROL_BYTES + start, CONTROL_BYTES + end);
    } else {
      this.bytes.fill(0, CONTROL_BYTES + start, CONTROL_BYTES + this.capacity);
      this.bytes.fill(0, CONTROL_BYTES, CONTROL_BYTES + end - this.capacity);
    }
    const ctl = this.ctl;
    Atomics.store(ctl, CTL_HEAD, to);
    if (Atomics.load(ctl, CTL_SPACE_WAIT) !== 0 && Atomics.exchange(ctl, CTL_SPACE_WAIT, 0) !== 0) {
      Atomics.notify(ctl, CTL_HEAD);
    }
  }

  private unwrap(bodyPos: number, len: number): Uint8Array {
    if (this.scratch.length < len) this.scratch = new Uint8Array(Math.max(len, this.scratch.length * 2));
    const first = this.capacity - bodyPos;
    const bytes = this.bytes;
    this.scratch.set(bytes.subarray(CONTROL_BYTES + bodyPos, CONTROL_BYTES + this.capacity), 0);
    this.scratch.set(bytes.subarray(CONTROL_BYTES, CONTROL_BYTES + len - first), first);
    return this.scratch;
  }
}

/** Writers of this thread with a deferred wake due, woken together by one setImmediate. */
const wakeList: RingWriter[] = [];
let wakeScheduled = false;

function scheduleWake(writer: RingWriter): void {
  writer.wakePending = true;
  wakeList.push(writer);
  if (!wakeScheduled) {
    wakeScheduled = true;
    setImmediate(flushWakes);
  }
}

/** Wakes every consumer with a deferred wake due now (also safe to call directly, e.g. before exit). */
export function flushWakes(): void {
  wakeScheduled = false;
  for (let i = 0; i < wakeList.length; i++) {
    const writer = wakeList[i]!;
    writer.wakePending = false;
    writer.wakeConsumer();
  }
  wakeList.length = 0;
}

function clearSleep(ctl: Int32Array): void {
  Atomics.store(ctl, CTL_SLEEP, 0);
}
