/**
 * Fuzz: random and mutated client input on every client port (goim over TCP, WebSocket, Mars) of
 * one real server (2 workers), while two well-behaved clients heartbeat throughout.
 *
 * Every connection's input comes from its own PRNG, seeded from the run's seed and the connection's
 * index, so a failure is reproduced with FUZZ_SEED=<seed> (printed at the start); the bytes of a
 * failing connection are also written to a file named in the failure.
 *
 * What must hold: a bad connection costs that connection only (no worker dies or restarts); the
 * well-behaved clients get every heartbeat reply and a final push; connections that never
 * authenticate are closed; a connection whose framing is broken is closed; an authenticated
 * connection with valid framing but garbage ops stays usable (a heartbeat sent after the garbage is
 * answered); the online count returns to the two well-behaved clients.
 */
import assert from 'node:assert/strict';
import { Rng } from './rng.js';
import { isUtf8 } from 'node:buffer';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { CodecError, decodeBatch, decodeFrame, encodePacket, GoimStreamDecoder, Op } from '../../src/codec.js';
import { encodeMarsPacket, MarsStreamDecoder } from '../../src/codec-mars.js';
import { GoimClient } from '../helpers/goim-client.js';
import { startServer, until, type RunningServer } from '../helpers/server.js';

// A fresh seed on every local run finds new inputs; CI uses a fixed one so a landing is reproducible.
const SEED =
  process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) >>> 0 : process.env.CI !== undefined ? 20261123 : (Date.now() ^ (process.pid << 16)) >>> 0;
const MIN_CONNECTIONS = 300;
const MIN_PACKETS = Number(process.env.FUZZ_PACKETS ?? 150_000);
const CONCURRENCY = 24;
const MAX_BODY = 4096; // protocol.maxBodyBytes (default)
const WS_MAX_PAYLOAD = 16 + MAX_BODY + 1024; // what src/protocols/ws.ts allows
const HANDSHAKE_MS = 1000;
/** Bound for "the server closes this connection" (handshake deadline, wheel tick and a loaded VM). */
const CLOSE_WITHIN_MS = 6000;
/** Bound for a reply on a live connection under fuzz load. */
const REPLY_WITHIN_MS = 10_000;
const GUARD_MID = 4_000_000_000_001;
const GUARD_ROOM = 'live://fuzz-guard';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789:/,.-_ ';

function connRng(idx: number): Rng {
  return new Rng((SEED ^ Math.imul(idx + 1, 0x9e3779b1)) >>> 0);
}

// ---------------------------------------------------------------------------------------------
// Generators

const I32_EDGES = [0, 1, -1, 2, 7, 16, 0x7fffffff, -0x80000000, 0xffff, 0x10000, 1000, 999, 100, 199];
const FUZZ_OPS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 100, 101, 102, 103, 199, 1000, 1001, 4, 12, 14, 16, 100, 102, 4, 12, 14, 16, 100, 102];

function fuzzOp(r: Rng): number {
  const k = r.int(10);
  if (k < 7) return r.pick(FUZZ_OPS);
  if (k < 8) return r.pick(I32_EDGES);
  if (k < 9) return r.range(18, 2000);
  return r.i32();
}

function bodyLength(r: Rng): number {
  const k = r.int(20);
  if (k < 4) return 0;
  if (k < 14) return r.range(1, 32);
  if (k < 19) return r.range(33, 512);
  return r.chance(0.3) ? MAX_BODY : r.range(513, MAX_BODY);
}

function roomName(r: Rng): string {
  const k = r.int(6);
  if (k === 0) return `live://${r.int(50)}`;
  if (k === 1) return `${r.ascii(r.range(0, 8), ALPHABET)}://${r.ascii(r.range(0, 12), ALPHABET)}`;
  if (k === 2) return r.unicode(r.range(1, 20));
  if (k === 3) return r.ascii(r.range(0, 40), ALPHABET);
  if (k === 4) return `chat://${r.unicode(r.range(1, 6))}`;
  return r.ascii(r.range(200, 1200), ALPHABET);
}

function commaList(r: Rng, item: () => string): string {
  const n = r.range(0, 30);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(item());
  return parts.join(r.pick([',', ', ', ',,', ' ,']));
}

/** A body for `op`, at most maxBodyBytes. */
function opBody(r: Rng, op: number): Buffer {
  const b = opBodyAny(r, op);
  return b.length > MAX_BODY ? b.subarray(0, MAX_BODY) : b;
}

function opBodyAny(r: Rng, op: number): Buffer {
  if (r.chance(0.25)) return r.bytes(bodyLength(r));
  switch (op) {
    case 12:
      return Buffer.from(r.chance(0.2) ? '' : roomName(r));
    case 100:
    case 102:
      return Buffer.from(commaList(r, () => roomName(r)).slice(0, MAX_BODY));
    case 14:
    case 16:
      return Buffer.from(
        commaList(r, () => r.pick([String(r.i32()), String(r.range(1000, 1010)), 'abc', '', '-0', '1e3', '99999999999999999999', '0x10', ' 7 ', 'NaN', 'Infinity', '1.5'])),
      );
    case 4: {
      const k = r.int(6);
      const uri = k === 0 ? 'Chat/Send' : k === 1 ? `${r.ascii(r.range(0, 20), ALPHABET)}/${r.ascii(r.range(0, 20), ALPHABET)}` : k === 2 ? '../..' : r.ascii(r.range(0, 300), ALPHABET);
      const u = Buffer.from(uri);
      const head = Buffer.alloc(2);
      head.writeUInt16BE(r.chance(0.7) ? u.length : r.int(0x10000));
      return Buffer.concat([head, u, r.bytes(r.range(0, 64))]).subarray(0, r.chance(0.1) ? r.int(3) : undefined);
    }
    case 7:
      return Buffer.from(JSON.stringify({ mid: r.int(1000), key: `late-${r.u32()}` }));
    default:
      return r.chance(0.5) ? Buffer.from(r.unicode(bodyLength(r) >> 2)) : r.bytes(bodyLength(r));
  }
}

/** goim header with arbitrary fields (packLen as given, not checked). */
function goimRaw(packLen: number, headerLen: number, ver: number, op: number, seq: number, body: Buffer): Buffer {
  const b = Buffer.alloc(16 + body.length);
  b.writeInt32BE(packLen | 0, 0);
  b.writeInt16BE(((headerLen << 16) >> 16), 4);
  b.writeInt16BE(((ver << 16) >> 16), 6);
  b.writeInt32BE(op | 0, 8);
  b.writeInt32BE(seq | 0, 12);
  body.copy(b, 16);
  return b;
}

function fuzzGoimPacket(r: Rng): Buffer {
  const op = fuzzOp(r);
  return encodePacket(op, r.chance(0.5) ? r.range(0, 1000) : r.i32(), opBody(r, op), r.chance(0.8) ? 1 : (r.u32() << 16) >> 16);
}

interface BadTail {
  bytes: Buffer;
  /** The server must close the connection (broken framing), vs. it may wait for more bytes. */
  mustClose: boolean;
  what: string;
}

