/**
 * A worker's side of the push path: the pushes its control port took (implements PushService for
 * the control API). Every worker has one, registered as (System, PushDispatcher); the replies to a
 * push come back to the dispatcher that took it, because its request ids name its thread
 * (requestOrigin, src/request-table.ts) and every reply is addressed by the id.
 *
 * keys → the key-directory shard owning each key (hash of key) → the workers holding them; keys
 *        whose shard is this worker are looked up here and go straight to their holders;
 * mids → the router shard owning each mid (hash of mid) → the workers holding their connections
 *        (this worker's own shard by a direct call);
 * room and all → every running worker's deliverer (each knows its own room members).
 * Every crossing is one ring record. A request completes when every first-hop receiver's part is
 * complete (for a shard: every Deliver it sent has been answered by its holder, see
 * src/push/records.ts); the answer says how many connections the push was queued to. A request
 * whose replies do not all come within `timeoutMs` (a worker died meanwhile) completes with what
 * was counted, and is logged. `push.maxInFlight` is one limit for the process (InFlight, src/process-words.ts).
 *
 * The read routes (online counts, sessions) ask the workers through actors/worker-queries.ts.
 */
import type { Actor, ActorSystem } from '../src/actor-system.js';
import { ActorKind } from '../src/actor-system.js';
import { shardOfKey, shardOfMid } from '../src/hash.js';
import type { Logger } from '../src/logger.js';
import { MessageKind, RouterActorId, SystemActorId } from '../src/messages.js';
import type { InFlight } from '../src/process-words.js';
import { encodeAllPush, encodeDeliver, encodeKeysPush, encodeMidsPush, encodeRoomPush } from '../src/push/records.js';
import { PushRefused, type OnlineTotal, type PushResult, type PushService, type SessionInfo } from '../src/push/types.js';
import { SendResult } from '../src/ring/outbox.js';
import { RequestTable } from '../src/request-table.js';
import type { KeyDirectory } from './key-directory.js';
import { QueryType, type WorkerQueries } from './worker-queries.js';

interface Pending {
  /** First-hop receivers (workers for room/all, shards for keys/mids) whose part is not complete. */
  firstHopLeft: number;
  /** keys/mids: per shard, the Delivers it sent (fanout) and the holder replies seen so far. */
  shards: Map<number, { fanout: number; done: number }> | null;
  connections: number;
  startedAt: number;
  resolve: (r: PushResult) => void;
  /**
   * Workers that answer this request straight to this dispatcher and have not yet (room/all: every
   * worker; keys of this worker's own shard: their holders), so that a worker's death completes its
   * part at once instead of leaving the request to the timeout. Null when no part is known here
   * (the holders behind another worker's shard are known to that shard only).
   */
  direct: number[] | null;
  /** What `direct` workers answer: PushReply (room/all) or DeliverReply for this worker as the shard (keys). */
  directKind: MessageKind.PushReply | MessageKind.DeliverReply;
}

/** What the dispatcher needs of its worker. */
export interface DispatcherLinks {
  readonly workers: number;
  readonly system: ActorSystem;
  /** Indexes of the workers whose mailbox is being drained now (ready or draining). */
  liveWorkers(): number[];
  /** Whether that worker's mailbox is being drained now (liveWorkers without the array, for the unicast path). */
  isLive(worker: number): boolean;
  /** This worker's key-directory shard (keys it owns are looked up without a hop); null: always a record. */
  readonly keys: KeyDirectory | null;
  /** Questions to the workers (online counts, sessions); null: those answer as if no worker held anything. */
  readonly queries: WorkerQueries | null;
  /** Pushes in flight in the whole process (push.maxInFlight). */
  readonly inFlight: InFlight;
}

export class PushDispatcher implements PushService, Actor {
  private readonly links: DispatcherLinks;
  private readonly log: Logger;
  private readonly pending: RequestTable<Pending>;
  private readonly self: number;
  private readonly maxPending: number;
  /** Pushes refused because too many were in flight (overload protection). */
  refused = 0;

