/**
 * Reliable-messaging client ops on a worker (docs/reliable-messaging.md documents the bodies):
 *
 *   110 → 111  send to a user or a group: [u8 kind 0 user | 1 group][u64 target][i32 op]
 *              [u16 cmidLen][client_msg_id][body] → JSON {"code", "message", "seq": {...}} or {"group_seq"}
 *   112        (server) a message: src/im/message.ts
 *   113        ack: [u64 seq] = everything up to seq (read index); [u64 seq][u8 1] = this seq only
 *   114 → 115  sync: [u64 after][u32 limit] (empty body: from the device's read position);
 *              read fan-out group: [u64 after][u32 limit][u64 group] → 115 [u64 after][u64 latest]
 *
 * Acks and syncs go to the shard owning the user as ring records; sends go through ImService. The
 * shard's answers come back as ring records addressed to the connection (ImDeliver → op 112,
 * ImSyncReply → op 115), which the connection hands here.
 *
 * The gateway is a session extension (src/session.ts): the worker registers it, the connection
 * knows nothing of reliable messaging. What it keeps per connection (rate limiter, whether and how
 * the client synced) is an ImSession in the connection's extension slot, made on the first op.
 */
import { ActorKind, type ActorSystem } from '../actor-system.js';
import type { ImConfig } from '../config/index.js';
import { shardOfMid } from '../hash.js';
import { MessageKind, RouterActorId } from '../messages.js';
import { ExtOp, ImOp } from '../ops.js';
import type { Session, SessionExtension } from '../session.js';
import { RequestLimiter, UpstreamStatus } from '../upstream/index.js';
import { getU64, setU64 } from './message.js';
import { encodeAck, encodeSync, ImCode } from './records.js';
import { ImError } from './requests.js';
import { GROUP_ROOM_PREFIX, ImService, MAX_PAGE } from './service.js';

/** Reliable messaging's state of one session (its extension slot). */
class ImSession {
  /** Rate limit of sends (op 110). */
  limiter: RequestLimiter | null = null;
  /** The client asked for delivery (op 114): a replaced shard must hear of it again. */
  synced = false;
  /** Header seq and ver of the client's last user sync (op 114), echoed by its op 115. */
  syncSeq = 0;
  syncVer = 1;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function sendReply(conn: Session, ver: number, seq: number, code: number, message: string, extra: object = {}): void {
  if (conn.open) conn.transport.sendPacket(ver, ImOp.SendReply, seq, enc.encode(JSON.stringify({ code, message, ...extra })));
}

export class ImGateway implements SessionExtension {
  readonly name = 'reliable messaging';
  readonly slot: number;
  readonly ops: readonly number[] = [ImOp.Send, ImOp.Ack, ImOp.Sync];
  readonly records: readonly number[] = [MessageKind.ImDeliver, MessageKind.ImSyncReply];
  private readonly service: ImService;
  private readonly system: ActorSystem;
  private readonly workers: number;
  private readonly cfg: ImConfig;
  /** push.writeQueueBytes: a client that stops reading is closed, its unacked messages wait in its inbox. */
  private readonly writeQueueBytes: number;

  constructor(service: ImService, system: ActorSystem, workers: number, cfg: ImConfig, writeQueueBytes: number, slot: number) {
    this.service = service;
    this.system = system;
    this.workers = workers;
    this.cfg = cfg;
    this.writeQueueBytes = writeQueueBytes;
    this.slot = slot;
  }

  newLimiter(): RequestLimiter {
    return new RequestLimiter(this.cfg.sendBurst, this.cfg.sendRatePerSec, this.cfg.sendBurst);
  }

  private state(s: Session): ImSession {
    let st = s.ext[this.slot] as ImSession | undefined;
    if (st === undefined) s.ext[this.slot] = st = new ImSession();
    return st;
  }