function badGoimPacket(r: Rng): BadTail {
  const body = r.bytes(r.range(0, 40));
  const op = fuzzOp(r);
  const seq = r.i32();
  switch (r.int(9)) {
    case 0: {
      const packLen = r.pick([-1, -16, -0x80000000, -r.range(1, 0x7fffffff)]);
      return { bytes: goimRaw(packLen, 16, 1, op, seq, body), mustClose: true, what: `packLen ${packLen}` };
    }
    case 1: {
      const packLen = r.range(0, 15);
      return { bytes: goimRaw(packLen, 16, 1, op, seq, body), mustClose: true, what: `packLen ${packLen}` };
    }
    case 2: {
      const packLen = r.pick([0x7fffffff, 16 + MAX_BODY + 1, 0x10000000, 16 + MAX_BODY + r.range(1, 100000)]);
      return { bytes: goimRaw(packLen, 16, 1, op, seq, body), mustClose: true, what: `packLen ${packLen}` };
    }
    case 3: {
      let hl = r.pick([0, 15, 17, -1, 0x7fff, -0x8000, 20, 32]);
      if (r.chance(0.3)) hl = (r.u32() << 16) >> 16;
      if (hl === 16) hl = 17;
      return { bytes: goimRaw(16 + body.length, hl, 1, op, seq, body), mustClose: true, what: `headerLen ${hl}` };
    }
    case 4: {
      const n = r.range(1, 15);
      return { bytes: goimRaw(16 + body.length, 16, 1, op, seq, body).subarray(0, n), mustClose: false, what: `header truncated to ${n} bytes` };
    }
    case 5: {
      const full = goimRaw(16 + body.length + r.range(1, 200), 16, 1, op, seq, body);
      return { bytes: full, mustClose: false, what: 'body shorter than packLen' };
    }
    case 6: {
      // A valid header with a body of exactly the maximum, then one more byte than allowed.
      const big = goimRaw(16 + MAX_BODY + 1, 16, 1, op, seq, r.bytes(MAX_BODY + 1));
      return { bytes: big, mustClose: true, what: 'body of maxBodyBytes+1' };
    }
    case 7: {
      // Random bytes: a random headerLen is almost never 16.
      const b = r.bytes(r.range(16, 64));
      if (b.readInt16BE(4) === 16) b[5] = 17;
      return { bytes: b, mustClose: true, what: 'random bytes' };
    }
    default: {
      // A valid packet with a few header bytes flipped.
      const b = encodePacket(op, seq, body);
      b[4] ^= 1 << r.int(8);
      if (b.readInt16BE(4) === 16) b[5] ^= 2;
      return { bytes: b, mustClose: true, what: 'flipped headerLen bits' };
    }
  }
}

