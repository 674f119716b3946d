import assert from 'node:assert/strict';
import { Op } from '../../src/codec.js';
import { GoimClient } from '../helpers/goim-client.js';
import { startRedis, type RunningRedis } from '../helpers/redis.js';
import { startServer, type RunningServer } from '../helpers/server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { until } from '../helpers/wait.js';

const dec = new TextDecoder();

/**
 * The directory's edges (docs/cluster.md): the auth reply waits for the directory write, and a dead
 * worker's entries go with it. Box A reaches Redis through a proxy that holds A's commands 60 ms (a
 * distant Redis), so that a write made after the auth reply would reach Redis after box B's lookup.
 */
describe('cluster: the directory is written before the auth reply, and a dead worker leaves no entries', function () {
  this.timeout(120_000);
  let redis: RunningRedis;
  let proxy: TcpProxy;
  let a: RunningServer;
  let b: RunningServer;
  const clients: GoimClient[] = [];

  const config = (nodeId: string, url: string): Record<string, unknown> => ({
    workers: 2,
    cluster: { redisUrl: url, nodeId, leaseMs: 3000, keyPrefix: 'dir', countIntervalMs: 200, probeIntervalMs: 500, probeTimeoutMs: 1500, commandTimeoutMs: 1500, roomGraceMs: 300 },
    supervisor: { restartDelayMs: 50 },
    log: { level: process.env.CLUSTER_DEBUG ? 'debug' : 'warn' },
  });

  const push = async (box: RunningServer, path: string, body: string): Promise<{ status: number; json: any }> => {
    const res = await fetch(`http://127.0.0.1:${box.controlPort}${path}`, { method: 'POST', body });
    return { status: res.status, json: await res.json() };
  };

  before(async () => {
    redis = await startRedis();
    proxy = await startTcpProxy(Number(new URL(redis.url).port));
    [a, b] = await Promise.all([startServer(config('a', `redis://127.0.0.1:${proxy.port}`)), startServer(config('b', redis.url))]);
    proxy.delay(60);
  });
  after(async () => {
    for (const c of clients) c.close();
    await Promise.all([a?.stop('SIGKILL'), b?.stop('SIGKILL')]);
    await proxy?.close();
    await redis?.stop();
  });

  it('a push by key and by mid sent from box B as soon as a client on box A has its auth reply reaches it, every time', async () => {
    for (let i = 0; i < 30; i++) {
      const c = await GoimClient.connect('tcp', a.tcpPort);
      clients.push(c);
      const reply = await c.auth({ mid: 1000 + i, key: `race-${i}`, room_id: '', platform: 'web', accepts: [1000] });
      assert.equal(reply.op, Op.AuthReply);
      // at once, from the other box: by key, then by mid
      const byKey = await push(b, `/goim/push/keys?operation=1000&keys=race-${i}`, `key-${i}`);
      assert.equal(byKey.status, 200, JSON.stringify(byKey.json));
      assert.equal(byKey.json.data.connections, 1, `push by key ${i}: ${JSON.stringify(byKey.json)}`);
      const byMid = await push(b, `/goim/push/mids?operation=1000&mids=${1000 + i}`, `mid-${i}`);
      assert.equal(byMid.json.data.connections, 1, `push by mid ${i}: ${JSON.stringify(byMid.json)}`);
      assert.equal(dec.decode((await c.expect(1000, 5000)).body), `key-${i}`);
      assert.equal(dec.decode((await c.expect(1000, 5000)).body), `mid-${i}`);
    }
  });

  it('GET /sessions?mid= on any box lists the user\'s sessions on every box', async () => {
    proxy.delay(0);
    const devices: Array<[RunningServer, string, string]> = [[a, 'sess-a', 'ios'], [b, 'sess-b', 'web']];
    for (const [box, key, platform] of devices) {
      const c = await GoimClient.connect('tcp', box.tcpPort);
      clients.push(c);
      assert.equal((await c.auth({ mid: 4000, key, room_id: 'live://s', platform, accepts: [1000] })).op, Op.AuthReply);
    }
    for (const [box, self] of [[a, 'a'], [b, 'b']] as const) {
      const r = await box.get('/sessions?mid=4000');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const sessions = r.body.data.sessions as Array<{ key: string; node: string; platform: string; rooms: string[] | null }>;
      assert.deepEqual(sessions.map((x) => [x.key, x.node, x.platform]).sort(), [['sess-a', 'a', 'ios'], ['sess-b', 'b', 'web']]);
      // this box's own sessions in full; the other's as the directory has them
      for (const x of sessions) assert.deepEqual(x.rooms, x.node === self ? ['live://s'] : null, x.key);
    }
  });

  it("a worker's death removes its directory entries: a push from box B to its clients answers 0", async () => {
    proxy.delay(0);
    const mine: Array<{ c: GoimClient; key: string; gone: boolean }> = [];
    for (let i = 0; i < 8; i++) {
      const c = await GoimClient.connect('tcp', a.tcpPort);
      clients.push(c);
      assert.equal((await c.auth({ mid: 2000 + i, key: `w-${i}`, room_id: '', platform: 'web', accepts: [1000] })).op, Op.AuthReply);
      const entry = { c, key: `w-${i}`, gone: false };
      void c.closed.then(() => (entry.gone = true));
      mine.push(entry);
    }
    const before = await push(b, `/goim/push/keys?operation=1000&${mine.map((m) => `keys=${m.key}`).join('&')}`, 'before');
    assert.equal(before.json.data.connections, 8);
    const crash = await fetch(`http://127.0.0.1:${a.controlPort}/debug/workers/0/crash?mode=exit`, { method: 'POST' });
    assert.equal(crash.status, 200);
    await until(() => mine.some((m) => m.gone), 5000, "worker 0's clients to be cut off");
    // its replacement runs (and is subscribed to worker 0's channel again): a push that named its
    // old entries would reach it and be counted
    await until(async () => {
      const h = await a.health();
      return h.workers?.length === 2 && h.workers.every((w: { state: string; restarts: number }) => w.state === 'ready') && h.workers.some((w: { restarts: number }) => w.restarts > 0);
    }, 10_000, 'the replacement worker');
    await until(async () => (await a.health()).cluster?.engine?.state === 'up', 10_000, "the replacement's engine");
    const dead = mine.filter((m) => m.gone);
    const alive = mine.filter((m) => !m.gone);
    assert.ok(dead.length > 0 && alive.length > 0, `clients spread over both workers (${dead.length} cut off)`);
    const toDead = await push(b, `/goim/push/keys?operation=1000&${dead.map((m) => `keys=${m.key}`).join('&')}`, 'after');
    assert.equal(toDead.status, 200);
    assert.equal(toDead.json.data.connections, 0, JSON.stringify(toDead.json));
    const toMid = await push(b, `/goim/push/mids?operation=1000&mids=${2000 + Number(dead[0]!.key.slice(2))}`, 'after');
    assert.equal(toMid.json.data.connections, 0, JSON.stringify(toMid.json));
    const toAlive = await push(b, `/goim/push/keys?operation=1000&${alive.map((m) => `keys=${m.key}`).join('&')}`, 'after');
    assert.equal(toAlive.json.data.connections, alive.length);
  });
});
