/**
 * The actor system (src/actor-system.ts) over real SharedArrayBuffer rings: two ActorSystems in
 * this thread stand for two threads (each with its own mailbox and status words), and one test
 * puts the second in a real worker thread. A send to this thread is a direct call; to another, one
 * ring record that the other's mailbox loop hands to the actor; records for an actor with no
 * registration go to its kind's handler, or are counted as undeliverable.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { type Actor, ActorKind, ActorSystem } from '../../src/actor-system.js';
import { CTL_TAIL, recordBytes, ST_PARKED, ST_REJECTED, ST_UNDELIVERABLE, STATUS_WORDS } from '../../src/layout.js';
import type { Logger } from '../../src/logger.js';
import { SendResult } from '../../src/ring/outbox.js';
import { createRingBuffer } from '../../src/ring/ring.js';
import { until } from '../helpers/wait.js';

const WORKER = new URL('../fixtures/actor-echo-worker.js', import.meta.url);

interface Got {
  kind: number;
  source: number;
  body: string;
}

/** An actor that keeps a copy of what it receives (the buffer is valid only during the call). */
class Recorder implements Actor {
  readonly got: Got[] = [];
  receive(kind: number, source: number, buf: Uint8Array, off: number, len: number): void {
    this.got.push({ kind, source, body: Buffer.from(buf.subarray(off, off + len)).toString() });
  }
}

interface LogLine {
  level: string;
  fields: Record<string, unknown>;
  msg: string;
}

/** The part of a pino Logger the actor system uses, recording what it is told. */
function memoryLog(lines: LogLine[]): Logger {
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, msg: string): void => {
      lines.push({ level, fields, msg });
    };
  return { isLevelEnabled: () => true, debug: at('debug'), warn: at('warn'), error: at('error') } as unknown as Logger;
}

interface World {
  systems: ActorSystem[];
  mailboxes: SharedArrayBuffer[];
  status: Int32Array;
  logs: LogLine[];
  /** A status word of thread `thread`. */
  word(thread: number, index: number): number;
}

/** `threads` actor systems in this thread, each over its own mailbox ring of `ringBytes`. */
function world(threads = 2, ringBytes = 4096, overflowBytes = 1 << 16): World {
  const mailboxes = Array.from({ length: threads }, () => createRingBuffer(ringBytes));
  const statusBuf = new SharedArrayBuffer(threads * STATUS_WORDS * 4);
  const logs: LogLine[] = [];
  const systems = mailboxes.map((_, self) => new ActorSystem({ self, mailboxes, status: statusBuf, overflowBytes, drainBudget: 64, log: memoryLog(logs) }));
  const status = new Int32Array(statusBuf);
  return { systems, mailboxes, status, logs, word: (thread, index) => Atomics.load(status, thread * STATUS_WORDS + index) };
}

const bytes = (s: string): Uint8Array => Buffer.from(s);
/** Where the producers' reservation cursor of a mailbox stands (bytes written into it, ever). */
const tail = (mailbox: SharedArrayBuffer): number => Atomics.load(new Int32Array(mailbox), CTL_TAIL);

