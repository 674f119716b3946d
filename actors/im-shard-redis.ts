/**
 * The reliable-messaging shard of one worker in cluster mode (docs/cluster.md, "Reliable messaging"):
 * the same ring records as the single-box shard (actors/im-shard.ts: ImSend, ImSync, ImAck, and the
 * router's connection-gone call), on the Redis store (src/cluster/im-store-redis.ts) instead of LMDB.
 *
 * Who writes: nobody here owns a user's seq. A send is one script call per recipient in the
 * recipient's Redis slot, which allocates the seq, stores and records the client_msg_id atomically,
 * so the shard of any box may write to any user; the answer goes to the sender once Redis has
 * answered (durable as Redis's persistence setting makes it).
 *
 * Delivery: this shard keeps the cursors of the devices of its users connected to this box (the
 * same one-cursor-per-device stream as the single-box shard: sync and live are one stream, at most
 * im.ackWindow unacked, redelivery by the timer wheel). It learns that a user's inbox grew from its
 * own writes and from the other boxes' notices (ImNotify: the append script of whichever box wrote
 * publishes one to each shard holding the user's cursors, src/cluster/im-peers.ts); it then reads
 * what is due from Redis (or sends the notified message from memory when it is the next one), so a
 * notification that comes twice or out of order sends nothing twice.
 */
import { ActorKind, type Actor } from '../src/actor-system.js';
import type { ImPeers } from '../src/cluster/im-peers.js';
import type { RedisImStore } from '../src/cluster/im-store-redis.js';
import { ThrottledWarning } from '../src/cluster/throttled-log.js';
import type { ImConfig } from '../src/config/index.js';
import { DeviceCursor, encodeSyncReply, syncFrom, syncWindow } from '../src/im/device-cursor.js';
import { encodeMessage, messageSeq, withSeq } from '../src/im/message.js';
import { decodeNotify, dispatchImRecord, encodeSendReply, ImCode, type DeviceRef, type ImRecordHandler, type SendRecord } from '../src/im/records.js';
import { ImError } from '../src/im/requests.js';
import { ST_IM_REDELIVERED, ST_IM_SENT, ST_IM_STORED } from '../src/im/status.js';
import { MessageKind, SystemActorId } from '../src/messages.js';
import type { ImShardContext } from './im-shard.js';
import type { RouterShard } from './router-shard.js';

interface ClusterUser {
  readonly mid: number;
  /** Highest seq known committed in Redis (from a write, a notification or a read): nothing above it is read. */
  durable: number;
  devices: Map<string, ClusterDevice>;
}

/** A sync waiting for its first read (or for Redis to come back). */
interface PendingSync {
  after: number;
}

/** A device's cursor (src/im/device-cursor.ts) on this shard, with the state of its reads from Redis. */
class ClusterDevice extends DeviceCursor {
  readonly user: ClusterUser;
  /** Not null until the sync's reads came back: nothing is sent before op 115. */
  pendingSync: PendingSync | null;
  /** A range read is in flight: the next pump waits for it. */
  reading = false;
  /** Bumped when the cursor is moved back (redelivery, a new sync): a read started before is dropped. */
  gen = 0;
  private readonly shard: RedisImShard;

  constructor(shard: RedisImShard, user: ClusterUser, ref: DeviceRef, window: number, after: number) {
    super(ref, window);
    this.shard = shard;
    this.user = user;
    this.pendingSync = { after };
  }

  onTimeout(): void {
    this.shard.onDeviceTimer(this);
  }
}

/** What the shard uses of the Redis store (src/cluster/im-store-redis.ts). */
export type ShardStore = Pick<RedisImStore, 'append' | 'range' | 'lastSeq' | 'readPosition' | 'setReadPosition'>;

/** Retry of a sync whose reads failed (Redis down), at most this often (ms). */
const SYNC_RETRY_MS = 500;
const dec = new TextDecoder();

export class RedisImShard implements Actor, ImRecordHandler {
  private readonly users = new Map<number, ClusterUser>();
  private readonly store: ShardStore;
  private readonly peers: ImPeers;
  private readonly router: RouterShard;
  private readonly cfg: ImConfig;
  private readonly ctx: ImShardContext;
  /** Store errors: one log line per second at most. */
  private readonly storeWarning: ThrottledWarning;
  written = 0;

  constructor(ctx: ImShardContext, store: ShardStore, peers: ImPeers, router: RouterShard, cfg: ImConfig) {
    this.ctx = ctx;
    this.store = store;
    this.peers = peers;
    this.router = router;
    this.cfg = cfg;
    this.storeWarning = new ThrottledWarning(ctx.log);
  }