const BAD_AUTH_BODIES: Array<(r: Rng) => Buffer> = [
  (r) => Buffer.from(r.pick(['', '{', '{"mid":', 'nul', '{"mid":1,}', "{'mid':1}", '{"mid":1}}', '[', 'undefined', '{"a":1 "b":2}'])),
  (r) => Buffer.from(r.ascii(r.range(1, 300), '{}[]":,0123456789abcnultrue ')),
  (r) => r.bytes(r.range(1, 200)),
  // invalid UTF-8
  () => Buffer.concat([Buffer.from('{"key":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
  () => Buffer.concat([Buffer.from('{"key":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]),
  () => Buffer.concat([Buffer.from('{"room_id":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]),
  () => Buffer.concat([Buffer.from('{"platform":"'), Buffer.from([0xe4, 0xb8]), Buffer.from('"}')]),
  () => Buffer.from([0x7b, 0x22, 0x80, 0x22, 0x3a, 0x31, 0x7d]),
  // wrong types
  (r) =>
    Buffer.from(
      r.pick([
        '{"mid":"abc"}', '{"mid":-1}', '{"mid":1.5}', '{"mid":true}', '{"mid":[1]}', '{"mid":{}}', '{"mid":"-5"}', '{"mid":""}',
        '{"key":1}', '{"key":[]}', '{"room_id":[]}', '{"room_id":5}', '{"platform":{}}', '{"platform":false}', '{"token":5}',
        '{"accepts":"1000"}', '{"accepts":["1000","1001"]}', '{"accepts":[1e10]}', '{"accepts":[1.5]}', '{"accepts":{}}',
        '{"accepts":[1000,"x"]}', '{"accepts":[2147483648]}', '{"accepts":[-2147483649]}', '{"accepts":[null]}', '{"accepts":true}',
      ]),
    ),
  // huge mids
  (r) => Buffer.from(r.pick(['{"mid":1e300}', '{"mid":9007199254740993}', '{"mid":"99999999999999999999"}', '{"mid":123456789012345678901234567890}', '{"mid":1e400}', '{"mid":"12345678901234567"}'])),
  // not an object
  (r) => Buffer.from(r.pick(['[]', '"str"', '123', 'null', 'true', '[{"mid":1}]', '-0'])),
];

function badAuthBody(r: Rng): Buffer {
  return r.pick(BAD_AUTH_BODIES)(r);
}

/** An auth body that must be accepted (auth.mode none), with unusual but valid values. */
function goodAuthBody(r: Rng, idx: number): Buffer {
  const o: Record<string, unknown> = {};
  const k = r.int(3);
  o.mid = k === 0 ? r.int(1_000_000) : k === 1 ? String(r.int(1e15)) : r.pick([0, null, Number.MAX_SAFE_INTEGER, -0]);
  // Keys are unique per connection: a shared key would (rightly) replace the older connection.
  o.key = r.chance(0.2) ? r.pick(['', null]) : `fz-${idx}-${r.chance(0.5) ? r.unicode(r.range(1, 30)) : r.ascii(r.range(0, 60), ALPHABET)}`;
  if (r.chance(0.8)) o.room_id = r.chance(0.3) ? r.pick(['', null]) : roomName(r);
  if (r.chance(0.8)) o.platform = r.pick(['web', 'ios', 'android', '', r.unicode(r.range(1, 10))]);
  // Known bug, pinned by its own test below: with the default multiLogin (kick ""), logins of one mid
  // with an empty platform kick each other (4002). Give those a mid of their own here, so that the
  // fuzz keeps finding other things.
  if (o.platform === undefined || o.platform === '') o.mid = 3_000_000_000_000 + idx;
  if (r.chance(0.8)) {
    const n = r.range(0, 50);
    const acc: number[] = [];
    for (let i = 0; i < n; i++) acc.push(r.chance(0.5) ? r.range(1000, 1010) : r.pick(I32_EDGES));
    o.accepts = r.chance(0.1) ? null : acc;
  }
  if (r.chance(0.3)) o.token = r.ascii(r.range(0, 100), ALPHABET);
  if (r.chance(0.3)) o[r.ascii(r.range(1, 10), ALPHABET)] = { deep: [[[r.unicode(5)]]], n: r.i32() };
  let s = JSON.stringify(o);
  if (Buffer.byteLength(s) > MAX_BODY) s = JSON.stringify({ mid: 1, key: `fz-${idx}` });
  return Buffer.from(s);
}

// Mars

const MARS_CMDIDS = [6, 6, 102, 103, 104, 105, 106, 107, 108, 109, 112, 114, 116, 200, 202, 299, 1000, 1001, 0, 1, 99, 100, 5000];

function marsRaw(headLen: number, cv: number, cmdid: number, seq: number, bodyLen: number, body: Buffer): Buffer {
  const b = Buffer.alloc(20 + body.length);
  b.writeUInt32BE(headLen >>> 0, 0);
  b.writeUInt32BE(cv >>> 0, 4);
  b.writeUInt32BE(cmdid >>> 0, 8);
  b.writeUInt32BE(seq >>> 0, 12);
  b.writeUInt32BE(bodyLen >>> 0, 16);
  body.copy(b, 20);
  return b;
}

function fuzzMarsPacket(r: Rng): Buffer {
  const k = r.int(10);
  const cmdid = k < 7 ? r.pick(MARS_CMDIDS) : k < 9 ? r.range(0, 1200) : r.u32();
  const seq = cmdid === 6 && r.chance(0.7) ? 0xffffffff : r.chance(0.5) ? r.int(1000) : r.u32();
  const op = cmdid >= 100 && cmdid < 1000 ? cmdid - 100 : cmdid;
  return encodeMarsPacket(cmdid, seq, opBody(r, op), r.chance(0.5) ? 0 : r.u32());
}

function badMarsPacket(r: Rng): BadTail {
  const body = r.bytes(r.range(0, 40));
  const cmdid = r.pick(MARS_CMDIDS);
  switch (r.int(5)) {
    case 0: {
      let hl = r.pick([0, 16, 19, 21, 0xffffffff, 0x80000000, r.u32()]);
      if (hl === 20) hl = 21;
      return { bytes: marsRaw(hl, 0, cmdid, 1, body.length, body), mustClose: true, what: `head_length ${hl}` };
    }
    case 1: {
      const bl = r.pick([MAX_BODY + 1, 0xffffffff, 0x80000000, 0x7fffffff, MAX_BODY + r.range(1, 1e6)]);
      return { bytes: marsRaw(20, 0, cmdid, 1, bl, body), mustClose: true, what: `body_length ${bl}` };
    }
    case 2: {
      const n = r.range(1, 19);
      return { bytes: marsRaw(20, 0, cmdid, 1, body.length, body).subarray(0, n), mustClose: false, what: `header truncated to ${n} bytes` };
    }
    case 3:
      return { bytes: marsRaw(20, 0, cmdid, 1, body.length + r.range(1, 100), body), mustClose: false, what: 'body shorter than body_length' };
    default: {
      const b = r.bytes(r.range(20, 64));
      if (b.readUInt32BE(0) === 20) b[3] = 21;
      return { bytes: b, mustClose: true, what: 'random bytes' };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Connections

interface Pkt {
  op: number;
  seq: number;
  body: Buffer;
}

interface Outcome {
  packets: number;
  replies: number;
  failures: string[];
}

let dumpDir = '';
const stats = { lostNotices: 0, badAuthConns: 0 };
function dump(idx: number, scenario: string, input: Buffer | Buffer[]): string {
  const file = path.join(dumpDir, `conn-${idx}-${scenario}.${Array.isArray(input) ? 'json' : 'bin'}`);
  fs.writeFileSync(file, Array.isArray(input) ? JSON.stringify(input.map((b) => b.toString('hex')), null, 0) : input);
  return file;
}

function hexHead(b: Buffer, n = 48): string {
  return b.subarray(0, n).toString('hex') + (b.length > n ? `…(${b.length} bytes)` : '');
}

/** A raw TCP connection speaking goim or Mars framing, with reply decoding and waits. */
class StreamConn {
  socket!: net.Socket;
  closed = false;
  replies = 0;
  decodeError = false;
  op6: Buffer[] = [];
  readonly written: Buffer[] = [];
  writtenBytes = 0;
  private waiters: Array<{ pred: (p: Pkt) => boolean; done: (p: Pkt | null) => void }> = [];
  private closeWaiters: Array<() => void> = [];

  constructor(readonly mars: boolean) {}

  async connect(port: number): Promise<void> {
    this.socket = net.connect({ host: '127.0.0.1', port });
    this.socket.setNoDelay(true);
    const onPkt = (p: Pkt): void => {
      this.replies++;
      if (!this.mars && p.op === Op.DisconnectReply) this.op6.push(p.body);
      if (this.mars && p.op === 106) this.op6.push(p.body);
      for (let i = 0; i < this.waiters.length; i++) {
        const w = this.waiters[i]!;
        if (w.pred(p)) {
          this.waiters.splice(i--, 1);
          w.done(p);
        }
      }
    };
    if (this.mars) {
      const dec = new MarsStreamDecoder(1 << 24);
      this.socket.on('data', (chunk) => {
        if (dec.push(chunk, (_cv, cmdid, seq, buf, off, len) => onPkt({ op: cmdid, seq, body: Buffer.from(buf.subarray(off, off + len)) })) !== CodecError.None) this.decodeError = true;
      });
    } else {
      const dec = new GoimStreamDecoder(1 << 24);
      this.socket.on('data', (chunk) => {
        if (dec.push(chunk, (_v, op, seq, buf, off, len) => onPkt({ op, seq, body: Buffer.from(buf.subarray(off, off + len)) })) !== CodecError.None) this.decodeError = true;
      });
    }
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters) w.done(null);
      this.waiters = [];
      for (const w of this.closeWaiters) w();
      this.closeWaiters = [];
    });
    await new Promise<void>((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
  }

  /** The next packet matching `pred`; null when the connection closed or `ms` passed. */
  waitFor(pred: (p: Pkt) => boolean, ms: number): Promise<Pkt | null> {
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== entry);
        resolve(null);
      }, ms);
      const entry = {
        pred,
        done: (p: Pkt | null) => {
          clearTimeout(t);
          resolve(p);
        },
      };
      this.waiters.push(entry);
    });
  }

  /** Whether the server closed the connection within `ms`. */
  waitClose(ms: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), ms);
      this.closeWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /** Writes `buf` cut at random points, yielding now and then; stops early if the server closed. Returns bytes written. */
  async writeSplit(r: Rng, buf: Buffer): Promise<number> {
    let pos = 0;
    while (pos < buf.length && !this.closed) {
      const k = r.int(10);
      const n = k < 2 ? 1 : k < 5 ? r.range(1, 20) : k < 8 ? r.range(20, 600) : r.range(600, 20000);
      const piece = buf.subarray(pos, Math.min(buf.length, pos + n));
      this.written.push(piece);
      const ok = this.socket.write(piece);
      pos += piece.length;
      this.writtenBytes += piece.length;
      if (!ok) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            this.socket.off('drain', done);
            this.socket.off('close', done);
            resolve();
          };
          this.socket.on('drain', done);
          this.socket.on('close', done);
        });
      } else if (r.chance(0.08)) {
        await new Promise((res) => setImmediate(res));
      }
    }
    return pos;
  }

  input(): Buffer {
    return Buffer.concat(this.written);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Packets whose last byte was written: `ends` are the packets' end offsets in the written stream. */
function countWritten(ends: number[], written: number): number {
  let n = 0;
  for (const e of ends) if (e <= written) n++;
  return n;
}

function concatPackets(packets: Buffer[], base = 0): { buf: Buffer; ends: number[] } {
  const ends: number[] = [];
  let off = base;
  for (const p of packets) {
    off += p.length;
    ends.push(off);
  }
  return { buf: Buffer.concat(packets), ends };
}

const SENTINEL_BASE = 0x5eed0000;

/** goim over TCP or Mars, authenticated (valid, unusual auth bodies), then garbage ops with valid framing, then a heartbeat or a broken tail. */
async function streamAuthenticated(s: RunningServer, idx: number, mars: boolean): Promise<Outcome> {
  const r = connRng(idx);
  const scenario = mars ? 'mars-auth' : 'tcp-auth';
  const c = new StreamConn(mars);
  const failures: string[] = [];
  await c.connect(mars ? s.marsPort : s.tcpPort);
  const authSeq = r.range(1, 0x7fffffff);
  const authBody = goodAuthBody(r, idx);
  const auth = mars ? encodeMarsPacket(107, authSeq, authBody, r.u32()) : encodePacket(Op.Auth, authSeq, authBody, r.chance(0.8) ? 1 : r.range(0, 0x7fff));
  const gen = (): Buffer => (mars ? fuzzMarsPacket(r) : fuzzGoimPacket(r));
  // Up to 8 packets may follow op 7 before its reply (they are answered after it).
  const early: Buffer[] = [];
  if (r.chance(0.25)) for (let i = r.range(1, 8); i > 0; i--) early.push(gen());
  const head = concatPackets([auth, ...early]);
  const authReplyOp = mars ? 108 : Op.AuthReply;
  const authReply = c.waitFor((p) => p.op === authReplyOp && (mars ? p.seq === authSeq : p.seq === authSeq), REPLY_WITHIN_MS);
  const w0 = await c.writeSplit(r, head.buf);
  let packets = countWritten(head.ends, w0);
  const got = await authReply;
  if (got === null) {
    failures.push(`${scenario} #${idx}: no auth reply to a valid auth body ${JSON.stringify(authBody.toString())} (${c.closed ? 'closed' : 'timeout'}; op6 ${c.op6.map((b) => b.toString()).join(' | ')}); input ${dump(idx, scenario, c.input())}`);
    c.destroy();
    return { packets, replies: c.replies, failures };
  }
  const n = r.range(250, 600);
  const body: Buffer[] = [];
  for (let i = 0; i < n; i++) body.push(gen());
  const bulk = concatPackets(body);
  const w1 = await c.writeSplit(r, bulk.buf);
  packets += countWritten(bulk.ends, w1);
  if (c.closed) {
    failures.push(`${scenario} #${idx}: the server closed an authenticated connection with valid framing after ${packets} packets (op6 ${c.op6.map((b) => b.toString()).join(' | ')}); input ${dump(idx, scenario, c.input())}`);
    return { packets, replies: c.replies, failures };
  }
  if (r.chance(0.7)) {
    // The connection must still work: a sentinel is answered after all the garbage.
    const seq = (SENTINEL_BASE + idx) | 0;
    const sentinel = mars ? encodeMarsPacket(4242, seq >>> 0, null) : encodePacket(Op.Heartbeat, seq, null);
    const reply = c.waitFor((p) => (mars ? p.op === 4242 && p.seq === seq >>> 0 : p.op === Op.HeartbeatReply && p.seq === seq), REPLY_WITHIN_MS);
    await c.writeSplit(r, sentinel);
    packets++;
    if ((await reply) === null) {
      failures.push(`${scenario} #${idx}: no reply to a ${mars ? 'cmdid 4242 echo' : 'heartbeat'} after ${packets} fuzz packets (${c.closed ? 'closed' : 'timeout'}); input ${dump(idx, scenario, c.input())}`);
    }
  } else {
    const bad = mars ? badMarsPacket(r) : badGoimPacket(r);
    const w = await c.writeSplit(r, bad.bytes);
    if (w === bad.bytes.length) packets++;
    if (bad.mustClose && !(await c.waitClose(CLOSE_WITHIN_MS))) {
      failures.push(`${scenario} #${idx}: broken framing (${bad.what}: ${hexHead(bad.bytes)}) did not close the connection within ${CLOSE_WITHIN_MS} ms; input ${dump(idx, scenario, c.input())}`);
    } else if (!bad.mustClose) {
      await new Promise((res) => setTimeout(res, r.range(0, 50))); // a random pause is part of the fuzzed input's timing
    }
  }
  if (c.decodeError) failures.push(`${scenario} #${idx}: the server sent bytes that do not decode as ${mars ? 'Mars' : 'goim'} packets; input ${dump(idx, scenario, c.input())}`);
  c.destroy();
  return { packets, replies: c.replies, failures };
}

/** goim over TCP or Mars without a valid auth: wrong first op, broken framing, truncation, silence, or a bad auth body. */
async function streamUnauthenticated(s: RunningServer, idx: number, mars: boolean): Promise<Outcome> {
  const r = connRng(idx);
  const c = new StreamConn(mars);
  const failures: string[] = [];
  await c.connect(mars ? s.marsPort : s.tcpPort);
  let first: Buffer;
  let what: string;
  let badAuth = false;
  const k = r.int(10);
  if (k < 4) {
    // A bad auth body: op 6 with code 400, then close.
    badAuth = true;
    const b = badAuthBody(r);
    first = mars ? encodeMarsPacket(107, 1, b) : encodePacket(Op.Auth, 1, b);
    what = `auth with body ${hexHead(b, 64)} (${JSON.stringify(b.toString('latin1').slice(0, 80))})`;
  } else if (k < 7) {
    // A well-framed packet whose op is not auth.
    let op: number;
    do op = fuzzOp(r);
    while (op === 7);
    first = mars ? encodeMarsPacket(op === 2 ? 6 : op >= 0 && op < 1000 ? op + 100 : op >>> 0, r.u32(), opBody(r, op)) : encodePacket(op, r.i32(), opBody(r, op));
    what = `first packet op ${op}`;
  } else if (k < 9) {
    const bad = mars ? badMarsPacket(r) : badGoimPacket(r);
    first = bad.bytes;
    what = bad.what;
  } else {
    first = r.chance(0.5) ? Buffer.alloc(0) : r.bytes(r.range(1, mars ? 19 : 15));
    what = first.length === 0 ? 'silence' : `${first.length} bytes of a header, then silence`;
  }
  const rest: Buffer[] = [];
  const tail = first.length > 0 && r.chance(0.7) ? r.range(1, 300) : 0;
  for (let i = 0; i < tail; i++) rest.push(mars ? fuzzMarsPacket(r) : fuzzGoimPacket(r));
  const all = concatPackets([first, ...rest]);
  const w = await c.writeSplit(r, all.buf);
  const packets = countWritten(all.ends, w);
  if (!(await c.waitClose(HANDSHAKE_MS + CLOSE_WITHIN_MS))) {
    failures.push(`${mars ? 'mars' : 'tcp'}-unauth #${idx}: ${what}: the connection was not closed within ${HANDSHAKE_MS + CLOSE_WITHIN_MS} ms; input ${dump(idx, 'unauth', c.input())}`);
  } else if (badAuth) {
    stats.badAuthConns++;
    const codes = c.op6.map((b) => {
      try {
        return (JSON.parse(b.toString()) as { code: number }).code;
      } catch {
        return `unparsable ${b.toString('hex')}`;
      }
    });
    if (tail > 0 && codes.length === 0) {
      // Packets still arriving when the server closes: its close then resets the connection (RST)
      // and the client's kernel may drop the op 6 it had received. Counted, reported, not failed.
      stats.lostNotices++;
    } else if (codes.length !== 1 || codes[0] !== 400) failures.push(`${mars ? 'mars' : 'tcp'}-unauth #${idx}: ${what}: expected one op 6 with code 400 before the close, got ${JSON.stringify(codes)}`);
  }
  if (c.decodeError) failures.push(`${mars ? 'mars' : 'tcp'}-unauth #${idx}: the server sent undecodable bytes; input ${dump(idx, 'unauth', c.input())}`);
  c.destroy();
  return { packets, replies: c.replies, failures };
}

/** WebSocket through the `ws` client: auth (or not), then one packet per message, garbage ops, mutated packets. */
async function wsClient(s: RunningServer, idx: number): Promise<Outcome> {
  const r = connRng(idx);
  const failures: string[] = [];
  const sent: Buffer[] = [];
  const ws = new WebSocket(`ws://127.0.0.1:${s.wsPort}/sub`);
  ws.binaryType = 'nodebuffer';
  let replies = 0;
  let closed = false;
  let decodeError = false;
  const waiters: Array<{ pred: (p: Pkt) => boolean; done: (p: Pkt | null) => void }> = [];
  const closeWaiters: Array<() => void> = [];
  const onPkt = (p: Pkt): void => {
    replies++;
    for (let i = 0; i < waiters.length; i++) if (waiters[i]!.pred(p)) waiters.splice(i--, 1)[0]!.done(p);
  };
  ws.on('message', (data: Buffer) => {
    const err = decodeFrame(data, 1 << 24, (_v, op, seq, buf, off, len) => {
      if (op === Op.Raw) {
        if (decodeBatch(buf, off, len, (_v2, o, sq, b, bo, bl) => onPkt({ op: o, seq: sq, body: Buffer.from(b.subarray(bo, bo + bl)) })) !== CodecError.None) decodeError = true;
      } else onPkt({ op, seq, body: Buffer.from(buf.subarray(off, off + len)) });
    });
    if (err !== CodecError.None) decodeError = true;
  });
  ws.on('error', () => undefined);
  ws.on('close', () => {
    closed = true;
    for (const w of waiters.splice(0)) w.done(null);
    for (const w of closeWaiters.splice(0)) w();
  });
  const waitFor = (pred: (p: Pkt) => boolean, ms: number): Promise<Pkt | null> =>
    closed
      ? Promise.resolve(null)
      : new Promise((resolve) => {
          const entry = { pred, done: (p: Pkt | null) => (clearTimeout(t), resolve(p)) };
          const t = setTimeout(() => {
            const i = waiters.indexOf(entry);
            if (i >= 0) waiters.splice(i, 1);
            resolve(null);
          }, ms);
          waiters.push(entry);
        });
  const waitClose = (ms: number): Promise<boolean> =>
    closed
      ? Promise.resolve(true)
      : new Promise((resolve) => {
          const t = setTimeout(() => resolve(false), ms);
          closeWaiters.push(() => (clearTimeout(t), resolve(true)));
        });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let packets = 0;
  const send = (b: Buffer, text = false): boolean => {
    if (ws.readyState !== WebSocket.OPEN) return false;
    sent.push(b);
    ws.send(b, { binary: !text });
    packets++;
    return true;
  };
  const drain = async (): Promise<void> => {
    while (ws.bufferedAmount > 256 * 1024 && !closed) await new Promise((res) => setTimeout(res, 2));
  };
  const finish = (): Outcome => {
    if (decodeError) failures.push(`ws #${idx}: the server sent a message that does not decode as goim packets; input ${dump(idx, 'ws', sent)}`);
    ws.terminate();
    return { packets, replies, failures };
  };

  if (r.chance(0.15)) {
    // Unauthenticated: a bad first message, or a bad auth body, or silence. The server must close.
    const k = r.int(4);
    let what: string;
    if (k === 0) {
      const b = badAuthBody(r);
      send(encodePacket(Op.Auth, 1, b));
      what = `auth body ${hexHead(b, 64)}`;
    } else if (k === 1) {
      let op: number;
      do op = fuzzOp(r);
      while (op === 7);
      send(encodePacket(op, r.i32(), opBody(r, op)));
      what = `first op ${op}`;
    } else if (k === 2) {
      const b = r.bytes(r.range(0, 40));
      send(b);
      what = `random message ${hexHead(b)}`;
    } else what = 'silence';
    // After a first message that closes the session, more packets (any op: they must be ignored).
    if (k < 3) for (let i = r.range(0, 100); i > 0; i--) send(fuzzGoimPacket(r));
    if (!(await waitClose(HANDSHAKE_MS + CLOSE_WITHIN_MS))) failures.push(`ws-unauth #${idx}: ${what}: not closed within ${HANDSHAKE_MS + CLOSE_WITHIN_MS} ms; input ${dump(idx, 'ws-unauth', sent)}`);
    return finish();
  }

  const authSeq = r.range(1, 0x7fffffff);
  const authReply = waitFor((p) => p.op === Op.AuthReply && p.seq === authSeq, REPLY_WITHIN_MS);
  const authPacket = encodePacket(Op.Auth, authSeq, goodAuthBody(r, idx));
  send(authPacket, r.chance(0.2) && isUtf8(authPacket));
  if ((await authReply) === null) {
    failures.push(`ws #${idx}: no auth reply (${closed ? 'closed' : 'timeout'}); input ${dump(idx, 'ws', sent)}`);
    return finish();
  }
  const n = r.range(200, 450);
  for (let i = 0; i < n && !closed; i++) {
    let p = fuzzGoimPacket(r);
    // goim ignores bytes after packLen in a message: trailing garbage keeps the connection.
    if (r.chance(0.1)) p = Buffer.concat([p, r.bytes(r.range(1, 1000))]);
    // Text frames are accepted too; only valid UTF-8 can be sent as text.
    send(p, r.chance(0.1) && isUtf8(p));
    if (i % 50 === 49) await drain();
  }
  if (closed) {
    failures.push(`ws #${idx}: the server closed an authenticated connection after ${packets} well-framed messages; input ${dump(idx, 'ws', sent)}`);
    return finish();
  }
  if (r.chance(0.7)) {
    const seq = (SENTINEL_BASE + idx) | 0;
    const reply = waitFor((p) => p.op === Op.HeartbeatReply && p.seq === seq, REPLY_WITHIN_MS);
    send(encodePacket(Op.Heartbeat, seq, null));
    if ((await reply) === null) failures.push(`ws #${idx}: no heartbeat reply after ${packets} fuzz messages (${closed ? 'closed' : 'timeout'}); input ${dump(idx, 'ws', sent)}`);
  } else {
    // A message that is not one goim packet: the server must close.
    let bad: Buffer;
    let what: string;
    const k = r.int(6);
    if (k === 0) {
      bad = r.bytes(r.range(0, 15));
      what = 'message shorter than a header';
    } else if (k === 1) {
      const b = r.bytes(r.range(0, 100));
      bad = goimRaw(16 + b.length + r.range(1, 1000), 16, 1, 2, 1, b);
      what = 'packLen past the end of the message';
    } else if (k === 2) {
      bad = goimRaw(r.pick([-1, 0, 15, -0x80000000]), 16, 1, 2, 1, Buffer.alloc(0));
      what = `packLen ${bad.readInt32BE(0)}`;
    } else if (k === 3) {
      bad = goimRaw(16, r.pick([0, 15, 17, -1, 0x7fff]), 1, 2, 1, Buffer.alloc(0));
      what = `headerLen ${bad.readInt16BE(4)}`;
    } else if (k === 4) {
      bad = goimRaw(16 + MAX_BODY + 1, 16, 1, 2, 1, r.bytes(MAX_BODY + 1));
      what = 'body of maxBodyBytes+1';
    } else {
      bad = r.bytes(WS_MAX_PAYLOAD + r.range(1, 5000));
      what = `message of ${bad.length} bytes (over maxPayload)`;
    }
    send(bad);
    if (!(await waitClose(CLOSE_WITHIN_MS))) failures.push(`ws #${idx}: ${what} (${hexHead(bad)}) did not close the connection within ${CLOSE_WITHIN_MS} ms; input ${dump(idx, 'ws', sent)}`);
  }
  return finish();
}

/** A client frame (RFC 6455) with any fields; `len64Top` declares a 64-bit length with the top bit set. */
function wsFrame(opts: { fin?: boolean; rsv?: number; opcode: number; payload: Buffer; masked?: boolean; declaredLen?: number; len64Top?: boolean }): Buffer {
  const fin = opts.fin ?? true;
  const masked = opts.masked ?? true;
  const p = opts.payload;
  const len = opts.declaredLen ?? p.length;
  const b0 = (fin ? 0x80 : 0) | ((opts.rsv ?? 0) << 4) | (opts.opcode & 0x0f);
  let head: Buffer;
  if (opts.len64Top) {
    head = Buffer.alloc(10);
    head[1] = 127;
    head.writeUInt32BE(0x80000000, 2);
    head.writeUInt32BE(len, 6);
  } else if (len <= 125) {
    head = Buffer.alloc(2);
    head[1] = len;
  } else if (len <= 0xffff) {
    head = Buffer.alloc(4);
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.alloc(10);
    head[1] = 127;
    head.writeUInt32BE(Math.floor(len / 2 ** 32), 2);
    head.writeUInt32BE(len >>> 0, 6);
  }
  head[0] = b0;
  if (!masked) return Buffer.concat([head, p]);
  head[1]! |= 0x80;
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const mp = Buffer.from(p);
  for (let i = 0; i < mp.length; i++) mp[i]! ^= key[i & 3]!;
  return Buffer.concat([head, key, mp]);
}

const BAD_UTF8 = [Buffer.from([0xff]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xe4, 0xb8]), Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]), Buffer.from([0x80])];

