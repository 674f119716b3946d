/**
 * Scenario `ring`: main thread → one worker thread, in the same run,
 *   - throughput of 64 B and 512 B records: the SAB ring (RingWriter.tryWrite / spaceFor on main,
 *     MailboxLoop over a RingReader in the worker, records read in place) vs one postMessage of a
 *     cloned Uint8Array per record. Each tinybench iteration sends one batch of N records and awaits
 *     the worker's single end-of-batch signal (a record on a second ring, or one postMessage);
 *     throughput = N / median batch time.
 *   - latency: round trips of one 64 B record main → worker → main, through two rings with both
 *     MailboxLoops asleep between records (so the wake-up is included) vs postMessage ping-pong;
 *     hand-rolled hrtime loop, p50 / p99.
 *
 * Usage: npm run bench -- ring [--records N] [--iterations N] [--warmup N] [--rounds N] [--quick]
 */
import { MessageChannel, MessagePort, Worker } from 'node:worker_threads';
import { Bench, Task } from 'tinybench';
import { MailboxLoop } from '../src/ring/mailbox.js';
import { createRingBuffer, RingReader, RingWriter } from '../src/ring/ring.js';
import { Cell, formatNumber, parseBenchArgs, printTable, quantile, writeResult } from './report.js';
import {
  BENCH_SOURCE_MAIN,
  CountReply,
  DRAIN_BUDGET,
  K_DATA,
  K_DONE,
  K_END,
  K_PING,
  K_PONG,
  RingWorkerData,
  ToMainControl,
} from './ring-protocol.js';

const SCENARIO = 'ring';
const RING_BYTES = 1 << 22; // main → worker, as specified
const REPLY_RING_BYTES = 1 << 12; // worker → main: one done-signal or one pong at a time
const SIZES = [64, 512] as const;
const LATENCY_BYTES = 64;
const TARGET_RATIO_64 = 10;

export interface RingOptions {
  records: number;
  iterations: number;
  warmup: number;
  rounds: number;
  latencyWarmup: number;
  quick: boolean;
}

const DEFAULTS: RingOptions = { records: 200_000, iterations: 8, warmup: 3, rounds: 20_000, latencyWarmup: 2_000, quick: false };
const QUICK: RingOptions = { records: 20_000, iterations: 3, warmup: 1, rounds: 2_000, latencyWarmup: 200, quick: true };

const HELP = `usage: npm run bench -- ring [options]

  --records N      records per throughput iteration, same N for ring and postMessage (default ${DEFAULTS.records})
  --iterations N   measured throughput iterations per case (default ${DEFAULTS.iterations})
  --warmup N       warm-up throughput iterations per case (default ${DEFAULTS.warmup})
  --rounds N       measured latency round trips per transport (default ${DEFAULTS.rounds})
  --quick          smoke run: ${QUICK.records} records, ${QUICK.iterations} iterations, ${QUICK.warmup} warm-up, ${QUICK.rounds} round trips
                   (explicit options still win)
  --help           this text`;

function parseOptions(args: string[]): RingOptions | null {
  const a = parseBenchArgs(args, ['records', 'iterations', 'warmup', 'rounds'], HELP);
  if (a === null) return null;
  const base = a.quick ? QUICK : DEFAULTS;
  const rounds = a.num('rounds', base.rounds, 1);
  return {
    records: a.num('records', base.records, 1),
    iterations: a.num('iterations', base.iterations, 1),
    warmup: a.num('warmup', base.warmup, 0),
    rounds,
    latencyWarmup: Math.min(base.latencyWarmup, Math.max(1, rounds >> 3)),
    quick: a.quick,
  };
}

interface Pending<T> {
  resolve(value: T): void;
  reject(err: Error): void;
}

/** Main thread's end of everything: the worker, both rings, both MessageChannels. */
class Harness {
  private readonly worker: Worker;
  private readonly toWorker: RingWriter;
  private readonly replies: MailboxLoop;
  private readonly countPort: MessagePort;
  private readonly pingPort: MessagePort;
  private done: Pending<CountReply> | null = null;
  private pong: Pending<number> | null = null;
  private pmDone: Pending<CountReply> | null = null;
  private pmPong: Pending<Uint8Array> | null = null;
  private failure: Error | null = null;
  private readonly exited: Promise<number>;
  /** Times a ring batch found the ring full and awaited spaceFor, per batch size. */
  readonly ringStalls = new Map<number, number>();

