/**
 * The deliverer actor of a worker: turns push records into writes on this worker's sockets.
 *
 * Room and broadcast pushes are merged: the pushes for one room (or, for broadcasts, one op) that
 * are pending together go out as one write per connection (one op-9 frame on WebSocket, packets
 * back to back on TCP), framed once for all recipients. When they are written depends on
 * `push.batchWindowMs`:
 *
 *   0 (the default), merging that adapts to load: a push that finds the worker idle is written at
 *     the end of the mailbox drain that brought it (a microtask: no timer, no event-loop turn), with
 *     whatever else that drain brought. After a flush that took F ms, pushes keep merging for
 *     HOLD_FACTOR × F more (at most MAX_HOLD_MS): a socket write's cost goes on after our loop
 *     returns (the kernel, the receivers on the same cores), and it bounds the share of the thread
 *     spent flushing to 1 / (1 + HOLD_FACTOR) however fast pushes come. So at light load a push costs
 *     one write and no wait; under load the batches grow by themselves.
 *   > 0, fixed merging: every push waits until the window that its batch opened closes.
 *
 * `push.batchMaxBytes` writes a batch at once whichever the mode. One timer per worker covers every
 * pending batch: none per message. While a flush is due by that timer, the worker dozes: room and
 * broadcast records need no wake (src/ring/ring.ts, lazy kinds), the flush drains the mailbox first.
 * Pushes to keys and mids are not delayed: they are framed once per Deliver record and written.
 *
 * Slow consumers: a connection whose outbound queue passes `push.writeQueueBytes` gets the push's
 * policy (src/push/slow-policy.ts): `close` (the connection's dropSlow), or `drop-oldest`, which drops whole queued pushes,
 * oldest first, until the queue is back under the bound; the client learns how many from a gap
 * marker (ext op 104) sent before the next push that reaches it (src/protocols/backlog.ts).
 *
 * Accepts filtering as goim: pushes by key/mid and broadcasts reach a connection only if it accepts
 * the op; room pushes are not filtered.
 *
 * Push-to-write latency (src/latency-histogram.ts, in this worker's status words): each push record's
 * arrival is one clock read; when its batch (or Deliver) has been written to every recipient, one
 * more clock read for the whole batch, and each of its pushes adds to a bucket. No read per socket.
 */
import { ActorKind, type Actor } from '../src/actor-system.js';
import type { SlowConsumerPolicy } from '../src/config/index.js';
import { DeepestQueues } from '../src/deepest-queues.js';
import { LatencyRecorder } from '../src/latency-histogram.js';
import { ST_SLOW_DROPPED, ST_SLOW_GAPS } from '../src/layout.js';
import { MessageKind, SystemActorId } from '../src/messages.js';
import { PushFrames, type PushItem } from '../src/protocols/frames.js';
import { decodeHead, decodeRoomPush, encodeReply } from '../src/push/records.js';
import type { SlowConsumerPolicies } from '../src/push/slow-policy.js';
import { requestOrigin } from '../src/request-table.js';
import type { WorkerContext } from './context.js';
import type { RegistryMember, Rooms } from './registry.js';

/** The request id of a push nobody waits for (a decoded u32 id is never negative). */
const NO_REPLY = -1;

/** After a flush that took F ms, pushes merge for this many times F more (adaptive merging). */
export const HOLD_FACTOR = 4;
/** The longest adaptive merging holds a push back, however long the last flush took. */
export const MAX_HOLD_MS = 50;
/** Shorter holds are none: a timer cannot fire sooner than 1 ms, and such a flush is cheap anyway. */
const MIN_HOLD_MS = 1;

/** How the merge window and the write bound are set (push.batchWindowMs, push.batchMaxBytes, push.writeQueueBytes). */
export interface DeliveryOptions {
  /** 0: adaptive merging; > 0: fixed merging within this window. */
  readonly windowMs: number;
  readonly maxBytes: number;
  readonly writeQueueBytes: number;
  /** Monotonic ms (performance.now); the unit tests give a clock of their own. */
  readonly clock?: () => number;
}

interface Batch {
  room: string | null; // null: a broadcast batch (one op)
  op: number;
  items: PushItem[];
  reqs: number[];
  /** When each push's record arrived (the clock's ms), for the latency histogram. */
  arrived: number[];
  bytes: number;
}

