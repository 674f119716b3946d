/**
 * @ringcast/client against an in-memory server (test/helpers/fake-ringcast.ts) and a manual clock:
 * the races a real server makes hard to hit on purpose — stale transport callbacks, a close in
 * the middle of a sync, duplicate and reordered op 112, calls in flight when a connection ends —
 * and the timing rules (dead link, drain delay, ack batching) without real waiting.
 */
import assert from 'node:assert/strict';
import { backoffDelay, RingcastClient, RingcastError, type ClientState, type Message, type StateInfo, type RingcastClientOptions } from '@ringcast/client';
import { FakeClock, settle } from '../helpers/fake-clock.js';
import { encodePacket } from '../../src/codec.js';
import { FakeRingcast, imMessage, u64At } from '../helpers/fake-ringcast.js';

interface Harness {
  server: FakeRingcast;
  clock: FakeClock;
  client: RingcastClient;
  states: Array<[ClientState, StateInfo]>;
  messages: Message[];
  errors: Error[];
}

function harness(opts: Partial<RingcastClientOptions> = {}, server = new FakeRingcast()): Harness {
  const clock = new FakeClock();
  const client = new RingcastClient({
    url: 'ws://fake/sub',
    auth: { mid: 42, key: 'dev-1', room_id: 'live://1', platform: 'web', accepts: [1000] },
    transport: server.factory,
    timers: clock,
    random: () => 0.5,
    environment: { network: null, visibility: null },
    ...opts,
  });
  const h: Harness = { server, clock, client, states: [], messages: [], errors: [] };
  client.on('state', (s, info) => h.states.push([s, info]));
  client.on('message', (m) => h.messages.push(m));
  client.on('error', (e) => h.errors.push(e));
  return h;
}

const seqs = (h: Harness): number[] => h.messages.map((m) => m.seq);

