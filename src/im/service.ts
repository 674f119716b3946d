/**
 * Reliable messaging as the senders see it (the control API in the acceptor, op 110 in the workers):
 * validation, group rules (membership, write vs read fan-out), and reads of inboxes. Writes to user
 * inboxes go through the thread's InboxSender (actors/im-requests.ts) to the owning shards; group bookkeeping and read fan-out group
 * inboxes are written here directly (LMDB transactions, serialised by LMDB's writer lock).
 */
import type { ImConfig } from '../config/index.js';
import { decodeMessage, encodeMessage, messageJson, utf8 } from './message.js';
import { ImCode } from './records.js';
import { ImError, type InboxSender } from './requests.js';
import type { GroupIdempotency } from './store.js';

export const GROUP_ROOM_PREFIX = 'group://';

/** Room of a read fan-out group: members join it (op 100 or auth) to get its messages live. */
export function groupRoom(gid: number): string {
  return `${GROUP_ROOM_PREFIX}${gid}`;
}

export const MAX_RECIPIENTS = 10_000;
export const MAX_PAGE = 1000;

export interface GroupSendResult {
  /** Write fan-out: each member's seq. */
  seq?: Record<string, number>;
  /** Read fan-out: the group-level seq. */
  group_seq?: number;
}

/** A value now (the LMDB store's memory-mapped reads) or later (the Redis store in cluster mode). */
export type Maybe<T> = T | Promise<T>;

/**
 * What the service reads and writes besides the user inboxes' appends: the single-box LMDB store
 * (src/im/store.ts), or in cluster mode the Redis store (src/cluster/im-store-redis.ts).
 */
export interface ImData {
  range(mid: number, after: number, upTo: number, limit: number, minTs: number): Maybe<Uint8Array[]>;
  lastSeq(mid: number): Maybe<number>;
  readPositions(mid: number): Maybe<Array<{ device: string; read: number }>>;
  /** [created ts, member count, last group seq] */
  group(gid: number): Maybe<[number, number, number] | undefined>;
  isMember(gid: number, mid: number): Maybe<boolean>;
  groupMembers(gid: number): Maybe<number[]>;
  createGroup(gid: number, members: number[]): Promise<boolean>;
  changeMembers(gid: number, add: number[], remove: number[]): Promise<boolean>;
  appendGroup(gid: number, make: (seq: number) => Uint8Array, idem: GroupIdempotency | null): Promise<{ seq: number; fresh: boolean }>;
  groupRange(gid: number, after: number, limit: number, minTs: number): Maybe<Uint8Array[]>;
}

export type RoomBroadcast = (room: string, msg: Uint8Array) => void;
/** Takes a user's connections out of a room (all workers); resolves when done. */
export type RoomEvict = (mid: number, room: string) => Promise<void>;

export function checkMid(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw new ImError(ImCode.BadRequest, `${what} must be a positive integer (up to 2^53-1), got ${JSON.stringify(v)}`);
  return v;
}

export class ImService {
  readonly store: ImData;
  private readonly requests: InboxSender;
  private readonly cfg: ImConfig;
  private readonly broadcast: RoomBroadcast;
  private readonly evict: RoomEvict | null;

  constructor(store: ImData, requests: InboxSender, cfg: ImConfig, broadcast: RoomBroadcast, evict: RoomEvict | null = null) {
    this.store = store;
    this.requests = requests;
    this.cfg = cfg;
    this.broadcast = broadcast;
    this.evict = evict;
  }

  /** Adds and removes members; removed members' connections leave the group's room at once. False: no such group. */
  async changeMembers(gid: number, add: number[], remove: number[]): Promise<boolean> {
    if (!(await this.store.changeMembers(gid, add, remove))) return false;
    if (this.evict !== null) for (const mid of remove) await this.evict(mid, groupRoom(gid));
    return true;
  }

  /** Stores a message in each recipient's inbox; resolves with "mid" → seq once durable. */
  /** One limit on a message's body for every path (HTTP and op 110), checked before anything is stored. */
  private checkSize(body: Uint8Array): void {
    if (body.length > this.cfg.maxMessageBytes) throw new ImError(ImCode.TooLarge, `message body is ${body.length} bytes, over im.maxMessageBytes (${this.cfg.maxMessageBytes})`);
  }

  async sendToUsers(from: number, to: number[], op: number, body: Uint8Array, clientMsgId: string): Promise<Record<string, number>> {
    this.checkSize(body);
    if (to.length === 0) throw new ImError(ImCode.BadRequest, '"to" must name at least one recipient');
    if (to.length > MAX_RECIPIENTS) throw new ImError(ImCode.BadRequest, `"to" names more than ${MAX_RECIPIENTS} recipients`);
    const seqs = await this.requests.send({ from, op, group: 0, clientMsgId: utf8(clientMsgId), body, mids: to });
    return Object.fromEntries([...seqs].map(([mid, seq]) => [String(mid), seq]));
  }

  async sendToGroup(from: number, gid: number, op: number, body: Uint8Array, clientMsgId: string): Promise<GroupSendResult> {
    this.checkSize(body);
    const g = await this.store.group(gid);
    if (g === undefined) throw new ImError(ImCode.UnknownTarget, `unknown group ${gid}`);
    if (!(await this.store.isMember(gid, from))) throw new ImError(ImCode.NotMember, `${from} is not a member of group ${gid}`);
    const cmid = utf8(clientMsgId);
    if (g[1] <= this.cfg.groupFanoutMax) {
      const seqs = await this.requests.send({ from, op, group: gid, clientMsgId: cmid, body, mids: await this.store.groupMembers(gid) });
      return { seq: Object.fromEntries([...seqs].map(([mid, seq]) => [String(mid), seq])) };
    }
    // Read fan-out: one copy in the group's inbox under a group-level seq, broadcast to the group's room.
    const ts = Date.now();
    let stored: Uint8Array | null = null;
    const idem = clientMsgId !== '' && this.cfg.idempotencyMs > 0 ? { from, clientMsgId, ts, windowMs: this.cfg.idempotencyMs } : null;
    const r = await this.store.appendGroup(gid, (s) => (stored = encodeMessage(s, from, op, ts, gid, cmid, body)), idem);
    if (r.seq === 0) throw new ImError(ImCode.UnknownTarget, `unknown group ${gid}`);
    if (r.fresh && stored !== null) this.broadcast(groupRoom(gid), stored); // a retry is not broadcast again
    return { group_seq: r.seq };
  }

  async inbox(mid: number, after: number, limit: number): Promise<Array<ReturnType<typeof messageJson>>> {
    const msgs = await this.store.range(mid, after, Number.MAX_SAFE_INTEGER - 1, Math.min(limit, MAX_PAGE), Date.now() - this.cfg.retainMs);
    return msgs.map((m) => messageJson(decodeMessage(m)!));
  }

  async groupInbox(gid: number, after: number, limit: number): Promise<Array<ReturnType<typeof messageJson>>> {
    if ((await this.store.group(gid)) === undefined) throw new ImError(ImCode.UnknownTarget, `unknown group ${gid}`);
    return (await this.store.groupRange(gid, after, Math.min(limit, MAX_PAGE), Date.now() - this.cfg.retainMs)).map((m) => messageJson(decodeMessage(m)!));
  }
}