export class Deliverer implements Actor {
  private readonly ctx: WorkerContext;
  /** The registry's maps, read once: a delivery costs a map lookup, nothing more. */
  private readonly byId: ReadonlyMap<number, RegistryMember>;
  private readonly rooms: Rooms<RegistryMember>;
  private readonly windowMs: number;
  private readonly maxBytes: number;
  private readonly writeQueueBytes: number;
  private readonly policies: SlowConsumerPolicies;
  private readonly clock: () => number;
  private readonly latency: LatencyRecorder;
  /** The deepest outbound queues, for the dashboard (src/deepest-queues.ts). */
  readonly queues: DeepestQueues;
  private readonly pending = new Map<string, Batch>();
  /** A flush of the pending batches is due (a microtask or the timer). */
  private scheduled = false;
  private timer: NodeJS.Timeout | null = null;
  private dozing = false;
  /** When the last flush ended (performance.now()) and how long merging holds pushes after it (adaptive). */
  private lastFlushEnd = -Infinity;
  private holdMs = 0;
  private readonly flushAllBound = (): void => this.flushAll();

  constructor(ctx: WorkerContext, opts: DeliveryOptions, policies: SlowConsumerPolicies) {
    this.ctx = ctx;
    this.byId = ctx.registry.byId;
    this.rooms = ctx.registry.rooms;
    this.policies = policies;
    this.windowMs = opts.windowMs;
    this.maxBytes = opts.maxBytes;
    this.writeQueueBytes = opts.writeQueueBytes;
    this.clock = opts.clock ?? performance.now.bind(performance);
    this.latency = new LatencyRecorder(ctx.status.words, ctx.index);
    this.queues = new DeepestQueues(ctx.status.words, ctx.index);
  }

  /**
   * Writes (or queues) a push to one connection, then applies the policy if its outbound queue is
   * over the bound; false if the connection was closed for it. The common case costs one write and
   * one comparison.
   */
  private write(conn: RegistryMember, frames: PushFrames, policy: SlowConsumerPolicy): boolean {
    const t = conn.transport;
    t.writeFrames(frames);
    const queued = t.queuedBytes();
    if (queued === 0) return true;
    this.queues.queued(conn);
    if (queued <= this.writeQueueBytes) return true;
    if (policy === 'close') {
      conn.dropSlow();
      return false;
    }
    const hadGap = t.pendingGap() > 0;
    const dropped = t.dropOldest(this.writeQueueBytes);
    if (dropped > 0) this.droppedOldest(conn, dropped, !hadGap);
    return true;
  }

  /** Policy drop-oldest dropped `messages` queued pushes of a connection; `newGap`: it had no gap open before. */
  private droppedOldest(conn: RegistryMember, messages: number, newGap: boolean): void {
    const status = this.ctx.status;
    status.add(ST_SLOW_DROPPED, messages);
    if (!newGap) return;
    status.add(ST_SLOW_GAPS, 1);
    this.ctx.log.warn({ conn: conn.id, key: conn.key, mid: conn.mid, limit: this.writeQueueBytes }, 'slow consumer: outbound queue over push.writeQueueBytes, dropping the oldest pushes (gap marker follows)');
  }

  /** Tells the dispatcher that took the request (the worker its id names) how many connections it reached here. */
  private reply(kind: MessageKind.PushReply | MessageKind.DeliverReply, req: number, connections: number, fanout = 0, shard = 0): void {
    this.ctx.system.send(requestOrigin(req), ActorKind.System, SystemActorId.PushDispatcher, kind, encodeReply(req, connections, fanout, shard));
  }

  receive(kind: number, source: number, buf: Uint8Array, off: number, len: number): void {
    switch (kind) {
      case MessageKind.PushRoom: {
        const p = decodeRoomPush(buf, off, len);
        if (p === null) return;
        this.enqueue(`r:${p.room}`, p.room, p.op, buf.slice(off + p.bodyOff, off + len), p.req, this.clock());
        return;
      }
      case MessageKind.PushAll: {
        const h = decodeHead(buf, off, len);
        if (h === null) return;
        this.enqueue(`a:${h.op}`, null, h.op, buf.slice(off + 12, off + len), h.req, this.clock());
        return;
      }
      case MessageKind.Deliver: {
        const h = decodeHead(buf, off, len);
        if (h === null || h.n < 1 || 12 + h.n * 4 > len) return;
        const arrived = this.clock();
        const bodyOff = off + 12 + h.n * 4;
        const frames = new PushFrames([{ op: h.op, body: buf.slice(bodyOff, off + len) }]);
        const dv = new DataView(buf.buffer, buf.byteOffset + off + 12, h.n * 4);
        const fanout = dv.getUint32(0); // item 0 (records.ts); connection ids follow
        const policy = this.policies.global;
        let n = 0;
        for (let i = 1; i < h.n; i++) {
          const conn = this.byId.get(dv.getUint32(i * 4));
          if (conn === undefined || !conn.open || !conn.accepts.has(h.op)) continue;
          if (this.write(conn, frames, policy)) n++;
        }
        if (n > 0) this.latency.record((this.clock() - arrived) * 1000);
        this.reply(MessageKind.DeliverReply, h.req, n, fanout, source);
        return;
      }
      default:
        return;
    }
  }

