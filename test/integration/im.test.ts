import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { encodePacket, Op } from '../../src/codec.js';
import { shardOfMid } from '../../src/hash.js';
import { ImClient, postJson } from '../helpers/im-client.js';
import { startServer, until, type RunningServer } from '../helpers/server.js';

describe('reliable messaging: seq, acks, sync, redelivery, devices, idempotency, groups', function () {
  this.timeout(60_000);
  let s: RunningServer;
  const clients: ImClient[] = [];
  let nextMid = 1000;

  const send = async (to: number[], body: string, clientMsgId = '', from = 1): Promise<Record<string, number>> => {
    const r = await postJson(s.controlPort, '/im/send', { from, to, op: 1000, body, client_msg_id: clientMsgId });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json.data.seq;
  };
  const connect = async (mid: number, key: string): Promise<ImClient> => {
    const c = await ImClient.connect(s.tcpPort, mid, key);
    clients.push(c);
    return c;
  };
  const inbox = async (mid: number, after = 0): Promise<any[]> => (await s.get(`/im/inbox?mid=${mid}&after=${after}&limit=1000`)).body.data.messages;
  /** Waits until the server has taken the device's read position to `seq` (acks are not answered). */
  const readAt = async (mid: number, device: string, seq: number): Promise<void> => {
    await until(async () => (await s.get(`/im/devices?mid=${mid}`)).body.data.devices.some((d: any) => d.device === device && d.read === seq), 5000, `read position ${seq} of ${device}`);
  };
  const reconnect = async (c: ImClient): Promise<ImClient> => {
    c.close();
    await c.closed();
    // The old connection's router entry goes with its close; the new one takes the same key.
    return connect(c.mid, c.key);
  };

  before(async () => {
    // Redelivery is slow here so no test sees a resend it did not ask for; the redelivery test uses its own server.
    s = await startServer({ workers: 2, im: { redeliverMs: 60_000, ackWindow: 50 } });
  });
  after(async () => {
    for (const c of clients) c.close();
    await s.stop('SIGKILL');
  });

  it('delivers online with the seq, and an ack moves the device read position', async () => {
    const mid = nextMid++;
    const c = await connect(mid, 'd1');
    const syncSeq = c.sync();
    await until(() => c.syncReplies.length === 1, 5000, 'sync reply');
    assert.deepEqual(c.syncReplies[0], { after: 0, latest: 0 });
    assert.equal(c.syncReplySeqs[0], syncSeq, 'op 115 echoes the header seq of the op 114 it answers');
    const seqs = await send([mid], 'hello');
    assert.deepEqual(seqs, { [mid]: 1 });
    await until(() => c.bySeq.has(1), 5000, 'message 1');
    const m = c.bySeq.get(1)!;
    assert.equal(m.from, 1);
    assert.equal(m.op, 1000);
    assert.equal(Buffer.from(m.body).toString(), 'hello');
    c.ack(1);
    await readAt(mid, 'd1', 1);
    // The read position is per device and persisted: a new connection resuming from it gets nothing again.
    await send([mid], 'second');
    await until(() => c.bySeq.has(2), 5000, 'message 2');
    const c2 = await reconnect(c);
    c2.sync();
    await until(() => c2.syncReplies.length === 1, 5000, 'sync reply');
    assert.deepEqual(c2.syncReplies[0], { after: 1, latest: 2 });
    await until(() => c2.bySeq.has(2), 5000, 'unacked message 2 resent');
    assert.deepEqual([...c2.bySeq.keys()], [2]);
  });

  it('a batch ack ("everything up to N") acks all messages before it; a single ack only its seq', async () => {
    const mid = nextMid++;
    const c = await connect(mid, 'd1');
    c.sync(0);
    for (let i = 1; i <= 6; i++) await send([mid], `m${i}`);
    await until(() => c.contiguous() === 6, 5000, 'six messages');
    c.ack(4); // 1..4
    c.ack(6, true); // 6 alone; 5 stays unacked
    await readAt(mid, 'd1', 4);
    const c2 = await reconnect(c);
    c2.sync();
    await until(() => c2.syncReplies.length === 1, 5000, 'sync reply');
    assert.equal(c2.syncReplies[0]!.after, 4);
    await until(() => c2.bySeq.has(5) && c2.bySeq.has(6), 5000, 'unacked 5 and 6 resent after reconnect');
    assert.deepEqual([...c2.bySeq.keys()], [5, 6], 'read position 4: only 5 and 6 come again');
    c2.ack(6);
    await readAt(mid, 'd1', 6);
    const c3 = await reconnect(c2);
    c3.sync();
    await until(() => c3.syncReplies.length === 1, 5000, 'sync reply');
    assert.deepEqual(c3.syncReplies[0], { after: 6, latest: 6 });
  });

  it('offline messages are stored; sync pages through them (bounded by the ack window), then continues live without gap or duplicate', async () => {
    const mid = nextMid++;
    for (let i = 1; i <= 120; i++) await send([mid], `old${i}`);
    const c = await connect(mid, 'phone');
    c.sync(0, 20); // pages of 20
    await until(() => c.contiguous() === 20, 5000, 'first page');
    assert.equal(c.bySeq.size, 20, 'no more than the window before an ack');
    // Ack as messages arrive while new messages are stored concurrently: the synced and live streams meet.
    const live = (async () => {
      for (let i = 1; i <= 80; i++) await send([mid], `new${i}`);
    })();
    await until(() => {
      c.ack(c.contiguous());
      return c.contiguous() === 200;
    }, 20_000, 'all 200 messages');
    await live;
    assert.equal(c.received.length, 200, 'each message exactly once (no duplicate between synced and live)');
    assert.deepEqual(
      c.received.map((m) => m.seq),
      Array.from({ length: 200 }, (_, i) => i + 1),
      'in seq order',
    );
    assert.deepEqual(c.bodies().slice(118, 122), ['old119', 'old120', 'new1', 'new2']);
  });

  it('two devices of one user keep separate read positions', async () => {
    const mid = nextMid++;
    const a = await connect(mid, 'laptop');
    const b = await connect(mid, 'tablet');
    a.sync(0);
    b.sync(0);
    for (let i = 1; i <= 3; i++) await send([mid], `x${i}`);
    await until(() => a.contiguous() === 3 && b.contiguous() === 3, 5000, 'both devices got 3');
    a.ack(3);
    b.ack(1);
    await readAt(mid, 'laptop', 3);
    await readAt(mid, 'tablet', 1);
    const a2 = await reconnect(a);
    const b2 = await reconnect(b);
    a2.sync();
    b2.sync();
    await until(() => a2.syncReplies.length === 1 && b2.bySeq.size === 2, 5000, 'resumed');
    assert.equal(a2.syncReplies[0]!.after, 3);
    assert.equal(a2.bySeq.size, 0);
    assert.deepEqual([...b2.bySeq.keys()], [2, 3]);
  });

  it('a retried send with the same client_msg_id returns the original seq and stores nothing twice', async () => {
    const mid = nextMid++;
    const first = await send([mid, mid + 500], 'once', 'cm-1');
    const again = await send([mid, mid + 500], 'once', 'cm-1');
    assert.deepEqual(again, first);
    const other = await send([mid], 'two', 'cm-2');
    assert.equal(other[mid], first[mid]! + 1);
    // Concurrent retries race the first write: still one copy.
    const racing = await Promise.all([send([mid], 'r', 'cm-3'), send([mid], 'r', 'cm-3'), send([mid], 'r', 'cm-3')]);
    assert.deepEqual(racing[1], racing[0]);
    assert.deepEqual(racing[2], racing[0]);
    assert.deepEqual((await inbox(mid)).map((m) => m.body), ['once', 'two', 'r']);
    // The same over the client op.
    const c = await connect(nextMid++, 'sender');
    const r1 = await c.send(0, mid, 'via-op', 'cm-op');
    const r2 = await c.send(0, mid, 'via-op', 'cm-op');
    assert.equal(r1.code, 0);
    assert.deepEqual(r2, r1);
    assert.equal((await inbox(mid)).length, 4);
  });

  it('client send (op 110): acked with the seq, delivered live (TCP to WebSocket), errors for bad targets', async () => {
    const alice = await connect(nextMid++, 'alice');
    // Bob on WebSocket: the same ops and bodies over the other transport.
    const bob = await ImClient.connect(s.wsPort, nextMid++, 'bob', 'ws');
    clients.push(bob);
    bob.sync(0);
    await until(() => bob.syncReplies.length === 1, 5000, 'bob synced');
    const r = await alice.send(0, bob.mid, 'hi bob', 'c1');
    assert.deepEqual(r, { code: 0, message: '', seq: { [bob.mid]: 1 } });
    await until(() => bob.bySeq.has(1), 5000, 'bob got it');
    assert.equal(bob.bySeq.get(1)!.from, alice.mid);
    assert.equal(bob.bySeq.get(1)!.clientMsgId, 'c1');
    assert.equal((await alice.send(0, 0, 'x')).code, 404);
    assert.equal((await alice.send(1, 987654, 'x')).code, 404);
  });

  it('groups: members get a copy each (write fan-out); non-members are refused', async () => {
    const [m1, m2, m3] = [nextMid++, nextMid++, nextMid++];
    const gid = 5000 + m1;
    assert.equal((await postJson(s.controlPort, '/im/group/create', { group: gid, members: [m1, m2] })).status, 200);
    assert.equal((await postJson(s.controlPort, '/im/group/create', { group: gid, members: [] })).status, 409);
    assert.equal((await postJson(s.controlPort, '/im/group/add', { group: gid, members: [m3] })).json.data.member_count, 3);
    assert.deepEqual((await s.get(`/im/group/members?group=${gid}`)).body.data.members, [m1, m2, m3]);
    const c2 = await connect(m2, 'g2');
    const c3 = await connect(m3, 'g3');
    c2.sync(0);
    c3.sync(0);
    const c1 = await connect(m1, 'g1');
    const r = await c1.send(1, gid, 'to the group', 'g-1');
    assert.equal(r.code, 0);
    assert.deepEqual(Object.keys(r.seq).sort(), [m1, m2, m3].map(String).sort());
    await until(() => c2.bySeq.size === 1 && c3.bySeq.size === 1, 5000, 'members got it');
    assert.equal(c2.bySeq.get(1)!.group, gid);
    const http = await postJson(s.controlPort, '/im/group/send', { from: m2, group: gid, op: 1000, body: 'via http', client_msg_id: 'g-2' });
    assert.equal(http.status, 200);
    assert.equal(http.json.data.seq[m3], 2);
    assert.equal((await postJson(s.controlPort, '/im/group/remove', { group: gid, members: [m3] })).json.data.member_count, 2);
    const refused = await c3.send(1, gid, 'not any more');
    assert.equal(refused.code, 403);
    assert.equal((await postJson(s.controlPort, '/im/group/send', { from: m3, group: gid, body: 'x' })).status, 403);
    assert.equal((await postJson(s.controlPort, '/im/group/send', { from: m1, group: 1, body: 'x' })).status, 404);
  });

  it('malformed client ops get an error and keep the connection', async () => {
    const c = await connect(nextMid++, 'bad');
    c.c.send(113, 3, Buffer.alloc(3)); // ack: needs 8 or 9 bytes
    c.c.send(114, 4, Buffer.alloc(5)); // sync: 0, 12 or 20 bytes
    await until(() => c.errors.length === 2, 5000, 'two op-199 errors');
    assert.deepEqual(c.errors.map((e) => [e.op, e.code]), [[113, 400], [114, 400]]);
    const r = await c.send(2 as 0, 1, 'kind 2 is no kind');
    assert.equal(r.code, 400);
    assert.equal((await c.request(2, null, 3)).op, 3, 'still open');
  });

  it('bad requests get a 4xx with a message', async () => {
    for (const [path, body] of [
      ['/im/send', { from: 1, to: [], body: 'x' }],
      ['/im/send', { from: -1, to: [2], body: 'x' }],
      ['/im/send', { from: 1, to: [2], body: 3 }],
      ['/im/send', { from: 1, to: [2], body: 'x', op: 'a' }],
    ] as const) {
      const r = await postJson(s.controlPort, path, body);
      assert.equal(r.status, 400, JSON.stringify(r.json));
      assert.ok(r.json.message.length > 0);
    }
    assert.equal((await s.get('/im/inbox?mid=abc')).status, 400);
    assert.equal((await s.post('/im/inbox?mid=1')).status, 405);
  });
});

