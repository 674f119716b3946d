import assert from 'node:assert/strict';
import {
  CodecError, GoimStreamDecoder, HEADER_BYTES, Op, codecErrorReason, decodeBatch, decodeFrame, encodePacket, writeHeader,
} from '../../src/codec.js';
import {
  MARS_HEADER_BYTES, MARS_NOOP_CMDID, MARS_NOOP_SEQ, MARS_PUSH_SEQ, MarsStreamDecoder, encodeMarsPacket,
} from '../../src/codec-mars.js';

interface Packet { ver: number; op: number; seq: number; body: string }

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** The JS demo's auth packet: ver 1, op 7, seq 1. packLen 16 + 79 = 0x5f. */
const AUTH_BODY = '{"mid":123,"room_id":"live://1000","platform":"web","accepts":[1000,1001,1002]}';
const AUTH_HEX = '0000005f 0010 0001 00000007 00000001' + Buffer.from(AUTH_BODY).toString('hex');
const HEARTBEAT_HEX = '00000010 0010 0001 00000002 00000001';
const MARS_NOOP_HEX = '00000014 00000000 00000006 ffffffff 00000000';

/** Decodes `chunks` in order with a fresh decoder; collects packets (bodies copied) and the errors. */
function feed(chunks: Uint8Array[], maxBody = 4096): { packets: Packet[]; errors: CodecError[] } {
  const dec = new GoimStreamDecoder(maxBody);
  const packets: Packet[] = [];
  const errors: CodecError[] = [];
  for (const c of chunks) {
    const e = dec.push(c, (ver, op, seq, buf, off, len) => {
      packets.push({ ver, op, seq, body: Buffer.from(buf.subarray(off, off + len)).toString('latin1') });
    });
    if (e !== CodecError.None) errors.push(e);
  }
  return { packets, errors };
}

/** Small deterministic PRNG (mulberry32) so that a failure can be replayed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Cuts `buf` at the given sorted offsets. */
function cut(buf: Uint8Array, at: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const a of at) {
    out.push(buf.subarray(prev, a));
    prev = a;
  }
  out.push(buf.subarray(prev));
  return out;
}