  private constructor(worker: Worker, toWorker: SharedArrayBuffer, toMain: SharedArrayBuffer, countPort: MessagePort, pingPort: MessagePort) {
    this.worker = worker;
    this.toWorker = new RingWriter(toWorker, BENCH_SOURCE_MAIN);
    this.countPort = countPort;
    this.pingPort = pingPort;
    this.replies = new MailboxLoop(
      new RingReader(toMain),
      (kind, target, _source, buf, off) => {
        if (kind === K_DONE) {
          const sum = (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24)) >>> 0;
          const p = this.done;
          this.done = null;
          p?.resolve({ count: target, sum });
        } else if (kind === K_PONG) {
          const p = this.pong;
          this.pong = null;
          p?.resolve(target);
        } else {
          this.fail(new Error(`unexpected reply record kind ${kind}`));
        }
      },
      DRAIN_BUDGET,
    );
    countPort.on('message', (msg: CountReply) => {
      const p = this.pmDone;
      this.pmDone = null;
      p?.resolve(msg);
    });
    pingPort.on('message', (msg: Uint8Array) => {
      const p = this.pmPong;
      this.pmPong = null;
      p?.resolve(msg);
    });
    worker.on('error', (err) => this.fail(err));
    this.exited = new Promise((resolve) => worker.once('exit', resolve));
    void this.exited.then((code) => {
      if (this.failure === null) this.fail(new Error(`worker exited (code ${code})`));
    });
  }

  static async start(): Promise<Harness> {
    const toWorker = createRingBuffer(RING_BYTES);
    const toMain = createRingBuffer(REPLY_RING_BYTES);
    const count = new MessageChannel();
    const ping = new MessageChannel();
    const workerData: RingWorkerData = { toWorker, toMain, countPort: count.port2, pingPort: ping.port2 };
    const worker = new Worker(new URL('./ring-worker.js', import.meta.url), {
      workerData,
      transferList: [count.port2, ping.port2],
    });
    const h = new Harness(worker, toWorker, toMain, count.port1, ping.port1);
    await new Promise<void>((resolve, reject) => {
      const onMsg = (msg: ToMainControl): void => {
        if (msg.type !== 'ready') return;
        worker.off('message', onMsg);
        resolve();
      };
      worker.on('message', onMsg);
      worker.once('error', reject);
    });
    h.replies.start();
    return h;
  }

  private fail(err: Error): void {
    if (this.failure !== null) return;
    this.failure = err;
    for (const p of [this.done, this.pong, this.pmDone, this.pmPong]) p?.reject(err);
    this.done = this.pong = this.pmDone = this.pmPong = null;
  }

  private expect<T>(set: (p: Pending<T>) => void): Promise<T> {
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => set({ resolve, reject }));
  }

  /** One throughput batch through the ring: N records, then K_END; resolves on the worker's K_DONE. */
  async ringBatch(body: Uint8Array, n: number): Promise<void> {
    const done = this.expect<CountReply>((p) => (this.done = p));
    const w = this.toWorker;
    const len = body.length;
    let stalls = 0;
    for (let i = 0; i < n; i++) {
      body[0] = i & 0xff;
      while (!w.tryWrite(K_DATA, 0, body, 0, len)) {
        stalls++;
        await w.spaceFor(len);
      }
    }
    while (!w.tryWrite(K_END, n, null, 0, 0)) await w.spaceFor(0);
    this.ringStalls.set(len, (this.ringStalls.get(len) ?? 0) + stalls);
    check('ring', await done, n);
  }

  /** One throughput batch by postMessage: N cloned Uint8Arrays, then { end }; resolves on the reply. */
  async postMessageBatch(body: Uint8Array, n: number): Promise<void> {
    const done = this.expect<CountReply>((p) => (this.pmDone = p));
    const port = this.countPort;
    for (let i = 0; i < n; i++) {
      body[0] = i & 0xff;
      port.postMessage(body);
    }
    port.postMessage({ end: n });
    check('postMessage', await done, n);
  }

  /** Round-trip times in µs (sorted) of `rounds` ring ping-pongs, after `warm` unrecorded ones. */
  async ringRoundTrips(body: Uint8Array, rounds: number, warm: number): Promise<Float64Array> {
    const out = new Float64Array(rounds);
    const w = this.toWorker;
    for (let i = -warm; i < rounds; i++) {
      const pong = this.expect<number>((p) => (this.pong = p));
      const t0 = process.hrtime.bigint();
      if (!w.tryWrite(K_PING, i, body, 0, body.length)) throw new Error('toWorker ring full during latency run');
      const seq = await pong;
      const t1 = process.hrtime.bigint();
      if (seq !== i) throw new Error(`ring pong ${seq} for ping ${i}`);
      if (i >= 0) out[i] = Number(t1 - t0) / 1e3;
    }
    return out.sort();
  }

  async postMessageRoundTrips(body: Uint8Array, rounds: number, warm: number): Promise<Float64Array> {
    const out = new Float64Array(rounds);
    const port = this.pingPort;
    for (let i = -warm; i < rounds; i++) {
      const pong = this.expect<Uint8Array>((p) => (this.pmPong = p));
      body[0] = i & 0xff;
      const t0 = process.hrtime.bigint();
      port.postMessage(body);
      const echo = await pong;
      const t1 = process.hrtime.bigint();
      if (echo.length !== body.length || echo[0] !== (i & 0xff)) throw new Error(`postMessage echo mismatch at ${i}`);
      if (i >= 0) out[i] = Number(t1 - t0) / 1e3;
    }
    return out.sort();
  }

  /** Stops the worker the polite way and waits until its thread has ended. */
  async close(): Promise<number> {
    this.replies.stop();
    if (this.failure === null) this.failure = new Error('harness closed');
    this.worker.postMessage({ type: 'stop' });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), 5_000);
    });
    const result = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    this.countPort.close();
    this.pingPort.close();
    if (result === 'timeout') {
      process.stderr.write('warning: the ring worker did not exit by itself within 5 s; terminating it\n');
      return this.worker.terminate();
    }
    return result;
  }
}

