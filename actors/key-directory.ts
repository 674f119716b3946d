/**
 * A key-directory shard: connection key → (worker, connection id) for the keys it owns. Each worker
 * keeps one; together they hold every key of the process, sharded by a hash of the key
 * (`shardOfKey` in src/hash.ts), as the router shards hold the users by a hash of the mid. Keys are
 * unique in the process: a new connection with a key in use replaces the old one, which is kicked
 * (op 6 4001, as goim). Registration on connect goes from the connection's worker straight to the
 * owning shard: no thread sees every connect.
 *
 * Records (bodies in src/router-records.ts and src/push/records.ts):
 *   KeyRegister / KeyUnregister from any worker's registry; entries are removed only by the
 *     connection that made them (worker and id must match), so a late unregister cannot remove a
 *     successor. A registration sent again after this shard was replaced (KEY_FLAG_RESYNC) never
 *     displaces an entry made since: that one is newer, and the resent connection is the one kicked.
 *   RouterPurgeWorker from the supervisor: forget a dead worker's entries.
 *   PushKeys from a push dispatcher: one Deliver per worker holding some of the keys, each carrying
 *     the fanout (how many Delivers this shard sent, src/push/records.ts); none found: an empty
 *     reply. A dispatcher whose own worker is the shard looks up with route() instead (no hop).
 */
import type { Actor } from '../src/actor-system.js';
import { MessageKind } from '../src/messages.js';
import { Disconnect } from '../src/errors.js';
import { decodeHead, decodeKeys, encodeDeliver } from '../src/push/records.js';
import { KEY_FLAG_RESYNC, type KeyEntry, type KickSender } from '../src/router-records.js';

const dec = new TextDecoder();

/** Where a key shard's records go (the worker's actor system, or a test's fake). */
export interface KeyDirectoryLinks {
  kick: KickSender;
  /** A Deliver record (push by key) to a holding worker's deliverer. */
  deliver(worker: number, body: Uint8Array): void;
  /** The shard's own PushReply for a push that found no holder here (to the dispatcher that asked). */
  replyEmpty(req: number): void;
}

export class KeyDirectory implements Actor {
  readonly keys = new Map<string, KeyEntry>();
  private readonly links: KeyDirectoryLinks;

  constructor(links: KeyDirectoryLinks) {
    this.links = links;
  }

  receive(kind: number, _source: number, buf: Uint8Array, off: number, len: number): void {
    switch (kind) {
      case MessageKind.KeyRegister:
      case MessageKind.KeyUnregister: {
        if (len < 7) return;
        const dv = new DataView(buf.buffer, buf.byteOffset + off, 7);
        const key = dec.decode(buf.subarray(off + 7, off + len));
        const entry = { worker: dv.getUint16(0), connId: dv.getUint32(2) };
        if (kind === MessageKind.KeyUnregister) this.unregister(key, entry);
        else if ((buf[off + 6]! & KEY_FLAG_RESYNC) !== 0) this.resync(key, entry);
        else this.register(key, entry);
        return;
      }
      case MessageKind.RouterPurgeWorker:
        if (len >= 2) this.purgeWorker((buf[off]! << 8) | buf[off + 1]!);
        return;
      case MessageKind.PushKeys:
        this.pushKeys(buf, off, len);
        return;
      default:
        return;
    }
  }

  register(key: string, entry: KeyEntry): void {
    const old = this.keys.get(key);
    if (old !== undefined && (old.worker !== entry.worker || old.connId !== entry.connId)) {
      this.kick(old);
    }
    this.keys.set(key, entry);
  }

  /** A registration resent to a replaced shard: an entry made since is newer and stays. */
  resync(key: string, entry: KeyEntry): void {
    const cur = this.keys.get(key);
    if (cur === undefined) this.keys.set(key, entry);
    else if (cur.worker !== entry.worker || cur.connId !== entry.connId) this.kick(entry);
  }

  unregister(key: string, entry: KeyEntry): void {
    const e = this.keys.get(key);
    if (e !== undefined && e.worker === entry.worker && e.connId === entry.connId) this.keys.delete(key);
  }

  /**
   * Closes the connection holding `key`, if this shard knows one (POST /admin/kick). The entry goes
   * at once: the connection is closing, and a second kick must not count it again before its
   * worker's unregister arrives (that one then finds nothing to remove).
   */
  kickKey(key: string, code: number, reason: string): boolean {
    const e = this.keys.get(key);
    if (e === undefined) return false;
    this.keys.delete(key);
    this.links.kick(e.worker, e.connId, code, reason);
    return true;
  }

  /** Forgets the keys of a worker that died (its connections died with it). */
  purgeWorker(worker: number): void {
    for (const [key, e] of this.keys) if (e.worker === worker) this.keys.delete(key);
  }

  /** The holders of these keys (those this shard owns), grouped by worker. */
  route(keys: readonly string[], out = new Map<number, number[]>()): Map<number, number[]> {
    for (const key of keys) this.routeOne(key, out);
    return out;
  }

  private routeOne(key: string, out: Map<number, number[]>): void {
    const e = this.keys.get(key);
    if (e === undefined) return;
    const list = out.get(e.worker);
    if (list === undefined) out.set(e.worker, [e.connId]);
    else list.push(e.connId);
  }

  private kick(e: KeyEntry): void {
    this.links.kick(e.worker, e.connId, Disconnect.SameKey.code, Disconnect.SameKey.reason);
  }

  /** PushKeys: one Deliver per worker holding some of these keys; each carries the fanout (records.ts). */
  private pushKeys(buf: Uint8Array, off: number, len: number): void {
    const h = decodeHead(buf, off, len);
    if (h === null) return;
    const holders = new Map<number, number[]>();
    const bodyAt = decodeKeys(buf, off, len, h.n, (key) => this.routeOne(key, holders));
    if (bodyAt < 0 || holders.size === 0) return this.links.replyEmpty(h.req);
    const body = buf.subarray(off + bodyAt, off + len);
    for (const [worker, connIds] of holders) this.links.deliver(worker, encodeDeliver(h.req, h.op, holders.size, connIds, body));
  }
}