  constructor(links: DispatcherLinks, log: Logger, maxPending: number, timeoutMs = 5000) {
    this.links = links;
    this.log = log;
    this.self = links.system.self;
    this.maxPending = maxPending;
    this.pending = new RequestTable<Pending>(
      timeoutMs,
      (req, p) => {
        this.log.warn({ req, firstHopLeft: p.firstHopLeft, connections: p.connections }, 'push request incomplete after timeout: answering with what was counted');
        this.finish(req);
      },
      this.self,
    );
  }

  close(): void {
    this.pending.stop();
    for (const req of this.pending.ids()) this.finish(req);
  }

  // ---- PushService ----

  pushRoom(op: number, room: string, body: Uint8Array): Promise<PushResult> {
    return this.fanOut(MessageKind.PushRoom, (req) => encodeRoomPush(req, op, room, body));
  }

  pushAll(op: number, speed: number, body: Uint8Array): Promise<PushResult> {
    return this.fanOut(MessageKind.PushAll, (req) => encodeAllPush(req, op, speed, body));
  }

  /** Keys go to the key-directory shard owning each, which forwards to the holders; this worker's own shard acts here. */
  pushKeys(op: number, keys: string[], body: Uint8Array): Promise<PushResult> {
    const byShard = groupBy(keys, (k) => shardOfKey(k, this.links.workers));
    const live = new Set(this.links.liveWorkers());
    const remote = [...byShard.keys()].filter((s) => s !== this.self && live.has(s));
    const own = this.links.keys !== null ? byShard.get(this.self) : undefined;
    let holders: Map<number, number[]> | null = null;
    if (own !== undefined && this.links.keys !== null) {
      // Key registrations committed to this mailbox before the request came are applied first: a
      // client that has its auth reply is reachable by key, whether or not its record was taken yet.
      this.links.system.catchUp();
      holders = this.links.keys.route(own);
      for (const w of [...holders.keys()]) if (!live.has(w)) holders.delete(w);
      if (holders.size === 0) holders = null;
    }
    const { req, done } = this.begin(remote.length + (holders !== null ? 1 : 0));
    const p = this.pending.get(req);
    if (p !== undefined && holders !== null) {
      p.direct = [...holders.keys()];
      p.directKind = MessageKind.DeliverReply;
      // This worker is the shard of these keys: its part is complete when every holder has answered.
      (p.shards = new Map()).set(this.self, { fanout: holders.size, done: 0 });
    }
    for (const s of remote) this.send(req, s, ActorKind.RouterShard, RouterActorId.Keys, MessageKind.PushKeys, encodeKeysPush(req, op, byShard.get(s)!, body));
    if (holders !== null) {
      for (const [worker, connIds] of holders) this.send(req, worker, ActorKind.System, SystemActorId.Deliverer, MessageKind.Deliver, encodeDeliver(req, op, holders.size, connIds, body));
    }
    return done;
  }

  pushMids(op: number, mids: number[], body: Uint8Array): Promise<PushResult> {
    if (mids.length === 1) return this.pushOneMid(op, mids, body);
    const byShard = groupBy(mids, (m) => shardOfMid(m, this.links.workers));
    // This worker's own shard takes its part by a direct call: registrations already committed to
    // this mailbox must be applied first (see pushKeys).
    if (byShard.has(this.self)) this.links.system.catchUp();
    const live = new Set(this.links.liveWorkers());
    const shards = [...byShard.keys()].filter((s) => live.has(s));
    const { req, done } = this.begin(shards.length);
    for (const s of shards) this.send(req, s, ActorKind.RouterShard, RouterActorId.Shard, MessageKind.PushMids, encodeMidsPush(req, op, byShard.get(s)!, body));
    return done;
  }

  /** One user (the common unicast push): no grouping, no arrays. */
  private pushOneMid(op: number, mids: number[], body: Uint8Array): Promise<PushResult> {
    const shard = shardOfMid(mids[0]!, this.links.workers);
    if (shard === this.self) this.links.system.catchUp();
    const live = this.links.isLive(shard);
    const { req, done } = this.begin(live ? 1 : 0);
    if (live) this.send(req, shard, ActorKind.RouterShard, RouterActorId.Shard, MessageKind.PushMids, encodeMidsPush(req, op, mids, body));
    return done;
  }

