/**
 * Exact counts: each box publishes its totals and room counts (HASH <p>:counts:{n:<id>} with c, i, t;
 * HASH <p>:rooms:{n:<id>} room → members), expiring after two leases; a reader sums the live boxes'.
 * Only what changed since the last publish is written (a full rewrite after a reconnect, since Redis
 * may have restarted with older data). Reading is one pipelined round of two commands per live box:
 * no box is asked anything, so a slow or dead box cannot delay the answer.
 */
import type { BoxCounts, ClusterCounts } from './engine.js';
import type { RedisNames } from './redis-keys.js';
import type { RedisLease } from './redis-lease.js';
import type { RedisLink } from './redis-link.js';

function num(v: unknown): number {
  const n = Number(Buffer.isBuffer(v) ? v.toString('latin1') : v);
  return Number.isFinite(n) ? n : 0;
}

export class RedisCounts {
  private last = new Map<string, number>();
  private full = true;

  constructor(
    private readonly link: RedisLink,
    private readonly names: RedisNames,
    private readonly lease: RedisLease,
  ) {
    link.onReconnected(() => (this.full = true));
  }

  publish(counts: BoxCounts): Promise<void> {
    return this.link.call(async () => {
      const id = this.link.opts.nodeId;
      const roomsKey = this.names.roomCounts(id);
      const totalsKey = this.names.counts(id);
      const m = this.link.cmd.multi();
      const full = this.full;
      if (full) m.del(roomsKey);
      const set: Record<string, string> = {};
      let changed = 0;
      for (const [room, n] of counts.rooms) {
        if (!full && this.last.get(room) === n) continue;
        set[room] = String(n);
        changed++;
      }
      if (changed > 0) m.hSet(roomsKey, set);
      const gone: string[] = [];
      if (!full) for (const room of this.last.keys()) if (!counts.rooms.has(room)) gone.push(room);
      if (gone.length > 0) m.hDel(roomsKey, gone);
      m.hSet(totalsKey, { c: String(counts.connections), i: String(counts.ips), t: String(Date.now()) });
      // Expiry is only hygiene (readers count live boxes only): twice the lease, so that a box that
      // publishes every second is never seen without counts.
      m.pExpire(totalsKey, 2 * this.link.opts.leaseMs);
      m.pExpire(roomsKey, 2 * this.link.opts.leaseMs);
      await m.exec();
      this.last = new Map(counts.rooms);
      this.full = false;
    });
  }

  async read(rooms?: readonly string[]): Promise<ClusterCounts> {
    const live = await this.lease.list();
    return this.link.call(async () => {
      const c = this.link.cmd;
      const replies = await Promise.all(
        live.map((n) =>
          Promise.all([
            c.sendCommand(['HGETALL', this.names.counts(n.nodeId)]),
            rooms === undefined
              ? c.sendCommand(['HGETALL', this.names.roomCounts(n.nodeId)])
              : rooms.length === 0
                ? Promise.resolve([])
                : c.sendCommand(['HMGET', this.names.roomCounts(n.nodeId), ...rooms]),
          ]),
        ),
      );
      let connections = 0;
      let ips = 0;
      let boxes = 0;
      let oldest = Date.now();
      const sum = new Map<string, number>();
      const byBox = new Map<string, { connections: number; ips: number; at: number }>();
      for (let b = 0; b < replies.length; b++) {
        const [totals, roomReply] = replies[b]!;
        const t = (totals as unknown as unknown[]) ?? [];
        if (t.length === 0) continue; // a box that has not published yet
        boxes++;
        const own = { connections: 0, ips: 0, at: 0 };
        for (let i = 0; i < t.length; i += 2) {
          const f = Buffer.isBuffer(t[i]) ? (t[i] as Buffer).toString('latin1') : String(t[i]);
          if (f === 'c') own.connections = num(t[i + 1]);
          else if (f === 'i') own.ips = num(t[i + 1]);
          else if (f === 't') own.at = num(t[i + 1]);
        }
        connections += own.connections;
        ips += own.ips;
        if (own.at > 0) oldest = Math.min(oldest, own.at);
        byBox.set(live[b]!.nodeId, own);
        const r = (roomReply as unknown as unknown[]) ?? [];
        if (rooms === undefined) {
          for (let i = 0; i < r.length; i += 2) {
            const room = (r[i] as Buffer).toString('utf8');
            sum.set(room, (sum.get(room) ?? 0) + num(r[i + 1]));
          }
        } else {
          for (let i = 0; i < rooms.length; i++) if (r[i] != null) sum.set(rooms[i]!, (sum.get(rooms[i]!) ?? 0) + num(r[i]));
        }
      }
      return { connections, ips, rooms: sum, boxes, oldestMs: boxes === 0 ? 0 : Math.max(0, Date.now() - oldest), byBox };
    });
  }
}
