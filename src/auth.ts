/**
 * Authentication of goim op-7 (Auth) requests.
 *
 * goim's auth body is JSON `{"mid":int64,"key":str,"room_id":str,"platform":str,"accepts":[int32]}`; ringcast adds
 * an optional `"token"` string used by the `jwt` mode. `parseAuthBody` turns the body into an `AuthRequest` (or a 400
 * `AuthFailure`), and `createAuthenticator` builds the function that decides who the connection is:
 *
 * - `none`: trust the body's mid, as goim does.
 * - `jwt`:  verify `token` with `jose` (HS256 or RS256, that algorithm only); mid comes from `sub`, extra rooms from
 *           an optional `rooms` claim.
 * - `http`: POST the raw body to an auth backend, which answers 200 `{"mid":..., "rooms":[...]}` or rejects.
 *
 * Every authentication is bounded by `timeoutMs` (504) and never throws; failures carry an HTTP-like code
 * (400 bad body, 401 rejected, 503 backend unavailable, 504 backend timeout) and a human-readable reason.
 */
import { createPublicKey, type webcrypto } from 'node:crypto';
import * as jose from 'jose';
import type { AuthConfig } from './config/index.js';
import { Disconnect } from './errors.js';
import type { Logger } from './logger.js';

export interface AuthRequest {
  mid: number;
  key: string;
  roomId: string;
  platform: string;
  accepts: number[];
  token: string;
  /** A copy of the auth body bytes (what the `http` mode forwards). */
  raw: Uint8Array;
}

export interface AuthSuccess {
  ok: true;
  mid: number;
  /** Extra rooms granted by the token claims or the auth backend, in `type://id` form. */
  rooms: string[];
}

export interface AuthFailure {
  ok: false;
  /** 400 bad auth body, 401 rejected, 503 auth backend unavailable, 504 auth backend timeout. */
  code: number;
  reason: string;
}

export type AuthResult = AuthSuccess | AuthFailure;
export type Authenticator = (req: AuthRequest) => Promise<AuthResult>;

/** Upper bound on the auth backend's response body; anything longer is treated as a broken backend. */
const MAX_BACKEND_RESPONSE_BYTES = 64 * 1024;
/** At most this many rooms may be granted by one token / backend answer. */
const MAX_GRANTED_ROOMS = 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function fail(code: number, reason: string): AuthFailure {
  return { ok: false, code, reason };
}

function own(obj: Record<string, unknown>, name: string): unknown {
  return Object.prototype.hasOwnProperty.call(obj, name) ? obj[name] : undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A mid: a JSON number or a decimal string, holding a non-negative safe integer. Returns undefined otherwise. */
function toMid(v: unknown): number | undefined {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^[0-9]{1,16}$/.test(v)) n = Number(v);
  else return undefined;
  if (!Number.isSafeInteger(n) || n < 0) return undefined;
  return n === 0 ? 0 : n; // normalise -0
}

function isInt32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff;
}

/** Validates a granted-rooms list: an array of non-empty `type://id` strings. Returns an error message or the list. */
function toRooms(v: unknown, what: string): string[] | string {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) return `${what} must be an array of strings`;
  if (v.length > MAX_GRANTED_ROOMS) return `${what} has more than ${MAX_GRANTED_ROOMS} entries`;
  const rooms: string[] = [];
  for (let i = 0; i < v.length; i++) {
    const r: unknown = v[i];
    if (typeof r !== 'string') return `${what}[${i}] must be a string`;
    if (!r.includes('://')) return `${what}[${i}] must be a room key of the form type://id`;
    rooms.push(r);
  }
  return rooms;
}

/**
 * Parses a goim auth body (op 7). Lenient like goim about missing or null fields (mid 0, key "", room_id "",
 * platform "", accepts [], token ""); strict about everything else: the bytes must be valid UTF-8 holding a JSON
 * object whose known fields have the right types. Unknown fields are ignored.
 */
