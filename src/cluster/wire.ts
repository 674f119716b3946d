/**
 * The bytes of the messages boxes send each other through the engine (docs/cluster.md#messages).
 * Fixed big-endian layouts, no JSON: a holder decodes a cross-box push as cheaply as a ring record.
 *
 * Worker channel messages start with a type byte:
 *   1 Deliver  [u8 1][i32 op][u32 n]{[u32 connId]}*n[body]   a push to these connections of the worker
 *   2 Kick     [u8 2][u32 connId][u16 code][reason UTF-8]    op 6 then close (same key, multi-login)
 *   16..63     reserved for reliable messaging (src/im/, issue 16's other half)
 * Room channel:  [i32 op][body]
 * All channel:   [i32 op][u32 speed][body]
 */

export const WireType = Object.freeze({
  Deliver: 1,
  Kick: 2,
  /** First type of the range reliable messaging owns. */
  ImFirst: 16,
  ImLast: 63,
} as const);

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeDeliver(op: number, connIds: readonly number[], body: Uint8Array): Uint8Array {
  const head = 9 + 4 * connIds.length;
  const out = new Uint8Array(head + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint8(0, WireType.Deliver);
  dv.setInt32(1, op);
  dv.setUint32(5, connIds.length);
  for (let i = 0; i < connIds.length; i++) dv.setUint32(9 + 4 * i, connIds[i]!);
  out.set(body, head);
  return out;
}

export interface DeliverView {
  op: number;
  connIds: Uint32Array | number[];
  body: Uint8Array;
}

/** Decode a Deliver; null when the bytes are not one (a peer's bug: dropped and counted, never thrown). */
export function decodeDeliver(bytes: Uint8Array): DeliverView | null {
  if (bytes.length < 9 || bytes[0] !== WireType.Deliver) return null;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const op = dv.getInt32(1);
  const n = dv.getUint32(5);
  const head = 9 + 4 * n;
  if (head > bytes.length) return null;
  const connIds: number[] = new Array<number>(n);
  for (let i = 0; i < n; i++) connIds[i] = dv.getUint32(9 + 4 * i);
  return { op, connIds, body: bytes.subarray(head) };
}

export function encodeKick(connId: number, code: number, reason: string): Uint8Array {
  const r = enc.encode(reason);
  const out = new Uint8Array(7 + r.length);
  const dv = new DataView(out.buffer);
  dv.setUint8(0, WireType.Kick);
  dv.setUint32(1, connId);
  dv.setUint16(5, code);
  out.set(r, 7);
  return out;
}

export function decodeKick(bytes: Uint8Array): { connId: number; code: number; reason: string } | null {
  if (bytes.length < 7 || bytes[0] !== WireType.Kick) return null;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { connId: dv.getUint32(1), code: dv.getUint16(5), reason: dec.decode(bytes.subarray(7)) };
}

export function encodeRoomPush(op: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setInt32(0, op);
  out.set(body, 4);
  return out;
}

export function decodeRoomPush(bytes: Uint8Array): { op: number; body: Uint8Array } | null {
  if (bytes.length < 4) return null;
  return { op: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getInt32(0), body: bytes.subarray(4) };
}

export function encodeAllPush(op: number, speed: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + body.length);
  const dv = new DataView(out.buffer);
  dv.setInt32(0, op);
  dv.setUint32(4, speed);
  out.set(body, 8);
  return out;
}

export function decodeAllPush(bytes: Uint8Array): { op: number; speed: number; body: Uint8Array } | null {
  if (bytes.length < 8) return null;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { op: dv.getInt32(0), speed: dv.getUint32(4), body: bytes.subarray(8) };
}
