import assert from 'node:assert/strict';
import { Op } from '../../src/codec.js';
import { ControlConnection } from '../helpers/control.js';
import { GoimClient, type Kind, type Packet } from '../helpers/goim-client.js';
import { metricsText, startServer, until, type RunningServer } from '../helpers/server.js';

interface Member {
  c: GoimClient;
  mid: number;
  key: string;
  room: string;
}

const N = 12;

describe('push path: goim control API → rings → frame-once writes', function () {
  this.timeout(60_000);
  let s: RunningServer;
  let members: Member[] = [];

  const post = async (path: string, body: string | Uint8Array): Promise<{ status: number; json: any }> => {
    const res = await fetch(`http://127.0.0.1:${s.controlPort}${path}`, { method: 'POST', body });
    return { status: res.status, json: await res.json() };
  };
  const get = async (path: string): Promise<any> => (await s.get(path)).body;
  /** Sends a marker to everyone and returns, per member, what arrived before it. */
  const drainAll = async (marker: string): Promise<Map<number, Packet[]>> => {
    const r = await post(`/goim/push/all?operation=1000`, marker);
    assert.equal(r.json.data.connections, members.length);
    const out = new Map<number, Packet[]>();
    for (const m of members) out.set(m.mid, await m.c.collectUntil(1000, marker));
    return out;
  };
  const bodies = (ps: Packet[] | undefined): string[] => (ps ?? []).map((p) => `${p.op}:${p.body.toString()}`);

  before(async () => {
    s = await startServer({ workers: 2, push: { batchWindowMs: 30 }, rooms: { countIntervalMs: 100 } });
    members = [];
    const join = async (i: number): Promise<Member> => {
      const kind: Kind = i % 2 === 0 ? 'tcp' : 'ws';
      const c = await GoimClient.connect(kind, kind === 'tcp' ? s.tcpPort : s.wsPort);
      const m = { c, mid: 100 + i, key: `key-${i}`, room: i % 3 === 0 ? 'live://1' : 'live://2' };
      assert.equal((await c.auth({ mid: m.mid, key: m.key, room_id: m.room, platform: 'web', accepts: [1000] })).op, Op.AuthReply);
      return m;
    };
    for (let i = 0; i < N; i++) members.push(await join(i));
    // Both workers hold members. The kernel picks the worker of each connection, unevenly on a loaded
    // machine (all 12 on one worker, seen once): reconnect members one by one until both hold some.
    const perWorker = async (): Promise<number[]> => (await s.health()).workers.map((w: { connections: number }) => w.connections);
    const counted = async (n: number): Promise<void> => {
      await until(async () => (await s.health()).connections === n, 5000, `${n} connections counted`);
    };
    await counted(N);
    for (let attempt = 0; attempt < 60 && (await perWorker()).some((n) => n === 0); attempt++) {
      const i = attempt % N;
      members[i]!.c.close();
      await members[i]!.c.closed;
      await counted(N - 1);
      members[i] = await join(i);
      await counted(N);
    }
    const workers = await perWorker();
    assert.ok(workers[0]! > 0 && workers[1]! > 0, `members spread over both workers: ${workers}`);
    // Every router entry has landed.
    await until(async () => (await get('/goim/online/total')).data.conn_count === N, 5000, 'all connections counted');
    await drainAll('ready');
  });
  after(async () => {
    for (const m of members) m.c.close();
    await s.stop('SIGKILL');
  });

  it('push/keys reaches exactly the connections with those keys, on either worker and transport', async () => {
    const r = await post('/goim/push/keys?operation=1000&keys=key-1&keys=key-4&keys=nobody', 'to-keys');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { code: 0, message: '', data: { connections: 2 } });
    const got = await drainAll('end-keys');
    for (const m of members) assert.deepEqual(bodies(got.get(m.mid)), m.key === 'key-1' || m.key === 'key-4' ? ['1000:to-keys'] : [], m.key);
  });

  it('push/mids reaches every connection of those users and no one else', async () => {
    const extra = await GoimClient.connect('ws', s.wsPort);
    await extra.auth({ mid: 105, key: 'key-5-phone', accepts: [1000] }); // a second device of mid 105
    const r = await post('/goim/push/mids?operation=1000&mids=105&mids=107', Buffer.from([0, 1, 2, 255]));
    assert.equal(r.json.data.connections, 3);
    const p = await extra.expect(1000);
    assert.deepEqual([...p.body], [0, 1, 2, 255], 'binary bodies arrive unchanged');
    extra.close();
    await until(async () => (await get('/goim/online/total')).data.conn_count === N, 3000, 'the extra device gone');
    const got = await drainAll('end-mids');
    for (const m of members) assert.equal(got.get(m.mid)!.length, m.mid === 105 || m.mid === 107 ? 1 : 0, `mid ${m.mid}`);
  });

  it('push/room reaches exactly the room members; room pushes are not filtered by accepts', async () => {
    const r = await post('/goim/push/room?operation=2000&type=live&room=1', 'to-room-1');
    const inRoom = members.filter((m) => m.room === 'live://1');
    assert.equal(r.json.data.connections, inRoom.length);
    const got = await drainAll('end-room');
    for (const m of members) assert.deepEqual(bodies(got.get(m.mid)), m.room === 'live://1' ? ['2000:to-room-1'] : [], m.key);
  });

  it('push/all and keys respect accepts (op 14 adds an op)', async () => {
    const none = await post('/goim/push/all?operation=3000', 'not-accepted');
    assert.equal(none.json.data.connections, 0);
    const m0 = members[0]!;
    m0.c.send(Op.Sub, 1, '3000');
    await m0.c.expect(Op.SubReply);
    const one = await post('/goim/push/all?operation=3000', 'accepted');
    assert.equal(one.json.data.connections, 1);
    const got = await drainAll('end-accepts');
    for (const m of members) assert.deepEqual(bodies(got.get(m.mid)), m === m0 ? ['3000:accepted'] : [], m.key);
  });

  it('merges room pushes that arrive within the window into one op-9 frame on WebSocket', async () => {
    const ws = members.find((m) => m.c.kind === 'ws' && m.room === 'live://2')!;
    const before = ws.c.batches.length;
    await Promise.all([1, 2, 3, 4, 5].map((i) => post('/goim/push/room?operation=1000&type=live&room=2', `burst-${i}`)));
    // Every burst arrives exactly once, across TCP and WebSocket members.
    const all = await drainAll('end-burst');
    const frames = ws.c.batches.slice(before);
    assert.ok(frames.some((n) => n > 1), `some frame carried several pushes: ${frames}`);
    for (const m of members.filter((x) => x.room === 'live://2')) {
      assert.deepEqual(bodies(all.get(m.mid)).sort(), ['1000:burst-1', '1000:burst-2', '1000:burst-3', '1000:burst-4', '1000:burst-5'], m.key);
    }
  });

  it('POST /push/batch delivers several pushes in one request; /sessions and /metrics see the connections', async () => {
    const res = await fetch(`http://127.0.0.1:${s.controlPort}/push/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        pushes: [
          { op: 1000, keys: ['key-2'], body: 'b-key' },
          { op: 1000, mids: [103], body_base64: Buffer.from('b-mid').toString('base64') },
          { op: 1000, room: 'live://1', body: 'b-room' },
        ],
      }),
    });
    const json = (await res.json()) as { code: number; data: { results: Array<{ connections: number }>; connections: number } };
    const in1 = members.filter((m) => m.room === 'live://1');
    assert.equal(json.code, 0);
    assert.deepEqual(json.data.results.map((r) => r.connections), [1, 1, in1.length]);
    const got = await drainAll('end-batch');
    for (const m of members) {
      const want = [...(m.key === 'key-2' ? ['1000:b-key'] : []), ...(m.mid === 103 ? ['1000:b-mid'] : []), ...(m.room === 'live://1' ? ['1000:b-room'] : [])];
      assert.deepEqual(bodies(got.get(m.mid)).sort(), want.sort(), m.key);
    }
    const sessions = (await get('/sessions?mid=104')).data.sessions;
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0].key, 'key-4');
    assert.deepEqual(sessions[0].rooms, [members[4]!.room]);
    assert.equal(sessions[0].protocol, 'tcp');
    const metrics = await (await fetch(`http://127.0.0.1:${s.controlPort}/metrics`)).text();
    const conns = [...metrics.matchAll(/^ringcast_connections\{worker="(\d)"\} (\d+)/gm)].reduce((n, m) => n + Number(m[2]), 0);
    assert.equal(conns, N);
    assert.match(metrics, /^ringcast_pushes_total\{kind="batch"\} 3/m);
  });

  it('online counts stay exact through room changes and closes', async () => {
    const rooms = async (): Promise<Record<string, number>> => (await get('/goim/online/room?type=live&rooms=1&rooms=2')).data;
    const in1 = members.filter((m) => m.room === 'live://1').length;
    assert.deepEqual(await rooms(), { 1: in1, 2: N - in1 });
    const mover = members.find((m) => m.room === 'live://1')!;
    mover.c.send(Op.ChangeRoom, 1, 'live://2');
    await mover.c.expect(Op.ChangeRoomReply);
    mover.room = 'live://2';
    assert.deepEqual(await rooms(), { 1: in1 - 1, 2: N - in1 + 1 });
    const top = (await get('/goim/online/top?type=live&limit=1')).data;
    assert.deepEqual(top, [{ room_id: '2', count: N - in1 + 1 }]);
    const leaver = members.pop()!;
    leaver.c.close();
    await until(async () => (await get('/goim/online/total')).data.conn_count === N - 1, 3000, 'the close counted');
    const total = (await get('/goim/online/total')).data;
    assert.deepEqual(total, { ip_count: 1, conn_count: N - 1 });
    // Heartbeats carry the same numbers (summed every rooms.countIntervalMs).
    const in2 = members.filter((m) => m.room === 'live://2').length;
    await until(async () => (await members.find((m) => m.room === 'live://2')!.c.heartbeat()) === in2, 3000, `heartbeat count ${in2}`);
  });
});

