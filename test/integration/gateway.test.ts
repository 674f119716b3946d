import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { SignJWT } from 'jose';
import { encodePacket, Op } from '../../src/codec.js';
import { decodeReply, encodeRequest } from '../../src/upstream/index.js';
import { GoimClient, type Kind } from '../helpers/goim-client.js';
import { startServer, until, type RunningServer } from '../helpers/server.js';

const DEMO_AUTH = { mid: 123, room_id: 'live://1000', platform: 'web', accepts: [1000, 1001, 1002] };

function listen(handler: http.RequestListener): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer(handler);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}` })));
}

function portOf(s: RunningServer, kind: Kind): number {
  return kind === 'ws' ? s.wsPort : kind === 'tcp' ? s.tcpPort : s.marsPort;
}

describe('gateway: goim session over TCP, WebSocket and Mars', function () {
  this.timeout(30_000);
  let s: RunningServer;
  const clients: GoimClient[] = [];
  const open = async (kind: Kind): Promise<GoimClient> => {
    const c = await GoimClient.connect(kind, portOf(s, kind));
    clients.push(c);
    return c;
  };

  before(async () => {
    s = await startServer({
      workers: 2,
      mars: { port: 0 },
      protocol: { handshakeTimeoutMs: 400, heartbeatTimeoutMs: 1500, timerTickMs: 50 },
      rooms: { maxPerConnection: 3, countIntervalMs: 100 },
      multiLogin: { kick: 'ios' },
    });
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  after(async () => {
    await s.stop('SIGKILL');
  });

  for (const kind of ['tcp', 'ws', 'mars'] as const) {
    it(`${kind}: authenticates (op 8 echoing seq), heartbeats (op 3), echoes unknown ops`, async () => {
      const c = await open(kind);
      const reply = await c.auth({ ...DEMO_AUTH, mid: 7001 }, 41);
      assert.equal(reply.op, Op.AuthReply);
      assert.equal(reply.seq, 41);
      assert.equal(reply.body.length, 0);
      const count = await c.heartbeat(42);
      // A Mars noop reply has an empty body, as Mars expects; goim's op 3 carries the room count.
      if (kind === 'mars') assert.equal(count, -1);
      else assert.ok(count >= 1, `room count ${count}`);
      c.send(1000, 43, 'hello');
      const echo = await c.expect(1000);
      assert.equal(echo.seq, 43);
      assert.equal(echo.body.length, 0);
      // Registration travels through the rings: it lands shortly after the auth reply.
      await until(async () => (await s.get('/debug/router?mid=7001')).body.data.entries.length === 1, 3000, 'the router entry');
      const router = (await s.get('/debug/router?mid=7001')).body.data.entries;
      assert.equal(router[0].platform, 'web');
    });
  }

  it('mars: a noop (cmdid 6, seq 0xFFFFFFFF) is answered with a noop', async () => {
    const c = await open('mars');
    await c.auth(DEMO_AUTH);
    c.send(Op.Heartbeat, 0);
    const p = await c.expect(Op.HeartbeatReply);
    assert.equal(p.cmdid, 6);
    assert.equal(p.seq, -1); // 0xFFFFFFFF
  });

  it('ws: text frames are accepted as goim does', async () => {
    const c = await open('ws');
    (c as unknown as { ws: { send(d: string): void } }).ws.send(encodePacket(Op.Auth, 5, Buffer.from(JSON.stringify(DEMO_AUTH))).toString('latin1'));
    const p = await c.next();
    // latin1 round-trips ASCII bytes, and the JSON body is ASCII
    assert.equal(p?.op, Op.AuthReply);
  });

  it('closes a connection whose first packet is not auth, and one that does not authenticate in time', async () => {
    const a = await open('tcp');
    a.send(Op.Heartbeat, 1);
    // Told why first (op 6, code 400 from the disconnect table), as every other refusal.
    const notice = await a.next();
    assert.equal(notice?.op, Op.DisconnectReply);
    assert.deepEqual(JSON.parse(notice!.body.toString()), { code: 400, reason: 'first packet must be auth (op 7), got op 2' });
    assert.equal(await a.next(), null);
    const b = await open('ws');
    const t0 = Date.now();
    await b.closed;
    const waited = Date.now() - t0;
    assert.ok(waited >= 350 && waited < 3000, `closed after ${waited} ms`);
  });

  it('rejects a bad auth body with op 6 {code, reason} and closes', async () => {
    const c = await open('tcp');
    const p = await c.auth('{not json', 9);
    assert.equal(p.op, Op.DisconnectReply);
    assert.equal(p.seq, 9);
    assert.equal(JSON.parse(p.body.toString()).code, 400);
    await c.closed;
  });

  it('closes only the offending connection on oversized, bad headerLen or short packLen', async () => {
    const good = await open('tcp');
    await good.auth(DEMO_AUTH);
    const bad: Array<[string, Buffer]> = [];
    const big = Buffer.alloc(16);
    big.writeInt32BE(16 + 4097, 0);
    big.writeInt16BE(16, 4);
    bad.push(['body over 4096', big]);
    const hl = encodePacket(Op.Auth, 1, Buffer.from('{}'));
    hl.writeInt16BE(20, 4);
    bad.push(['headerLen 20', hl]);
    const short = encodePacket(Op.Auth, 1, null);
    short.writeInt32BE(8, 0);
    bad.push(['packLen 8', short]);
    for (const [what, bytes] of bad) {
      for (const kind of ['tcp', 'ws'] as const) {
        const c = await open(kind);
        c.writeRaw(bytes);
        const t = setTimeout(() => assert.fail(`${kind}: ${what} did not close the connection`), 3000);
        await c.closed;
        clearTimeout(t);
      }
    }
    assert.ok((await good.heartbeat()) >= 0, 'the other connection still works');
    assert.equal((await s.get('/health')).body.workers.every((w: { restarts: number }) => w.restarts === 0), true);
  });

  it('decodes packets split across reads and several packets in one read', async () => {
    const c = await open('tcp');
    const both = Buffer.concat([encodePacket(Op.Auth, 1, Buffer.from(JSON.stringify(DEMO_AUTH))), encodePacket(Op.Heartbeat, 2, null)]);
    // Auth and a heartbeat in one write: the heartbeat arrives while auth is in progress and is
    // answered after the auth reply, in order, as goim does.
    c.writeRaw(both);
    assert.equal((await c.next())?.op, Op.AuthReply);
    const early = await c.next();
    assert.equal(early?.op, Op.HeartbeatReply);
    assert.equal(early?.seq, 2);
    const hb = encodePacket(Op.Heartbeat, 3, null);
    const three = Buffer.concat([hb, hb, hb]);
    for (let i = 0; i < three.length; i++) {
      c.writeRaw(three.subarray(i, i + 1));
      await new Promise((r) => setImmediate(r));
    }
    for (let i = 0; i < 3; i++) assert.equal((await c.expect(Op.HeartbeatReply)).seq, 3);
  });

  it('heartbeat replies carry the process-wide online count of the room', async () => {
    const room = 'live://count';
    const members = await Promise.all([open('tcp'), open('ws'), open('tcp'), open('ws')]);
    for (const [i, m] of members.entries()) assert.equal((await m.auth({ mid: 8000 + i, room_id: room })).op, Op.AuthReply);
    const lone = await open('tcp');
    await lone.auth({ mid: 8100 });
    await until(async () => (await members[0]!.heartbeat()) === 4, 5000, 'room count 4 in heartbeat replies');
    assert.equal(await lone.heartbeat(), 0, 'no room: 0');
    members[3]!.close();
    await until(async () => (await members[0]!.heartbeat()) === 3, 5000, 'room count back to 3');
  });

  it('closes a connection without heartbeats after heartbeatTimeoutMs, keeps one that heartbeats', async () => {
    const idle = await open('tcp');
    const alive = await open('ws');
    await idle.auth({ mid: 9001 });
    await alive.auth({ mid: 9002 });
    const t0 = Date.now();
    const timer = setInterval(() => alive.send(Op.Heartbeat, 1), 300);
    await idle.closed;
    clearInterval(timer);
    const ms = Date.now() - t0;
    assert.ok(ms >= 1400 && ms < 4000, `idle closed after ${ms} ms`);
    assert.ok((await alive.heartbeat()) >= 0, 'the heartbeating connection is open');
  });

  it('changes room (op 12 → 13), joins and leaves several rooms (100/102), enforces the room limit, edits accepts (14/16)', async () => {
    const c = await open('tcp');
    await c.auth({ mid: 9100, room_id: 'live://a' });
    c.send(Op.ChangeRoom, 5, 'live://b');
    const r = await c.expect(Op.ChangeRoomReply);
    assert.equal(r.seq, 5);
    assert.equal(r.body.toString(), 'live://b');
    c.send(100, 6, 'chat://1,chat://2');
    assert.equal((await c.expect(101)).body.toString().split(',').sort().join(','), 'chat://1,chat://2,live://b');
    c.send(100, 7, 'chat://3');
    const err = await c.expect(199);
    assert.equal(err.seq, 7);
    assert.deepEqual(JSON.parse(err.body.toString()), { op: 100, code: 403, reason: 'room limit reached (3 per connection, rooms.maxPerConnection)' });
    c.send(102, 8, 'chat://1');
    assert.equal((await c.expect(103)).body.toString().split(',').sort().join(','), 'chat://2,live://b');
    c.send(Op.ChangeRoom, 9, '');
    assert.equal((await c.expect(Op.ChangeRoomReply)).body.length, 0);
    assert.equal(await c.heartbeat(), 0, 'left the goim room');
    c.send(Op.Sub, 10, '1003,1004');
    assert.equal((await c.expect(Op.SubReply)).body.toString(), '1003,1004');
    c.send(Op.Unsub, 11, '1003');
    assert.equal((await c.expect(Op.UnsubReply)).body.toString(), '1003');
  });

  it('a new connection with the same key replaces the old one (op 6, then close), across workers', async () => {
    const olds: GoimClient[] = [];
    for (let i = 0; i < 6; i++) {
      const c = await open(i % 2 === 0 ? 'tcp' : 'ws');
      await c.auth({ mid: 9200 + i, key: `same-${i % 2}` });
      olds.push(c);
    }
    // Each key was used three times: the first two of each were replaced.
    for (let i = 0; i < 4; i++) {
      const kicked = await olds[i]!.expect(Op.DisconnectReply);
      assert.equal(JSON.parse(kicked.body.toString()).code, 4001);
      await olds[i]!.closed;
    }
    assert.ok((await olds[4]!.heartbeat()) >= 0);
    assert.ok((await olds[5]!.heartbeat()) >= 0);
  });

  it('multi-login: a second login on a kick platform kicks the first with op 6; allowed platforms keep both', async () => {
    const first = await open('tcp');
    await first.auth({ mid: 9300, platform: 'ios' });
    const web1 = await open('ws');
    await web1.auth({ mid: 9300, platform: 'web' });
    const second = await open('ws');
    await second.auth({ mid: 9300, platform: 'ios' });
    const kicked = await first.expect(Op.DisconnectReply);
    assert.equal(JSON.parse(kicked.body.toString()).code, 4002);
    await first.closed;
    const web2 = await open('tcp');
    await web2.auth({ mid: 9300, platform: 'web' });
    assert.ok((await web1.heartbeat()) >= 0);
    await until(async () => (await s.get('/debug/router?mid=9300')).body.data.entries.length === 3, 3000, 'three connections registered');
  });

  it('unregisters a connection from the router when it closes', async () => {
    const c = await open('tcp');
    await c.auth({ mid: 9400, key: 'gone' });
    await until(async () => (await s.get('/debug/router?mid=9400')).body.data.entries.length === 1, 3000, 'registered');
    c.close();
    await until(async () => (await s.get('/debug/router?mid=9400')).body.data.entries.length === 0, 3000, 'unregistered');
  });
});

describe('gateway: auth modes and upstream requests', function () {
  this.timeout(30_000);
  const SECRET = 'test-secret-0123456789';
  let s: RunningServer | null = null;
  let backend: { server: http.Server; url: string } | null = null;
  afterEach(async () => {
    if (s !== null) await s.stop('SIGKILL');
    s = null;
    backend?.server.closeAllConnections();
    backend?.server.close();
    backend = null;
  });

  for (const kind of ['tcp', 'ws'] as const) {
    it(`jwt (${kind}): a valid token authenticates as its sub and joins its rooms; a bad one gets op 6 401`, async () => {
      s = await startServer({ workers: 2, auth: { mode: 'jwt', jwt: { secret: SECRET } } });
      const key = new TextEncoder().encode(SECRET);
      const token = await new SignJWT({ rooms: ['vip://1'] }).setProtectedHeader({ alg: 'HS256' }).setSubject('4242').setExpirationTime('1h').sign(key);
      const ok = await GoimClient.connect(kind, kind === 'ws' ? s.wsPort : s.tcpPort);
      assert.equal((await ok.auth({ token, room_id: 'live://1' })).op, Op.AuthReply);
      await until(async () => (await s!.get('/debug/router?mid=4242')).body.data.entries.length === 1, 3000, 'the router entry for sub 4242');
      const bad = await GoimClient.connect(kind, kind === 'ws' ? s.wsPort : s.tcpPort);
      const rej = await bad.auth({ token: token.slice(0, -3) + 'AAA' });
      assert.equal(rej.op, Op.DisconnectReply);
      assert.equal(JSON.parse(rej.body.toString()).code, 401);
      await bad.closed;
      ok.close();
    });
  }

  it('http: the backend decides (200 {mid, rooms} accepts, 403 rejects), and a slow backend times out', async () => {
    backend = await listen((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const auth = JSON.parse(body) as { token?: string };
        if (auth.token === 'slow') return; // never answers
        if (auth.token !== 'let-me-in') return void res.writeHead(403).end('no');
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ mid: 77, rooms: ['team://9'] }));
      });
    });
    s = await startServer({ workers: 1, auth: { mode: 'http', timeoutMs: 500, http: { url: `${backend.url}/auth` } } });
    const ok = await GoimClient.connect('tcp', s.tcpPort);
    assert.equal((await ok.auth({ token: 'let-me-in' })).op, Op.AuthReply);
    await until(async () => (await s!.get('/debug/router?mid=77')).body.data.entries.length === 1, 3000, 'the router entry for mid 77');
    const no = await GoimClient.connect('ws', s.wsPort);
    const rej = await no.auth({ token: 'nope' });
    assert.equal(JSON.parse(rej.body.toString()).code, 401);
    const slow = await GoimClient.connect('tcp', s.tcpPort);
    const t0 = Date.now();
    const late = await slow.auth({ token: 'slow' });
    assert.equal(JSON.parse(late.body.toString()).code, 504);
    assert.ok(Date.now() - t0 >= 450);
    ok.close();
  });

  it('op 4 goes to the configured backend and op 5 comes back with its status and body; errors keep the connection', async () => {
    let seen: { url?: string; mid?: string; body?: string } = {};
    backend = await listen((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        seen = { url: req.url, mid: req.headers['x-ringcast-mid'] as string, body };
        if (req.url === '/chat/Slow') return; // never answers
        res.writeHead(200).end(`echo:${body}`);
      });
    });
    s = await startServer({ workers: 1, upstream: { services: `Chat=${backend.url}/chat,Down=http://127.0.0.1:1`, timeoutMs: 400, ratePerSec: 1, burst: 5 } });
    const c = await GoimClient.connect('tcp', s.tcpPort);
    await c.auth({ mid: 555 });
    const call = async (client: GoimClient, uri: string, payload: string, seq: number): Promise<{ status: number; text: string }> => {
      client.send(Op.SendMsg, seq, encodeRequest(uri, Buffer.from(payload)));
      const p = await client.expect(Op.SendMsgReply);
      assert.equal(p.seq, seq);
      const r = decodeReply(p.body, 0, p.body.length);
      return { status: r.status, text: Buffer.from(r.payload).toString() };
    };
    assert.deepEqual(await call(c, 'Chat/Say', 'hi', 1), { status: 200, text: 'echo:hi' });
    assert.deepEqual(seen, { url: '/chat/Say', mid: '555', body: 'hi' });
    assert.equal((await call(c, 'Nope/Say', 'x', 2)).status, 404);
    assert.equal((await call(c, 'Down/Say', 'x', 3)).status, 502);
    assert.equal((await call(c, 'Chat/Say', 'x', 4)).status, 200);
    assert.equal((await call(c, 'Chat/Say', 'x', 5)).status, 200, 'the fifth request of a burst of 5');
    assert.equal((await call(c, 'Chat/Say', 'x', 6)).status, 429, 'burst used up, 1 per second');
    c.send(Op.SendMsg, 7, Buffer.from([0, 50, 1]));
    const bad = await c.expect(Op.SendMsgReply);
    assert.equal(decodeReply(bad.body, 0, bad.body.length).status, 400);
    assert.ok((await c.heartbeat()) >= 0, 'still connected');
    // The rate limit is per connection: another one has its own burst.
    const other = await GoimClient.connect('ws', s.wsPort);
    await other.auth({ mid: 556 });
    assert.equal((await call(other, 'Chat/Slow', 'x', 1)).status, 504);
    other.close();
    c.close();
  });
});

