/**
 * The router-shard push actor: takes pushes addressed to mids this shard owns, finds the workers
 * holding those users' connections in the shard's directory, and forwards one Deliver record
 * per holding worker, each telling its holder how many Deliver records the shard sent, so the
 * holders' replies tell the acceptor when this shard's part is complete.
 */
import type { Actor } from '../actor-system.js';
import { MessageKind } from '../messages.js';
import type { RouterShard } from '../../actors/router-shard.js';
import { decodeHead, encodeDeliver } from './records.js';

export type DeliverSender = (worker: number, body: Uint8Array) => void;
/** The shard's own reply to the acceptor, sent only when it found no holder. */
export type ReplySender = (req: number) => void;

export class PushRouter implements Actor {
  private readonly shard: RouterShard;
  private readonly deliver: DeliverSender;
  private readonly reply: ReplySender;

  constructor(shard: RouterShard, deliver: DeliverSender, reply: ReplySender) {
    this.shard = shard;
    this.deliver = deliver;
    this.reply = reply;
  }

  receive(kind: number, _source: number, buf: Uint8Array, off: number, len: number): void {
    const h = decodeHead(buf, off, len);
    if (h === null) return;
    const holders = new Map<number, number[]>();
    const add = (worker: number, connId: number): void => {
      const list = holders.get(worker);
      if (list === undefined) holders.set(worker, [connId]);
      else list.push(connId);
    };
    let bodyOff: number;
    if (kind === MessageKind.PushMids) {
      if (12 + h.n * 8 > len) return this.reply(h.req);
      const dv = new DataView(buf.buffer, buf.byteOffset + off + 12, h.n * 8);
      for (let i = 0; i < h.n; i++) {
        const keys = this.shard.users.get(dv.getFloat64(i * 8));
        if (keys !== undefined) for (const e of keys.values()) add(e.worker, e.connId);
      }
      bodyOff = 12 + h.n * 8;
    } else {
      return;
    }
    if (holders.size === 0) return this.reply(h.req);
    // Each Deliver carries the fanout; its holder's reply completes this shard's part (records.ts).
    const body = buf.subarray(off + bodyOff, off + len);
    for (const [worker, connIds] of holders) this.deliver(worker, encodeDeliver(h.req, h.op, holders.size, connIds, body));
  }
}
