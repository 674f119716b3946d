/**
 * The key directory: connection key → (worker, connection id), for the whole process, kept by the
 * acceptor. Keys are unique in the process: a new connection with a key in use replaces the old one,
 * which is kicked (goim). Living in the acceptor, next to the control API, it lets a push by key go
 * straight to the worker holding the connection: one ring crossing instead of two through a shard.
 * Workers register and unregister keys with ring records (addressed to AcceptorActorId.KeyDirectory,
 * bodies in src/router-records.ts); entries are removed only by the connection
 * that made them (worker and id must match), so a late unregister cannot remove a successor.
 */
import type { Actor } from '../src/actor-system.js';
import { MessageKind } from '../src/messages.js';
import { Disconnect } from '../src/errors.js';
import type { KeyEntry, KickSender } from '../src/router-records.js';

const dec = new TextDecoder();

export class KeyDirectory implements Actor {
  readonly keys = new Map<string, KeyEntry>();
  private readonly kick: KickSender;

  constructor(kick: KickSender) {
    this.kick = kick;
  }

  receive(kind: number, _source: number, buf: Uint8Array, off: number, len: number): void {
    if ((kind !== MessageKind.KeyRegister && kind !== MessageKind.KeyUnregister) || len < 6) return;
    const dv = new DataView(buf.buffer, buf.byteOffset + off, 6);
    const key = dec.decode(buf.subarray(off + 6, off + len));
    const entry = { worker: dv.getUint16(0), connId: dv.getUint32(2) };
    if (kind === MessageKind.KeyRegister) this.register(key, entry);
    else this.unregister(key, entry);
  }

  register(key: string, entry: KeyEntry): void {
    const old = this.keys.get(key);
    if (old !== undefined && (old.worker !== entry.worker || old.connId !== entry.connId)) {
      this.kick(old.worker, old.connId, Disconnect.SameKey.code, Disconnect.SameKey.reason);
    }
    this.keys.set(key, entry);
  }

  unregister(key: string, entry: KeyEntry): void {
    const e = this.keys.get(key);
    if (e !== undefined && e.worker === entry.worker && e.connId === entry.connId) this.keys.delete(key);
  }

  /** Forgets the keys of a worker that died (its connections died with it). */
  purgeWorker(worker: number): void {
    for (const [key, e] of this.keys) if (e.worker === worker) this.keys.delete(key);
  }

  /** The holders of these keys, grouped by worker. */
  route(keys: readonly string[]): Map<number, number[]> {
    const out = new Map<number, number[]>();
    for (const key of keys) {
      const e = this.keys.get(key);
      if (e === undefined) continue;
      const list = out.get(e.worker);
      if (list === undefined) out.set(e.worker, [e.connId]);
      else list.push(e.connId);
    }
    return out;
  }
}