describe('reliable messaging: redelivery, retention, read fan-out groups', function () {
  this.timeout(60_000);
  let s: RunningServer;
  const clients: ImClient[] = [];

  before(async () => {
    s = await startServer({
      workers: 2,
      im: { redeliverMs: 300, retainCount: 5, retainMs: 1500, groupFanoutMax: 2, idempotencyMs: 1000, sendRatePerSec: 1, sendBurst: 3, maxMessageBytes: 1 << 20 },
      protocol: { timerTickMs: 50 },
      push: { writeQueueBytes: 1 << 20 },
    });
  });
  after(async () => {
    for (const c of clients) c.close();
    await s.stop('SIGKILL');
  });

  it('re-sends unacked messages after redeliverMs, until acked', async () => {
    const c = await ImClient.connect(s.tcpPort, 77, 'r1');
    clients.push(c);
    c.sync(0);
    await postJson(s.controlPort, '/im/send', { from: 1, to: [77], body: 'again' });
    await until(() => c.received.filter((m) => m.seq === 1).length >= 3, 5000, 'message 1 sent three times');
    await postJson(s.controlPort, '/im/send', { from: 1, to: [77], body: 'next' });
    await until(() => c.bySeq.has(2), 5000, 'message 2');
    c.ack(2);
    await until(async () => (await s.get('/im/devices?mid=77')).body.data.devices[0]?.read === 2, 5000, 'read position 2');
    // Once acked, nothing more comes: several redelivery periods pass (timed by heartbeat round trips).
    const sent = c.received.length;
    const t0 = Date.now();
    while (Date.now() - t0 < 1200) await c.request(2, null, 3);
    assert.equal(c.received.length, sent, 'no redelivery after the ack');
    // Counted in /metrics: both messages stored, message 1 sent again at least twice.
    const text = await (await fetch(`http://127.0.0.1:${s.controlPort}/metrics`)).text();
    const total = (name: string): number => [...text.matchAll(new RegExp(`^${name}\\{worker="\\d+"\\} (\\d+)`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
    assert.ok(total('ringcast_im_messages_stored_total') >= 2, 'stored counted');
    assert.ok(total('ringcast_im_redeliveries_total') >= 2, 'redeliveries counted');
    assert.ok(total('ringcast_im_messages_sent_total') >= total('ringcast_im_redeliveries_total') + 2, 'sent counts first sends and redeliveries');
  });

  it('keeps retainCount messages per user and drops those older than retainMs', async () => {
    for (let i = 1; i <= 8; i++) assert.equal((await postJson(s.controlPort, '/im/send', { from: 1, to: [88], body: `k${i}` })).status, 200);
    const msgs = (await s.get('/im/inbox?mid=88')).body.data.messages;
    assert.deepEqual(
      msgs.map((m: any) => m.seq),
      [4, 5, 6, 7, 8],
    );
    await until(async () => (await s.get('/im/inbox?mid=88')).body.data.messages.length === 0, 5000, 'messages past retainMs gone');
    // Seqs keep increasing after retention emptied the inbox.
    const r = await postJson(s.controlPort, '/im/send', { from: 1, to: [88], body: 'later' });
    assert.equal(r.json.data.seq['88'], 9);
  });

  it('a group larger than groupFanoutMax is one group inbox with a group seq, broadcast to its room', async () => {
    const gid = 900;
    await postJson(s.controlPort, '/im/group/create', { group: gid, members: [91, 92, 93] });
    const c = await ImClient.connect(s.tcpPort, 92, 'big');
    clients.push(c);
    await c.request(100, `group://${gid}`, 101); // join the group's room
    const outsider = await ImClient.connect(s.tcpPort, 99, 'outsider');
    clients.push(outsider);
    outsider.c.send(100, 5, `group://${gid}`);
    await until(() => outsider.errors.length === 1, 5000, 'join refused');
    assert.equal(outsider.errors[0].code, 403);
    const r = await postJson(s.controlPort, '/im/group/send', { from: 91, group: gid, body: 'wide' });
    assert.deepEqual(r.json.data, { group_seq: 1 });
    await until(() => c.received.length === 1, 5000, 'room broadcast');
    assert.equal(c.received[0]!.group, gid);
    const second = await postJson(s.controlPort, '/im/group/send', { from: 91, group: gid, body: 'wide2', client_msg_id: 'w2' });
    // A retry (sequential, then racing) is answered with the same group seq and stored once.
    assert.deepEqual((await postJson(s.controlPort, '/im/group/send', { from: 91, group: gid, body: 'wide2', client_msg_id: 'w2' })).json.data, second.json.data);
    const racing = await Promise.all([1, 2, 3].map(() => postJson(s.controlPort, '/im/group/send', { from: 91, group: gid, body: 'wide3', client_msg_id: 'w3' })));
    assert.ok(racing.every((r) => r.json.data.group_seq === 3), JSON.stringify(racing.map((r) => r.json.data)));
    assert.deepEqual(
      (await s.get(`/im/group/inbox?group=${gid}&after=1`)).body.data.messages.map((m: any) => m.body),
      ['wide2', 'wide3'],
    );
    c.syncGroup(gid, 0);
    await until(() => c.syncReplies.length === 1, 5000, 'group sync reply');
    assert.deepEqual(c.syncReplies[0], { after: 0, latest: 3 });
    // Removed from the group: out of its room at once, no more live messages, no sync.
    await postJson(s.controlPort, '/im/group/add', { group: gid, members: [94] }); // still above groupFanoutMax after the removal
    assert.equal((await postJson(s.controlPort, '/im/group/remove', { group: gid, members: [92] })).status, 200);
    const before = c.received.length;
    await c.request(100, 'marker://1', 101);
    const marker = c.waitOp(1000);
    assert.equal((await postJson(s.controlPort, '/im/group/send', { from: 91, group: gid, body: 'after removal' })).json.data.group_seq, 4);
    // A room push queued after the group's broadcast: were c still in the group's room, that message came first.
    await s.post('/goim/push/room?operation=1000&type=marker&room=1');
    await marker;
    assert.equal(c.received.length, before, 'nothing more from the group');
    c.syncGroup(gid, 0);
    await until(() => c.errors.some((e) => e.code === 403 && e.op === 114), 5000, 'group sync refused');
  });

  it('forgets a client_msg_id after idempotencyMs: a later send with it is a new message', async () => {
    const first = await postJson(s.controlPort, '/im/send', { from: 1, to: [66], body: 'a', client_msg_id: 'same' });
    assert.equal(first.json.data.seq['66'], 1);
    const retry = await postJson(s.controlPort, '/im/send', { from: 1, to: [66], body: 'a', client_msg_id: 'same' });
    assert.equal(retry.json.data.seq['66'], 1);
    await until(async () => (await postJson(s.controlPort, '/im/send', { from: 1, to: [66], body: 'a', client_msg_id: 'same' })).json.data.seq['66'] === 2, 5000, 'a new seq after the window');
  });

  it('a replaced shard worker resumes delivery to devices connected elsewhere, from their read position', async () => {
    // A user whose connection is on one worker while its shard (hash of mid) is the other one.
    let c: ImClient | null = null;
    let shard = -1;
    for (let mid = 300; c === null && mid < 400; mid++) {
      const probe = await ImClient.connect(s.tcpPort, mid, `k${mid}`);
      await until(async () => (await s.get(`/sessions?mid=${mid}`)).body.data.sessions.length === 1, 5000, 'session');
      const worker = (await s.get(`/sessions?mid=${mid}`)).body.data.sessions[0].worker;
      if (worker !== shardOfMid(mid, 2)) {
        c = probe;
        shard = shardOfMid(mid, 2);
      } else probe.close();
    }
    assert.ok(c !== null);
    clients.push(c);
    c.sync(0);
    assert.equal((await postJson(s.controlPort, '/im/send', { from: 1, to: [c.mid], body: 'before' })).status, 200);
    await until(() => c!.bySeq.has(1), 5000, 'message 1');
    c.ack(1);
    await until(async () => (await s.get(`/im/devices?mid=${c!.mid}`)).body.data.devices[0]?.read === 1, 5000, 'read position 1');
    const restarts = (await s.health()).workers[shard].restarts;
    assert.equal((await s.post(`/debug/workers/${shard}/crash?mode=exit`)).status, 200);
    await until(async () => {
      const w = (await s.health()).workers[shard];
      return w.restarts === restarts + 1 && w.state === 'ready';
    }, 10_000, 'shard worker replaced');
    // The send may meet the shard while it restarts (503): retried with the same client_msg_id.
    await until(async () => (await postJson(s.controlPort, '/im/send', { from: 1, to: [c!.mid], body: 'after', client_msg_id: 'after-crash' })).status === 200, 10_000, 'send accepted');
    await until(() => c!.bySeq.has(2), 5000, 'message 2 delivered live after the shard came back');
    assert.equal(Buffer.from(c.bySeq.get(2)!.body).toString(), 'after');
    assert.equal(c.received.filter((m) => m.seq === 1).length, 1, 'acked message 1 not sent again');
  });

  it('closes a device that stops reading once its outbound queue passes push.writeQueueBytes; its messages stay stored', async () => {
    const sock = net.connect({ host: '127.0.0.1', port: s.tcpPort });
    await once(sock, 'connect');
    sock.write(encodePacket(Op.Auth, 1, Buffer.from(JSON.stringify({ mid: 55, key: 'stuck', platform: 'web' }))));
    await once(sock, 'data'); // op 8
    sock.write(encodePacket(114, 2, Buffer.concat([Buffer.alloc(8), Buffer.from([0, 0, 0, 0])])));
    await once(sock, 'data'); // op 115
    sock.pause(); // and never read again
    const big = 'x'.repeat(400_000);
    const slowClosed = async (): Promise<number> => (await s.health()).workers.reduce((n: number, w: any) => n + w.slowConsumersClosed, 0);
    const before = await slowClosed();
    let stored = 0;
    for (let i = 0; i < 60 && (await slowClosed()) === before; i++) {
      const r = await postJson(s.controlPort, '/im/send', { from: 1, to: [55], body: big });
      if (r.status === 200) stored++;
    }
    assert.equal(await slowClosed(), before + 1, 'closed as a slow consumer');
    // Read before the session is gone: this block's retainMs (1.5 s) is shorter than the close's linger.
    assert.equal((await s.get('/im/inbox?mid=55&limit=1000')).body.data.messages.length, Math.min(stored, 5), 'still stored (up to retainCount)');
    await until(async () => (await s.get('/sessions?mid=55')).body.data.sessions.length === 0, 5000, 'session gone');
    sock.destroy();
  });

  it('rate-limits client sends per connection (op 111 code 429), the rest still stored', async () => {
    const c = await ImClient.connect(s.tcpPort, 44, 'sender');
    clients.push(c);
    const replies = await Promise.all(Array.from({ length: 5 }, (_, i) => c.send(0, 45, `r${i}`)));
    const codes = replies.map((r) => r.code);
    assert.deepEqual(codes.filter((x) => x === 0).length, 3, `burst of 3 admitted: ${codes}`);
    assert.deepEqual(codes.filter((x) => x === 429).length, 2, `the rest refused: ${codes}`);
    assert.equal((await s.get('/im/inbox?mid=45')).body.data.messages.length, 3);
  });
});

describe('reliable messaging: a large backlog is paged by acks without blocking the worker', function () {
  // CI size 10,000; the 100,000: IM_BACKLOG=100000 npx mocha --no-config dist/test/im.test.js -g backlog
  const BACKLOG = Number(process.env.IM_BACKLOG ?? 10_000);
  this.timeout(120_000 + BACKLOG * 10);
  let s: RunningServer;
  const clients: ImClient[] = [];

  before(async () => {
    s = await startServer({ workers: 2, im: { sendRatePerSec: 1_000_000, sendBurst: 1_000_000, retainCount: Math.max(10_000, BACKLOG) } });
  });
  after(async () => {
    for (const c of clients) c.close();
    await s.stop('SIGKILL');
  });

  it(`delivers a backlog in order, ackWindow at a time, while other connections stay responsive`, async () => {
    const sender = await ImClient.connect(s.tcpPort, 7001, 'sender');
    clients.push(sender);
    for (let i = 0; i < BACKLOG; i += 1000) {
      const replies = await Promise.all(Array.from({ length: Math.min(1000, BACKLOG - i) }, (_, j) => sender.send(0, 7002, `b${i + j + 1}`)));
      assert.ok(replies.every((r) => r.code === 0));
    }
    const reader = await ImClient.connect(s.tcpPort, 7002, 'reader');
    const other = await ImClient.connect(s.tcpPort, 7003, 'other');
    clients.push(reader, other);
    reader.sync(0);
    let worstRtt = 0;
    let acked = 0;
    const deadline = Date.now() + 60_000 + BACKLOG;
    while (reader.contiguous() < BACKLOG) {
      if (Date.now() > deadline) throw new Error(`backlog not delivered in time: ${reader.contiguous()} of ${BACKLOG}`);
      // At most the ack window (1000) arrives before an ack.
      assert.ok(reader.bySeq.size <= acked + 1000, `window respected: ${reader.bySeq.size} received, ${acked} acked`);
      const have = reader.contiguous();
      if (have > acked) {
        reader.ack(have);
        acked = have;
      }
      const t0 = performance.now();
      await other.request(2, null, 3); // a heartbeat round trip through the same server
      worstRtt = Math.max(worstRtt, performance.now() - t0);
    }
    assert.equal(reader.received.length, BACKLOG, 'each once');
    assert.ok(reader.received.every((m, i) => m.seq === i + 1), 'in seq order');
    assert.equal(Buffer.from(reader.bySeq.get(BACKLOG)!.body).toString(), `b${BACKLOG}`);
    assert.ok(worstRtt < 1000, `heartbeat round trips stayed under 1 s while paging (worst ${worstRtt.toFixed(0)} ms)`);
  });
});