function badWsFrame(r: Rng): { bytes: Buffer; what: string } {
  const small = r.bytes(r.range(0, 30));
  switch (r.int(13)) {
    case 0: {
      const opcode = r.pick([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]);
      return { bytes: wsFrame({ opcode, payload: small }), what: `opcode ${opcode}` };
    }
    case 1:
      return { bytes: wsFrame({ opcode: r.pick([1, 2, 9]), payload: Buffer.from('hi'), masked: false }), what: 'unmasked client frame' };
    case 2: {
      const rsv = r.range(1, 7);
      return { bytes: wsFrame({ opcode: 2, rsv, payload: small }), what: `reserved bits ${rsv}` };
    }
    case 3:
      return { bytes: wsFrame({ opcode: 2, payload: small, len64Top: true, declaredLen: small.length }), what: '64-bit length with the top bit set' };
    case 4: {
      const opcode = r.pick([8, 9, 10]);
      const n = r.range(126, 1000);
      return { bytes: wsFrame({ opcode, payload: r.bytes(n) }), what: `control frame (opcode ${opcode}) of ${n} bytes` };
    }
    case 5:
      return { bytes: wsFrame({ opcode: r.pick([9, 10]), fin: false, payload: small }), what: 'fragmented control frame' };
    case 6: {
      const bad = r.pick(BAD_UTF8);
      return { bytes: wsFrame({ opcode: 1, payload: Buffer.concat([Buffer.from('ab'), bad, Buffer.from('cd')]) }), what: `text frame with invalid UTF-8 ${bad.toString('hex')}` };
    }
    case 7: {
      // A fragmented text message whose second fragment breaks UTF-8.
      return {
        bytes: Buffer.concat([wsFrame({ opcode: 1, fin: false, payload: Buffer.from('valid ') }), wsFrame({ opcode: 0, payload: Buffer.from([0xff, 0xfe]) })]),
        what: 'fragmented text message with invalid UTF-8',
      };
    }
    case 8:
      return { bytes: wsFrame({ opcode: 0, payload: small }), what: 'continuation frame without a message' };
    case 9:
      return {
        bytes: Buffer.concat([wsFrame({ opcode: 2, fin: false, payload: small }), wsFrame({ opcode: 2, payload: small })]),
        what: 'new data frame inside a fragmented message',
      };
    case 10: {
      const n = WS_MAX_PAYLOAD + r.range(1, 100000);
      return { bytes: wsFrame({ opcode: 2, payload: small, declaredLen: n }), what: `declared length ${n} over maxPayload` };
    }
    case 11: {
      const k = r.int(3);
      const payload = k === 0 ? Buffer.from([0x03]) : k === 1 ? Buffer.from([0x03, 0xe7]) /* 999 */ : Buffer.concat([Buffer.from([0x03, 0xe8]), r.pick(BAD_UTF8)]);
      return { bytes: wsFrame({ opcode: 8, payload }), what: `bad close frame ${payload.toString('hex')}` };
    }
    default: {
      // Valid frame, but a payload that is not a goim packet.
      const b = r.bytes(r.range(0, 15));
      return { bytes: wsFrame({ opcode: 2, payload: b }), what: `binary frame of ${b.length} bytes (not a packet)` };
    }
  }
}

