/**
 * The dashboard's routes over HTTP against the real server: static files from the fixed table
 * (every traversal and encoding trick is a 404; the headers are there), the SSE stream, the token,
 * the read-only mode and the switch, and the admin routes (kick, drain) the Actions page uses.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Op } from '../../src/ops.js';
import { GoimClient } from '../helpers/goim-client.js';
import { ROOT, startServer, until, type RunningServer } from '../helpers/server.js';
import { sseEvents, type SseEvent } from '../helpers/sse.js';

interface RawReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A request with the path sent exactly as given (fetch would normalise `..` away). */
function raw(port: number, rawPath: string, method = 'GET', headers: http.OutgoingHttpHeaders = {}): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: rawPath, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens the stream and collects its events until `done` says so (or 10 s pass). */
async function readStream(port: number, done: (events: SseEvent[]) => boolean, headers: Record<string, string> = {}): Promise<SseEvent[]> {
  const ctl = new AbortController();
  const res = await fetch(`http://127.0.0.1:${port}/dashboard/stream`, { headers, signal: ctl.signal });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  const events: SseEvent[] = [];
  const timer = setTimeout(() => ctl.abort(), 10_000);
  try {
    for await (const e of sseEvents(res.body!)) {
      events.push(e);
      if (done(events)) break;
    }
  } finally {
    clearTimeout(timer);
    ctl.abort();
  }
  return events;
}