  /** The rooms of read fan-out groups are for their members: the client may join one itself only if it is a member. */
  mayJoin(s: Session, room: string): boolean {
    if (!room.startsWith(GROUP_ROOM_PREFIX)) return true;
    const gid = Number(room.slice(GROUP_ROOM_PREFIX.length));
    if (!Number.isSafeInteger(gid) || gid <= 0) return false;
    // In cluster mode membership is in Redis and this answer must be synchronous: refused (not built;
    // docs/cluster.md says so), never allowed on a pending answer.
    return this.service.store.isMember(gid, s.mid) === true;
  }

  /** A message (op 112) or a sync reply (op 115) from the shard, for this session. */
  onRecord(s: Session, kind: number, buf: Uint8Array, off: number, len: number): void {
    if (!s.open) return;
    // Same bound as pushes: a client that stops reading is closed, its unacked messages wait in its inbox.
    if (s.transport.queuedBytes() > this.writeQueueBytes) s.dropSlow();
    else if (kind === MessageKind.ImDeliver) s.transport.sendPacket(1, ImOp.Message, 0, buf.subarray(off, off + len));
    else {
      const st = s.ext[this.slot] as ImSession | undefined;
      s.transport.sendPacket(st?.syncVer ?? 1, ImOp.SyncReply, st?.syncSeq ?? 0, buf.subarray(off, off + len));
    }
  }

  onClose(): void {
    // Nothing to undo: the shard drops the device when the router entry goes (RouterShard.onRemoved).
  }

  /** Ops 110, 113, 114 of an open session. */
  onPacket(conn: Session, ver: number, op: number, seq: number, buf: Uint8Array, off: number, len: number): void {
    switch (op) {
      case ImOp.Send:
        this.send(conn, ver, seq, buf, off, len);
        return;
      case ImOp.Ack: {
        if (len !== 8 && len !== 9) return this.bad(conn, ver, op, seq, 'ack body: [u64 seq] or [u64 seq][u8 single]');
        const s = getU64(new DataView(buf.buffer, buf.byteOffset + off, 8), 0);
        const single = len === 9 && buf[off + 8] === 1;
        this.toShard(conn, MessageKind.ImAck, encodeAck(this.ref(conn), s, single));
        return;
      }
      case ImOp.Sync: {
        if (len !== 0 && len !== 12 && len !== 20) return this.bad(conn, ver, op, seq, 'sync body: empty, [u64 after][u32 limit], or [u64 after][u32 limit][u64 group]');
        if (len === 20) {
          const dv = new DataView(buf.buffer, buf.byteOffset + off, len);
          this.syncGroup(conn, ver, seq, getU64(dv, 12), getU64(dv, 0), dv.getUint32(8));
          return;
        }
        const st = this.state(conn);
        st.synced = true;
        st.syncSeq = seq;
        st.syncVer = ver;
        if (len === 0) this.toShard(conn, MessageKind.ImSync, encodeSync(this.ref(conn), -1, 0));
        else {
          const dv = new DataView(buf.buffer, buf.byteOffset + off, len);
          this.toShard(conn, MessageKind.ImSync, encodeSync(this.ref(conn), getU64(dv, 0), dv.getUint32(8)));
        }
        return;
      }
      default:
        return;
    }
  }

  /**
   * The shard owning this connection's user was replaced (its worker died): its cursors are gone, so
   * delivery resumes from the device's read position (unacked messages come again; the client drops
   * duplicates by seq).
   */
  resync(conn: Session): void {
    if ((conn.ext[this.slot] as ImSession | undefined)?.synced === true) this.toShard(conn, MessageKind.ImSync, encodeSync(this.ref(conn), -1, 0));
  }

  private ref(conn: Session): { mid: number; worker: number; connId: number; key: string } {
    return { mid: conn.mid, worker: this.system.self, connId: conn.id, key: conn.key };
  }

  private toShard(conn: Session, kind: MessageKind, body: Uint8Array): void {
    this.system.send(shardOfMid(conn.mid, this.workers), ActorKind.RouterShard, RouterActorId.Im, kind, body);
  }

  private bad(conn: Session, ver: number, op: number, seq: number, reason: string): void {
    conn.transport.sendPacket(ver, ExtOp.ErrorReply, seq, enc.encode(JSON.stringify({ op, code: ImCode.BadRequest, reason })));
  }

