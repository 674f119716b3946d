/**
 * The dashboard's parts in this process: the static-file table, the snapshot's rates, the stream
 * hub's rule that nothing ticks while nobody watches (over a real local HTTP connection), and the
 * browser guard.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/config/paths.js';
import { Dashboard } from '../../src/control/dashboard/index.js';
import { STATIC_PREFIX, VENDOR_FILES, staticFiles } from '../../src/control/dashboard/static-files.js';
import { StatsSampler, type DashboardSource } from '../../src/control/dashboard/stats.js';
import { StreamHub } from '../../src/control/dashboard/stream.js';
import { LATENCY_BUCKETS, latencyBucket } from '../../src/latency-histogram.js';
import type { WorkerStatus } from '../../src/worker-status.js';
import { until } from '../helpers/wait.js';

function worker(id: number, over: Partial<WorkerStatus> = {}): WorkerStatus {
  return {
    id,
    state: 'ready',
    stalled: false,
    threadId: id + 1,
    restarts: 0,
    connections: 0,
    rooms: 0,
    accepted: 0,
    loopLagMs: 0,
    heapUsedBytes: 0,
    slowConsumersClosed: 0,
    slowConsumerGaps: 0,
    slowMessagesDropped: 0,
    routerEntries: 0,
    pushWriteLatency: { buckets: new Array<number>(LATENCY_BUCKETS).fill(0), sumUs: 0 },
    deepestQueues: [],
    mailbox: { usedBytes: 0, capacityBytes: 1024, consumed: 0, fullEvents: 0, parked: 0, rejected: 0, undeliverable: 0 },
    lastProgressAgoMs: 0,
    lastExit: null,
    ...over,
  };
}

/** A source whose figures the test sets. */
function fakeSource(): DashboardSource & { ws: WorkerStatus[]; totals: { pushes: number; deliveries: number; bytesOut: number }; refused: Record<string, number> } {
  const src = {
    ws: [worker(0), worker(1)],
    totals: { pushes: 0, deliveries: 0, bytesOut: 0 },
    refused: { 'limits.maxConnections': 0 } as Record<string, number>,
    workers: () => src.ws,
    refusals: () => ({ ...src.refused }),
    pushTotals: () => ({ ...src.totals }),
    pushesInFlight: () => 0,
    draining: () => false,
  };
  return src;
}

describe('dashboard: static files', () => {
  const table = staticFiles();

  it('holds the page, every file of dashboard/ and the vendor files, each with its content type', () => {
    assert.equal(table.get('/dashboard')!.contentType, 'text/html; charset=utf-8');
    assert.equal(table.get(`${STATIC_PREFIX}js/main.js`)!.contentType, 'text/javascript; charset=utf-8');
    assert.equal(table.get(`${STATIC_PREFIX}dashboard.css`)!.contentType, 'text/css; charset=utf-8');
    for (const [url, rel] of VENDOR_FILES) assert.deepEqual(table.get(STATIC_PREFIX + url)!.body, fs.readFileSync(path.join(PACKAGE_ROOT, rel)), url);
    assert.equal(table.has(`${STATIC_PREFIX}index.html`), false, 'the page has one URL');
  });

  it('has only plain keys: nothing that a traversal or an encoding could match', () => {
    for (const key of table.keys()) {
      assert.match(key, /^\/dashboard(\/static(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)+)?$/, key);
      assert.ok(!key.split('/').includes('..') && !key.includes('%') && !key.includes('\\'), key);
    }
  });

  it('every script the page imports is in the table (relative imports resolved as the browser does)', () => {
    const base = 'http://x/dashboard/static/js/main.js';
    const seen = new Set<string>();
    const visit = (url: string): void => {
      const pathname = new URL(url).pathname;
      if (seen.has(pathname)) return;
      seen.add(pathname);
      const f = table.get(pathname);
      assert.ok(f !== undefined, `imported but not served: ${pathname}`);
      for (const m of f.body.toString('utf8').matchAll(/(?:^|;)\s*(?:import|export)\s*(?:[\w*{}\s,$]+from\s*)?['"]([^'"]+)['"]/gm)) {
        assert.ok(m[1]!.startsWith('.'), `bare import "${m[1]}" in ${pathname}: the browser cannot resolve it without an import map`);
        visit(new URL(m[1]!, url).href);
      }
    };
    visit(base);
    assert.ok(seen.has('/dashboard/static/vendor/preact.mjs') && seen.has('/dashboard/static/vendor/uPlot.esm.js') && seen.has('/dashboard/static/js/pages/actions.js'), [...seen].join(' '));
  });
});

