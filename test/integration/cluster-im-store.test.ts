/**
 * The cluster-mode message store (src/cluster/im-store-redis.ts) against a real redis-server: seq
 * allocation by the per-user script under concurrent appends from two connections (two boxes),
 * idempotency across them, sync ranges, retention, read positions, groups, a SIGKILL of Redis with
 * appendfsync always, and Redis down.
 */
import assert from 'node:assert/strict';
import { ImRedis, ImEngineUnavailable } from '../../src/cluster/im-redis.js';
import { RedisImStore, type RetainPolicy } from '../../src/cluster/im-store-redis.js';
import { decodeMessage, encodeMessage, messageSeq, utf8 } from '../../src/im/message.js';
import { decodeNotify } from '../../src/im/records.js';
import { startRedis, type RunningRedis } from '../helpers/redis.js';
import { sleep, until } from '../helpers/wait.js';

const POLICY: RetainPolicy = { count: 10_000, ms: 3_600_000, idempotencyMs: 60_000 };

function msg(from: number, body: string, cmid = '', ts = Date.now()): Uint8Array {
  return encodeMessage(0, from, 1000, ts, 0, utf8(cmid), utf8(body));
}

function gidem(from: number, clientMsgId: string): { from: number; clientMsgId: string; ts: number; windowMs: number } {
  return { from, clientMsgId, ts: Date.now(), windowMs: 60_000 };
}

function bodies(msgs: Uint8Array[]): string[] {
  return msgs.map((m) => Buffer.from(decodeMessage(m)!.body).toString());
}

