/**
 * Binary bodies of the reliable-messaging ring records (MessageKind.Im*), big-endian:
 *
 *   ImSend       sender → shard   [u32 req][u16 origin thread][f64 from][i32 op][f64 group][f64 ts]
 *                                 [u16 cmidLen][cmid][u32 n]{[f64 mid]}*n[body]
 *   ImSendReply  shard → origin   [u32 req][u16 code][u32 n]{[f64 mid][f64 seq]}*n[reason UTF-8, optional]
 *   ImSync       worker → shard   [f64 mid][u16 worker][u32 connId][f64 after (-1: the device's read position)][u32 limit][key]
 *   ImAck        worker → shard   [f64 mid][u16 worker][u32 connId][f64 seq][u8 single][key]
 *   ImDeliver / ImSyncReply       shard → connection actor: the packet body as is
 *   ImNotify     worker → shard   [f64 mid][f64 seq][message (src/im/message.ts), or nothing]: in
 *                                 cluster mode, the user's inbox holds everything up to seq (another
 *                                 box wrote it; the same bytes follow a type byte on the engine's
 *                                 worker channel, src/cluster/im-peers.ts)
 */
import { MessageKind } from '../messages.js';
import { MESSAGE_HEAD } from './message.js';

/** Result codes of a send (ImSendReply's code, op 111's "code", ImError's status): HTTP statuses, 0 = ok. */
export const enum ImCode {
  Ok = 0,
  BadRequest = 400,
  NotMember = 403,
  UnknownTarget = 404,
  /** The message body is over im.maxMessageBytes. */
  TooLarge = 413,
  RateLimited = 429,
  Unavailable = 503,
  Timeout = 504,
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export interface SendRecord {
  req: number;
  origin: number;
  from: number;
  op: number;
  group: number;
  ts: number;
  clientMsgId: Uint8Array;
  mids: number[];
  body: Uint8Array;
}

export function encodeSend(r: SendRecord): Uint8Array {
  const head = 40 + r.clientMsgId.length;
  const out = new Uint8Array(head + 4 + r.mids.length * 8 + r.body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, r.req);
  dv.setUint16(4, r.origin);
  dv.setFloat64(6, r.from);
  dv.setInt32(14, r.op);
  dv.setFloat64(18, r.group);
  dv.setFloat64(26, r.ts);
  dv.setUint16(34, r.clientMsgId.length);
  // bytes 36..39 reserved (alignment of the cmid is not needed; kept for a future flags word)
  out.set(r.clientMsgId, 40);
  dv.setUint32(head, r.mids.length);
  for (let i = 0; i < r.mids.length; i++) dv.setFloat64(head + 4 + i * 8, r.mids[i]!);
  out.set(r.body, head + 4 + r.mids.length * 8);
  return out;
}

export function decodeSend(buf: Uint8Array, off: number, len: number): SendRecord | null {
  if (len < 44) return null;
  const dv = new DataView(buf.buffer, buf.byteOffset + off, len);
  const cl = dv.getUint16(34);
  const head = 40 + cl;
  if (head + 4 > len) return null;
  const n = dv.getUint32(head);
  if (head + 4 + n * 8 > len) return null;
  const mids = new Array<number>(n);
  for (let i = 0; i < n; i++) mids[i] = dv.getFloat64(head + 4 + i * 8);
  return {
    req: dv.getUint32(0),
    origin: dv.getUint16(4),
    from: dv.getFloat64(6),
    op: dv.getInt32(14),
    group: dv.getFloat64(18),
    ts: dv.getFloat64(26),
    clientMsgId: buf.slice(off + 40, off + head),
    mids,
    body: buf.slice(off + head + 4 + n * 8, off + len),
  };
}

export function encodeSendReply(req: number, code: number, seqs: Array<[number, number]>, reason = ''): Uint8Array {
  const r = reason === '' ? null : enc.encode(reason);
  const out = new Uint8Array(10 + seqs.length * 16 + (r?.length ?? 0));
  if (r !== null) out.set(r, 10 + seqs.length * 16);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, req);
  dv.setUint16(4, code);
  dv.setUint32(6, seqs.length);
  for (let i = 0; i < seqs.length; i++) {
    dv.setFloat64(10 + i * 16, seqs[i]![0]);
    dv.setFloat64(18 + i * 16, seqs[i]![1]);
  }
  return out;
}

export function decodeSendReply(buf: Uint8Array, off: number, len: number): { req: number; code: number; seqs: Array<[number, number]>; reason: string } | null {
  if (len < 10) return null;
  const dv = new DataView(buf.buffer, buf.byteOffset + off, len);
  const n = dv.getUint32(6);
  if (10 + n * 16 > len) return null;
  const seqs: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) seqs.push([dv.getFloat64(10 + i * 16), dv.getFloat64(18 + i * 16)]);
  // The reason of a refusal (the cluster engine's error names the engine); empty when none.
  const reason = 10 + n * 16 < len ? dec.decode(buf.subarray(off + 10 + n * 16, off + len)) : '';
  return { req: dv.getUint32(0), code: dv.getUint16(4), seqs, reason };
}

