/**
 * Upstream requests: a client sends goim op 4 (SendMsg) carrying a request for a business backend;
 * the gateway forwards it over HTTP and answers op 5 with the same seq. This module holds the pieces
 * (envelope codec, per-service HTTP client, per-connection limiter); the connection actor wires them.
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
 *
 * Backend call: `POST <service url>/<Method>` over a keep-alive agent, headers
 *   content-type: application/octet-stream, x-ringcast-mid, x-ringcast-key, x-ringcast-platform,
 *   x-ringcast-method. key/platform values that are not printable ASCII are percent-encoded
 *   (encodeURIComponent). Redirects are not followed: any status is passed through.
 */
import http from 'node:http';
import https from 'node:https';
import type { Logger } from './logger.js';

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

export interface UpstreamConfig {
  services: Record<string, { url: string; timeoutMs: number }>;
  maxInFlight: number;
  ratePerSec: number;
  burst: number;
}

export interface UpstreamWho {
  mid: number;
  key: string;
  platform: string;
}

export interface UpstreamReply {
  status: number;
  body: Uint8Array;
}

const utf8 = new TextEncoder();

// ---------------------------------------------------------------------------------------------
// Envelope codec

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
function validMethod(m: string): boolean {
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

// ---------------------------------------------------------------------------------------------
// Rate limiting (no timers: state is advanced by the caller's clock)

export class TokenBucket {
  private tokens: number;
  private last = Number.NaN;
  private readonly perMs: number;

  constructor(
    ratePerSec: number,
    private readonly burst: number,
  ) {
    if (!(ratePerSec > 0) || !Number.isFinite(ratePerSec)) throw new RangeError(`ratePerSec must be > 0, got ${ratePerSec}`);
    if (!(burst >= 1) || !Number.isFinite(burst)) throw new RangeError(`burst must be >= 1, got ${burst}`);
    this.perMs = ratePerSec / 1000;
    this.tokens = burst;
  }

  /** Takes one token if available. Starts full; refills at ratePerSec up to burst. A clock going back refills nothing. */
  take(nowMs: number): boolean {
    if (Number.isNaN(this.last)) {
      this.last = nowMs;
    } else if (nowMs > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + (nowMs - this.last) * this.perMs);
      this.last = nowMs;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }
}

/** Per-connection admission: at most maxInFlight concurrent requests and a token bucket for the rate. */
export class RequestLimiter {
  private n = 0;
  private readonly bucket: TokenBucket;

  constructor(
    private readonly maxInFlight: number,
    ratePerSec: number,
    burst: number,
  ) {
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new RangeError(`maxInFlight must be an integer >= 1, got ${maxInFlight}`);
    this.bucket = new TokenBucket(ratePerSec, burst);
  }

  get inFlight(): number {
    return this.n;
  }

  /**
   * 0: admitted (call finish() once it completes, whatever the outcome). Otherwise the gateway status
   * to answer with. The in-flight check comes first, so a rejected-for-concurrency request costs no token.
   */
  tryStart(nowMs: number): 0 | UpstreamStatus.RateLimited | UpstreamStatus.TooManyInFlight {
    if (this.n >= this.maxInFlight) return UpstreamStatus.TooManyInFlight;
    if (!this.bucket.take(nowMs)) return UpstreamStatus.RateLimited;
    this.n++;
    return 0;
  }

  finish(): void {
    if (this.n > 0) this.n--;
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP client

interface Target {
  url: URL; // base, path without trailing slash
  timeoutMs: number;
  mod: typeof http | typeof https;
  agent: http.Agent;
}

function headerSafe(s: string): string {
  return /^[\x20-\x7e]*$/.test(s) ? s : encodeURIComponent(s);
}

function gatewayReply(status: UpstreamStatus, reason: string): UpstreamReply {
  return { status, body: utf8.encode(reason) };
}

export class UpstreamClient {
  private readonly targets = new Map<string, Target>();
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  private readonly httpsAgent = new https.Agent({ keepAlive: true });

  constructor(
    cfg: UpstreamConfig,
    private readonly log?: Logger,
  ) {
    for (const [name, svc] of Object.entries(cfg.services)) {
      const url = new URL(svc.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RangeError(`upstream service ${name}: url must be http(s), got ${svc.url}`);
      if (!Number.isInteger(svc.timeoutMs) || svc.timeoutMs < 1 || svc.timeoutMs > 0x7fffffff) {
        throw new RangeError(`upstream service ${name}: timeoutMs must be an integer in 1..${0x7fffffff}, got ${svc.timeoutMs}`);
      }
      url.pathname = url.pathname.replace(/\/+$/, '');
      const secure = url.protocol === 'https:';
      this.targets.set(name, {
        url,
        timeoutMs: svc.timeoutMs,
        mod: secure ? https : http,
        agent: secure ? this.httpsAgent : this.httpAgent,
      });
    }
  }

  /** Forwards one request. Never rejects: every failure becomes a gateway status with a reason text. */
  call(service: string, method: string, payload: Uint8Array, who: UpstreamWho): Promise<UpstreamReply> {
    const t = this.targets.get(service);
    if (t === undefined) return Promise.resolve(gatewayReply(UpstreamStatus.UnknownService, `unknown service ${service}`));
    if (!validMethod(method)) return Promise.resolve(gatewayReply(UpstreamStatus.BadEnvelope, 'bad method name'));
    return new Promise<UpstreamReply>((resolve) => {
      let done = false;
      let req: http.ClientRequest | undefined;
      const finish = (r: UpstreamReply): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(r);
      };
      const fail = (status: UpstreamStatus, reason: string): void => {
        if (done) return;
        this.log?.debug({ service, method, status, reason }, 'upstream call failed');
        finish(gatewayReply(status, reason));
        req?.destroy();
      };
      const timer = setTimeout(() => fail(UpstreamStatus.Timeout, `${service} timed out after ${t.timeoutMs} ms`), t.timeoutMs);
      try {
        const base = t.url;
        req = t.mod.request(
          {
            protocol: base.protocol,
            hostname: base.hostname.replace(/^\[|\]$/g, ''),
            port: base.port,
            path: `${base.pathname}/${method}${base.search}`,
            method: 'POST',
            agent: t.agent,
            headers: {
              'content-type': 'application/octet-stream',
              'content-length': payload.length,
              'x-ringcast-mid': String(who.mid),
              'x-ringcast-key': headerSafe(who.key),
              'x-ringcast-platform': headerSafe(who.platform),
              'x-ringcast-method': method,
            },
          },
          (res) => {
            const status = res.statusCode ?? 0;
            const declared = Number(res.headers['content-length']);
            if (declared > MAX_REPLY_BODY) {
              fail(UpstreamStatus.BackendError, `${service} reply body of ${declared} bytes exceeds ${MAX_REPLY_BODY}`);
              return;
            }
            const chunks: Buffer[] = [];
            let size = 0;
            res.on('data', (c: Buffer) => {
              size += c.length;
              if (size > MAX_REPLY_BODY) {
                fail(UpstreamStatus.BackendError, `${service} reply body exceeds ${MAX_REPLY_BODY} bytes`);
                return;
              }
              chunks.push(c);
            });
            res.on('end', () => {
              if (status < 100 || status > 599) {
                fail(UpstreamStatus.BackendError, `${service} answered with status ${status}`);
                return;
              }
              const body = new Uint8Array(size);
              let at = 0;
              for (const c of chunks) {
                body.set(c, at);
                at += c.length;
              }
              finish({ status, body });
            });
            res.on('error', (err) => fail(UpstreamStatus.BackendError, `${service} reply: ${err.message}`));
            // After 'end' this is a no-op; before it, the backend closed mid-body.
            res.on('close', () => fail(UpstreamStatus.BackendError, `${service} closed the reply before its end`));
          },
        );
        req.on('error', (err: NodeJS.ErrnoException) => fail(UpstreamStatus.BackendError, `${service} unreachable: ${err.code ?? err.message}`));
        req.end(payload);
      } catch (err) {
        fail(UpstreamStatus.BackendError, `${service} request failed: ${(err as Error).message}`);
      }
    });
  }

  /** Closes idle keep-alive sockets and stops reusing them (for shutdown and tests). */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
