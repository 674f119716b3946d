/**
 * The acceptor's side of the push path (implements PushService for the control API); registered as
 * (ActorKind.Acceptor, AcceptorActorId.PushDispatcher), it takes the PushReply and DeliverReply records.
 *
 * keys → the router shard owning each key (hash of key) → the workers holding them;
 * mids → the router shard owning each mid (hash of mid) → the workers holding their connections;
 * room and all → every running worker (each knows its own room members).
 * Every crossing is one ring record. A request completes when every first-hop receiver's part is
 * complete (for a shard: every Deliver it sent has been answered by its holder, see records.ts); the
 * answer says how many connections the push was queued to. A request whose replies do not all come within `timeoutMs` (a worker died
 * meanwhile) completes with what was counted, and is logged.
 */
import type { Actor, ActorSystem } from '../src/actor-system.js';
import { ActorKind } from '../src/actor-system.js';
import { shardOfKey, shardOfMid } from '../src/hash.js';
import type { Logger } from '../src/logger.js';
import { MessageKind, RouterActorId, SystemActorId, type WorkerAdmin } from '../src/messages.js';
import { encodeAllPush, encodeKeysPush, encodeMidsPush, encodeRoomPush } from '../src/push/records.js';
import { PushRefused, type OnlineTotal, type PushResult, type PushService, type SessionInfo } from '../src/push/types.js';
import { SendResult } from '../src/ring/outbox.js';
import { RequestTable } from '../src/request-table.js';

interface Pending {
  /** First-hop receivers (workers for room/all, shards for keys/mids) whose part is not complete. */
  firstHopLeft: number;
  /** keys/mids: per shard, the Delivers it sent (fanout) and the holder replies seen so far. */
  shards: Map<number, { fanout: number; done: number }> | null;
  connections: number;
  startedAt: number;
  resolve: (r: PushResult) => void;
  /**
   * Workers that answer this request straight to the acceptor and have not yet (room/all: every
   * worker; keys: the holders), so that a worker's death completes its part at once instead of
   * leaving the request to the timeout. Null for mids (their holders are known to the shards only).
   */
  direct: number[] | null;
  /** What `direct` workers answer: PushReply (room/all) or DeliverReply for the acceptor as shard (keys). */
  directKind: MessageKind.PushReply | MessageKind.DeliverReply;
}

/** What the dispatcher needs from the supervisor. */
export interface WorkerDirectory {
  readonly workers: number;
  readonly system: ActorSystem;
  /** Indexes of the workers that are running now. */
  liveWorkers(): number[];
  admin(index: number): { [K in keyof WorkerAdmin]: (...args: Parameters<WorkerAdmin[K]>) => Promise<Awaited<ReturnType<WorkerAdmin[K]>>> } | null;
}

export class PushDispatcher implements PushService, Actor {
  private readonly dir: WorkerDirectory;
  private readonly log: Logger;
  private readonly pending: RequestTable<Pending>;

  private readonly maxPending: number;
  /** Pushes refused because too many were in flight (overload protection). */
  refused = 0;