/** The device a sync or ack comes from. */
export interface DeviceRef {
  mid: number;
  worker: number;
  connId: number;
  key: string;
}

/** ImSync ([after][u32 limit]) and ImAck ([seq][u8 single]) share the device head and an f64 position. */
function encodeDeviceRecord(d: DeviceRef, pos: number, tail: number, tailBytes: 1 | 4): Uint8Array {
  const k = enc.encode(d.key);
  const head = 22 + tailBytes;
  const out = new Uint8Array(head + k.length);
  const dv = new DataView(out.buffer);
  dv.setFloat64(0, d.mid);
  dv.setUint16(8, d.worker);
  dv.setUint32(10, d.connId);
  dv.setFloat64(14, pos);
  if (tailBytes === 4) dv.setUint32(22, tail);
  else out[22] = tail;
  out.set(k, head);
  return out;
}

function decodeDeviceRecord(buf: Uint8Array, off: number, len: number, tailBytes: 1 | 4): { dev: DeviceRef; pos: number; tail: number } | null {
  const head = 22 + tailBytes;
  if (len < head) return null;
  const dv = new DataView(buf.buffer, buf.byteOffset + off, len);
  return {
    dev: { mid: dv.getFloat64(0), worker: dv.getUint16(8), connId: dv.getUint32(10), key: dec.decode(buf.subarray(off + head, off + len)) },
    pos: dv.getFloat64(14),
    tail: tailBytes === 4 ? dv.getUint32(22) : buf[off + 22]!,
  };
}

export function encodeSync(d: DeviceRef, after: number, limit: number): Uint8Array {
  return encodeDeviceRecord(d, after, limit, 4);
}

export function decodeSync(buf: Uint8Array, off: number, len: number): { dev: DeviceRef; after: number; limit: number } | null {
  const r = decodeDeviceRecord(buf, off, len, 4);
  return r === null ? null : { dev: r.dev, after: r.pos, limit: r.tail };
}

export function encodeAck(d: DeviceRef, seq: number, single: boolean): Uint8Array {
  return encodeDeviceRecord(d, seq, single ? 1 : 0, 1);
}

export function decodeAck(buf: Uint8Array, off: number, len: number): { dev: DeviceRef; seq: number; single: boolean } | null {
  const r = decodeDeviceRecord(buf, off, len, 1);
  return r === null ? null : { dev: r.dev, seq: r.pos, single: r.tail !== 0 };
}

export const NOTIFY_HEAD = 16;

/** ImNotify's body, with `head` bytes left free in front (the engine wire's type byte). */
export function encodeNotify(mid: number, seq: number, msg: Uint8Array | null, head = 0): Uint8Array {
  const out = new Uint8Array(head + NOTIFY_HEAD + (msg?.length ?? 0));
  const dv = new DataView(out.buffer);
  dv.setFloat64(head, mid);
  dv.setFloat64(head + 8, seq);
  if (msg !== null) out.set(msg, head + NOTIFY_HEAD);
  return out;
}

export function decodeNotify(buf: Uint8Array, off: number, len: number): { mid: number; seq: number; msg: Uint8Array | null } | null {
  if (len < NOTIFY_HEAD) return null;
  const dv = new DataView(buf.buffer, buf.byteOffset + off, len);
  const mid = dv.getFloat64(0);
  const seq = dv.getFloat64(8);
  if (!Number.isSafeInteger(mid) || !Number.isSafeInteger(seq)) return null;
  // Copied: a ring body is valid only during the handler call, and the shard may keep it for a read.
  return { mid, seq, msg: len >= NOTIFY_HEAD + MESSAGE_HEAD ? buf.slice(off + NOTIFY_HEAD, off + len) : null };
}

/** What an IM shard does with the records addressed to it (actors/im-shard.ts, actors/im-shard-redis.ts). */
export interface ImRecordHandler {
  onSend(r: SendRecord): void;
  onSync(dev: DeviceRef, after: number, limit: number): void;
  onAck(dev: DeviceRef, seq: number, single: boolean): void;
}

/** Decodes an ImSend, ImSync or ImAck record and hands it over; false for any other kind (a bad body is dropped). */
export function dispatchImRecord(h: ImRecordHandler, kind: number, buf: Uint8Array, off: number, len: number): boolean {
  switch (kind) {
    case MessageKind.ImSend: {
      const r = decodeSend(buf, off, len);
      if (r !== null) h.onSend(r);
      return true;
    }
    case MessageKind.ImSync: {
      const r = decodeSync(buf, off, len);
      if (r !== null) h.onSync(r.dev, r.after, r.limit);
      return true;
    }
    case MessageKind.ImAck: {
      const r = decodeAck(buf, off, len);
      if (r !== null) h.onAck(r.dev, r.seq, r.single);
      return true;
    }
    default:
      return false;
  }
}
