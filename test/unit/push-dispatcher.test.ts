/**
 * actors/push-dispatcher.ts on worker 0 of 2 with a fake actor system: what it sends for each kind
 * of push (keys of its own shard straight to their holders, the others' to their shard), its
 * completion accounting (first hops, a shard's fanout over its holders), request ids that name its
 * thread, a worker's death completing what waits for it, refused hops, and push.maxInFlight as one
 * limit for every worker's dispatcher.
 */
import assert from 'node:assert/strict';
import { ActorKind } from '../../src/actor-system.js';
import { shardOfKey, shardOfMid } from '../../src/hash.js';
import { MessageKind, RouterActorId, SystemActorId } from '../../src/messages.js';
import { createProcessWords, ProcessWords } from '../../src/process-words.js';
import { encodeReply } from '../../src/push/records.js';
import { PushRefused, type PushResult } from '../../src/push/types.js';
import { encodeWorker } from '../../src/router-records.js';
import { requestOrigin } from '../../src/request-table.js';
import { silentLog, FakeSystem } from './fakes.js';
import { KeyDirectory } from '../../actors/key-directory.js';
import { PushDispatcher } from '../../actors/push-dispatcher.js';

const WORKERS = 2;

function setup(maxPending = 100, self = 0, process = createProcessWords(WORKERS)) {
  const system = new FakeSystem(self);
  const live = new Set([0, 1]);
  const keys = new KeyDirectory({ kick: () => undefined, deliver: () => undefined, replyEmpty: () => undefined });
  const inFlight = new ProcessWords(process, WORKERS, self).pushes;
  const push = new PushDispatcher({ workers: WORKERS, system: system.asSystem(), liveWorkers: () => [...live], isLive: (w) => live.has(w), keys, queries: null, inFlight }, silentLog, maxPending, 60_000);
  const reply = (kind: number, source: number, req: number, connections: number, fanout = 0, shard = 0): void => {
    const b = encodeReply(req, connections, fanout, shard);
    push.receive(kind, source, b, 0, b.length);
  };
  const reqOf = (r: { body: Uint8Array }): number => new DataView(r.body.buffer, r.body.byteOffset, 4).getUint32(0);
  return { system, live, keys, push, reply, reqOf };
}

/** Whether a promise has settled (after the microtasks queued so far). */
async function settled(p: Promise<PushResult>): Promise<PushResult | 'pending'> {
  return Promise.race([p, new Promise<'pending'>((r) => setImmediate(() => r('pending')))]);
}

/** A key whose directory shard is `shard`. */
function keyOn(shard: number, tag: string): string {
  for (let i = 0; ; i++) if (shardOfKey(`${tag}${i}`, WORKERS) === shard) return `${tag}${i}`;
}

