/**
 * src/protocols/ws-receive.ts against ws's own parsing, over a real local connection: every message
 * once and in order whichever path takes it; whole binary frames in one read taken by the fast path,
 * several to a read, and a frame split across reads left to ws; ws's refusals (unmasked, too large)
 * unchanged.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { installFastReceive } from '../../src/protocols/ws-receive.js';
import { until } from '../helpers/wait.js';

interface Seen {
  path: 'fast' | 'ws';
  data: string;
}

/** A server whose connections record each message and which path delivered it. */
async function server(maxPayload = 100_000): Promise<{ port: number; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const wss = new WebSocketServer({ noServer: true, clientTracking: false, maxPayload, perMessageDeflate: false });
  const srv = http.createServer();
  srv.on('upgrade', (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws) => {
      installFastReceive(ws, function (this: WebSocket, data: Buffer) {
        assert.equal(this, ws);
        seen.push({ path: 'fast', data: data.toString('hex') });
      });
      ws.on('message', (data: Buffer) => seen.push({ path: 'ws', data: data.toString('hex') }));
      ws.on('error', () => undefined);
    }),
  );
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    port: (srv.address() as AddressInfo).port,
    seen,
    close: () => new Promise((resolve) => srv.close(() => resolve())),
  };
}

/** A client frame: FIN + opcode, masked with a random key. */
function frame(opcode: number, payload: Buffer, opts: { fin?: boolean; masked?: boolean } = {}): Buffer {
  const masked = opts.masked ?? true;
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0, len]) : len < 65536 ? Buffer.from([0, 126, len >> 8, len & 255]) : Buffer.concat([Buffer.from([0, 127]), Buffer.from([0, 0, 0, 0, len >>> 24, (len >> 16) & 255, (len >> 8) & 255, len & 255])]);
  head[0] = ((opts.fin ?? true) ? 0x80 : 0) | opcode;
  if (!masked) return Buffer.concat([head, payload]);
  head[1]! |= 0x80;
  const key = crypto.randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= key[i & 3]!;
  return Buffer.concat([head, key, body]);
}

/** A raw TCP connection upgraded to WebSocket by hand. */
async function rawClient(port: number): Promise<net.Socket> {
  const sock = net.connect(port, '127.0.0.1');
  await once(sock, 'connect');
  sock.write(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  const [reply] = (await once(sock, 'data')) as [Buffer];
  assert.match(reply.toString(), /^HTTP\/1\.1 101/);
  return sock;
}

const hex = (b: Buffer | string): string => Buffer.from(b).toString('hex');

describe('ws receive fast path (src/protocols/ws-receive)', () => {
  it('every message arrives once, whole and in the order sent, whichever path takes it; text and fragments go to ws', async () => {
    const s = await server();
    const c = new WebSocket(`ws://127.0.0.1:${s.port}/`);
    await once(c, 'open');
    try {
      // How the client's writes are cut into reads is the kernel's: a big frame split across reads,
      // or a small one behind a control frame in the same read, goes to ws; the order holds either way.
      const bodies = [0, 1, 16, 125, 126, 1000, 65535, 65536, 70000].map((n) => crypto.randomBytes(n));
      for (const b of bodies) c.send(b);
      c.send('text goes to ws');
      c.send(Buffer.from('frag-'), { fin: false });
      c.send(Buffer.from('mented'), { fin: true });
      c.ping();
      c.send(Buffer.from('after'));
      await until(() => s.seen.length === bodies.length + 3, 5000, 'every message');
      assert.deepEqual(s.seen.map((x) => x.data), [...bodies.map(hex), hex('text goes to ws'), hex('frag-mented'), hex('after')]);
      assert.deepEqual(s.seen.slice(bodies.length, bodies.length + 2).map((x) => x.path), ['ws', 'ws']);
      assert.equal(s.seen.find((x) => x.data === hex(bodies[8]!))!.path, 'ws', 'a 64-bit length goes to ws');
    } finally {
      c.close();
      await s.close();
    }
  });

  it('several frames in one read and a frame split across reads arrive whole and in order', async () => {
    const s = await server();
    const sock = await rawClient(s.port);
    try {
      const parts = ['one', 'two'.repeat(100), 'three', 'four'].map((t) => frame(2, Buffer.from(t))); // 'two' × 100: a 16-bit length
      const fourth = parts[3]!;
      sock.write(Buffer.concat([parts[0]!, parts[1]!, parts[2]!, fourth.subarray(0, 3)]));
      await until(() => s.seen.length === 3, 5000, 'the three whole frames');
      // The rest of the split frame, and a whole one behind it in the same read: ws holds the first
      // part, so it takes this read whole; the next read is between frames again.
      sock.write(Buffer.concat([fourth.subarray(3), frame(2, Buffer.from('five'))]));
      await until(() => s.seen.length === 5, 5000, 'the split frame and the next');
      sock.write(frame(2, Buffer.from('six')));
      await until(() => s.seen.length === 6, 5000, 'the frame after');
      assert.deepEqual(
        s.seen.map((x) => [x.path, Buffer.from(x.data, 'hex').toString()]),
        [['fast', 'one'], ['fast', 'two'.repeat(100)], ['fast', 'three'], ['ws', 'four'], ['ws', 'five'], ['fast', 'six']],
      );
    } finally {
      sock.destroy();
      await s.close();
    }
  });

  it("ws's refusals stand: an unmasked frame gets close 1002, a frame over maxPayload close 1009", async () => {
    const s = await server(64);
    /** The code of the close frame the server sends back (server frames are unmasked). */
    const closeCode = async (bad: Buffer): Promise<number> => {
      const sock = await rawClient(s.port);
      let got = Buffer.alloc(0);
      sock.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
      sock.write(bad);
      await until(() => got.length >= 4 && got[0] === 0x88, 5000, 'a close frame');
      sock.destroy();
      return got.readUInt16BE(2);
    };
    try {
      assert.equal(await closeCode(frame(2, Buffer.from('unmasked'), { masked: false })), 1002);
      assert.equal(await closeCode(frame(2, crypto.randomBytes(65))), 1009);
      assert.equal(s.seen.length, 0);
    } finally {
      await s.close();
    }
  });
});
