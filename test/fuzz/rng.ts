/** A seeded PRNG (mulberry32) and the random-input helpers both fuzzers use. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  i32(): number {
    return this.u32() | 0;
  }
  int(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }
  range(a: number, b: number): number {
    return a + this.int(b - a + 1);
  }
  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
  ascii(n: number, alphabet: string): string {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[this.int(alphabet.length)];
    return s;
  }
  /** Printable ASCII mixed with Latin/Greek/…, CJK and emoji code points. */
  unicode(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) {
      const k = this.int(4);
      if (k === 0) s += String.fromCharCode(0x20 + this.int(0x5f));
      else if (k === 1) s += String.fromCharCode(0xa0 + this.int(0x700));
      else if (k === 2) s += String.fromCodePoint(0x1f300 + this.int(0x300));
      else s += String.fromCharCode(0x4e00 + this.int(0x5000));
    }
    return s;
  }
}
