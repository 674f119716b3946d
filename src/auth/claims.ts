/**
 * The checks shared by the auth body (src/auth/body.ts), token claims (src/auth/jwt.ts) and the auth backend's
 * answer (src/auth/http.ts): a mid, a granted-rooms list, own fields of a plain JSON object, and the failure value.
 */
import type { AuthFailure } from './types.js';

/** At most this many rooms may be granted by one token / backend answer. */
const MAX_GRANTED_ROOMS = 1024;

export function fail(code: number, reason: string): AuthFailure {
  return { ok: false, code, reason };
}

export function own(obj: Record<string, unknown>, name: string): unknown {
  return Object.prototype.hasOwnProperty.call(obj, name) ? obj[name] : undefined;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A mid: a JSON number or a decimal string, holding a non-negative safe integer. Returns undefined otherwise. */
export function toMid(v: unknown): number | undefined {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^[0-9]{1,16}$/.test(v)) n = Number(v);
  else return undefined;
  if (!Number.isSafeInteger(n) || n < 0) return undefined;
  return n === 0 ? 0 : n; // normalise -0
}

/** Validates a granted-rooms list: an array of non-empty `type://id` strings. Returns an error message or the list. */
export function toRooms(v: unknown, what: string): string[] | string {
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
