/**
 * src/im/device-cursor.ts, the delivery cursor both IM shards use: the ack rule (batch acks, single
 * acks out of order and how they merge), the redelivery rewind, the window cap, the timer, and the
 * sync helpers. The shards' own tests (im-shard*.test.ts) cover the cursor in use.
 */
import assert from 'node:assert/strict';
import { DeviceCursor, encodeSyncReply, syncFrom, syncWindow } from '../../src/im/device-cursor.js';
import { getU64 } from '../../src/im/message.js';
import { TimerWheel, type Expiring } from '../../src/timer-wheel.js';

class TestCursor extends DeviceCursor {
  timeouts = 0;
  onTimeout(): void {
    this.timeouts++;
  }
}

const REF = { mid: 7, key: 'phone', worker: 1, connId: 42 };

function cursor(window = 10): TestCursor {
  return new TestCursor(REF, window);
}

describe('unit: im device cursor', () => {
  it('a batch ack moves the read position; acks of what was never sent or is already acked are ignored', () => {
    const c = cursor();
    c.start(3);
    c.sent = 8;
    assert.equal(c.ack(9, false), false, 'beyond what was sent');
    assert.equal(c.ack(3, false), false, 'already acked');
    assert.equal(c.acked, 3);
    assert.equal(c.ack(6, false), true);
    assert.equal(c.acked, 6);
    assert.equal(c.singles, null);
  });

  it('single acks out of order are remembered, not sent again, and merge once the gap closes', () => {
    const c = cursor();
    c.start(0);
    c.sent = 6;
    assert.equal(c.ack(3, true), false);
    assert.equal(c.ack(5, true), false);
    assert.equal(c.acked, 0);
    assert.equal(c.wants(3), false);
    assert.equal(c.wants(4), true);
    // Redelivery sends 1, 2, 4 and 6 again: not the singly acked 3 and 5.
    assert.equal(c.rewind(), 4);
    assert.equal(c.sent, 0);
    c.sent = 6;
    // A single ack of the next one due moves the position over the remembered 3 (not over 4).
    assert.equal(c.ack(1, true), true);
    assert.equal(c.acked, 1);
    assert.equal(c.ack(2, true), true);
    assert.equal(c.acked, 3);
    assert.deepEqual([...(c.singles ?? [])], [5]);
    // A batch ack past the remembered ones drops them.
    assert.equal(c.ack(6, false), true);
    assert.equal(c.acked, 6);
    assert.equal(c.singles, null);
    assert.equal(c.wants(5), true);
  });

  it('a batch ack up to a gap before remembered single acks takes them in', () => {
    const c = cursor();
    c.start(0);
    c.sent = 5;
    c.ack(3, true);
    c.ack(4, true);
    assert.equal(c.ack(2, false), true);
    assert.equal(c.acked, 4);
    assert.equal(c.singles, null);
  });

  it('the cap is the durable seq, at most the window beyond the acked position; a sync starts afresh', () => {
    const c = cursor(4);
    c.start(10);
    assert.equal(c.cap(12), 12);
    assert.equal(c.cap(100), 14);
    c.sent = 14;
    c.ack(12, true);
    c.start(5);
    assert.deepEqual([c.acked, c.sent, c.singles], [5, 5, null]);
  });

  it('one timer per device: armed once while messages are in flight, rearmed on progress, cancelled when all are acked', () => {
    const wheel = new TimerWheel<Expiring>(10, 64, (o) => o.onTimeout());
    const c = cursor();
    c.start(0);
    c.sent = 3;
    c.arm(wheel, 100);
    c.arm(wheel, 100);
    assert.equal(wheel.size, 1);
    assert.equal(c.timer.scheduled, true);
    assert.equal(c.timer.owner, c);
    c.ack(2, false);
    c.rearm(wheel, 100);
    assert.equal(c.timer.scheduled, true);
    c.ack(3, false);
    c.rearm(wheel, 100);
    assert.equal(c.timer.scheduled, false);
    assert.equal(wheel.size, 0);
  });

  it('same() names the cursor\'s connection only', () => {
    const c = cursor();
    assert.equal(c.same({ ...REF }), true);
    assert.equal(c.same({ ...REF, connId: 43 }), false);
    assert.equal(c.same({ ...REF, worker: 2 }), false);
  });

  it('sync helpers: the window, where the stream starts, the op-115 body', () => {
    assert.equal(syncWindow(0, 64), 64);
    assert.equal(syncWindow(10, 64), 10);
    assert.equal(syncWindow(100, 64), 64);
    assert.equal(syncFrom(-1, 7, 20), 7, 'after < 0: the stored read position');
    assert.equal(syncFrom(12, 7, 20), 12, 'the client holds up to after');
    assert.equal(syncFrom(30, 7, 20), 20, 'never beyond what exists');
    assert.equal(syncFrom(-1, -1, 0), 0);
    const body = encodeSyncReply(12, 20);
    assert.equal(body.length, 16);
    const dv = new DataView(body.buffer);
    assert.deepEqual([getU64(dv, 0), getU64(dv, 8)], [12, 20]);
  });
});