describe('cluster: the reliable-messaging store on Redis', function () {
  this.timeout(60_000);
  let redis: RunningRedis;
  const opened: RedisImStore[] = [];
  let nextMid = 1;

  const store = async (policy: RetainPolicy = POLICY, timeoutMs = 1000): Promise<RedisImStore> => {
    const s = new RedisImStore(new ImRedis({ url: redis.url, timeoutMs }), 'rctest', policy);
    opened.push(s);
    // The client connects in the background.
    await until(() => s.redis.ready, 5000, 'the store to connect');
    return s;
  };

  before(async () => {
    redis = await startRedis({ appendfsync: 'always' });
  });
  after(async () => {
    for (const s of opened) await s.close();
    await redis.stop();
  });

  it('two boxes appending to one user at once get seqs 1..n, each once, each message stored under its seq', async () => {
    const [a, b] = [await store(), await store()];
    const mid = nextMid++;
    const n = 400;
    const writes: Array<Promise<{ seq: number; fresh: boolean }>> = [];
    for (let i = 0; i < n; i++) writes.push((i % 2 === 0 ? a : b).append(mid, msg(7, `m${i}`), 7, ''));
    const seqs = (await Promise.all(writes)).map((r) => r.seq);
    assert.deepEqual([...seqs].sort((x, y) => x - y), Array.from({ length: n }, (_, i) => i + 1));
    // Each connection's own appends got increasing seqs (a connection's commands run in order).
    const own = seqs.filter((_, i) => i % 2 === 0);
    assert.deepEqual(own, [...own].sort((x, y) => x - y));
    const stored = await b.range(mid, 0, n, n, 0);
    assert.equal(stored.length, n);
    stored.forEach((m, i) => assert.equal(messageSeq(m), i + 1));
    // The body stored under seq s is the one whose append answered s.
    const bySeq = new Map(seqs.map((s, i) => [s, `m${i}`]));
    assert.deepEqual(bodies(stored), stored.map((m) => bySeq.get(messageSeq(m))));
    assert.equal(await a.lastSeq(mid), n);
  });

  it('a client_msg_id retried on another box answers the original seq and stores nothing', async () => {
    const [a, b] = [await store(), await store()];
    const mid = nextMid++;
    await a.append(mid, msg(5, 'first'), 5, '');
    // The original and its retry race on two connections: exactly one stores.
    const [r1, r2] = await Promise.all([a.append(mid, msg(5, 'hello', 'c-1'), 5, 'c-1'), b.append(mid, msg(5, 'hello', 'c-1'), 5, 'c-1')]);
    assert.equal(r1.seq, r2.seq);
    assert.equal([r1.fresh, r2.fresh].filter(Boolean).length, 1);
    const again = await b.append(mid, msg(5, 'hello', 'c-1'), 5, 'c-1');
    assert.deepEqual(again, { seq: r1.seq, fresh: false });
    assert.equal(await a.idempotent(5, 'c-1', mid), r1.seq);
    // The same id from another sender, or to another recipient, is another send.
    assert.equal((await a.append(mid, msg(6, 'other sender', 'c-1'), 6, 'c-1')).fresh, true);
    assert.equal((await a.append(mid + 1000, msg(5, 'other recipient', 'c-1'), 5, 'c-1')).fresh, true);
    assert.deepEqual(bodies(await a.range(mid, 0, 100, 100, 0)), ['first', 'hello', 'other sender']);
  });

  it('sync ranges: after < seq ≤ upTo, limited, in order; retention by count and by age', async () => {
    const s = await store({ ...POLICY, count: 5 });
    const mid = nextMid++;
    for (let i = 1; i <= 8; i++) await s.append(mid, msg(1, `b${i}`), 1, '');
    // Only the last 5 are kept: a sync from 0 starts at seq 4 (the gap is retention).
    assert.deepEqual(bodies(await s.range(mid, 0, 8, 100, 0)), ['b4', 'b5', 'b6', 'b7', 'b8']);
    assert.deepEqual(bodies(await s.range(mid, 5, 7, 100, 0)), ['b6', 'b7']);
    assert.deepEqual(bodies(await s.range(mid, 3, 8, 2, 0)), ['b4', 'b5']);
    assert.deepEqual(await s.range(mid, 8, 8, 10, 0), []);
    assert.deepEqual((await s.oldest(mid))?.[0], 4);
    // By age: messages older than im.retainMs are not served at once, and removed by a later write
    // (every 8th write looks at the oldest ones).
    const aged = await store({ ...POLICY, ms: 1000 });
    const m2 = nextMid++;
    const old = Date.now() - 5000;
    await aged.append(m2, msg(1, 'old1', '', old), 1, '');
    await aged.append(m2, msg(1, 'old2', '', old), 1, '');
    await aged.append(m2, msg(1, 'new3'), 1, '');
    assert.deepEqual(bodies(await aged.range(m2, 0, 3, 10, Date.now() - 1000)), ['new3']);
    assert.equal((await aged.range(m2, 0, 3, 10, 0)).length, 3);
    for (let i = 4; i <= 8; i++) await aged.append(m2, msg(1, `new${i}`), 1, '');
    assert.deepEqual(bodies(await aged.range(m2, 0, 8, 10, 0)), ['new3', 'new4', 'new5', 'new6', 'new7', 'new8']);
    assert.equal(await aged.lastSeq(m2), 8);
  });

  it('read positions: per device, only forward, never beyond the last seq, visible from another box', async () => {
    const [a, b] = [await store(), await store()];
    const mid = nextMid++;
    for (let i = 0; i < 4; i++) await a.append(mid, msg(1, `r${i}`), 1, '');
    assert.equal(await a.setReadPosition(mid, 'phone', 3), 3);
    assert.equal(await b.setReadPosition(mid, 'phone', 2), 3); // an older ack does not move it back
    assert.equal(await b.setReadPosition(mid, 'laptop', 99), 4); // capped at the last seq
    assert.equal(await b.readPosition(mid, 'phone'), 3);
    assert.equal(await a.readPosition(mid, 'tablet'), 0);
    assert.deepEqual((await a.readPositions(mid)).sort((x, y) => x.device.localeCompare(y.device)), [
      { device: 'laptop', read: 4 },
      { device: 'phone', read: 3 },
    ]);
  });

  it('groups: create, members, read fan-out inbox with idempotent sends', async () => {
    const [a, b] = [await store(), await store()];
    const gid = 900 + nextMid++;
    assert.equal(await a.createGroup(gid, [3, 1, 2]), true);
    assert.equal(await b.createGroup(gid, [4]), false);
    assert.deepEqual(await b.groupMembers(gid), [1, 2, 3]);
    assert.equal(await b.changeMembers(gid, [4, 5], [1]), true);
    assert.equal(await a.changeMembers(gid + 1, [1], []), false);
    assert.equal((await a.group(gid))?.[1], 4);
    assert.equal(await a.isMember(gid, 1), false);
    assert.equal(await a.isMember(gid, 5), true);
    const [g1, g2] = await Promise.all([a.appendGroup(gid, () => msg(2, 'g1', 'x'), gidem(2, 'x')), b.appendGroup(gid, () => msg(2, 'g1', 'x'), gidem(2, 'x'))]);
    assert.equal(g1.seq, 1);
    assert.equal(g2.seq, 1);
    assert.equal((await b.appendGroup(gid, () => msg(3, 'g2'), null)).seq, 2);
    assert.deepEqual(bodies(await a.groupRange(gid, 0, 10, 0)), ['g1', 'g2']);
    assert.equal((await a.group(gid))?.[2], 2);
    assert.deepEqual(await a.appendGroup(gid + 1, () => msg(2, 'none'), null), { seq: 0, fresh: false });
  });

  it('an append publishes its notice to the other shards holding the user (not to itself), and drops members nobody listens to', async () => {
    const [writer, holder] = [await store(), await store()];
    const mid = nextMid++;
    writer.notifyFrom({ channelPrefix: 'rctest:im:notify:', self: 'box-a:0' });
    const got: Array<{ mid: number; seq: number; body: string | null }> = [];
    await holder.redis.subscribe('rctest:im:notify:box-c:1', (b) => {
      const n = decodeNotify(b, 0, b.length)!;
      got.push({ mid: n.mid, seq: n.seq, body: n.msg === null ? null : bodies([n.msg])[0]! });
    });
    await holder.redis.call(['SADD', holder.keys.boxes(mid), 'box-c:1', 'box-a:0', 'box-dead:0']);
    const r = await writer.append(mid, msg(1, 'hi', 'n-1'), 1, 'n-1');
    await writer.append(mid, msg(1, 'hi', 'n-1'), 1, 'n-1'); // a retry: notified again, without the message
    await until(() => got.length === 2, 5000, 'two notices');
    assert.deepEqual(got, [{ mid, seq: r.seq, body: 'hi' }, { mid, seq: r.seq, body: null }]);
    // The dead box's member is gone; this shard's own stays (it was not published to).
    assert.deepEqual(((await holder.redis.call(['SMEMBERS', holder.keys.boxes(mid)])) as string[]).sort(), ['box-a:0', 'box-c:1']);
  });

  it('Redis SIGKILLed and restarted with appendfsync always: every acknowledged append is there, seqs go on', async () => {
    const s = await store();
    const mid = nextMid++;
    const acked = new Map<number, string>();
    let failed = 0;
    let stop = false;
    // Two writers keep appending while Redis is killed; an append answered is acknowledged.
    const writer = async (w: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        try {
          const r = await s.append(mid, msg(1, `w${w}-${i}`), 1, '');
          acked.set(r.seq, `w${w}-${i}`);
        } catch (err) {
          assert.ok(err instanceof ImEngineUnavailable, String(err));
          failed++;
          await sleep(5); // pacing: a retry loop, not a wait for a state
        }
      }
    };
    const writers = [writer(0), writer(1)];
    await until(() => acked.size >= 50, 10_000, '50 acknowledged appends');
    await redis.kill();
    const ackedBefore = acked.size;
    await redis.restart();
    await until(() => acked.size >= ackedBefore + 50, 10_000, '50 more acknowledged appends after the restart');
    stop = true;
    await Promise.all(writers);
    assert.ok(failed > 0, 'some appends failed while Redis was down');
    const last = await s.lastSeq(mid);
    const stored = await s.range(mid, 0, last, 100_000, 0);
    const bySeq = new Map(stored.map((m) => [messageSeq(m), bodies([m])[0]]));
    for (const [seq, body] of acked) assert.equal(bySeq.get(seq), body, `acknowledged seq ${seq} lost`);
    // Seqs are never reused after the restart: every stored seq appears once.
    assert.equal(new Set(stored.map(messageSeq)).size, stored.length);
  });

  it('Redis hanging (SIGSTOP): a call fails at its deadline (cluster.commandTimeoutMs), it never hangs', async () => {
    const s = await store(POLICY, 300);
    const mid = nextMid++;
    await s.append(mid, msg(1, 'before'), 1, '');
    redis.proc.kill('SIGSTOP');
    try {
      const t0 = Date.now();
      await assert.rejects(s.append(mid, msg(1, 'stuck'), 1, 'st-1'), (err: unknown) => err instanceof ImEngineUnavailable && /no answer within 300 ms/.test(err.message));
      const took = Date.now() - t0;
      assert.ok(took >= 290 && took < 1500, `failed after ${took} ms`);
    } finally {
      redis.proc.kill('SIGCONT');
    }
    // The stuck append ran when Redis went on: a retry with its client_msg_id answers its seq.
    assert.deepEqual(await s.append(mid, msg(1, 'stuck'), 1, 'st-1'), { seq: 2, fresh: false });
  });

  it('Redis down: every operation fails fast with the typed error (503 naming the engine), then works again', async () => {
    const s = await store(POLICY, 500);
    const mid = nextMid++;
    await s.append(mid, msg(1, 'before'), 1, '');
    await redis.kill();
    try {
      for (const op of [() => s.append(mid, msg(1, 'x'), 1, ''), () => s.range(mid, 0, 10, 10, 0), () => s.lastSeq(mid), () => s.setReadPosition(mid, 'd', 1)]) {
        const t0 = Date.now();
        await assert.rejects(op(), (err: unknown) => err instanceof ImEngineUnavailable && err.status === 503 && /redis/.test(err.message));
        assert.ok(Date.now() - t0 < 1000, `failed within the deadline (${Date.now() - t0} ms)`);
      }
    } finally {
      await redis.restart();
    }
    await until(() => s.redis.ready, 10_000, 'the store to reconnect');
    assert.equal((await s.append(mid, msg(1, 'after'), 1, '')).seq, 2);
  });
});
