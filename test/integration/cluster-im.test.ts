/**
 * Reliable messaging in cluster mode with real processes: three ringcast boxes and one redis-server
 * (appendonly yes, appendfsync always). A message sent on box A (HTTP and op 110) to a user connected
 * on box C arrives once and in order; box B reads the inbox and read positions, and a device synced
 * on B resumes where the one on C acked; a retry with the same client_msg_id on another box answers
 * the same seq; Redis SIGKILLed and restarted under a send load loses no acknowledged message; Redis
 * down gives a fast 503 naming the engine (op 111 code 503).
 */
import assert from 'node:assert/strict';
import { ImClient, postJson } from '../helpers/im-client.js';
import { startRedis, type RunningRedis } from '../helpers/redis.js';
import { startServer, type RunningServer } from '../helpers/server.js';
import { sleep, until } from '../helpers/wait.js';

describe('cluster: reliable messaging across three boxes on Redis', function () {
  this.timeout(120_000);
  let redis: RunningRedis;
  let boxes: RunningServer[] = [];
  const clients: ImClient[] = [];
  let nextMid = 5000;

  const box = (i: number): RunningServer => boxes[i]!;
  const send = async (on: number, to: number[], body: string, clientMsgId = '', from = 1): Promise<{ status: number; json: any }> =>
    postJson(box(on).controlPort, '/im/send', { from, to, op: 1000, body, client_msg_id: clientMsgId });
  const sendOk = async (on: number, to: number, body: string, clientMsgId = ''): Promise<number> => {
    const r = await send(on, [to], body, clientMsgId);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json.data.seq[String(to)];
  };
  const connect = async (on: number, mid: number, key: string): Promise<ImClient> => {
    const c = await ImClient.connect(box(on).tcpPort, mid, key);
    clients.push(c);
    return c;
  };
  /** Connects and syncs, and waits for op 115 (the device is registered with its shard then). */
  const synced = async (on: number, mid: number, key: string, after?: number): Promise<ImClient> => {
    const c = await connect(on, mid, key);
    c.sync(after);
    await until(() => c.syncReplies.length > 0, 10_000, `op 115 for ${key}`);
    return c;
  };
  const devices = async (on: number, mid: number): Promise<any> => (await box(on).get(`/im/devices?mid=${mid}`)).body.data;

  before(async () => {
    redis = await startRedis({ appendfsync: 'always' });
    const cluster = (id: string): object => ({ redisUrl: redis.url, nodeId: id, commandTimeoutMs: 500 });
    boxes = await Promise.all(['a', 'b', 'c'].map((id) => startServer({ workers: 2, cluster: cluster(`box-${id}`), im: { redeliverMs: 60_000, ackWindow: 100, groupFanoutMax: 3 } })));
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  after(async () => {
    await Promise.all(boxes.map((b) => b.stop()));
    await redis.stop();
  });

  it('a message sent on box A (HTTP and op 110) to a user on box C arrives once, in order', async () => {
    const mid = nextMid++;
    const phone = await synced(2, mid, 'phone');
    const sender = await connect(0, 77, 'sender');
    const expected: string[] = [];
    for (let i = 0; i < 20; i++) {
      if (i % 2 === 0) {
        assert.equal(await sendOk(0, mid, `m${i}`), i + 1);
      } else {
        const r = await sender.send(0, mid, `m${i}`);
        assert.equal(r.code, 0, JSON.stringify(r));
        assert.equal(r.seq[String(mid)], i + 1);
      }
      expected.push(`m${i}`);
    }
    await until(() => phone.contiguous() === 20, 10_000, 'the 20 messages on box C');
    assert.equal(phone.received.length, 20, 'each message once');
    assert.deepEqual(phone.received.map((m) => m.seq), Array.from({ length: 20 }, (_, i) => i + 1));
    assert.deepEqual(phone.bodies(), expected);
    assert.ok(phone.received.every((m) => m.from === (m.seq % 2 === 1 ? 1 : 77)));
  });

  it('the inbox and the read positions read from box B; a device synced on B resumes where C acked', async () => {
    const mid = nextMid++;
    const phone = await synced(2, mid, 'phone');
    for (let i = 1; i <= 6; i++) await sendOk(0, mid, `r${i}`);
    await until(() => phone.contiguous() === 6, 10_000, '6 messages on box C');
    phone.ack(4);
    await until(async () => (await devices(1, mid)).devices.some((d: any) => d.device === 'phone' && d.read === 4), 10_000, 'read position 4 seen from box B');
    assert.equal((await devices(1, mid)).last_seq, 6);
    const inbox = (await box(1).get(`/im/inbox?mid=${mid}&after=2`)).body.data.messages;
    assert.deepEqual(inbox.map((m: any) => [m.seq, m.body]), [[3, 'r3'], [4, 'r4'], [5, 'r5'], [6, 'r6']]);
    // The same device key reconnects on box B and resumes from its read position: 5 and 6 again.
    phone.close();
    await phone.closed();
    const again = await synced(1, mid, 'phone');
    assert.deepEqual(again.syncReplies[0], { after: 4, latest: 6 });
    await until(() => again.bySeq.size === 2, 10_000, 'the unacked messages on box B');
    assert.deepEqual([...again.bySeq.keys()], [5, 6]);
    // And a message sent on C now reaches the device on B live.
    await sendOk(2, mid, 'r7');
    await until(() => again.bySeq.has(7), 10_000, 'seq 7 on box B');
    assert.equal(again.received.length, 3);
  });

  it('a send retried with the same client_msg_id on another box answers the same seq and stores nothing', async () => {
    const mid = nextMid++;
    const phone = await synced(2, mid, 'phone');
    const first = await sendOk(0, mid, 'once', 'cmid-1');
    const retryHttp = await sendOk(1, mid, 'once', 'cmid-1');
    const retryClient = await (await connect(2, 1, 'sender-1')).send(0, mid, 'once', 'cmid-1');
    assert.equal(retryHttp, first);
    assert.equal(retryClient.seq[String(mid)], first);
    assert.equal(await sendOk(1, mid, 'next'), first + 1);
    await until(() => phone.bySeq.has(first + 1), 10_000, 'the next message');
    assert.deepEqual(phone.bodies(), ['once', 'next']);
    assert.equal(phone.received.length, 2);
  });

  it('groups from any box: created on A, sent to on B (write fan-out, HTTP and op 110), delivered to members on C and A', async () => {
    const [m1, m2, m3] = [nextMid++, nextMid++, nextMid++];
    const gid = 70_000 + m1;
    const created = await postJson(box(0).controlPort, '/im/group/create', { group: gid, members: [m1, m2] });
    assert.equal(created.status, 200, JSON.stringify(created.json));
    assert.equal((await postJson(box(2).controlPort, '/im/group/add', { group: gid, members: [m3] })).json.data.member_count, 3);
    assert.deepEqual((await box(1).get(`/im/group/members?group=${gid}`)).body.data.members, [m1, m2, m3]);
    const onC = await synced(2, m2, 'c-phone');
    const onA = await synced(0, m3, 'a-phone');
    const r = await postJson(box(1).controlPort, '/im/group/send', { from: m1, group: gid, op: 1000, body: 'hi group', client_msg_id: 'g-1' });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(r.json.data.seq, { [m1]: 1, [m2]: 1, [m3]: 1 });
    const viaClient = await (await connect(1, m1, 'b-sender')).send(1, gid, 'from a client');
    assert.equal(viaClient.code, 0, JSON.stringify(viaClient));
    for (const c of [onC, onA]) {
      await until(() => c.bySeq.size === 2, 10_000, `both group messages on ${c.key}`);
      assert.deepEqual(c.bodies(), ['hi group', 'from a client']);
      assert.ok(c.received.every((m) => m.group === gid));
    }
    const outsider = await postJson(box(2).controlPort, '/im/group/send', { from: nextMid++, group: gid, op: 1000, body: 'no' });
    assert.equal(outsider.status, 403);
  });

  it('read fan-out groups from any box: one group inbox, idempotent across boxes, paged on C; joining its room is refused in cluster mode', async () => {
    const members = [nextMid++, nextMid++, nextMid++, nextMid++];
    const gid = 80_000 + members[0]!;
    assert.equal((await postJson(box(0).controlPort, '/im/group/create', { group: gid, members })).status, 200);
    const first = await postJson(box(0).controlPort, '/im/group/send', { from: members[0], group: gid, op: 1000, body: 'wide', client_msg_id: 'w-1' });
    assert.deepEqual(first.json.data, { group_seq: 1 });
    const retry = await postJson(box(1).controlPort, '/im/group/send', { from: members[0], group: gid, op: 1000, body: 'wide', client_msg_id: 'w-1' });
    assert.deepEqual(retry.json.data, { group_seq: 1 });
    assert.deepEqual((await postJson(box(2).controlPort, '/im/group/send', { from: members[1], group: gid, op: 1000, body: 'wide2' })).json.data, { group_seq: 2 });
    assert.deepEqual((await box(1).get(`/im/group/inbox?group=${gid}`)).body.data.messages.map((m: any) => m.body), ['wide', 'wide2']);
    const member = await connect(2, members[2]!, 'g-phone');
    member.syncGroup(gid, 0);
    await until(() => member.syncReplies.length === 1, 10_000, 'the group page');
    assert.deepEqual(member.syncReplies[0], { after: 0, latest: 2 });
    assert.deepEqual(member.received.map((m) => [m.seq, m.group]), [[1, gid], [2, gid]]);
    member.c.send(100, 5, `group://${gid}`);
    await until(() => member.errors.length === 1, 5000, 'the join refused');
    assert.equal(member.errors[0].code, 403);
  });

  it('Redis SIGKILLed and restarted under a send load: every send answered 200 is later synced; sends fail fast meanwhile', async () => {
    const mid = nextMid++;
    // A device on box C stays connected through the outage: the notices published while Redis was
    // down are lost, and its shard catches up when Redis is back.
    const live = await synced(2, mid, 'live');
    const acked = new Map<number, string>();
    const refused: Array<{ status: number; message: string }> = [];
    let stop = false;
    // Three senders, one per box, each one request at a time.
    const sender = async (on: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const t0 = Date.now();
        const r = await send(on, [mid], `${on}-${i}`);
        if (r.status === 200) acked.set(r.json.data.seq[String(mid)], `${on}-${i}`);
        else {
          refused.push({ status: r.status, message: r.json.message });
          assert.ok(Date.now() - t0 < 3000, `a refused send took ${Date.now() - t0} ms`);
          await sleep(10); // pacing: a retry loop, not a wait for a state
        }
      }
    };
    const senders = [sender(0), sender(1), sender(2)];
    await until(() => acked.size >= 60, 20_000, '60 acknowledged sends');
    await redis.kill();
    await until(() => refused.length >= 3, 10_000, 'sends refused while Redis is down');
    const before = acked.size;
    await redis.restart();
    await until(() => acked.size >= before + 60, 30_000, '60 more acknowledged sends after the restart');
    stop = true;
    await Promise.all(senders);
    assert.ok(refused.every((r) => r.status === 503 && /cluster engine redis:\/\/127\.0\.0\.1:\d+ unavailable/.test(r.message)), JSON.stringify(refused.slice(0, 3)));
    // A device syncing from 0 on another box gets every acknowledged seq with its body.
    const reader = await synced(1, mid, 'reader', 0);
    const last = Math.max(...acked.keys());
    // It acks what it holds, which opens its window (im.ackWindow) for the next page.
    await until(() => {
      reader.ack(Math.max(0, ...reader.bySeq.keys()));
      return reader.bySeq.has(last);
    }, 20_000, 'the whole inbox');
    for (const [seq, body] of acked) assert.equal(reader.bySeq.get(seq) === undefined ? undefined : Buffer.from(reader.bySeq.get(seq)!.body).toString(), body, `acknowledged seq ${seq} lost`);
    await until(() => {
      live.ack(live.contiguous());
      return live.bySeq.has(last);
    }, 20_000, 'the live device on box C to catch up');
    for (const seq of acked.keys()) assert.ok(live.bySeq.has(seq), `seq ${seq} not delivered to the live device`);
    // In order, and once: redelivery is off here (im.redeliverMs 60 s), so nothing may come twice.
    assert.deepEqual(live.received.map((m) => m.seq), [...live.received.map((m) => m.seq)].sort((a, b) => a - b));
    assert.equal(new Set(live.received.map((m) => m.seq)).size, live.received.length);
  });

  it('Redis down: POST /im/send answers 503 naming the engine at once, op 111 code 503; both work again after', async () => {
    const mid = nextMid++;
    const client = await connect(0, 3, 'sender-3');
    await redis.kill();
    try {
      const t0 = Date.now();
      const r = await send(0, [mid], 'down');
      assert.equal(r.status, 503);
      assert.match(r.json.message, /cluster engine redis:\/\/127\.0\.0\.1:\d+ unavailable/);
      assert.ok(Date.now() - t0 < 2000, `answered in ${Date.now() - t0} ms`);
      const op111 = await client.send(0, mid, 'down');
      assert.equal(op111.code, 503);
      assert.match(op111.message, /cluster engine/);
      assert.equal((await box(1).get(`/im/inbox?mid=${mid}`)).status, 503);
    } finally {
      await redis.restart();
    }
    await until(async () => (await send(0, [mid], 'up')).status === 200, 15_000, 'sends to work again');
    assert.equal((await client.send(0, mid, 'up again')).code, 0);
  });

  // Last: it kills box C.
  it('box C killed with kill -9: sends on A to its user go on at once, and the device resumes on B with nothing lost', async () => {
    const mid = nextMid++;
    const phone = await synced(2, mid, 'phone');
    for (let i = 1; i <= 3; i++) await sendOk(0, mid, `k${i}`);
    await until(() => phone.contiguous() === 3, 10_000, '3 messages on box C');
    phone.ack(2);
    await until(async () => (await devices(0, mid)).devices.some((d: any) => d.device === 'phone' && d.read === 2), 10_000, 'read position 2');
    await box(2).stop('SIGKILL');
    const t0 = Date.now();
    for (let i = 4; i <= 6; i++) assert.equal(await sendOk(0, mid, `k${i}`), i);
    assert.ok(Date.now() - t0 < 3000, `sends took ${Date.now() - t0} ms with box C dead`);
    const again = await synced(1, mid, 'phone');
    assert.deepEqual(again.syncReplies[0], { after: 2, latest: 6 });
    await until(() => again.bySeq.size === 4, 10_000, 'seqs 3..6 on box B');
    assert.deepEqual(again.bodies(), ['k3', 'k4', 'k5', 'k6']);
  });
});
