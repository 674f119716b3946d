/**
 * Tencent Mars default long-link framing (mars/stn/proto/longlink_packer): a 20-byte header of five
 * big-endian uint32 fields, then the body. Unlike goim, the length field counts the body only.
 *
 *   off 0   head_length     always 20
 *   off 4   client_version
 *   off 8   cmdid
 *   off 12  seq             task id; 0 for pushes, 0xFFFFFFFF for noop (heartbeat)
 *   off 16  body_length
 *
 * Same hot-path rules as the goim codec: no allocation per packet when decoding, bodies handed out
 * as views valid only during the handler call.
 */
import { CodecError, StreamFramer, readI32, writeI32 } from './codec.js';

/** The noop (heartbeat) cmdid belongs to the cmdid ↔ op mapping in src/ops.ts; re-exported with the framing's constants. */
export { MARS_NOOP_CMDID } from './ops.js';

export const MARS_HEAD_LENGTH = 0;
export const MARS_CLIENT_VERSION = MARS_HEAD_LENGTH + 4;
export const MARS_CMDID = MARS_CLIENT_VERSION + 4;
export const MARS_SEQ = MARS_CMDID + 4;
export const MARS_BODY_LENGTH = MARS_SEQ + 4;
export const MARS_HEADER_BYTES = MARS_BODY_LENGTH + 4; // 20

export const MARS_NOOP_SEQ = 0xffffffff;
export const MARS_PUSH_SEQ = 0;

/** cmdid and seq are unsigned. The body is buf[off .. off+len), valid only during the call. */
export type MarsHandler = (clientVersion: number, cmdid: number, seq: number, buf: Uint8Array, off: number, len: number) => void;

/** One whole packet in one allocation. */
export function encodeMarsPacket(cmdid: number, seq: number, body: Uint8Array | null, clientVersion = 0): Buffer {
  const bodyLen = body === null ? 0 : body.length;
  const out = Buffer.allocUnsafe(MARS_HEADER_BYTES + bodyLen);
  writeI32(out, MARS_HEAD_LENGTH, MARS_HEADER_BYTES);
  writeI32(out, MARS_CLIENT_VERSION, clientVersion);
  writeI32(out, MARS_CMDID, cmdid);
  writeI32(out, MARS_SEQ, seq);
  writeI32(out, MARS_BODY_LENGTH, bodyLen);
  if (body !== null) out.set(body, MARS_HEADER_BYTES);
  return out;
}

export class MarsStreamDecoder extends StreamFramer<MarsHandler> {
  constructor(private readonly maxBody: number) {
    super(MARS_HEADER_BYTES, MARS_HEADER_BYTES + maxBody);
  }

  protected override frameLength(buf: Uint8Array, off: number): number {
    if (readI32(buf, off + MARS_HEAD_LENGTH) !== MARS_HEADER_BYTES) return -CodecError.BadHeaderLength;
    const bodyLen = readI32(buf, off + MARS_BODY_LENGTH) >>> 0;
    if (bodyLen > this.maxBody) return -CodecError.BodyTooLarge;
    return MARS_HEADER_BYTES + bodyLen;
  }

  protected override emit(buf: Uint8Array, off: number, total: number, handler: MarsHandler): void {
    handler(
      readI32(buf, off + MARS_CLIENT_VERSION) >>> 0,
      readI32(buf, off + MARS_CMDID) >>> 0,
      readI32(buf, off + MARS_SEQ) >>> 0,
      buf,
      off + MARS_HEADER_BYTES,
      total - MARS_HEADER_BYTES,
    );
  }
}
