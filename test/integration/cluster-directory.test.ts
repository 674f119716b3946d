import assert from 'node:assert/strict';
import { Op } from '../../src/codec.js';
import { GoimClient } from '../helpers/goim-client.js';
import { startRedis, type RunningRedis } from '../helpers/redis.js';
import { startServer, type RunningServer } from '../helpers/server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const dec = new TextDecoder();

/**
 * The directory's edges (docs/cluster.md): the auth reply waits for the directory write. Box A reaches Redis through a proxy that holds A's commands 60 ms (a
 * distant Redis), so that a write made after the auth reply would reach Redis after box B's lookup.
 */
describe('cluster: the directory is written before the auth reply', function () {
  this.timeout(120_000);
  let redis: RunningRedis;
  let proxy: TcpProxy;
  let a: RunningServer;
  let b: RunningServer;
  const clients: GoimClient[] = [];

  const config = (nodeId: string, url: string): Record<string, unknown> => ({
    workers: 2,
    cluster: { redisUrl: url, nodeId, leaseMs: 3000, keyPrefix: 'dir', countIntervalMs: 200, probeIntervalMs: 500, probeTimeoutMs: 1500, commandTimeoutMs: 1500, roomGraceMs: 300 },
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
});
