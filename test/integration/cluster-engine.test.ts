import assert from 'node:assert/strict';
import { EngineUnavailable, type ClusterEngine, type EngineOptions } from '../../src/cluster/engine.js';
import { createEngine } from '../../src/cluster/redis-engine.js';
import { StartupError } from '../../src/errors.js';
import { startRedis, type RunningRedis } from '../helpers/redis.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { until } from '../helpers/wait.js';

const enc = new TextEncoder();

describe('cluster engine on a real redis-server', function () {
  this.timeout(60_000);
  let redis: RunningRedis;
  const engines: ClusterEngine[] = [];
  let prefixSeq = 0;
  let prefix = '';

  const make = async (nodeId: string, over: Partial<EngineOptions> = {}, connect = true): Promise<ClusterEngine> => {
    const e = createEngine({
      url: redis.url,
      nodeId,
      keyPrefix: prefix,
      leaseMs: 1200,
      commandTimeoutMs: 300,
      probeTimeoutMs: 300,
      probeIntervalMs: 150,
      roomGraceMs: 200,
      role: 'test',
      ...over,
    });
    engines.push(e);
    if (connect) await e.connect();
    return e;
  };

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });
  beforeEach(() => {
    prefix = `t${++prefixSeq}`;
  });
  afterEach(async () => {
    await Promise.all(engines.splice(0).map((e) => e.close()));
  });

  it('a lease is unique: a second box with a live id refuses with a StartupError naming cluster.nodeId; once the lease runs out the id is free', async () => {
    const a = await make('box-a');
    await a.acquireLease({ addrs: { tcp: '127.0.0.1:1' }, weight: 1 });
    const b = await make('box-a');
    await assert.rejects(b.acquireLease({ addrs: {}, weight: 1 }), (err: unknown) => err instanceof StartupError && /cluster\.nodeId "box-a" is held by a live box/.test(err.message));
    const live = await b.liveNodes();
    assert.deepEqual(live.map((n) => [n.nodeId, n.addrs.tcp]), [['box-a', '127.0.0.1:1']]);
    // a stops renewing (killed): its lease runs out and the id is free again
    await a.close();
    await until(async () => (await b.liveNodes()).length === 0, 5000, 'the lease to run out');
    await b.acquireLease({ addrs: {}, weight: 1 });
    assert.deepEqual((await b.liveNodes()).map((n) => n.nodeId), ['box-a']);
  });

  it('the lease is renewed while the box lives and lists every live box', async () => {
    const a = await make('a');
    const b = await make('b');
    await a.acquireLease({ addrs: { ws: 'h:1' }, weight: 2 });
    await b.acquireLease({ addrs: { ws: 'h:2' }, weight: 1 });
    await new Promise((r) => setTimeout(r, 2500)); // two lease lengths: renewal is what keeps them live
    const live = await a.liveNodes();
    assert.deepEqual(live.map((n) => n.nodeId).sort(), ['a', 'b']);
    assert.equal(live.find((n) => n.nodeId === 'a')!.weight, 2);
  });

  it('directory: register, look up by mid and key grouped per box and worker, unregister only the same connection', async () => {
    const a = await make('a');
    const b = await make('b');
    await a.acquireLease({ addrs: {}, weight: 1 });
    await b.acquireLease({ addrs: {}, weight: 1 });
    await until(async () => (await a.liveNodes()).length === 2, 3000, 'both live');
    await a.liveNodes();
    await b.liveNodes();
    const r1 = await a.register({ key: 'k1', mid: 7, platform: 'web', worker: 0, connId: 1 });
    assert.deepEqual(r1, { replaced: null, others: [] });
    await a.register({ key: 'k2', mid: 7, platform: 'ios', worker: 1, connId: 5 });
    const r3 = await b.register({ key: 'k3', mid: 7, platform: 'web', worker: 0, connId: 9 });
    assert.equal(r3.replaced, null);
    assert.deepEqual(r3.others.map((h) => [h.nodeId, h.key, h.platform]).sort(), [['a', 'k1', 'web'], ['a', 'k2', 'ios']]);
    await b.register({ key: 'k4', mid: 8, platform: 'web', worker: 1, connId: 2 });

    const byMid = await b.lookupMids([7, 8, 99]);
    assert.equal(byMid.connections, 4);
    const groups = byMid.groups.map((g) => `${g.nodeId}/${g.worker}:${g.keys.sort().join(',')}`).sort();
    assert.deepEqual(groups, ['a/0:k1', 'a/1:k2', 'b/0:k3', 'b/1:k4']);
    const byKey = await a.lookupKeys(['k1', 'k4', 'nope', 'k1']);
    assert.deepEqual(byKey.groups.map((g) => `${g.nodeId}/${g.worker}:${g.keys.join(',')}`).sort(), ['a/0:k1', 'b/1:k4']);
    assert.equal(byKey.connections, 2);

    // the same key on box b replaces a's connection: b learns which one
    const moved = await b.register({ key: 'k1', mid: 7, platform: 'web', worker: 1, connId: 3 });
    assert.deepEqual(moved.replaced && [moved.replaced.nodeId, moved.replaced.worker, moved.replaced.connId], ['a', 0, 1]);
    // a's late unregister of its replaced connection must not remove b's entry
    await a.unregister({ key: 'k1', mid: 7, platform: 'web', worker: 0, connId: 1 });
    assert.deepEqual((await a.lookupKeys(['k1'])).groups.map((g) => g.nodeId), ['b']);
    await b.unregister({ key: 'k1', mid: 7, platform: 'web', worker: 1, connId: 3 });
    assert.equal((await a.lookupKeys(['k1'])).connections, 0);
    assert.equal((await a.lookupMids([7])).connections, 2);
  });

  it("a dead box's entries are skipped once its lease ran out, and removed by the box that noticed", async () => {
    const a = await make('a');
    const b = await make('b');
    await a.acquireLease({ addrs: {}, weight: 1 });
    await b.acquireLease({ addrs: {}, weight: 1 });
    const dead: string[] = [];
    a.onNodeDead((id) => {
      dead.push(id);
      void a.sweepNode(id);
    });
    await b.register({ key: 'kb', mid: 1, platform: 'web', worker: 0, connId: 1 });
    await b.publishCounts({ connections: 1, ips: 1, rooms: new Map([['live://1', 1]]) });
    await until(async () => (await a.lookupMids([1])).connections === 1, 3000, "a to see b's entry");
    await b.close(); // b stops renewing, as if killed
    await until(async () => (await a.lookupMids([1])).connections === 0, 4000, "b's entries to be skipped");
    await until(() => dead.includes('b'), 4000, "a to learn b's death");
    const probe = await make('c');
    await until(async () => (await probe.lookupKeys(['kb'])).connections === 0 && (await probe.readCounts()).connections === 0, 3000, 'the sweep');
  });

  it('messages to one worker of one box, room pushes with a grace before unsubscribing, push to all', async () => {
    const a = await make('a');
    const b = await make('b');
    const got: string[] = [];
    await b.subscribeWorker(2, (m) => got.push(`w2:${Buffer.from(m).toString()}`));
    const rooms: string[] = [];
    b.onRoomMessage((room, m) => rooms.push(`${room ?? '*'}:${Buffer.from(m).toString()}`));
    await b.subscribeAll();
    assert.equal(await a.publishToWorker('b', 2, enc.encode('hello')), 1);
    assert.equal(await a.publishToWorker('b', 3, enc.encode('nobody')), 0);
    b.joinRoom('live://1');
    await until(async () => (await a.publishRoom('live://1', enc.encode('r1'))) === 1, 2000, 'the room subscription');
    await a.publishAll(enc.encode('all'));
    await until(() => got.length === 1 && rooms.length === 2, 2000, 'the messages');
    assert.deepEqual(got, ['w2:hello']);
    assert.deepEqual(rooms, ['live://1:r1', '*:all']);
    // leave then join within the grace: still subscribed, nothing lost
    b.leaveRoom('live://1');
    b.joinRoom('live://1');
    assert.equal(await a.publishRoom('live://1', enc.encode('r2')), 1);
    // leave: subscribed during the grace, then not
    b.leaveRoom('live://1');
    assert.equal(await a.publishRoom('live://1', enc.encode('r3')), 1);
    await until(async () => (await a.publishRoom('live://1', enc.encode('x'))) === 0, 2000, 'the unsubscribe after the grace');
    assert.deepEqual(b.subscribedRooms(), []);
  });

  it('counts: each box publishes its exact counts; the sum covers the live boxes only', async () => {
    const a = await make('a');
    const b = await make('b');
    const c = await make('c');
    for (const e of [a, b, c]) await e.acquireLease({ addrs: {}, weight: 1 });
    await a.publishCounts({ connections: 3, ips: 2, rooms: new Map([['live://1', 2], ['live://2', 1]]) });
    await b.publishCounts({ connections: 5, ips: 5, rooms: new Map([['live://1', 5]]) });
    await c.publishCounts({ connections: 1, ips: 1, rooms: new Map() });
    let sum = await a.readCounts();
    assert.equal(sum.connections, 9);
    assert.equal(sum.ips, 8);
    assert.equal(sum.boxes, 3);
    assert.deepEqual([...sum.rooms].sort(), [['live://1', 7], ['live://2', 1]]);
    const some = await b.readCounts(['live://2', 'live://9']);
    assert.deepEqual([...some.rooms], [['live://2', 1]]);
    // a changes: only the difference is written, the sum follows
    await a.publishCounts({ connections: 2, ips: 2, rooms: new Map([['live://1', 2]]) });
    sum = await c.readCounts();
    assert.deepEqual([...sum.rooms].sort(), [['live://1', 7]]);
    // b dies: once its lease ran out it is not counted
    await b.close();
    await until(
      async () => {
        // the live boxes go on publishing every second, as the acceptor does
        await a.publishCounts({ connections: 2, ips: 2, rooms: new Map([['live://1', 2]]) });
        await c.publishCounts({ connections: 1, ips: 1, rooms: new Map() });
        const s = await c.readCounts();
        return s.connections === 3 && s.boxes === 2;
      },
      4000,
      "b's counts to drop",
    );
  });

  it('Redis killed: calls fail fast with EngineUnavailable naming the engine; restarted: up again and resubscribed by itself', async () => {
    const a = await make('a');
    const b = await make('b');
    await a.acquireLease({ addrs: {}, weight: 1 });
    const got: string[] = [];
    await b.subscribeWorker(0, (m) => got.push(Buffer.from(m).toString()));
    b.onRoomMessage((room, m) => got.push(`${room}:${Buffer.from(m).toString()}`));
    b.joinRoom('live://9');
    await until(async () => (await a.publishRoom('live://9', enc.encode('before'))) === 1, 2000, 'the room subscription');
    const states: string[] = [];
    b.onState((ev) => states.push(ev.state));

    await redis.kill();
    await until(() => a.state === 'down' && b.state === 'down', 3000, 'both engines down');
    const t0 = Date.now();
    await assert.rejects(a.publishToWorker('b', 0, enc.encode('x')), (err: unknown) => err instanceof EngineUnavailable && err.status === 503 && err.message.startsWith(`cluster engine ${redis.url} unavailable: `));
    await assert.rejects(a.lookupMids([1]), EngineUnavailable);
    await assert.rejects(a.register({ key: 'k', mid: 1, platform: 'web', worker: 0, connId: 1 }), EngineUnavailable);
    assert.ok(Date.now() - t0 < 200, `calls while down fail fast (${Date.now() - t0} ms)`);
    // a room joined while Redis is down is subscribed once it is back
    b.joinRoom('live://10');

    await redis.restart();
    await until(() => a.state === 'up' && b.state === 'up', 8000, 'both engines up again');
    assert.ok(states.includes('down'), states.join(','));
    assert.equal(states.at(-1), 'up');
    assert.equal(await a.publishToWorker('b', 0, enc.encode('after')), 1);
    assert.equal(await a.publishRoom('live://9', enc.encode('r9')), 1);
    await until(async () => (await a.publishRoom('live://10', enc.encode('r10'))) === 1, 3000, 'the room joined while down');
    await until(() => got.includes('after') && got.includes('live://9:r9') && got.includes('live://10:r10'), 2000, 'messages after the restart');
    // the lease survives (append-only file) or is taken again by the renewal: either way a is listed
    await until(async () => (await b.liveNodes()).some((n) => n.nodeId === 'a'), 3000, "a's lease back");
  });

  it('a call never hangs: a Redis that stops answering (SIGSTOP) fails calls within the deadline and the probe marks the engine stale or down', async () => {
    const a = await make('a');
    const states: string[] = [];
    a.onState((ev) => states.push(ev.state));
    redis.proc.kill('SIGSTOP');
    try {
      const t0 = Date.now();
      await assert.rejects(a.lookupKeys(['k']), EngineUnavailable);
      const took = Date.now() - t0;
      assert.ok(took < 1000, `rejected within the deadline (${took} ms)`);
      await until(() => a.state !== 'up', 2000, 'the probe to notice');
      assert.ok(states.includes('stale') || states.includes('down'), states.join(','));
      await assert.rejects(a.publishRoom('r', enc.encode('x')), EngineUnavailable);
    } finally {
      redis.proc.kill('SIGCONT');
    }
    await until(() => a.state === 'up', 8000, 'the engine up again');
  });

  it('the probe detects a subscriber that receives nothing while its connection looks healthy (stale), and sees it recover', async () => {
    const proxy = await startTcpProxy(redis.port);
    try {
      const a = await make('a', { url: `redis://127.0.0.1:${proxy.port}` });
      assert.equal(a.state, 'up');
      const states: string[] = [];
      a.onState((ev) => states.push(`${ev.state}:${ev.reason}`));
      proxy.deafen('SSUBSCRIBE'); // the subscriber connection stays open and receives nothing
      await until(() => a.state === 'stale', 2000, 'the probe to mark the engine stale');
      assert.match(states.at(-1)!, /^stale:probe not back within 300 ms/);
      // pub/sub calls refuse while stale (no false success); plain commands still answer
      await assert.rejects(a.publishRoom('live://1', enc.encode('x')), (err: unknown) => err instanceof EngineUnavailable && /probe not back/.test(err.message));
      assert.equal((await a.lookupKeys(['nobody'])).connections, 0);
      assert.equal((await a.probe()).latencyMs, null);
      proxy.hear();
      await until(() => a.state === 'up', 3000, 'the probe to come back');
      const r = await a.probe();
      assert.ok(r.latencyMs !== null, 'probe latency measured');
      assert.equal(a.stats().state, 'up');
    } finally {
      await proxy.close();
    }
  });
});
