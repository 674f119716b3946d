/**
 * ws.servePages (src/protocols/ws-pages.ts, src/upstream/demo-say.ts): the WebSocket port serves the
 * browser build of @ringcast/client at GET /ringcast-client.js and the demo chat at GET /demo, and
 * the built-in upstream service Demo/Say exists — all three on by default (auth.mode none), off with
 * real auth unless set — and answers everything else as before.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { GoimClient, type Packet } from '../helpers/goim-client.js';
import { DEMO_SAY_OP, Op } from '../../src/ops.js';
import { decodeReply, encodeRequest } from '../../src/upstream/index.js';
import { ROOT, runMain, startServer, writeConfig, type RunningServer } from '../helpers/server.js';

const SCRIPT = fs.readFileSync(path.join(ROOT, 'client/dist/ringcast-client.js'));
const DEMO_JS = fs.readFileSync(path.join(ROOT, 'demo/demo.js'));
const utf8 = new TextEncoder();

/** Sends op 4 to `uri` and returns the op 5 answer's status and text; other packets met meanwhile go to `skipped`. */
async function upstream(c: GoimClient, uri: string, payload: string | Uint8Array, seq: number, skipped: Packet[] = []): Promise<{ status: number; text: string }> {
  c.send(Op.SendMsg, seq, encodeRequest(uri, typeof payload === 'string' ? utf8.encode(payload) : payload));
  for (;;) {
    const p = await c.next();
    if (p === null) throw new Error(`closed before the answer to op 4 seq ${seq}`);
    if (p.op !== Op.SendMsgReply || p.seq !== seq) {
      skipped.push(p);
      continue;
    }
    const r = decodeReply(p.body, 0, p.body.length);
    return { status: r.status, text: Buffer.from(r.payload).toString() };
  }
}

/** The status of a GET of exactly `p`, unnormalised. */
function rawStatus(port: number, p: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: p }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject);
  });
}

async function get(s: RunningServer, p: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`http://127.0.0.1:${s.wsPort}${p}`, init);
}

