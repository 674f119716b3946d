/** The `http` auth mode: the auth body is forwarded to an auth backend, which decides. */
import { Disconnect } from '../errors.js';
import { fail, isPlainObject, own, toMid, toRooms } from './claims.js';
import type { Verify } from './types.js';

/** Upper bound on the auth backend's response body; anything longer is treated as a broken backend. */
const MAX_BACKEND_RESPONSE_BYTES = 64 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true });

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
export function createHttp(url: string): Verify {
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