  receive(kind: number, _source: number, buf: Uint8Array, off: number, len: number): void {
    if (dispatchImRecord(this, kind, buf, off, len) || kind !== MessageKind.ImNotify) return;
    const r = decodeNotify(buf, off, len);
    if (r === null) return;
    // From another box: a notice for a user whose devices left this shard says the sender's list is stale.
    if (!this.users.has(r.mid)) this.peers.release(r.mid);
    else this.onNotify(r.mid, r.seq, r.msg);
  }

  private storeFailed(what: string, err: unknown): void {
    this.storeWarning.warn(err, `im (cluster): ${what} failed`);
  }

  // ---- sending ----

  onSend({ req, origin, from, op, group, ts, clientMsgId: cmidBytes, mids, body }: SendRecord): void {
    const cmid = cmidBytes.length === 0 ? '' : dec.decode(cmidBytes);
    // One message for every recipient: the script writes each recipient's seq into its copy.
    const template = encodeMessage(0, from, op, ts, group, cmidBytes, body);
    // node-redis pipelines the calls of one turn: a send to n users is one round trip.
    Promise.all(mids.map((mid) => this.store.append(mid, template, from, cmid))).then(
      (results) => {
        const seqs: Array<[number, number]> = [];
        for (let i = 0; i < mids.length; i++) seqs.push([mids[i]!, results[i]!.seq]);
        this.ctx.system.send(origin, ActorKind.System, SystemActorId.ImRequests, MessageKind.ImSendReply, encodeSendReply(req, ImCode.Ok, seqs));
        // The script has notified the other boxes; this shard's own devices of the recipients now.
        for (let i = 0; i < mids.length; i++) {
          const { seq, fresh } = results[i]!;
          if (fresh) {
            this.written++;
            this.ctx.status.add(ST_IM_STORED, 1);
          }
          this.onNotify(mids[i]!, seq, fresh ? withSeq(template, seq) : null);
        }
      },
      (err: unknown) => {
        this.storeFailed('a send', err);
        // Some recipients may have it stored: a retry with the same client_msg_id answers their seqs.
        this.ctx.system.send(origin, ActorKind.System, SystemActorId.ImRequests, MessageKind.ImSendReply, encodeSendReply(req, ImCode.Unavailable, [], err instanceof ImError ? err.message : 'store unavailable; retry with the same client_msg_id'));
      },
    );
  }

  /** `mid`'s inbox holds everything up to `seq` (this box wrote it, or another box said so). */
  private onNotify(mid: number, seq: number, msg: Uint8Array | null): void {
    const u = this.users.get(mid);
    if (u === undefined) return; // no device of this user synced on this box
    if (seq > u.durable) u.durable = seq;
    for (const dev of u.devices.values()) this.pump(dev, msg);
  }

  /** A connection left the router: its cursor goes (its read position stays in Redis). */
  connectionGone(mid: number, key: string, worker: number, connId: number): void {
    const dev = this.users.get(mid)?.devices.get(key);
    if (dev !== undefined && dev.worker === worker && dev.connId === connId) this.drop(dev);
  }

  /** Redis is back: each device re-reads the newest seq (notifications may have been lost meanwhile). */
  engineUp(): void {
    for (const u of this.users.values()) {
      this.peers.hold(u.mid);
      for (const dev of u.devices.values()) {
        if (dev.pendingSync !== null) this.startSync(dev);
      }
      this.refresh(u);
    }
  }

  private refresh(u: ClusterUser): void {
    this.store.lastSeq(u.mid).then(
      (last) => this.onNotify(u.mid, last, null),
      (err: unknown) => this.storeFailed('a refresh', err),
    );
  }

  // ---- delivery ----

  private alive(dev: ClusterDevice): boolean {
    const e = this.router.users.get(dev.mid)?.get(dev.key);
    return e !== undefined && e.worker === dev.worker && e.connId === dev.connId && dev.user.devices.get(dev.key) === dev;
  }

  private drop(dev: ClusterDevice): void {
    this.ctx.wheel.cancel(dev.timer);
    const u = dev.user;
    if (u.devices.get(dev.key) === dev) u.devices.delete(dev.key);
    if (u.devices.size === 0 && this.users.get(u.mid) === u) {
      this.users.delete(u.mid);
      this.peers.release(u.mid);
    }
  }

  private deliver(dev: ClusterDevice, msg: Uint8Array): void {
    this.ctx.system.send(dev.worker, ActorKind.Connection, dev.connId, MessageKind.ImDeliver, msg);
    this.ctx.status.add(ST_IM_SENT, 1);
  }

