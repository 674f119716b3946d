/**
 * actors/deliverer.ts with fake members in a real registry: a push is framed once for every
 * recipient, room pushes merge (adaptively, or within a fixed window), accepts filtering, the
 * slow-consumer policies, and the replies that complete a push at the acceptor. The deliverer's
 * clock is the test's: it moves only when a test moves it (a slow socket write, time passing).
 */
import assert from 'node:assert/strict';
import { readDeepestQueues } from '../../src/deepest-queues.js';
import { latencyBucket, readLatency } from '../../src/latency-histogram.js';
import { ST_SLOW_DROPPED, ST_SLOW_GAPS } from '../../src/layout.js';
import { MessageKind, SystemActorId } from '../../src/messages.js';
import { requestOrigin } from '../../src/request-table.js';
import type { PushFrames } from '../../src/protocols/frames.js';
import { encodeAllPush, encodeDeliver, encodeRoomPush } from '../../src/push/records.js';
import { SlowConsumerPolicies } from '../../src/push/slow-policy.js';
import { parseRoomPolicies } from '../../src/config/lists.js';
import { Deliverer, HOLD_FACTOR, MAX_HOLD_MS } from '../../actors/deliverer.js';
import type { RegistryMember } from '../../actors/registry.js';
import { FakeTransport, testWorker, type TestWorker } from './fakes.js';

interface Member {
  id: number;
  key: string;
  mid: number;
  open: boolean;
  accepts: ReadonlySet<number>;
  transport: FakeTransport;
  slowDropped: number;
  dropSlow(): void;
}

function member(w: TestWorker, id: number, rooms: string[] = [], accepts: number[] = [1000]): Member {
  const m: Member = {
    id,
    key: `k${id}`,
    mid: id,
    open: true,
    accepts: new Set(accepts),
    transport: new FakeTransport(),
    slowDropped: 0,
    dropSlow() {
      this.slowDropped++;
      this.open = false;
    },
  };
  const r = m as unknown as RegistryMember;
  w.registry.byId.set(id, r);
  for (const room of rooms) w.registry.rooms.join(room, r);
  return m;
}

/** The deliverer's clock (ms): frozen unless a test moves it. */
class Clock {
  t = 1000;
  readonly now = (): number => this.t;
}

function deliverer(w: TestWorker, windowMs = 0, roomPolicies = '', maxBytes = 1 << 20, clock = new Clock()): Deliverer {
  const rules = parseRoomPolicies(roomPolicies);
  if (typeof rules === 'string') throw new Error(rules);
  return new Deliverer(w.ctx, { windowMs, maxBytes, writeQueueBytes: 1000, clock: clock.now }, new SlowConsumerPolicies('close', rules));
}

/** Makes each write to this member take `ms` on the deliverer's clock (a socket that is slow to write). */
function slowWrites(m: Member, clock: Clock, ms: number): void {
  const write = m.transport.writeFrames.bind(m.transport);
  m.transport.writeFrames = (frames: PushFrames): void => {
    clock.t += ms;
    write(frames);
  };
}

const bodies = (f: PushFrames): string[] => f.items.map((i) => Buffer.from(i.body).toString());

function rec(d: Deliverer, kind: number, body: Uint8Array, source = 2): void {
  d.receive(kind, source, body, 0, body.length);
}

/** [req, connections, fanout, shard] of every reply sent to the dispatcher that took the request. */
function replies(w: TestWorker, kind: number): number[][] {
  return w.system.take(kind).map((r) => {
    const dv = new DataView(r.body.buffer, r.body.byteOffset, 16);
    assert.equal(r.thread, requestOrigin(dv.getUint32(0)), 'to the worker the request id names');
    assert.equal(r.actorId, SystemActorId.PushDispatcher);
    return [dv.getUint32(0), dv.getUint32(4), dv.getUint32(8), dv.getUint32(12)];
  });
}

/** Past the deliverer's flush: with a window of 0 and an idle worker it flushes in a microtask (before any immediate); else on its timer. */
const tick = (ms = 0): Promise<void> => new Promise((r) => (ms === 0 ? setImmediate(r) : setTimeout(r, ms)));

