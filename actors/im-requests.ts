/**
 * The sending side of reliable messaging (InboxSender, src/im/requests.ts), one actor per thread
 * (the acceptor for the control API, each worker for client sends): splits a send by the shard owning each recipient, writes one ImSend
 * record per shard, and resolves when every shard has answered that its part is durable. A shard
 * that does not answer within `timeoutMs` (its worker died) fails the send with 504: the message may
 * or may not be stored, and a retry with the same client_msg_id is safe (idempotent).
 */
import { ActorKind, type Actor, type ActorSystem } from '../src/actor-system.js';
import { shardOfMid } from '../src/hash.js';
import { decodeSendReply, encodeSend, ImCode } from '../src/im/records.js';
import { ImError, type InboxSender, type SendInput } from '../src/im/requests.js';
import { MessageKind, RouterActorId } from '../src/messages.js';
import { SendResult } from '../src/ring/outbox.js';
import { RequestTable } from '../src/request-table.js';

interface Pending {
  left: number;
  code: number;
  /** A shard's reason for refusing (cluster mode: which engine is unavailable), or ''. */
  reason: string;
  seqs: Map<number, number>;
  startedAt: number;
  resolve: (seqs: Map<number, number>) => void;
  reject: (err: ImError) => void;
}

export class ImRequests implements Actor, InboxSender {
  private readonly system: ActorSystem;
  private readonly workers: number;
  private readonly live: () => number[];
  private readonly maxPending: number;
  private readonly pending: RequestTable<Pending>;

  constructor(system: ActorSystem, workers: number, live: () => number[], maxPending: number, timeoutMs = 10_000) {
    this.system = system;
    this.workers = workers;
    this.live = live;
    this.maxPending = maxPending;
    this.pending = new RequestTable<Pending>(timeoutMs, (req, p) => {
      p.code = ImCode.Timeout;
      this.finish(req);
    });
  }

  /** Stores the message in every recipient's inbox; resolves with mid → seq once all are durable. */
  send(input: SendInput): Promise<Map<number, number>> {
    if (this.pending.size >= this.maxPending) return Promise.reject(new ImError(503, `overloaded: ${this.pending.size} sends in flight; retry later (same client_msg_id)`));
    const byShard = new Map<number, number[]>();
    for (const mid of new Set(input.mids)) {
      const s = shardOfMid(mid, this.workers);
      const list = byShard.get(s);
      if (list === undefined) byShard.set(s, [mid]);
      else list.push(mid);
    }
    const live = new Set(this.live());
    for (const s of byShard.keys()) {
      if (!live.has(s)) return Promise.reject(new ImError(503, `the shard of some recipients (worker ${s}) is restarting; retry (same client_msg_id)`));
    }
    const ts = Date.now();
    return new Promise((resolve, reject) => {
      const req = this.pending.add({ left: byShard.size, code: ImCode.Ok, reason: '', seqs: new Map(), startedAt: ts, resolve, reject });
      if (byShard.size === 0) return this.finish(req);
      for (const [shard, mids] of byShard) {
        const body = encodeSend({ req, origin: this.system.self, from: input.from, op: input.op, group: input.group, ts, clientMsgId: input.clientMsgId, mids, body: input.body });
        if (this.system.send(shard, ActorKind.RouterShard, RouterActorId.Im, MessageKind.ImSend, body) === SendResult.Rejected) {
          const p = this.pending.get(req)!;
          p.code = ImCode.Unavailable;
          p.left--;
        }
      }
      if (this.pending.get(req)!.left <= 0) this.finish(req);
    });
  }

  receive(kind: number, _source: number, buf: Uint8Array, off: number, len: number): void {
    if (kind !== MessageKind.ImSendReply) return;
    const r = decodeSendReply(buf, off, len);
    if (r === null) return;
    const p = this.pending.get(r.req);
    if (p === undefined) return; // timed out already
    if (r.code !== ImCode.Ok) {
      p.code = r.code;
      if (r.reason !== '') p.reason = r.reason;
    }
    for (const [mid, seq] of r.seqs) p.seqs.set(mid, seq);
    if (--p.left <= 0) this.finish(r.req);
  }

  close(): void {
    this.pending.stop();
    for (const req of this.pending.ids()) this.pending.take(req)?.reject(new ImError(503, 'shutting down'));
  }

  private finish(req: number): void {
    const p = this.pending.take(req);
    if (p === undefined) return;
    if (p.code === ImCode.Ok) p.resolve(p.seqs);
    else if (p.reason !== '') p.reject(new ImError(p.code, p.reason));
    else p.reject(new ImError(p.code, p.code === ImCode.Timeout ? 'not confirmed durable in time; retry with the same client_msg_id' : 'store unavailable; retry with the same client_msg_id'));
  }
}