describe('dashboard over HTTP', function () {
  this.timeout(60_000);

  describe('static files, stream and admin routes', () => {
    let s: RunningServer;
    before(async () => {
      s = await startServer({ workers: 2 });
    });
    after(async () => {
      await s?.stop();
    });

    it('serves the page and its files with a content type, nosniff and a CSP that allows only its own scripts', async () => {
      for (const [p, type] of [
        ['/dashboard', 'text/html; charset=utf-8'],
        ['/dashboard/static/js/main.js', 'text/javascript; charset=utf-8'],
        ['/dashboard/static/dashboard.css', 'text/css; charset=utf-8'],
        ['/dashboard/static/vendor/preact.mjs', 'text/javascript; charset=utf-8'],
        ['/dashboard/static/vendor/uPlot.min.css', 'text/css; charset=utf-8'],
      ] as const) {
        const r = await raw(s.controlPort, p);
        assert.equal(r.status, 200, p);
        assert.equal(r.headers['content-type'], type, p);
        assert.equal(r.headers['x-content-type-options'], 'nosniff', p);
        const csp = r.headers['content-security-policy'] as string;
        assert.match(csp, /default-src 'none'/);
        assert.match(csp, /script-src 'self'(;|$)/, 'only the page\'s own scripts: no inline, no eval');
        assert.match(csp, /style-src 'self'(;|$)/);
        assert.ok(r.headers.etag, p);
      }
      const page = await raw(s.controlPort, '/dashboard');
      assert.doesNotMatch(page.body, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script in the page');
      assert.doesNotMatch(page.body, /<style|style=/, 'no inline style in the page');
      const uplot = await raw(s.controlPort, '/dashboard/static/vendor/uPlot.esm.js');
      assert.equal(uplot.body, fs.readFileSync(path.join(ROOT, 'node_modules/uplot/dist/uPlot.esm.js'), 'utf8'));
      const again = await raw(s.controlPort, '/dashboard/static/js/main.js', 'GET', { 'If-None-Match': (await raw(s.controlPort, '/dashboard/static/js/main.js')).headers.etag });
      assert.equal(again.status, 304);
      const head = await raw(s.controlPort, '/dashboard', 'HEAD');
      assert.equal(head.status, 200);
      assert.equal(head.body, '');
    });

    it('answers 404 to every path outside the table: traversal, encodings, backslashes', async () => {
      const attempts = [
        '/dashboard/static/../../package.json',
        '/dashboard/static/js/../../../package.json',
        '/dashboard/static/js/../js/main.js',
        '/dashboard/static/%2e%2e/%2e%2e/package.json',
        '/dashboard/static/%2E%2E/%2E%2E/package.json',
        '/dashboard/static/.%2e/.%2e/package.json',
        '/dashboard/static/%252e%252e/%252e%252e/package.json',
        '/dashboard/static/..%2f..%2fpackage.json',
        '/dashboard/static/..%5c..%5cpackage.json',
        '/dashboard/static/..\\..\\package.json',
        '/dashboard/static\\js\\main.js',
        '/dashboard/static//js/main.js',
        '/dashboard/static/js/main.js%00',
        '/dashboard/static/js/main%2ejs',
        '/dashboard/static/vendor/../../../../../etc/passwd',
        '/dashboard/static/',
        '/dashboard/static/index.html',
        '/dashboard/../package.json',
        '/dashboard/%2e%2e/package.json',
        '/dashboard/static/node_modules/preact/package.json',
      ];
      for (const p of attempts) {
        const r = await raw(s.controlPort, p);
        assert.equal(r.status, 404, `${p} → ${r.status}`);
        assert.equal(r.headers['x-content-type-options'], 'nosniff', p);
        assert.match(JSON.parse(r.body).message, /no dashboard file|unknown route/, p);
      }
      const post = await raw(s.controlPort, '/dashboard', 'POST');
      assert.equal(post.status, 405);
      assert.equal(post.headers.allow, 'GET, HEAD');
    });

    it('streams a hello and one snapshot a second, with the connections as they come and go', async () => {
      const clients: GoimClient[] = [];
      for (let i = 0; i < 3; i++) {
        const c = await GoimClient.connect(i % 2 === 0 ? 'tcp' : 'ws', i % 2 === 0 ? s.tcpPort : s.wsPort);
        await c.auth({ mid: 300 + i, key: `dash-http-${i}`, room_id: 'live://dash' });
        clients.push(c);
      }
      const t0 = Date.now();
      const events = await readStream(s.controlPort, (ev) => ev.filter((e) => e.event === 'message').length >= 3);
      const elapsed = Date.now() - t0;
      assert.equal(events[0]!.event, 'hello');
      assert.equal(events[0]!.data.workers, 2);
      assert.equal(events[0]!.data.readOnly, false);
      const snaps = events.filter((e) => e.event === 'message').map((e) => e.data);
      assert.equal(snaps[0].connections, 3);
      assert.equal(snaps[0].status, 'ok');
      assert.equal(snaps[0].workers.length, 2);
      assert.equal(snaps[0].latency, null);
      assert.ok(typeof snaps[0].refusals['limits.maxConnections'] === 'number');
      assert.notEqual(snaps[2].rates, null);
      const gap = snaps[2].t - snaps[1].t;
      assert.ok(gap >= 900 && gap <= 2000, `one snapshot a second, got ${gap} ms apart`);
      assert.ok(elapsed >= 1800 && elapsed < 5000, `the first snapshot comes at once, then one a second (${elapsed} ms for three)`);
      // a push is counted at once in the next snapshot's rates
      const push = await fetch(`http://127.0.0.1:${s.controlPort}/goim/push/room?operation=1000&type=live&room=dash`, { method: 'POST', body: 'hi' });
      assert.equal(((await push.json()) as any).data.connections, 3);
      for (const c of clients) c.close();
      const later = await readStream(s.controlPort, (ev) => ev.some((e) => e.event === 'message' && e.data.connections === 0), {});
      assert.equal(later.at(-1)!.data.connections, 0);
      const health = await s.get('/health');
      assert.ok(health.body.workers.every((w: any) => w.heapUsedBytes > 1_000_000), 'each worker wrote its heap');
    });

    it('POST /admin/kick closes the connection with the key (op 6 4006); 404 for a key nobody holds', async () => {
      const c = await GoimClient.connect('ws', s.wsPort);
      await c.auth({ mid: 410, key: 'dash-kick' });
      const r = await fetch(`http://127.0.0.1:${s.controlPort}/admin/kick?key=dash-kick`, { method: 'POST' });
      assert.deepEqual(await r.json(), { code: 0, message: '', data: { key: 'dash-kick', kicked: 1 } });
      const op6 = await c.expect(Op.DisconnectReply);
      assert.deepEqual(JSON.parse(op6.body.toString()), { code: 4006, reason: 'kicked by the operator' });
      await c.closed;
      const again = await fetch(`http://127.0.0.1:${s.controlPort}/admin/kick?key=dash-kick`, { method: 'POST' });
      assert.equal(again.status, 404);
      assert.match(((await again.json()) as any).message, /no connection with key "dash-kick"/);
      const none = await fetch(`http://127.0.0.1:${s.controlPort}/admin/kick`, { method: 'POST' });
      assert.equal(none.status, 400);
    });

    it('refuses a POST that another site\'s page sends through a browser', async () => {
      const url = `http://127.0.0.1:${s.controlPort}/goim/push/all?operation=1000`;
      const cross = await fetch(url, { method: 'POST', body: 'x', headers: { 'Sec-Fetch-Site': 'cross-site', Origin: 'https://elsewhere.example' } });
      assert.equal(cross.status, 403);
      assert.match(((await cross.json()) as any).message, /cross-origin request refused/);
      const same = await fetch(url, { method: 'POST', body: 'x', headers: { 'Sec-Fetch-Site': 'same-origin', Origin: `http://127.0.0.1:${s.controlPort}` } });
      assert.equal(same.status, 200);
    });

    it('GET /dashboard/session says no token is needed', async () => {
      assert.deepEqual((await s.get('/dashboard/session')).body.data, { tokenRequired: false, authorized: true, readOnly: false });
    });
  });

  it('with a token: the page loads, the data does not without it', async () => {
    const s = await startServer({ workers: 1, control: { token: 'sesame' } });
    try {
      assert.equal((await raw(s.controlPort, '/dashboard')).status, 200);
      assert.equal((await raw(s.controlPort, '/dashboard/static/js/main.js')).status, 200);
      assert.deepEqual(JSON.parse((await raw(s.controlPort, '/dashboard/session')).body).data, { tokenRequired: true, authorized: false });
      assert.deepEqual(JSON.parse((await raw(s.controlPort, '/dashboard/session', 'GET', { Authorization: 'Bearer nope' })).body).data, { tokenRequired: true, authorized: false });
      const stream = await raw(s.controlPort, '/dashboard/stream');
      assert.equal(stream.status, 401);
      assert.equal(stream.headers['www-authenticate'], 'Bearer');
      assert.equal((await raw(s.controlPort, '/admin/drain', 'POST')).status, 401);
      assert.equal((await raw(s.controlPort, '/dashboard/static/../../package.json')).status, 401, 'a path outside the table is not public');
      const ok = JSON.parse((await raw(s.controlPort, '/dashboard/session', 'GET', { Authorization: 'Bearer sesame' })).body).data;
      assert.deepEqual(ok, { tokenRequired: true, authorized: true, readOnly: false });
      const events = await readStream(s.controlPort, (ev) => ev.length >= 2, { Authorization: 'Bearer sesame' });
      assert.equal(events[1]!.data.workers.length, 1);
    } finally {
      await s.stop();
    }
  });

  it('read-only: the stream says so and every browser POST is refused; the dashboard switch turns it all off', async () => {
    const s = await startServer({ workers: 1, control: { dashboardReadOnly: true } });
    try {
      const events = await readStream(s.controlPort, (ev) => ev.length >= 1);
      assert.equal(events[0]!.data.readOnly, true);
      assert.equal((await s.get('/dashboard/session')).body.data.readOnly, true);
      const port = s.controlPort;
      for (const p of ['/goim/push/all?operation=1000', '/admin/kick?key=x', '/admin/drain']) {
        const r = await fetch(`http://127.0.0.1:${port}${p}`, { method: 'POST', body: 'x', headers: { 'Sec-Fetch-Site': 'same-origin', Origin: `http://127.0.0.1:${port}` } });
        assert.equal(r.status, 403, p);
        assert.match(((await r.json()) as any).message, /read-only dashboard.*control\.dashboardReadOnly/, p);
      }
      const api = await fetch(`http://127.0.0.1:${port}/goim/push/all?operation=1000`, { method: 'POST', body: 'x' });
      assert.equal(api.status, 200, 'an API client is not a browser');
    } finally {
      await s.stop();
    }
    const off = await startServer({ workers: 1, control: { dashboard: false } });
    try {
      for (const p of ['/dashboard', '/dashboard/stream', '/dashboard/static/js/main.js']) {
        const r = await raw(off.controlPort, p);
        assert.equal(r.status, 404, p);
        assert.match(JSON.parse(r.body).message, /the dashboard is off: control\.dashboard/);
      }
    } finally {
      await off.stop();
    }
  });

  it('POST /admin/drain drains and stops the server (exit 0); a second one is refused', async () => {
    const s = await startServer({ workers: 1, shutdown: { graceMs: 500 } });
    const exited = new Promise<number | null>((resolve) => s.proc.once('exit', (code) => resolve(code)));
    const r = await fetch(`http://127.0.0.1:${s.controlPort}/admin/drain`, { method: 'POST' });
    assert.deepEqual(await r.json(), { code: 0, message: '', data: { draining: true } });
    const again = await fetch(`http://127.0.0.1:${s.controlPort}/admin/drain`, { method: 'POST' }).catch(() => null);
    if (again !== null) assert.equal(again.status, 409);
    assert.equal(await exited, 0);
    await until(() => s.stdout.some((l) => l.startsWith('ringcast: stopped (POST /admin/drain)')), 2000, 'the stop line');
  });
});
