import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { CONTROL_BYTES, CTL_HEAD, CTL_TAIL, recordBytes } from '../../src/layout.js';
import { createRingBuffer, RingReader, RingWriter } from '../../src/ring/ring.js';
import { MailboxLoop } from '../../src/ring/mailbox.js';
import { Outbox, SendResult } from '../../src/ring/outbox.js';
import { checksum, makePool, recordSize, recordStart } from '../fixtures/pattern.js';
import { until } from '../helpers/wait.js';

const WORKER = new URL('../fixtures/ring-worker.js', import.meta.url);

function startWorker(data: object): Worker {
  return new Worker(WORKER, { workerData: data });
}

/** Resolves when the worker has said 'done' and exited (both listeners attached up front: the two
 * events can arrive in one turn). */
async function finished(worker: Worker): Promise<void> {
  const [[msg], [code]] = (await Promise.all([once(worker, 'message'), once(worker, 'exit')])) as [[string], [number]];
  assert.equal(msg, 'done');
  assert.equal(code, 0);
}

/** Runs `loop` on the main thread until `isDone()`; resolves then. Fails on any handler error. */
function consumeUntil(reader: RingReader, handler: (k: number, t: number, s: number, b: Uint8Array, o: number, l: number) => void, isDone: () => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const loop = new MailboxLoop(
      reader,
      (k, t, s, b, o, l) => {
        try {
          handler(k, t, s, b, o, l);
        } catch (err) {
          loop.stop();
          reject(err);
          return;
        }
        if (isDone()) {
          loop.stop();
          resolve();
        }
      },
      4096,
    );
    loop.start();
  });
}