describe('unit: push dispatcher', () => {
  it('a room push goes to every live worker and completes when each has answered, with the sum; its id names this worker', async () => {
    const { system, push, reply, reqOf } = setup(100, 1);
    const done = push.pushRoom(1000, 'live://1', Buffer.from('x'));
    const sent = system.take(MessageKind.PushRoom);
    assert.deepEqual(sent.map((r) => [r.thread, r.actorKind, r.actorId]), [[0, ActorKind.System, SystemActorId.Deliverer], [1, ActorKind.System, SystemActorId.Deliverer]]);
    const req = reqOf(sent[0]!);
    assert.equal(requestOrigin(req), 1, 'replies find this dispatcher by the request id');
    reply(MessageKind.PushReply, 0, req, 3);
    assert.equal(await settled(done), 'pending', 'one worker still to answer');
    reply(MessageKind.PushReply, 1, req, 4);
    assert.deepEqual(await done, { connections: 7 });
    assert.equal(push.inFlight(), 0);
  });

  it("a push by key: its own shard's keys go straight to their holders, the other shard's to that shard; complete when both parts are", async () => {
    const { system, keys, push, reply, reqOf } = setup();
    const mine = keyOn(0, 'a');
    const theirs = keyOn(1, 'b');
    keys.register(mine, { worker: 1, connId: 6 });
    const done = push.pushKeys(1000, [mine, theirs], Buffer.from('x'));
    assert.ok(system.catchUps >= 1, 'key registrations already committed here are applied first');
    const delivers = system.take(MessageKind.Deliver);
    assert.deepEqual(delivers.map((r) => [r.thread, r.actorId]), [[1, SystemActorId.Deliverer]]);
    const forwarded = system.take(MessageKind.PushKeys);
    assert.deepEqual(forwarded.map((r) => [r.thread, r.actorKind, r.actorId]), [[1, ActorKind.RouterShard, RouterActorId.Keys]]);
    const req = reqOf(delivers[0]!);
    assert.equal(reqOf(forwarded[0]!), req);
    reply(MessageKind.DeliverReply, 1, req, 1, 1, 0);
    assert.equal(await settled(done), 'pending', "the other shard's part is still open");
    reply(MessageKind.DeliverReply, 0, req, 1, 1, 1);
    assert.deepEqual(await done, { connections: 2 });
  });

  it('a push by key nobody holds on its own shard completes at once with 0', async () => {
    const { push } = setup();
    assert.deepEqual(await push.pushKeys(1000, [keyOn(0, 'nobody')], Buffer.from('x')), { connections: 0 });
  });

  it('a push by mid goes to the owning shard; the shard part completes after its fanout of holder replies (or its own empty reply)', async () => {
    const { system, push, reply, reqOf } = setup();
    let mid = 12345;
    while (shardOfMid(mid, WORKERS) !== 1) mid++;
    const done = push.pushMids(1000, [mid], Buffer.from('x'));
    const [r] = system.take(MessageKind.PushMids);
    assert.deepEqual([r!.thread, r!.actorKind, r!.actorId], [1, ActorKind.RouterShard, RouterActorId.Shard]);
    const req = reqOf(r!);
    reply(MessageKind.DeliverReply, 0, req, 2, 2, 1);
    assert.equal(await settled(done), 'pending', 'one of two holders answered');
    reply(MessageKind.DeliverReply, 1, req, 1, 2, 1);
    assert.deepEqual(await done, { connections: 3 });
    const empty = push.pushMids(1000, [mid], Buffer.from('y'));
    reply(MessageKind.PushReply, 1, reqOf(system.take(MessageKind.PushMids)[0]!), 0);
    assert.deepEqual(await empty, { connections: 0 });
    const catchUps = system.catchUps;
    let own = mid + 1;
    while (shardOfMid(own, WORKERS) !== 0) own++;
    void push.pushMids(1000, [own], Buffer.from('z'));
    assert.equal(system.catchUps, catchUps + 1, "its own shard's part: registrations already committed here are applied first");
    push.close();
  });

  it("a worker's death (the supervisor's RouterPurgeWorker) completes the room pushes and own-shard key pushes that wait for its answer", async () => {
    const { system, keys, push, reply, reqOf } = setup();
    const a = keyOn(0, 'a');
    const b = keyOn(0, 'b');
    keys.register(a, { worker: 0, connId: 5 });
    keys.register(b, { worker: 1, connId: 6 });
    const room = push.pushRoom(1000, 'live://1', Buffer.from('x'));
    const byKey = push.pushKeys(1000, [a, b], Buffer.from('x'));
    const roomReq = reqOf(system.take(MessageKind.PushRoom)[0]!);
    const keyReq = reqOf(system.take(MessageKind.Deliver)[0]!);
    reply(MessageKind.PushReply, 0, roomReq, 5);
    reply(MessageKind.DeliverReply, 0, keyReq, 1, 2, 0);
    assert.equal(await settled(room), 'pending');
    const died = encodeWorker(1);
    push.receive(MessageKind.RouterPurgeWorker, 2, died, 0, died.length);
    assert.deepEqual(await room, { connections: 5 });
    assert.deepEqual(await byKey, { connections: 1 });
    assert.equal(push.inFlight(), 0);
  });

  it('a hop whose mailbox refuses the record is given up: the push does not wait for it', async () => {
    const { system, push, reply, reqOf } = setup();
    system.refusing.add(1);
    const done = push.pushRoom(1000, 'live://1', Buffer.from('x'));
    reply(MessageKind.PushReply, 0, reqOf(system.take(MessageKind.PushRoom)[0]!), 2);
    assert.deepEqual(await done, { connections: 2 });
  });

  it('push.maxInFlight is one limit for every worker: PushRefused 503 (RC_ERR_OVERLOADED) on another worker while the first push is open, counted', async () => {
    const shared = createProcessWords(WORKERS);
    const first = setup(1, 0, shared);
    const other = setup(1, 1, shared);
    const open = first.push.pushRoom(1000, 'live://1', Buffer.from('x'));
    assert.throws(() => other.push.pushRoom(1000, 'live://1', Buffer.from('y')), (err: unknown) => err instanceof PushRefused && err.status === 503 && err.code === 'RC_ERR_OVERLOADED' && err.limit === 'push.maxInFlight' && /1 pushes in flight/.test(err.message));
    assert.equal(other.push.refused, 1);
    assert.equal(other.push.inFlight(), 1, 'the process-wide count');
    first.push.close();
    await open;
    void other.push.pushRoom(1000, 'live://1', Buffer.from('z'));
    other.push.close();
  });

  it('close() answers what is still pending', async () => {
    const { push } = setup();
    const p = push.pushAll(1000, 0, Buffer.from('x'));
    push.close();
    assert.deepEqual(await p, { connections: 0 });
  });
});
