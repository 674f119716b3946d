/**
 * The deliverer actor of a worker: turns push records into writes on this worker's sockets.
 *
 * Room and broadcast pushes are merged: the pushes for one room (or, for broadcasts, one op) that
 * arrive within `push.batchWindowMs`, or until `push.batchMaxBytes`, go out as one write per
 * connection (one op-9 frame on WebSocket, packets back to back on TCP), framed once for all
 * recipients. One timer per worker covers every pending batch: none per message. With a window of
 * 0 the batch holds what arrived in the same mailbox drain and goes out on the next turn.
 * Pushes to keys and mids are not delayed: they are framed once per Deliver record and written.
 *
 * Slow consumers: a connection whose outbound queue passes `push.writeQueueBytes` gets the push's
 * policy (src/push/slow-policy.ts): `close`, or `drop-oldest`, which drops whole queued pushes,
 * oldest first, until the queue is back under the bound; the client learns how many from a gap
 * marker (ext op 104) sent before the next push that reaches it (src/protocols/backlog.ts).
 *
 * Accepts filtering as goim: pushes by key/mid and broadcasts reach a connection only if it accepts
 * the op; room pushes are not filtered.
 */
import type { Actor } from '../actor-system.js';
import type { SlowConsumerPolicy } from '../config.js';
import { MessageKind } from '../messages.js';
import { decodeHead, decodeRoomPush } from './records.js';
import { PushFrames, type PushItem } from '../protocols/frames.js';
import type { SlowConsumerPolicies } from './slow-policy.js';

/** What the deliverer needs from its worker. */
export interface DeliveryHost {
  /** An authenticated connection of this worker, by actor id. */
  connection(id: number): DeliveryTarget | undefined;
  /** The members of a room on this worker. */
  roomMembers(room: string): Iterable<DeliveryTarget> | undefined;
  /** Every authenticated connection of this worker. */
  allConnections(): Iterable<DeliveryTarget>;
  /** Closes a connection whose outbound queue passed the bound (it is not reading; policy close). */
  dropSlow(conn: DeliveryTarget): void;
  /** Policy drop-oldest dropped `messages` queued pushes of a connection; `newGap`: it had no gap open before. */
  droppedOldest(conn: DeliveryTarget, messages: number, newGap: boolean): void;
  /**
   * While a merge window is open the worker drains its mailbox when the window closes anyway, so room
   * and broadcast pushes need not wake it (doze); before the flush, the mailbox is drained (catchUp).
   */
  doze(on: boolean): void;
  catchUp(): void;
  /** Tells the acceptor how many connections a request reached here. */
  reply(kind: MessageKind.PushReply | MessageKind.DeliverReply, req: number, connections: number, fanout?: number, shard?: number): void;
}

export interface DeliveryTarget {
  readonly accepts: ReadonlySet<number>;
  /** True while the connection is authenticated and not closing. */
  readonly open: boolean;
  readonly transport: { writeFrames(frames: PushFrames): void; queuedBytes(): number; dropOldest(maxBytes: number): number; pendingGap(): number };
}

interface Batch {
  room: string | null; // null: a broadcast batch (one op)
  op: number;
  items: PushItem[];
  reqs: number[];
  bytes: number;
}

export class Deliverer implements Actor {
  private readonly host: DeliveryHost;
  private readonly windowMs: number;
  private readonly maxBytes: number;
  private readonly writeQueueBytes: number;
  private readonly policies: SlowConsumerPolicies;
  private readonly pending = new Map<string, Batch>();
  private scheduled = false;
  private dozing = false;
  private readonly flushAllBound = (): void => this.flushAll();

  constructor(host: DeliveryHost, windowMs: number, maxBytes: number, writeQueueBytes: number, policies: SlowConsumerPolicies) {
    this.host = host;
    this.policies = policies;
    this.windowMs = windowMs;
    this.maxBytes = maxBytes;
    this.writeQueueBytes = writeQueueBytes;
  }

