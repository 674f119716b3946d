/**
 * The reliable-messaging store: one LMDB environment under `im.dataDir`, opened by every thread that
 * needs it (lmdb-js shares one environment per path inside a process). Writes of a user's inbox come
 * only from the worker whose router shard owns the user, so per-user sequence numbers need no lock;
 * reads (sync pages, /im/inbox, group members) are synchronous memory-mapped reads from any thread.
 *
 * Durability: async puts made in one event-loop turn are committed as one transaction (lmdb-js event
 * turn batching); `durable()` resolves once everything written before it is committed and flushed to
 * disk (fsync'd: lmdb-js's overlapping sync, `noSync` off). Nothing is acknowledged before that.
 *
 * Databases (keys are lmdb ordered-binary arrays, so ranges come out in seq order):
 *   inbox   [mid, seq]              → message bytes (src/im/message.ts), binary
 *   meta    mid                     → last seq allocated to the user
 *   reads   [mid, deviceKey]        → the device's read position (everything ≤ it is acked)
 *   idem    [bucket, from, clientMsgId, to] → [seq, ts]: a retried send answers this seq; bucket =
 *           floor(ts / idempotencyMs), so a lookup reads two buckets and expiry drops whole old ones
 *   groups  gid                     → [createdTs, memberCount, lastGroupSeq]
 *   members [gid, mid]              → 1
 *   ginbox  [gid, seq]              → message bytes (read fan-out groups)
 */
import fs from 'node:fs';
import { open, type Database, type RootDatabase } from 'lmdb';
import { messageTs } from './message.js';

type Key = number | string | Array<number | string>;

/** Who sent a group message with which client_msg_id, and how long that is remembered. */
export interface GroupIdempotency {
  from: number;
  clientMsgId: string;
  ts: number;
  windowMs: number;
}

export class ImStore {
  readonly root: RootDatabase;
  readonly inbox: Database<Uint8Array, Key>;
  readonly meta: Database<number, Key>;
  readonly reads: Database<number, Key>;
  readonly idem: Database<[number, number], Key>;
  readonly groups: Database<[number, number, number], Key>;
  readonly members: Database<number, Key>;
  readonly ginbox: Database<Uint8Array, Key>;

  constructor(dir: string) {
    fs.mkdirSync(dir, { recursive: true });
    // separateFlushed: a write's promise resolves at commit and carries `flushed`, resolved once that
    // commit is on disk (overlapping sync: the fsync runs outside the writer lock).
    this.root = open({ path: dir, maxDbs: 16, separateFlushed: true });
    this.inbox = this.root.openDB({ name: 'inbox', encoding: 'binary' });
    this.meta = this.root.openDB({ name: 'meta' });
    this.reads = this.root.openDB({ name: 'reads' });
    this.idem = this.root.openDB({ name: 'idem' });
    this.groups = this.root.openDB({ name: 'groups' });
    this.members = this.root.openDB({ name: 'members' });
    this.ginbox = this.root.openDB({ name: 'ginbox', encoding: 'binary' });
  }

  /** Resolves when every write made before the call is committed and flushed to disk. */
  async durable(): Promise<void> {
    await this.root.flushed;
  }

  /** Resolves when the transaction holding `write` (a promise from append) is committed and flushed to disk. */
  async flushed(write: Promise<boolean>): Promise<void> {
    await write;
    await ((write as Promise<boolean> & { flushed?: Promise<void> }).flushed ?? this.root.flushed);
  }

  lastSeq(mid: number): number {
    return this.meta.get(mid) ?? 0;
  }

  /** Queues a message into a user's inbox (committed with the other writes of this turn). */
  append(mid: number, seq: number, msg: Uint8Array): Promise<boolean> {
    void this.meta.put(mid, seq);
    return this.inbox.put([mid, seq], msg);
  }

  /**
   * Messages of `mid` with after < seq ≤ upTo, at most `limit`, in seq order, skipping those older
   * than `minTs` (retention by age applies to reads at once; removal follows on later writes).
   */
  range(mid: number, after: number, upTo: number, limit: number, minTs: number, out: Uint8Array[] = []): Uint8Array[] {
    if (upTo <= after || limit <= 0) return out;
    for (const { value } of this.inbox.getRange({ start: [mid, after + 1], end: [mid, upTo + 1], limit })) {
      if (minTs > 0 && messageTs(value) < minTs) continue;
      out.push(value);
    }
    return out;
  }

  /** The oldest message kept for a user: [seq, ts], or undefined when the inbox is empty. */
  oldest(mid: number): [number, number] | undefined {
    for (const { key, value } of this.inbox.getRange({ start: [mid, 0], end: [mid, Number.MAX_SAFE_INTEGER], limit: 1 })) return [(key as [number, number])[1], messageTs(value)];
    return undefined;
  }

  /** The ts of a committed message, undefined if there is none under that seq. */
  messageTs(mid: number, seq: number): number | undefined {
    const v = this.inbox.getBinaryFast([mid, seq]);
    return v === undefined ? undefined : messageTs(v);
  }

