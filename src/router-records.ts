/**
 * Binary bodies of the router and key-directory records (MessageKind.Router*, Key*, Kick),
 * big-endian, and the entries they describe. Connection actors, the registry and the supervisor
 * write them; actors/router-shard.ts and actors/key-directory.ts read them.
 *
 *   RouterRegister    [f64 mid][u16 worker][u32 connId][u8 flags][u8 platformLen][platform][key]
 *   RouterUnregister  [f64 mid][u16 worker][u32 connId][key]
 *   RouterPurgeWorker / RouterResync  [u16 worker]
 *   KeyRegister / KeyUnregister       [u16 worker][u32 connId][u8 flags][key]  (flags: KEY_FLAG_*)
 *   Kick              [u16 code][reason UTF-8]  (code: src/errors.ts, Disconnect)
 */

/** Where a user's connection is, in a router shard. */
export interface RouteEntry {
  worker: number;
  connId: number;
  platform: string;
}

/** Where a key's connection is, in the key directory. */
export interface KeyEntry {
  worker: number;
  connId: number;
}

/** Register flag: this platform's multi-login policy is kick. */
export const FLAG_KICK_SAME_PLATFORM = 1;

/** Sends a Kick record to a connection actor on any worker. */
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

/**
 * KeyRegister flag: a registration sent again after the key's shard was replaced (RouterResync). A
 * replaced shard starts empty, so an entry it holds for the key already was registered after it
 * started: it is the newer connection, and the resent one is the one replaced (kicked, 4001).
 */
export const KEY_FLAG_RESYNC = 1;

/** KeyRegister / KeyUnregister body. */
export function encodeKey(worker: number, connId: number, key: string, flags = 0): Uint8Array {
  const k = enc.encode(key);
  const { out, dv } = header(7 + k.length);
  dv.setUint16(0, worker);
  dv.setUint32(2, connId);
  out[6] = flags;
  out.set(k, 7);
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
