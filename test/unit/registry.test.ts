/**
 * actors/registry.ts: admission and release counts, ip counts, rooms, the same key on one worker,
 * where registrations go (router shard of the mid, key-directory shard of the key) and what a resync
 * sends again, and id allocation across the 24-bit wrap.
 */
import assert from 'node:assert/strict';
import { ACTOR_ID_MASK, ST_CONNECTIONS, ST_ROOMS } from '../../src/layout.js';
import { ActorKind } from '../../src/actor-system.js';
import { shardOfKey, shardOfMid } from '../../src/hash.js';
import { MessageKind, RouterActorId } from '../../src/messages.js';
import { KEY_FLAG_RESYNC } from '../../src/router-records.js';
import { ConnectionActor } from '../../actors/connection.js';
import { FakeTransport, settle, testWorker, type TestWorker } from './fakes.js';

const enc = new TextEncoder();

function connect(w: TestWorker, ip = '10.0.0.1'): { c: ConnectionActor; t: FakeTransport } {
  const t = new FakeTransport('tcp', ip);
  return { c: ConnectionActor.accept(w.ctx, t), t };
}

async function authed(w: TestWorker, key: string, mid = 1, room = ''): Promise<{ c: ConnectionActor; t: FakeTransport }> {
  const x = connect(w);
  const b = enc.encode(JSON.stringify({ mid, key, room_id: room }));
  x.c.onPacket(1, 7, 1, b, 0, b.length);
  await settle();
  return x;
}

describe('unit: registry', () => {
  it('admits up to limits.maxConnectionsPerWorker, refuses the next with op 6 4003 naming the key, and admits again after a release', () => {
    const w = testWorker({ limits: { maxConnectionsPerWorker: 2 } });
    const a = connect(w);
    connect(w);
    const refused = connect(w);
    assert.deepEqual(refused.t.disconnects(), [{ code: 4003, reason: 'limit: too many connections on this worker (limits.maxConnectionsPerWorker)' }]);
    assert.equal(w.registry.byId.size, 2);
    assert.equal(w.status.load(ST_CONNECTIONS), 2);
    refused.c.onClose(); // never admitted: nothing to take back
    assert.equal(w.registry.byId.size, 2);
    a.c.onClose();
    assert.equal(w.status.load(ST_CONNECTIONS), 1);
    assert.equal(connect(w).t.disconnects().length, 0, 'room again');
    assert.equal(w.limits.totals().connections, 2);
  });

  it('counts pending handshakes until auth or close (limits.maxPendingHandshakes)', async () => {
    const w = testWorker({ limits: { maxPendingHandshakes: 1 } });
    await authed(w, 'done');
    const pending = connect(w);
    assert.equal(w.limits.totals().pending, 1);
    assert.equal(connect(w).t.disconnects()[0]?.reason, 'limit: too many pending handshakes (limits.maxPendingHandshakes)');
    pending.c.onClose();
    assert.equal(w.limits.totals().pending, 0);
  });

  it('keeps one count per client address, dropped with its last connection', () => {
    const w = testWorker();
    const a = connect(w, '1.1.1.1');
    const b = connect(w, '1.1.1.1');
    connect(w, '2.2.2.2');
    assert.deepEqual([...w.registry.ips], [['1.1.1.1', 2], ['2.2.2.2', 1]]);
    a.c.onClose();
    assert.equal(w.registry.ips.get('1.1.1.1'), 1);
    b.c.onClose();
    assert.equal(w.registry.ips.has('1.1.1.1'), false);
  });

  it('rooms: members joined and left, a room gone with its last member, counts in the status words; totals beat local counts', async () => {
    const w = testWorker();
    const a = await authed(w, 'a', 1, 'live://1');
    const b = await authed(w, 'b', 2, 'live://1');
    assert.equal(w.registry.rooms.localCount('live://1'), 2);
    assert.equal(w.status.load(ST_ROOMS), 1);
    assert.deepEqual(w.registry.rooms.localCounts(), { 'live://1': 2 });
    w.registry.rooms.setTotals({ 'live://1': 7 });
    assert.equal(w.registry.rooms.onlineCount('live://1'), 7);
    a.c.onClose();
    assert.equal(w.registry.rooms.localCount('live://1'), 1);
    assert.equal(b.c.evict('live://1'), true);
    assert.equal(b.c.evict('live://1'), false, 'not in it any more');
    assert.equal(w.registry.rooms.byId.size, 0);
    assert.equal(w.status.load(ST_ROOMS), 0);
  });

  it('a second connection with the same key on this worker replaces the first (op 6 4001); a late release of the first keeps the second', async () => {
    const w = testWorker();
    const first = await authed(w, 'same');
    const second = await authed(w, 'same');
    assert.deepEqual(first.t.disconnects(), [{ code: 4001, reason: 'replaced by a new connection with the same key' }]);
    first.c.onClose();
    assert.equal(w.registry.byKey.get('same'), second.c);
    assert.equal(w.system.take(MessageKind.KeyRegister).length, 2, 'the key directory hears of both (it kicks across workers)');
  });

  it('allocates 24-bit ids, wraps past the mask to 1 and skips ids still in use', () => {
    const w = testWorker();
    const first = connect(w).c;
    assert.equal(first.id, 1);
    (w.registry as unknown as { nextId: number }).nextId = ACTOR_ID_MASK;
    assert.equal(w.registry.allocateId(), ACTOR_ID_MASK);
    assert.equal(w.registry.allocateId(), 2, 'wrapped, and 1 is still in use');
  });

  it('a draining registry tells a new connection to reconnect later (op 6 1001 with reconnect_after_ms)', () => {
    const w = testWorker();
    w.registry.accepting = false;
    const d = connect(w).t.disconnects()[0]!;
    assert.equal(d.code, 1001);
    assert.equal(d.reason, 'server shutting down');
    assert.ok(d.reconnect_after_ms !== undefined && d.reconnect_after_ms >= 0 && d.reconnect_after_ms < 100);
  });

  it("registers with the mid's router shard and the key's directory shard; a resync sends again what the replaced shard owns (keys flagged)", async () => {
    const w = testWorker({ index: 0, workers: 3 });
    const keys = Array.from({ length: 12 }, (_, i) => `rk${i}`);
    for (let i = 0; i < keys.length; i++) await authed(w, keys[i]!, 100 + i);
    const regs = w.system.take(MessageKind.KeyRegister);
    assert.deepEqual(regs.map((r) => [r.thread, r.actorKind, r.actorId]), keys.map((k) => [shardOfKey(k, 3), ActorKind.RouterShard, RouterActorId.Keys]));
    assert.deepEqual(w.system.take(MessageKind.RouterRegister).map((r) => r.thread), keys.map((_, i) => shardOfMid(100 + i, 3)));
    const shard = 2;
    w.registry.resync(shard, () => undefined);
    const keyAgain = w.system.take(MessageKind.KeyRegister);
    assert.deepEqual(keyAgain.map((r) => r.thread), keys.filter((k) => shardOfKey(k, 3) === shard).map(() => shard));
    assert.ok(keyAgain.length > 0 && keyAgain.every((r) => r.body[6] === KEY_FLAG_RESYNC));
    assert.equal(w.system.take(MessageKind.RouterRegister).length, keys.filter((_, i) => shardOfMid(100 + i, 3) === shard).length);
  });
});
