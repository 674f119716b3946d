import assert from 'node:assert/strict';
import { EngineUnavailable, type ClusterEngine, type LookupResult } from '../../src/cluster/engine.js';
import { ClusterPushService } from '../../src/cluster/push.js';
import { decodeDeliver, decodeFanout, decodeKick, encodeDeliver, encodeFanout, encodeKick, isFrom, WireType } from '../../src/cluster/wire.js';
import type { PushService } from '../../src/push/types.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

describe('cluster wire (src/cluster/wire.ts)', () => {
  it('Deliver names its targets by key and carries the body once; truncated bytes decode to null', () => {
    const bytes = encodeDeliver(1000, ['k1', 'ключ', ''], enc.encode('body'));
    assert.equal(bytes[0], WireType.Deliver);
    const d = decodeDeliver(bytes)!;
    assert.equal(d.op, 1000);
    assert.deepEqual(d.keys, ['k1', 'ключ', '']);
    assert.equal(dec.decode(d.body), 'body');
    for (let n = 0; n < bytes.length - 4; n++) {
      const r = decodeDeliver(bytes.subarray(0, n));
      assert.ok(r === null || r.keys.length === 3, `cut at ${n}`);
    }
    assert.equal(decodeDeliver(encodeKick('k', 4001, 'x')), null);
  });

  it('Kick and fan-out messages round-trip; isFrom compares the origin without a string', () => {
    assert.deepEqual(decodeKick(encodeKick('k1', 4002, 'logged in again on ios')), { key: 'k1', code: 4002, reason: 'logged in again on ios' });
    const f = decodeFanout(encodeFanout('box-a', 1000, 7, enc.encode('hi')))!;
    assert.equal(f.op, 1000);
    assert.equal(f.speed, 7);
    assert.equal(dec.decode(f.body), 'hi');
    assert.ok(isFrom(f.origin, enc.encode('box-a')));
    assert.ok(!isFrom(f.origin, enc.encode('box-b')));
    assert.equal(decodeFanout(new Uint8Array([5, 1])), null);
  });
});

/** An engine with only what the push service uses: lookups answered from a table, publishes recorded. */
function fakeEngine(holders: LookupResult, opts: { down?: boolean } = {}) {
  const published: Array<{ to: string; bytes: Uint8Array }> = [];
  const fail = (): Promise<never> => Promise.reject(new EngineUnavailable('redis://r:6379', 'connection closed'));
  const engine = {
    nodeId: 'a',
    lookupKeys: () => (opts.down ? fail() : Promise.resolve(holders)),
    lookupMids: () => (opts.down ? fail() : Promise.resolve(holders)),
    publishToWorker: (node: string, worker: number, bytes: Uint8Array) => {
      published.push({ to: `${node}/${worker}`, bytes });
      return Promise.resolve(node === 'gone' ? 0 : 1);
    },
    publishRoom: (room: string, bytes: Uint8Array) => {
      if (opts.down) return fail();
      published.push({ to: `room:${room}`, bytes });
      return Promise.resolve(2);
    },
    publishAll: (bytes: Uint8Array) => {
      published.push({ to: 'all', bytes });
      return Promise.resolve(2);
    },
  } as unknown as ClusterEngine;
  return { engine, published };
}

const local = (connections: number): PushService =>
  ({
    pushKeys: async () => ({ connections }),
    pushMids: async () => ({ connections }),
    pushRoom: async () => ({ connections }),
    pushAll: async () => ({ connections }),
  }) as unknown as PushService;

describe('cluster push service (src/cluster/push.ts)', () => {
  it('one message per holder on another box, none for this box; a box gone counts nothing', async () => {
    const { engine, published } = fakeEngine({
      groups: [
        { nodeId: 'a', worker: 0, keys: ['mine'] },
        { nodeId: 'b', worker: 1, keys: ['k1', 'k2'] },
        { nodeId: 'c', worker: 0, keys: ['k3'] },
        { nodeId: 'gone', worker: 0, keys: ['k4'] },
      ],
      connections: 5,
    });
    const svc = new ClusterPushService(local(1), engine);
    const r = await svc.pushMids(1000, [1, 2, 3], enc.encode('x'));
    assert.equal(r.connections, 1 + 2 + 1);
    assert.deepEqual(published.map((p) => p.to).sort(), ['b/1', 'c/0', 'gone/0']);
    const toB = decodeDeliver(published.find((p) => p.to === 'b/1')!.bytes)!;
    assert.deepEqual(toB.keys, ['k1', 'k2']);
    assert.equal(dec.decode(toB.body), 'x');
  });

  it('a room push is published once, marked with this box as its origin', async () => {
    const { engine, published } = fakeEngine({ groups: [], connections: 0 });
    const r = await new ClusterPushService(local(3), engine).pushRoom(1000, 'live://1', enc.encode('r'));
    assert.equal(r.connections, 3);
    assert.equal(published.length, 1);
    assert.ok(isFrom(decodeFanout(published[0]!.bytes)!.origin, enc.encode('a')));
  });

  it('engine down: 503 naming the engine and what this box delivered; the local part is not held back', async () => {
    const { engine } = fakeEngine({ groups: [], connections: 0 }, { down: true });
    const svc = new ClusterPushService(local(2), engine);
    await assert.rejects(svc.pushKeys(1000, ['k'], enc.encode('x')), (err: unknown) => {
      assert.ok(err instanceof EngineUnavailable);
      assert.equal(err.status, 503);
      assert.equal(err.message, 'cluster engine redis://r:6379 unavailable: connection closed; delivered to 2 connection(s) on this box only');
      return true;
    });
    await assert.rejects(svc.pushRoom(1000, 'live://1', enc.encode('x')), /delivered to 2 connection\(s\) on this box only/);
  });
});