  async onlineTop(type: string, limit: number): Promise<Array<{ room_id: string; count: number }>> {
    const prefix = `${type}://`;
    const totals = await this.roomTotals({ prefix });
    return Object.entries(totals)
      .filter(([room]) => room.startsWith(prefix))
      .map(([room, count]) => ({ room_id: room.slice(prefix.length), count }))
      .sort((a, b) => b.count - a.count || (a.room_id < b.room_id ? -1 : 1))
      .slice(0, limit);
  }

  async onlineRooms(type: string, rooms: string[]): Promise<Record<string, number>> {
    const totals = await this.roomTotals({ rooms: rooms.map((r) => `${type}://${r}`) });
    const out: Record<string, number> = {};
    for (const r of rooms) out[r] = totals[`${type}://${r}`] ?? 0;
    return out;
  }

  async onlineTotal(): Promise<OnlineTotal> {
    const ips = new Set<string>();
    let conns = 0;
    for (const a of await this.askAll(QueryType.OnlineTotal, {})) {
      const t = a as { conns: number; ips: string[] } | null;
      if (t === null) continue;
      for (const ip of t.ips) ips.add(ip);
      conns += t.conns;
    }
    return { ip_count: ips.size, conn_count: conns };
  }

  async sessions(mid: number): Promise<SessionInfo[]> {
    const queries = this.links.queries;
    const shard = shardOfMid(mid, this.links.workers);
    if (queries === null || !this.links.isLive(shard)) return [];
    const entries = ((await queries.ask(shard, QueryType.RouterLookup, { mid })) ?? []) as Array<[string, number, string]>;
    const byWorker = groupBy(entries, (e) => e[1]);
    const parts = await Promise.all(
      [...byWorker].map(async ([worker, list]) => {
        const infos = ((await queries.ask(worker, QueryType.SessionInfo, { keys: list.map((e) => e[0]) })) ?? []) as Array<Omit<SessionInfo, 'platform' | 'worker'>>;
        const platforms = new Map(list.map(([key, , platform]) => [key, platform]));
        return infos.map((info): SessionInfo => ({ key: info.key, platform: platforms.get(info.key) ?? '', worker, rooms: info.rooms, since: info.since, protocol: info.protocol }));
      }),
    );
    return parts.flat().sort((a, b) => (a.since ?? 0) - (b.since ?? 0));
  }

  /** Pushes in flight in the whole process. */
  inFlight(): number {
    return this.links.inFlight.count();
  }

  // ---- replies (ring records from the deliverers and shards) ----

  receive(kind: number, source: number, buf: Uint8Array, off: number, len: number): void {
    if (kind === MessageKind.RouterPurgeWorker) {
      if (len >= 2) this.workerDied((buf[off]! << 8) | buf[off + 1]!);
      return;
    }
    if (len < 16 || (kind !== MessageKind.PushReply && kind !== MessageKind.DeliverReply)) return;
    const dv = new DataView(buf.buffer, buf.byteOffset + off, 16);
    const req = dv.getUint32(0);
    const p = this.pending.get(req);
    if (p === undefined) return; // timed out already
    p.connections += dv.getUint32(4);
    const shard = dv.getUint32(12);
    if (p.direct !== null && kind === p.directKind && (kind === MessageKind.PushReply || shard === this.self)) {
      const i = p.direct.indexOf(source);
      if (i >= 0) p.direct.splice(i, 1);
    }
    if (kind === MessageKind.PushReply) p.firstHopLeft--;
    else this.holderDone(p, shard, dv.getUint32(8));
    if (p.firstHopLeft <= 0) this.finish(req);
  }

