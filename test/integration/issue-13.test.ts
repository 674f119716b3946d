/**
 * Issue 13 on a real server with 3 workers.
 *
 * The key directory is sharded over the workers (hash of the key), so a key's registration goes to
 * its shard, never through the acceptor. Same-key replacement (op 6 4001) holds when the two
 * connections are on different workers and the key's shard is on a third, and a push by key then
 * reaches the newer connection exactly once; a dead worker's keys are purged from the other shards,
 * and a replaced shard is filled again by the others (resync).
 *
 * Every worker serves the control port: pushes by key and by mid taken by any worker reach their
 * holders exactly once (each answer names the worker that took it, x-ringcast-worker); online counts
 * and sessions are the same whichever worker answers; control.ratePerSec and push.maxInFlight are
 * one limit for the whole process.
 */
import assert from 'node:assert/strict';
import { shardOfKey } from '../../src/hash.js';
import { Op } from '../../src/ops.js';
import { ControlConnection } from '../helpers/control.js';
import { GoimClient } from '../helpers/goim-client.js';
import { controlRequest, limitRefusals, startServer, until, type RunningServer } from '../helpers/server.js';

const WORKERS = 3;

describe('issue 13: key directory sharded over the workers', function () {
  this.timeout(60_000);
  let s: RunningServer;
  const clients: GoimClient[] = [];
  let nextMid = 13_000;

  before(async () => {
    s = await startServer({ workers: WORKERS, supervisor: { restartDelayMs: 20 } });
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  after(async () => {
    await s.stop('SIGKILL');
  });

  /** A key whose directory shard is `shard`. */
  function keyOnShard(shard: number, tag: string): string {
    for (let i = 0; ; i++) if (shardOfKey(`${tag}-${i}`, WORKERS) === shard) return `${tag}-${i}`;
  }

  /** The worker holding a user's (single) connection, from GET /sessions. */
  async function workerOf(mid: number): Promise<number> {
    let worker = -1;
    await until(async () => {
      const list = (await s.get(`/sessions?mid=${mid}`)).body.data.sessions as Array<{ worker: number }>;
      if (list.length === 1) worker = list[0]!.worker;
      return list.length === 1;
    }, 5000, `the connection of mid ${mid} to be registered`);
    return worker;
  }

  async function connect(key: string, kind: 'tcp' | 'ws' = 'tcp'): Promise<{ c: GoimClient; mid: number; worker: number }> {
    const c = await GoimClient.connect(kind, kind === 'tcp' ? s.tcpPort : s.wsPort);
    clients.push(c);
    const mid = nextMid++;
    assert.equal((await c.auth({ mid, key, accepts: [1000] })).op, Op.AuthReply);
    return { c, mid, worker: await workerOf(mid) };
  }

  /**
   * Two connections with the same key on two different workers, neither of which owns the key's
   * shard (the kernel picks the worker: retried until it fits).
   */
  async function sameKeyOnTwoWorkers(tag: string): Promise<{ key: string; older: { c: GoimClient; worker: number }; newer: { c: GoimClient; worker: number }; shard: number }> {
    const shard = WORKERS - 1;
    for (let attempt = 0; attempt < 60; attempt++) {
      const key = keyOnShard(shard, `${tag}-${attempt}`);
      const older = await connect(key);
      if (older.worker === shard) {
        older.c.close();
        continue;
      }
      const newer = await connect(key, 'ws');
      if (newer.worker !== shard && newer.worker !== older.worker) return { key, older, newer, shard };
      older.c.close();
      newer.c.close();
    }
    throw new Error('the kernel never spread the two connections as needed');
  }

  async function pushKey(key: string, body: string): Promise<number> {
    const res = await controlRequest(s.controlPort, 'POST', `/goim/push/keys?operation=1000&keys=${encodeURIComponent(key)}`, body);
    assert.equal(res.status, 200, res.text);
    return (JSON.parse(res.text) as { data: { connections: number } }).data.connections;
  }

  it('same-key replacement across workers with the key shard on a third: the older gets op 6 4001, a push by key reaches the newer exactly once', async () => {
    const { key, older, newer } = await sameKeyOnTwoWorkers('swap');
    const kicked = await older.c.expect(Op.DisconnectReply);
    assert.equal(JSON.parse(kicked.body.toString()).code, 4001);
    await older.c.closed;
    assert.equal(await pushKey(key, 'one'), 1);
    assert.equal(await pushKey(key, 'end'), 1);
    const got = await newer.c.collectUntil(1000, 'end');
    assert.deepEqual(got.filter((p) => p.op === 1000).map((p) => p.body.toString()), ['one'], 'exactly once, and nothing else');
  });

  it("a replaced key shard is filled again by the others (resync): pushes by key and same-key replacement still find the holder", async () => {
    const { key, newer, shard } = await sameKeyOnTwoWorkers('resync');
    const before = (await s.health()).workers[shard];
    assert.equal((await s.post(`/debug/workers/${shard}/crash?mode=exit`)).status, 200);
    await until(async () => {
      const w = (await s.health()).workers[shard];
      return w.restarts === before.restarts + 1 && w.state === 'ready';
    }, 10_000, `worker ${shard} replaced`);
    // The resync is a record from each live worker to the new shard: the push finds the holder once it is applied.
    await until(async () => (await pushKey(key, 'probe')) === 1, 5000, 'the holder re-registered with the new shard');
    assert.equal(await pushKey(key, 'after'), 1);
    const got = await newer.c.collectUntil(1000, 'after');
    assert.ok(got.every((p) => p.body.toString() === 'probe'), 'only the probes before');
    // The new shard knows the holder: a third connection with the key replaces it.
    let third: { c: GoimClient; worker: number } | null = null;
    for (let i = 0; i < 30 && third === null; i++) {
      const c = await connect(key);
      if (c.worker !== newer.worker) third = c;
      else {
        // Same worker: the registry replaced it locally; start over with the one just made.
        newer.c = c.c;
        newer.worker = c.worker;
      }
    }
    assert.ok(third !== null, 'a connection on another worker');
    assert.equal(JSON.parse((await newer.c.expect(Op.DisconnectReply)).body.toString()).code, 4001);
  });

  it("a dead worker's keys are purged from the other shards: a push by such a key reaches nobody, not a new connection that reuses its id", async () => {
    const srv = await startServer({ workers: WORKERS, supervisor: { restartDelayMs: 20 } });
    const mine: GoimClient[] = [];
    try {
      const open = async (key: string): Promise<{ c: GoimClient; worker: number; mid: number }> => {
        const c = await GoimClient.connect('tcp', srv.tcpPort);
        mine.push(c);
        const mid = nextMid++;
        assert.equal((await c.auth({ mid, key, accepts: [1000] })).op, Op.AuthReply);
        let worker = -1;
        await until(async () => {
          const list = (await srv.get(`/sessions?mid=${mid}`)).body.data.sessions as Array<{ worker: number }>;
          if (list.length === 1) worker = list[0]!.worker;
          return list.length === 1;
        }, 5000, `mid ${mid} registered`);
        return { c, worker, mid };
      };
      // A holder whose key's shard is on another worker.
      let victim: { c: GoimClient; worker: number; key: string } | null = null;
      for (let i = 0; victim === null; i++) {
        const key = `purge-${i}`;
        const x = await open(key);
        if (x.worker !== shardOfKey(key, WORKERS)) victim = { ...x, key };
      }
      const health = async (): Promise<Array<{ accepted: number; restarts: number; state: string }>> => (await srv.health()).workers;
      const accepted = (await health())[victim.worker]!.accepted;
      assert.equal((await srv.post(`/debug/workers/${victim.worker}/crash?mode=exit`)).status, 200);
      await victim.c.closed;
      await until(async () => (await health())[victim!.worker]!.state === 'ready', 10_000, 'the worker replaced');
      // New connections until the replacement has handed out every id the dead worker had (ids start
      // at 1 again; the slot's accepted count goes on from the dead worker's).
      const fresh: GoimClient[] = [];
      for (let i = 0; (await health())[victim.worker]!.accepted < 2 * accepted; i++) fresh.push((await open(`fresh-${i}`)).c);
      const res = await controlRequest(srv.controlPort, 'POST', `/goim/push/keys?operation=1000&keys=${victim.key}`, 'stale');
      assert.deepEqual((JSON.parse(res.text) as { data: unknown }).data, { connections: 0 });
      // The shard answered 0, so nothing was sent; a marker to every fresh connection shows none got 'stale'.
      for (let i = 0; i < fresh.length; i++) {
        await controlRequest(srv.controlPort, 'POST', `/goim/push/keys?operation=1000&keys=fresh-${i}`, 'end');
        assert.deepEqual((await fresh[i]!.collectUntil(1000, 'end')).filter((p) => p.op === 1000).map((p) => p.body.toString()), []);
      }
    } finally {
      for (const c of mine) c.close();
      await srv.stop('SIGKILL');
    }
  });

  it('pushes by key and by mid taken by any worker reach their holders exactly once; online counts and sessions agree on every worker', async () => {
    const conns = await ControlConnection.onEveryWorker(s.controlPort, WORKERS);
    try {
      const held: Array<{ c: GoimClient; key: string; mid: number; worker: number }> = [];
      for (let i = 0; i < 9; i++) {
        const key = `any-${i}`;
        const x = await connect(key, i % 2 === 0 ? 'tcp' : 'ws');
        held.push({ ...x, key });
      }
      assert.equal(new Set(held.map((h) => h.worker)).size > 1, true, 'holders on more than one worker');
      for (const conn of conns) {
        for (const h of held) {
          const byKey = await conn.post(`/goim/push/keys?operation=1000&keys=${h.key}`, `key-via-${conn.worker}`);
          assert.equal(byKey.worker, conn.worker);
          assert.deepEqual(byKey.json, { code: 0, message: '', data: { connections: 1 } }, `key ${h.key} via worker ${conn.worker}`);
          const byMid = await conn.post(`/goim/push/mids?operation=1000&mids=${h.mid}`, `mid-via-${conn.worker}`);
          assert.deepEqual(byMid.json.data, { connections: 1 }, `mid ${h.mid} via worker ${conn.worker}`);
        }
      }
      for (const conn of conns) for (const h of held) await conn.post(`/goim/push/keys?operation=1000&keys=${h.key}`, 'end');
      const expected = conns.flatMap((c) => [`key-via-${c.worker}`, `mid-via-${c.worker}`]).sort();
      for (const h of held) {
        const got = (await h.c.collectUntil(1000, 'end')).filter((p) => p.op === 1000).map((p) => p.body.toString());
        assert.deepEqual(got.sort(), expected, `${h.key} (on worker ${h.worker}): one of each, from every worker`);
      }
      // The read routes ask every worker (online counts) or the user's shard and holders (sessions).
      const answers = await Promise.all(conns.map(async (c) => [(await c.get('/goim/online/total')).json.data, (await c.get(`/sessions?mid=${held[0]!.mid}`)).json.data.sessions.map((x: { key: string; worker: number }) => [x.key, x.worker])]));
      for (const a of answers) assert.deepEqual(a, answers[0], 'the same answer from every worker');
      assert.ok((answers[0]![0] as { conn_count: number }).conn_count >= held.length);
      assert.deepEqual(answers[0]![1], [[held[0]!.key, held[0]!.worker]]);
    } finally {
      for (const c of conns) c.close();
    }
  });

  it('control.ratePerSec is one limit for the process: a burst spread over every worker is refused past control.burst once, counted once', async () => {
    const srv = await startServer({ workers: WORKERS, control: { ratePerSec: 1, burst: 4 } });
    try {
      const conns = await ControlConnection.onEveryWorker(srv.controlPort, WORKERS);
      const statuses: Array<[number, number]> = [];
      for (let i = 0; i < 12; i++) {
        const c = conns[i % WORKERS]!;
        const a = await c.get('/goim/online/total');
        statuses.push([c.worker, a.status]);
        if (a.status === 429) assert.match(a.json.message, /control\.ratePerSec/);
      }
      for (const c of conns) c.close();
      const ok = statuses.filter(([, st]) => st === 200).length;
      // The burst of 4, plus one more token if a second passed meanwhile; every worker alone would have let 4 through.
      assert.ok(ok >= 4 && ok <= 6, `${ok} of 12 requests let through: ${JSON.stringify(statuses)}`);
      assert.ok(new Set(statuses.filter(([, st]) => st === 429).map(([w]) => w)).size >= 2, 'refused on more than one worker');
      // /metrics is rate limited too: every refused scrape is one more refusal.
      let refusedScrapes = 0;
      let counted = -1;
      await until(async () => {
        const r = await limitRefusals(srv.controlPort).catch(() => null);
        if (r === null) refusedScrapes++;
        else counted = r['control.ratePerSec']!;
        return r !== null;
      }, 5000, 'a scrape of /metrics let through');
      assert.equal(counted, 12 - ok + refusedScrapes, 'each refusal counted once, whichever worker refused it');
    } finally {
      await srv.stop('SIGKILL');
    }
  });

  it('push.maxInFlight is one limit for the process: with one push in flight on one worker, another worker refuses the next (503)', async () => {
    const srv = await startServer({ workers: 2, push: { maxInFlight: 1, batchWindowMs: 800 } });
    try {
      const conns = await ControlConnection.onEveryWorker(srv.controlPort, 2);
      const open = conns[0]!.post('/goim/push/room?operation=1000&type=live&room=busy', 'x');
      await until(async () => (await controlRequest(srv.controlPort, 'GET', '/metrics')).text.includes('ringcast_pushes_in_flight 1'), 1000, 'the push in flight');
      const refused = await conns[1]!.post('/goim/push/room?operation=1000&type=live&room=busy', 'y');
      assert.equal(refused.status, 503);
      assert.match(refused.json.message, /overloaded: 1 pushes in flight \(push\.maxInFlight\)/);
      assert.equal((await open).status, 200);
      assert.equal((await conns[1]!.post('/goim/push/room?operation=1000&type=live&room=busy', 'z')).status, 200, 'room again once it is answered');
      for (const c of conns) c.close();
    } finally {
      await srv.stop('SIGKILL');
    }
  });
});
