/**
 * actors/key-directory.ts, one shard, through its ring records: one holder per key; a new holder
 * replaces the old one (4001), across workers; a resent registration after a shard restart never
 * displaces a newer entry; the operator's kick; a dead worker's purge; pushes by key routed to the holders with their fanout.
 */
import assert from 'node:assert/strict';
import { MessageKind } from '../../src/messages.js';
import { decodeHead, encodeKeysPush } from '../../src/push/records.js';
import { encodeKey, encodeWorker, KEY_FLAG_RESYNC } from '../../src/router-records.js';
import { KeyDirectory } from '../../actors/key-directory.js';

function directory() {
  const kicks: Array<[number, number, number, string]> = [];
  const delivers: Array<{ worker: number; body: Uint8Array }> = [];
  const empty: number[] = [];
  const d = new KeyDirectory({
    kick: (worker, connId, code, reason) => kicks.push([worker, connId, code, reason]),
    deliver: (worker, body) => delivers.push({ worker, body: body.slice() }),
    replyEmpty: (req) => empty.push(req),
  });
  const rec = (kind: number, worker: number, connId: number, key: string, flags = 0): void => {
    const b = encodeKey(worker, connId, key, flags);
    d.receive(kind, worker, b, 0, b.length);
  };
  const record = (kind: number, b: Uint8Array): void => d.receive(kind, 0, b, 0, b.length);
  return { d, kicks, delivers, empty, rec, record };
}

const REPLACED: [number, string] = [4001, 'replaced by a new connection with the same key'];

describe('unit: key directory', () => {
  it('the same key on another worker replaces the old holder, which is kicked with 4001', () => {
    const { d, kicks, rec } = directory();
    rec(MessageKind.KeyRegister, 0, 5, 'k');
    rec(MessageKind.KeyRegister, 1, 9, 'k');
    assert.deepEqual(kicks, [[0, 5, ...REPLACED]]);
    assert.deepEqual(d.keys.get('k'), { worker: 1, connId: 9 });
  });

  it('registering the same holder again kicks nobody', () => {
    const { kicks, rec } = directory();
    rec(MessageKind.KeyRegister, 0, 5, 'k');
    rec(MessageKind.KeyRegister, 0, 5, 'k');
    assert.equal(kicks.length, 0);
  });

  it('kickKey (POST /admin/kick) kicks the holder with the code given, once: the entry goes at once, before its unregister', () => {
    const { d, kicks, rec } = directory();
    rec(MessageKind.KeyRegister, 1, 7, 'k');
    assert.equal(d.kickKey('k', 4006, 'kicked by the operator'), true);
    assert.deepEqual(kicks, [[1, 7, 4006, 'kicked by the operator']]);
    assert.equal(d.kickKey('k', 4006, 'kicked by the operator'), false, 'a second kick finds nobody');
    rec(MessageKind.KeyUnregister, 1, 7, 'k'); // the closed connection's unregister, late: harmless
    assert.equal(d.kickKey('nobody', 4006, 'x'), false);
    assert.equal(kicks.length, 1);
  });

  it('a late unregister of the replaced holder keeps its successor', () => {
    const { d, rec } = directory();
    rec(MessageKind.KeyRegister, 0, 5, 'k');
    rec(MessageKind.KeyRegister, 1, 9, 'k');
    rec(MessageKind.KeyUnregister, 0, 5, 'k');
    assert.deepEqual(d.keys.get('k'), { worker: 1, connId: 9 });
    rec(MessageKind.KeyUnregister, 1, 9, 'k');
    assert.equal(d.keys.has('k'), false);
  });

  it('a registration resent after a shard restart fills the empty shard, but never displaces an entry made since (the resent one is kicked)', () => {
    const { d, kicks, rec } = directory();
    rec(MessageKind.KeyRegister, 0, 5, 'a', KEY_FLAG_RESYNC);
    assert.deepEqual(d.keys.get('a'), { worker: 0, connId: 5 });
    rec(MessageKind.KeyRegister, 0, 5, 'a', KEY_FLAG_RESYNC);
    assert.equal(kicks.length, 0, 'the same holder again');
    rec(MessageKind.KeyRegister, 1, 9, 'b');
    rec(MessageKind.KeyRegister, 0, 7, 'b', KEY_FLAG_RESYNC);
    assert.deepEqual(d.keys.get('b'), { worker: 1, connId: 9 }, 'the newer connection stays');
    assert.deepEqual(kicks, [[0, 7, ...REPLACED]]);
  });

  it('routes keys to their holders grouped by worker, and forgets a dead worker (RouterPurgeWorker)', () => {
    const { d, rec, record } = directory();
    rec(MessageKind.KeyRegister, 0, 1, 'a');
    rec(MessageKind.KeyRegister, 1, 2, 'b');
    rec(MessageKind.KeyRegister, 0, 3, 'c');
    assert.deepEqual([...d.route(['a', 'b', 'c', 'nobody'])], [[0, [1, 3]], [1, [2]]]);
    record(MessageKind.RouterPurgeWorker, encodeWorker(0));
    assert.deepEqual([...d.route(['a', 'b', 'c'])], [[1, [2]]]);
  });

  it('PushKeys: one Deliver per holding worker carrying the fanout and the body; none held: the empty reply', () => {
    const { delivers, empty, rec, record } = directory();
    rec(MessageKind.KeyRegister, 0, 1, 'a');
    rec(MessageKind.KeyRegister, 1, 2, 'ü-b');
    rec(MessageKind.KeyRegister, 0, 3, 'c');
    record(MessageKind.PushKeys, encodeKeysPush(77, 1000, ['a', 'ü-b', 'c', 'nobody'], Buffer.from('hello')));
    assert.deepEqual(delivers.map((x) => x.worker), [0, 1]);
    for (const { body } of delivers) {
      const h = decodeHead(body, 0, body.length)!;
      assert.equal(h.req, 77);
      assert.equal(h.op, 1000);
      const dv = new DataView(body.buffer, body.byteOffset);
      assert.equal(dv.getUint32(12), 2, 'fanout: two Delivers');
      assert.equal(Buffer.from(body.subarray(12 + h.n * 4)).toString(), 'hello');
    }
    const ids = (b: Uint8Array): number[] => Array.from({ length: decodeHead(b, 0, b.length)!.n - 1 }, (_, i) => new DataView(b.buffer, b.byteOffset).getUint32(16 + i * 4));
    assert.deepEqual(ids(delivers[0]!.body), [1, 3]);
    assert.deepEqual(ids(delivers[1]!.body), [2]);
    record(MessageKind.PushKeys, encodeKeysPush(78, 1000, ['nobody'], Buffer.from('x')));
    const truncated = encodeKeysPush(79, 1000, ['a'], new Uint8Array(0)).subarray(0, 13);
    record(MessageKind.PushKeys, truncated);
    assert.deepEqual(empty, [78, 79], 'no holder, and a malformed record, are answered empty');
    assert.equal(delivers.length, 2);
  });
});
