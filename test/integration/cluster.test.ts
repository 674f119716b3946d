import assert from 'node:assert/strict';
import { Op } from '../../src/codec.js';
import { ExtOp } from '../../src/ops.js';
import { GoimClient, type Packet } from '../helpers/goim-client.js';
import { startRedis, type RunningRedis } from '../helpers/redis.js';
import { runMain, startServer, writeConfig, type RunningServer } from '../helpers/server.js';
import { sleep, until } from '../helpers/wait.js';

interface Member {
  c: GoimClient;
  box: number;
  mid: number;
  key: string;
  room: string;
}

const dec = new TextDecoder();
const bodies = (ps: Packet[]): string[] => ps.filter((p) => p.op !== Op.HeartbeatReply).map((p) => `${p.op}:${dec.decode(p.body)}`);

describe('cluster: three boxes on one Redis', function () {
  this.timeout(120_000);
  let redis: RunningRedis;
  let boxes: RunningServer[] = [];
  let members: Member[] = [];
  let prefix = '';
  let seq = 0;

  const clusterConfig = (nodeId: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    workers: 2,
    cluster: { redisUrl: redis.url, nodeId, leaseMs: 1500, keyPrefix: prefix, countIntervalMs: 200, probeIntervalMs: 500, probeTimeoutMs: 1000, commandTimeoutMs: 1000, roomGraceMs: 300 },
    multiLogin: { kick: 'ios' },
    log: { level: process.env.CLUSTER_DEBUG ? 'debug' : 'warn' },
    ...extra,
  });

  const post = async (box: RunningServer, path: string, body: string | Uint8Array): Promise<{ status: number; json: any }> => {
    const headers = path === '/push/batch' ? { 'content-type': 'application/json' } : undefined;
    const res = await fetch(`http://127.0.0.1:${box.controlPort}${path}`, { method: 'POST', body, headers });
    return { status: res.status, json: await res.json() };
  };

  const connect = async (box: number, mid: number, key: string, room: string, platform = 'web'): Promise<Member> => {
    const c = await GoimClient.connect('tcp', boxes[box]!.tcpPort);
    assert.equal((await c.auth({ mid, key, room_id: room, platform, accepts: [1000, 1001] })).op, Op.AuthReply);
    return { c, box, mid, key, room };
  };

  /** Sends a marker to everyone (push to all from box 0) and returns, per key, what arrived before it. */
  const drainAll = async (marker: string): Promise<Map<string, string[]>> => {
    const r = await post(boxes[0]!, '/goim/push/all?operation=1001', marker);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const out = new Map<string, string[]>();
    for (const m of members) out.set(m.key, bodies(await m.c.collectUntil(1001, marker)));
    return out;
  };

  /** The box's view of the cluster-wide online total. */
  const total = async (box: RunningServer): Promise<number> => (await box.get('/goim/online/total')).body.data?.conn_count ?? -1;

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  beforeEach(async () => {
    prefix = `c${++seq}`;
    boxes = await Promise.all(['a', 'b', 'c'].map((id) => startServer(clusterConfig(id))));
    members = [];
    for (let box = 0; box < 3; box++) {
      for (let i = 0; i < 4; i++) {
        const n = box * 10 + i;
        members.push(await connect(box, 100 + n, `k${n}`, i % 2 === 0 ? 'live://even' : 'live://odd'));
      }
    }
    // every box counts all 12 once the counts of all three are published
    for (const b of boxes) await until(async () => (await total(b)) === 12, 10_000, 'the cluster-wide total');
  });

  afterEach(async () => {
    for (const m of members) m.c.close();
    await Promise.all(boxes.map((b) => b.stop('SIGKILL')));
  });

  it('pushes by key, mid, room, all and batch reach exactly the intended clients on every box, once', async () => {
    // by key from box 0 to one client on each box
    let r = await post(boxes[0]!, '/goim/push/keys?operation=1000&keys=k1&keys=k12&keys=k23', 'to-keys');
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.data.connections, 3);
    // by mid from box 1: users on box 0 and box 2, one of them with a second device on box 1
    members.push(await connect(1, 100, 'k0-phone', 'live://none'));
    r = await post(boxes[1]!, '/goim/push/mids?operation=1000&mids=100&mids=122', 'to-mids');
    assert.equal(r.json.data.connections, 3, JSON.stringify(r.json));
    // room from box 2
    r = await post(boxes[2]!, '/goim/push/room?operation=1000&type=live&room=odd', 'to-odd');
    assert.equal(r.status, 200);
    // batch from box 0: keys and mids on the other boxes
    const batch = {
      pushes: [
        { op: 1000, keys: ['k13', 'k20'], body_base64: Buffer.from('b-keys').toString('base64') },
        { op: 1000, mids: [111], body_base64: Buffer.from('b-mid').toString('base64') },
      ],
    };
    r = await post(boxes[0]!, '/push/batch', JSON.stringify(batch));
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const got = await drainAll('end-1');
    for (const m of members) {
      const want: string[] = [];
      if (['k1', 'k12', 'k23'].includes(m.key)) want.push('1000:to-keys');
      if (m.mid === 100 || m.mid === 122) want.push('1000:to-mids');
      if (m.room === 'live://odd') want.push('1000:to-odd');
      if (['k13', 'k20'].includes(m.key)) want.push('1000:b-keys');
      if (m.mid === 111) want.push('1000:b-mid');
      assert.deepEqual(got.get(m.key)!.sort(), want.sort(), m.key);
    }
  });

  it('a batch of 100,000 users is one request and reaches the few that are online on other boxes', async () => {
    const mids = Array.from({ length: 100_000 }, (_, i) => 200_000 + i);
    mids[500] = 111;
    mids[99_000] = 121;
    const t0 = Date.now();
    const r = await post(boxes[0]!, '/push/batch', JSON.stringify({ pushes: [{ op: 1000, mids, body_base64: Buffer.from('big').toString('base64') }] }));
    assert.equal(r.status, 200, JSON.stringify(r.json).slice(0, 300));
    const got = await drainAll('end-big');
    for (const m of members) assert.deepEqual(got.get(m.key), m.key === 'k11' || m.key === 'k21' ? ['1000:big'] : [], m.key);
    assert.ok(Date.now() - t0 < 30_000);
  });

  it('counts are exact on every box: total, rooms, top; heartbeat replies carry the cluster-wide room count', async () => {
    for (const b of boxes) {
      const rooms = (await b.get('/goim/online/room?type=live&rooms=even&rooms=odd')).body.data;
      assert.deepEqual(rooms, { even: 6, odd: 6 });
      const top = (await b.get('/goim/online/top?type=live&limit=5')).body.data;
      assert.deepEqual(top.map((t: { room_id: string; count: number }) => [t.room_id, t.count]).sort(), [['even', 6], ['odd', 6]]);
    }
    await until(async () => (await members[0]!.c.heartbeat()) === 6, 5000, 'the heartbeat room count to be the cluster sum');
    // one more on box 2: every box sees 13
    members.push(await connect(2, 999, 'k999', 'live://even'));
    for (const b of boxes) await until(async () => (await total(b)) === 13, 5000, 'the new total');
    const nodes = (await boxes[0]!.get('/goim/nodes/weighted')).body.data;
    assert.deepEqual(nodes.ringcast_nodes.map((n: { node_id: string }) => n.node_id).sort(), ['a', 'b', 'c']);
  });

  it('a key is unique cluster-wide (4001 on the other box) and multi-login kick reaches other boxes (4002)', async () => {
    const old = members.find((m) => m.key === 'k0')!;
    const again = await connect(2, 100, 'k0', 'live://even');
    const kicked = await old.c.expect(Op.DisconnectReply, 5000);
    assert.equal(JSON.parse(dec.decode(kicked.body)).code, 4001);
    members = members.filter((m) => m !== old);
    members.push(again);
    // ios is a kick platform: a second ios login of mid 500 on another box closes the first
    // The auth reply comes once the directory has the login: the second login, made right after, is the later one.
    const first = await connect(0, 500, 'ios-1', 'live://x', 'ios');
    const second = await connect(1, 500, 'ios-2', 'live://x', 'ios');
    const k2 = await first.c.expect(Op.DisconnectReply, 5000);
    assert.equal(JSON.parse(dec.decode(k2.body)).code, 4002);
    members.push(second);
    const r = await post(boxes[2]!, '/goim/push/keys?operation=1000&keys=k0&keys=ios-2', 'after');
    assert.equal(r.json.data.connections, 2);
    const got = await drainAll('end-kick');
    assert.deepEqual(got.get('k0'), ['1000:after']);
    assert.deepEqual(got.get('ios-2'), ['1000:after']);
    // POST /admin/kick on box 0 reaches a key held on box 2 (op 6 4006 there); a key nobody holds is 404
    const target = members.find((m) => m.key === 'k22')!;
    const kick = await post(boxes[0]!, '/admin/kick?key=k22', '');
    assert.equal(kick.status, 200, JSON.stringify(kick.json));
    assert.equal(kick.json.data.kicked, 1);
    assert.equal(JSON.parse(dec.decode((await target.c.expect(Op.DisconnectReply, 5000)).body)).code, 4006);
    members = members.filter((m) => m !== target);
    assert.equal((await post(boxes[0]!, '/admin/kick?key=nobody-here', '')).status, 404);
  });

  it('a box killed -9 under load: pushes to the others never stall, and its entries and counts are gone within the lease', async () => {
    const dead = boxes[2]!;
    let stop = false;
    let worst = 0;
    let failed = 0;
    const load = (async () => {
      while (!stop) {
        const t0 = Date.now();
        const r = await post(boxes[0]!, '/goim/push/mids?operation=1000&mids=111&mids=121', 'load');
        if (r.status !== 200) failed++;
        worst = Math.max(worst, Date.now() - t0);
        await sleep(20); // paced load: the point is each push's latency while a box dies
      }
    })();
    dead.proc.kill('SIGKILL');
    members = members.filter((m) => m.box !== 2);
    const t0 = Date.now();
    await until(async () => (await total(boxes[0]!)) === 8 && (await total(boxes[1]!)) === 8, 6000, "the dead box's counts to drop");
    const dropped = Date.now() - t0;
    await until(async () => (await post(boxes[0]!, '/goim/push/mids?operation=1000&mids=121', 'x')).json.data.connections === 0, 6000, "the dead box's entries to be skipped");
    stop = true;
    await load;
    assert.equal(failed, 0);
    assert.ok(worst < 1500, `a push took ${worst} ms`);
    assert.ok(dropped < 4000, `counts dropped after ${dropped} ms`);
    for (const m of members) m.c.close();
    members = [];
  });

  it('Redis SIGKILLed and restarted under load: local service goes on, cross-box pushes answer 503 naming the engine, then work again by themselves; room members get the gap marker', async () => {
    // load: pushes by mid across boxes from box 2, paced, all through the outage
    let stop = false;
    const statuses: number[] = [];
    const load = (async () => {
      while (!stop) {
        statuses.push((await post(boxes[2]!, '/goim/push/mids?operation=1000&mids=101&mids=111', 'load')).status);
        await sleep(20); // paced load: each push's answer during the outage is what is checked
      }
    })();
    await until(() => statuses.includes(200), 5000, 'the load to run');
    await redis.kill();
    // the boxes notice (probe) and refuse cross-box pushes clearly
    await until(async () => (await post(boxes[0]!, '/goim/push/mids?operation=1000&mids=111', 'x')).status === 503, 5000, 'a 503 while Redis is down');
    const r = await post(boxes[0]!, '/goim/push/mids?operation=1000&mids=102', 'local-only');
    assert.equal(r.status, 503);
    assert.match(r.json.message, new RegExp(`cluster engine ${redis.url.replace(/[/.]/g, '\\$&')} unavailable: .*delivered to 1 connection\\(s\\) on this box only`));
    // local clients are still served: heartbeats, local pushes
    const local = members.find((m) => m.mid === 102)!;
    const p = await local.c.expect(1000, 3000);
    assert.equal(dec.decode(p.body), 'local-only');
    assert.ok((await local.c.heartbeat()) >= 0);
    const health = (await boxes[0]!.get('/health')).body;
    assert.notEqual(health.cluster.engine.state, 'up');
    // a new client is served too: its auth reply does not wait for the directory write Redis cannot take
    const t1 = Date.now();
    members.push(await connect(0, 150, 'k-during', 'live://none'));
    assert.ok(Date.now() - t1 < 1000, `auth took ${Date.now() - t1} ms while Redis was down`);

    await redis.restart();
    const t0 = Date.now();
    await until(async () => (await post(boxes[0]!, '/goim/push/mids?operation=1000&mids=111&mids=121', 'back')).json.data?.connections === 2, 10_000, 'cross-box pushes to work again');
    const recovered = Date.now() - t0;
    assert.ok(recovered < 8000, `recovered in ${recovered} ms`);
    await until(() => statuses.at(-1) === 200, 8000, "box 2's cross-box pushes to work again");
    stop = true;
    await load;
    // every answer under load was 200 or a clear 503, and the last ones are 200 again
    assert.deepEqual([...new Set(statuses)].sort(), [200, 503]);
    assert.equal(statuses.at(-1), 200);
    // room members on every box get the gap marker (op 104) once their subscription is back
    const gap = await members.find((m) => m.box === 1)!.c.expect(ExtOp.Gap, 5000);
    assert.match(dec.decode(gap.body), /cluster/);
    // room pushes cross boxes again, and the counts are exact again; the client that came during
    // the outage was registered by the resync: another box reaches it
    for (const b of boxes) await until(async () => (await total(b)) === 13, 8000, 'the total after the restart');
    await until(async () => (await post(boxes[2]!, '/goim/push/keys?operation=1000&keys=k-during', 'x')).json.data?.connections === 1, 5000, 'the outage client in the directory');
    await until(async () => (await boxes[1]!.get('/health')).body.cluster.engine.state === 'up', 5000, "box 1's health to say the engine is up");
    const metrics = await (await fetch(`http://127.0.0.1:${boxes[1]!.controlPort}/metrics`)).text();
    assert.match(metrics, /^ringcast_cluster_engine_up 1$/m);
    assert.match(metrics, /^ringcast_cluster_live_boxes 3$/m);
  });

  it('a box started with the id of a live box refuses to start, naming cluster.nodeId', async () => {
    const file = writeConfig({ ...clusterConfig('b'), tcp: { host: '127.0.0.1', port: 0 }, ws: { host: '127.0.0.1', port: 0 }, control: { host: '127.0.0.1', port: 0 } });
    const r = await runMain(['--config', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ringcast: cluster\.nodeId "b" is held by a live box/);
  });
});