  removeMessage(mid: number, seq: number): void {
    void this.inbox.remove([mid, seq]);
  }

  readPosition(mid: number, device: string): number {
    return this.reads.get([mid, device]) ?? 0;
  }

  /** Every device of the user with its read position. */
  readPositions(mid: number): Array<{ device: string; read: number }> {
    const out: Array<{ device: string; read: number }> = [];
    for (const { key, value } of this.reads.getRange({ start: [mid], end: [mid + 1] })) out.push({ device: String((key as [number, string])[1]), read: value });
    return out;
  }

  setReadPosition(mid: number, device: string, seq: number): void {
    void this.reads.put([mid, device], seq);
  }

  /** The seq a send with this client_msg_id got within the last `windowMs`, if any. */
  idempotent(from: number, clientMsgId: string, to: number, now: number, windowMs: number): number | undefined {
    const b = Math.floor(now / windowMs);
    for (const bucket of [b, b - 1]) {
      const v = this.idem.get([bucket, from, clientMsgId, to]);
      if (v !== undefined && v[1] + windowMs > now) return v[0];
    }
    return undefined;
  }

  rememberSend(from: number, clientMsgId: string, to: number, seq: number, ts: number, windowMs: number): void {
    void this.idem.put([Math.floor(ts / windowMs), from, clientMsgId, to], [seq, ts]);
  }

  /** Removes idempotency entries of buckets no lookup reads any more (at most `budget`); returns how many. */
  expireIdempotency(now: number, windowMs: number, budget = 100_000): number {
    let n = 0;
    for (const key of this.idem.getKeys({ start: [0], end: [Math.floor(now / windowMs) - 1], limit: budget })) {
      void this.idem.remove(key);
      n++;
    }
    return n;
  }

  // ---- groups ----

  group(gid: number): [number, number, number] | undefined {
    return this.groups.get(gid);
  }

  isMember(gid: number, mid: number): boolean {
    return this.members.get([gid, mid]) !== undefined;
  }

  groupMembers(gid: number, limit = Infinity): number[] {
    const out: number[] = [];
    for (const key of this.members.getKeys({ start: [gid, 0], end: [gid + 1, 0], limit })) out.push((key as [number, number])[1]);
    return out;
  }

  /** Creates a group (false if it exists) and adds the members; resolves once durable. */
  async createGroup(gid: number, members: number[]): Promise<boolean> {
    const created = await this.root.transaction(() => {
      if (this.groups.get(gid) !== undefined) return false;
      void this.groups.put(gid, [Date.now(), 0, 0]);
      this.addInTxn(gid, members);
      return true;
    });
    await this.durable();
    return created;
  }

  /** Adds or removes members of an existing group (false if there is no such group); resolves once durable. */
  async changeMembers(gid: number, add: number[], remove: number[]): Promise<boolean> {
    const ok = await this.root.transaction(() => {
      if (this.groups.get(gid) === undefined) return false;
      this.addInTxn(gid, add);
      let [created, count, seq] = this.groups.get(gid)!;
      for (const mid of remove) {
        if (this.members.get([gid, mid]) === undefined) continue;
        void this.members.remove([gid, mid]);
        count--;
      }
      void this.groups.put(gid, [created, count, seq]);
      return true;
    });
    await this.durable();
    return ok;
  }

  private addInTxn(gid: number, mids: number[]): void {
    let [created, count, seq] = this.groups.get(gid)!;
    for (const mid of mids) {
      if (this.members.get([gid, mid]) !== undefined) continue;
      void this.members.put([gid, mid], 1);
      count++;
    }
    void this.groups.put(gid, [created, count, seq]);
  }

  /** Appends to a read fan-out group's own inbox under the next group seq; resolves with the seq once durable. */
  async appendGroup(gid: number, make: (seq: number) => Uint8Array, idem: GroupIdempotency | null = null): Promise<{ seq: number; fresh: boolean }> {
    const r = await this.root.transaction(() => {
      const g = this.groups.get(gid);
      if (g === undefined) return { seq: 0, fresh: false };
      // Checked inside the write transaction, so concurrent retries of one send cannot both store it.
      // The group takes the recipient place of the idempotency key, as -gid (mids are positive).
      const seen = idem === null ? undefined : this.idempotent(idem.from, idem.clientMsgId, -gid, idem.ts, idem.windowMs);
      if (seen !== undefined) return { seq: seen, fresh: false };
      const next = g[2] + 1;
      void this.groups.put(gid, [g[0], g[1], next]);
      void this.ginbox.put([gid, next], make(next));
      if (idem !== null) this.rememberSend(idem.from, idem.clientMsgId, -gid, next, idem.ts, idem.windowMs);
      return { seq: next, fresh: true };
    });
    await this.durable();
    return r;
  }

  groupRange(gid: number, after: number, limit: number, minTs: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const { value } of this.ginbox.getRange({ start: [gid, after + 1], end: [gid + 1, 0], limit })) {
      if (messageTs(value) >= minTs) out.push(value);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.root.close();
  }
}