  /**
   * A room push (room) or a push to all (null) from another box (actors/cluster-member.ts): queued and
   * merged exactly as a PushRoom/PushAll record is, with no answer (nobody waits across boxes).
   */
  fanout(room: string | null, op: number, body: Uint8Array): void {
    if (room !== null) this.enqueue(`r:${room}`, room, op, body, NO_REPLY, this.clock());
    else this.enqueue(`a:${op}`, null, op, body, NO_REPLY, this.clock());
  }

  /** A push by key or mid from another box: written now to these connections, framed once (as a Deliver record). */
  deliverTo(op: number, conns: readonly RegistryMember[], body: Uint8Array): number {
    const frames = new PushFrames([{ op, body }]);
    const policy = this.policies.global;
    let n = 0;
    for (const conn of conns) if (conn.open && this.write(conn, frames, policy)) n++;
    return n;
  }

  private enqueue(key: string, room: string | null, op: number, body: Uint8Array, req: number, arrived: number): void {
    let batch = this.pending.get(key);
    if (batch === undefined) {
      batch = { room, op, items: [], reqs: [], arrived: [], bytes: 0 };
      this.pending.set(key, batch);
    }
    batch.items.push({ op, body });
    batch.reqs.push(req);
    batch.arrived.push(arrived);
    batch.bytes += 16 + body.length;
    if (batch.bytes >= this.maxBytes) {
      this.pending.delete(key);
      const t0 = this.clock();
      this.flush(batch);
      this.flushed(t0);
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    const waitMs = this.windowMs > 0 ? this.windowMs : this.lastFlushEnd + this.holdMs - this.clock();
    if (waitMs <= 0) {
      // Idle: written once the drain that brought this push has handed out its other records.
      queueMicrotask(this.flushAllBound);
      return;
    }
    this.timer = setTimeout(this.flushAllBound, Math.ceil(waitMs));
    // Until the timer the worker drains its mailbox by itself anyway, so room and broadcast pushes
    // need not wake it (doze); the flush first drains (catchUp).
    this.dozing = true;
    this.ctx.system.setDozing(true);
  }

  /** Writes every pending batch now (also used at shutdown). */
  flushAll(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.dozing) {
      // Pushes whose producers skipped the wake are in the mailbox: take them into this flush.
      this.dozing = false;
      this.ctx.system.setDozing(false);
      this.ctx.system.catchUp();
    }
    this.scheduled = false;
    if (this.pending.size === 0) return;
    const t0 = this.clock();
    // Taken out first: a batch begun while these are written is the next flush's.
    const batches = [...this.pending.values()];
    this.pending.clear();
    for (const b of batches) this.flush(b);
    this.flushed(t0);
  }

  /** A flush that began at t0 ended now: adaptive merging holds the next pushes for HOLD_FACTOR times its length. */
  private flushed(t0: number): void {
    const end = this.clock();
    const hold = HOLD_FACTOR * (end - t0);
    this.lastFlushEnd = end;
    this.holdMs = hold < MIN_HOLD_MS ? 0 : Math.min(MAX_HOLD_MS, hold);
  }

  private flush(batch: Batch): void {
    const frames = new PushFrames(batch.items);
    const policy = this.policies.forRoom(batch.room);
    let n = 0;
    if (batch.room !== null) {
      const room = this.rooms.byId.get(batch.room);
      if (room !== undefined) {
        for (const conn of room.members) {
          if (conn.open && this.write(conn, frames, policy)) n++;
        }
      }
    } else {
      for (const conn of this.byId.values()) {
        if (conn.open && conn.accepts.has(batch.op) && this.write(conn, frames, policy)) n++;
      }
    }
    if (n > 0) {
      const written = this.clock();
      for (const at of batch.arrived) this.latency.record((written - at) * 1000);
    }
    for (const req of batch.reqs) if (req !== NO_REPLY) this.reply(MessageKind.PushReply, req, n);
  }
}