  /**
   * Sends the device what it may have now, (sent, min(durable, acked + window)], in seq order: `hand`
   * from memory when it is the next one due, the rest read from Redis (one read at a time per device).
   */
  private pump(dev: ClusterDevice, hand: Uint8Array | null = null): void {
    if (dev.pendingSync !== null || dev.reading) return;
    const cap = dev.cap(dev.user.durable);
    if (dev.sent >= cap) return;
    if (!this.alive(dev)) return this.drop(dev);
    if (hand !== null && messageSeq(hand) === dev.sent + 1 && dev.wants(dev.sent + 1)) {
      this.deliver(dev, hand);
      dev.sent++;
    }
    dev.arm(this.ctx.wheel, this.cfg.redeliverMs);
    if (dev.sent >= cap) return;
    const from = dev.sent;
    const gen = dev.gen;
    dev.reading = true;
    this.store.range(dev.mid, from, cap, cap - from, Date.now() - this.cfg.retainMs).then(
      (msgs) => {
        dev.reading = false;
        if (dev.gen !== gen || dev.sent !== from || !this.alive(dev)) return this.pump(dev);
        for (const msg of msgs) {
          if (dev.wants(messageSeq(msg))) this.deliver(dev, msg);
        }
        // Seqs missing from the page were removed by retention: that gap is not loss.
        dev.sent = cap;
        this.pump(dev);
      },
      (err: unknown) => {
        dev.reading = false;
        // The redelivery timer (scheduled above) tries again from the acked position.
        this.storeFailed('a delivery read', err);
      },
    );
  }

  /** The device's one timer: a sync to retry, or no ack progress for redeliverMs. */
  onDeviceTimer(dev: ClusterDevice): void {
    if (!this.alive(dev)) return this.drop(dev);
    if (dev.pendingSync !== null) return this.startSync(dev);
    if (dev.acked >= dev.sent && !dev.reading) {
      // Nothing unacked: a read that failed left nothing sent; look again.
      if (dev.sent < dev.cap(dev.user.durable)) this.pump(dev);
      return;
    }
    this.ctx.status.add(ST_IM_REDELIVERED, dev.rewind());
    dev.gen++;
    this.pump(dev);
  }

  onSync(ref: DeviceRef, after: number, limit: number): void {
    let u = this.users.get(ref.mid);
    if (u === undefined) {
      this.users.set(ref.mid, (u = { mid: ref.mid, durable: 0, devices: new Map() }));
      this.peers.hold(ref.mid);
    }
    const window = syncWindow(limit, this.cfg.ackWindow);
    const old = u.devices.get(ref.key);
    if (old !== undefined) this.ctx.wheel.cancel(old.timer);
    const dev = new ClusterDevice(this, u, ref, window, after);
    u.devices.set(ref.key, dev);
    this.startSync(dev);
  }

  /** Reads the user's newest seq and the device's read position, then answers op 115 and starts the stream. */
  private startSync(dev: ClusterDevice): void {
    const gen = ++dev.gen;
    Promise.all([this.store.lastSeq(dev.mid), this.store.readPosition(dev.mid, dev.key)]).then(
      ([last, stored]) => {
        const p = dev.pendingSync;
        if (p === null || dev.gen !== gen || !this.alive(dev)) return;
        const u = dev.user;
        if (last > u.durable) u.durable = last;
        const from = syncFrom(p.after, stored, u.durable);
        if (from > stored) this.store.setReadPosition(dev.mid, dev.key, from).catch((err: unknown) => this.storeFailed('a read position', err));
        dev.pendingSync = null;
        dev.start(from);
        this.ctx.system.send(dev.worker, ActorKind.Connection, dev.connId, MessageKind.ImSyncReply, encodeSyncReply(from, u.durable));
        this.pump(dev);
      },
      (err: unknown) => {
        this.storeFailed('a sync', err);
        if (dev.gen === gen && this.alive(dev)) this.ctx.wheel.schedule(dev.timer, Math.min(SYNC_RETRY_MS, this.cfg.redeliverMs));
      },
    );
  }

  onAck(ref: DeviceRef, seq: number, single: boolean): void {
    const dev = this.users.get(ref.mid)?.devices.get(ref.key);
    if (dev === undefined || !dev.same(ref) || dev.pendingSync !== null) {
      // A connection this shard does not track (closed, or synced on another box): the client read
      // those messages, so the read position moves forward (the script never moves it back or past the last seq).
      if (!single) this.store.setReadPosition(ref.mid, ref.key, seq).catch((err: unknown) => this.storeFailed('a read position', err));
      return;
    }
    if (!dev.ack(seq, single)) return;
    this.store.setReadPosition(ref.mid, ref.key, dev.acked).catch((err: unknown) => this.storeFailed('a read position', err));
    dev.rearm(this.ctx.wheel, this.cfg.redeliverMs);
    this.pump(dev);
  }
}
