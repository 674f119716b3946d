/**
 * Lists of strings as back-to-back [u16 len][UTF-8] items: the keys of a PushKeys ring record
 * (src/push/records.ts), of a cross-box Deliver (src/cluster/wire.ts) and of a /push/stream
 * request (src/control/stream-codec.ts). The callers encode the strings (and bound them, where a
 * caller must) and write the head; these write and read the items.
 */
const dec = new TextDecoder();

/** Bytes the items take: 2 + length each. */
export function stringListBytes(items: readonly Uint8Array[]): number {
  let n = 0;
  for (const s of items) n += 2 + s.length;
  return n;
}

/** Writes the items into `out` (whose view is `dv`) from `at`; returns the offset after the last. */
export function writeStringList(out: Uint8Array, dv: DataView, at: number, items: readonly Uint8Array[]): number {
  for (const s of items) {
    dv.setUint16(at, s.length);
    out.set(s, at + 2);
    at += 2 + s.length;
  }
  return at;
}

/**
 * Reads `n` items from buf[at..end), handing each to `each` in order; returns the offset after the
 * last, or -1 when an item runs past `end`.
 */
export function readStringList(buf: Uint8Array, at: number, end: number, n: number, each: (s: string, i: number) => void): number {
  for (let i = 0; i < n; i++) {
    if (at + 2 > end) return -1;
    const len = (buf[at]! << 8) | buf[at + 1]!;
    if (at + 2 + len > end) return -1;
    each(dec.decode(buf.subarray(at + 2, at + 2 + len)), i);
    at += 2 + len;
  }
  return at;
}
