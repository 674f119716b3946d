/**
 * The reliable-messaging shard of one worker: for the users its router shard owns (hash of mid), it
 * allocates per-user seqs, writes messages to their inboxes, answers the sender once the write is
 * durable, and delivers to the user's devices.
 *
 * Delivery is one cursor per device (connection key), and the shard is the only actor moving it, so
 * the synced stream and the live stream are the same stream: a device that asked to sync (op 114)
 * from `after` is sent every stored message with after < seq ≤ durable seq, at most `ackWindow`
 * beyond what it has acked, in seq order; a message that becomes durable while the device is caught
 * up goes out at once (live), and one that arrives while the device is still paging is simply picked
 * up by the next page. No gap, no duplicate, whatever the interleaving. Acks move the window (and
 * the device's persisted read position); when no ack progress comes for `redeliverMs`, the cursor is
 * rewound to the acked position and the unacked messages are sent again (one timer-wheel entry per
 * device, none per message).
 */
import { ActorKind, type Actor, type ActorSystem } from '../src/actor-system.js';
import type { ImConfig } from '../src/config/index.js';
import { DeviceCursor, encodeSyncReply, syncFrom, syncWindow } from '../src/im/device-cursor.js';
import { encodeMessage, messageSeq } from '../src/im/message.js';
import { dispatchImRecord, encodeSendReply, ImCode, type DeviceRef, type ImRecordHandler, type SendRecord } from '../src/im/records.js';
import { ST_IM_REDELIVERED, ST_IM_SENT, ST_IM_STORED } from '../src/im/status.js';
import type { ImStore } from '../src/im/store.js';
import type { Logger } from '../src/logger.js';
import { MessageKind, SystemActorId } from '../src/messages.js';
import type { ThreadStatus } from '../src/thread-status.js';
import type { Expiring, TimerWheel } from '../src/timer-wheel.js';
import type { RouterShard } from './router-shard.js';

/** What the shard is handed by its worker (a part of the worker's context, actors/context.ts). */
export interface ImShardContext {
  readonly system: ActorSystem;
  readonly wheel: TimerWheel<Expiring>;
  readonly status: ThreadStatus;
  readonly log: Logger;
}

interface UserState {
  readonly mid: number;
  /** Last seq allocated. */
  last: number;
  /** Last seq known committed and flushed: nothing above it is ever sent. */
  durable: number;
  /** Writes allocated and not yet durable (the state may be dropped only at 0, with no devices). */
  inflight: number;
  /** Oldest seq still kept (last + 1 when the inbox is empty), and its ts (Infinity when empty): retention needs no range read per write. */
  oldest: number;
  oldestTs: number;
  devices: Map<string, Device>;
}

/** A device's cursor (src/im/device-cursor.ts) on this shard. */
export class Device extends DeviceCursor {
  readonly user: UserState;
  private readonly shard: ImShard;

  constructor(shard: ImShard, user: UserState, ref: DeviceRef, window: number) {
    super(ref, window);
    this.shard = shard;
    this.user = user;
  }

  onTimeout(): void {
    this.shard.redeliver(this);
  }
}

interface PendingWrite {
  user: UserState;
  seq: number;
  msg: Uint8Array;
}

/** Users kept in memory without a device or a write in flight (their seq and retention bounds, saving a store read per message). */
const IDLE_USERS_MAX = 100_000;
/** Messages retention removes per write at most. */
const RETAIN_BUDGET = 8;
const dec = new TextDecoder();

export class ImShard implements Actor, ImRecordHandler {
  private readonly users = new Map<number, UserState>();
  /** Sends allocated but not yet durable, by idempotency key: a retry racing the original gets its seq. */
  private readonly pendingIdem = new Map<string, number>();
  private readonly store: ImStore;
  private readonly router: RouterShard;
  private readonly cfg: ImConfig;
  private readonly ctx: ImShardContext;
  /** Messages written (counter for /health-style figures and the bench). */
  written = 0;

  constructor(ctx: ImShardContext, store: ImStore, router: RouterShard, cfg: ImConfig) {
    this.ctx = ctx;
    this.store = store;
    this.router = router;
    this.cfg = cfg;
  }

  /** A packet body (op 112 for ImDeliver, 115 for ImSyncReply) to a connection actor; its session extension writes it. */
  private toConnection(worker: number, connId: number, kind: MessageKind.ImDeliver | MessageKind.ImSyncReply, body: Uint8Array): void {
    this.ctx.system.send(worker, ActorKind.Connection, connId, kind, body);
  }

  /** The answer to a sender's ImRequests (on the worker or the acceptor that sent). */
  private toRequests(thread: number, body: Uint8Array): void {
    this.ctx.system.send(thread, ActorKind.System, SystemActorId.ImRequests, MessageKind.ImSendReply, body);
  }

