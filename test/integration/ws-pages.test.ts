/**
 * ws.servePages (src/protocols/ws-pages.ts): the WebSocket port serves the browser build of
 * @ringcast/client at GET /ringcast-client.js — on by default (auth.mode none), off with real
 * auth unless set — and answers everything else as before.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { GoimClient } from '../helpers/goim-client.js';
import { ROOT, startServer, type RunningServer } from '../helpers/server.js';

const SCRIPT = fs.readFileSync(path.join(ROOT, 'client/dist/ringcast-client.js'));

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
    for (const [p, method] of [['/ringcast-client.js', 'POST'], ['/ringcast-client.js/', 'GET'], ['/dist/ringcast-client.js', 'GET'], ['/%2e%2e/client/dist/ringcast-client.js', 'GET'], ['/', 'GET'], ['/sub', 'GET']] as const) {
      const r = await get(s, p, { method });
      assert.equal(r.status, 426, `${method} ${p}`);
      await r.arrayBuffer();
    }
    const c = await GoimClient.connect('ws', s.wsPort);
    assert.equal((await c.auth({ mid: 1, key: 'k1' })).op, 8, 'upgrades at ws.path still work');
    c.close();
  });

  it('is off with real auth unless ws.servePages says on; off when it says off', async () => {
    const jwt = { mode: 'jwt', jwt: { secret: 'x'.repeat(32) } };
    const cases: Array<[Record<string, unknown>, number]> = [
      [{ auth: jwt }, 426],
      [{ auth: jwt, ws: { servePages: 'on' } }, 200],
      [{ ws: { servePages: 'off' } }, 426],
    ];
    for (const [config, status] of cases) {
      const s = await start(config);
      const r = await get(s, '/ringcast-client.js');
      assert.equal(r.status, status, JSON.stringify(config));
      await r.arrayBuffer();
    }
  });
});
