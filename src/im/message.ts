/**
 * The stored and delivered form of one reliable message: the body of op 112 (ImOp.Message), kept
 * byte for byte as the value in the user's inbox, so delivering it (live, on sync, on redelivery)
 * copies stored bytes into a packet without re-encoding anything. Big-endian:
 *
 *   [u64 seq][u64 from][i32 op][u64 ts ms][u64 group (0: direct)][u16 cmidLen][client_msg_id UTF-8][body]
 *
 * u64 fields hold JavaScript safe integers (up to 2^53-1).
 */
export const MESSAGE_HEAD = 38;

export interface MessageFields {
  seq: number;
  from: number;
  op: number;
  ts: number;
  group: number;
  clientMsgId: string;
  body: Uint8Array;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function setU64(dv: DataView, at: number, n: number): void {
  dv.setUint32(at, Math.floor(n / 0x100000000));
  dv.setUint32(at + 4, n >>> 0);
}

export function getU64(dv: DataView, at: number): number {
  return dv.getUint32(at) * 0x100000000 + dv.getUint32(at + 4);
}

export function encodeMessage(seq: number, from: number, op: number, ts: number, group: number, clientMsgId: Uint8Array, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(MESSAGE_HEAD + clientMsgId.length + body.length);
  const dv = new DataView(out.buffer);
  setU64(dv, 0, seq);
  setU64(dv, 8, from);
  dv.setInt32(16, op);
  setU64(dv, 20, ts);
  setU64(dv, 28, group);
  dv.setUint16(36, clientMsgId.length);
  out.set(clientMsgId, MESSAGE_HEAD);
  out.set(body, MESSAGE_HEAD + clientMsgId.length);
  return out;
}

/** The same message under another seq (a group message copied into each member's inbox). */
export function withSeq(msg: Uint8Array, seq: number): Uint8Array {
  const out = msg.slice();
  setU64(new DataView(out.buffer, out.byteOffset, 8), 0, seq);
  return out;
}

export function messageSeq(msg: Uint8Array): number {
  return getU64(new DataView(msg.buffer, msg.byteOffset, 8), 0);
}

export function messageTs(msg: Uint8Array): number {
  return getU64(new DataView(msg.buffer, msg.byteOffset + 20, 8), 0);
}

export function decodeMessage(msg: Uint8Array): MessageFields | null {
  if (msg.length < MESSAGE_HEAD) return null;
  const dv = new DataView(msg.buffer, msg.byteOffset, msg.length);
  const cl = dv.getUint16(36);
  if (MESSAGE_HEAD + cl > msg.length) return null;
  return {
    seq: getU64(dv, 0),
    from: getU64(dv, 8),
    op: dv.getInt32(16),
    ts: getU64(dv, 20),
    group: getU64(dv, 28),
    clientMsgId: dec.decode(msg.subarray(MESSAGE_HEAD, MESSAGE_HEAD + cl)),
    body: msg.subarray(MESSAGE_HEAD + cl),
  };
}

export function utf8(s: string): Uint8Array {
  return enc.encode(s);
}

/** The JSON form of a message (HTTP /im/inbox): body as UTF-8 text. */
export function messageJson(m: MessageFields): { seq: number; from: number; op: number; body: string; client_msg_id: string; ts: number; group?: number } {
  const out: { seq: number; from: number; op: number; body: string; client_msg_id: string; ts: number; group?: number } = {
    seq: m.seq,
    from: m.from,
    op: m.op,
    body: dec.decode(m.body),
    client_msg_id: m.clientMsgId,
    ts: m.ts,
  };
  if (m.group !== 0) out.group = m.group;
  return out;
}
