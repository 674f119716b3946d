/**
 * The push-to-write latency histogram (src/latency-histogram.ts, written by actors/deliverer.ts in
 * each worker's status words) seen from outside, against a real server with two workers: it moves
 * when pushes are delivered — in /metrics as the Prometheus histogram
 * ringcast_push_write_latency_seconds per worker, and in the dashboard stream's p50/p99 — and stays
 * put when nothing is written.
 */
import assert from 'node:assert/strict';
import { GoimClient } from '../helpers/goim-client.js';
import { metricsText, startServer, until, type RunningServer } from '../helpers/server.js';
import { sseEvents } from '../helpers/sse.js';

const NAME = 'ringcast_push_write_latency_seconds';

/** The histogram's samples: { 'bucket{le,worker}' | 'sum{worker}' | 'count{worker}' → value }. */
function histogram(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${NAME}_(bucket|sum|count)\\{([^}]*)\\} (\\S+)$`).exec(line);
    if (m === null) continue;
    const labels = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    out.set(m[1] === 'bucket' ? `bucket ${labels.worker} ${labels.le}` : `${m[1]} ${labels.worker}`, Number(m[3]));
  }
  return out;
}

const total = (h: Map<string, number>): number => (h.get('count 0') ?? 0) + (h.get('count 1') ?? 0);

describe('push-to-write latency histogram', function () {
  this.timeout(60_000);
  let s: RunningServer;
  const clients: GoimClient[] = [];

  before(async () => {
    s = await startServer({ workers: 2 });
    for (let i = 0; i < 4; i++) {
      const c = await GoimClient.connect(i % 2 === 0 ? 'ws' : 'tcp', i % 2 === 0 ? s.wsPort : s.tcpPort);
      assert.equal((await c.auth({ mid: 500 + i, key: `lat-${i}`, room_id: 'live://lat', accepts: [1000] })).op, 8);
      clients.push(c);
    }
  });
  after(async () => {
    for (const c of clients) c.close();
    await s?.stop('SIGKILL');
  });

  it('is a Prometheus histogram per worker in /metrics that counts each push written, once per push', async () => {
    const text0 = await metricsText(s.controlPort);
    assert.match(text0, new RegExp(`# TYPE ${NAME} histogram`));
    const before = histogram(text0);
    assert.equal(total(before), 0, 'nothing pushed yet');
    assert.ok(before.has('bucket 0 +Inf') && before.has('bucket 1 +Inf') && before.has('sum 0'), 'both workers, from the start');
    const pushes = 10;
    for (let i = 0; i < pushes; i++) {
      const r = await fetch(`http://127.0.0.1:${s.controlPort}/goim/push/room?operation=1000&type=live&room=lat`, { method: 'POST', body: `p${i}` });
      assert.equal(r.status, 200);
    }
    const byKey = await fetch(`http://127.0.0.1:${s.controlPort}/goim/push/keys?operation=1000&keys=lat-0`, { method: 'POST', body: 'to one key' });
    assert.equal(byKey.status, 200);
    for (const c of clients) await c.collectUntil(1000, 'p9');
    await clients[0]!.collectUntil(1000, 'to one key');
    // Each worker that holds members counts each room push once (not once per member), the push by key once.
    // (The kernel spreads connections over the workers; under load it may give them all to one.)
    const workersWithMembers = (await s.get('/health')).body.workers.filter((w: { connections: number }) => w.connections > 0).length;
    await until(async () => total(histogram(await metricsText(s.controlPort))) === pushes * workersWithMembers + 1, 5000, 'every push counted');
    const after = histogram(await metricsText(s.controlPort));
    for (const w of ['0', '1']) {
      if (after.get(`count ${w}`) === 0) continue; // a worker that held no member wrote nothing
      const les = [...after.keys()].filter((k) => k.startsWith(`bucket ${w} `)).map((k) => k.split(' ')[2]!);
      assert.equal(les.at(-1), '+Inf');
      const counts = les.map((le) => after.get(`bucket ${w} ${le}`)!);
      for (let i = 1; i < counts.length; i++) assert.ok(counts[i]! >= counts[i - 1]!, `worker ${w}: cumulative buckets`);
      assert.equal(counts.at(-1), after.get(`count ${w}`));
      assert.ok(after.get(`sum ${w}`)! > 0 && after.get(`sum ${w}`)! < 10, `worker ${w}: a sum in seconds`);
    }
  });

  it('moves the dashboard stream\'s p50/p99 while pushes are written', async () => {
    const ctl = new AbortController();
    const res = await fetch(`http://127.0.0.1:${s.controlPort}/dashboard/stream`, { signal: ctl.signal });
    const snaps: any[] = [];
    let pushing = true;
    let n = 0;
    const pusher = (async () => {
      while (pushing) {
        await fetch(`http://127.0.0.1:${s.controlPort}/goim/push/room?operation=1000&type=live&room=lat`, { method: 'POST', body: `q${n++}` });
        await new Promise((r) => setTimeout(r, 50)); // a steady trickle of pushes, not a synchronisation
      }
    })();
    try {
      for await (const e of sseEvents(res.body!)) {
        if (e.event !== 'hello') snaps.push(e.data);
        if (snaps.some((x) => x.latency !== null && x.latency.count > 0)) break;
      }
    } finally {
      pushing = false;
      await pusher;
      ctl.abort();
    }
    const moved = snaps.find((x) => x.latency !== null && x.latency.count > 0);
    assert.ok(moved !== undefined);
    assert.ok(moved.latency.p50Ms > 0 && moved.latency.p99Ms >= moved.latency.p50Ms, JSON.stringify(moved.latency));
    assert.equal(moved.latency.workers.length, 2);
    assert.equal(moved.latency.workers.reduce((a: number, w: any) => a + w.count, 0), moved.latency.count);
  });
});
