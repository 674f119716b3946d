/**
 * goim packets (docs/protocol.md, "Packets"): a 16-byte big-endian header
 * [packLen i32][headerLen i16 = 16][ver i16][op i32][seq i32] and a body. On WebSocket each message
 * is one packet; on TCP packets come as a stream (StreamDecoder). Op 9 holds packets back to back.
 * Bodies handed out are views into the bytes received, never copies, and the bytes are never
 * reused (the stream decoder allocates a fresh buffer when it has to join chunks).
 */
import { utf8 } from './platform.js';

export const HEADER_BYTES = 16;
/** What the SDK accepts from the server in one packet (pushes may exceed the server's inbound limit). */
export const MAX_PACKET_BYTES = 64 * 1024 * 1024;

export type PacketHandler = (op: number, seq: number, body: Uint8Array) => void;

export function encodePacket(op: number, seq: number, body: Uint8Array | null): Uint8Array {
  const len = body === null ? 0 : body.length;
  const out = new Uint8Array(HEADER_BYTES + len);
  const dv = new DataView(out.buffer);
  dv.setInt32(0, HEADER_BYTES + len);
  dv.setInt16(4, HEADER_BYTES);
  dv.setInt16(6, 1);
  dv.setInt32(8, op);
  dv.setInt32(12, seq);
  if (body !== null) out.set(body, HEADER_BYTES);
  return out;
}

/** A body given as text (UTF-8) or bytes. */
export function bodyBytes(body: Uint8Array | string | undefined | null): Uint8Array {
  if (body === undefined || body === null) return new Uint8Array(0);
  return typeof body === 'string' ? utf8(body) : body;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Decodes the one packet a WebSocket message holds (bytes after packLen are ignored, as the server
 * does). Returns an error text, or null.
 */
export function decodeMessage(bytes: Uint8Array, onPacket: PacketHandler): string | null {
  if (bytes.length < HEADER_BYTES) return 'message shorter than a packet header';
  const dv = view(bytes);
  const packLen = dv.getInt32(0);
  if (dv.getInt16(4) !== HEADER_BYTES) return 'bad header length';
  if (packLen < HEADER_BYTES || packLen > bytes.length) return 'packet length shorter than its header or longer than the message';
  onPacket(dv.getInt32(8), dv.getInt32(12), bytes.subarray(HEADER_BYTES, packLen));
  return null;
}

/** Walks the packets of an op-9 body, in order. Returns an error text, or null. */
export function decodeBatch(body: Uint8Array, onPacket: PacketHandler): string | null {
  const dv = view(body);
  let at = 0;
  while (at < body.length) {
    if (body.length - at < HEADER_BYTES) return 'op 9: trailing bytes shorter than a packet header';
    const packLen = dv.getInt32(at);
    if (dv.getInt16(at + 4) !== HEADER_BYTES) return 'op 9: bad inner header length';
    if (packLen < HEADER_BYTES || at + packLen > body.length) return 'op 9: bad inner packet length';
    onPacket(dv.getInt32(at + 8), dv.getInt32(at + 12), body.subarray(at + HEADER_BYTES, at + packLen));
    at += packLen;
  }
  return null;
}

/** goim over a byte stream (TCP): packets back to back, split anywhere. */
export class StreamDecoder {
  private pending: Uint8Array | null = null;

  /** Feeds one chunk; calls onPacket for each complete packet. Returns an error text, or null. */
  push(chunk: Uint8Array, onPacket: PacketHandler): string | null {
    let buf = chunk;
    if (this.pending !== null) {
      // A fresh buffer: bodies handed out earlier stay valid.
      const joined = new Uint8Array(this.pending.length + chunk.length);
      joined.set(this.pending, 0);
      joined.set(chunk, this.pending.length);
      buf = joined;
      this.pending = null;
    }
    const dv = view(buf);
    let at = 0;
    while (buf.length - at >= HEADER_BYTES) {
      const packLen = dv.getInt32(at);
      if (dv.getInt16(at + 4) !== HEADER_BYTES) return 'bad header length';
      if (packLen < HEADER_BYTES || packLen > MAX_PACKET_BYTES) return `bad packet length ${packLen}`;
      if (buf.length - at < packLen) break;
      onPacket(dv.getInt32(at + 8), dv.getInt32(at + 12), buf.subarray(at + HEADER_BYTES, at + packLen));
      at += packLen;
    }
    if (at < buf.length) this.pending = buf.subarray(at);
    return null;
  }
}

// u64 fields of the reliable-messaging bodies hold safe integers (docs/protocol.md).

export function setU64(dv: DataView, at: number, n: number): void {
  dv.setUint32(at, Math.floor(n / 0x100000000));
  dv.setUint32(at + 4, n >>> 0);
}

export function getU64(dv: DataView, at: number): number {
  return dv.getUint32(at) * 0x100000000 + dv.getUint32(at + 4);
}

export function dataView(bytes: Uint8Array): DataView {
  return view(bytes);
}
