/**
 * The reliable-messaging store in cluster mode: the operations the IM shard and the messaging
 * service need (src/im/store.ts has the single-box LMDB ones), on Redis, async, each bounded by the
 * connection's deadline (src/cluster/im-redis.ts: a typed 503 error, never a hang).
 *
 * Writes of a user's inbox go through one Lua script in the user's slot (src/cluster/im-scripts.ts),
 * which allocates the seq, stores the message, records the client_msg_id and trims, atomically: any
 * box may call it, and two boxes appending to one user at once get seqs n and n+1 in some order,
 * never the same; the same script publishes the notices to the other boxes holding the user's
 * devices (src/cluster/im-peers-redis.ts). Keys are in src/cluster/im-keys.ts. An acknowledged append is durable as far as
 * Redis's persistence makes it: with `appendonly yes` and `appendfsync always` Redis fsyncs its
 * append-only file before it answers (docs/cluster.md, "Reliable messaging").
 */
import { ImKeys } from './im-keys.js';
import { ImRedis, type Reply } from './im-redis.js';
import { APPEND, APPEND_GROUP, CHANGE_MEMBERS, CREATE_GROUP, SET_READ } from './im-scripts.js';
import { messageSeq, messageTs } from '../im/message.js';
import type { GroupIdempotency } from '../im/store.js';

export interface RetainPolicy {
  /** im.retainCount */
  count: number;
  /** im.retainMs */
  ms: number;
  /** im.idempotencyMs (0: ids are not remembered) */
  idempotencyMs: number;
}

export interface Appended {
  seq: number;
  /** False: a send with this client_msg_id was stored before (nothing written now). */
  fresh: boolean;
}

/** Where this thread's appends publish their notices (src/cluster/im-peers-redis.ts), if anywhere. */
export interface NoticeTarget {
  /** `<prefix>:im:notify:`: a member's channel is this and the member. */
  channelPrefix: string;
  /** This shard's member of the users' `boxes` sets (`<nodeId>:<worker>`): not notified of its own writes. */
  self: string;
}

/** The group record: created ts, member count, last group seq (as src/im/store.ts's `group`). */
export type GroupRecord = [number, number, number];

export class RedisImStore {
  readonly keys: ImKeys;
  readonly redis: ImRedis;
  private readonly retain: RetainPolicy;
  private notices: NoticeTarget | null = null;

  constructor(redis: ImRedis, prefix: string, retain: RetainPolicy) {
    this.redis = redis;
    this.keys = new ImKeys(prefix);
    this.retain = retain;
  }

  /** From now on, each append notifies the other shards holding the recipient's devices. */
  notifyFrom(target: NoticeTarget): void {
    this.notices = target;
  }

  /**
   * Stores `msg` (src/im/message.ts bytes; its seq field is overwritten) in `mid`'s inbox under the
   * next seq. With a client_msg_id (and im.idempotencyMs > 0), a send already stored answers its seq.
   */
  async append(mid: number, msg: Uint8Array, from: number, clientMsgId: string): Promise<Appended> {
    const keys = [this.keys.seq(mid), this.keys.inbox(mid), this.keys.boxes(mid)];
    if (clientMsgId !== '' && this.retain.idempotencyMs > 0) keys.push(this.keys.idem(mid, from, clientMsgId));
    const n = this.notices;
    return this.appendWith(APPEND, keys, msg, [n?.channelPrefix ?? '', n?.self ?? '', String(mid)]);
  }

  /**
   * A read fan-out group's message under the next group seq ({seq: 0} when there is no such group),
   * as src/im/store.ts's: `make(seq)` builds the message; it is called with 0 for the bytes sent to
   * the script, and again with the group seq once a fresh one is stored (so the caller's copy has it).
   */
  async appendGroup(gid: number, make: (seq: number) => Uint8Array, idem: GroupIdempotency | null): Promise<Appended> {
    const keys = [this.keys.group(gid), this.keys.groupInbox(gid)];
    if (idem !== null && this.retain.idempotencyMs > 0) keys.push(this.keys.groupIdem(gid, idem.from, idem.clientMsgId));
    const r = await this.appendWith(APPEND_GROUP, keys, make(0));
    if (r.fresh) make(r.seq);
    return r;
  }

  private async appendWith(s: typeof APPEND, keys: string[], msg: Uint8Array, extra: string[] = []): Promise<Appended> {
    const ts = messageTs(msg);
    const r = (await this.redis.eval(s, keys, [
      Buffer.from(msg.buffer, msg.byteOffset, msg.length),
      String(this.retain.count),
      String(this.retain.ms),
      String(ts - this.retain.ms),
      String(Math.max(1, this.retain.idempotencyMs)),
      ...extra,
    ])) as [number, number];
    return { seq: Number(r[0]), fresh: Number(r[1]) === 1 };
  }