  receive(kind: number, _source: number, buf: Uint8Array, off: number, len: number): void {
    dispatchImRecord(this, kind, buf, off, len);
  }

  private user(mid: number): UserState {
    let u = this.users.get(mid);
    if (u === undefined) {
      const last = this.store.lastSeq(mid);
      const o = this.store.oldest(mid);
      u = { mid, last, durable: last, inflight: 0, devices: new Map(), oldest: o?.[0] ?? last + 1, oldestTs: o?.[1] ?? Infinity };
      this.users.set(mid, u);
      if (this.users.size > IDLE_USERS_MAX) this.forgetIdle();
    }
    return u;
  }

  // ---- sending ----

  onSend({ req, origin, from, op, group, ts, clientMsgId: cmidBytes, mids, body }: SendRecord): void {
    const cmid = cmidBytes.length === 0 ? '' : dec.decode(cmidBytes);
    const idemOn = cmid !== '' && this.cfg.idempotencyMs > 0;
    const seqs: Array<[number, number]> = [];
    const writes: PendingWrite[] = [];
    const idemKeys: string[] = [];
    const minTs = ts - this.cfg.retainMs;
    let last: Promise<boolean> | null = null;
    try {
      for (const mid of mids) {
        if (idemOn) {
          const idemKey = `${from}\u0000${cmid}\u0000${mid}`;
          const pending = this.pendingIdem.get(idemKey);
          if (pending !== undefined) {
            seqs.push([mid, pending]);
            continue;
          }
          const seen = this.store.idempotent(from, cmid, mid, ts, this.cfg.idempotencyMs);
          if (seen !== undefined) {
            seqs.push([mid, seen]);
            continue;
          }
          idemKeys.push(idemKey);
        }
        const u = this.user(mid);
        const seq = ++u.last;
        const msg = encodeMessage(seq, from, op, ts, group, cmidBytes, body);
        last = this.store.append(mid, seq, msg);
        if (idemOn) {
          this.store.rememberSend(from, cmid, mid, seq, ts, this.cfg.idempotencyMs);
          this.pendingIdem.set(idemKeys[idemKeys.length - 1]!, seq);
        }
        if (u.oldestTs === Infinity) {
          u.oldest = seq;
          u.oldestTs = ts;
        }
        this.retain(u, seq, ts, minTs);
        u.inflight++;
        writes.push({ user: u, seq, msg });
        seqs.push([mid, seq]);
      }
    } catch (err) {
      this.ctx.log.error({ err }, 'im: store write failed');
      this.failed(writes, idemKeys);
      this.toRequests(origin, encodeSendReply(req, ImCode.Unavailable, []));
      return;
    }
    this.written += writes.length;
    // Everything queued in this turn commits as one transaction; answer and deliver once it is on disk.
    (last === null ? this.store.durable() : this.store.flushed(last)).then(
      () => {
        for (const k of idemKeys) this.pendingIdem.delete(k);
        this.toRequests(origin, encodeSendReply(req, ImCode.Ok, seqs));
        for (const w of writes) this.onDurable(w);
      },
      (err: unknown) => {
        this.ctx.log.error({ err }, 'im: store commit failed');
        this.failed(writes, idemKeys);
        this.toRequests(origin, encodeSendReply(req, ImCode.Unavailable, []));
      },
    );
  }

  /** Writes that will never be durable: their seqs stay unused (a gap the readers skip), the sender may retry. */
  private failed(writes: PendingWrite[], idemKeys: string[]): void {
    for (const k of idemKeys) this.pendingIdem.delete(k);
    for (const w of writes) w.user.inflight--;
  }

  private onDurable(w: PendingWrite): void {
    const u = w.user;
    u.inflight--;
    this.ctx.status.add(ST_IM_STORED, 1);
    if (w.seq > u.durable) u.durable = w.seq;
    for (const dev of u.devices.values()) this.pump(dev, w);
  }

  /**
   * Retention after writing `newest`: removes what falls out by count (seqs are contiguous, so by key,
   * no range read) and, when the oldest kept message is older than `minTs`, by age; a few per write.
   */
  private retain(u: UserState, newest: number, ts: number, minTs: number): void {
    let budget = RETAIN_BUDGET;
    while (budget > 0 && (u.oldest <= newest - this.cfg.retainCount || (u.oldestTs < minTs && u.oldest < newest))) {
      this.store.removeMessage(u.mid, u.oldest++);
      budget--;
      // The new oldest: committed (its ts is read), or written in this same turn (not visible yet: as new as `ts`).
      u.oldestTs = this.store.messageTs(u.mid, u.oldest) ?? ts;
    }
  }

