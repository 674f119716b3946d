/**
 * goim packet codec (api/protocol in goim v2): a 16-byte big-endian, signed header, then the body.
 *
 *   off 0   int32 packLen    header + body
 *   off 4   int16 headerLen  always 16, else the connection is closed
 *   off 6   int16 ver        echoed in replies; pushes use 1
 *   off 8   int32 op         see src/ops.ts
 *   off 12  int32 seq        echoed in replies; pushes use 0
 *
 * Hot path: decoding allocates nothing per packet. A body is handed to the handler as
 * (buf, off, len), a view that is valid only during the call: into the read chunk when the packet
 * lies inside one chunk, otherwise into the decoder's reassembly buffer.
 */

/** Header field offsets, each derived from the previous field's offset and size. */
export const PACK_LEN = 0; // int32
export const HEADER_LEN = PACK_LEN + 4; // int16
export const VER = HEADER_LEN + 2; // int16
export const OP = VER + 2; // int32
export const SEQ = OP + 4; // int32
export const HEADER_BYTES = SEQ + 4; // 16

/** The op field's values live in src/ops.ts; re-exported here for the codec's users. */
export { Op } from './ops.js';

export const enum CodecError {
  None = 0,
  BadHeaderLength = 1,
  PacketTooShort = 2,
  BodyTooLarge = 3,
  FrameTooShort = 4,
}

export function codecErrorReason(e: CodecError): string {
  switch (e) {
    case CodecError.None: return 'ok';
    case CodecError.BadHeaderLength: return 'bad header length';
    case CodecError.PacketTooShort: return 'packet length shorter than its header or than the data';
    case CodecError.BodyTooLarge: return 'body too large';
    case CodecError.FrameTooShort: return 'frame shorter than a packet header';
    default: return `codec error ${e as number}`;
  }
}