  /**
   * A worker died (the supervisor's RouterPurgeWorker): every request still waiting for its direct
   * answer completes its part now (with nothing counted there: its connections died with it)
   * instead of waiting out the timeout.
   */
  workerDied(worker: number): void {
    for (const req of this.pending.ids()) {
      const p = this.pending.get(req);
      if (p === undefined || p.direct === null) continue;
      const i = p.direct.indexOf(worker);
      if (i < 0) continue;
      p.direct.splice(i, 1);
      if (p.directKind === MessageKind.PushReply) p.firstHopLeft--;
      else this.holderDone(p, this.self, 0); // the entry exists (pushKeys), so its fanout stands
      if (p.firstHopLeft <= 0) this.finish(req);
    }
  }

  /** A holder's part of a shard's fan-out is done: the shard's part completes with its last holder. */
  private holderDone(p: Pending, shard: number, fanout: number): void {
    if (p.shards === null) p.shards = new Map();
    let s = p.shards.get(shard);
    if (s === undefined) p.shards.set(shard, (s = { fanout, done: 0 }));
    if (++s.done === s.fanout) p.firstHopLeft--;
  }

  // ---- internals ----

  private begin(firstHops: number): { req: number; done: Promise<PushResult> } {
    if (!this.links.inFlight.tryAcquire(this.maxPending)) {
      // Overload protection: past this many pushes in flight, queues only grow and every push gets
      // later. Refuse loudly (the caller gets 503 and may retry) instead of taking more.
      this.refused++;
      throw new PushRefused(503, `overloaded: ${this.links.inFlight.count()} pushes in flight (push.maxInFlight); retry later`);
    }
    let resolve!: (r: PushResult) => void;
    const done = new Promise<PushResult>((r) => (resolve = r));
    const req = this.pending.add({ firstHopLeft: firstHops, shards: null, connections: 0, startedAt: Date.now(), resolve, direct: null, directKind: MessageKind.PushReply });
    if (firstHops === 0) this.finish(req);
    return { req, done };
  }

  private fanOut(kind: MessageKind, encode: (req: number) => Uint8Array): Promise<PushResult> {
    const targets = this.links.liveWorkers();
    const { req, done } = this.begin(targets.length);
    const p = this.pending.get(req);
    if (p !== undefined) p.direct = targets.slice(); // a copy: send() removes a refused worker while we iterate
    const body = encode(req);
    for (const w of targets) this.send(req, w, ActorKind.System, SystemActorId.Deliverer, kind, body);
    return done;
  }

  private send(req: number, worker: number, actorKind: ActorKind, actorId: number, kind: MessageKind, body: Uint8Array): void {
    if (this.links.system.send(worker, actorKind, actorId, kind, body) === SendResult.Rejected) {
      // The worker's mailbox and our overflow list are full: this hop is given up (counted and logged
      // by the outbox); the request must not wait for it.
      const p = this.pending.get(req);
      if (p === undefined) return;
      const i = p.direct === null ? -1 : p.direct.indexOf(worker);
      if (i >= 0) p.direct!.splice(i, 1);
      if (kind === MessageKind.Deliver) this.holderDone(p, this.self, 0);
      else p.firstHopLeft--;
      if (p.firstHopLeft <= 0) this.finish(req);
    }
  }

  private finish(req: number): void {
    const p = this.pending.take(req);
    if (p === undefined) return;
    this.links.inFlight.release();
    p.resolve({ connections: p.connections });
  }

  private async askAll(type: QueryType, question: unknown): Promise<unknown[]> {
    const queries = this.links.queries;
    if (queries === null) return [];
    return Promise.all(this.links.liveWorkers().map((w) => queries.ask(w, type, question)));
  }

  private async roomTotals(question: { prefix?: string; rooms?: string[] }): Promise<Record<string, number>> {
    const totals: Record<string, number> = {};
    for (const counts of await this.askAll(QueryType.RoomCounts, question)) {
      if (counts === null) continue;
      for (const [room, n] of Object.entries(counts as Record<string, number>)) totals[room] = (totals[room] ?? 0) + n;
    }
    return totals;
  }
}

function groupBy<T>(items: T[], key: (t: T) => number): Map<number, T[]> {
  const out = new Map<number, T[]>();
  for (const it of items) {
    const k = key(it);
    const list = out.get(k);
    if (list === undefined) out.set(k, [it]);
    else list.push(it);
  }
  return out;
}
