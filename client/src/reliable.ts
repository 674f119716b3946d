/**
 * Reliable messages exactly once to the app (docs/reliable-messaging.md, "What a client does"):
 *
 *   - the last seq handed to the app (`lastSeq`) is the cursor: after every op 8 the client syncs
 *     (op 114) from it, and an op 112 at or below it is dropped, so the app sees each seq once, in
 *     increasing order, across any number of reconnects and server restarts;
 *   - acks (op 113, "up to") go after the handler returned, batched: every ACK_EVERY messages or
 *     ACK_INTERVAL_MS, whichever comes first;
 *   - with a store, lastSeq is saved after each message and read back before the first sync.
 *
 * Read fan-out group messages come live through the group's room with the group's seq; they are
 * deduplicated per group (in memory) and not acked (groups have no ack).
 */
import { dataView, getU64, setU64 } from './codec.js';
import { fromUtf8, type Timers } from './platform.js';
import type { SeqStore } from './store.js';
import type { Message } from './types.js';

export const ACK_EVERY = 50;
export const ACK_INTERVAL_MS = 1000;
const MESSAGE_HEAD = 38;

/** Decodes an op-112 body: [u64 seq][u64 from][i32 op][u64 ts][u64 group][u16 n][client_msg_id][body]. */
export function decodeImMessage(b: Uint8Array): Message | null {
  if (b.length < MESSAGE_HEAD) return null;
  const dv = dataView(b);
  const n = dv.getUint16(36);
  if (MESSAGE_HEAD + n > b.length) return null;
  const group = getU64(dv, 28);
  const m: Message = {
    seq: getU64(dv, 0),
    from: getU64(dv, 8),
    op: dv.getInt32(16),
    ts: getU64(dv, 20),
    body: b.subarray(MESSAGE_HEAD + n),
    clientMsgId: n === 0 ? '' : fromUtf8(b.subarray(MESSAGE_HEAD, MESSAGE_HEAD + n)),
  };
  if (group !== 0) m.group = group;
  return m;
}

export function u64Body(n: number, extra = 0): Uint8Array {
  const out = new Uint8Array(8 + extra);
  setU64(dataView(out), 0, n);
  return out;
}

export interface Identity {
  mid: number;
  key: string;
}

export class Inbox {
  /** The last seq handed to the app; null = not known yet (resume from the device's read position on the server). */
  lastSeq: number | null = null;
  /** Made on the first read fan-out group message (most devices never get one). */
  private groupSeqs: Map<number, number> | null = null;
  private identity: Identity | null = null;
  private loaded = false;
  private readonly store: SeqStore | null;
  private readonly timers: Timers;
  private readonly sendAck: (seq: number) => boolean;
  private ackTimer: unknown = null;
  private unacked = 0;
  private ackSeq = 0;

  constructor(store: SeqStore | null, timers: Timers, sendAck: (seq: number) => boolean) {
    this.store = store;
    this.timers = timers;
    this.sendAck = sendAck;
  }

  /**
   * Before each connection: who the device is. A change of user or key drops the cursor; the store is
   * read once, for the first identity.
   */
  async prepare(id: Identity): Promise<void> {
    if (this.identity !== null && (this.identity.mid !== id.mid || this.identity.key !== id.key)) {
      this.lastSeq = null;
      this.groupSeqs = null;
    }
    this.identity = id;
    if (this.loaded || this.store === null) return;
    this.loaded = true;
    const r = await this.store.load();
    if (r !== null && r.mid === id.mid && r.key === id.key && this.lastSeq === null) this.lastSeq = r.seq;
  }

  /** The op-114 body: from lastSeq, or empty (resume from the server's read position). */
  syncBody(): Uint8Array {
    if (this.lastSeq === null) return new Uint8Array(0);
    return u64Body(this.lastSeq, 4); // [u64 after][u32 limit = 0: the server's ack window]
  }

  /** Op 115: [u64 after][u64 latest]; delivery starts after `after`. */
  onSyncReply(body: Uint8Array): void {
    if (body.length < 16 || this.lastSeq !== null) return;
    this.lastSeq = getU64(dataView(body), 0);
  }

  /** Whether `m` is new to the app (false: a duplicate, or older than what was handed). */
  isNew(m: Message, viaRoom: boolean): boolean {
    if (viaRoom && m.group !== undefined) return m.seq > (this.groupSeqs?.get(m.group) ?? 0);
    return this.lastSeq === null || m.seq > this.lastSeq;
  }

  /** The handler of `m` returned: move the cursor, save it, ack in a batch. */
  handed(m: Message, viaRoom: boolean): void {
    if (viaRoom && m.group !== undefined) {
      (this.groupSeqs ??= new Map()).set(m.group, m.seq);
      return;
    }
    this.lastSeq = m.seq;
    if (this.store !== null && this.identity !== null) this.store.save({ mid: this.identity.mid, key: this.identity.key, seq: m.seq });
    this.ackSeq = m.seq;
    if (++this.unacked >= ACK_EVERY) this.flush();
    else if (this.ackTimer === null) this.ackTimer = this.timers.setTimeout(() => this.flush(), ACK_INTERVAL_MS);
  }

  /** Sends the batched ack now (if the connection is open; otherwise the next sync moves the read position). */
  flush(): void {
    this.cancelTimer();
    if (this.unacked === 0) return;
    if (this.sendAck(this.ackSeq)) this.unacked = 0;
  }

  /** The connection ended: the next sync (from lastSeq) stands for the acks not sent. */
  disconnected(): void {
    this.cancelTimer();
    this.unacked = 0;
  }

  private cancelTimer(): void {
    if (this.ackTimer !== null) this.timers.clearTimeout(this.ackTimer);
    this.ackTimer = null;
  }
}