describe('ring (src/ring)', () => {
  it('rejects capacities that are not a power of two, and foreign buffers', () => {
    assert.throws(() => createRingBuffer(1000), /power of two/);
    assert.throws(() => createRingBuffer(32), /power of two between 64/);
    assert.throws(() => new RingReader(new SharedArrayBuffer(1024)), /not a ringcast ring/);
  });

  it('carries records whose bodies straddle the end of the buffer at every offset', () => {
    const sab = createRingBuffer(256);
    const writer = new RingWriter(sab, 3);
    const reader = new RingReader(sab);
    const body = new Uint8Array(writer.maxBody);
    const seenWrapAt = new Set<number>();
    let seq = 0;
    // Records start on 16-byte slots, so the end of the buffer can fall inside a body after 16, 32,
    // ... bytes. Every body length crossed with every start slot meets each of those split points and
    // every record start offset.
    for (let len = 1; len <= writer.maxBody; len++) {
      for (let slot = 0; slot < 256 / 16; slot++) {
        // A record as big as the ring would start on the same slot every time: step on with an
        // empty record.
        if (recordBytes(len) === 256) {
          assert.ok(writer.tryWrite(0, -1, null));
          assert.equal(reader.drain(() => undefined, 1), 1);
        }
        for (let i = 0; i < len; i++) body[i] = (seq * 31 + i) & 0xff;
        const start = ((Atomics.load(new Int32Array(sab), CTL_TAIL) + 16) & 255) >>> 0;
        if (start + len > 256) seenWrapAt.add(256 - start);
        assert.ok(writer.tryWrite(7, seq, body, 0, len));
        let got = 0;
        reader.drain((kind, target, source, buf, off, l) => {
          got++;
          assert.equal(kind, 7);
          assert.equal(target, seq);
          assert.equal(source, 3);
          assert.equal(l, len);
          for (let i = 0; i < l; i++) assert.equal(buf[off + i], (seq * 31 + i) & 0xff, `byte ${i} of record ${seq} (len ${len})`);
        }, 10);
        assert.equal(got, 1);
        seq++;
      }
    }
    // The body was split after every possible number of bytes at least once.
    for (let k = 16; k < writer.maxBody; k += 16) assert.ok(seenWrapAt.has(k), `no record split after ${k} bytes`);
    // Consumed space is zeroed: the whole data region is clean again.
    assert.ok(new Uint8Array(sab, CONTROL_BYTES).every((b) => b === 0));
  });

  it('when full, refuses without overwriting, counts it, and takes records again once drained', () => {
    const sab = createRingBuffer(1024);
    const writer = new RingWriter(sab, 0);
    const reader = new RingReader(sab);
    const body = new Uint8Array(100).fill(0xab);
    const per = recordBytes(100);
    const fit = Math.floor(1024 / per);
    for (let i = 0; i < fit; i++) assert.ok(writer.tryWrite(1, i, body));
    assert.equal(writer.tryWrite(1, fit, body), false);
    assert.equal(writer.tryWrite(1, fit, body), false);
    assert.equal(writer.fullEvents(), 2);
    assert.equal(writer.used(), fit * per);
    assert.throws(() => writer.tryWrite(1, 0, new Uint8Array(1024)), RangeError);
    const targets: number[] = [];
    reader.drain((_k, t, _s, buf, off, len) => {
      targets.push(t);
      assert.ok(buf.subarray(off, off + len).every((b) => b === 0xab));
    }, 1000);
    assert.deepEqual(targets, [...Array(fit).keys()]);
    assert.ok(writer.tryWrite(1, fit, body));
    assert.equal(Atomics.load(new Int32Array(sab), CTL_HEAD), fit * per);
  });

  it('outbox parks in order when the ring is full, refuses past its bound, and reports every refusal', async () => {
    const sab = createRingBuffer(256);
    const rejected: number[] = [];
    const outbox = new Outbox(new RingWriter(sab, 0), 400, (_k, target) => rejected.push(target));
    const reader = new RingReader(sab);
    const body = new Uint8Array(100);
    const results: SendResult[] = [];
    for (let i = 0; i < 6; i++) {
      body.fill(i);
      results.push(outbox.send(1, i, body));
    }
    // 2 records fit the ring (2 × 128 B), 3 more fit the 400-byte overflow list (3 × 128 B in ring
    // terms), the 6th is refused.
    assert.deepEqual(results, [SendResult.Written, SendResult.Written, SendResult.Parked, SendResult.Parked, SendResult.Parked, SendResult.Rejected]);
    assert.deepEqual(rejected, [5]);
    assert.equal(outbox.rejected, 1);
    assert.equal(outbox.parked, 3);
    const seen: number[] = [];
    await consumeUntil(
      reader,
      (_k, t, _s, buf, off) => {
        assert.equal(buf[off], t, 'parked bodies are copies, not the caller\'s reused buffer');
        seen.push(t);
      },
      () => seen.length === 5,
    );
    await outbox.settled();
    assert.deepEqual(seen, [0, 1, 2, 3, 4]);
    assert.equal(outbox.parked, 0);
  });

  it('4 producers × 1,000,000 records of 1–2,000 bytes reach one consumer exactly once, intact and in order', async function () {
    this.timeout(300_000);
    const PRODUCERS = 4;
    const COUNT = 1_000_000;
    const sab = createRingBuffer(1 << 20);
    const reader = new RingReader(sab);
    const pool = makePool();
    // Checksums of the pool slices each producer writes, computed here from the same pattern.
    const next = new Array<number>(PRODUCERS).fill(0);
    let total = 0;
    let bytes = 0;
    const workers = Array.from({ length: PRODUCERS }, (_, p) => startWorker({ mode: 'produce', ring: sab, producer: p, count: COUNT }));
    const done = Promise.all(workers.map(finished));
    await consumeUntil(
      reader,
      (kind, seq, source, buf, off, len) => {
        assert.equal(source, kind);
        assert.ok(kind >= 0 && kind < PRODUCERS, `unknown producer ${kind}`);
        assert.equal(seq, next[kind], `producer ${kind}: expected seq ${next[kind]}, got ${seq}`);
        const start = recordStart(kind, seq);
        assert.equal(len, recordSize(kind, seq));
        if (checksum(buf, off, len) !== checksum(pool, start, len)) assert.fail(`producer ${kind} record ${seq} corrupted`);
        next[kind]++;
        total++;
        bytes += len;
      },
      () => total === PRODUCERS * COUNT,
    );
    await done;
    assert.deepEqual(next, new Array(PRODUCERS).fill(COUNT));
    assert.equal(reader.hasRecord(), false, 'nothing beyond the expected records');
    assert.equal(reader.used(), 0);
    assert.ok(bytes > PRODUCERS * COUNT * 900);
  });

  it('a worker writing every body size through a 128-byte ring wraps at every offset without a fault', async function () {
    const sab = createRingBuffer(128);
    const reader = new RingReader(sab);
    const COUNT = 50_000;
    const maxBody = new RingWriter(sab, 0).maxBody;
    let seq = 0;
    const worker = startWorker({ mode: 'sizes', ring: sab, producer: 0, count: COUNT });
    await consumeUntil(
      reader,
      (_k, t, _s, buf, off, len) => {
        assert.equal(t, seq);
        assert.equal(len, 1 + (seq % maxBody));
        for (let i = 0; i < len; i++) if (buf[off + i] !== (seq & 0xff)) assert.fail(`record ${seq} byte ${i}`);
        seq++;
      },
      () => seq === COUNT,
    );
    await finished(worker);
    assert.ok(reader.fullEvents() > 0, 'the producer met a full ring along the way');
  });

  for (const deferWake of [false, true]) {
    it(`a ping-pong of 100,000 single records between two threads never hangs (no lost wake-up${deferWake ? ', deferred wakes' : ''})`, async function () {
      const toWorker = createRingBuffer(1024);
      const toMain = createRingBuffer(1024);
      const worker = startWorker({ mode: 'echo', ring: toMain, inbox: toWorker, producer: 1, count: 0, deferWake });
      await once(worker, 'message');
      const writer = new RingWriter(toWorker, 0, deferWake);
      const reader = new RingReader(toMain);
      const ROUNDS = 100_000;
      const body = new Uint8Array(8);
      let round = 0;
      writer.tryWrite(1, 0, body);
      await consumeUntil(
        reader,
        (_k, t) => {
          assert.equal(t, round);
          round++;
          if (round < ROUNDS) assert.ok(writer.tryWrite(1, round, body));
        },
        () => round === ROUNDS,
      );
      writer.tryWrite(0, 0, null);
      await finished(worker);
      assert.equal(round, ROUNDS);
    });
  }

  it('deferred wakes: 4 producers × 200,000 records reach a sleeping consumer exactly once, in order', async function () {
    this.timeout(120_000);
    const PRODUCERS = 4;
    const COUNT = 200_000;
    const sab = createRingBuffer(1 << 16);
    const reader = new RingReader(sab);
    const next = new Array<number>(PRODUCERS).fill(0);
    let total = 0;
    const workers = Array.from({ length: PRODUCERS }, (_, p) => startWorker({ mode: 'produce', ring: sab, producer: p, count: COUNT, deferWake: true }));
    const done = Promise.all(workers.map(finished));
    await consumeUntil(
      reader,
      (kind, seq) => {
        assert.equal(seq, next[kind], `producer ${kind}: expected seq ${next[kind]}, got ${seq}`);
        next[kind]++;
        total++;
      },
      () => total === PRODUCERS * COUNT,
    );
    await done;
    assert.deepEqual(next, new Array(PRODUCERS).fill(COUNT));
  });

  it('deferred wakes: lazy records do not wake a dozing consumer, its own catch-up takes them, other records still wake it', async function () {
    const sab = createRingBuffer(1 << 20);
    const reader = new RingReader(sab);
    const kinds: number[] = [];
    const loop = new MailboxLoop(reader, (kind) => void kinds.push(kind), 4096);
    loop.start();
    reader.setDozing(true);
    try {
      await finished(startWorker({ mode: 'produce', ring: sab, producer: 0, count: 200, deferWake: true, lazyKinds: [0] }));
      assert.equal(kinds.length, 0, 'no lazy record woke the dozing consumer');
      reader.setDozing(false);
      assert.equal(loop.catchUp(), 200);
      reader.setDozing(true);
      await finished(startWorker({ mode: 'produce', ring: sab, producer: 1, count: 1, deferWake: true, lazyKinds: [0] }));
      await until(() => kinds.length === 201, 5000, 'the record that is not lazy to wake the consumer');
      assert.equal(kinds[200], 1);
    } finally {
      loop.stop();
    }
  });
});
