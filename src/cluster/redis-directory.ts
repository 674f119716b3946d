/**
 * The directory in Redis (docs/cluster.md#keys-and-channels):
 *   key entry   STRING <p>:key:{<key>}      node␟worker␟connId␟mid␟platform
 *   user        HASH   <p>:user:{u<mid>}    key → node␟worker␟connId␟platform
 *   box entries SET    <p>:entries:{n:<id>} mid␟key, what the box registered (to remove once it is dead)
 *
 * Writes and lookups are issued together and node-redis pipelines them (one write per event-loop
 * turn). Entries of boxes whose lease ran out are skipped by every lookup at once (the live set),
 * and removed by the box that noticed the death (`sweep`).
 */
import type { DirectoryEntry, Holding, HolderGroup, LookupResult, RegisterResult } from './engine.js';
import type { RedisNames } from './redis-keys.js';
import { SEP } from './redis-keys.js';
import { Script, type RedisLink } from './redis-link.js';
import type { RedisLease } from './redis-lease.js';

/** KEYS user; ARGV key, value → HGETALL after adding (atomic: of two logins racing, the later sees the earlier). */
const USER_ADD = new Script(`
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return redis.call('HGETALL', KEYS[1])
`);

/** KEYS k; ARGV value: delete the string only if it is still this value. */
const DEL_IF = new Script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/** KEYS user; ARGV field, value: remove the field only if it is still this value. */
const HDEL_IF = new Script(`
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
`);

/**
 * ARGV prefix, nodeId, batch, force: remove up to `batch` of a box's entries; -1 when the box is live
 * again (it re-registers; nothing of it may be removed), unless force (its own leftovers at start-up).
 * It names keys it was not handed (one Redis, not Redis Cluster: docs/cluster.md says why).
 */
const SWEEP = new Script(`
local p, id = ARGV[1], ARGV[2]
if ARGV[4] ~= '1' and redis.call('ZSCORE', p .. ':{nodes}', id) then return -1 end
local members = redis.call('SPOP', p .. ':entries:{n:' .. id .. '}', tonumber(ARGV[3]))
local pfx = id .. '\\31'
for _, m in ipairs(members) do
  local sep = string.find(m, '\\31', 1, true)
  if sep then
    local mid, key = string.sub(m, 1, sep - 1), string.sub(m, sep + 1)
    local kk = p .. ':key:{' .. key .. '}'
    local v = redis.call('GET', kk)
    if v and string.sub(v, 1, #pfx) == pfx then redis.call('DEL', kk) end
    local uk = p .. ':user:{u' .. mid .. '}'
    local f = redis.call('HGET', uk, key)
    if f and string.sub(f, 1, #pfx) == pfx then redis.call('HDEL', uk, key) end
  end
end
redis.call('DEL', p .. ':counts:{n:' .. id .. '}', p .. ':rooms:{n:' .. id .. '}')
return #members
`);

/**
 * ARGV prefix, nodeId, worker, cursor, count: one SSCAN step over this box's entries, removing those
 * a dead worker of this box held (key and user field still naming box␟worker␟). A member whose key or
 * field now names another worker of this box (the client reconnected there) stays in the set.
 * Returns {next cursor, entries removed}. The worker's replacement registers nothing before the
 * sweep is done (src/supervisor.ts waits for it), so every box␟worker␟ entry is the dead one's.
 */
const SWEEP_WORKER = new Script(`
local p, id = ARGV[1], ARGV[2]
local mine, box = id .. '\\31' .. ARGV[3] .. '\\31', id .. '\\31'
local set = p .. ':entries:{n:' .. id .. '}'
local r = redis.call('SSCAN', set, ARGV[4], 'COUNT', tonumber(ARGV[5]))
local removed = 0
for _, m in ipairs(r[2]) do
  local sep = string.find(m, '\\31', 1, true)
  if sep then
    local mid, key = string.sub(m, 1, sep - 1), string.sub(m, sep + 1)
    local keep = false
    local kk = p .. ':key:{' .. key .. '}'
    local v = redis.call('GET', kk)
    if v and string.sub(v, 1, #mine) == mine then redis.call('DEL', kk); removed = removed + 1
    elseif v and string.sub(v, 1, #box) == box then keep = true end
    local uk = p .. ':user:{u' .. mid .. '}'
    local f = redis.call('HGET', uk, key)
    if f and string.sub(f, 1, #mine) == mine then redis.call('HDEL', uk, key)
    elseif f and string.sub(f, 1, #box) == box then keep = true end
    if not keep then redis.call('SREM', set, m) end
  end
end
return {r[1], removed}
`);

/** Commands per pipelined lookup write (and per deadline). */
const LOOKUP_CHUNK = 2000;

