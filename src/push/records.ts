/**
 * Binary bodies of the push records that cross threads (MessageKind.Push*). Fixed big-endian
 * layouts, no JSON: the acceptor writes them once per push and workers read them in place.
 *
 *   PushRoom  acceptor → every worker          [u32 req][i32 op][u16 roomLen][room][body]
 *   PushAll   acceptor → every worker          [u32 req][i32 op][u32 speed][body]
 *   PushKeys  acceptor → key's directory shard [u32 req][i32 op][u32 n]{[u16 len][key UTF-8]}*n[body]
 *   PushMids  acceptor → mid's router shard    [u32 req][i32 op][u32 n]{[f64 mid]}*n[body]
 *   Deliver   router shard or key-directory shard → holding worker
 *                                              [u32 req][i32 op][u32 n][u32 fanout]{[u32 connId]}*n[body]
 *   PushReply    first-hop receiver → acceptor [u32 req][u32 connections][u32 0][u32 0]
 *   DeliverReply holding worker → acceptor     [u32 req][u32 connections][u32 fanout][u32 shard]
 * A shard that found holders does not reply itself: each Deliver tells its holder how many Delivers
 * the shard sent (`fanout`), and the holder passes that on, so the acceptor knows when a shard's
 * part is complete without an extra record (and wake-up) per push. A shard that found no holder
 * replies with PushReply.
 */
import { readStringList, stringListBytes, writeStringList } from '../string-list.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

function view(buf: Uint8Array, off: number, len: number): DataView {
  return new DataView(buf.buffer, buf.byteOffset + off, len);
}

export function encodeRoomPush(req: number, op: number, room: string, body: Uint8Array): Uint8Array {
  const r = enc.encode(room);
  const out = new Uint8Array(10 + r.length + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, req);
  dv.setInt32(4, op);
  dv.setUint16(8, r.length);
  out.set(r, 10);
  out.set(body, 10 + r.length);
  return out;
}

export interface RoomPush {
  req: number;
  op: number;
  room: string;
  bodyOff: number;
}

export function decodeRoomPush(buf: Uint8Array, off: number, len: number): RoomPush | null {
  if (len < 10) return null;
  const dv = view(buf, off, len);
  const rlen = dv.getUint16(8);
  if (10 + rlen > len) return null;
  return { req: dv.getUint32(0), op: dv.getInt32(4), room: dec.decode(buf.subarray(off + 10, off + 10 + rlen)), bodyOff: 10 + rlen };
}

export function encodeAllPush(req: number, op: number, speed: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, req);
  dv.setInt32(4, op);
  dv.setUint32(8, speed);
  out.set(body, 12);
  return out;
}

/** [u32 req][i32 op][u32 n] then n fixed-size items, then the body. */
function encodeList(req: number, op: number, n: number, itemBytes: number, writeItem: (dv: DataView, at: number, i: number) => void, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + n * itemBytes + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, req);
  dv.setInt32(4, op);
  dv.setUint32(8, n);
  for (let i = 0; i < n; i++) writeItem(dv, 12 + i * itemBytes, i);
  out.set(body, 12 + n * itemBytes);
  return out;
}

export function encodeMidsPush(req: number, op: number, mids: number[], body: Uint8Array): Uint8Array {
  return encodeList(req, op, mids.length, 8, (dv, at, i) => dv.setFloat64(at, mids[i]!), body);
}

export function encodeKeysPush(req: number, op: number, keys: readonly string[], body: Uint8Array): Uint8Array {
  const encoded = keys.map((k) => enc.encode(k).subarray(0, 0xffff));
  const out = new Uint8Array(12 + stringListBytes(encoded) + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, req);
  dv.setInt32(4, op);
  dv.setUint32(8, keys.length);
  out.set(body, writeStringList(out, dv, 12, encoded));
  return out;
}

/**
 * The keys of a PushKeys record at buf[off..off+len), handed to `each` in order; returns the offset
 * of the body (from off), or -1 when the record is malformed.
 */
export function decodeKeys(buf: Uint8Array, off: number, len: number, n: number, each: (key: string) => void): number {
  const end = readStringList(buf, off + 12, off + len, n, each);
  return end < 0 ? -1 : end - off;
}

export function encodeDeliver(req: number, op: number, fanout: number, connIds: number[], body: Uint8Array): Uint8Array {
  // The fanout rides as the first u32 item, ahead of the connection ids.
  return encodeList(req, op, connIds.length + 1, 4, (dv, at, i) => dv.setUint32(at, i === 0 ? fanout : connIds[i - 1]!), body);
}

/** The common head of PushAll/PushMids/Deliver: request id, op, and a count or speed. */
export interface PushHead {
  req: number;
  op: number;
  n: number;
}

export function decodeHead(buf: Uint8Array, off: number, len: number): PushHead | null {
  if (len < 12) return null;
  const dv = view(buf, off, 12);
  return { req: dv.getUint32(0), op: dv.getInt32(4), n: dv.getUint32(8) };
}

export function encodeReply(req: number, connections: number, fanout = 0, shard = 0): Uint8Array {
  const out = new Uint8Array(16);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, req);
  dv.setUint32(4, connections);
  dv.setUint32(8, fanout);
  dv.setUint32(12, shard);
  return out;
}
