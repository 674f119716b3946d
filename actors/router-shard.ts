/**
 * The router-shard actor: for the users whose mid hashes to this worker, which connections they
 * hold and on which worker (mid → key → {worker, platform}). It is the source of truth for "where is
 * this user" and for per-user online counts. Messages arrive as ring records from any worker.
 */
import type { Actor } from '../src/actor-system.js';
import { MessageKind } from '../src/messages.js';

export interface RouteEntry {
  worker: number;
  connId: number;
  platform: string;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** [f64 mid][u16 worker][u32 connId][u8 platformLen][platform][key] */
export function encodeRegister(mid: number, worker: number, connId: number, platform: string, key: string): Uint8Array {
  const p = enc.encode(platform.slice(0, 255));
  const k = enc.encode(key);
  const out = new Uint8Array(15 + p.length + k.length);
  const dv = new DataView(out.buffer);
  dv.setFloat64(0, mid);
  dv.setUint16(8, worker);
  dv.setUint32(10, connId);
  out[14] = p.length;
  out.set(p, 15);
  out.set(k, 15 + p.length);
  return out;
}

/** [f64 mid][key] */
export function encodeUnregister(mid: number, key: string): Uint8Array {
  const k = enc.encode(key);
  const out = new Uint8Array(8 + k.length);
  new DataView(out.buffer).setFloat64(0, mid);
  out.set(k, 8);
  return out;
}

/** [u16 worker] */
export function encodeWorker(worker: number): Uint8Array {
  const out = new Uint8Array(2);
  new DataView(out.buffer).setUint16(0, worker);
  return out;
}

export class RouterShard implements Actor {
  readonly users = new Map<number, Map<string, RouteEntry>>();
  entries = 0;
  private readonly onChange: (entries: number) => void;

  constructor(onChange: (entries: number) => void) {
    this.onChange = onChange;
  }

  receive(kind: number, _source: number, buf: Uint8Array, off: number, len: number): void {
    const dv = new DataView(buf.buffer, buf.byteOffset + off, len);
    switch (kind) {
      case MessageKind.RouterRegister: {
        if (len < 15 || 15 + buf[off + 14]! > len) return;
        const plen = buf[off + 14]!;
        this.register(dv.getFloat64(0), dec.decode(buf.subarray(off + 15 + plen, off + len)), {
          worker: dv.getUint16(8),
          connId: dv.getUint32(10),
          platform: dec.decode(buf.subarray(off + 15, off + 15 + plen)),
        });
        break;
      }
      case MessageKind.RouterUnregister:
        if (len < 8) return;
        this.unregister(dv.getFloat64(0), dec.decode(buf.subarray(off + 8, off + len)));
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

  register(mid: number, key: string, entry: RouteEntry): void {
    let keys = this.users.get(mid);
    if (keys === undefined) {
      keys = new Map();
      this.users.set(mid, keys);
    }
    if (!keys.has(key)) this.entries++;
    keys.set(key, entry);
  }

  unregister(mid: number, key: string): void {
    const keys = this.users.get(mid);
    if (keys === undefined || !keys.delete(key)) return;
    this.entries--;
    if (keys.size === 0) this.users.delete(mid);
  }

  /** Forgets every connection held by a worker that died (its sockets died with it). */
  purgeWorker(worker: number): number {
    let removed = 0;
    for (const [mid, keys] of this.users) {
      for (const [key, e] of keys) {
        if (e.worker === worker) {
          keys.delete(key);
          removed++;
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
