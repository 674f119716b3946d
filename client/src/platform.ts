/**
 * The few globals the core uses, reached through `globalThis` with their shapes written here: the
 * core compiles with neither the DOM lib nor Node's types (tsconfig.json), so that it runs in a
 * browser, in Node 20 and in other runtimes that have these (every current one does).
 */

interface Utf8Encoder {
  encode(text: string): Uint8Array;
}
interface Utf8Decoder {
  decode(bytes: Uint8Array): string;
}

/** Timers and the wall clock, injectable (options.timers) so that tests run without real waiting. */
export interface Timers {
  /** Wall-clock milliseconds (Date.now()): deltas of it survive throttled timers and sleeps. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const g = globalThis as unknown as {
  TextEncoder: new () => Utf8Encoder;
  TextDecoder: new (label?: string, options?: { fatal?: boolean }) => Utf8Decoder;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  crypto?: { getRandomValues?(a: Uint8Array): Uint8Array; randomUUID?(): string };
};

const encoder = new g.TextEncoder();
const decoder = new g.TextDecoder('utf-8');

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

export const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => g.setTimeout(fn, ms),
  clearTimeout: (h) => g.clearTimeout(h),
};

/** A random id for client_msg_id: crypto.randomUUID where there is one. */
export function randomId(): string {
  const c = g.crypto;
  if (c?.randomUUID !== undefined) return c.randomUUID();
  let s = '';
  for (let i = 0; i < 4; i++) s += Math.floor(Math.random() * 2 ** 32).toString(16).padStart(8, '0');
  return s;
}