function check(transport: string, reply: CountReply, n: number): void {
  if (reply.count !== n) throw new Error(`${transport}: worker counted ${reply.count} records, ${n} sent`);
  const expected = expectedSum(n);
  if (reply.sum !== expected) throw new Error(`${transport}: worker's byte sum ${reply.sum} ≠ ${expected}`);
}

const sums = new Map<number, number>();
/** Sum of (i & 0xff) for i < n, as a u32. */
function expectedSum(n: number): number {
  let s = sums.get(n);
  if (s === undefined) {
    const full = Math.floor(n / 256);
    const rest = n % 256;
    s = (full * ((255 * 256) / 2) + (rest * (rest - 1)) / 2) % 2 ** 32;
    sums.set(n, s);
  }
  return s;
}

function body(size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

interface BatchStats {
  task: string;
  samples: number;
  batchMs: { min: number; p50: number; mean: number; max: number; rme: number };
  recordsPerSec: number; // N / median batch time
}

function batchStats(task: Task, n: number): BatchStats {
  const r = task.result;
  if (r.state !== 'completed') throw new Error(`task ${task.name}: ${r.state === 'errored' ? r.error.message : r.state}`);
  const l = r.latency;
  return {
    task: task.name,
    samples: l.samplesCount,
    batchMs: { min: l.min, p50: l.p50, mean: l.mean, max: l.max, rme: l.rme },
    recordsPerSec: (n * 1000) / l.p50,
  };
}

interface LatencyStats {
  rounds: number;
  p50: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
}

function latencyStats(sorted: Float64Array): LatencyStats {
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    rounds: sorted.length,
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
    mean: sum / sorted.length,
  };
}

function ratio(x: number): string {
  return x >= 10 ? `${x.toFixed(1)}×` : x >= 1 ? `${x.toFixed(2)}×` : `${x.toFixed(3)}×`;
}