describe('push path: overload protection', function () {
  this.timeout(30_000);
  it('answers 503 with a message when push.maxInFlight pushes are already in flight, and recovers', async () => {
    const s = await startServer({ workers: 1, push: { batchWindowMs: 300, maxInFlight: 1 } });
    try {
      const url = `http://127.0.0.1:${s.controlPort}/goim/push/room?operation=1000&type=live&room=1`;
      // The first push waits out the 300 ms batch window; the second arrives while it is in flight.
      const first = fetch(url, { method: 'POST', body: 'a' });
      await until(async () => (await metricsText(s.controlPort)).includes('ringcast_pushes_in_flight 1'), 5000, 'the first push in flight');
      const second = await fetch(url, { method: 'POST', body: 'b' });
      const body = (await second.json()) as { code: number; message: string };
      assert.equal(second.status, 503);
      assert.equal(body.code, -503);
      assert.match(body.message, /overloaded/);
      assert.equal((await first).status, 200);
      assert.equal((await fetch(url, { method: 'POST', body: 'c' })).status, 200, 'accepted again once the first completed');
    } finally {
      await s.stop('SIGKILL');
    }
  });
});

describe('push path: batch issues its pushes at once', function () {
  this.timeout(60_000);
  it('a batch of 400 room pushes in a 200 ms merge window is answered in one window, not 400, and arrives in order', async () => {
    const s = await startServer({ workers: 2, push: { batchWindowMs: 200 } });
    const c = await GoimClient.connect('tcp', s.tcpPort);
    try {
      assert.equal((await c.auth({ mid: 1, key: 'k', room_id: 'live://7', accepts: [1000] })).op, Op.AuthReply);
      const pushes = Array.from({ length: 400 }, (_, i) => ({ op: 1000, room: 'live://7', body: `m${i}` }));
      const t0 = Date.now();
      const res = await fetch(`http://127.0.0.1:${s.controlPort}/push/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pushes }) });
      const ms = Date.now() - t0;
      const json = (await res.json()) as { code: number; data: { connections: number } };
      assert.equal(json.code, 0);
      assert.equal(json.data.connections, 400);
      // One push after another would take 400 windows (80 s); at once it is one window plus the work.
      assert.ok(ms < 20_000, `answered in ${ms} ms`);
      const got = await c.collectUntil(1000, 'm399');
      assert.deepEqual([...got.map((p) => p.body.toString()), 'm399'], pushes.map((p) => p.body));
    } finally {
      c.close();
      await s.stop('SIGKILL');
    }
  });

  it('past push.maxInFlight the batch is answered 503 naming the first refused push and how many were queued', async () => {
    const s = await startServer({ workers: 1, push: { batchWindowMs: 100, maxInFlight: 5 } });
    try {
      const pushes = Array.from({ length: 8 }, (_, i) => ({ op: 1000, room: 'live://1', body: `m${i}` }));
      const res = await fetch(`http://127.0.0.1:${s.controlPort}/push/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pushes }) });
      const json = (await res.json()) as { code: number; message: string };
      assert.equal(res.status, 503);
      assert.match(json.message, /^pushes\[5\]: overloaded.*\(5 of the 8 pushes were queued\)$/);
    } finally {
      await s.stop('SIGKILL');
    }
  });
});

describe('push path: a worker dying under a push', function () {
  this.timeout(60_000);
  it('completes the push with the live workers\' answers at once instead of waiting out the 5 s timeout', async () => {
    const s = await startServer({ workers: 2, push: { batchWindowMs: 1500 } });
    const clients: GoimClient[] = [];
    try {
      // The kernel spreads connections over the workers' accept queues, unevenly on a loaded machine:
      // connect (8 at least, 64 at most) until both workers hold some.
      const perWorker = async (): Promise<number[]> => ((await s.get('/health')).body.workers as Array<{ connections: number }>).map((w) => w.connections);
      for (let i = 0; i < 64 && (i < 8 || (await perWorker()).some((n) => n === 0)); i++) {
        const c = await GoimClient.connect('tcp', s.tcpPort);
        assert.equal((await c.auth({ mid: 500 + i, key: `w${i}`, room_id: 'live://9', accepts: [1000] })).op, Op.AuthReply);
        clients.push(c);
      }
      const onWorker0 = (await perWorker())[0]!;
      assert.ok(onWorker0 > 0 && onWorker0 < clients.length, `clients on both workers (${onWorker0} of ${clients.length} on worker 0)`);
      // The push is taken by worker 0 (a control connection it serves: the one that dies takes its
      // control connections with it). Both workers hold the push in their 1.5 s merge window; worker 1 dies with it.
      const conns = await ControlConnection.onEveryWorker(s.controlPort, 2);
      const t0 = Date.now();
      const answer = conns[0]!.post('/goim/push/room?operation=1000&type=live&room=9', 'x');
      await until(async () => (await metricsText(s.controlPort)).includes('ringcast_pushes_in_flight 1'), 1000, 'the push in flight');
      // Asked of the dying worker itself: it answers before it goes.
      assert.equal((await conns[1]!.post('/debug/workers/1/crash?mode=exit')).status, 200);
      const res = await answer;
      const ms = Date.now() - t0;
      for (const c of conns) c.close();
      assert.equal(res.json.data.connections, onWorker0, 'counted on the live worker only');
      assert.ok(ms < 4000, `answered after ${ms} ms (the request timeout is 5 s)`);
    } finally {
      for (const c of clients) c.close();
      await s.stop('SIGKILL');
    }
  });
});

describe('push path: slow consumers', function () {
  this.timeout(60_000);
  it('closes a client that stops reading once its outbound queue passes push.writeQueueBytes; others keep receiving', async () => {
    const s = await startServer({ workers: 1, push: { writeQueueBytes: 256 * 1024, batchWindowMs: 0 } });
    try {
      const slow = await GoimClient.connect('tcp', s.tcpPort);
      const fast = await GoimClient.connect('ws', s.wsPort);
      await slow.auth({ mid: 1, room_id: 'live://slow' });
      await fast.auth({ mid: 2, room_id: 'live://slow' });
      (slow as unknown as { socket: { pause(): void } }).socket.pause(); // stops reading: the kernel buffers fill, then ours
      const body = Buffer.alloc(64 * 1024, 0x61);
      const url = `http://127.0.0.1:${s.controlPort}/goim/push/room?operation=1000&type=live&room=slow`;
      let pushes = 0;
      let dropped = 0;
      while (dropped === 0 && pushes < 1000) {
        const r = await fetch(url, { method: 'POST', body });
        assert.equal(r.status, 200);
        await r.arrayBuffer();
        pushes++;
        const got = await fast.expect(1000);
        assert.equal(got.body.length, body.length);
        if (pushes % 10 === 0) dropped = (await s.get('/health')).body.workers[0].slowConsumersClosed;
      }
      assert.equal(dropped, 1, `the slow client was dropped after ${pushes} pushes of 64 KB`);
      // The slow client, once it reads again, gets what its socket held, then op 6 4005, then the close.
      (slow as unknown as { socket: { resume(): void } }).socket.resume();
      let last = null;
      for (let p = await slow.next(10_000); p !== null; p = await slow.next(10_000)) last = p;
      assert.ok(last !== null && last.op === Op.DisconnectReply, `told why before the close (last op ${last?.op})`);
      assert.deepEqual(JSON.parse(last.body.toString()), { code: 4005, reason: 'slow consumer: outbound queue over push.writeQueueBytes' });
      await until(async () => (await s.get('/health')).body.workers[0].connections === 1, 5000, 'the fast client alone connected');
      const metrics = await (await fetch(`http://127.0.0.1:${s.controlPort}/metrics`)).text();
      assert.match(metrics, /^ringcast_slow_consumers_closed_total\{worker="0"\} 1/m);
      fast.close();
    } finally {
      await s.stop('SIGKILL');
    }
  });
});