/** Raw WebSocket frames on a TCP socket after a valid upgrade: valid frames, then a frame the server must refuse. */
async function wsRaw(s: RunningServer, idx: number): Promise<Outcome> {
  const r = connRng(idx);
  const failures: string[] = [];
  const c = new RawWs();
  await c.connect(s.wsPort);
  const key = r.bytes(16).toString('base64');
  const req = `GET /sub HTTP/1.1\r\nHost: 127.0.0.1:${s.wsPort}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
  c.write(Buffer.from(req));
  const status = await c.upgraded(REPLY_WITHIN_MS);
  if (status !== 101) {
    failures.push(`ws-raw #${idx}: upgrade answered ${status}`);
    c.destroy();
    return { packets: 0, replies: 0, failures };
  }
  const frames: Buffer[] = [];
  if (r.chance(0.7)) frames.push(wsFrame({ opcode: 2, payload: encodePacket(Op.Auth, 1, goodAuthBody(r, idx)) }));
  for (let i = r.range(0, 40); i > 0; i--) {
    const k = r.int(8);
    const p = fuzzGoimPacket(r);
    if (k === 0) frames.push(wsFrame({ opcode: 9, payload: r.bytes(r.range(0, 125)) }));
    else if (k === 1) frames.push(wsFrame({ opcode: 10, payload: r.bytes(r.range(0, 125)) }));
    else if (k === 2) {
      // A valid fragmented binary message.
      const cut = r.int(p.length + 1);
      frames.push(wsFrame({ opcode: 2, fin: false, payload: p.subarray(0, cut) }), wsFrame({ opcode: 9, payload: Buffer.from('ping') }), wsFrame({ opcode: 0, payload: p.subarray(cut) }));
    } else frames.push(wsFrame({ opcode: 2, payload: p }));
  }
  const bad = badWsFrame(r);
  frames.push(bad.bytes);
  for (let i = r.range(0, 5); i > 0; i--) frames.push(wsFrame({ opcode: 2, payload: fuzzGoimPacket(r) }));
  const all = concatPackets(frames);
  // Write split at random points.
  let pos = 0;
  while (pos < all.buf.length && !c.closed) {
    const n = r.chance(0.3) ? r.range(1, 8) : r.range(8, 4000);
    c.write(all.buf.subarray(pos, pos + n));
    pos += n;
    if (r.chance(0.1)) await new Promise((res) => setImmediate(res));
  }
  const packets = countWritten(all.ends, Math.min(pos, all.buf.length));
  const ok = await c.closedOrCloseFrame(CLOSE_WITHIN_MS);
  if (!ok) failures.push(`ws-raw #${idx}: ${bad.what} (${hexHead(bad.bytes)}): no close frame and no close within ${CLOSE_WITHIN_MS} ms; input ${dump(idx, 'ws-raw', Buffer.concat([Buffer.from(req), all.buf]))}`);
  c.destroy();
  return { packets, replies: c.frames, failures };
}