describe('client SDK: races and timing (fake server, manual clock)', () => {
  it('ignores every callback of a closed transport, and never holds two live connections', async () => {
    const h = harness();
    await h.client.connect();
    const a = h.server.current;
    a.drop();
    await h.clock.advance(1000); // the first retry waits at most 2 × minDelayMs
    await until(() => h.client.state === 'connected');
    const b = h.server.current;
    assert.notEqual(a, b);
    assert.ok(a.endedByServer && !b.closedByClient);
    const pushes: number[] = [];
    h.client.on('push', (p) => pushes.push(p.op));
    // The old transport keeps talking: a push, a message, an auth reply, a notice, a close.
    a.batch([{ op: 1000, body: 'stale' }]);
    a.message(1);
    a.packet(8, 1);
    a.disconnect(4001, 'stale notice');
    await settle();
    assert.deepEqual(pushes, []);
    assert.deepEqual(h.messages, []);
    assert.equal(String(h.client.state), 'connected');
    b.batch([{ op: 1001, body: 'fresh' }]);
    await settle();
    assert.deepEqual(pushes, [1001]);
    assert.equal(h.server.live().length, 1);
    h.client.close();
  });

  it('retries after full-jitter delays up to the cap, each attempt exactly when due; the count resets only after a stable connection', async () => {
    const server = new FakeRingcast({ auth: false });
    let refuse = true;
    server.onPacket = (link, op, seq) => {
      if (op !== 7) return;
      if (refuse) link.drop();
      else link.packet(8, seq);
    };
    const draws = [0.1, 0.9, 0.5, 0.99, 0, 0.7, 0.3, 0.95];
    let next = 0;
    const random = (): number => draws[next++ % draws.length]!;
    const o = { minDelayMs: 200, maxDelayMs: 5000, resetAfterMs: 10_000 };
    const h = harness({ reconnect: o, random }, server);
    void h.client.connect().catch(() => undefined);
    await settle();
    const delays: number[] = [];
    for (let n = 1; n <= 8; n++) {
      const [state, info] = h.states.at(-1)!;
      assert.equal(state, 'disconnected');
      assert.equal(info.delayMs, backoffDelay(n, o, () => draws[n - 1]!), `retry ${n}`);
      delays.push(info.delayMs!);
      const attempts = server.links.length;
      await h.clock.advance(info.delayMs! - 1);
      assert.equal(server.links.length, attempts, `retry ${n} not before its delay`);
      await h.clock.advance(1);
      assert.equal(server.links.length, attempts + 1, `retry ${n} when due`);
      assert.equal(h.states.at(-1)![0] === 'connecting' || h.states.at(-1)![0] === 'disconnected', true);
    }
    // 200 + r·(min(5000, 200·2^n) − 200): growing, then jittered across [200, 5000] at the cap
    assert.deepEqual(delays, [220, 740, 900, 3170, 200, 3560, 1640, 4760]);
    // A connection that stays up 2 s does not reset the count; one that stays up 10 s does.
    refuse = false;
    await h.clock.advance(5000);
    await until(() => h.client.state === 'connected');
    await h.clock.advance(2000);
    server.current.drop();
    await settle();
    assert.equal(h.states.at(-1)![1].delayMs, backoffDelay(10, o, () => draws[9 % draws.length]!), 'retry 10 after a short connection');
    await h.clock.advance(5000);
    await until(() => h.client.state === 'connected');
    await h.clock.advance(10_000);
    server.current.drop();
    await settle();
    assert.equal(h.states.at(-1)![1].delayMs, backoffDelay(1, o, () => draws[10 % draws.length]!), 'retry 1 after a stable connection');
    h.client.close();
  });

  it('connect() and close() are safe in any state', async () => {
    const server = new FakeRingcast({ open: false });
    const h = harness({}, server);
    h.client.close(); // closed already: nothing happens
    assert.equal(h.states.length, 0);
    const p1 = h.client.connect();
    const p2 = h.client.connect(); // connecting: the same attempt
    await settle();
    assert.equal(server.links.length, 1);
    server.current.open();
    await Promise.all([p1, p2]);
    await h.client.connect(); // connected: resolves at once
    assert.equal(server.links.length, 1);
    // close while the transport is still opening
    h.client.close();
    const p3 = h.client.connect();
    await settle();
    h.client.close();
    await assert.rejects(p3, (e: RingcastError) => e.kind === 'closed');
    assert.ok(server.current.closedByClient);
    server.current.open(); // a late open of the closed transport changes nothing
    await settle();
    assert.equal(String(h.client.state), 'closed');
    // close while waiting to retry: the timer is cancelled
    server.auto.open = true;
    const p4 = h.client.connect();
    await p4;
    server.current.drop();
    await settle();
    assert.equal(String(h.client.state), 'disconnected');
    h.client.close();
    const attempts = server.links.length;
    await h.clock.advance(60_000);
    assert.equal(server.links.length, attempts);
    assert.equal(server.live().length, 0);
    assert.deepEqual(
      h.states.map(([s]) => s),
      ['connecting', 'connected', 'closed', 'connecting', 'closed', 'connecting', 'connected', 'disconnected', 'closed'],
    );
  });

  it('a close in the middle of a sync resumes from the last seq handed over: every message once, in order', async () => {
    const h = harness();
    await h.client.connect();
    await settle();
    const a = h.server.current;
    assert.equal(a.last(114)!.body.length, 0, 'the first sync resumes from the server read position');
    for (const s of [1, 2, 3]) a.message(s);
    await settle();
    a.drop();
    await h.clock.advance(1000);
    await until(() => h.client.state === 'connected');
    const b = h.server.current;
    await settle();
    const sync = b.last(114)!;
    assert.equal(u64At(sync.body), 3, 'the second sync starts after the last seq handed over');
    // the server redelivers what was not acked yet, then the rest
    for (const s of [2, 3, 4, 5, 6]) b.message(s);
    await settle();
    assert.deepEqual(seqs(h), [1, 2, 3, 4, 5, 6]);
    assert.equal(h.client.lastSeq, 6);
    h.client.close();
  });

  it('drops duplicate and out-of-order op 112, so the app sees strictly increasing seqs', async () => {
    const h = harness();
    await h.client.connect();
    const l = h.server.current;
    for (const s of [1, 2, 2, 1, 3, 5, 4, 5, 6]) l.message(s);
    await settle();
    assert.deepEqual(seqs(h), [1, 2, 3, 5, 6]);
    await h.clock.advance(1000);
    assert.deepEqual(l.ops(113).map((p) => u64At(p.body)), [6], 'one "up to" ack for the batch');
    h.client.close();
  });

  it('acks after the handler returned, every 50 messages or every second, and tells the app each ack (event ack)', async () => {
    const h = harness();
    await h.client.connect();
    const l = h.server.current;
    const ackEvents: number[] = [];
    h.client.on('ack', (seq) => ackEvents.push(seq));
    const ackedWhenHanded: number[] = [];
    h.client.on('message', (m) => {
      const acked = l.ops(113).map((p) => u64At(p.body));
      if (acked.some((a) => a >= m.seq)) ackedWhenHanded.push(m.seq);
    });
    for (let s = 1; s <= 120; s++) l.message(s);
    await settle();
    assert.deepEqual(l.ops(113).map((p) => u64At(p.body)), [50, 100]);
    await h.clock.advance(999);
    assert.equal(l.ops(113).length, 2);
    await h.clock.advance(1);
    assert.deepEqual(l.ops(113).map((p) => u64At(p.body)), [50, 100, 120]);
    assert.deepEqual(ackEvents, [50, 100, 120], 'one ack event per op 113 sent, with its seq');
    assert.deepEqual(ackedWhenHanded, [], 'no message was acked before its handler ran');
    h.client.close();
  });

  it('rejects calls in flight with a clear error: a request on a lost connection, everything on close', async () => {
    const h = harness({ requestTimeoutMs: 5000 });
    await h.client.connect();
    const l = h.server.current;
    const req = h.client.request('Chat/Say', 'hi');
    const join = h.client.joinRooms(['chat://1']);
    h.server.auto.rooms = false; // the join gets no answer on this connection
    await settle();
    l.drop();
    await assert.rejects(req, (e: RingcastError) => e.kind === 'disconnected' && /connection lost/.test(e.message));
    h.server.auto.rooms = true;
    await h.clock.advance(1000);
    assert.deepEqual(await join, ['chat://1'], 'a join in flight is answered by the replay on the next connection');
    const req2 = h.client.request('Chat/Say', 'again');
    const send = h.client.send({ to: 43, body: 'x' });
    await settle();
    h.client.close();
    await assert.rejects(req2, (e: RingcastError) => e.kind === 'closed' && /client closed: closed by the client/.test(e.message));
    await assert.rejects(send, (e: RingcastError) => e.kind === 'closed');
    await assert.rejects(h.client.joinRooms(['a']), (e: RingcastError) => e.kind === 'closed');
  });

  it('terminal codes close for good; 1001 waits reconnect_after_ms; 4003-4005 back off', async () => {
    // 401 during auth: connect() rejects, no retry
    const s1 = new FakeRingcast({ auth: false });
    s1.onPacket = (link, op) => {
      if (op === 7) link.disconnect(401, 'token expired');
    };
    const h1 = harness({}, s1);
    await assert.rejects(h1.client.connect(), (e: RingcastError) => e.kind === 'refused' && e.code === 401);
    assert.deepEqual(h1.states.at(-1), ['closed', { code: 401, reason: 'token expired', reconnect: false }]);
    await h1.clock.advance(120_000);
    assert.equal(s1.links.length, 1);

    // 4001 and 4002 after connecting
    for (const code of [4001, 4002]) {
      const h = harness();
      await h.client.connect();
      h.server.current.disconnect(code, 'replaced');
      await settle();
      assert.deepEqual(h.states.at(-1), ['closed', { code, reason: 'replaced', reconnect: false }]);
      await h.clock.advance(120_000);
      assert.equal(h.server.links.length, 1);
    }

    // 1001: exactly reconnect_after_ms
    const h2 = harness();
    await h2.client.connect();
    h2.server.current.disconnect(1001, 'server shutting down', 3210);
    await settle();
    assert.deepEqual(h2.states.at(-1), ['disconnected', { code: 1001, reason: 'server shutting down', reconnect: true, delayMs: 3210 }]);
    await h2.clock.advance(3209);
    assert.equal(h2.server.links.length, 1);
    await h2.clock.advance(1);
    assert.equal(h2.server.links.length, 2);
    h2.client.close();

    // 4004: backoff
    const h3 = harness();
    await h3.client.connect();
    h3.server.current.disconnect(4004, 'heartbeat timeout');
    await settle();
    const [state, info] = h3.states.at(-1)!;
    assert.equal(state, 'disconnected');
    assert.equal(info.reconnect, true);
    assert.equal(info.delayMs, 750, 'retry 1 with random 0.5: uniform in [500, 1000]');
    h3.client.close();
  });

  it('detects a dead link by wall-clock deltas and reconnects; heartbeats at once when the page becomes visible', async () => {
    const visibility = new EventTarget() as EventTarget & { visibilityState: string };
    visibility.visibilityState = 'visible';
    const h = harness({ heartbeatMs: 30_000, environment: { network: null, visibility } }, new FakeRingcast({ heartbeat: false }));
    await h.client.connect();
    const l = h.server.current;
    await settle();
    assert.equal(l.ops(2).length, 1, 'a heartbeat right after op 8');
    await h.clock.advance(30_000);
    assert.equal(l.ops(2).length, 2);
    visibility.dispatchEvent(new Event('visibilitychange'));
    await settle();
    assert.equal(l.ops(2).length, 3, 'visible: a heartbeat at once');
    // The server says nothing. heartbeat + 10 s after the last byte (op 8), the link is dead.
    await h.clock.advance(9_999);
    assert.equal(String(h.client.state), 'connected');
    await h.clock.advance(1);
    assert.equal(h.states.at(-1)![0], 'disconnected');
    assert.equal(h.states.at(-1)![1].code, 3003);

    // A throttled tab: the clock jumps 5 minutes while no timer fires; the first one that does sees it.
    await h.clock.advance(1000);
    await until(() => h.client.state === 'connected');
    const m = h.server.current;
    m.packet(3, 0, Buffer.alloc(4));
    await settle();
    h.clock.jump(300_000);
    visibility.dispatchEvent(new Event('visibilitychange'));
    await settle();
    assert.equal(h.states.at(-1)![0], 'disconnected');
    assert.equal(h.states.at(-1)![1].code, 3003);
    h.client.close();
  });

  it('online retries at once, offline closes the connection', async () => {
    const network = new EventTarget();
    const h = harness({ environment: { network, visibility: null } });
    await h.client.connect();
    network.dispatchEvent(new Event('offline'));
    await settle();
    assert.equal(String(h.client.state), 'disconnected');
    assert.equal(h.states.at(-1)![1].code, 3004);
    assert.equal(h.server.live().length, 0);
    network.dispatchEvent(new Event('online'));
    await settle();
    assert.equal(String(h.client.state), 'connected', 'online: no waiting for the backoff timer');
    assert.equal(h.server.live().length, 1);
    h.client.close();
    network.dispatchEvent(new Event('online')); // after close: listeners are gone
    await settle();
    assert.equal(String(h.client.state), 'closed');
  });

  it('send() retries on 503 and on timeout with the same clientMsgId, then gives up', async () => {
    const server = new FakeRingcast();
    let n = 0;
    server.onPacket = (link, op, seq) => {
      if (op !== 110) return;
      n++;
      if (n === 1) link.packet(111, seq, JSON.stringify({ code: 503, message: 'shard restarting' }));
      else if (n === 2) return; // no answer: a timeout
      else link.packet(111, seq, JSON.stringify({ code: 0, message: '', seq: { '43': 9 } }));
    };
    const h = harness({ requestTimeoutMs: 2000 }, server);
    await h.client.connect();
    const sent = h.client.send({ to: 43, op: 1000, body: 'hello', clientMsgId: 'c-1' });
    await h.clock.advance(10_000);
    const r = await sent;
    assert.equal(r.seq, 9);
    assert.deepEqual(r.seqs, { '43': 9 });
    const bodies = server.current.ops(110).map((p) => p.body);
    assert.equal(bodies.length, 3);
    assert.ok(bodies.every((b) => b.equals(bodies[0]!)), 'the same bytes, clientMsgId included, every time');
    assert.equal(bodies[0]!.subarray(15, 18).toString(), 'c-1');

    server.onPacket = (link, op, seq) => {
      if (op === 110) link.packet(111, seq, JSON.stringify({ code: 503, message: 'busy' }));
    };
    const gaveUp = h.client.send({ to: 43, body: 'x' });
    const check = assert.rejects(gaveUp, (e: RingcastError) => e.kind === 'server' && e.code === 503 && /5 attempts/.test(e.message));
    await h.clock.advance(60_000);
    await check;
    server.onPacket = (link, op, seq) => {
      if (op === 110) link.packet(111, seq, JSON.stringify({ code: 403, message: 'not a member' }));
    };
    await assert.rejects(h.client.send({ group: 5, body: 'x' }), (e: RingcastError) => e.code === 403);
    h.client.close();
  });

  it('unpacks op-9 batches in order, reports gaps and counts, and replays rooms, room and accepts after a reconnect', async () => {
    const h = harness();
    const pushes: string[] = [];
    const counts: number[] = [];
    const gaps: number[] = [];
    h.client.on('push', (p) => pushes.push(`${p.op}:${Buffer.from(p.body).toString()}`));
    h.client.on('count', (n) => counts.push(n));
    h.client.on('gap', (g) => gaps.push(g.dropped));
    h.server.onlineCount = 7;
    await h.client.connect();
    const a = h.server.current;
    a.batch([
      { op: 1000, body: 'a' },
      { op: 1001, body: 'b' },
      { op: 1000, body: 'c' },
    ]);
    a.packet(104, 0, '{"dropped":12}');
    a.packet(1002, 0, 'bare');
    await settle();
    assert.deepEqual(pushes, ['1000:a', '1001:b', '1000:c', '1002:bare']);
    assert.deepEqual(gaps, [12]);
    assert.deepEqual(counts, [7]);
    assert.deepEqual(await h.client.joinRooms(['chat://1', 'chat://2']), ['chat://1', 'chat://2']);
    await h.client.leaveRooms(['chat://2']);
    await h.client.changeRoom('live://2');
    await h.client.addAccepts([1001]);
    await h.client.removeAccepts([1000]);
    a.drop();
    await h.clock.advance(1000);
    await until(() => h.client.state === 'connected');
    await settle();
    const b = h.server.current;
    const replay = b.sent.map((p) => `${p.op}:${p.body.length > 0 && p.op !== 114 ? p.body.toString() : ''}`);
    assert.deepEqual(replay.slice(0, 6), ['7:' + JSON.stringify({ mid: 42, key: 'dev-1', room_id: 'live://1', platform: 'web', accepts: [1000] }), '12:live://2', '14:1001', '16:1000', '100:chat://1', '114:']);
    h.client.close();
  });

  it('keeps read fan-out group messages (inside op 9) apart from the inbox seqs', async () => {
    const h = harness();
    await h.client.connect();
    const l = h.server.current;
    l.message(10);
    // group seq 3 via the group's room: not a duplicate of inbox seq 10, and not acked
    l.packet(9, 0, Buffer.concat([encodePacket(112, 0, imMessage(3, 'g3', { group: 77 })), encodePacket(112, 0, imMessage(3, 'g3 again', { group: 77 }))]));
    l.message(11);
    await settle();
    assert.deepEqual(h.messages.map((m) => `${m.seq}/${m.group ?? '-'}`), ['10/-', '3/77', '11/-']);
    await h.clock.advance(1000);
    assert.deepEqual(l.ops(113).map((p) => u64At(p.body)), [11]);
    h.client.close();
  });
});

/** Waits (macrotask turns only, no real time) until `check` holds. */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await settle(1);
  }
  throw new Error('condition not reached');
}