  /**
   * Writes (or queues) a push to one connection, then applies the policy if its outbound queue is
   * over the bound; false if the connection was closed for it. The common case costs one write and
   * one comparison.
   */
  private write(conn: DeliveryTarget, frames: PushFrames, policy: SlowConsumerPolicy): boolean {
    const t = conn.transport;
    t.writeFrames(frames);
    if (t.queuedBytes() <= this.writeQueueBytes) return true;
    if (policy === 'close') {
      this.host.dropSlow(conn);
      return false;
    }
    const hadGap = t.pendingGap() > 0;
    const dropped = t.dropOldest(this.writeQueueBytes);
    if (dropped > 0) this.host.droppedOldest(conn, dropped, !hadGap);
    return true;
  }

  receive(kind: number, source: number, buf: Uint8Array, off: number, len: number): void {
    switch (kind) {
      case MessageKind.PushRoom: {
        const p = decodeRoomPush(buf, off, len);
        if (p === null) return;
        this.enqueue(`r:${p.room}`, p.room, p.op, buf.slice(off + p.bodyOff, off + len), p.req);
        return;
      }
      case MessageKind.PushAll: {
        const h = decodeHead(buf, off, len);
        if (h === null) return;
        this.enqueue(`a:${h.op}`, null, h.op, buf.slice(off + 12, off + len), h.req);
        return;
      }
      case MessageKind.Deliver: {
        const h = decodeHead(buf, off, len);
        if (h === null || h.n < 1 || 12 + h.n * 4 > len) return;
        const bodyOff = off + 12 + h.n * 4;
        const frames = new PushFrames([{ op: h.op, body: buf.slice(bodyOff, off + len) }]);
        const dv = new DataView(buf.buffer, buf.byteOffset + off + 12, h.n * 4);
        const fanout = dv.getUint32(0); // item 0 (records.ts); connection ids follow
        const policy = this.policies.global;
        let n = 0;
        for (let i = 1; i < h.n; i++) {
          const conn = this.host.connection(dv.getUint32(i * 4));
          if (conn === undefined || !conn.open || !conn.accepts.has(h.op)) continue;
          if (this.write(conn, frames, policy)) n++;
        }
        this.host.reply(MessageKind.DeliverReply, h.req, n, fanout, source);
        return;
      }
      default:
        return;
    }
  }

  private enqueue(key: string, room: string | null, op: number, body: Uint8Array, req: number): void {
    let batch = this.pending.get(key);
    if (batch === undefined) {
      batch = { room, op, items: [], reqs: [], bytes: 0 };
      this.pending.set(key, batch);
    }
    batch.items.push({ op, body });
    batch.reqs.push(req);
    batch.bytes += 16 + body.length;
    if (batch.bytes >= this.maxBytes) {
      this.pending.delete(key);
      this.flush(batch);
      return;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      if (this.windowMs === 0) setImmediate(this.flushAllBound);
      else {
        setTimeout(this.flushAllBound, this.windowMs);
        this.dozing = true;
        this.host.doze(true);
      }
    }
  }

  /** Writes every pending batch now (also used at shutdown). */
  flushAll(): void {
    if (this.dozing) {
      // Pushes whose producers skipped the wake are in the mailbox: take them into this flush.
      this.dozing = false;
      this.host.doze(false);
      this.host.catchUp();
    }
    this.scheduled = false;
    const batches = [...this.pending.values()];
    this.pending.clear();
    for (const b of batches) this.flush(b);
  }

  private flush(batch: Batch): void {
    const frames = new PushFrames(batch.items);
    const policy = this.policies.forRoom(batch.room);
    let n = 0;
    if (batch.room !== null) {
      const members = this.host.roomMembers(batch.room);
      if (members !== undefined) {
        for (const conn of members) {
          if (conn.open && this.write(conn, frames, policy)) n++;
        }
      }
    } else {
      for (const conn of this.host.allConnections()) {
        if (conn.open && conn.accepts.has(batch.op) && this.write(conn, frames, policy)) n++;
      }
    }
    for (const req of batch.reqs) this.host.reply(MessageKind.PushReply, req, n);
  }
}
