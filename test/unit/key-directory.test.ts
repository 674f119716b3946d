/** actors/key-directory.ts: one holder per key in the process; a new holder replaces the old one (4001), across workers. */
import assert from 'node:assert/strict';
import { MessageKind } from '../../src/messages.js';
import { encodeKey } from '../../src/router-records.js';
import { KeyDirectory } from '../../actors/key-directory.js';

function directory() {
  const kicks: Array<[number, number, number, string]> = [];
  const d = new KeyDirectory((worker, connId, code, reason) => kicks.push([worker, connId, code, reason]));
  const rec = (kind: number, worker: number, connId: number, key: string): void => {
    const b = encodeKey(worker, connId, key);
    d.receive(kind, worker, b, 0, b.length);
  };
  return { d, kicks, rec };
}

describe('unit: key directory', () => {
  it('the same key on another worker replaces the old holder, which is kicked with 4001', () => {
    const { d, kicks, rec } = directory();
    rec(MessageKind.KeyRegister, 0, 5, 'k');
    rec(MessageKind.KeyRegister, 1, 9, 'k');
    assert.deepEqual(kicks, [[0, 5, 4001, 'replaced by a new connection with the same key']]);
    assert.deepEqual(d.keys.get('k'), { worker: 1, connId: 9 });
  });

  it('registering the same holder again kicks nobody', () => {
    const { kicks, rec } = directory();
    rec(MessageKind.KeyRegister, 0, 5, 'k');
    rec(MessageKind.KeyRegister, 0, 5, 'k');
    assert.equal(kicks.length, 0);
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

  it('routes keys to their holders grouped by worker, and forgets a dead worker', () => {
    const { d, rec } = directory();
    rec(MessageKind.KeyRegister, 0, 1, 'a');
    rec(MessageKind.KeyRegister, 1, 2, 'b');
    rec(MessageKind.KeyRegister, 0, 3, 'c');
    assert.deepEqual([...d.route(['a', 'b', 'c', 'nobody'])], [[0, [1, 3]], [1, [2]]]);
    d.purgeWorker(0);
    assert.deepEqual([...d.route(['a', 'b', 'c'])], [[1, [2]]]);
  });
});