describe('actor system (src/actor-system.ts)', () => {
  const running: ActorSystem[] = [];
  afterEach(() => {
    for (const s of running.splice(0)) s.stop();
  });
  const start = (...systems: ActorSystem[]): void => {
    for (const s of systems) {
      s.start();
      running.push(s);
    }
  };

  it('a send to an actor on its own thread is a direct call, made before send returns, through no ring', () => {
    const w = world();
    const [a] = w.systems as [ActorSystem];
    const actor = new Recorder();
    a.register(ActorKind.Connection, 5, actor);
    assert.equal(a.send(0, ActorKind.Connection, 5, 42, bytes('abcdef'), 2, 3), SendResult.Written);
    assert.deepEqual(actor.got, [{ kind: 42, source: 0, body: 'cde' }]);
    assert.equal(a.send(0, ActorKind.Connection, 5, 43), SendResult.Written);
    assert.deepEqual(actor.got[1], { kind: 43, source: 0, body: '' }, 'no body: an empty one');
    assert.equal(tail(w.mailboxes[0]!), 0, 'nothing was written to a mailbox');
  });

  it('a send to another thread is one record in that thread\'s mailbox, handed to the actor when it drains', () => {
    const w = world();
    const [a, b] = w.systems as [ActorSystem, ActorSystem];
    const actor = new Recorder();
    b.register(ActorKind.Connection, 7, actor);
    assert.equal(a.send(1, ActorKind.Connection, 7, 42, bytes('hello, thread 1')), SendResult.Written);
    assert.deepEqual(actor.got, [], 'not a direct call');
    assert.equal(tail(w.mailboxes[1]!), recordBytes('hello, thread 1'.length), 'one record in thread 1\'s mailbox');
    assert.equal(tail(w.mailboxes[0]!), 0);
    assert.equal(b.drainAll(), 1);
    assert.deepEqual(actor.got, [{ kind: 42, source: 0, body: 'hello, thread 1' }], 'the source is the sending thread');
    assert.equal(b.drainAll(), 0, 'taken once');
  });

  it('the mailbox loops wake for records from the other thread, keep their order and carry replies back', async () => {
    const w = world();
    const [a, b] = w.systems as [ActorSystem, ActorSystem];
    const replies = new Recorder();
    a.register(ActorKind.RouterShard, 0, replies);
    const got: string[] = [];
    b.register(ActorKind.Connection, 1, {
      receive(kind, source, buf, off, len) {
        got.push(Buffer.from(buf.subarray(off, off + len)).toString());
        b.send(source, ActorKind.RouterShard, 0, kind + 1, buf, off, len);
      },
    });
    start(a, b);
    const n = 500; // several drain budgets (64) and several laps of the 4 KiB ring
    for (let i = 0; i < n; i++) a.send(1, ActorKind.Connection, 1, 10, bytes(`m${i}`));
    await until(() => replies.got.length === n, 10_000, `${n} replies`);
    const sent = Array.from({ length: n }, (_, i) => `m${i}`);
    assert.deepEqual(got, sent, 'received in the order sent');
    assert.deepEqual(
      replies.got,
      sent.map((body) => ({ kind: 11, source: 1, body })),
    );
  });

  it('addresses an actor by kind and id: the same id of another kind is another actor; ids use all 24 bits', () => {
    const w = world();
    const [a, b] = w.systems as [ActorSystem, ActorSystem];
    const conn = new Recorder();
    const shard = new Recorder();
    const last = new Recorder();
    b.register(ActorKind.Connection, 1, conn);
    b.register(ActorKind.RouterShard, 1, shard);
    b.register(ActorKind.Connection, 0xffffff, last);
    a.send(1, ActorKind.Connection, 1, 1, bytes('to the connection'));
    a.send(1, ActorKind.RouterShard, 1, 2, bytes('to the shard'));
    a.send(1, ActorKind.Connection, 0xffffff, 3, bytes('to the last id'));
    b.drainAll();
    assert.deepEqual(conn.got.map((g) => g.body), ['to the connection']);
    assert.deepEqual(shard.got.map((g) => g.body), ['to the shard']);
    assert.deepEqual(last.got.map((g) => g.body), ['to the last id']);
    assert.equal(w.word(1, ST_UNDELIVERABLE), 0);
  });

  it('a kind handler takes its kind\'s records that no registered actor takes, on either path; false means no such actor', () => {
    const w = world();
    const [a, b] = w.systems as [ActorSystem, ActorSystem];
    const own = new Recorder();
    const byKind: Array<{ id: number } & Got> = [];
    for (const s of [a, b]) {
      s.register(ActorKind.Connection, 3, own);
      s.registerKind(ActorKind.Connection, (id, kind, source, buf, off, len) => {
        if (id === 99) return false;
        byKind.push({ id, kind, source, body: Buffer.from(buf.subarray(off, off + len)).toString() });
        return true;
      });
    }
    a.send(1, ActorKind.Connection, 3, 1, bytes('registered'));
    a.send(1, ActorKind.Connection, 4, 2, bytes('by kind'));
    a.send(1, ActorKind.RouterShard, 4, 3, bytes('other kind')); // no handler for RouterShard
    a.send(1, ActorKind.Connection, 99, 4, bytes('no such connection'));
    b.drainAll();
    a.send(0, ActorKind.Connection, 5, 5, bytes('same thread'));
    assert.deepEqual(own.got, [{ kind: 1, source: 0, body: 'registered' }], 'a registration wins over the kind handler');
    assert.deepEqual(byKind, [
      { id: 4, kind: 2, source: 0, body: 'by kind' },
      { id: 5, kind: 5, source: 0, body: 'same thread' },
    ]);
    assert.equal(w.word(1, ST_UNDELIVERABLE), 2, 'the other kind and the refused id');
    assert.equal(w.word(0, ST_UNDELIVERABLE), 0);
  });

  it('a record for an actor that does not exist is counted in the receiving thread\'s status words, not thrown', () => {
    const w = world();
    const [a, b] = w.systems as [ActorSystem, ActorSystem];
    a.send(1, ActorKind.Connection, 12345, 1, bytes('nobody'));
    assert.equal(b.drainAll(), 1);
    assert.equal(w.word(1, ST_UNDELIVERABLE), 1);
    assert.equal(w.word(0, ST_UNDELIVERABLE), 0);
    assert.ok(w.logs.some((l) => l.level === 'debug' && l.fields.actorId === 12345 && l.fields.source === 0), 'logged at debug with the target and the source');

    const gone = new Recorder();
    a.register(ActorKind.Connection, 8, gone);
    a.unregister(ActorKind.Connection, 8);
    assert.equal(a.send(0, ActorKind.Connection, 8, 1), SendResult.Written);
    assert.deepEqual(gone.got, [], 'unregistered: no longer reached');
    assert.equal(w.word(0, ST_UNDELIVERABLE), 1, 'same thread: counted in its own words');
  });

  it('an actor that throws is logged and the records after it are still delivered', () => {
    const w = world();
    const [a, b] = w.systems as [ActorSystem, ActorSystem];
    const after = new Recorder();
    b.register(ActorKind.Connection, 1, {
      receive() {
        throw new Error('bad input');
      },
    });
    b.register(ActorKind.Connection, 2, after);
    a.send(1, ActorKind.Connection, 1, 7, bytes('x'));
    a.send(1, ActorKind.Connection, 2, 8, bytes('y'));
    assert.equal(b.drainAll(), 2);
    assert.deepEqual(after.got, [{ kind: 8, source: 0, body: 'y' }]);
    const err = w.logs.find((l) => l.level === 'error');
    assert.equal(err?.msg, 'actor failed on a message');
    assert.equal((err!.fields.err as Error).message, 'bad input');
    assert.equal(err!.fields.actorId, 1);
  });

  it('refuses a thread that does not exist', () => {
    const [a] = world().systems as [ActorSystem];
    assert.throws(() => a.send(2, ActorKind.Connection, 1, 1), RangeError);
  });

  it('parks records while the mailbox is full and writes them in order once it drains; past the overflow bound it refuses, counted and logged', async () => {
    // 256-byte rings hold four 64-byte records (16-byte header + 48-byte body); the overflow list four more.
    const w = world(2, 256, 4 * 64);
    const [a, b] = w.systems as [ActorSystem, ActorSystem];
    const actor = new Recorder();
    b.register(ActorKind.Connection, 1, actor);
    const body = (i: number): Uint8Array => bytes(`r${i}`.padEnd(48, '.'));
    const results = Array.from({ length: 9 }, (_, i) => a.send(1, ActorKind.Connection, 1, 1, body(i)));
    const [W, P, R] = [SendResult.Written, SendResult.Parked, SendResult.Rejected];
    assert.deepEqual(results, [W, W, W, W, P, P, P, P, R]);
    assert.equal(w.word(0, ST_PARKED), 4, 'parked records are in the sender\'s status words');
    assert.equal(w.word(0, ST_REJECTED), 1);
    assert.ok(w.logs.some((l) => l.level === 'warn' && l.msg === 'mailbox and overflow list full: record refused' && l.fields.thread === 1));
    start(b);
    await a.settled();
    assert.equal(w.word(0, ST_PARKED), 0, 'nothing parked once settled');
    await until(() => actor.got.length === 8, 5000, 'the 8 records accepted');
    assert.deepEqual(
      actor.got.map((g) => g.body.replace(/\.+$/, '')),
      ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7'],
      'in order; the refused one is not delivered',
    );
  });

  it('works across a real worker thread: records there and replies back, in order', async function () {
    this.timeout(20_000);
    const mailboxes = [createRingBuffer(4096), createRingBuffer(4096)];
    const statusBuf = new SharedArrayBuffer(2 * STATUS_WORDS * 4);
    const logs: LogLine[] = [];
    const main = new ActorSystem({ self: 0, mailboxes, status: statusBuf, overflowBytes: 1 << 20, drainBudget: 64, log: memoryLog(logs) });
    const replies = new Recorder();
    main.register(ActorKind.RouterShard, 0, replies);
    start(main);
    const worker = new Worker(WORKER, { workerData: { self: 1, mailboxes, status: statusBuf } });
    try {
      const [ready] = (await once(worker, 'message')) as [string];
      assert.equal(ready, 'ready');
      const n = 2000;
      for (let i = 0; i < n; i++) main.send(1, ActorKind.Connection, 1, 20 + (i % 3), bytes(`abc${i}`));
      await until(() => replies.got.length === n, 15_000, `${n} replies from the worker`);
      assert.deepEqual(
        replies.got,
        Array.from({ length: n }, (_, i) => ({ kind: 20 + (i % 3), source: 1, body: [...`abc${i}`].reverse().join('') })),
      );
      assert.deepEqual(logs, []);
      assert.equal(Atomics.load(new Int32Array(statusBuf), STATUS_WORDS + ST_UNDELIVERABLE), 0);
    } finally {
      const exited = once(worker, 'exit');
      worker.postMessage('stop');
      await exited;
    }
  });
});