  async lastSeq(mid: number): Promise<number> {
    return Number((await this.redis.call(['GET', this.keys.seq(mid)])) ?? 0);
  }

  /** Messages of `mid` with after < seq ≤ upTo, at most `limit`, in seq order, none older than `minTs`. */
  async range(mid: number, after: number, upTo: number, limit: number, minTs: number): Promise<Uint8Array[]> {
    return this.streamRange(this.keys.inbox(mid), after, upTo, limit, minTs);
  }

  /** The oldest message kept for a user: [seq, ts], or undefined when the inbox is empty. */
  async oldest(mid: number): Promise<[number, number] | undefined> {
    const r = await this.streamRange(this.keys.inbox(mid), 0, Number.MAX_SAFE_INTEGER, 1, 0);
    return r.length === 0 ? undefined : [messageSeq(r[0]!), messageTs(r[0]!)];
  }

  private async streamRange(key: string, after: number, upTo: number, limit: number, minTs: number): Promise<Uint8Array[]> {
    if (upTo <= after || limit <= 0) return [];
    const r = (await this.redis.call(['XRANGE', key, String(after + 1), String(upTo), 'COUNT', String(limit)], true)) as Array<[Buffer, Buffer[]]>;
    const out: Uint8Array[] = [];
    for (const [, fields] of r) {
      const m = fields[1];
      if (m === undefined || (minTs > 0 && messageTs(m) < minTs)) continue;
      out.push(m);
    }
    return out;
  }

  async readPosition(mid: number, device: string): Promise<number> {
    return Number((await this.redis.call(['HGET', this.keys.reads(mid), device])) ?? 0);
  }

  /** Every device of the user with its read position. */
  async readPositions(mid: number): Promise<Array<{ device: string; read: number }>> {
    const r = (await this.redis.call(['HGETALL', this.keys.reads(mid)])) as string[];
    const out: Array<{ device: string; read: number }> = [];
    for (let i = 0; i + 1 < r.length; i += 2) out.push({ device: String(r[i]), read: Number(r[i + 1]) });
    return out;
  }

  /** Moves the device's read position to `seq` if that is higher (never beyond the last seq); resolves with the position. */
  async setReadPosition(mid: number, device: string, seq: number): Promise<number> {
    return Number(await this.redis.eval(SET_READ, [this.keys.reads(mid), this.keys.seq(mid)], [device, String(seq)]));
  }

  /** The seq a send with this client_msg_id got within im.idempotencyMs, if any. */
  async idempotent(from: number, clientMsgId: string, to: number): Promise<number | undefined> {
    const v = await this.redis.call(['GET', this.keys.idem(to, from, clientMsgId)]);
    return v === null ? undefined : Number(v);
  }

  // ---- groups ----

  async group(gid: number): Promise<GroupRecord | undefined> {
    const r = (await this.redis.call(['HMGET', this.keys.group(gid), 'created', 'count', 'seq'])) as Array<string | null>;
    if (r[0] === null || r[0] === undefined) return undefined;
    return [Number(r[0]), Number(r[1] ?? 0), Number(r[2] ?? 0)];
  }

  async isMember(gid: number, mid: number): Promise<boolean> {
    return Number(await this.redis.call(['SISMEMBER', this.keys.members(gid), String(mid)])) === 1;
  }

  async groupMembers(gid: number): Promise<number[]> {
    const r = (await this.redis.call(['SMEMBERS', this.keys.members(gid)])) as string[];
    return r.map(Number).sort((a, b) => a - b);
  }

  /** Creates a group (false if it exists) with its members. */
  async createGroup(gid: number, members: number[]): Promise<boolean> {
    return Number(await this.redis.eval(CREATE_GROUP, [this.keys.group(gid), this.keys.members(gid)], [String(Date.now()), ...members.map(String)])) === 1;
  }

  /** Adds or removes members of an existing group (false if there is no such group). */
  async changeMembers(gid: number, add: number[], remove: number[]): Promise<boolean> {
    const args = [String(add.length), ...add.map(String), ...remove.map(String)];
    return Number(await this.redis.eval(CHANGE_MEMBERS, [this.keys.group(gid), this.keys.members(gid)], args)) === 1;
  }

  async groupRange(gid: number, after: number, limit: number, minTs: number): Promise<Uint8Array[]> {
    return this.streamRange(this.keys.groupInbox(gid), after, Number.MAX_SAFE_INTEGER, limit, minTs);
  }

  async close(): Promise<void> {
    await this.redis.close();
  }
}

export type { Reply };
