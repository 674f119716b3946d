/**
 * The upstream envelopes: what a client's op 4 (SendMsg) body carries to a business backend, and what
 * the op 5 answer (same seq) carries back.
 *
 * Request envelope (op 4 body):
 *
 *    0       2                      2+U                          len
 *    +-------+----------------------+----------------------------+
 *    |   U   | uri (U bytes)        | payload (len-2-U bytes)    |
 *    +-------+----------------------+----------------------------+
 *     u16 BE   "Service/Method"       opaque bytes, forwarded as-is
 *
 *   The uri is ASCII: exactly one '/', both sides non-empty, characters [A-Za-z0-9_.-], 1..255 bytes;
 *   neither side may be "." or ".." (they would resolve against the backend's base path).
 *
 * Reply envelope (op 5 body, same seq as the request):
 *
 *    0       2                                               len
 *    +-------+-----------------------------------------------+
 *    |status | payload (len-2 bytes)                         |
 *    +-------+-----------------------------------------------+
 *     u16 BE
 *
 *   status is the backend's HTTP status when the call reached it (payload = the response body, at most
 *   MAX_REPLY_BODY bytes), or a gateway status (payload = a UTF-8 reason text):
 *     400 bad envelope, 404 unknown service, 429 rate limited, 503 too many requests in flight,
 *     502 backend unreachable or bad answer (incl. a body over MAX_REPLY_BODY), 504 backend timeout.
 *   A backend may itself answer 404/502/...; the client cannot tell those apart from gateway statuses
 *   except by the payload.
 */

const utf8 = new TextEncoder();

export const enum UpstreamStatus {
  BadEnvelope = 400,
  UnknownService = 404,
  RateLimited = 429,
  BackendError = 502,
  TooManyInFlight = 503,
  Timeout = 504,
}

/** Largest backend response body forwarded to the client; a larger one becomes 502. */
export const MAX_REPLY_BODY = 64 * 1024;
/** Largest uri in a request envelope, in bytes. */
export const MAX_URI_BYTES = 255;

function isUriChar(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x5f || // _
    c === 0x2e || // .
    c === 0x2d // -
  );
}

/** True for the path segments "." and "..", which a backend would resolve against the base url. */
function isDotName(buf: Uint8Array, from: number, to: number): boolean {
  return (to - from === 1 && buf[from] === 0x2e) || (to - from === 2 && buf[from] === 0x2e && buf[from + 1] === 0x2e);
}

/** Same rule as a decoded method: [A-Za-z0-9_.-]+, not "." or "..". */
export function validMethod(m: string): boolean {
  return /^[A-Za-z0-9_.-]{1,255}$/.test(m) && m !== '.' && m !== '..';
}

function copyOf(buf: Uint8Array, from: number, to: number): Uint8Array {
  // new Uint8Array(view) copies; Buffer#slice would not.
  return new Uint8Array(buf.subarray(from, to));
}

/** Decodes an op 4 body at buf[off, off+len). The payload is a copy (the caller's buffer is reused). */
export function decodeRequest(
  buf: Uint8Array,
  off: number,
  len: number,
): { service: string; method: string; payload: Uint8Array } | { error: string } {
  if (!Number.isInteger(off) || !Number.isInteger(len) || off < 0 || len < 0 || off + len > buf.length) {
    return { error: 'body outside the buffer' };
  }
  if (len < 2) return { error: 'envelope too short' };
  const uriLen = (buf[off]! << 8) | buf[off + 1]!;
  if (uriLen === 0) return { error: 'empty uri' };
  if (uriLen > MAX_URI_BYTES) return { error: `uri longer than ${MAX_URI_BYTES} bytes` };
  if (2 + uriLen > len) return { error: 'uri length past the end of the body' };
  const start = off + 2;
  const end = start + uriLen;
  let slash = -1;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c === 0x2f) {
      if (slash !== -1) return { error: 'uri has more than one slash' };
      slash = i;
    } else if (!isUriChar(c)) {
      return { error: 'uri has a character outside [A-Za-z0-9_.-/]' };
    }
  }
  if (slash === -1) return { error: 'uri is not Service/Method' };
  if (slash === start) return { error: 'empty service' };
  if (slash === end - 1) return { error: 'empty method' };
  if (isDotName(buf, start, slash) || isDotName(buf, slash + 1, end)) return { error: 'uri part is . or ..' };
  // All bytes are ASCII, so latin1 decoding is exact.
  const service = String.fromCharCode(...buf.subarray(start, slash));
  const method = String.fromCharCode(...buf.subarray(slash + 1, end));
  return { service, method, payload: copyOf(buf, end, off + len) };
}

/** Builds an op 4 body. Does not validate the uri (so tests can build bad ones) beyond its length field. */
export function encodeRequest(uri: string, payload: Uint8Array): Uint8Array {
  const u = utf8.encode(uri);
  if (u.length > 0xffff) throw new RangeError(`uri of ${u.length} bytes does not fit a u16 length`);
  const out = new Uint8Array(2 + u.length + payload.length);
  out[0] = u.length >>> 8;
  out[1] = u.length & 0xff;
  out.set(u, 2);
  out.set(payload, 2 + u.length);
  return out;
}

/** Builds an op 5 body; a string payload is UTF-8 encoded. */
export function encodeReply(status: number, payload: Uint8Array | string): Uint8Array {
  if (!Number.isInteger(status) || status < 0 || status > 0xffff) throw new RangeError(`status ${status} does not fit a u16`);
  const p = typeof payload === 'string' ? utf8.encode(payload) : payload;
  const out = new Uint8Array(2 + p.length);
  out[0] = status >>> 8;
  out[1] = status & 0xff;
  out.set(p, 2);
  return out;
}

/** Decodes an op 5 body at buf[off, off+len); the payload is a copy. Throws RangeError if shorter than 2 bytes. */
export function decodeReply(buf: Uint8Array, off: number, len: number): { status: number; payload: Uint8Array } {
  if (off < 0 || len < 0 || off + len > buf.length) throw new RangeError('reply body outside the buffer');
  if (len < 2) throw new RangeError('reply envelope too short');
  return { status: (buf[off]! << 8) | buf[off + 1]!, payload: copyOf(buf, off + 2, off + len) };
}