describe('goim codec', () => {
  const auth: Packet = { ver: 1, op: Op.Auth, seq: 1, body: AUTH_BODY };

  it('encodes the JS demo auth packet and a heartbeat to known bytes', () => {
    assert.equal(encodePacket(Op.Auth, 1, Buffer.from(AUTH_BODY)).toString('hex'), hex(AUTH_HEX).toString('hex'));
    assert.equal(encodePacket(Op.Heartbeat, 1, null).toString('hex'), hex(HEARTBEAT_HEX).toString('hex'));
    // Signed fields: negative op / seq / ver round trip as goim's int32 / int16.
    const b = new Uint8Array(HEADER_BYTES);
    writeHeader(b, 0, HEADER_BYTES, -2, -1, -5);
    assert.deepEqual(feed([b]).packets, [{ ver: -2, op: -1, seq: -5, body: '' }]);
  });

  it('decodes the known bytes', () => {
    assert.deepEqual(feed([hex(AUTH_HEX)]).packets, [auth]);
    assert.deepEqual(feed([hex(HEARTBEAT_HEX)]).packets, [{ ver: 1, op: Op.Heartbeat, seq: 1, body: '' }]);
  });

  it('decodes a packet split at every byte boundary, and fed one byte at a time', () => {
    const pkt = hex(AUTH_HEX);
    for (let i = 1; i < pkt.length; i++) {
      const r = feed([pkt.subarray(0, i), pkt.subarray(i)]);
      assert.deepEqual(r, { packets: [auth], errors: [] }, `split at ${i}`);
    }
    const bytes: Uint8Array[] = [];
    for (let i = 0; i < pkt.length; i++) bytes.push(pkt.subarray(i, i + 1));
    assert.deepEqual(feed(bytes), { packets: [auth], errors: [] });
  });

  it('decodes many packets in one chunk, bodies as views into the chunk', () => {
    const chunk = Buffer.concat([hex(AUTH_HEX), hex(HEARTBEAT_HEX), encodePacket(1000, 0, Buffer.from('x'))]);
    const dec = new GoimStreamDecoder(4096);
    const seen: number[] = [];
    const e = dec.push(chunk, (_v, op, _s, buf, off, len) => {
      assert.equal(buf.buffer, chunk.buffer);
      assert.equal(buf.byteOffset, chunk.byteOffset);
      seen.push(op, off, len);
    });
    assert.equal(e, CodecError.None);
    assert.deepEqual(seen, [Op.Auth, 16, 79, Op.Heartbeat, 95 + 16, 0, 1000, 95 + 16 + 16, 1]);
  });

  it('decodes 1,000 random packets cut at random boundaries', () => {
    const rand = rng(42);
    const expected: Packet[] = [];
    const parts: Buffer[] = [];
    for (let i = 0; i < 1000; i++) {
      const len = rand() < 0.2 ? 0 : Math.floor(rand() * 4097);
      const body = Buffer.allocUnsafe(len);
      for (let j = 0; j < len; j++) body[j] = Math.floor(rand() * 256);
      const p: Packet = { ver: 1, op: Math.floor(rand() * 2000), seq: i, body: body.toString('latin1') };
      expected.push(p);
      parts.push(encodePacket(p.op, p.seq, body, p.ver));
    }
    const stream = Buffer.concat(parts);
    const at = new Set<number>();
    while (at.size < 3000) at.add(1 + Math.floor(rand() * (stream.length - 1)));
    const chunks = cut(stream, [...at].sort((a, b) => a - b));
    const r = feed(chunks);
    assert.deepEqual(r.errors, []);
    assert.equal(r.packets.length, 1000);
    assert.deepEqual(r.packets, expected);
  });

  it('reports each error and then refuses input until reset()', () => {
    const badHeaderLen = hex('00000010 0011 0001 00000002 00000001');
    const tooShort = hex('0000000f 0010 0001 00000002 00000001');
    const negative = hex('ffffffff 0010 0001 00000002 00000001');
    assert.deepEqual(feed([badHeaderLen]).errors, [CodecError.BadHeaderLength]);
    assert.deepEqual(feed([tooShort]).errors, [CodecError.PacketTooShort]);
    assert.deepEqual(feed([negative]).errors, [CodecError.PacketTooShort]);
    assert.deepEqual(feed([encodePacket(Op.SendMsg, 1, Buffer.alloc(11))], 10).errors, [CodecError.BodyTooLarge]);
    // Sticky: the good heartbeat after the bad packet is refused with the same error.
    const r = feed([Buffer.concat([hex(HEARTBEAT_HEX), badHeaderLen]), hex(HEARTBEAT_HEX)]);
    assert.equal(r.packets.length, 1);
    assert.deepEqual(r.errors, [CodecError.BadHeaderLength, CodecError.BadHeaderLength]);

    const dec = new GoimStreamDecoder(4096);
    assert.equal(dec.push(badHeaderLen, () => {}), CodecError.BadHeaderLength);
    dec.reset();
    let n = 0;
    assert.equal(dec.push(hex(HEARTBEAT_HEX), () => n++), CodecError.None);
    assert.equal(n, 1);
    for (const e of [CodecError.None, CodecError.BadHeaderLength, CodecError.PacketTooShort, CodecError.BodyTooLarge, CodecError.FrameTooShort]) {
      assert.ok(codecErrorReason(e).length > 0);
    }
  });

  it('reports BodyTooLarge as soon as the header is complete', () => {
    const header = encodePacket(Op.SendMsg, 1, Buffer.alloc(5000)).subarray(0, HEADER_BYTES);
    // Whole header in one chunk.
    assert.equal(new GoimStreamDecoder(4096).push(header, () => assert.fail()), CodecError.BodyTooLarge);
    // Header split: the error comes with its last byte.
    const dec = new GoimStreamDecoder(4096);
    assert.equal(dec.push(header.subarray(0, 15), () => assert.fail()), CodecError.None);
    assert.equal(dec.push(header.subarray(15), () => assert.fail()), CodecError.BodyTooLarge);
  });

  it('reuses the reassembly buffer across split packets', () => {
    const dec = new GoimStreamDecoder(4096);
    const pkt = encodePacket(1000, 0, Buffer.alloc(3000, 7));
    const bufs = new Set<ArrayBufferLike>();
    for (let i = 0; i < 5; i++) {
      dec.push(pkt.subarray(0, 100), () => assert.fail());
      dec.push(pkt.subarray(100), (_v, _o, _s, buf, off, len) => {
        assert.notEqual(buf.buffer, pkt.buffer);
        assert.equal(off, HEADER_BYTES);
        assert.equal(len, 3000);
        bufs.add(buf.buffer);
      });
    }
    assert.equal(bufs.size, 1);
  });

  describe('decodeFrame', () => {
    it('decodes one packet, as a view, ignoring trailing bytes', () => {
      const frame = Buffer.concat([hex(AUTH_HEX), hex('deadbeef')]);
      let got: Packet | undefined;
      const e = decodeFrame(frame, 4096, (ver, op, seq, buf, off, len) => {
        assert.equal(buf, frame);
        got = { ver, op, seq, body: Buffer.from(buf.subarray(off, off + len)).toString() };
      });
      assert.equal(e, CodecError.None);
      assert.deepEqual(got, auth);
    });

    it('rejects malformed frames', () => {
      const no = () => assert.fail('no packet expected');
      assert.equal(decodeFrame(hex('00000010 0010 0001 000000'), 4096, no), CodecError.FrameTooShort);
      assert.equal(decodeFrame(new Uint8Array(0), 4096, no), CodecError.FrameTooShort);
      assert.equal(decodeFrame(hex('0000000f 0010 0001 00000002 00000001'), 4096, no), CodecError.PacketTooShort);
      assert.equal(decodeFrame(hex('00000011 0010 0001 00000002 00000001'), 4096, no), CodecError.PacketTooShort);
      assert.equal(decodeFrame(hex('80000000 0010 0001 00000002 00000001'), 4096, no), CodecError.PacketTooShort);
      assert.equal(decodeFrame(hex('00000010 000c 0001 00000002 00000001'), 4096, no), CodecError.BadHeaderLength);
      assert.equal(decodeFrame(encodePacket(Op.SendMsg, 1, Buffer.alloc(11)), 10, no), CodecError.BodyTooLarge);
    });
  });

  describe('decodeBatch', () => {
    it('walks three inner packets of an op-9 frame', () => {
      const inner = [
        encodePacket(1000, 0, Buffer.from('one')),
        encodePacket(1001, 0, null),
        encodePacket(1002, 0, Buffer.from('three')),
      ];
      const frame = encodePacket(Op.Raw, 0, Buffer.concat(inner));
      const got: Packet[] = [];
      const e = decodeFrame(frame, 4096, (_v, op, _s, buf, off, len) => {
        assert.equal(op, Op.Raw);
        const r = decodeBatch(buf, off, len, (ver, op2, seq, b, o, l) => {
          assert.equal(b, frame);
          got.push({ ver, op: op2, seq, body: Buffer.from(b.subarray(o, o + l)).toString() });
        });
        assert.equal(r, CodecError.None);
      });
      assert.equal(e, CodecError.None);
      assert.deepEqual(got, [
        { ver: 1, op: 1000, seq: 0, body: 'one' },
        { ver: 1, op: 1001, seq: 0, body: '' },
        { ver: 1, op: 1002, seq: 0, body: 'three' },
      ]);
    });

    it('rejects a malformed inner packet', () => {
      const ok = encodePacket(1000, 0, Buffer.from('one'));
      const body = (...b: Buffer[]) => Buffer.concat(b);
      let n = 0;
      const count = () => n++;
      assert.equal(decodeBatch(body(ok, ok.subarray(0, 10)), 0, ok.length + 10, count), CodecError.PacketTooShort);
      assert.equal(n, 1);
      const truncated = body(ok, ok.subarray(0, ok.length - 1));
      assert.equal(decodeBatch(truncated, 0, truncated.length, count), CodecError.PacketTooShort);
      const badHdr = hex('00000010 0011 0001 00000002 00000001');
      assert.equal(decodeBatch(badHdr, 0, badHdr.length, count), CodecError.BadHeaderLength);
      assert.equal(decodeBatch(ok, 0, 0, count), CodecError.None);
    });
  });
});

