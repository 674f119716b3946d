/**
 * The router-shard actor. Each worker owns one; together they hold the user directory, sharded over
 * the workers by a hash of the mid: mid → key → {worker, connId, platform}: "where is this user",
 * online counts, and the multi-login policy (a second login on the same platform kicks the older
 * one when that platform's policy is kick). Connection keys live in the acceptor's KeyDirectory.
 * Every message comes as a ring record from a connection actor (or the supervisor) on any worker.
 * Entries are removed only by the connection that made them (worker and connId must match), so a
 * late unregister of a replaced connection cannot remove its successor.
 */
import type { Actor } from '../src/actor-system.js';
import { Disconnect } from '../src/errors.js';
import { MessageKind } from '../src/messages.js';

export interface RouteEntry {
  worker: number;
  connId: number;
  platform: string;
}

export interface KeyEntry {
  worker: number;
  connId: number;
}

/** Register flag: this platform's multi-login policy is kick. */
export const FLAG_KICK_SAME_PLATFORM = 1;

export type KickSender = (worker: number, connId: number, code: number, reason: string) => void;

const enc = new TextEncoder();
const dec = new TextDecoder();

function header(size: number): { out: Uint8Array; dv: DataView } {
  const out = new Uint8Array(size);
  return { out, dv: new DataView(out.buffer) };
}

export function encodeRegister(mid: number, worker: number, connId: number, flags: number, platform: string, key: string): Uint8Array {
  const p = enc.encode(platform).subarray(0, 255);
  const k = enc.encode(key);
  const { out, dv } = header(16 + p.length + k.length);
  dv.setFloat64(0, mid);
  dv.setUint16(8, worker);
  dv.setUint32(10, connId);
  out[14] = flags;
  out[15] = p.length;
  out.set(p, 16);
  out.set(k, 16 + p.length);
  return out;
}

export function encodeUnregister(mid: number, worker: number, connId: number, key: string): Uint8Array {
  const k = enc.encode(key);
  const { out, dv } = header(14 + k.length);
  dv.setFloat64(0, mid);
  dv.setUint16(8, worker);
  dv.setUint32(10, connId);
  out.set(k, 14);
  return out;
}

/** KeyRegister / KeyUnregister body. */
export function encodeKey(worker: number, connId: number, key: string): Uint8Array {
  const k = enc.encode(key);
  const { out, dv } = header(6 + k.length);
  dv.setUint16(0, worker);
  dv.setUint32(2, connId);
  out.set(k, 6);
  return out;
}

export function encodeWorker(worker: number): Uint8Array {
  const { out, dv } = header(2);
  dv.setUint16(0, worker);
  return out;
}

export function encodeKick(code: number, reason: string): Uint8Array {
  const r = enc.encode(reason);
  const { out, dv } = header(2 + r.length);
  dv.setUint16(0, code);
  out.set(r, 2);
  return out;
}

export function decodeKick(buf: Uint8Array, off: number, len: number): { code: number; reason: string } {
  if (len < 2) return { code: 0, reason: '' };
  return { code: (buf[off]! << 8) | buf[off + 1]!, reason: dec.decode(buf.subarray(off + 2, off + len)) };
}

export class RouterShard implements Actor {
  readonly users = new Map<number, Map<string, RouteEntry>>();
  entries = 0;
  private readonly onChange: (entries: number) => void;
  private readonly kick: KickSender;
  /** Called for every entry removed (unregistered, kicked, or its worker died): per-connection state elsewhere can go. */
  onRemoved: (mid: number, key: string, entry: RouteEntry) => void = () => undefined;

  constructor(onChange: (entries: number) => void, kick: KickSender) {
    this.onChange = onChange;
    this.kick = kick;
  }

  receive(kind: number, _source: number, buf: Uint8Array, off: number, len: number): void {
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
    this.onChange(this.entries);
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
          this.kick(e.worker, e.connId, Disconnect.MultiLogin.code, `${Disconnect.MultiLogin.reason} ${entry.platform || 'the same platform'}`);
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

  lookup(mid: number): Array<[string, number, string]> {
    const keys = this.users.get(mid);
    if (keys === undefined) return [];
    return [...keys].map(([key, e]) => [key, e.worker, e.platform]);
  }
}