function text(v: unknown): string {
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

function keyValue(nodeId: string, e: DirectoryEntry): string {
  return `${nodeId}${SEP}${e.worker}${SEP}${e.connId}${SEP}${e.mid}${SEP}${e.platform}`;
}

function userValue(nodeId: string, e: DirectoryEntry): string {
  return `${nodeId}${SEP}${e.worker}${SEP}${e.connId}${SEP}${e.platform}`;
}

/** Parse `node␟worker␟connId␟…␟platform` (the platform is last in both layouts). */
function holding(key: string, v: string): Holding | null {
  const f = v.split(SEP);
  if (f.length < 4) return null;
  return { nodeId: f[0]!, worker: Number(f[1]), connId: Number(f[2]), key, platform: f[f.length - 1]! };
}

export class RedisDirectory {
  constructor(
    private readonly link: RedisLink,
    private readonly names: RedisNames,
    private readonly lease: RedisLease,
  ) {}

  private get nodeId(): string {
    return this.link.opts.nodeId;
  }

  register(e: DirectoryEntry): Promise<RegisterResult> {
    return this.link.call(async () => {
      const c = this.link.cmd;
      const [prev, all] = await Promise.all([
        c.sendCommand(['SET', this.names.key(e.key), keyValue(this.nodeId, e), 'GET']),
        USER_ADD.run(c, [this.names.user(e.mid)], [e.key, userValue(this.nodeId, e)]),
        c.sAdd(this.names.nodeEntries(this.nodeId), `${e.mid}${SEP}${e.key}`),
      ]);
      let replaced: Holding | null = null;
      if (prev != null) {
        const h = holding(e.key, text(prev));
        if (h && h.nodeId !== this.nodeId && this.lease.isLive(h.nodeId)) replaced = h;
      }
      const others: Holding[] = [];
      const flat = (all as unknown[]) ?? [];
      for (let i = 0; i < flat.length; i += 2) {
        const key = text(flat[i]);
        if (key === e.key) continue;
        const h = holding(key, text(flat[i + 1]));
        if (h && this.lease.isLive(h.nodeId)) others.push(h);
      }
      return { replaced, others };
    });
  }

  unregister(e: DirectoryEntry): Promise<void> {
    return this.link.call(async () => {
      const c = this.link.cmd;
      await Promise.all([
        DEL_IF.run(c, [this.names.key(e.key)], [keyValue(this.nodeId, e)]),
        HDEL_IF.run(c, [this.names.user(e.mid)], [e.key, userValue(this.nodeId, e)]),
        c.sRem(this.names.nodeEntries(this.nodeId), `${e.mid}${SEP}${e.key}`),
      ]);
    });
  }

  /**
   * Lookups go in chunks of LOOKUP_CHUNK commands, each one pipelined write with its own deadline: a
   * batch of 100,000 targets is many round trips of a few ms each, never one call past the deadline.
   */
  async lookupMids(mids: readonly number[]): Promise<LookupResult> {
    const groups = new Grouper(this.lease);
    const c = this.link.cmd;
    for (let at = 0; at < mids.length; at += LOOKUP_CHUNK) {
      const chunk = mids.slice(at, at + LOOKUP_CHUNK);
      const replies = await this.link.call(() => Promise.all(chunk.map((m) => c.sendCommand(['HGETALL', this.names.user(m)]))));
      for (const r of replies) {
        const flat = (r as unknown as unknown[]) ?? [];
        for (let i = 0; i < flat.length; i += 2) {
          const h = holding(text(flat[i]), text(flat[i + 1]));
          if (h) groups.add(h);
        }
      }
    }
    return groups.result();
  }

  async lookupUser(mid: number): Promise<Holding[]> {
    const flat = ((await this.link.call(() => this.link.cmd.sendCommand(['HGETALL', this.names.user(mid)]))) as unknown as unknown[]) ?? [];
    const out: Holding[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const h = holding(text(flat[i]), text(flat[i + 1]));
      if (h && this.lease.isLive(h.nodeId)) out.push(h);
    }
    return out;
  }

  async lookupKeys(keys: readonly string[]): Promise<LookupResult> {
    const groups = new Grouper(this.lease);
    const c = this.link.cmd;
    for (let at = 0; at < keys.length; at += LOOKUP_CHUNK) {
      const chunk = keys.slice(at, at + LOOKUP_CHUNK);
      const replies = await this.link.call(() => Promise.all(chunk.map((k) => c.sendCommand(['GET', this.names.key(k)]))));
      for (let i = 0; i < chunk.length; i++) {
        const r = replies[i];
        if (r == null) continue;
        const h = holding(chunk[i]!, text(r));
        if (h) groups.add(h);
      }
    }
    return groups.result();
  }

  /** Remove a dead box's entries (or, with force, this box's own leftovers); returns how many. */
  async sweep(nodeId: string, force: boolean): Promise<number> {
    let total = 0;
    for (;;) {
      const n = Number(await this.link.call(() => SWEEP.run(this.link.cmd, [], [this.names.prefix, nodeId, '1000', force ? '1' : '0'])));
      if (n <= 0) return total;
      total += n;
    }
  }

  /** Remove the entries a dead worker of this box held (its connections died with it); returns how many. */
  async sweepWorker(worker: number): Promise<number> {
    let total = 0;
    let cursor = '0';
    do {
      const r = (await this.link.call(() => SWEEP_WORKER.run(this.link.cmd, [], [this.names.prefix, this.nodeId, String(worker), cursor, '1000']))) as unknown as unknown[];
      cursor = text(r[0]);
      total += Number(r[1]);
    } while (cursor !== '0');
    return total;
  }
}

/** Groups holdings per (box, worker), skipping dead boxes and repeated keys. */
class Grouper {
  private readonly byHolder = new Map<string, HolderGroup>();
  private readonly seen = new Set<string>();
  private count = 0;
  constructor(private readonly lease: RedisLease) {}

  add(h: Holding): void {
    if (!this.lease.isLive(h.nodeId) || this.seen.has(h.key)) return;
    this.seen.add(h.key);
    const id = `${h.nodeId}${SEP}${h.worker}`;
    let g = this.byHolder.get(id);
    if (!g) {
      g = { nodeId: h.nodeId, worker: h.worker, keys: [] };
      this.byHolder.set(id, g);
    }
    g.keys.push(h.key);
    this.count++;
  }

  result(): LookupResult {
    return { groups: [...this.byHolder.values()], connections: this.count };
  }
}
