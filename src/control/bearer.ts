/** The control token check, shared by HTTP requests and the /push/stream upgrade. */
import { timingSafeEqual } from 'node:crypto';

/** "Bearer <token>" as bytes, or null when no token is set (no auth). */
export function bearer(token: string): Buffer | null {
  return token === '' ? null : Buffer.from(`Bearer ${token}`);
}

/** Whether an Authorization header carries the token (the scheme is case-insensitive); constant time. */
export function authorized(expected: Buffer, header: string | undefined): boolean {
  if (header === undefined) return false;
  const given = Buffer.from(header.length > 7 && header.slice(0, 7).toLowerCase() === 'bearer ' ? `Bearer ${header.slice(7)}` : header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
