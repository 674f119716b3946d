import assert from 'node:assert/strict';
import os from 'node:os';
import { Op } from '../../src/codec.js';
import { GoimClient } from '../helpers/goim-client.js';
import { startRedis, type RunningRedis } from '../helpers/redis.js';
import { startServer, type RunningServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

// The default cluster.nodeId names the control port as bound: two boxes on one host, both with
// control.port 0 and no cluster.nodeId, get two ids and both start (docs/cluster.md).
describe('cluster: the default node id with control.port 0', function () {
  this.timeout(60_000);
  let redis: RunningRedis;
  let boxes: RunningServer[] = [];
  let client: GoimClient | null = null;

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    client?.close();
    await Promise.all(boxes.map((b) => b.stop()));
    await redis?.stop();
  });

  it('gives each box <hostname>:<bound control port>, and a push crosses from one to the other', async () => {
    const config = { workers: 2, control: { port: 0 }, cluster: { redisUrl: redis.url, keyPrefix: 'nid', leaseMs: 1500, countIntervalMs: 200 } };
    // Both must start: keep those that did, so that after() stops them when the other did not.
    const started = await Promise.allSettled([startServer(config), startServer(config)]);
    boxes = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    for (const r of started) if (r.status === 'rejected') throw r.reason;
    const ids = await Promise.all(boxes.map(async (b) => (await b.health()).cluster.nodeId as string));
    assert.deepEqual(ids, boxes.map((b) => `${os.hostname()}:${b.controlPort}`));
    assert.notEqual(ids[0], ids[1]);
    for (const b of boxes) await until(async () => (await b.health()).cluster.boxes.length === 2, 10_000, 'both boxes live');

    // The workers use the same id (their channels and directory entries are named by it).
    client = await GoimClient.connect('tcp', boxes[1]!.tcpPort);
    assert.equal((await client.auth({ mid: 7, key: 'nid-k', room_id: 'live://nid', accepts: [1000] })).op, Op.AuthReply);
    const res = await fetch(`http://127.0.0.1:${boxes[0]!.controlPort}/goim/push/keys?operation=1000&keys=nid-k`, { method: 'POST', body: 'across' });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { data: { connections: number } }).data.connections, 1);
    // arrives (collectUntil throws past its deadline), with nothing else on the way but heartbeats
    const before = await client.collectUntil(1000, 'across');
    assert.deepEqual(before.filter((p) => p.op !== Op.HeartbeatReply), []);
  });
});