  /** Read fan-out group: a page straight from the group inbox (no cursor: the client pages by group seq). */
  private syncGroup(conn: Session, ver: number, seq: number, gid: number, after: number, limit: number): void {
    const store = this.service.store;
    const member = store.isMember(gid, conn.mid);
    // LMDB answers at once (memory-mapped reads); the Redis store of cluster mode later.
    const page = (): ReturnType<typeof store.groupRange> => store.groupRange(gid, after, Math.min(limit || MAX_PAGE, MAX_PAGE), Date.now() - this.cfg.retainMs);
    if (typeof member === 'boolean') {
      if (!member) return this.groupPage(conn, ver, seq, gid, after, false, [], 0);
      return this.groupPage(conn, ver, seq, gid, after, true, page() as Uint8Array[], (store.group(gid) as [number, number, number] | undefined)?.[2] ?? 0);
    }
    Promise.all([member, page(), store.group(gid)]).then(
      ([m, msgs, g]) => this.groupPage(conn, ver, seq, gid, after, m, msgs, g?.[2] ?? 0),
      (err: unknown) => {
        if (conn.open) conn.transport.sendPacket(ver, ExtOp.ErrorReply, seq, enc.encode(JSON.stringify({ op: ImOp.Sync, code: ImCode.Unavailable, reason: (err as Error).message })));
      },
    );
  }

  private groupPage(conn: Session, ver: number, seq: number, gid: number, after: number, member: boolean, page: Uint8Array[], latest: number): void {
    if (!conn.open) return;
    if (!member) {
      conn.transport.sendPacket(ver, ExtOp.ErrorReply, seq, enc.encode(JSON.stringify({ op: ImOp.Sync, code: ImCode.NotMember, reason: `not a member of group ${gid}` })));
      return;
    }
    for (const msg of page) conn.transport.sendPacket(ver, ImOp.Message, 0, msg);
    const reply = new Uint8Array(16);
    const dv = new DataView(reply.buffer);
    setU64(dv, 0, after);
    setU64(dv, 8, latest);
    conn.transport.sendPacket(ver, ImOp.SyncReply, seq, reply);
  }

  private send(conn: Session, ver: number, seq: number, buf: Uint8Array, off: number, len: number): void {
    if (len < 15) return sendReply(conn, ver, seq, ImCode.BadRequest, 'send body: [u8 kind][u64 target][i32 op][u16 cmidLen][client_msg_id][body]');
    const dv = new DataView(buf.buffer, buf.byteOffset + off, len);
    const kind = buf[off]!;
    const target = getU64(dv, 1);
    const op = dv.getInt32(9);
    const cl = dv.getUint16(13);
    if ((kind !== 0 && kind !== 1) || 15 + cl > len) return sendReply(conn, ver, seq, ImCode.BadRequest, 'send body: kind must be 0 (user) or 1 (group), and client_msg_id must fit');
    if (target <= 0 || !Number.isSafeInteger(target)) return sendReply(conn, ver, seq, ImCode.UnknownTarget, `unknown target ${target}`);
    const st = this.state(conn);
    const limiter = st.limiter ?? (st.limiter = this.newLimiter());
    const refused = limiter.tryStart(Date.now());
    if (refused !== 0) return sendReply(conn, ver, seq, ImCode.RateLimited, refused === UpstreamStatus.RateLimited ? 'rate limited' : 'too many sends in flight');
    const cmid = dec.decode(buf.subarray(off + 15, off + 15 + cl));
    const body = buf.slice(off + 15 + cl, off + len);
    const from = conn.mid;
    const done = kind === 0 ? this.service.sendToUsers(from, [target], op, body, cmid).then((s) => ({ seq: s })) : this.service.sendToGroup(from, target, op, body, cmid);
    done.then(
      (extra) => {
        limiter.finish();
        sendReply(conn, ver, seq, ImCode.Ok, '', extra);
      },
      (err: unknown) => {
        limiter.finish();
        if (err instanceof ImError) sendReply(conn, ver, seq, err.status, err.message);
        else sendReply(conn, ver, seq, ImCode.Unavailable, 'internal error');
      },
    );
  }
}