describe('mars codec', () => {
  interface MarsPacket { clientVersion: number; cmdid: number; seq: number; body: string }

  function feedMars(chunks: Uint8Array[], maxBody = 1 << 20): { packets: MarsPacket[]; errors: CodecError[] } {
    const dec = new MarsStreamDecoder(maxBody);
    const packets: MarsPacket[] = [];
    const errors: CodecError[] = [];
    for (const c of chunks) {
      const e = dec.push(c, (clientVersion, cmdid, seq, buf, off, len) => {
        packets.push({ clientVersion, cmdid, seq, body: Buffer.from(buf.subarray(off, off + len)).toString() });
      });
      if (e !== CodecError.None) errors.push(e);
    }
    return { packets, errors };
  }

  it('encodes and decodes the noop packet', () => {
    assert.equal(MARS_HEADER_BYTES, 20);
    const noop = encodeMarsPacket(MARS_NOOP_CMDID, MARS_NOOP_SEQ, null);
    assert.equal(noop.toString('hex'), hex(MARS_NOOP_HEX).toString('hex'));
    assert.deepEqual(feedMars([hex(MARS_NOOP_HEX)]), {
      packets: [{ clientVersion: 0, cmdid: 6, seq: 0xffffffff, body: '' }],
      errors: [],
    });
  });

  it('round trips a push, many per chunk, bodies as views', () => {
    const a = encodeMarsPacket(10001, MARS_PUSH_SEQ, Buffer.from('hello'), 200);
    const b = encodeMarsPacket(0xfffffffe, 0x80000000, Buffer.from('x'));
    assert.equal(a.subarray(0, 20).toString('hex'), '00000014' + '000000c8' + '00002711' + '00000000' + '00000005');
    const chunk = Buffer.concat([a, b]);
    const seen: MarsPacket[] = [];
    new MarsStreamDecoder(1024).push(chunk, (clientVersion, cmdid, seq, buf, off, len) => {
      assert.equal(buf.buffer, chunk.buffer);
      seen.push({ clientVersion, cmdid, seq, body: Buffer.from(buf.subarray(off, off + len)).toString() });
    });
    assert.deepEqual(seen, [
      { clientVersion: 200, cmdid: 10001, seq: 0, body: 'hello' },
      { clientVersion: 0, cmdid: 0xfffffffe, seq: 0x80000000, body: 'x' },
    ]);
  });

  it('decodes a packet split at every byte boundary, and fed one byte at a time', () => {
    const pkt = encodeMarsPacket(10001, 7, Buffer.from('a mars body'));
    const want = { packets: [{ clientVersion: 0, cmdid: 10001, seq: 7, body: 'a mars body' }], errors: [] };
    for (let i = 1; i < pkt.length; i++) {
      assert.deepEqual(feedMars([pkt.subarray(0, i), pkt.subarray(i)]), want, `split at ${i}`);
    }
    const bytes: Uint8Array[] = [];
    for (let i = 0; i < pkt.length; i++) bytes.push(pkt.subarray(i, i + 1));
    assert.deepEqual(feedMars(bytes), want);
  });

  it('rejects head_length other than 20 and a body over the limit', () => {
    assert.deepEqual(feedMars([hex('00000010 00000000 00000006 ffffffff 00000000')]).errors, [CodecError.BadHeaderLength]);
    const big = encodeMarsPacket(10001, 0, Buffer.alloc(11));
    assert.deepEqual(feedMars([big], 10).errors, [CodecError.BodyTooLarge]);
    // Detected with the header alone; body_length is unsigned, so 0xffffffff is too large, not negative.
    assert.deepEqual(feedMars([big.subarray(0, 20)], 10).errors, [CodecError.BodyTooLarge]);
    assert.deepEqual(feedMars([hex('00000014 00000000 00000006 00000001 ffffffff')]).errors, [CodecError.BodyTooLarge]);
  });
});
