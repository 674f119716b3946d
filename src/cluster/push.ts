/**
 * The push service of a box in a cluster (docs/cluster.md#pushes): the box's own push service
 * (its rings, as on one box) for its own clients, plus the other boxes through the engine:
 *   - by mid or key: the directory is looked up (pipelined), and one message goes to each holding
 *     (box, worker) of another box, naming the targets and carrying the body once;
 *   - to a room or all: one publish on the room's (or all's) channel; each box's subscribed workers
 *     write it to their members; this box's workers skip it (they had it through the rings).
 * The local part never waits for Redis. When the engine cannot be reached the push answers 503
 * naming the engine, and says how many connections of this box it was delivered to.
 * Online counts are the sum of the live boxes' published counts (src/cluster/redis-counts.ts).
 */
import type { OnlineTotal, PushResult, PushService, SessionInfo } from '../push/types.js';
import { EngineUnavailable, type ClusterEngine, type LookupResult } from './engine.js';
import { encodeDeliver, encodeFanout, encodeKick } from './wire.js';

export class ClusterPushService implements PushService {
  constructor(
    private readonly local: PushService,
    private readonly engine: ClusterEngine,
  ) {}

  /**
   * POST /admin/kick for a key held on another box: the directory names its holder, which gets the
   * Kick message and closes it with op 6 `code`. Resolves with the connections reached (0: nobody
   * holds the key elsewhere); the engine away rejects with EngineUnavailable (503).
   */
  async kickElsewhere(key: string, code: number, reason: string): Promise<number> {
    const found = await this.engine.lookupKeys([key]);
    const self = this.engine.nodeId;
    const sends: Array<Promise<number>> = [];
    for (const g of found.groups) {
      if (g.nodeId === self) continue; // this box's key shard answered for its own
      sends.push(this.engine.publishToWorker(g.nodeId, g.worker, encodeKick(key, code, reason)).then((reached) => (reached > 0 ? g.keys.length : 0)));
    }
    let total = 0;
    for (const n of await Promise.all(sends)) total += n;
    return total;
  }

  inFlight(): number {
    return this.local.inFlight?.() ?? 0;
  }

  /** Sends one Deliver to each holder on another box; resolves with the connections reached. */
  private async toHolders(lookup: Promise<LookupResult>, op: number, body: Uint8Array): Promise<number> {
    const found = await lookup;
    const self = this.engine.nodeId;
    const sends: Array<Promise<number>> = [];
    for (const g of found.groups) {
      if (g.nodeId === self) continue; // this box's own rings reached them
      const n = g.keys.length;
      sends.push(this.engine.publishToWorker(g.nodeId, g.worker, encodeDeliver(op, g.keys, body)).then((reached) => (reached > 0 ? n : 0)));
    }
    let total = 0;
    for (const n of await Promise.all(sends)) total += n;
    return total;
  }

  /** Local and remote together: the local error wins (overload: nothing was taken), then the engine's. */
  private async both(local: Promise<PushResult>, remote: Promise<number>): Promise<PushResult> {
    const [l, r] = await Promise.allSettled([local, remote]);
    if (l.status === 'rejected') throw l.reason;
    if (r.status === 'rejected') {
      const err = r.reason;
      if (err instanceof EngineUnavailable) {
        throw new EngineUnavailable(err.engineUrl, `${err.reason}; delivered to ${l.value.connections} connection(s) on this box only`);
      }
      throw err;
    }
    return { connections: l.value.connections + r.value };
  }

  pushKeys(op: number, keys: string[], body: Uint8Array): Promise<PushResult> {
    return this.both(this.local.pushKeys(op, keys, body), this.toHolders(this.engine.lookupKeys(keys), op, body));
  }

  pushMids(op: number, mids: number[], body: Uint8Array): Promise<PushResult> {
    return this.both(this.local.pushMids(op, mids, body), this.toHolders(this.engine.lookupMids(mids), op, body));
  }

  /** `connections` counts this box's members; the other boxes write to theirs without answering. */
  pushRoom(op: number, room: string, body: Uint8Array): Promise<PushResult> {
    const remote = this.engine.publishRoom(room, encodeFanout(this.engine.nodeId, op, 0, body)).then(() => 0);
    return this.both(this.local.pushRoom(op, room, body), remote);
  }

  pushAll(op: number, speed: number, body: Uint8Array): Promise<PushResult> {
    const remote = this.engine.publishAll(encodeFanout(this.engine.nodeId, op, speed, body)).then(() => 0);
    return this.both(this.local.pushAll(op, speed, body), remote);
  }

  async onlineTop(type: string, limit: number): Promise<Array<{ room_id: string; count: number }>> {
    const prefix = `${type}://`;
    const sum = await this.engine.readCounts();
    const out: Array<{ room_id: string; count: number }> = [];
    for (const [room, count] of sum.rooms) if (room.startsWith(prefix) && count > 0) out.push({ room_id: room.slice(prefix.length), count });
    return out.sort((a, b) => b.count - a.count || (a.room_id < b.room_id ? -1 : 1)).slice(0, limit);
  }

  async onlineRooms(type: string, rooms: string[]): Promise<Record<string, number>> {
    const sum = await this.engine.readCounts(rooms.map((r) => `${type}://${r}`));
    const out: Record<string, number> = {};
    for (const r of rooms) out[r] = sum.rooms.get(`${type}://${r}`) ?? 0;
    return out;
  }

  async onlineTotal(): Promise<OnlineTotal> {
    const sum = await this.engine.readCounts([]);
    return { ip_count: sum.ips, conn_count: sum.connections };
  }

  /** This box's sessions of the user (the directory names the other boxes' keys only). */
  /**
   * This box's sessions in full, and the other boxes' as the directory has them (box, worker, key,
   * platform): one read, no box asked. With the engine away: 503, saying how many this box holds.
   */
  async sessions(mid: number): Promise<SessionInfo[]> {
    const [local, remote] = await Promise.allSettled([this.local.sessions(mid), this.engine.lookupUser(mid)]);
    if (local.status === 'rejected') throw local.reason;
    if (remote.status === 'rejected') {
      const err = remote.reason;
      if (err instanceof EngineUnavailable) throw new EngineUnavailable(err.engineUrl, `${err.reason}; this box holds ${local.value.length} of the user's sessions`);
      throw err;
    }
    const self = this.engine.nodeId;
    const out: SessionInfo[] = local.value.map((s) => ({ ...s, node: self }));
    for (const h of remote.value) {
      if (h.nodeId !== self) out.push({ key: h.key, platform: h.platform, worker: h.worker, node: h.nodeId, rooms: null, since: null, protocol: null });
    }
    return out;
  }
}
