/**
 * The node lease in Redis: one ZSET nodeId → lease end, with the adverts and the holders' tokens in
 * two hashes beside it (same hash tag, so one script sees all three). Lease ends are taken from
 * Redis's own clock (TIME inside the scripts): the boxes' clocks never have to agree.
 *
 * A renewal is the take again (same script): it also removes the boxes whose lease ran out and
 * returns them, so exactly one live box learns each death and removes the dead box's entries. A box
 * declares others dead only when its own lease was continuous: after a Redis outage every lease
 * looks expired, and the first box back must not sweep the others before they could renew.
 */
import { randomBytes } from 'node:crypto';
import { StartupError } from '../errors.js';
import type { LiveNode, NodeAdvert } from './engine.js';
import type { RedisNames } from './redis-keys.js';
import { SEP } from './redis-keys.js';
import { errText, Script, type RedisLink } from './redis-link.js';

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** KEYS nodes, info, tokens; ARGV nodeId, token, leaseMs, advert, sweep. → {1, continuous, dead[]} | {0, msLeft} */
const TAKE = new Script(`${NOW}
local id, token, lease = ARGV[1], ARGV[2], tonumber(ARGV[3])
local score = redis.call('ZSCORE', KEYS[1], id)
local holder = redis.call('HGET', KEYS[3], id)
local continuous = 0
if score and tonumber(score) > now then
  if holder ~= token then return {0, tonumber(score) - now} end
  continuous = 1
end
redis.call('ZADD', KEYS[1], now + lease, id)
redis.call('HSET', KEYS[2], id, ARGV[4])
redis.call('HSET', KEYS[3], id, token)
local dead = {}
if continuous == 1 and ARGV[5] == '1' then
  dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
  for _, d in ipairs(dead) do
    redis.call('ZREM', KEYS[1], d)
    redis.call('HDEL', KEYS[2], d)
    redis.call('HDEL', KEYS[3], d)
  end
end
return {1, continuous, dead}
`);

/** KEYS nodes, info → {now, {id, score, advert}...} */
const LIST = new Script(`${NOW}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf', 'WITHSCORES')
local out = {}
for i = 1, #ids, 2 do
  out[#out + 1] = ids[i]
  out[#out + 1] = ids[i + 1]
  out[#out + 1] = redis.call('HGET', KEYS[2], ids[i]) or ''
end
return {now, out}
`);

/** KEYS nodes, info, tokens; ARGV nodeId, token: give the id up if we hold it. */
const RELEASE = new Script(`
if redis.call('HGET', KEYS[3], ARGV[1]) == ARGV[2] then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
  return 1
end
return 0
`);

function str(v: unknown): string {
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

export interface LeaseEvents {
  dead(nodeId: string): void;
  retaken(): void;
  lost(reason: string): void;
}

export class RedisLease {
  private readonly token = randomBytes(12).toString('hex');
  private advert: NodeAdvert | null = null;
  private timer: NodeJS.Timeout | null = null;
  private renewing = false;
  /** The live boxes as last listed, refreshed every leaseMs/3. */
  private live = new Set<string>();
  /**
   * Boxes seen live once and absent from a later list: their lease ran out. Lookups skip only these.
   * A box never listed yet (it started a moment ago) counts as live: wrongly live costs a publish that
   * reaches nobody (Redis says 0 receivers and nothing is counted), wrongly dead would lose pushes.
   */
  private readonly gone = new Set<string>();
  private liveTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly link: RedisLink,
    private readonly names: RedisNames,
    private readonly events: LeaseEvents,
  ) {}

  private get keys(): string[] {
    return [this.names.nodes, this.names.nodeInfo, this.names.nodeTokens];
  }

  async acquire(advert: NodeAdvert): Promise<void> {
    const id = this.link.opts.nodeId;
    if (id.includes(SEP) || id.includes('}') || id.includes('{')) {
      throw new StartupError(`cluster.nodeId ${JSON.stringify(id)}: must not contain braces or control characters`);
    }
    this.advert = advert;
    const r = (await this.take(false)) as unknown[];
    if (Number(r[0]) === 0) {
      throw new StartupError(
        `cluster.nodeId ${JSON.stringify(id)} is held by a live box (its lease runs ${Number(r[1])} ms more): give this box another cluster.nodeId (RINGCAST_CLUSTER_NODE_ID), or stop the other one`,
      );
    }
    const every = Math.max(50, Math.floor(this.link.opts.leaseMs / 3));
    this.timer = setInterval(() => void this.renew(), every);
    this.timer.unref();
  }

  private take(sweep: boolean): Promise<unknown> {
    const advert = JSON.stringify(this.advert);
    return this.link.call(() =>
      TAKE.run(this.link.cmd, this.keys, [this.link.opts.nodeId, this.token, String(this.link.opts.leaseMs), advert, sweep ? '1' : '0']),
    );
  }

  private async renew(): Promise<void> {
    if (this.renewing || !this.link.usable(false)) return;
    this.renewing = true;
    try {
      const r = (await this.take(true)) as unknown[];
      if (Number(r[0]) === 0) {
        this.events.lost(`cluster.nodeId ${this.link.opts.nodeId} was taken by another box while this box's lease had run out`);
        return;
      }
      if (Number(r[1]) === 0) this.events.retaken();
      for (const d of (r[2] as unknown[]) ?? []) this.events.dead(str(d));
    } catch {
      // Redis away: the next renewal tries again (the state is reported by the link)
    } finally {
      this.renewing = false;
    }
  }

  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (!this.advert) return;
    this.advert = null;
    await this.link.call(() => RELEASE.run(this.link.cmd, this.keys, [this.link.opts.nodeId, this.token]));
  }

  async list(): Promise<LiveNode[]> {
    const r = (await this.link.call(() => LIST.run(this.link.cmd, [this.names.nodes, this.names.nodeInfo], []))) as unknown[];
    const flat = r[1] as unknown[];
    const out: LiveNode[] = [];
    for (let i = 0; i < flat.length; i += 3) {
      let advert: NodeAdvert = { addrs: {}, weight: 1 };
      try {
        advert = JSON.parse(str(flat[i + 2])) as NodeAdvert;
      } catch {
        // a box that advertised nothing readable is still live
      }
      out.push({ nodeId: str(flat[i]), leaseUntil: Number(str(flat[i + 1])), addrs: advert.addrs ?? {}, weight: advert.weight ?? 1, meta: advert.meta });
    }
    const now = new Set(out.map((n) => n.nodeId));
    for (const id of this.live) if (!now.has(id)) this.gone.add(id);
    for (const id of now) this.gone.delete(id);
    this.live = now;
    return out;
  }

  /** Keep the live set fresh for lookups (workers), every leaseMs/3. */
  watchLive(): void {
    if (this.liveTimer) return;
    const every = Math.max(50, Math.floor(this.link.opts.leaseMs / 3));
    const refresh = (): void => {
      if (this.link.usable(false)) this.list().catch((err: unknown) => void errText(err));
    };
    refresh();
    this.liveTimer = setInterval(refresh, every);
    this.liveTimer.unref();
  }

  isLive(nodeId: string): boolean {
    return nodeId === this.link.opts.nodeId || !this.gone.has(nodeId);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.liveTimer) clearInterval(this.liveTimer);
    this.timer = this.liveTimer = null;
  }
}