describe('dashboard: snapshots', () => {
  it('rates are the differences over the elapsed time; none in the first snapshot', () => {
    const src = fakeSource();
    const s = new StatsSampler(src);
    s.start();
    try {
      const first = s.sample(10_000);
      assert.equal(first.rates, null);
      src.ws[0] = worker(0, { accepted: 10, connections: 8 }); // 10 in, 2 of them gone
      src.ws[1] = worker(1, { accepted: 4, connections: 4 });
      src.totals = { pushes: 6, deliveries: 60, bytesOut: 600 };
      src.refused['limits.maxConnections'] = 3;
      const snap = s.sample(12_000);
      assert.equal(snap.connections, 12);
      assert.deepEqual(snap.rates, { connects: 7, disconnects: 1, pushes: 3, deliveries: 30, bytesOut: 300, refusals: { 'limits.maxConnections': 1.5 } });
    } finally {
      s.stop();
    }
  });

  it("a dead worker's connections count as disconnects; a count that restarts counts from 0", () => {
    const src = fakeSource();
    const s = new StatsSampler(src);
    s.start();
    try {
      src.ws[0] = worker(0, { accepted: 100, connections: 5 });
      s.sample(1000);
      src.ws[0] = worker(0, { state: 'dead', accepted: 100, connections: 0 }); // gauges zeroed at death
      const dead = s.sample(2000);
      assert.equal(dead.rates!.disconnects, 5);
      assert.equal(dead.status, 'degraded');
      assert.equal(dead.ready, 1);
      src.ws[0] = worker(0, { accepted: 2, connections: 2, restarts: 1 }); // a counter that went down
      const back = s.sample(3000);
      assert.equal(back.rates!.connects, 2);
      assert.equal(back.rates!.disconnects, 0);
      assert.equal(back.status, 'ok');
    } finally {
      s.stop();
    }
  });

  it('a stalled worker makes the status degraded', () => {
    const src = fakeSource();
    src.ws[1] = worker(1, { stalled: true });
    const s = new StatsSampler(src);
    const snap = s.sample(1000);
    assert.equal(snap.status, 'degraded');
  });

  it('push-to-write p50/p99 are those of the pushes written since the previous snapshot, per worker and over all', () => {
    const src = fakeSource();
    const s = new StatsSampler(src);
    const hist = (counts: Array<[number, number]>): WorkerStatus['pushWriteLatency'] => {
      const buckets = new Array<number>(LATENCY_BUCKETS).fill(0);
      for (const [us, n] of counts) buckets[latencyBucket(us)]! += n;
      return { buckets, sumUs: 0 };
    };
    src.ws[0] = worker(0, { pushWriteLatency: hist([[50_000, 1000]]) }); // old pushes, 50 ms: not in the next interval
    assert.equal(s.sample(1000).latency, null, 'no interval yet');
    src.ws[0] = worker(0, { pushWriteLatency: hist([[50_000, 1000], [100, 98], [3000, 2]]) });
    src.ws[1] = worker(1, { pushWriteLatency: hist([[100, 100]]) });
    const snap = s.sample(2000).latency!;
    assert.equal(snap.count, 200);
    assert.ok(snap.p50Ms! > 0.064 && snap.p50Ms! <= 0.128, `p50 ${snap.p50Ms}`);
    assert.ok(snap.p99Ms! > 0.064 && snap.p99Ms! <= 0.128, `p99 ${snap.p99Ms} (2 in 200 are slower)`);
    assert.deepEqual(snap.workers.map((w) => [w.id, w.count]), [[0, 100], [1, 100]]);
    assert.ok(snap.workers[0]!.p99Ms! > 2.048, 'worker 0: its slowest 2 % are the 3 ms pushes');
    const idle = s.sample(3000).latency!;
    assert.deepEqual([idle.count, idle.p50Ms, idle.p99Ms], [0, null, null], 'nothing written: no quantiles');
  });
});

