/**
 * Questions one worker asks the others for the control port's read routes (online counts,
 * sessions), and its answers to theirs, as ring records: no hop through the acceptor. Registered as
 * (System, Queries) on every worker.
 *
 *   Query       asker → worker     [u32 req][u8 type][msgpack question]
 *   QueryReply  worker → asker     [u32 req][u8 last][msgpack bytes]: an answer bigger than one
 *                                  chunk comes in several records, in order (one producer, one ring).
 *
 * msgpack is fine here: these are rare reads, never on the fan-out path. A worker asks itself by a
 * direct call. A question not answered within the timeout (the worker died) resolves with null,
 * and the caller counts that worker as holding nothing, as a dead worker does.
 */
import { decode, encode } from '@msgpack/msgpack';
import { ActorKind, type Actor, type ActorSystem } from '../src/actor-system.js';
import type { Logger } from '../src/logger.js';
import { MessageKind, SystemActorId } from '../src/messages.js';
import { RequestTable } from '../src/request-table.js';
import { SendResult } from '../src/ring/outbox.js';

export const enum QueryType {
  /** { prefix } or { rooms }: this worker's member count of the rooms of a type, or of the rooms named. */
  RoomCounts = 1,
  /** { }: this worker's open connections and distinct client addresses: { conns, ips }. */
  OnlineTotal = 2,
  /** { mid }: this worker's router-shard entries of a user: [key, worker, platform][]. */
  RouterLookup = 3,
  /** { keys }: details of this worker's connections with these keys (GET /sessions). */
  SessionInfo = 4,
  /** { key }: to the key's key-directory shard: close its holder (op 6 4006); answers 1, or 0 when no one holds it. */
  KickKey = 5,
}

/** Computes this worker's answer to a question (the worker's runtime reads its registry and shards). */
export type Answerer = (type: QueryType, question: unknown) => unknown;

/** Bytes of answer per QueryReply record. */
const CHUNK = 64 * 1024;

interface Pending {
  startedAt: number;
  chunks: Uint8Array[];
  resolve: (answer: unknown) => void;
}

export class WorkerQueries implements Actor {
  private readonly system: ActorSystem;
  private readonly answer: Answerer;
  private readonly log: Logger;
  private readonly pending: RequestTable<Pending>;

  constructor(system: ActorSystem, answer: Answerer, log: Logger, timeoutMs = 5000) {
    this.system = system;
    this.answer = answer;
    this.log = log;
    this.pending = new RequestTable<Pending>(timeoutMs, (req) => this.pending.take(req)?.resolve(null));
  }

  /** Asks `worker`; resolves with its answer, or null when none came (it died, or refused the record). */
  ask(worker: number, type: QueryType, question: unknown): Promise<unknown> {
    if (worker === this.system.self) {
      // Records committed to this mailbox before the question (registrations) are applied first, as
      // they would be ahead of a Query record in the ring.
      this.system.catchUp();
      return Promise.resolve(this.answer(type, question));
    }
    return new Promise((resolve) => {
      const req = this.pending.add({ startedAt: Date.now(), chunks: [], resolve });
      const q = encode(question);
      const body = new Uint8Array(5 + q.length);
      new DataView(body.buffer).setUint32(0, req);
      body[4] = type;
      body.set(q, 5);
      if (this.system.send(worker, ActorKind.System, SystemActorId.Queries, MessageKind.Query, body) === SendResult.Rejected) this.pending.take(req)?.resolve(null);
    });
  }

  receive(kind: number, source: number, buf: Uint8Array, off: number, len: number): void {
    if (len < 5) return;
    const req = new DataView(buf.buffer, buf.byteOffset + off, 4).getUint32(0);
    if (kind === MessageKind.Query) this.reply(source, req, buf[off + 4]! as QueryType, buf.subarray(off + 5, off + len));
    else if (kind === MessageKind.QueryReply) this.gather(req, buf[off + 4]! === 1, buf.subarray(off + 5, off + len));
  }

  close(): void {
    this.pending.stop();
    for (const req of this.pending.ids()) this.pending.take(req)?.resolve(null);
  }

  private reply(to: number, req: number, type: QueryType, question: Uint8Array): void {
    let bytes: Uint8Array;
    try {
      bytes = encode(this.answer(type, decode(question)));
    } catch (err) {
      this.log.warn({ err, type, from: to }, 'query from another worker failed');
      bytes = encode(null);
    }
    for (let at = 0; ; at += CHUNK) {
      const part = bytes.subarray(at, at + CHUNK);
      const last = at + CHUNK >= bytes.length;
      const body = new Uint8Array(5 + part.length);
      new DataView(body.buffer).setUint32(0, req);
      body[4] = last ? 1 : 0;
      body.set(part, 5);
      this.system.send(to, ActorKind.System, SystemActorId.Queries, MessageKind.QueryReply, body);
      if (last) return;
    }
  }

  private gather(req: number, last: boolean, part: Uint8Array): void {
    const p = this.pending.get(req);
    if (p === undefined) return; // timed out already
    p.chunks.push(part.slice());
    if (!last) return;
    this.pending.take(req);
    const all = p.chunks.length === 1 ? p.chunks[0]! : Buffer.concat(p.chunks);
    try {
      p.resolve(decode(all));
    } catch (err) {
      this.log.warn({ err }, 'undecodable answer from another worker');
      p.resolve(null);
    }
  }
}