  constructor(dir: WorkerDirectory, log: Logger, maxPending: number, timeoutMs = 5000) {
    this.dir = dir;
    this.log = log;
    this.maxPending = maxPending;
    this.pending = new RequestTable<Pending>(timeoutMs, (req, p) => {
      this.log.warn({ req, firstHopLeft: p.firstHopLeft, connections: p.connections }, 'push request incomplete after timeout: answering with what was counted');
      this.finish(req);
    });
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

  /** Keys go to the key-directory shard owning each (hash of key), which forwards to the holders. */
  pushKeys(op: number, keys: string[], body: Uint8Array): Promise<PushResult> {
    const byShard = groupBy(keys, (k) => shardOfKey(k, this.dir.workers));
    return this.toShards(MessageKind.PushKeys, RouterActorId.Keys, byShard, (req, group) => encodeKeysPush(req, op, group, body));
  }

  pushMids(op: number, mids: number[], body: Uint8Array): Promise<PushResult> {
    const byShard = groupBy(mids, (m) => shardOfMid(m, this.dir.workers));
    return this.toShards(MessageKind.PushMids, RouterActorId.Shard, byShard, (req, group) => encodeMidsPush(req, op, group, body));
  }

  async onlineTop(type: string, limit: number): Promise<Array<{ room_id: string; count: number }>> {
    const prefix = `${type}://`;
    const totals = await this.roomTotals();
    return Object.entries(totals)
      .filter(([room]) => room.startsWith(prefix))
      .map(([room, count]) => ({ room_id: room.slice(prefix.length), count }))
      .sort((a, b) => b.count - a.count || (a.room_id < b.room_id ? -1 : 1))
      .slice(0, limit);
  }

  async onlineRooms(type: string, rooms: string[]): Promise<Record<string, number>> {
    const totals = await this.roomTotals();
    const out: Record<string, number> = {};
    for (const r of rooms) out[r] = totals[`${type}://${r}`] ?? 0;
    return out;
  }

  async onlineTotal(): Promise<OnlineTotal> {
    const ips = new Set<string>();
    let conns = 0;
    for (const i of this.dir.liveWorkers()) {
      const admin = this.dir.admin(i);
      if (admin === null) continue;
      for (const ip of await admin.ips()) ips.add(ip);
      conns += await admin.connectionCount();
    }
    return { ip_count: ips.size, conn_count: conns };
  }

  async sessions(mid: number): Promise<SessionInfo[]> {
    const shard = this.dir.admin(shardOfMid(mid, this.dir.workers));
    if (shard === null) return [];
    const entries = await shard.routerLookup(mid);
    const byWorker = groupBy(entries, (e) => e[1]);
    const out: SessionInfo[] = [];
    for (const [worker, list] of byWorker) {
      const admin = this.dir.admin(worker);
      if (admin === null) continue;
      const platforms = new Map(list.map(([key, , platform]) => [key, platform]));
      for (const info of await admin.sessionInfo(list.map((e) => e[0]))) {
        out.push({ key: info.key, platform: platforms.get(info.key) ?? '', worker, rooms: info.rooms, since: info.since, protocol: info.protocol });
      }
    }
    return out.sort((a, b) => a.since - b.since);
  }

  inFlight(): number {
    return this.pending.size;
  }

  // ---- replies (ring records to the acceptor) ----

  receive(kind: number, source: number, buf: Uint8Array, off: number, len: number): void {
    if (len < 16 || (kind !== MessageKind.PushReply && kind !== MessageKind.DeliverReply)) return;
    const dv = new DataView(buf.buffer, buf.byteOffset + off, 16);
    const req = dv.getUint32(0);
    const p = this.pending.get(req);
    if (p === undefined) return; // timed out already
    p.connections += dv.getUint32(4);
    if (p.direct !== null && kind === p.directKind) {
      const i = p.direct.indexOf(source);
      if (i >= 0) p.direct.splice(i, 1);
    }
    if (kind === MessageKind.PushReply) p.firstHopLeft--;
    else this.holderDone(p, dv.getUint32(12), dv.getUint32(8));
    if (p.firstHopLeft <= 0) this.finish(req);
  }

  /**
   * A worker died: every request still waiting for its direct answer completes its part now (with
   * nothing counted there: its connections died with it) instead of waiting out the timeout.
   */
  workerDied(worker: number): void {
    for (const req of this.pending.ids()) {
      const p = this.pending.get(req);
      if (p === undefined || p.direct === null) continue;
      const i = p.direct.indexOf(worker);
      if (i < 0) continue;
      p.direct.splice(i, 1);
      if (p.directKind === MessageKind.PushReply) p.firstHopLeft--;
      else this.holderDone(p, this.dir.system.self, 0); // the entry exists (pushKeys), so its fanout stands
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
    if (this.pending.size >= this.maxPending) {
      // Overload protection: past this many pushes in flight, queues only grow and every push gets
      // later. Refuse loudly (the caller gets 503 and may retry) instead of taking more.
      this.refused++;
      throw new PushRefused(503, `overloaded: ${this.pending.size} pushes in flight (push.maxInFlight); retry later`);
    }
    let resolve!: (r: PushResult) => void;
    const done = new Promise<PushResult>((r) => (resolve = r));
    const req = this.pending.add({ firstHopLeft: firstHops, shards: null, connections: 0, startedAt: Date.now(), resolve, direct: null, directKind: MessageKind.PushReply });
    if (firstHops === 0) this.finish(req);
    return { req, done };
  }

  private fanOut(kind: MessageKind, encode: (req: number) => Uint8Array): Promise<PushResult> {
    const targets = this.dir.liveWorkers();
    const { req, done } = this.begin(targets.length);
    const p = this.pending.get(req);
    if (p !== undefined) p.direct = targets.slice(); // a copy: send() removes a refused worker while we iterate
    const body = encode(req);
    for (const w of targets) this.send(req, w, ActorKind.System, SystemActorId.Deliverer, kind, body);
    return done;
  }

  private toShards<T>(kind: MessageKind, actorId: RouterActorId, byShard: Map<number, T[]>, encode: (req: number, group: T[]) => Uint8Array): Promise<PushResult> {
    const live = new Set(this.dir.liveWorkers());
    const shards = [...byShard.keys()].filter((s) => live.has(s));
    const { req, done } = this.begin(shards.length);
    for (const s of shards) this.send(req, s, ActorKind.RouterShard, actorId, kind, encode(req, byShard.get(s)!));
    return done;
  }

  private send(req: number, worker: number, actorKind: ActorKind, actorId: number, kind: MessageKind, body: Uint8Array): void {
    if (this.dir.system.send(worker, actorKind, actorId, kind, body) === SendResult.Rejected) {
      // The worker's mailbox and our overflow list are full: this hop is given up (counted and logged
      // by the outbox); the request must not wait for it.
      const p = this.pending.get(req);
      if (p === undefined) return;
      const i = p.direct === null ? -1 : p.direct.indexOf(worker);
      if (i >= 0) p.direct!.splice(i, 1);
      p.firstHopLeft--;
      if (p.firstHopLeft <= 0) this.finish(req);
    }
  }

  private finish(req: number): void {
    const p = this.pending.take(req);
    p?.resolve({ connections: p.connections });
  }

  private async roomTotals(): Promise<Record<string, number>> {
    const totals: Record<string, number> = {};
    for (const i of this.dir.liveWorkers()) {
      const admin = this.dir.admin(i);
      if (admin === null) continue;
      for (const [room, n] of Object.entries(await admin.roomCounts())) totals[room] = (totals[room] ?? 0) + n;
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