/** Big-endian 32-bit read, signed. `>>> 0` on the result gives the unsigned value. */
export function readI32(b: Uint8Array, o: number): number {
  return (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
}

/** Big-endian 16-bit read, signed. */
export function readI16(b: Uint8Array, o: number): number {
  return (((b[o]! << 8) | b[o + 1]!) << 16) >> 16;
}

/** Big-endian 32-bit write; signed and unsigned values give the same bytes. */
export function writeI32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

export function writeHeader(target: Uint8Array, offset: number, packLen: number, ver: number, op: number, seq: number): void {
  writeI32(target, offset + PACK_LEN, packLen);
  target[offset + HEADER_LEN] = HEADER_BYTES >>> 8;
  target[offset + HEADER_LEN + 1] = HEADER_BYTES;
  target[offset + VER] = ver >>> 8;
  target[offset + VER + 1] = ver;
  writeI32(target, offset + OP, op);
  writeI32(target, offset + SEQ, seq);
}

/** One whole packet in one allocation. */
export function encodePacket(op: number, seq: number, body: Uint8Array | null, ver = 1): Buffer {
  const bodyLen = body === null ? 0 : body.length;
  const out = Buffer.allocUnsafe(HEADER_BYTES + bodyLen);
  writeHeader(out, 0, HEADER_BYTES + bodyLen, ver, op, seq);
  if (body !== null) out.set(body, HEADER_BYTES);
  return out;
}

/** The body is buf[off .. off+len), valid only during the call. */
export type PacketHandler = (ver: number, op: number, seq: number, buf: Uint8Array, off: number, len: number) => void;

/**
 * Cuts a byte stream into frames whose header (of a fixed size) gives the frame's total length.
 * Frames inside one chunk are emitted in place; only the bytes of a frame split across chunks are
 * copied, into one reassembly buffer that grows on demand up to the largest frame allowed and is
 * then reused. Subclasses check a header and emit a frame to their handler type.
 */
const NO_BYTES = new Uint8Array(0);

export abstract class StreamFramer<H> {
  private pending: Uint8Array;
  private have = 0; // bytes of the split frame held in `pending`
  private need = 0; // total length of the split frame, 0 while its header is incomplete
  private error: CodecError = CodecError.None;

  constructor(
    private readonly headerBytes: number,
    private readonly maxFrame: number,
  ) {
    // Allocated on the first frame split across reads: most connections never need it.
    this.pending = NO_BYTES;
  }

  /** Total frame length from a complete header at buf[off], or a negated CodecError. */
  protected abstract frameLength(buf: Uint8Array, off: number): number;
  /** Hands the complete frame buf[off .. off+total) to the handler. */
  protected abstract emit(buf: Uint8Array, off: number, total: number, handler: H): void;

  /**
   * Feeds the next chunk of the stream; calls `handler` once per complete frame, in order. After an
   * error the stream is out of sync, so every later push returns the same error until reset().
   * The handler must not push into this decoder.
   */
  push(chunk: Uint8Array, handler: H): CodecError {
    if (this.error !== CodecError.None) return this.error;
    const n = chunk.length;
    const hb = this.headerBytes;
    let pos = 0;

    // 1. Complete the frame left over from earlier chunks.
    if (this.have > 0) {
      if (this.need === 0) {
        pos = Math.min(hb - this.have, n);
        this.pending.set(chunk.subarray(0, pos), this.have);
        this.have += pos;
        if (this.have < hb) return CodecError.None;
        const total = this.frameLength(this.pending, 0);
        if (total < 0) return this.fail(-total);
        this.need = total;
        this.reserve(total);
      }
      const take = Math.min(this.need - this.have, n - pos);
      this.pending.set(chunk.subarray(pos, pos + take), this.have);
      this.have += take;
      pos += take;
      if (this.have < this.need) return CodecError.None;
      const total = this.need;
      this.have = 0;
      this.need = 0;
      this.emit(this.pending, 0, total, handler);
    }

    // 2. Whole frames inside the chunk: no copy.
    while (n - pos >= hb) {
      const total = this.frameLength(chunk, pos);
      if (total < 0) return this.fail(-total);
      if (n - pos < total) {
        this.need = total; // header known; the size is checked, so reserve below is bounded
        break;
      }
      this.emit(chunk, pos, total, handler);
      pos += total;
    }

    // 3. Keep the tail of a frame that continues in the next chunk.
    if (pos < n) {
      this.reserve(this.need === 0 ? hb : this.need);
      this.pending.set(chunk.subarray(pos), 0);
      this.have = n - pos;
    }
    return CodecError.None;
  }

  /** Forgets any partial frame and a previous error. Keeps the reassembly buffer. */
  reset(): void {
    this.have = 0;
    this.need = 0;
    this.error = CodecError.None;
  }

  private fail(e: CodecError): CodecError {
    this.error = e;
    this.have = 0;
    this.need = 0;
    return e;
  }

  /** Grows `pending` to hold `bytes`, keeping what it holds. Doubling keeps regrowth rare; the cap
   * keeps a slow stream of small frames from holding more than the largest allowed frame. */
  private reserve(bytes: number): void {
    if (this.pending.length >= bytes) return;
    const next = new Uint8Array(Math.max(bytes, Math.min(this.pending.length * 2, this.maxFrame)));
    next.set(this.pending.subarray(0, this.have), 0);
    this.pending = next;
  }
}

/** Checks a goim header at buf[off]; returns packLen or a negated CodecError. */
function checkHeader(buf: Uint8Array, off: number, maxBody: number): number {
  if (readI16(buf, off + HEADER_LEN) !== HEADER_BYTES) return -CodecError.BadHeaderLength;
  const packLen = readI32(buf, off + PACK_LEN);
  if (packLen < HEADER_BYTES) return -CodecError.PacketTooShort;
  if (packLen - HEADER_BYTES > maxBody) return -CodecError.BodyTooLarge;
  return packLen;
}

function emitPacket(buf: Uint8Array, off: number, packLen: number, handler: PacketHandler): void {
  handler(readI16(buf, off + VER), readI32(buf, off + OP), readI32(buf, off + SEQ), buf, off + HEADER_BYTES, packLen - HEADER_BYTES);
}

/** goim packets over TCP: a plain stream of packets, cut anywhere by the transport. */
export class GoimStreamDecoder extends StreamFramer<PacketHandler> {
  constructor(private readonly maxBody: number) {
    super(HEADER_BYTES, HEADER_BYTES + maxBody);
  }

  protected override frameLength(buf: Uint8Array, off: number): number {
    return checkHeader(buf, off, this.maxBody);
  }

  protected override emit(buf: Uint8Array, off: number, total: number, handler: PacketHandler): void {
    emitPacket(buf, off, total, handler);
  }
}

/** One goim packet per WebSocket message; bytes after packLen are ignored, as goim does. */
export function decodeFrame(frame: Uint8Array, maxBody: number, onPacket: PacketHandler): CodecError {
  if (frame.length < HEADER_BYTES) return CodecError.FrameTooShort;
  const packLen = readI32(frame, PACK_LEN);
  if (packLen < HEADER_BYTES || packLen > frame.length) return CodecError.PacketTooShort;
  if (readI16(frame, HEADER_LEN) !== HEADER_BYTES) return CodecError.BadHeaderLength;
  if (packLen - HEADER_BYTES > maxBody) return CodecError.BodyTooLarge;
  emitPacket(frame, 0, packLen, onPacket);
  return CodecError.None;
}

/**
 * Walks the packets packed back to back in an op-9 (Raw) body buf[off .. off+len). No size limit:
 * pushed frames may exceed the inbound MaxBodySize. Packets before a malformed one have already been
 * delivered when the error is returned.
 */
export function decodeBatch(buf: Uint8Array, off: number, len: number, onPacket: PacketHandler): CodecError {
  const end = off + len;
  let pos = off;
  while (pos < end) {
    if (end - pos < HEADER_BYTES) return CodecError.PacketTooShort;
    if (readI16(buf, pos + HEADER_LEN) !== HEADER_BYTES) return CodecError.BadHeaderLength;
    const packLen = readI32(buf, pos + PACK_LEN);
    if (packLen < HEADER_BYTES || packLen > end - pos) return CodecError.PacketTooShort;
    emitPacket(buf, pos, packLen, onPacket);
    pos += packLen;
  }
  return CodecError.None;
}
