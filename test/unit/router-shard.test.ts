/**
 * actors/router-shard.ts, through its ring records: register, the multi-login kick (4002),
 * unregister by the connection that registered only, a dead worker's purge, and push routing by mid.
 */
import assert from 'node:assert/strict';
import { MessageKind } from '../../src/messages.js';
import { decodeHead, encodeMidsPush } from '../../src/push/records.js';
import { encodeRegister, encodeUnregister, encodeWorker, FLAG_KICK_SAME_PLATFORM } from '../../src/router-records.js';
import { RouterShard } from '../../actors/router-shard.js';

function shard() {
  const kicks: Array<[number, number, number, string]> = [];
  const delivers: Array<{ worker: number; body: Uint8Array }> = [];
  const empty: number[] = [];
  const counts: number[] = [];
  const removed: string[] = [];
  const s = new RouterShard({
    entriesChanged: (n) => counts.push(n),
    kick: (worker, connId, code, reason) => kicks.push([worker, connId, code, reason]),
    deliver: (worker, body) => delivers.push({ worker, body: body.slice() }),
    replyEmpty: (req) => empty.push(req),
  });
  s.onRemoved = (mid, key, e) => removed.push(`${mid}/${key}@${e.worker}:${e.connId}`);
  const rec = (kind: number, body: Uint8Array): void => s.receive(kind, 0, body, 0, body.length);
  return { s, kicks, delivers, empty, counts, removed, rec };
}

describe('unit: router shard', () => {
  it('registers connections by mid and key and reports its entry count', () => {
    const { s, counts, rec } = shard();
    rec(MessageKind.RouterRegister, encodeRegister(10, 0, 5, 0, 'ios', 'a'));
    rec(MessageKind.RouterRegister, encodeRegister(10, 1, 6, 0, 'web', 'b'));
    assert.deepEqual(s.lookup(10), [['a', 0, 'ios'], ['b', 1, 'web']]);
    assert.deepEqual(counts, [1, 2]);
  });

  it('multi-login kick: a second login on the same platform kicks the older one with 4002 and removes its entry', () => {
    const { s, kicks, removed, rec } = shard();
    rec(MessageKind.RouterRegister, encodeRegister(10, 0, 5, FLAG_KICK_SAME_PLATFORM, 'ios', 'old'));
    rec(MessageKind.RouterRegister, encodeRegister(10, 1, 9, FLAG_KICK_SAME_PLATFORM, 'web', 'other-platform'));
    rec(MessageKind.RouterRegister, encodeRegister(10, 1, 7, FLAG_KICK_SAME_PLATFORM, 'ios', 'new'));
    assert.deepEqual(kicks, [[0, 5, 4002, 'logged in again on ios']]);
    assert.deepEqual(removed, ['10/old@0:5']);
    assert.deepEqual(s.lookup(10).map((e) => e[0]).sort(), ['new', 'other-platform']);
    assert.equal(s.entries, 2);
  });

  it('without the kick flag both logins stay', () => {
    const { s, kicks, rec } = shard();
    rec(MessageKind.RouterRegister, encodeRegister(10, 0, 5, 0, 'ios', 'one'));
    rec(MessageKind.RouterRegister, encodeRegister(10, 0, 6, 0, 'ios', 'two'));
    assert.equal(kicks.length, 0);
    assert.equal(s.lookup(10).length, 2);
  });

  it('an unregister removes the entry only when worker and connection id match (a late one cannot remove a successor)', () => {
    const { s, removed, rec } = shard();
    rec(MessageKind.RouterRegister, encodeRegister(10, 0, 5, 0, 'ios', 'k'));
    rec(MessageKind.RouterRegister, encodeRegister(10, 1, 8, 0, 'ios', 'k')); // the same key again, elsewhere
    rec(MessageKind.RouterUnregister, encodeUnregister(10, 0, 5, 'k'));
    assert.deepEqual(s.lookup(10), [['k', 1, 'ios']]);
    rec(MessageKind.RouterUnregister, encodeUnregister(10, 1, 8, 'k'));
    assert.deepEqual(s.lookup(10), []);
    assert.equal(s.users.has(10), false);
    assert.deepEqual(removed, ['10/k@1:8']);
  });

  it('purges every entry of a dead worker', () => {
    const { s, removed, rec, counts } = shard();
    rec(MessageKind.RouterRegister, encodeRegister(1, 0, 5, 0, '', 'a'));
    rec(MessageKind.RouterRegister, encodeRegister(2, 1, 6, 0, '', 'b'));
    rec(MessageKind.RouterRegister, encodeRegister(2, 0, 7, 0, '', 'c'));
    rec(MessageKind.RouterPurgeWorker, encodeWorker(0));
    assert.deepEqual(s.lookup(1), []);
    assert.deepEqual(s.lookup(2), [['b', 1, '']]);
    assert.deepEqual(removed.sort(), ['1/a@0:5', '2/c@0:7']);
    assert.equal(counts.at(-1), 1);
  });

  it('routes a push by mid: one Deliver per holding worker, each carrying the fanout; no holder: the shard answers itself', () => {
    const { delivers, empty, rec } = shard();
    rec(MessageKind.RouterRegister, encodeRegister(1, 0, 5, 0, '', 'a'));
    rec(MessageKind.RouterRegister, encodeRegister(1, 1, 6, 0, '', 'b'));
    rec(MessageKind.RouterRegister, encodeRegister(2, 0, 7, 0, '', 'c'));
    rec(MessageKind.PushMids, encodeMidsPush(77, 1000, [1, 2, 3], Buffer.from('hi')));
    assert.equal(delivers.length, 2);
    const byWorker = new Map(delivers.map((d) => {
      const h = decodeHead(d.body, 0, d.body.length)!;
      const dv = new DataView(d.body.buffer, d.body.byteOffset + 12, h.n * 4);
      const items = Array.from({ length: h.n }, (_, i) => dv.getUint32(i * 4));
      return [d.worker, { req: h.req, op: h.op, fanout: items[0], conns: items.slice(1), body: Buffer.from(d.body.subarray(12 + h.n * 4)).toString() }];
    }));
    assert.deepEqual(byWorker.get(0), { req: 77, op: 1000, fanout: 2, conns: [5, 7], body: 'hi' });
    assert.deepEqual(byWorker.get(1), { req: 77, op: 1000, fanout: 2, conns: [6], body: 'hi' });
    rec(MessageKind.PushMids, encodeMidsPush(78, 1000, [999], Buffer.from('x')));
    assert.deepEqual(empty, [78]);
  });
});