export async function run(args: string[]): Promise<void> {
  const opts = parseOptions(args);
  if (opts === null) return;
  const n = opts.records;
  const started = process.hrtime.bigint();
  process.stdout.write(
    `ring: main → 1 worker; ${n} records per iteration, ${opts.warmup} warm-up + ${opts.iterations} measured iterations per case; ` +
      `latency ${opts.rounds} round trips (+${opts.latencyWarmup} warm-up)${opts.quick ? ' [quick]' : ''}\n`,
  );

  const h = await Harness.start();
  let throughput: Map<string, BatchStats>;
  let ringLat: LatencyStats;
  let pmLat: LatencyStats;
  let exitCode: number;
  try {
    const bench = new Bench({
      name: 'ring vs postMessage throughput',
      time: 0, // exactly `iterations` measured iterations (sequential mode runs until both limits are met)
      iterations: opts.iterations,
      warmup: opts.warmup > 0,
      warmupTime: 0,
      warmupIterations: opts.warmup,
      timestampProvider: 'hrtimeNow',
      throws: true,
    });
    const bodies = new Map(SIZES.map((s) => [s, body(s)]));
    for (const size of SIZES) {
      const b = bodies.get(size)!;
      bench.add(`ring ${size} B`, () => h.ringBatch(b, n), { async: true });
      bench.add(`postMessage ${size} B`, () => h.postMessageBatch(b, n), { async: true });
    }
    bench.addEventListener('cycle', (evt) => {
      const t = evt.task;
      if (t?.result.state === 'completed') {
        process.stdout.write(`  ${t.name.padEnd(18)} ${formatNumber((n * 1000) / t.result.latency.p50).padStart(8)} records/s\n`);
      }
    });
    await bench.run();
    throughput = new Map(bench.tasks.map((t) => [t.name, batchStats(t, n)]));

    const lb = body(LATENCY_BYTES);
    ringLat = latencyStats(await h.ringRoundTrips(lb, opts.rounds, opts.latencyWarmup));
    process.stdout.write(`  ring round trip    p50 ${formatNumber(ringLat.p50)} µs\n`);
    pmLat = latencyStats(await h.postMessageRoundTrips(lb, opts.rounds, opts.latencyWarmup));
    process.stdout.write(`  postMessage r.t.   p50 ${formatNumber(pmLat.p50)} µs\n`);
  } finally {
    exitCode = await h.close();
  }
  if (exitCode !== 0) process.stderr.write(`warning: the ring worker exited with code ${exitCode}\n`);

  const rows: { case: string; unit: string; ring: number; postMessage: number; ratio: number }[] = [];
  for (const size of SIZES) {
    rows.push({
      case: `throughput ${size} B`,
      unit: 'records/s (median)',
      ring: throughput.get(`ring ${size} B`)!.recordsPerSec,
      postMessage: throughput.get(`postMessage ${size} B`)!.recordsPerSec,
      ratio: 0,
    });
  }
  rows.push({ case: `round trip ${LATENCY_BYTES} B p50`, unit: 'µs', ring: ringLat.p50, postMessage: pmLat.p50, ratio: 0 });
  rows.push({ case: `round trip ${LATENCY_BYTES} B p99`, unit: 'µs', ring: ringLat.p99, postMessage: pmLat.p99, ratio: 0 });
  for (const r of rows) r.ratio = r.ring / r.postMessage;

  process.stdout.write('\n');
  const table: Cell[][] = rows.map((r) => {
    const higherIsBetter = r.unit.startsWith('records');
    const better = higherIsBetter ? r.ratio >= 1 : r.ratio <= 1;
    const factor = r.ratio >= 1 ? r.ratio : 1 / r.ratio;
    const word = higherIsBetter ? (r.ratio >= 1 ? 'more' : 'less') : r.ratio <= 1 ? 'lower' : 'higher';
    return [`${r.case}, ${r.unit}`, r.ring, r.postMessage, ratio(r.ratio), `${ratio(factor)} ${word} (${better ? 'better' : 'worse'})`];
  });
  printTable(['case', 'ring', 'postMessage', 'ring/postMessage', 'ring is'], table, { rightAlign: [1, 2, 3] });

  process.stdout.write('\nper-batch times (ms): min / median / max, ring producer stalls (awaited spaceFor) per batch\n');
  printTable(
    ['task', 'min', 'median', 'max', 'samples', 'stalls/batch'],
    [...throughput.values()].map((s) => {
      const size = Number(/(\d+) B$/.exec(s.task)![1]);
      const stalls = s.task.startsWith('ring') ? (h.ringStalls.get(size) ?? 0) / (opts.iterations + opts.warmup) : '';
      return [s.task, s.batchMs.min, s.batchMs.p50, s.batchMs.max, String(s.samples), typeof stalls === 'number' ? stalls.toFixed(1) : ''];
    }),
  );

  const r64 = rows[0]!.ratio;
  const pass = r64 >= TARGET_RATIO_64;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(
    `\ntarget: ring ≥ ${TARGET_RATIO_64}× postMessage throughput at 64 B: ${pass ? 'PASS' : 'FAIL'} (${ratio(r64)})   [${seconds.toFixed(1)} s]\n`,
  );

  writeResult(SCENARIO, { ...opts, ringBytes: RING_BYTES, replyRingBytes: REPLY_RING_BYTES, drainBudget: DRAIN_BUDGET, latencyBytes: LATENCY_BYTES }, rows, {
    target: { case: 'throughput 64 B', minRatio: TARGET_RATIO_64, ratio: r64, pass },
    throughputDetails: [...throughput.values()],
    ringStallsTotal: Object.fromEntries(h.ringStalls),
    latencyDetails: { ring: ringLat, postMessage: pmLat },
    workerExitCode: exitCode,
    seconds,
  });
}