class RawWs {
  socket!: net.Socket;
  closed = false;
  frames = 0;
  closeFrame = false;
  private buf = Buffer.alloc(0);
  private status = 0;
  private headerDone = false;
  private notify: Array<() => void> = [];

  async connect(port: number): Promise<void> {
    this.socket = net.connect({ host: '127.0.0.1', port });
    this.socket.on('error', () => undefined);
    this.socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
      this.wake();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    await new Promise<void>((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
  }
  private wake(): void {
    for (const n of this.notify.splice(0)) n();
  }
  private parse(): void {
    if (!this.headerDone) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const m = /^HTTP\/1\.1 (\d+)/.exec(this.buf.subarray(0, end).toString('latin1'));
      this.status = m !== null ? Number(m[1]) : -1;
      this.headerDone = true;
      this.buf = this.buf.subarray(end + 4);
    }
    for (;;) {
      if (this.buf.length < 2) return;
      let len = this.buf[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = this.buf.readUInt32BE(6);
        off = 10;
      }
      if (this.buf.length < off + len) return;
      if ((this.buf[0]! & 0x0f) === 8) this.closeFrame = true;
      this.frames++;
      this.buf = this.buf.subarray(off + len);
    }
  }
  private waitUntil(check: () => boolean, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(check()), ms);
      const loop = (): void => {
        if (check()) {
          clearTimeout(t);
          resolve(true);
        } else this.notify.push(loop);
      };
      loop();
    });
  }
  async upgraded(ms: number): Promise<number> {
    await this.waitUntil(() => this.headerDone || this.closed, ms);
    return this.status;
  }
  closedOrCloseFrame(ms: number): Promise<boolean> {
    return this.waitUntil(() => this.closed || this.closeFrame, ms);
  }
  write(b: Buffer): void {
    if (!this.closed) this.socket.write(b);
  }
  destroy(): void {
    this.socket.destroy();
  }
}