export function parseAuthBody(buf: Uint8Array, off: number, len: number): AuthRequest | AuthFailure {
  if (!Number.isInteger(off) || !Number.isInteger(len) || off < 0 || len < 0 || off + len > buf.length) {
    return fail(Disconnect.BadRequest.code, `auth body: range ${off}+${len} is outside the ${buf.length}-byte buffer`);
  }
  const raw = buf.slice(off, off + len);
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    return fail(Disconnect.BadRequest.code, 'auth body: invalid UTF-8');
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    return fail(Disconnect.BadRequest.code, `auth body: invalid JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(body)) return fail(Disconnect.BadRequest.code, 'auth body: must be a JSON object');

  let mid = 0;
  const midV = own(body, 'mid');
  if (midV !== undefined && midV !== null) {
    const m = toMid(midV);
    if (m === undefined) return fail(Disconnect.BadRequest.code, 'auth body: "mid" must be a non-negative safe integer (number or decimal string)');
    mid = m;
  }

  const strings: Record<'key' | 'room_id' | 'platform' | 'token', string> = { key: '', room_id: '', platform: '', token: '' };
  for (const name of ['key', 'room_id', 'platform', 'token'] as const) {
    const v = own(body, name);
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') return fail(Disconnect.BadRequest.code, `auth body: "${name}" must be a string`);
    strings[name] = v;
  }

  let accepts: number[] = [];
  const acceptsV = own(body, 'accepts');
  if (acceptsV !== undefined && acceptsV !== null) {
    if (!Array.isArray(acceptsV)) return fail(Disconnect.BadRequest.code, 'auth body: "accepts" must be an array of int32');
    for (const op of acceptsV) {
      if (!isInt32(op)) return fail(Disconnect.BadRequest.code, 'auth body: "accepts" must be an array of int32');
    }
    accepts = (acceptsV as number[]).map((op) => (op === 0 ? 0 : op));
  }

  return { mid, key: strings.key, roomId: strings.room_id, platform: strings.platform, accepts, token: strings.token, raw };
}

// ---------------------------------------------------------------------------------------------------------------------
// Modes

type Verify = (req: AuthRequest, signal: AbortSignal) => Promise<AuthResult>;

function createNone(): Verify {
  return async (req) => ({ ok: true, mid: req.mid, rooms: [] });
}

/**
 * JWT verification with `jose`. jose verifies signatures through WebCrypto (`crypto.subtle.verify`), which Node runs
 * as an async job on the libuv thread pool, off the JS thread; that is why RS256 needs no worker pool of our own.
 * Keys are imported once here and the resulting CryptoKey is reused for every verification.
 *
 * The config was validated at load (src/config/rules.ts): HS256 has a secret, RS256 an RSA public key of at
 * least 2048 bits.
 */
function createJwt(j: AuthConfig['jwt']): Verify {
  const alg = j.algorithm;
  let keyPromise: Promise<webcrypto.CryptoKey>;
  if (alg === 'HS256') {
    // The secret is used as its UTF-8 bytes, like most JWT libraries do with a string secret.
    const bytes = new TextEncoder().encode(j.secret);
    keyPromise = crypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  } else {
    // jose imports SPKI only; the config also takes PKCS#1 keys and certificates, so convert first.
    const spki = createPublicKey({ key: j.publicKey, format: 'pem' }).export({ type: 'spki', format: 'pem' }) as string;
    keyPromise = jose.importSPKI(spki, 'RS256');
  }
  keyPromise.catch(() => {}); // surfaced per request below; never an unhandled rejection
  const options: jose.JWTVerifyOptions = { algorithms: [alg] };
  if (j.issuer) options.issuer = j.issuer;
  if (j.audience) options.audience = j.audience;

  return async (req) => {
    if (!req.token) return fail(Disconnect.Unauthorized.code, 'missing token');
    let key: webcrypto.CryptoKey;
    try {
      key = await keyPromise;
    } catch (err) {
      return fail(Disconnect.AuthUnavailable.code, `jwt key import failed: ${(err as Error).message}`);
    }
    let payload: jose.JWTPayload;
    try {
      ({ payload } = await jose.jwtVerify(req.token, key, options));
    } catch (err) {
      return fail(Disconnect.Unauthorized.code, jwtErrorReason(err));
    }
    const mid = toMid(payload.sub);
    if (mid === undefined) return fail(Disconnect.Unauthorized.code, 'token "sub" must be a non-negative safe integer (number or decimal string)');
    if (req.mid !== 0 && req.mid !== mid) return fail(Disconnect.Unauthorized.code, 'mid does not match token');
    const rooms = toRooms(payload['rooms'], 'token claim "rooms"');
    if (typeof rooms === 'string') return fail(Disconnect.Unauthorized.code, rooms);
    return { ok: true, mid, rooms };
  };
}

function jwtErrorReason(err: unknown): string {
  if (err instanceof jose.errors.JWTExpired) return 'token expired';
  if (err instanceof jose.errors.JWTClaimValidationFailed) return `token claim check failed: ${err.claim} (${err.message})`;
  if (err instanceof jose.errors.JOSEAlgNotAllowed) return `token algorithm not allowed (${err.message})`;
  if (err instanceof jose.errors.JWSSignatureVerificationFailed) return 'invalid token signature';
  if (err instanceof jose.errors.JOSEError) return `invalid token (${err.message})`;
  return `token verification failed (${err instanceof Error ? err.message : String(err)})`;
}

/** Reads at most `limit` bytes of a response body; returns undefined (and cancels the stream) when it is longer. */
async function readLimited(res: Response, limit: number): Promise<Uint8Array | undefined> {
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let pos = 0;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.byteLength;
  }
  return out;
}

/**
 * HTTP auth backend: POST the raw auth body, 200 `{"mid": number|decimal string, "rooms"?: ["type://id", ...]}` is
 * success; any other status is a rejection (401). Network errors are 503, and a 200 whose body is not that shape is
 * treated as a broken backend (503) too. Uses the global fetch (undici), whose default agent keeps connections alive.
 * `url` is an http(s) URL (validated at load).
 */
function createHttp(url: string): Verify {
  const target = new URL(url).href;

  return async (req, signal) => {
    let res: Response;
    try {
      res = await fetch(target, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: req.raw,
        redirect: 'manual',
        signal,
      });
    } catch (err) {
      return fail(Disconnect.AuthUnavailable.code, `auth backend unavailable: ${describeFetchError(err)}`);
    }
    if (res.status !== 200) {
      // Drain a little so the keep-alive connection can be reused; give up on big bodies.
      await readLimited(res, 4096).catch(() => {});
      return fail(Disconnect.Unauthorized.code, `auth backend rejected: HTTP ${res.status}`);
    }
    let bytes: Uint8Array | undefined;
    try {
      bytes = await readLimited(res, MAX_BACKEND_RESPONSE_BYTES);
    } catch (err) {
      return fail(Disconnect.AuthUnavailable.code, `auth backend unavailable: ${describeFetchError(err)}`);
    }
    if (bytes === undefined) return fail(Disconnect.AuthUnavailable.code, `auth backend response exceeds ${MAX_BACKEND_RESPONSE_BYTES} bytes`);
    let body: unknown;
    try {
      body = JSON.parse(utf8.decode(bytes));
    } catch {
      return fail(Disconnect.AuthUnavailable.code, 'auth backend returned invalid JSON');
    }
    if (!isPlainObject(body)) return fail(Disconnect.AuthUnavailable.code, 'auth backend response must be a JSON object');
    const mid = toMid(own(body, 'mid'));
    if (mid === undefined) return fail(Disconnect.AuthUnavailable.code, 'auth backend response: "mid" must be a non-negative safe integer');
    const rooms = toRooms(own(body, 'rooms'), 'auth backend response "rooms"');
    if (typeof rooms === 'string') return fail(Disconnect.AuthUnavailable.code, rooms);
    return { ok: true, mid, rooms };
  };
}

function describeFetchError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as Error & { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: unknown }).code;
    return typeof code === 'string' ? `${code} (${cause.message})` : cause.message;
  }
  return err.message;
}

// ---------------------------------------------------------------------------------------------------------------------

/** Warn at most once a second per failure code, so an auth-backend outage does not flood the log. */
function createFailureLogger(logger: Logger | undefined): (f: AuthFailure, mode: string) => void {
  if (!logger) return () => {};
  const last = new Map<number, { at: number; suppressed: number }>();
  return (f, mode) => {
    if (f.code === Disconnect.AuthUnavailable.code || f.code === Disconnect.AuthTimeout.code) {
      const now = Date.now();
      const s = last.get(f.code);
      if (s && now - s.at < 1000) {
        s.suppressed++;
        return;
      }
      logger.warn({ mode, code: f.code, reason: f.reason, suppressed: s?.suppressed ?? 0 }, 'auth backend problem');
      last.set(f.code, { at: now, suppressed: 0 });
    } else {
      logger.debug({ mode, code: f.code, reason: f.reason }, 'auth rejected');
    }
  };
}

/**
 * Builds the authenticator for a validated config (src/config/: the checks of every `auth.*` key live there). The
 * returned function never throws and always settles within `cfg.timeoutMs` (504 otherwise).
 */
export function createAuthenticator(cfg: AuthConfig, logger?: Logger): Authenticator {
  const timeoutMs = cfg.timeoutMs;
  const mode = cfg.mode;
  const verify = mode === 'jwt' ? createJwt(cfg.jwt) : mode === 'http' ? createHttp(cfg.http.url) : createNone();
  const logFailure = createFailureLogger(logger);
  if (mode === 'none') {
    // Nothing to wait for, so no deadline: no timer and no AbortController per connection (both
    // showed in connect-storm profiles).
    const never = new AbortController().signal;
    const settle = (r: AuthResult): AuthResult => {
      if (!r.ok) logFailure(r, mode);
      return r;
    };
    return (req) => {
      try {
        return verify(req, never).then(settle, (err: unknown) => settle(verifyThrew(err)));
      } catch (err) {
        return Promise.resolve(settle(verifyThrew(err)));
      }
    };
  }

  return (req) =>
    new Promise<AuthResult>((resolve) => {
      const ctrl = new AbortController();
      let settled = false;
      const finish = (r: AuthResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (!r.ok) logFailure(r, mode);
        resolve(r);
      };
      const timer = setTimeout(() => {
        finish(fail(Disconnect.AuthTimeout.code, `auth timed out after ${timeoutMs} ms`));
        ctrl.abort(); // cancels an in-flight backend request; its result is ignored
      }, timeoutMs);
      let p: Promise<AuthResult>;
      try {
        p = verify(req, ctrl.signal);
      } catch (err) {
        finish(verifyThrew(err));
        return;
      }
      p.then(finish, (err: unknown) => finish(verifyThrew(err)));
    });
}

/** A verifier that threw or rejected: the client is refused (401) with the reason. */
function verifyThrew(err: unknown): AuthResult {
  return fail(Disconnect.Unauthorized.code, `auth failed: ${err instanceof Error ? err.message : String(err)}`);
}
