/**
 * The goim auth body (op 7): JSON `{"mid":int64,"key":str,"room_id":str,"platform":str,"accepts":[int32]}`, plus
 * ringcast's optional `"token"` string used by the `jwt` mode.
 */
import { Disconnect } from '../errors.js';
import { fail, isPlainObject, own, toMid } from './claims.js';
import type { AuthFailure, AuthRequest } from './types.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

function isInt32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff;
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