/** Bad HTTP on the WebSocket port: the server answers or closes, never hangs forever. */
async function wsBadUpgrade(s: RunningServer, idx: number): Promise<Outcome> {
  const r = connRng(idx);
  const c = new RawWs();
  await c.connect(s.wsPort);
  const key = r.bytes(16).toString('base64');
  const variants = [
    `GET /other HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    `GET /sub HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    `GET /sub HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 99\r\n\r\n`,
    `GET /sub HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    `POST /sub HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    `GET /sub HTTP/1.1\r\nHost: x\r\n\r\n`,
    `${r.ascii(r.range(1, 200), ALPHABET)}\r\n\r\n`,
    `GET /sub HTTP/1.1\r\n${'X-A: b\r\n'.repeat(r.range(1, 3000))}\r\n`,
  ];
  const text = r.pick(variants);
  const bytes = Buffer.concat([Buffer.from(text), r.chance(0.5) ? r.bytes(r.range(0, 200)) : Buffer.alloc(0)]);
  c.write(bytes);
  const answered = await c.upgraded(CLOSE_WITHIN_MS);
  const failures: string[] = [];
  if (answered === 101) failures.push(`ws-upgrade #${idx}: 101 to ${JSON.stringify(text.slice(0, 120))}`);
  if (answered === 0 && !c.closed) failures.push(`ws-upgrade #${idx}: no answer and no close within ${CLOSE_WITHIN_MS} ms to ${JSON.stringify(text.slice(0, 120))}`);
  c.destroy();
  return { packets: 1, replies: 0, failures };
}

// ---------------------------------------------------------------------------------------------
// The test

interface Guard {
  name: string;
  client: GoimClient;
  beats: number;
  maxMs: number;
  errors: string[];
  closedEarly: boolean;
}

