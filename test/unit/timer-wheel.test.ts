import assert from 'node:assert/strict';
import { TimerEntry, TimerWheel } from '../../src/timer-wheel.js';

describe('timer wheel (src/timer-wheel)', () => {
  it('expires an entry after its delay, never early, at most one tick late', () => {
    const fired: string[] = [];
    const wheel = new TimerWheel<string>(100, 8, (o) => fired.push(o));
    const a = new TimerEntry('a');
    const b = new TimerEntry('b');
    wheel.schedule(a, 250); // 3 ticks of delay
    wheel.schedule(b, 2000); // 20 ticks: more than two turns of an 8-slot wheel
    let ticks = 0;
    while (!fired.includes('a')) {
      wheel.tick();
      ticks++;
    }
    assert.ok(ticks >= 3 && ticks <= 4, `a fired after ${ticks} ticks`);
    while (!fired.includes('b')) {
      wheel.tick();
      ticks++;
    }
    assert.ok(ticks >= 20 && ticks <= 21, `b fired after ${ticks} ticks`);
    assert.equal(wheel.size, 0);
  });

  it('rescheduling (a heartbeat) pushes the deadline back; cancel removes it', () => {
    const fired: string[] = [];
    const wheel = new TimerWheel<string>(100, 16, (o) => fired.push(o));
    const a = new TimerEntry('a');
    const c = new TimerEntry('c');
    wheel.schedule(a, 500);
    wheel.schedule(c, 300);
    wheel.cancel(c);
    for (let i = 0; i < 4; i++) wheel.tick();
    wheel.schedule(a, 500);
    for (let i = 0; i < 5; i++) wheel.tick();
    assert.deepEqual(fired, []);
    for (let i = 0; i < 2; i++) wheel.tick();
    assert.deepEqual(fired, ['a']);
    assert.equal(c.scheduled, false);
  });

  it('handles many entries in one slot, including ones rescheduled while expiring', () => {
    let count = 0;
    const entries = Array.from({ length: 1000 }, (_, i) => new TimerEntry(i));
    const wheel = new TimerWheel<number>(10, 4, (o) => {
      count++;
      if (o % 2 === 0 && count <= 1000) wheel.schedule(entries[o]!, 10);
    });
    for (const e of entries) wheel.schedule(e, 10);
    for (let i = 0; i < 10; i++) wheel.tick();
    assert.equal(count, 1500);
    assert.equal(wheel.size, 0);
  });
});