describe('ws.servePages: GET /ringcast-client.js on the WebSocket port', function () {
  this.timeout(30_000);
  const servers: RunningServer[] = [];
  after(async () => {
    for (const s of servers) await s.stop('SIGKILL');
  });
  async function start(config: Record<string, unknown>): Promise<RunningServer> {
    const s = await startServer({ workers: 1, ...config });
    servers.push(s);
    return s;
  }

  it('serves the browser build by default, as a module script, and nothing else changes', async () => {
    const s = await start({});
    const res = await get(s, '/ringcast-client.js');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(SCRIPT), 'the bytes of client/dist/ringcast-client.js');
    const etag = res.headers.get('etag')!;
    assert.equal((await get(s, '/ringcast-client.js', { headers: { 'if-none-match': etag } })).status, 304);
    assert.equal((await get(s, '/ringcast-client.js?v=2')).status, 200);
    const head = await get(s, '/ringcast-client.js', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(SCRIPT.length));
    for (const [p, method] of [['/ringcast-client.js', 'POST'], ['/ringcast-client.js/', 'GET'], ['/dist/ringcast-client.js', 'GET'], ['/%2e%2e/client/dist/ringcast-client.js', 'GET'], ['/', 'GET'], ['/sub', 'GET'], ['/demo', 'POST']] as const) {
      const r = await get(s, p, { method });
      assert.equal(r.status, 426, `${method} ${p}`);
      await r.arrayBuffer();
    }
    const c = await GoimClient.connect('ws', s.wsPort);
    assert.equal((await c.auth({ mid: 1, key: 'k1' })).op, 8, 'upgrades at ws.path still work');
    c.close();
  });

  it('serves the demo chat from a fixed list: content types, nosniff, a CSP of its own scripts only; any other path under /demo is 404', async () => {
    const s = await start({ ws: { path: '/goim-sub' } });
    const page = await get(s, '/demo?mid=1&room=lobby');
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe/);
    const html = await page.text();
    assert.match(html, /<meta name="ringcast-ws-path" content="\/goim-sub">/, 'the page connects to ws.path');
    for (const id of ['message', 'to', 'send', 'messages']) assert.match(html, new RegExp(`id="${id}"`), `#${id}`);
    const js = await get(s, '/demo/demo.js');
    assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.ok(Buffer.from(await js.arrayBuffer()).equals(DEMO_JS));
    assert.equal((await get(s, '/demo/demo.css')).headers.get('content-type'), 'text/css; charset=utf-8');
    const etag = js.headers.get('etag')!;
    assert.equal((await get(s, '/demo/demo.js', { headers: { 'if-none-match': etag } })).status, 304);
    // Sent as they are (fetch would normalise them): none is a key of the table.
    for (const p of ['/demo/', '/demo/../demo', '/demo/./demo.js', '/demo/%2e%2e/demo/demo.js', '/demo/%252e%252e/package.json', '/demo/..%5cpackage.json', '/demo/demo.js/', '/demo/index.html', '/demo/DEMO.JS', '/demo//demo.js']) {
      assert.equal(await rawStatus(s.wsPort, p), 404, p);
    }
    for (const p of ['/demo\\demo.js', '/demo.js', '/Demo']) assert.equal(await rawStatus(s.wsPort, p), 426, `${p}: not under /demo, answered as before`);
  });

  it('Demo/Say pushes a message once to the sender\'s room; bad ones get a status and a reason; the upstream rate limit holds', async () => {
    const s = await start({ workers: 2, upstream: { ratePerSec: 1, burst: 3 } });
    const clients: GoimClient[] = [];
    for (let i = 0; i < 4; i++) {
      const c = await GoimClient.connect('ws', s.wsPort);
      assert.equal((await c.auth({ mid: 10 + i, key: `say-${i}`, room_id: i < 3 ? 'lobby' : 'elsewhere' })).op, 8);
      clients.push(c);
    }
    const [alice, bob, carol, dave] = clients as [GoimClient, GoimClient, GoimClient, GoimClient];
    const skipped: Packet[] = [];
    assert.deepEqual(await upstream(alice, 'Demo/Say', 'hello room', 10, skipped), { status: 200, text: '{"room":"lobby"}' });
    for (const c of [alice, bob, carol]) {
      // The sender's own copy may come before the answer.
      const p = c === alice && skipped.length > 0 ? skipped.shift()! : await c.expect(DEMO_SAY_OP);
      assert.equal(p.op, DEMO_SAY_OP);
      assert.deepEqual({ ...JSON.parse(p.body.toString()), ts: 0 }, { from: 10, text: 'hello room', room: 'lobby', ts: 0 });
    }
    assert.equal((await upstream(alice, 'Demo/Shout', 'x', 11)).status, 404);
    assert.equal((await upstream(alice, 'Demo/Say', 'x'.repeat(1001), 12)).status, 413);
    // Burst 3 is spent (a refused method and a too long text count too); 1 a second refills it.
    for (const seq of [13, 14, 15, 16]) alice.send(Op.SendMsg, seq, encodeRequest('Demo/Shout', utf8.encode('x')));
    const burst: Array<{ status: number; text: string }> = [];
    while (burst.length < 4) {
      const p = await alice.expect(Op.SendMsgReply);
      const r = decodeReply(p.body, 0, p.body.length);
      burst.push({ status: r.status, text: Buffer.from(r.payload).toString() });
    }
    assert.ok(burst.some((r) => r.status === 429 && r.text === 'rate limited'), JSON.stringify(burst));
    const none = await GoimClient.connect('ws', s.wsPort);
    assert.equal((await none.auth({ mid: 20, key: 'say-no-room' })).op, 8);
    const noRoom = await upstream(none, 'Demo/Say', 'hi', 14);
    assert.equal(noRoom.status, 409);
    assert.match(noRoom.text, /not in a room/);
    // The only push anyone got is the first one: dave's room heard nothing, and nothing came twice.
    for (const c of [bob, carol, dave]) {
      c.send(Op.Heartbeat, 99);
      for (let p = await c.next(); p !== null && p.op !== Op.HeartbeatReply; p = await c.next()) assert.notEqual(p.op, DEMO_SAY_OP);
    }
    for (const c of [...clients, none]) c.close();
  });

  it('is off with real auth unless ws.servePages says on; off when it says off: /demo 404, Demo/Say an unknown service', async () => {
    const jwt = { mode: 'jwt', jwt: { secret: 'x'.repeat(32) } };
    const cases: Array<[Record<string, unknown>, number, number]> = [
      [{ auth: jwt }, 426, 404],
      [{ auth: jwt, ws: { servePages: 'on' } }, 200, 200],
      [{ ws: { servePages: 'off' } }, 426, 404],
    ];
    for (const [config, status, demoStatus] of cases) {
      const s = await start(config);
      const r = await get(s, '/ringcast-client.js');
      assert.equal(r.status, status, JSON.stringify(config));
      await r.arrayBuffer();
      const demo = await get(s, '/demo');
      assert.equal(demo.status, demoStatus, `/demo with ${JSON.stringify(config)}`);
      if (demoStatus === 404) assert.match(await demo.text(), /demo pages are off \(ws\.servePages\)/);
      else await demo.arrayBuffer();
    }
    const off = servers[servers.length - 1]!;
    const c = await GoimClient.connect('ws', off.wsPort);
    assert.equal((await c.auth({ mid: 1, key: 'k-off', room_id: 'lobby' })).op, 8);
    assert.deepEqual(await upstream(c, 'Demo/Say', 'hi', 5), { status: 404, text: 'unknown service Demo' });
    c.close();
  });

  it('refuses a configured upstream service named Demo while the pages are on, naming the key', async () => {
    const r = await runMain(['--config', writeConfig({ upstream: { services: 'Demo=http://127.0.0.1:9/x' }, tcp: { port: 0 }, ws: { port: 0 }, control: { port: 0 } })]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /upstream\.services = "Demo"/);
    assert.match(r.stderr, /Demo/);
  });
});
