/**
 * actors/push-dispatcher.ts with a fake worker directory: what it sends for each kind of push, its
 * completion accounting (first hops, a shard's fanout over its holders), a worker's death
 * completing what waits for it, refused hops, and overload protection.
 */
import assert from 'node:assert/strict';
import { ActorKind } from '../../src/actor-system.js';
import { shardOfKey, shardOfMid } from '../../src/hash.js';
import { MessageKind, RouterActorId, SystemActorId } from '../../src/messages.js';
import { encodeReply } from '../../src/push/records.js';
import { PushRefused, type PushResult } from '../../src/push/types.js';
import { silentLog, FakeSystem } from './fakes.js';
import { PushDispatcher, type WorkerDirectory } from '../../actors/push-dispatcher.js';

const WORKERS = 2;

function setup(maxPending = 100) {
  const system = new FakeSystem(WORKERS);
  const live = new Set([0, 1]);
  const dir: WorkerDirectory = { workers: WORKERS, system: system.asSystem(), liveWorkers: () => [...live], admin: () => null };
  const push = new PushDispatcher(dir, silentLog, maxPending, 60_000);
  const reply = (kind: number, source: number, req: number, connections: number, fanout = 0, shard = 0): void => {
    const b = encodeReply(req, connections, fanout, shard);
    push.receive(kind, source, b, 0, b.length);
  };
  const reqOf = (r: { body: Uint8Array }): number => new DataView(r.body.buffer, r.body.byteOffset, 4).getUint32(0);
  return { system, live, push, reply, reqOf };
}

/** Whether a promise has settled (after the microtasks queued so far). */
async function settled(p: Promise<PushResult>): Promise<PushResult | 'pending'> {
  return Promise.race([p, new Promise<'pending'>((r) => setImmediate(() => r('pending')))]);
}

describe('unit: push dispatcher', () => {
  it('a room push goes to every live worker and completes when each has answered, with the sum', async () => {
    const { system, push, reply, reqOf } = setup();
    const done = push.pushRoom(1000, 'live://1', Buffer.from('x'));
    const sent = system.take(MessageKind.PushRoom);
    assert.deepEqual(sent.map((r) => [r.thread, r.actorKind, r.actorId]), [[0, ActorKind.System, SystemActorId.Deliverer], [1, ActorKind.System, SystemActorId.Deliverer]]);
    const req = reqOf(sent[0]!);
    reply(MessageKind.PushReply, 0, req, 3);
    assert.equal(await settled(done), 'pending', 'one worker still to answer');
    reply(MessageKind.PushReply, 1, req, 4);
    assert.deepEqual(await done, { connections: 7 });
    assert.equal(push.inFlight(), 0);
  });

  it('a push by key goes to the key-directory shard owning each key; complete when every shard part is', async () => {
    const { system, push, reply, reqOf } = setup();
    // Keys on both shards.
    const keys = Array.from({ length: 8 }, (_, i) => `k${i}`);
    const shards = new Set(keys.map((k) => shardOfKey(k, WORKERS)));
    assert.equal(shards.size, 2);
    const done = push.pushKeys(1000, keys, Buffer.from('x'));
    const sent = system.take(MessageKind.PushKeys);
    assert.deepEqual(sent.map((r) => [r.thread, r.actorKind, r.actorId]).sort(), [[0, ActorKind.RouterShard, RouterActorId.Keys], [1, ActorKind.RouterShard, RouterActorId.Keys]]);
    const req = reqOf(sent[0]!);
    reply(MessageKind.PushReply, 0, req, 0);
    assert.equal(await settled(done), 'pending', 'one shard found nobody; the other still to answer');
    reply(MessageKind.DeliverReply, 1, req, 2, 1, 1);
    assert.deepEqual(await done, { connections: 2 });
  });

  it('a push by mid goes to the owning shard; the shard part completes after its fanout of holder replies (or its own empty reply)', async () => {
    const { system, push, reply, reqOf } = setup();
    const mid = 12345;
    const shard = shardOfMid(mid, WORKERS);
    const done = push.pushMids(1000, [mid], Buffer.from('x'));
    const [r] = system.take(MessageKind.PushMids);
    assert.deepEqual([r!.thread, r!.actorKind, r!.actorId], [shard, ActorKind.RouterShard, RouterActorId.Shard]);
    const req = reqOf(r!);
    reply(MessageKind.DeliverReply, 0, req, 2, 2, shard);
    assert.equal(await settled(done), 'pending', 'one of two holders answered');
    reply(MessageKind.DeliverReply, 1, req, 1, 2, shard);
    assert.deepEqual(await done, { connections: 3 });
    const empty = push.pushMids(1000, [mid], Buffer.from('y'));
    reply(MessageKind.PushReply, shard, reqOf(system.take(MessageKind.PushMids)[0]!), 0);
    assert.deepEqual(await empty, { connections: 0 });
  });

  it("a worker's death completes the room pushes that wait for its answer, with what the others counted", async () => {
    const { system, push, reply, reqOf } = setup();
    const room = push.pushRoom(1000, 'live://1', Buffer.from('x'));
    const roomReq = reqOf(system.take(MessageKind.PushRoom)[0]!);
    reply(MessageKind.PushReply, 0, roomReq, 5);
    assert.equal(await settled(room), 'pending');
    push.workerDied(1);
    assert.deepEqual(await room, { connections: 5 });
    assert.equal(push.inFlight(), 0);
  });

  it('a hop whose mailbox refuses the record is given up: the push does not wait for it', async () => {
    const { system, push, reply, reqOf } = setup();
    system.refusing.add(1);
    const done = push.pushRoom(1000, 'live://1', Buffer.from('x'));
    reply(MessageKind.PushReply, 0, reqOf(system.take(MessageKind.PushRoom)[0]!), 2);
    assert.deepEqual(await done, { connections: 2 });
  });

  it('refuses a push past push.maxInFlight with PushRefused 503 (RC_ERR_OVERLOADED), counted', () => {
    const { push } = setup(1);
    void push.pushRoom(1000, 'live://1', Buffer.from('x'));
    assert.throws(() => push.pushRoom(1000, 'live://1', Buffer.from('y')), (err: unknown) => err instanceof PushRefused && err.status === 503 && err.code === 'RC_ERR_OVERLOADED' && err.limit === 'push.maxInFlight');
    assert.equal(push.refused, 1);
    push.close();
  });

  it('close() answers what is still pending', async () => {
    const { push } = setup();
    const p = push.pushAll(1000, 0, Buffer.from('x'));
    push.close();
    assert.deepEqual(await p, { connections: 0 });
  });
});
