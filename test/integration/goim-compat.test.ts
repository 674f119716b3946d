/**
 * goim's own clients against ringcast, emulated byte for byte (from reading goim v2's
 * examples/javascript/client.js and benchmarks/client/main.go; no code copied).
 *
 * JS demo client (browser WebSocket, binaryType 'arraybuffer', binary frames):
 *   - on open: auth, ver 1, op 7, seq 1, body exactly
 *     `{"mid":123, "room_id":"live://1000", "platform":"web", "accepts":[1000,1001,1002]}`
 *     (a hand-written string: spaces after the commas, no "key").
 *   - every message goes through `new DataView(evt.data)`: a text frame would arrive as a string and
 *     throw, so replies must be binary. It reads packetLen, headerLen, ver, op, seq and switches on op:
 *       8  → heartbeat at once, then every 30 s: 16 bytes, ver 1, op 2, seq 1 (always seq 1), no body;
 *       3  → only logged (the online count in the body is not read);
 *       9  → walks the inner packets from offset 16 by each inner packetLen, body = bytes
 *            [offset+headerLen, offset+packetLen) decoded as UTF-8;
 *       else → body = bytes [headerLen, packetLen) of the frame, as a message.
 *
 * Go benchmark client (TCP, bufio, big-endian):
 *   - auth: uint32 packLen, uint16 16, int16 ver 1, int32 op 7, int32 seq 0, body json.Marshal of
 *     {mid, key "", room_id "test://1", platform "ios", accepts [1000,1001,1002]} (struct field order).
 *   - reads ONE packet (whatever its op) as the auth reply: 16 header bytes field by field, then
 *     packLen - headerLen body bytes. No read deadline until the first op 3.
 *   - heartbeats from a fresh Proto: ver 0 (never set), op 2, seq 1, 2, 3, ... every 240 s, no body.
 *   - reader: op 8 logged, op 3 → read deadline now + 300 s, any other op counted as one pushed message.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { WebSocket } from 'ws';
import { startServer, until, type RunningServer } from '../helpers/server.js';
import { sleep } from '../helpers/wait.js';

// ---- a small async queue ----

class Queue<T> {
  private items: T[] = [];
  private waiters: Array<(v: T | null) => void> = [];
  private ended = false;
  push(v: T): void {
    const w = this.waiters.shift();
    if (w !== undefined) w(v);
    else this.items.push(v);
  }
  end(): void {
    this.ended = true;
    for (const w of this.waiters.splice(0)) w(null);
  }
  get size(): number {
    return this.items.length;
  }
  /** The next item; rejects after `ms`, or when the source ended with nothing queued. */
  next(ms: number, what: string): Promise<T> {
    const v = this.items.shift();
    if (v !== undefined) return Promise.resolve(v);
    if (this.ended) return Promise.reject(new Error(`connection closed while waiting for ${what}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      }, ms);
      const waiter = (x: T | null): void => {
        clearTimeout(timer);
        if (x === null) reject(new Error(`connection closed while waiting for ${what}`));
        else resolve(x);
      };
      this.waiters.push(waiter);
    });
  }
}

// ---- the JS demo client (examples/javascript/client.js) ----

const RAW_HEADER_LEN = 16;
const PACKET_OFFSET = 0;
const HEADER_OFFSET = 4;
const VER_OFFSET = 6;
const OP_OFFSET = 8;
const SEQ_OFFSET = 12;

/** The demo's token, character for character. */
const JS_TOKEN = '{"mid":123, "room_id":"live://1000", "platform":"web", "accepts":[1000,1001,1002]}';

interface JsFrame {
  data: ArrayBuffer;
  isBinary: boolean;
}

/** What the demo's onmessage does with one frame. */
interface JsParsed {
  packetLen: number;
  headerLen: number;
  ver: number;
  op: number;
  seq: number;
  /** 'auth' (op 8), 'heartbeat' (op 3) or 'messages' (op 9 batch or any other op). */
  kind: 'auth' | 'heartbeat' | 'messages';
  /** The (ver, op, seq, body) the demo hands to messageReceived/appendMsg. */
  messages: Array<{ ver: number; op: number; seq: number; body: string }>;
}

function jsOnMessage(frame: JsFrame): JsParsed {
  // A browser delivers a text frame as a string: `new DataView(string)` throws a TypeError.
  if (!frame.isBinary) throw new TypeError('text frame: the demo client does new DataView(evt.data) on a string and throws');
  const data = frame.data;
  const view = new DataView(data, 0);
  const packetLen = view.getInt32(PACKET_OFFSET);
  const headerLen = view.getInt16(HEADER_OFFSET);
  const ver = view.getInt16(VER_OFFSET);
  const op = view.getInt32(OP_OFFSET);
  const seq = view.getInt32(SEQ_OFFSET);
  const td = new TextDecoder();
  const out: JsParsed = { packetLen, headerLen, ver, op, seq, kind: 'messages', messages: [] };
  switch (op) {
    case 8:
      out.kind = 'auth';
      break;
    case 3:
      out.kind = 'heartbeat';
      break;
    case 9: {
      let step = packetLen; // the demo reuses its hoisted `var packetLen` as the loop step
      for (let offset = RAW_HEADER_LEN; offset < data.byteLength; offset += step) {
        step = view.getInt32(offset);
        const hl = view.getInt16(offset + HEADER_OFFSET);
        out.messages.push({
          ver: view.getInt16(offset + VER_OFFSET),
          op: view.getInt32(offset + OP_OFFSET),
          seq: view.getInt32(offset + SEQ_OFFSET),
          body: td.decode(data.slice(offset + hl, offset + step)),
        });
        if (step <= 0) throw new Error(`inner packetLen ${step} at offset ${offset}: the demo would loop forever`);
      }
      break;
    }
    default:
      out.messages.push({ ver, op, seq, body: td.decode(data.slice(headerLen, packetLen)) });
  }
  return out;
}

class JsDemoClient {
  readonly frames = new Queue<JsFrame>();
  private constructor(readonly ws: WebSocket) {}

  static async open(port: number): Promise<JsDemoClient> {
    // A browser page served by examples/javascript/main.go (:1999) sends this Origin.
    const ws = new WebSocket(`ws://127.0.0.1:${port}/sub`, { origin: 'http://127.0.0.1:1999' });
    ws.binaryType = 'arraybuffer';
    const c = new JsDemoClient(ws);
    ws.on('message', (data: ArrayBuffer, isBinary: boolean) => c.frames.push({ data, isBinary }));
    ws.on('close', () => c.frames.end());
    ws.on('error', () => undefined);
    await once(ws, 'open');
    return c;
  }

  /** auth(): a 16-byte header then the token, merged into one ArrayBuffer, sent as one binary frame. */
  auth(): Uint8Array {
    const body = new TextEncoder().encode(JS_TOKEN);
    const header = new ArrayBuffer(RAW_HEADER_LEN);
    const hv = new DataView(header, 0);
    hv.setInt32(PACKET_OFFSET, RAW_HEADER_LEN + body.byteLength);
    hv.setInt16(HEADER_OFFSET, RAW_HEADER_LEN);
    hv.setInt16(VER_OFFSET, 1);
    hv.setInt32(OP_OFFSET, 7);
    hv.setInt32(SEQ_OFFSET, 1);
    const merged = new Uint8Array(RAW_HEADER_LEN + body.byteLength);
    merged.set(new Uint8Array(header), 0);
    merged.set(body, RAW_HEADER_LEN);
    this.ws.send(merged.buffer); // an ArrayBuffer: a binary frame, as in a browser
    return merged;
  }

  /** heartbeat(): 16 bytes, ver 1, op 2, seq 1, every time. */
  heartbeat(): Uint8Array {
    const header = new ArrayBuffer(RAW_HEADER_LEN);
    const hv = new DataView(header, 0);
    hv.setInt32(PACKET_OFFSET, RAW_HEADER_LEN);
    hv.setInt16(HEADER_OFFSET, RAW_HEADER_LEN);
    hv.setInt16(VER_OFFSET, 1);
    hv.setInt32(OP_OFFSET, 2);
    hv.setInt32(SEQ_OFFSET, 1);
    this.ws.send(header);
    return new Uint8Array(header);
  }

  async next(what: string, ms = 5000): Promise<{ frame: JsFrame; parsed: JsParsed }> {
    const frame = await this.frames.next(ms, what);
    return { frame, parsed: jsOnMessage(frame) };
  }

  close(): void {
    this.ws.terminate();
  }
}

// ---- the Go benchmark client (benchmarks/client/main.go) ----

interface GoProto {
  packLen: number;
  headerLen: number;
  ver: number;
  op: number;
  seq: number;
  body: Buffer | null;
}

class GoBenchClient {
  private chunks: Buffer[] = [];
  private have = 0;
  private wake: (() => void) | null = null;
  private ended = false;
  seq = 0;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.have += d.length;
      this.wake?.();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake?.();
    });
    socket.on('error', () => undefined);
  }

  static async dial(port: number): Promise<GoBenchClient> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await once(socket, 'connect');
    return new GoBenchClient(socket);
  }

  get buffered(): number {
    return this.have;
  }

  /** io.ReadFull through bufio: exactly n bytes, or an error on EOF / after `ms`. */
  async readFull(n: number, ms: number): Promise<Buffer> {
    const deadline = Date.now() + ms;
    while (this.have < n) {
      if (this.ended) throw new Error(`EOF after ${this.have} of ${n} bytes`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`read timeout: ${this.have} of ${n} bytes after ${ms} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          this.wake = null;
          resolve();
        };
      });
    }
    const all = Buffer.concat(this.chunks);
    this.chunks = all.length > n ? [all.subarray(n)] : [];
    this.have -= n;
    return all.subarray(0, n);
  }

  /** tcpWriteProto: the fields one binary.Write at a time into a bufio.Writer, then one Flush. */
  writeProto(ver: number, op: number, seq: number, body: Buffer | null): Buffer {
    const out = Buffer.alloc(16 + (body?.length ?? 0));
    out.writeUInt32BE(16 + (body?.length ?? 0), 0); // uint32(rawHeaderLen) + uint32(len(body))
    out.writeUInt16BE(16, 4); // rawHeaderLen, uint16
    out.writeInt16BE(ver, 6);
    out.writeInt32BE(op, 8);
    out.writeInt32BE(seq, 12);
    if (body !== null) body.copy(out, 16);
    this.socket.write(out);
    return out;
  }

  /** tcpReadProto: int32 packLen, int16 headerLen, int16 ver, int32 op, int32 seq, then packLen-headerLen bytes. */
  async readProto(ms = 5000): Promise<GoProto> {
    const packLen = (await this.readFull(4, ms)).readInt32BE(0);
    const headerLen = (await this.readFull(2, ms)).readInt16BE(0);
    const ver = (await this.readFull(2, ms)).readInt16BE(0);
    const op = (await this.readFull(4, ms)).readInt32BE(0);
    const seq = (await this.readFull(4, ms)).readInt32BE(0);
    const bodyLen = packLen - headerLen;
    const body = bodyLen > 0 ? Buffer.from(await this.readFull(bodyLen, ms)) : null;
    return { packLen, headerLen, ver, op, seq, body };
  }

  /** startClient's auth: ver 1, op 7, seq 0, json.Marshal(AuthToken{mid, "", "test://1", "ios", [1000,1001,1002]}). */
  auth(mid: number): Buffer {
    const token = `{"mid":${mid},"key":"","room_id":"test://1","platform":"ios","accepts":[1000,1001,1002]}`;
    assert.equal(token, JSON.stringify({ mid, key: '', room_id: 'test://1', platform: 'ios', accepts: [1000, 1001, 1002] }));
    return this.writeProto(1, 7, this.seq, Buffer.from(token));
  }

  /** The writer goroutine's heartbeat: hbProto := new(Proto), so ver stays 0; body nil. */
  heartbeat(): Buffer {
    return this.writeProto(0, 2, this.seq, null);
  }

  close(): void {
    this.socket.destroy();
  }
}

// ---- push routes (goim logic's HTTP API) ----

async function goimPush(server: RunningServer, pathAndQuery: string, body: string): Promise<{ status: number; json: any }> {
  const res = await fetch(`http://127.0.0.1:${server.controlPort}${pathAndQuery}`, { method: 'POST', body });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json };
}

// ---- tests ----

describe("goim's own clients, emulated byte for byte", function () {
  this.timeout(30_000);
  let server: RunningServer;
  const open: Array<{ close(): void }> = [];

  before(async () => {
    server = await startServer({ workers: 2 });
  });
  after(async () => {
    for (const c of open.splice(0)) c.close();
    await server?.stop('SIGKILL');
  });
  afterEach(() => {
    for (const c of open.splice(0)) c.close();
  });

  describe('examples/javascript/client.js over WebSocket', () => {
    it('sends exactly the demo bytes: auth ver 1 op 7 seq 1 with the hand-written token', async () => {
      const c = await JsDemoClient.open(server.wsPort);
      open.push(c);
      const sent = c.auth();
      const expected = Buffer.concat([
        Buffer.from([0, 0, 0, 16 + JS_TOKEN.length, 0, 16, 0, 1, 0, 0, 0, 7, 0, 0, 0, 1]),
        Buffer.from(JS_TOKEN, 'utf8'),
      ]);
      assert.deepEqual(Buffer.from(sent), expected);
      assert.equal(JS_TOKEN.length, 82); // one byte per char: ASCII only
      await c.next('op 8');
    });

    it('gets op 8 as one binary frame echoing ver 1 and seq 1, heartbeats, and gets op 3 (packetLen 20, 4-byte online count)', async () => {
      const c = await JsDemoClient.open(server.wsPort);
      open.push(c);
      c.auth();
      const auth = await c.next('op 8 (auth reply)');
      assert.equal(auth.frame.isBinary, true, 'auth reply must be a binary frame');
      assert.equal(auth.parsed.kind, 'auth');
      // goim: p.Op = OpAuthReply; p.Body = nil; WriteWebsocket → ver and seq echoed, no body.
      assert.deepEqual(
        { byteLength: auth.frame.data.byteLength, packetLen: auth.parsed.packetLen, headerLen: auth.parsed.headerLen, ver: auth.parsed.ver, op: auth.parsed.op, seq: auth.parsed.seq },
        { byteLength: 16, packetLen: 16, headerLen: 16, ver: 1, op: 8, seq: 1 },
      );

      // case 8: heartbeat() at once (then every 30 s; the server's idle timeout is 8 min).
      const hbSent = c.heartbeat();
      assert.deepEqual(Buffer.from(hbSent), Buffer.from([0, 0, 0, 16, 0, 16, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1]));
      const hb = await c.next('op 3 (heartbeat reply)');
      assert.equal(hb.frame.isBinary, true, 'heartbeat reply must be a binary frame');
      assert.equal(hb.parsed.kind, 'heartbeat');
      assert.deepEqual(
        { byteLength: hb.frame.data.byteLength, packetLen: hb.parsed.packetLen, headerLen: hb.parsed.headerLen, ver: hb.parsed.ver, op: hb.parsed.op, seq: hb.parsed.seq },
        { byteLength: 20, packetLen: 20, headerLen: 16, ver: 1, op: 3, seq: 1 },
      );
      // The demo only logs op 3; the body is goim's room online count (int32 BE), >= 1: this
      // connection is in live://1000 (goim: AllOnline, else the comet's own count).
      const online = new DataView(hb.frame.data).getInt32(16);
      assert.ok(online >= 1, `online count in the op-3 body: ${online}`);

      // The next interval tick: same bytes (seq stays 1), same reply.
      c.heartbeat();
      const hb2 = await c.next('second op 3');
      assert.deepEqual([hb2.parsed.op, hb2.parsed.seq, hb2.parsed.ver, hb2.frame.data.byteLength], [3, 1, 1, 20]);

      // Nothing else arrives: any other frame would reach the demo's notify() as a message. (A fixed
      // window on purpose: what is checked is that nothing comes in it, there is no state to wait for.)
      await sleep(300);
      assert.equal(c.frames.size, 0, 'no unsolicited frames');
      assert.equal(c.ws.readyState, WebSocket.OPEN);
    });

    it('several demo tabs at once (same mid 123, no key) all stay connected and heartbeat', async () => {
      const tabs = await Promise.all(Array.from({ length: 4 }, () => JsDemoClient.open(server.wsPort)));
      open.push(...tabs);
      for (const t of tabs) t.auth();
      for (const t of tabs) assert.equal((await t.next('op 8')).parsed.op, 8);
      for (const t of tabs) t.heartbeat();
      for (const t of tabs) {
        const hb = await t.next('op 3');
        assert.equal(hb.parsed.op, 3);
        assert.ok(new DataView(hb.frame.data).getInt32(16) >= 1);
      }
      assert.ok(tabs.every((t) => t.ws.readyState === WebSocket.OPEN));
    });

    it('receives a room push as goim sends it: one op-9 frame (ver 1, seq 0) walked from offset 16 into {"test":1} with op 1000', async function () {
      const c = await JsDemoClient.open(server.wsPort);
      open.push(c);
      c.auth();
      await c.next('op 8');
      const res = await goimPush(server, '/goim/push/room?operation=1000&type=live&room=1000', '{"test":1}');
      assert.equal(res.status, 200);
      assert.equal(res.json.code, 0);
      const push = await c.next('op 9 push', 5000);
      assert.equal(push.frame.isBinary, true);
      assert.equal(push.parsed.kind, 'messages');
      assert.deepEqual([push.parsed.op, push.parsed.ver, push.parsed.seq], [9, 1, 0]);
      assert.equal(push.parsed.packetLen, push.frame.data.byteLength);
      assert.deepEqual(push.parsed.messages, [{ ver: 1, op: 1000, seq: 0, body: '{"test":1}' }]);
    });

    it('receives a push to mid 123 as an op-9 frame too', async function () {
      const c = await JsDemoClient.open(server.wsPort);
      open.push(c);
      c.auth();
      await c.next('op 8');
      const res = await goimPush(server, '/goim/push/mids?operation=1000&mids=123', 'hello 123');
      assert.equal(res.json.code, 0);
      const push = await c.next('op 9 push', 5000);
      assert.deepEqual([push.parsed.op, push.parsed.ver, push.parsed.seq], [9, 1, 0]);
      assert.deepEqual(push.parsed.messages, [{ ver: 1, op: 1000, seq: 0, body: 'hello 123' }]);
    });
  });

  describe('benchmarks/client/main.go over TCP', () => {
    it('auth (ver 1, seq 0, test://1, ios): the one packet read back is op 8 with packLen 16, ver 1, seq 0, no body', async () => {
      const c = await GoBenchClient.dial(server.tcpPort);
      open.push(c);
      const sent = c.auth(1);
      const token = '{"mid":1,"key":"","room_id":"test://1","platform":"ios","accepts":[1000,1001,1002]}';
      assert.deepEqual(sent, Buffer.concat([Buffer.from([0, 0, 0, 16 + token.length, 0, 16, 0, 1, 0, 0, 0, 7, 0, 0, 0, 0]), Buffer.from(token)]));
      const reply = await c.readProto();
      assert.deepEqual(reply, { packLen: 16, headerLen: 16, ver: 1, op: 8, seq: 0, body: null });
    });

    it('heartbeats with ver 0 and seq 1, 2, 3: each op 3 echoes ver 0 and the seq, packLen 20, a 4-byte body; nothing else is sent', async () => {
      const c = await GoBenchClient.dial(server.tcpPort);
      open.push(c);
      c.auth(2);
      assert.equal((await c.readProto()).op, 8);
      c.seq++; // seq++ after the auth reply
      for (let i = 0; i < 3; i++) {
        const sent = c.heartbeat();
        assert.deepEqual(sent, Buffer.from([0, 0, 0, 16, 0, 16, 0, 0, 0, 0, 0, 2, 0, 0, 0, c.seq]));
        const reply = await c.readProto();
        // The reader sets a 300 s read deadline on op 3; any other op would be counted as a push.
        assert.equal(reply.op, 3, `heartbeat reply op (seq ${c.seq})`);
        assert.deepEqual({ packLen: reply.packLen, headerLen: reply.headerLen, ver: reply.ver, seq: reply.seq, bodyLen: reply.body?.length ?? 0 }, { packLen: 20, headerLen: 16, ver: 0, seq: c.seq, bodyLen: 4 });
        assert.ok(reply.body!.readInt32BE(0) >= 1, `online count of test://1: ${reply.body!.readInt32BE(0)}`);
        c.seq++; // after the 240 s sleep
      }
      await sleep(300); // a window in which nothing may arrive: the wait is the check
      assert.equal(c.buffered, 0, 'no unsolicited bytes (the client would count them as pushed messages)');
      assert.equal(c.socket.destroyed, false);
    });

    it('100 benchmark clients (mids 1..100, one room) all authenticate and heartbeat across both workers', async () => {
      const clients = await Promise.all(Array.from({ length: 100 }, () => GoBenchClient.dial(server.tcpPort)));
      open.push(...clients);
      clients.forEach((c, i) => c.auth(1 + i));
      const replies = await Promise.all(clients.map((c) => c.readProto()));
      assert.ok(replies.every((r) => r.op === 8 && r.seq === 0 && r.packLen === 16));
      for (const c of clients) {
        c.seq++;
        c.heartbeat();
      }
      const hbs = await Promise.all(clients.map((c) => c.readProto()));
      assert.ok(hbs.every((r) => r.op === 3 && r.seq === 1 && r.ver === 0 && r.packLen === 20), JSON.stringify(hbs.find((r) => r.op !== 3 || r.seq !== 1)));
      const counts = hbs.map((r) => r.body!.readInt32BE(0));
      assert.ok(counts.every((n) => n >= 1 && n <= 100), `online counts ${counts}`);
      const health = (await server.get('/health')).body;
      assert.ok(health.workers.every((w: { connections: number }) => w.connections > 0), `both workers hold connections: ${JSON.stringify(health.workers.map((w: { connections: number }) => w.connections))}`);
      // goim sums room counts across comets; ringcast sums across workers every rooms.countIntervalMs.
      await until(async () => {
        for (const c of clients.slice(0, 5)) c.heartbeat();
        const r = await Promise.all(clients.slice(0, 5).map((c) => c.readProto()));
        return r.every((p) => p.op === 3 && p.body!.readInt32BE(0) === 100);
      }, 10_000, 'heartbeat replies to report 100 online in test://1');
    });

    it('reconnects with the same mid (a new random key each time): the new session works', async () => {
      const first = await GoBenchClient.dial(server.tcpPort);
      open.push(first);
      first.auth(777);
      assert.equal((await first.readProto()).op, 8);
      first.close();
      const again = await GoBenchClient.dial(server.tcpPort);
      open.push(again);
      again.auth(777);
      assert.equal((await again.readProto()).op, 8);
      again.seq++;
      again.heartbeat();
      const hb = await again.readProto();
      assert.deepEqual([hb.op, hb.seq, hb.ver, hb.packLen], [3, 1, 0, 20]);
    });

    it('receives a room push to test://1 as a plain packet (op 1000, ver 1, seq 0), never op 9', async function () {
      const c = await GoBenchClient.dial(server.tcpPort);
      open.push(c);
      c.auth(5);
      assert.equal((await c.readProto()).op, 8);
      const res = await goimPush(server, '/goim/push/room?operation=1000&type=test&room=1', '{"test":1}');
      assert.equal(res.json.code, 0);
      const p = await c.readProto();
      assert.deepEqual({ ...p, body: p.body?.toString() }, { packLen: 26, headerLen: 16, ver: 1, op: 1000, seq: 0, body: '{"test":1}' });
    });

    it('receives a push by mid (benchmarks/push body) as a plain op-1000 packet', async function () {
      const c = await GoBenchClient.dial(server.tcpPort);
      open.push(c);
      c.auth(6);
      assert.equal((await c.readProto()).op, 8);
      const body = '{"m":{"test":1},"u":6}';
      const res = await goimPush(server, '/goim/push/mids?operation=1000&mids=6', body);
      assert.equal(res.json.code, 0);
      const p = await c.readProto();
      assert.deepEqual({ ...p, body: p.body?.toString() }, { packLen: 16 + body.length, headerLen: 16, ver: 1, op: 1000, seq: 0, body });
    });
  });

  describe('other goim session behaviour on the same wire', () => {
    it('an unknown op is echoed with its ver and seq and no body (goim Operate default)', async () => {
      const c = await GoBenchClient.dial(server.tcpPort);
      open.push(c);
      c.auth(9);
      await c.readProto();
      c.writeProto(1, 50, 42, Buffer.from('ignored'));
      assert.deepEqual(await c.readProto(), { packLen: 16, headerLen: 16, ver: 1, op: 50, seq: 42, body: null });
    });

    it('op 12 / 14 / 16 replies (13 / 15 / 17) echo the body and seq', async () => {
      const c = await JsDemoClient.open(server.wsPort);
      open.push(c);
      c.auth();
      await c.next('op 8');
      const send = (op: number, seq: number, body: string): void => {
        const b = Buffer.from(body);
        const out = Buffer.alloc(16 + b.length);
        out.writeInt32BE(16 + b.length, 0);
        out.writeInt16BE(16, 4);
        out.writeInt16BE(1, 6);
        out.writeInt32BE(op, 8);
        out.writeInt32BE(seq, 12);
        b.copy(out, 16);
        c.ws.send(out);
      };
      for (const [op, body] of [[12, 'live://1001'], [14, '1003,1004'], [16, '1003']] as const) {
        send(op, 7, body);
        const r = await c.next(`op ${op + 1}`);
        // The demo has no case for these: its default branch hands the echoed body to notify().
        assert.deepEqual({ op: r.parsed.op, seq: r.parsed.seq, ver: r.parsed.ver, messages: r.parsed.messages }, { op: op + 1, seq: 7, ver: 1, messages: [{ ver: 1, op: op + 1, seq: 7, body }] });
      }
    });
  });
});