  /** Idle users (no device, no write in flight) beyond IDLE_USERS_MAX are dropped, oldest first; their state reloads from the store. */
  private forgetIdle(): void {
    let budget = 64;
    for (const [mid, u] of this.users) {
      if (this.users.size <= IDLE_USERS_MAX || budget-- === 0) return;
      if (u.inflight === 0 && u.devices.size === 0) this.users.delete(mid);
    }
  }

  /** A connection left the router: its device cursor goes (the read position stays in the store). */
  connectionGone(mid: number, key: string, worker: number, connId: number): void {
    const dev = this.users.get(mid)?.devices.get(key);
    if (dev !== undefined && dev.worker === worker && dev.connId === connId) this.drop(dev);
  }

  // ---- delivery ----

  /** Whether the device's connection is still the one registered with the router. */
  private alive(dev: Device): boolean {
    const e = this.router.users.get(dev.mid)?.get(dev.key);
    return e !== undefined && e.worker === dev.worker && e.connId === dev.connId;
  }

  private drop(dev: Device): void {
    this.ctx.wheel.cancel(dev.timer);
    if (dev.user.devices.get(dev.key) === dev) dev.user.devices.delete(dev.key);
  }

  /**
   * Sends the device what it may have now: (sent, min(durable, acked + window)], in seq order.
   * `hand` is a message just made durable: sent from memory when it is the next one due.
   */
  private pump(dev: Device, hand: PendingWrite | null = null): void {
    const u = dev.user;
    const cap = dev.cap(u.durable);
    if (dev.sent >= cap) return;
    if (!this.alive(dev)) {
      this.drop(dev);
      return;
    }
    if (hand !== null && hand.seq === dev.sent + 1 && cap >= hand.seq && dev.wants(hand.seq)) {
      this.toConnection(dev.worker, dev.connId, MessageKind.ImDeliver, hand.msg);
      this.ctx.status.add(ST_IM_SENT, 1);
      dev.sent = hand.seq;
    }
    if (dev.sent < cap) {
      const minTs = Date.now() - this.cfg.retainMs;
      for (const msg of this.store.range(dev.mid, dev.sent, cap, cap - dev.sent, minTs)) {
        if (!dev.wants(messageSeq(msg))) continue;
        this.toConnection(dev.worker, dev.connId, MessageKind.ImDeliver, msg);
        this.ctx.status.add(ST_IM_SENT, 1);
      }
      dev.sent = cap;
    }
    dev.arm(this.ctx.wheel, this.cfg.redeliverMs);
  }

  /** No ack progress for redeliverMs: send the unacked messages again. */
  redeliver(dev: Device): void {
    if (!this.alive(dev)) {
      this.drop(dev);
      return;
    }
    if (dev.acked >= dev.sent) return;
    this.ctx.status.add(ST_IM_REDELIVERED, dev.rewind());
    this.pump(dev);
  }

  onSync(ref: DeviceRef, after: number, limit: number): void {
    const u = this.user(ref.mid);
    let dev = u.devices.get(ref.key);
    const window = syncWindow(limit, this.cfg.ackWindow);
    if (dev === undefined || !dev.same(ref)) {
      if (dev !== undefined) this.ctx.wheel.cancel(dev.timer);
      dev = new Device(this, u, ref, window);
      u.devices.set(ref.key, dev);
    }
    dev.window = window;
    const stored = this.store.readPosition(ref.mid, ref.key);
    const from = syncFrom(after, stored, u.durable);
    if (from > stored) this.store.setReadPosition(ref.mid, ref.key, from);
    dev.start(from);
    this.toConnection(ref.worker, ref.connId, MessageKind.ImSyncReply, encodeSyncReply(from, u.durable));
    this.pump(dev);
  }

  onAck(ref: DeviceRef, seq: number, single: boolean): void {
    const u = this.users.get(ref.mid);
    const dev = u?.devices.get(ref.key);
    if (u === undefined || dev === undefined || !dev.same(ref)) {
      // An ack from a connection the shard no longer tracks (it closed, or a newer one synced): the
      // client did read those messages, so the device's read position still moves forward.
      if (!single && seq <= (u?.durable ?? this.store.lastSeq(ref.mid)) && seq > this.store.readPosition(ref.mid, ref.key)) this.store.setReadPosition(ref.mid, ref.key, seq);
      return;
    }
    if (!dev.ack(seq, single)) return; // no progress (nothing new, or a single ack out of order: remembered)
    this.store.setReadPosition(ref.mid, ref.key, dev.acked);
    dev.rearm(this.ctx.wheel, this.cfg.redeliverMs);
    this.pump(dev);
  }
}