describe('unit: deliverer', () => {
  it('frames a room push once and writes the same frame to every member (open members only)', async () => {
    const w = testWorker();
    const d = deliverer(w);
    const ms = [member(w, 1, ['r://1']), member(w, 2, ['r://1']), member(w, 3, ['r://1']), member(w, 4, ['r://2'])];
    ms[2]!.open = false;
    rec(d, MessageKind.PushRoom, encodeRoomPush(7, 1000, 'r://1', Buffer.from('hello')));
    assert.equal(ms[0]!.transport.frames.length, 0, 'held until the drain that brought it is over (window 0, idle worker)');
    await tick();
    const f = ms[0]!.transport.frames[0]!;
    assert.ok(f !== undefined);
    assert.equal(ms[1]!.transport.frames[0], f, 'one PushFrames object shared by the recipients');
    assert.equal(ms[2]!.transport.frames.length, 0);
    assert.equal(ms[3]!.transport.frames.length, 0);
    assert.equal(f.tcp(), f.tcp(), 'encoded once per transport');
    assert.deepEqual(replies(w, MessageKind.PushReply), [[7, 2, 0, 0]]);
  });

  it('merges the room pushes of one window into one write per member; every request gets its reply', async () => {
    const w = testWorker();
    const d = deliverer(w, 20);
    const m = member(w, 1, ['r://1']);
    rec(d, MessageKind.PushRoom, encodeRoomPush(1, 1000, 'r://1', Buffer.from('a')));
    rec(d, MessageKind.PushRoom, encodeRoomPush(2, 1001, 'r://1', Buffer.from('b')));
    assert.equal(w.system.dozing, true, 'the worker dozes while the window is open');
    await tick(40);
    assert.equal(w.system.dozing, false);
    assert.ok(w.system.catchUps >= 1, 'the flush first takes what the mailbox holds');
    assert.equal(m.transport.frames.length, 1);
    assert.deepEqual(m.transport.frames[0]!.items.map((i) => [i.op, Buffer.from(i.body).toString()]), [[1000, 'a'], [1001, 'b']]);
    assert.deepEqual(replies(w, MessageKind.PushReply), [[1, 1, 0, 0], [2, 1, 0, 0]]);
  });

  it('records each push\'s arrival-to-write latency in the worker\'s histogram: one clock read per batch, none per socket', async () => {
    const w = testWorker();
    const clock = new Clock();
    let reads = 0;
    const counting = { now: (): number => (reads++, clock.t) } as Clock;
    const d = deliverer(w, 0, '', 1 << 20, counting);
    const members = [member(w, 1, ['r://1']), member(w, 2, ['r://1']), member(w, 3, ['r://1'])];
    for (const m of members) slowWrites(m, clock, 2); // every socket write takes 2 ms
    const hist = (): number[] => [...readLatency(w.status.words, w.ctx.index).buckets];
    assert.ok(hist().every((n) => n === 0));
    rec(d, MessageKind.PushRoom, encodeRoomPush(1, 1000, 'r://1', Buffer.from('a')));
    clock.t += 1; // the second push arrives 1 ms later, in the same drain
    rec(d, MessageKind.PushRoom, encodeRoomPush(2, 1000, 'r://1', Buffer.from('b')));
    reads = 0;
    await tick();
    assert.equal(members[0]!.transport.frames.length, 1, 'merged: one write per member');
    assert.ok(reads <= 3, `clock reads in the flush: ${reads} (flush start, batch written, flush end), not one per socket`);
    // Written 3 × 2 ms after the flush began: the first push waited 7 ms, the second 6 ms.
    const after = hist();
    assert.equal(after[latencyBucket(7000)], 2, 'both in the 4.1-8.2 ms bucket');
    assert.equal(after.reduce((a, b) => a + b, 0), 2, 'one count per push, not per recipient');
    assert.equal(readLatency(w.status.words, w.ctx.index).sumUs, 13_000);
    // A Deliver (push by key or mid) to two connections: written 4 ms after its arrival.
    rec(d, MessageKind.Deliver, encodeDeliver(3, 1000, 1, [1, 2], Buffer.from('c')));
    assert.equal(hist()[latencyBucket(4000)], 1);
    // A room nobody here is in: no write, nothing recorded.
    rec(d, MessageKind.PushRoom, encodeRoomPush(4, 1000, 'r://empty', Buffer.from('d')));
    await tick();
    assert.equal(hist().reduce((a, b) => a + b, 0), 3);
  });

  it('publishes the few deepest outbound queues of its connections in the status words, and forgets those that drained or closed', async () => {
    const w = testWorker();
    const d = deliverer(w);
    const ms = [10, 500, 0, 300, 200, 100].map((queued, i) => {
      const m = member(w, i + 1, ['r://q']);
      m.mid = 9_007_199_254_740_000 + i; // mids need both words
      m.transport.queued = queued; // what is left queued after a write
      return m;
    });
    rec(d, MessageKind.PushRoom, encodeRoomPush(1, 1000, 'r://q', Buffer.from('x')));
    await tick();
    assert.deepEqual(readDeepestQueues(w.status.words, 0), [], 'published on the refresh, not per write');
    d.queues.publish();
    assert.deepEqual(readDeepestQueues(w.status.words, 0), [
      { conn: 2, mid: 9_007_199_254_740_001, bytes: 500 },
      { conn: 4, mid: 9_007_199_254_740_003, bytes: 300 },
      { conn: 5, mid: 9_007_199_254_740_004, bytes: 200 },
      { conn: 6, mid: 9_007_199_254_740_005, bytes: 100 },
    ]);
    ms[1]!.transport.queued = 0; // drained
    ms[3]!.open = false; // closed
    d.queues.publish();
    assert.deepEqual(readDeepestQueues(w.status.words, 0).map((q) => [q.conn, q.bytes]), [[5, 200], [6, 100], [1, 10]]);
    for (const m of ms) m.transport.queued = 0;
    d.queues.publish();
    assert.deepEqual(readDeepestQueues(w.status.words, 0), []);
    d.queues.stop();
  });

  it('flushes a batch at once when it reaches push.batchMaxBytes', () => {
    const w = testWorker();
    const d = deliverer(w, 10_000, '', 64);
    const m = member(w, 1, ['r://1']);
    rec(d, MessageKind.PushRoom, encodeRoomPush(1, 1000, 'r://1', Buffer.alloc(100)));
    assert.equal(m.transport.frames.length, 1);
    d.flushAll();
  });

  it('a broadcast reaches the members that accept its op; a Deliver reaches the listed, open, accepting connections and says its fanout', async () => {
    const w = testWorker();
    const d = deliverer(w);
    const a = member(w, 1, [], [1000]);
    const b = member(w, 2, [], [2000]);
    rec(d, MessageKind.PushAll, encodeAllPush(3, 1000, 0, Buffer.from('all')));
    await tick();
    assert.equal(a.transport.frames.length, 1);
    assert.equal(b.transport.frames.length, 0);
    rec(d, MessageKind.Deliver, encodeDeliver(4, 2000, 3, [1, 2, 99], Buffer.from('direct')), 1);
    assert.equal(b.transport.frames.length, 1);
    assert.equal(a.transport.frames.length, 1, 'does not accept 2000');
    assert.deepEqual(replies(w, MessageKind.PushReply), [[3, 1, 0, 0]]);
    assert.deepEqual(replies(w, MessageKind.DeliverReply), [[4, 1, 3, 1]], 'fanout 3, shard = the record source');
  });

  it('policy close: a member whose queue passes push.writeQueueBytes is dropped (dropSlow) and not counted', async () => {
    const w = testWorker();
    const d = deliverer(w);
    const fast = member(w, 1, ['r://1']);
    const slow = member(w, 2, ['r://1']);
    slow.transport.queued = 5000;
    rec(d, MessageKind.PushRoom, encodeRoomPush(9, 1000, 'r://1', Buffer.from('x')));
    await tick();
    assert.equal(slow.slowDropped, 1);
    assert.equal(fast.slowDropped, 0);
    assert.deepEqual(replies(w, MessageKind.PushReply), [[9, 1, 0, 0]]);
  });

  it('policy drop-oldest (a room rule): the oldest pushes go, counted per message and per gap opened; the member stays', async () => {
    const w = testWorker();
    const d = deliverer(w, 0, 'r://*=drop-oldest');
    const m = member(w, 1, ['r://1']);
    m.transport.queued = 5000;
    m.transport.dropNext = 3;
    rec(d, MessageKind.PushRoom, encodeRoomPush(1, 1000, 'r://1', Buffer.from('x')));
    await tick();
    m.transport.dropNext = 2;
    rec(d, MessageKind.PushRoom, encodeRoomPush(2, 1000, 'r://1', Buffer.from('y')));
    await tick();
    assert.equal(m.slowDropped, 0);
    assert.equal(w.status.load(ST_SLOW_DROPPED), 5);
    assert.equal(w.status.load(ST_SLOW_GAPS), 1, 'the second drop extends the gap already open');
    assert.deepEqual(replies(w, MessageKind.PushReply), [[1, 1, 0, 0], [2, 1, 0, 0]]);
    const frames: PushFrames[] = m.transport.frames;
    assert.equal(frames.length, 2);
  });
  describe('adaptive merging (push.batchWindowMs 0)', () => {
    it('a lone push that finds the worker idle is written at the end of the drain that brought it: no timer, no doze', async () => {
      const w = testWorker();
      const d = deliverer(w);
      const m = member(w, 1, ['r://1']);
      rec(d, MessageKind.PushRoom, encodeRoomPush(1, 1000, 'r://1', Buffer.from('a')));
      assert.equal(m.transport.frames.length, 0, 'not inside the drain');
      assert.equal(w.system.dozing, false);
      // The deliverer's microtask was queued before this await's: it has run when we resume.
      await Promise.resolve();
      assert.equal(m.transport.frames.length, 1);
      assert.deepEqual(replies(w, MessageKind.PushReply), [[1, 1, 0, 0]]);
    });

    it('pushes that arrive in the same drain are merged into one write', async () => {
      const w = testWorker();
      const d = deliverer(w);
      const m = member(w, 1, ['r://1']);
      rec(d, MessageKind.PushRoom, encodeRoomPush(1, 1000, 'r://1', Buffer.from('a')));
      rec(d, MessageKind.PushRoom, encodeRoomPush(2, 1000, 'r://1', Buffer.from('b')));
      rec(d, MessageKind.PushAll, encodeAllPush(3, 1000, 0, Buffer.from('c')));
      await Promise.resolve();
      assert.equal(m.transport.frames.length, 2, 'one write for the room, one for the broadcast');
      assert.deepEqual(bodies(m.transport.frames[0]!), ['a', 'b']);
      assert.deepEqual(bodies(m.transport.frames[1]!), ['c']);
      assert.deepEqual(replies(w, MessageKind.PushReply), [[1, 1, 0, 0], [2, 1, 0, 0], [3, 1, 0, 0]]);
    });

    it(`after a flush that took F ms, pushes merge for ${HOLD_FACTOR} × F (dozing), then go out as one write; once the hold is over a push goes at once again`, async () => {
      const w = testWorker();
      const clock = new Clock();
      const d = deliverer(w, 0, '', 1 << 20, clock);
      const ms = [member(w, 1, ['r://1']), member(w, 2, ['r://1']), member(w, 3, ['r://1'])];
      for (const m of ms) slowWrites(m, clock, 2); // F = 6 ms: hold 24 ms
      rec(d, MessageKind.PushRoom, encodeRoomPush(1, 1000, 'r://1', Buffer.from('a')));
      await Promise.resolve();
      assert.equal(ms[0]!.transport.frames.length, 1, 'the first push found the worker idle');
      // Arriving while the sockets are still being written (within the hold): merged.
      rec(d, MessageKind.PushRoom, encodeRoomPush(2, 1000, 'r://1', Buffer.from('b')));
      await tick();
      assert.equal(ms[0]!.transport.frames.length, 1, 'held');
      assert.equal(w.system.dozing, true, 'the worker dozes while a flush is due by the timer');
      rec(d, MessageKind.PushRoom, encodeRoomPush(3, 1000, 'r://1', Buffer.from('c')));
      await tick(6 * HOLD_FACTOR + 20);
      assert.equal(w.system.dozing, false);
      assert.ok(w.system.catchUps >= 1, 'the flush first takes what the mailbox holds');
      for (const m of ms) {
        assert.equal(m.transport.frames.length, 2);
        assert.deepEqual(bodies(m.transport.frames[1]!), ['b', 'c']);
      }
      assert.deepEqual(replies(w, MessageKind.PushReply), [[1, 3, 0, 0], [2, 3, 0, 0], [3, 3, 0, 0]]);
      // Quiet for longer than the hold: the next push is written at once.
      clock.t += 100;
      rec(d, MessageKind.PushRoom, encodeRoomPush(4, 1000, 'r://1', Buffer.from('d')));
      await Promise.resolve();
      assert.equal(ms[0]!.transport.frames.length, 3);
    });

    it(`the hold is at most ${MAX_HOLD_MS} ms however long the last flush took`, async () => {
      const w = testWorker();
      const clock = new Clock();
      const d = deliverer(w, 0, '', 1 << 20, clock);
      const m = member(w, 1, ['r://1']);
      slowWrites(m, clock, 100);
      rec(d, MessageKind.PushRoom, encodeRoomPush(1, 1000, 'r://1', Buffer.from('a')));
      await Promise.resolve();
      rec(d, MessageKind.PushRoom, encodeRoomPush(2, 1000, 'r://1', Buffer.from('b')));
      await tick(MAX_HOLD_MS / 2);
      assert.equal(m.transport.frames.length, 1, 'still held');
      await tick(MAX_HOLD_MS / 2 + 15);
      assert.equal(m.transport.frames.length, 2, `written within ${MAX_HOLD_MS} ms`);
    });
  });

  it('fixed merging (push.batchWindowMs > 0): a lone push waits for the window, and not past it', async () => {
    const w = testWorker();
    const d = deliverer(w, 30);
    const m = member(w, 1, ['r://1']);
    rec(d, MessageKind.PushRoom, encodeRoomPush(1, 1000, 'r://1', Buffer.from('a')));
    await tick(10);
    assert.equal(m.transport.frames.length, 0, 'inside the window');
    await tick(30);
    assert.equal(m.transport.frames.length, 1, 'written when the window closed');
  });
});
