/**
 * The router-shard actor. Each worker owns one; together they hold the user directory, sharded over
 * the workers by a hash of the mid: mid → key → {worker, connId, platform}: "where is this user",
 * online counts, and the multi-login policy (a second login on the same platform kicks the older
 * one when that platform's policy is kick). Connection keys live in the acceptor's KeyDirectory.
 * Every message comes as a ring record from a connection's registry (or the supervisor) on any
 * worker (bodies: src/router-records.ts). Entries are removed only by the connection that made them
 * (worker and connId must match), so a late unregister of a replaced connection cannot remove its
 * successor.
 *
 * Push routing: a push to mids this shard owns (PushMids) finds the workers holding those users'
 * connections and forwards one Deliver record per holding worker, each telling its holder how many
 * Deliver records the shard sent, so the holders' replies tell the acceptor when this shard's part
 * is complete (src/push/records.ts); a shard that finds no holder answers the acceptor itself.
 */
import type { Actor } from '../src/actor-system.js';
import { Disconnect } from '../src/errors.js';
import { MessageKind } from '../src/messages.js';
import { decodeHead, encodeDeliver } from '../src/push/records.js';
import { FLAG_KICK_SAME_PLATFORM, type KickSender, type RouteEntry } from '../src/router-records.js';

const dec = new TextDecoder();

/** Where a router shard's records go (the worker's actor system, or a test's fake). */
export interface RouterShardLinks {
  /** The shard's entry count changed (the worker's ST_ROUTER_ENTRIES word). */
  entriesChanged(entries: number): void;
  kick: KickSender;
  /** A Deliver record (push by mid) to a holding worker's deliverer. */
  deliver(worker: number, body: Uint8Array): void;
  /** The shard's own PushReply to the acceptor, for a push that found no holder here. */
  replyEmpty(req: number): void;
}

export class RouterShard implements Actor {
  readonly users = new Map<number, Map<string, RouteEntry>>();
  entries = 0;
  private readonly links: RouterShardLinks;
  /** Called for every entry removed (unregistered, kicked, or its worker died): per-connection state elsewhere can go. */
  onRemoved: (mid: number, key: string, entry: RouteEntry) => void = () => undefined;

  constructor(links: RouterShardLinks) {
    this.links = links;
  }

  receive(kind: number, _source: number, buf: Uint8Array, off: number, len: number): void {
    if (kind === MessageKind.PushMids) {
      this.pushMids(buf, off, len);
      return;
    }
    const dv = new DataView(buf.buffer, buf.byteOffset + off, len);
    switch (kind) {
      case MessageKind.RouterRegister: {
        if (len < 16 || 16 + buf[off + 15]! > len) return;
        const plen = buf[off + 15]!;
        const entry = { worker: dv.getUint16(8), connId: dv.getUint32(10), platform: dec.decode(buf.subarray(off + 16, off + 16 + plen)) };
        this.register(dv.getFloat64(0), dec.decode(buf.subarray(off + 16 + plen, off + len)), entry, (buf[off + 14]! & FLAG_KICK_SAME_PLATFORM) !== 0);
        break;
      }
      case MessageKind.RouterUnregister:
        if (len < 14) return;
        this.unregister(dv.getFloat64(0), dec.decode(buf.subarray(off + 14, off + len)), dv.getUint16(8), dv.getUint32(10));
        break;
      case MessageKind.RouterPurgeWorker:
        if (len < 2) return;
        this.purgeWorker(dv.getUint16(0));
        break;
      default:
        return;
    }
    this.links.entriesChanged(this.entries);
  }

  register(mid: number, key: string, entry: RouteEntry, kickSamePlatform: boolean): void {
    let keys = this.users.get(mid);
    if (keys === undefined) {
      keys = new Map();
      this.users.set(mid, keys);
    }
    if (kickSamePlatform) {
      for (const [k, e] of keys) {
        if (k !== key && e.platform === entry.platform) {
          this.links.kick(e.worker, e.connId, Disconnect.MultiLogin.code, `${Disconnect.MultiLogin.reason} ${entry.platform || 'the same platform'}`);
          keys.delete(k);
          this.entries--;
          this.onRemoved(mid, k, e);
        }
      }
    }
    if (!keys.has(key)) this.entries++;
    keys.set(key, entry);
  }

  unregister(mid: number, key: string, worker: number, connId: number): void {
    const keys = this.users.get(mid);
    const e = keys?.get(key);
    if (keys === undefined || e === undefined || e.worker !== worker || e.connId !== connId) return;
    keys.delete(key);
    this.entries--;
    if (keys.size === 0) this.users.delete(mid);
    this.onRemoved(mid, key, e);
  }

  /** Forgets every connection held by a worker that died (its sockets died with it). */
  purgeWorker(worker: number): number {
    let removed = 0;
    for (const [mid, keys] of this.users) {
      for (const [key, e] of keys) {
        if (e.worker === worker) {
          keys.delete(key);
          removed++;
          this.onRemoved(mid, key, e);
        }
      }
      if (keys.size === 0) this.users.delete(mid);
    }
    this.entries -= removed;
    return removed;
  }

  /** PushMids: one Deliver per worker holding connections of these users; each carries the fanout (records.ts). */
  private pushMids(buf: Uint8Array, off: number, len: number): void {
    const h = decodeHead(buf, off, len);
    if (h === null) return;
    if (12 + h.n * 8 > len) return this.links.replyEmpty(h.req);
    const holders = new Map<number, number[]>();
    const dv = new DataView(buf.buffer, buf.byteOffset + off + 12, h.n * 8);
    for (let i = 0; i < h.n; i++) {
      const keys = this.users.get(dv.getFloat64(i * 8));
      if (keys === undefined) continue;
      for (const e of keys.values()) {
        const list = holders.get(e.worker);
        if (list === undefined) holders.set(e.worker, [e.connId]);
        else list.push(e.connId);
      }
    }
    if (holders.size === 0) return this.links.replyEmpty(h.req);
    const body = buf.subarray(off + 12 + h.n * 8, off + len);
    for (const [worker, connIds] of holders) this.links.deliver(worker, encodeDeliver(h.req, h.op, holders.size, connIds, body));
  }

  lookup(mid: number): Array<[string, number, string]> {
    const keys = this.users.get(mid);
    if (keys === undefined) return [];
    return [...keys].map(([key, e]) => [key, e.worker, e.platform]);
  }
}