describe('fuzz: client protocols (TCP, WebSocket, Mars)', function () {
  this.timeout(180_000);
  let s: RunningServer;
  const guards: Guard[] = [];
  let stopBeats = false;
  let beatLoops: Array<Promise<void>> = [];

  before(async () => {
    dumpDir = fs.mkdtempSync(path.join(os.tmpdir(), `ringcast-fuzz-${SEED}-`));
    console.log(`      fuzz seed ${SEED} (rerun with FUZZ_SEED=${SEED}); failing inputs go to ${dumpDir}`);
    s = await startServer({ workers: 2, mars: { port: 0 }, protocol: { handshakeTimeoutMs: HANDSHAKE_MS } });
    for (const kind of ['tcp', 'ws'] as const) {
      const client = await GoimClient.connect(kind, kind === 'tcp' ? s.tcpPort : s.wsPort);
      const reply = await client.auth({ mid: GUARD_MID, key: `fuzz-guard-${kind}-${SEED}`, room_id: GUARD_ROOM, platform: 'web', accepts: [1000] });
      assert.equal(reply.op, Op.AuthReply, `${kind} guard auth`);
      const g: Guard = { name: kind, client, beats: 0, maxMs: 0, errors: [], closedEarly: false };
      void client.closed.then(() => {
        if (!stopBeats) g.closedEarly = true;
      });
      guards.push(g);
    }
    beatLoops = guards.map(async (g) => {
      let seq = 1000;
      while (!stopBeats) {
        seq++;
        const t0 = Date.now();
        g.client.send(Op.Heartbeat, seq);
        try {
          const p = await g.client.expect(Op.HeartbeatReply, REPLY_WITHIN_MS);
          if (p.seq !== seq) g.errors.push(`heartbeat ${seq} answered with seq ${p.seq}`);
          g.beats++;
          g.maxMs = Math.max(g.maxMs, Date.now() - t0);
        } catch (err) {
          g.errors.push(`heartbeat ${seq}: ${(err as Error).message}`);
          if (g.closedEarly) return;
        }
        await new Promise((res) => setTimeout(res, 100)); // the guards' heartbeat pace while the fuzzers run
      }
    });
  });

  after(async () => {
    stopBeats = true;
    for (const g of guards) g.client.close();
    if (s !== undefined) await s.stop('SIGKILL');
    if (dumpDir !== '' && fs.readdirSync(dumpDir).length === 0) fs.rmSync(dumpDir, { recursive: true, force: true });
  });

  it(`survives ${MIN_PACKETS}+ random and mutated packets over ${MIN_CONNECTIONS}+ connections`, async () => {
    const t0 = Date.now();
    const failures: string[] = [];
    const byScenario = new Map<string, { conns: number; packets: number; replies: number }>();
    let packets = 0;
    let next = 0;
    const pickScenario = (idx: number): { name: string; run: () => Promise<Outcome> } => {
      const k = connRng(idx ^ 0x55555555).int(100);
      if (k < 30) return { name: 'tcp-auth', run: () => streamAuthenticated(s, idx, false) };
      if (k < 40) return { name: 'tcp-unauth', run: () => streamUnauthenticated(s, idx, false) };
      if (k < 60) return { name: 'ws', run: () => wsClient(s, idx) };
      if (k < 70) return { name: 'ws-raw', run: () => wsRaw(s, idx) };
      if (k < 72) return { name: 'ws-upgrade', run: () => wsBadUpgrade(s, idx) };
      if (k < 90) return { name: 'mars-auth', run: () => streamAuthenticated(s, idx, true) };
      return { name: 'mars-unauth', run: () => streamUnauthenticated(s, idx, true) };
    };
    const worker = async (): Promise<void> => {
      while (next < MIN_CONNECTIONS || packets < MIN_PACKETS) {
        const idx = next++;
        const sc = pickScenario(idx);
        let out: Outcome;
        try {
          out = await sc.run();
        } catch (err) {
          out = { packets: 0, replies: 0, failures: [`${sc.name} #${idx}: ${(err as Error).stack ?? String(err)}`] };
        }
        packets += out.packets;
        const agg = byScenario.get(sc.name) ?? { conns: 0, packets: 0, replies: 0 };
        agg.conns++;
        agg.packets += out.packets;
        agg.replies += out.replies;
        byScenario.set(sc.name, agg);
        failures.push(...out.failures);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const ms = Date.now() - t0;
    console.log(`      ${next} connections, ${packets} packets/frames sent in ${ms} ms (seed ${SEED})`);
    for (const [name, a] of [...byScenario].sort()) console.log(`        ${name.padEnd(12)} ${String(a.conns).padStart(4)} conns ${String(a.packets).padStart(7)} packets ${String(a.replies).padStart(7)} replies`);
    console.log(`      bad-auth connections: ${stats.badAuthConns}, op 6 lost to a reset while the client was still sending: ${stats.lostNotices}`);
    for (const g of guards) console.log(`      guard ${g.name}: ${g.beats} heartbeats answered, slowest ${g.maxMs} ms`);
    assert.ok(next >= MIN_CONNECTIONS && packets >= MIN_PACKETS, `sent ${packets} packets over ${next} connections`);
    assert.deepEqual(failures.slice(0, 30), [], `${failures.length} failures (seed ${SEED})`);
    // The server half-closes and keeps reading, so a rejected client always gets its op 6.
    assert.equal(stats.lostNotices, 0, `op 6 lost on ${stats.lostNotices} of ${stats.badAuthConns} rejected connections (seed ${SEED})`);
  });

  it('no worker died, the well-behaved clients were never disturbed, and the count returns to 2', async () => {
    stopBeats = true;
    await Promise.all(beatLoops);
    for (const g of guards) {
      assert.equal(g.closedEarly, false, `${g.name} guard was disconnected`);
      assert.deepEqual(g.errors, [], `${g.name} guard heartbeats (seed ${SEED})`);
      assert.ok(g.beats > 0, `${g.name} guard heartbeats`);
    }
    const health = await s.get('/health');
    assert.equal(health.status, 200);
    for (const w of health.body.workers as Array<{ state: string; restarts: number; stalled: boolean }>) {
      assert.equal(w.state, 'ready', `worker state: ${JSON.stringify(w)}`);
      assert.equal(w.restarts, 0, `worker restarts: ${JSON.stringify(w)}`);
    }
    // Still connected and answered: one more heartbeat each, then a push by mid reaches both.
    for (const g of guards) {
      g.client.send(Op.Heartbeat, 77);
      const p = await g.client.expect(Op.HeartbeatReply, REPLY_WITHIN_MS);
      assert.equal(p.seq, 77);
    }
    const res = await fetch(`http://127.0.0.1:${s.controlPort}/goim/push/mids?operation=1000&mids=${GUARD_MID}`, { method: 'POST', body: 'after-fuzz' });
    assert.equal(res.status, 200);
    const pushed = (await res.json()) as { data: { connections: number } };
    for (const g of guards) {
      const p = await g.client.expect(1000, REPLY_WITHIN_MS);
      assert.equal(p.body.toString(), 'after-fuzz', `${g.name} guard push`);
    }
    assert.equal(pushed.data.connections, 2, 'push/mids reached both guards');
    let last: unknown = null;
    await until(
      async () => {
        last = (await s.get('/goim/online/total')).body.data;
        return (last as { conn_count: number }).conn_count === 2;
      },
      15_000,
      'online total back to 2 connections',
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last ${JSON.stringify(last)}`);
    });
    const errors = s.stderr.join('').split('\n').filter((l) => /"level":(50|60)/.test(l));
    assert.deepEqual(errors.slice(0, 10), [], 'error-level log lines from the server');
    assert.equal(s.proc.exitCode, null, 'server still running');
  });
  it('default multiLogin (allow): two logins of one mid with an empty or missing platform do not kick each other', async () => {
    // config/default.json: multiLogin {default: "allow", kick: ""}. kickPlatforms() splits "" into
    // [""], which matches the empty platform, so such logins are kicked with op 6 code 4002.
    const mid = 5_550_001;
    const [keyA, keyB] = [`ml-a-${SEED}`, `ml-b-${SEED}`];
    // What the router shard of this mid holds (GET /sessions asks it): a kick removes the kicked
    // login's entry there while it registers the new one.
    const registered = async (): Promise<string[]> => ((await s.get(`/sessions?mid=${mid}`)).body.data.sessions as Array<{ key: string }>).map((x) => x.key).sort();
    const a = await GoimClient.connect('tcp', s.tcpPort);
    const b = await GoimClient.connect('tcp', s.tcpPort);
    try {
      assert.equal((await a.auth({ mid, key: keyA, platform: '' })).op, Op.AuthReply);
      await until(async () => (await registered()).includes(keyA), 5000, 'the first login registered with the router shard');
      assert.equal((await b.auth({ mid, key: keyB })).op, Op.AuthReply);
      await until(async () => (await registered()).includes(keyB), 5000, 'the second login registered with the router shard');
      assert.deepEqual(await registered(), [keyA, keyB].sort(), 'the second login did not replace the first');
      a.send(Op.Heartbeat, 9);
      const p = await a.next(REPLY_WITHIN_MS);
      assert.ok(p !== null, 'first login closed');
      assert.equal(p.op, Op.HeartbeatReply, `first login got op ${p.op} ${p.body.toString()} instead of a heartbeat reply`);
    } finally {
      a.close();
      b.close();
    }
  });
});