describe('dashboard: stream hub', () => {
  it('ticks only while a stream is open, and sends hello, then snapshots', async () => {
    const hub = new StreamHub(new StatsSampler(fakeSource()), { 'X-Content-Type-Options': 'nosniff' }, 50);
    const server = http.createServer((_req, res) => hub.open(res, { hello: true }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      assert.equal(hub.ticking, false);
      const { port } = server.address() as AddressInfo;
      const req = http.get({ host: '127.0.0.1', port, path: '/' });
      const res = await new Promise<http.IncomingMessage>((resolve) => req.once('response', resolve));
      assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      await until(() => (text.match(/^data: /gm) ?? []).length >= 4, 5000, 'hello and three snapshots');
      assert.match(text, /^retry: 2000\nevent: hello\ndata: \{"hello":true\}\n\n/);
      const snaps = text.split('\n\n').filter((b) => b.startsWith('data: ')).map((b) => JSON.parse(b.slice(6)));
      assert.equal(snaps[0].rates, null);
      assert.notEqual(snaps[2].rates, null);
      assert.equal(hub.ticking, true);
      assert.equal(hub.size, 1);
      req.destroy();
      await until(() => !hub.ticking, 5000, 'the timer to stop once the last stream closed');
      assert.equal(hub.size, 0);
    } finally {
      hub.closeAll();
      server.close();
    }
  });
});

describe('dashboard: browser guard', () => {
  const make = (readOnly: boolean): Dashboard =>
    new Dashboard({ enabled: true, readOnly, snapshots: new StatsSampler(fakeSource()), hello: { workers: 2, startedAt: 0, listeners: [] }, tokenRequired: false, count: () => undefined });
  const req = (method: string, headers: http.IncomingHttpHeaders): http.IncomingMessage => ({ method, headers }) as http.IncomingMessage;

  it('lets API clients and same-origin pages post; refuses other sites', () => {
    const d = make(false);
    assert.equal(d.refuses(req('POST', { host: '127.0.0.1:3111' })), null);
    assert.equal(d.refuses(req('POST', { host: '127.0.0.1:3111', 'sec-fetch-site': 'same-origin', origin: 'http://127.0.0.1:3111' })), null);
    assert.equal(d.refuses(req('POST', { host: '127.0.0.1:3111', origin: 'http://127.0.0.1:3111' })), null);
    assert.match(d.refuses(req('POST', { host: '127.0.0.1:3111', 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' }))!, /cross-origin request refused/);
    assert.match(d.refuses(req('POST', { host: '127.0.0.1:3111', origin: 'http://localhost:9999' }))!, /cross-origin/);
    assert.equal(d.refuses(req('GET', { host: '127.0.0.1:3111', 'sec-fetch-site': 'cross-site' })), null, 'reads are for the token to guard');
  });

  it('read-only: refuses every change a browser sends, none an API client sends', () => {
    const d = make(true);
    assert.match(d.refuses(req('POST', { host: 'h', 'sec-fetch-site': 'same-origin' }))!, /control\.dashboardReadOnly/);
    assert.equal(d.refuses(req('POST', { host: 'h' })), null);
  });
});