describe('gateway: the WebSocket port before the upgrade', function () {
  this.timeout(30_000);
  it('closes sockets that do not complete their upgrade within protocol.handshakeTimeoutMs; upgraded ones stay', async () => {
    const s = await startServer({ workers: 1, protocol: { handshakeTimeoutMs: 1000 } });
    const { connect } = await import('node:net');
    const open = (): Promise<net.Socket> =>
      new Promise((resolve, reject) => {
        const sock = connect(s.wsPort, '127.0.0.1', () => resolve(sock));
        sock.once('error', reject);
      });
    const closed = (sock: net.Socket): Promise<number> => {
      const t0 = Date.now();
      return new Promise((resolve) => sock.once('close', () => resolve(Date.now() - t0)));
    };
    try {
      const idle = await open(); // sends nothing at all
      idle.on('error', () => undefined);
      const partial = await open(); // starts a request and never finishes its headers
      partial.on('error', () => undefined);
      partial.write(`GET /sub HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n`);
      const ws = await GoimClient.connect('ws', s.wsPort);
      assert.equal((await ws.auth(DEMO_AUTH)).op, Op.AuthReply);
      const [idleMs, partialMs] = await Promise.all([closed(idle), closed(partial)]);
      assert.ok(idleMs < 10_000 && partialMs < 10_000, `closed after ${idleMs} / ${partialMs} ms`);
      // The upgraded connection outlived the deadline and still works.
      assert.equal(await ws.heartbeat(), 1);
      ws.close();
    } finally {
      await s.stop('SIGKILL');
    }
  });
});
