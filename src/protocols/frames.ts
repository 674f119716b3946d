/**
 * Frame once, write to many: the bytes of one push (or of a batch of pushes merged within the
 * batch window), encoded once per transport on first use and then written unchanged to every
 * recipient on that transport.
 *
 *   TCP:       the goim packets back to back (goim's comet writes op-9 bodies raw on TCP);
 *   WebSocket: one op-9 packet holding them, inside a complete unmasked binary WS frame (header
 *              included), so it can be written straight to the socket;
 *   Mars:      one Mars packet per push (cmdid = op, seq 0).
 */
import { encodePacket, HEADER_BYTES, writeHeader } from '../codec.js';
import { encodeMarsPacket } from '../codec-mars.js';
import { Op, opToMarsCmdid } from '../ops.js';

export interface PushItem {
  op: number;
  body: Uint8Array;
}

/** A server-to-client WebSocket frame header (FIN, binary, no mask) for a payload of `len` bytes. */
export function wsFrameHeader(len: number): Uint8Array {
  const h = new Uint8Array(wsHeaderBytes(len));
  writeWsFrameHeader(h, len);
  return h;
}

/** Bytes of the WebSocket frame header for a payload of `len` bytes (RFC 6455 5.2). */
export function wsHeaderBytes(len: number): number {
  return len < 126 ? 2 : len < 0x10000 ? 4 : 10;
}

/** Writes that header at the start of `target` (as ws's Sender frames it: the same bytes). */
export function writeWsFrameHeader(target: Uint8Array, len: number): void {
  target[0] = 0x82;
  if (len < 126) {
    target[1] = len;
  } else if (len < 0x10000) {
    target[1] = 126;
    target[2] = len >>> 8;
    target[3] = len & 0xff;
  } else {
    target[1] = 127;
    new DataView(target.buffer, target.byteOffset, 10).setBigUint64(2, BigInt(len));
  }
}

/**
 * One goim packet inside a complete WebSocket frame, in one allocation: what `ws.send` of the
 * packet would put on the wire, ready for a single socket write (a reply: heartbeat, auth, ...).
 */
export function encodeWsPacket(op: number, seq: number, body: Uint8Array | null, ver = 1): Buffer {
  const packLen = HEADER_BYTES + (body === null ? 0 : body.length);
  const h = wsHeaderBytes(packLen);
  const out = Buffer.allocUnsafe(h + packLen);
  writeWsFrameHeader(out, packLen);
  writeHeader(out, h, packLen, ver, op, seq);
  if (body !== null) out.set(body, h + HEADER_BYTES);
  return out;
}

export class PushFrames {
  readonly items: PushItem[];
  private tcpBytes: Uint8Array | null = null;
  private wsBytes: Uint8Array | null = null;
  private wsPayloadBytes: Uint8Array | null = null;
  private marsBytes: Uint8Array | null = null;

  constructor(items: PushItem[]) {
    this.items = items;
  }

  /** goim packets back to back (ver 1, seq 0). */
  tcp(): Uint8Array {
    if (this.tcpBytes === null) {
      this.tcpBytes = this.items.length === 1 ? encodePacket(this.items[0]!.op, 0, this.items[0]!.body) : Buffer.concat(this.items.map((i) => encodePacket(i.op, 0, i.body)));
    }
    return this.tcpBytes;
  }

  /** The op-9 packet a WebSocket message carries (without the WS frame header). */
  wsPayload(): Uint8Array {
    if (this.wsPayloadBytes === null) {
      const inner = this.tcp();
      const out = Buffer.allocUnsafe(HEADER_BYTES + inner.length);
      writeHeader(out, 0, HEADER_BYTES + inner.length, 1, Op.Raw, 0);
      out.set(inner, HEADER_BYTES);
      this.wsPayloadBytes = out;
    }
    return this.wsPayloadBytes;
  }

  /** The complete WebSocket frame: header and op-9 payload, ready for socket.write. */
  ws(): Uint8Array {
    if (this.wsBytes === null) {
      const payload = this.wsPayload();
      const header = wsFrameHeader(payload.length);
      const out = Buffer.allocUnsafe(header.length + payload.length);
      out.set(header, 0);
      out.set(payload, header.length);
      this.wsBytes = out;
    }
    return this.wsBytes;
  }

  mars(): Uint8Array {
    if (this.marsBytes === null) {
      this.marsBytes = Buffer.concat(this.items.map((i) => encodeMarsPacket(opToMarsCmdid(i.op), 0, i.body)));
    }
    return this.marsBytes;
  }
}
