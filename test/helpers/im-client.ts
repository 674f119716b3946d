/**
 * A reliable-messaging test client over the goim test client: syncs, acks, sends (op 110) and keeps
 * the messages (op 112) it received, deduplicated by seq as a real client must.
 */
import { Op } from '../../src/codec.js';
import { decodeMessage, type MessageFields } from '../../src/im/message.js';
import { GoimClient, type Kind, type Packet } from './goim-client.js';

export const IM_SEND = 110;
export const IM_SEND_REPLY = 111;
export const IM_MESSAGE = 112;
export const IM_ACK = 113;
export const IM_SYNC = 114;
export const IM_SYNC_REPLY = 115;

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(Math.floor(n / 0x100000000), 0);
  b.writeUInt32BE(n >>> 0, 4);
  return b;
}

function readU64(b: Buffer, at: number): number {
  return b.readUInt32BE(at) * 0x100000000 + b.readUInt32BE(at + 4);
}

export class ImClient {
  readonly c: GoimClient;
  readonly mid: number;
  readonly key: string;
  /** Every op-112 packet received, duplicates included, in arrival order. */
  readonly received: MessageFields[] = [];
  /** performance.now() when each of `received` arrived. */
  readonly arrivals: number[] = [];
  /** Deduplicated by seq. */
  readonly bySeq = new Map<number, MessageFields>();
  readonly syncReplies: Array<{ after: number; latest: number }> = [];
  /** Header seq of each op 115 (it echoes the op 114 it answers). */
  readonly syncReplySeqs: number[] = [];
  /** Waiters for the next packet of an op other than the IM ones (heartbeat replies, room joins). */
  private readonly opWaiters = new Map<number, Array<(p: Packet) => void>>();
  private readonly sendWaiters = new Map<number, (reply: any) => void>();
  readonly errors: any[] = [];
  private reqSeq = 10;
  private pumping: Promise<void>;

  private constructor(c: GoimClient, mid: number, key: string) {
    this.c = c;
    this.mid = mid;
    this.key = key;
    this.pumping = this.pump();
  }

  static async connect(port: number, mid: number, key: string, kind: Kind = 'tcp'): Promise<ImClient> {
    const c = await GoimClient.connect(kind, port);
    const r = await c.auth({ mid, key, platform: 'web', accepts: [1000] });
    if (r.op !== Op.AuthReply) throw new Error(`auth failed: op ${r.op} ${r.body.toString()}`);
    return new ImClient(c, mid, key);
  }

  private async pump(): Promise<void> {
    for (;;) {
      let p: Packet | null;
      try {
        p = await this.c.next(600_000);
      } catch {
        return;
      }
      if (p === null) return;
      if (p.op === IM_MESSAGE) {
        const m = decodeMessage(p.body)!;
        this.received.push(m);
        this.arrivals.push(performance.now());
        if (!this.bySeq.has(m.seq)) this.bySeq.set(m.seq, m);
      } else if (p.op === IM_SYNC_REPLY) {
        this.syncReplies.push({ after: readU64(p.body, 0), latest: readU64(p.body, 8) });
        this.syncReplySeqs.push(p.seq);
      } else if (p.op === IM_SEND_REPLY) {
        this.sendWaiters.get(p.seq)?.(JSON.parse(p.body.toString()));
        this.sendWaiters.delete(p.seq);
      } else if (p.op === 199) {
        this.errors.push(JSON.parse(p.body.toString()));
      } else {
        this.opWaiters.get(p.op)?.shift()?.(p);
      }
    }
  }

  /** Sync from `after` (undefined: from the device's read position on the server); returns the request's header seq. */
  sync(after?: number, limit = 0): number {
    const seq = this.reqSeq++;
    if (after === undefined) this.c.send(IM_SYNC, seq, Buffer.alloc(0));
    else {
      const b = Buffer.alloc(12);
      u64(after).copy(b, 0);
      b.writeUInt32BE(limit, 8);
      this.c.send(IM_SYNC, seq, b);
    }
    return seq;
  }

  syncGroup(group: number, after: number, limit = 0): void {
    const b = Buffer.alloc(20);
    u64(after).copy(b, 0);
    b.writeUInt32BE(limit, 8);
    u64(group).copy(b, 12);
    this.c.send(IM_SYNC, this.reqSeq++, b);
  }

  ack(seq: number, single = false): void {
    this.c.send(IM_ACK, this.reqSeq++, single ? Buffer.concat([u64(seq), Buffer.from([1])]) : u64(seq));
  }

  /** Sends op 110; resolves with the JSON of op 111. */
  async send(kind: 0 | 1, target: number, body: string, clientMsgId = '', op = 1000): Promise<any> {
    const seq = this.reqSeq++;
    const cmid = Buffer.from(clientMsgId);
    const head = Buffer.alloc(15);
    head[0] = kind;
    u64(target).copy(head, 1);
    head.writeInt32BE(op, 9);
    head.writeUInt16BE(cmid.length, 13);
    const reply = new Promise<any>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no op 111 within 10 s')), 10_000);
      this.sendWaiters.set(seq, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
    this.c.send(IM_SEND, seq, Buffer.concat([head, cmid, Buffer.from(body)]));
    return reply;
  }

  /** Sends a packet and resolves with the next packet of `replyOp`. */
  request(op: number, body: string | Buffer | null, replyOp: number): Promise<Packet> {
    const got = this.waitOp(replyOp);
    this.c.send(op, this.reqSeq++, body);
    return got;
  }

  /** The next packet of `op` (other than the reliable-messaging ops). */
  waitOp(op: number): Promise<Packet> {
    const replyOp = op;
    return new Promise<Packet>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no op ${replyOp} within 5 s`)), 5000);
      const list = this.opWaiters.get(replyOp) ?? [];
      list.push((p) => {
        clearTimeout(timer);
        resolve(p);
      });
      this.opWaiters.set(replyOp, list);
    });
  }

  /** Highest seq S such that 1..S (from `from`) all arrived. */
  contiguous(from = 1): number {
    let s = from - 1;
    while (this.bySeq.has(s + 1)) s++;
    return s;
  }

  bodies(): string[] {
    return [...this.bySeq.values()].sort((a, b) => a.seq - b.seq).map((m) => Buffer.from(m.body).toString());
  }

  close(): void {
    this.c.close();
  }

  async closed(): Promise<void> {
    await this.c.closed;
    await this.pumping;
  }
}

/** POSTs JSON to the control port. */
export async function postJson(port: number, path: string, body: object): Promise<{ status: number; json: any }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}
