/**
 * The bytes of the messages boxes send each other through the engine (docs/cluster.md#messages).
 * Fixed big-endian layouts, no JSON: a holder decodes a cross-box push as cheaply as a ring record.
 *
 * Worker channel messages start with a type byte:
 *   1 Deliver  [u8 1][i32 op][u32 n]{[u16 len][key UTF-8]}*n[body]   a push to these keys' connections on the worker
 *   2 Kick     [u8 2][u16 code][u16 len][key UTF-8][reason UTF-8]   op 6 then close (same key, multi-login)
 *   Keys, not connection ids: the holder resolves them in its own registry, so a directory entry left
 *   by a dead worker never reaches a connection that reused its id.
 *   16..63     reserved for reliable messaging (src/im/, issue 16's other half)
 * Room and all channels: [u8 originLen][origin box id][i32 op][u32 speed][body]; the origin box
 * delivered to its own clients through its rings already, so its workers skip their copy.
 */
import { readStringList, stringListBytes, writeStringList } from '../string-list.js';

export const WireType = Object.freeze({
  Deliver: 1,
  Kick: 2,
  /** First type of the range reliable messaging owns. */
  ImFirst: 16,
  ImLast: 63,
} as const);

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeDeliver(op: number, keys: readonly string[], body: Uint8Array): Uint8Array {
  const encoded = keys.map((k) => enc.encode(k));
  const out = new Uint8Array(9 + stringListBytes(encoded) + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint8(0, WireType.Deliver);
  dv.setInt32(1, op);
  dv.setUint32(5, keys.length);
  out.set(body, writeStringList(out, dv, 9, encoded));
  return out;
}

export interface DeliverView {
  op: number;
  keys: string[];
  body: Uint8Array;
}

/** Decode a Deliver; null when the bytes are not one (a peer's bug: dropped and counted, never thrown). */
export function decodeDeliver(bytes: Uint8Array): DeliverView | null {
  if (bytes.length < 9 || bytes[0] !== WireType.Deliver) return null;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const op = dv.getInt32(1);
  const n = dv.getUint32(5);
  if (n > bytes.length) return null;
  const keys: string[] = new Array<string>(n);
  const at = readStringList(bytes, 9, bytes.length, n, (key, i) => (keys[i] = key));
  if (at < 0) return null;
  return { op, keys, body: bytes.subarray(at) };
}

export function encodeKick(key: string, code: number, reason: string): Uint8Array {
  const k = enc.encode(key);
  const r = enc.encode(reason);
  const out = new Uint8Array(5 + k.length + r.length);
  const dv = new DataView(out.buffer);
  dv.setUint8(0, WireType.Kick);
  dv.setUint16(1, code);
  dv.setUint16(3, k.length);
  out.set(k, 5);
  out.set(r, 5 + k.length);
  return out;
}

export function decodeKick(bytes: Uint8Array): { key: string; code: number; reason: string } | null {
  if (bytes.length < 5 || bytes[0] !== WireType.Kick) return null;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = dv.getUint16(3);
  if (5 + len > bytes.length) return null;
  return { code: dv.getUint16(1), key: dec.decode(bytes.subarray(5, 5 + len)), reason: dec.decode(bytes.subarray(5 + len)) };
}

/** A room push or push to all: `[u8 originLen][origin][i32 op][u32 speed][body]` (speed 0 for rooms). */
export function encodeFanout(origin: string, op: number, speed: number, body: Uint8Array): Uint8Array {
  const o = enc.encode(origin);
  const head = 1 + o.length + 8;
  const out = new Uint8Array(head + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint8(0, o.length);
  out.set(o, 1);
  dv.setInt32(1 + o.length, op);
  dv.setUint32(5 + o.length, speed);
  out.set(body, head);
  return out;
}

export interface FanoutView {
  /** The origin box's id as bytes (compared with `isFrom`, no string made per message). */
  origin: Uint8Array;
  op: number;
  speed: number;
  body: Uint8Array;
}

export function decodeFanout(bytes: Uint8Array): FanoutView | null {
  if (bytes.length < 1) return null;
  const n = bytes[0]!;
  if (bytes.length < 1 + n + 8) return null;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { origin: bytes.subarray(1, 1 + n), op: dv.getInt32(1 + n), speed: dv.getUint32(5 + n), body: bytes.subarray(9 + n) };
}

/** Whether `origin` (from decodeFanout) is `self` (this box's id, encoded once). */
export function isFrom(origin: Uint8Array, self: Uint8Array): boolean {
  if (origin.length !== self.length) return false;
  for (let i = 0; i < self.length; i++) if (origin[i] !== self[i]) return false;
  return true;
}
