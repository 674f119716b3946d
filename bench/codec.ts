/**
 * Scenario `codec`: CPU cost of the goim codec and of fan-out framing, tinybench micro-benchmarks.
 *
 *   - encode: encodePacket(1000, 0, 100 B body), ns per packet;
 *   - decode: GoimStreamDecoder.push of a chunk holding 1 packet, of a chunk holding 64 packets, and
 *     of a packet split across two chunks (cut inside the header, and inside the body); decodeFrame
 *     of one WebSocket message (one packet). ns per packet;
 *   - fan-out to R recipients (default 1,000), in the same run, side by side:
 *       per-client: for every recipient encode the goim packet, its op-9 wrapper and the WS frame
 *                   header into a new frame (what ws.send per client costs a naive server);
 *       frame-once: new PushFrames(items), then frames.ws() per recipient (built on the first call,
 *                   the cached buffer afterwards), as src/protocols/ws.ts does.
 *     Every recipient's frame is stored into a preallocated array (the hand-over). Reported in ns per
 *     recipient, with the ratio; for 1 push, and for a merged batch of 10 pushes (one PushFrames of
 *     10 items vs 10 separate per-client frames).
 *
 * No sockets: this isolates the CPU of encoding. Each tinybench iteration runs an inner loop of many
 * operations (the timer call would dominate a single one); ns/op = median iteration time / ops.
 *
 * Usage: npm run bench -- codec [--time MS] [--recipients N] [--quick]
 */
import { Bench, Task } from 'tinybench';
import { decodeFrame, encodePacket, GoimStreamDecoder, HEADER_BYTES, Op, PacketHandler, writeHeader } from '../src/codec.js';
import { PushFrames, PushItem, wsFrameHeader } from '../src/protocols/frames.js';
import { Cell, formatNumber, parseBenchArgs, printTable, writeResult } from './report.js';

const SCENARIO = 'codec';
const PUSH_OP = 1000;
const BODY_BYTES = 100;
const MAX_BODY = 4096; // protocol.maxBodyBytes default
const BATCH = 10;
const ENCODE_REPS = 1000; // operations per tinybench iteration for the codec cases
const CHUNK_PACKETS = 64;

export interface CodecOptions {
  time: number; // ms per task
  warmupTime: number; // ms per task
  recipients: number;
  quick: boolean;
}

const DEFAULTS: CodecOptions = { time: 1000, warmupTime: 250, recipients: 1000, quick: false };
const QUICK: CodecOptions = { time: 100, warmupTime: 25, recipients: 1000, quick: true };

const HELP = `usage: npm run bench -- codec [options]

  --time MS         measuring time per task (default ${DEFAULTS.time}); warm-up is a quarter of it
  --recipients N    fan-out recipients per push (default ${DEFAULTS.recipients})
  --quick           smoke run: ${QUICK.time} ms per task (explicit options still win)
  --help            this text`;

function parseOptions(args: string[]): CodecOptions | null {
  const a = parseBenchArgs(args, ['time', 'recipients'], HELP);
  if (a === null) return null;
  const base = a.quick ? QUICK : DEFAULTS;
  const time = a.num('time', base.time, 1);
  return { time, warmupTime: a.values.time === undefined ? base.warmupTime : Math.max(1, time >> 2), recipients: a.num('recipients', base.recipients, 1), quick: a.quick };
}

function body(size: number, seed: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** What a server without frame-once does for each recipient: packet, op-9 wrapper, WS frame. */
function perClientFrame(op: number, payload: Uint8Array): Uint8Array {
  const inner = encodePacket(op, 0, payload);
  const wrapped = Buffer.allocUnsafe(HEADER_BYTES + inner.length);
  writeHeader(wrapped, 0, HEADER_BYTES + inner.length, 1, Op.Raw, 0);
  wrapped.set(inner, HEADER_BYTES);
  const header = wsFrameHeader(wrapped.length);
  const out = Buffer.allocUnsafe(header.length + wrapped.length);
  out.set(header, 0);
  out.set(wrapped, header.length);
  return out;
}

// Decoder sink: every decoded packet adds to these, checked after the run so nothing is dead code.
let decodedPackets = 0;
let decodedBytes = 0;
const onPacket: PacketHandler = (_ver, op, _seq, _buf, _off, len) => {
  decodedPackets++;
  decodedBytes += len + (op === PUSH_OP ? 0 : 1e9); // a wrong op shows up in the check
};

interface CaseDef {
  name: string;
  group: 'encode' | 'decode' | 'fan-out';
  unit: string; // what one op is
  ops: number; // ops per tinybench iteration
  fn: () => void;
  packets?: number; // packets decoded per iteration (decode cases), for the check
}

interface CaseResult {
  name: string;
  group: string;
  unit: string;
  opsPerIteration: number;
  samples: number;
  nsPerOp: { p50: number; mean: number; min: number; p99: number };
  opsPerSec: number; // from the median
  rmePercent: number;
}

function result(def: CaseDef, task: Task): CaseResult {
  const r = task.result;
  if (r.state !== 'completed') throw new Error(`task ${task.name}: ${r.state === 'errored' ? r.error.message : r.state}`);
  const l = r.latency;
  const k = 1e6 / def.ops; // ms per iteration → ns per op
  return {
    name: def.name,
    group: def.group,
    unit: def.unit,
    opsPerIteration: def.ops,
    samples: l.samplesCount,
    nsPerOp: { p50: l.p50 * k, mean: l.mean * k, min: l.min * k, p99: l.p99 * k },
    opsPerSec: 1e9 / (l.p50 * k),
    rmePercent: l.rme,
  };
}

function ratio(x: number): string {
  return x >= 10 ? `${x.toFixed(1)}×` : x >= 1 ? `${x.toFixed(2)}×` : `${x.toFixed(3)}×`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

export async function run(args: string[]): Promise<void> {
  const opts = parseOptions(args);
  if (opts === null) return;
  const R = opts.recipients;
  const started = process.hrtime.bigint();
  process.stdout.write(
    `codec: ${opts.warmupTime} ms warm-up + ${opts.time} ms per case; ${BODY_BYTES} B bodies, op ${PUSH_OP}; fan-out to ${R} recipients${opts.quick ? ' [quick]' : ''}\n`,
  );

  // --- inputs
  const body100 = body(BODY_BYTES, 7);
  const packet = encodePacket(PUSH_OP, 0, body100); // 116 B
  const chunk64 = Buffer.concat(Array.from({ length: CHUNK_PACKETS }, (_, i) => encodePacket(PUSH_OP, i, body(BODY_BYTES, i))));
  const headerCut = 8;
  const midCut = packet.length >> 1;
  const splitHeader = [packet.subarray(0, headerCut), packet.subarray(headerCut)] as const;
  const splitBody = [packet.subarray(0, midCut), packet.subarray(midCut)] as const;
  const decoder = new GoimStreamDecoder(MAX_BODY);

  const one: PushItem[] = [{ op: PUSH_OP, body: body100 }];
  const many: PushItem[] = Array.from({ length: BATCH }, (_, i) => ({ op: PUSH_OP, body: body(BODY_BYTES, i + 1) }));
  const out1 = new Array<Uint8Array>(R).fill(packet); // preallocated hand-over arrays
  const outN = new Array<Uint8Array>(R * BATCH).fill(packet);

  // Per-client frames must be byte-identical to what PushFrames sends.
  if (!sameBytes(perClientFrame(PUSH_OP, body100), new PushFrames(one).ws())) throw new Error('per-client frame ≠ PushFrames.ws()');
  const encSink: Uint8Array[] = new Array<Uint8Array>(ENCODE_REPS).fill(packet);

  const defs: CaseDef[] = [
    {
      name: `encodePacket (${BODY_BYTES} B body)`,
      group: 'encode',
      unit: 'packet',
      ops: ENCODE_REPS,
      fn: () => {
        for (let i = 0; i < ENCODE_REPS; i++) encSink[i] = encodePacket(PUSH_OP, 0, body100);
      },
    },
    {
      name: 'stream push: 1 packet / chunk',
      group: 'decode',
      unit: 'packet',
      ops: ENCODE_REPS,
      packets: ENCODE_REPS,
      fn: () => {
        for (let i = 0; i < ENCODE_REPS; i++) decoder.push(packet, onPacket);
      },
    },
    {
      name: `stream push: ${CHUNK_PACKETS} packets / chunk`,
      group: 'decode',
      unit: 'packet',
      ops: 16 * CHUNK_PACKETS,
      packets: 16 * CHUNK_PACKETS,
      fn: () => {
        for (let i = 0; i < 16; i++) decoder.push(chunk64, onPacket);
      },
    },
    {
      name: `stream push: split in header (${headerCut} + ${packet.length - headerCut} B)`,
      group: 'decode',
      unit: 'packet',
      ops: ENCODE_REPS,
      packets: ENCODE_REPS,
      fn: () => {
        for (let i = 0; i < ENCODE_REPS; i++) {
          decoder.push(splitHeader[0], onPacket);
          decoder.push(splitHeader[1], onPacket);
        }
      },
    },
    {
      name: `stream push: split in body (${midCut} + ${packet.length - midCut} B)`,
      group: 'decode',
      unit: 'packet',
      ops: ENCODE_REPS,
      packets: ENCODE_REPS,
      fn: () => {
        for (let i = 0; i < ENCODE_REPS; i++) {
          decoder.push(splitBody[0], onPacket);
          decoder.push(splitBody[1], onPacket);
        }
      },
    },
    {
      name: 'decodeFrame: 1 WS message',
      group: 'decode',
      unit: 'packet',
      ops: ENCODE_REPS,
      packets: ENCODE_REPS,
      fn: () => {
        for (let i = 0; i < ENCODE_REPS; i++) decodeFrame(packet, MAX_BODY, onPacket);
      },
    },
    {
      name: `fan-out 1 push: per-client`,
      group: 'fan-out',
      unit: 'recipient',
      ops: R,
      fn: () => {
        const it = one[0]!;
        for (let r = 0; r < R; r++) out1[r] = perClientFrame(it.op, it.body);
      },
    },
    {
      name: `fan-out 1 push: frame-once`,
      group: 'fan-out',
      unit: 'recipient',
      ops: R,
      fn: () => {
        const frames = new PushFrames(one);
        for (let r = 0; r < R; r++) out1[r] = frames.ws();
      },
    },
    {
      name: `fan-out ${BATCH} pushes: per-client`,
      group: 'fan-out',
      unit: 'recipient',
      ops: R,
      fn: () => {
        let k = 0;
        for (let r = 0; r < R; r++) {
          for (let j = 0; j < BATCH; j++) {
            const it = many[j]!;
            outN[k++] = perClientFrame(it.op, it.body);
          }
        }
      },
    },
    {
      name: `fan-out ${BATCH} pushes: frame-once (merged)`,
      group: 'fan-out',
      unit: 'recipient',
      ops: R,
      fn: () => {
        const frames = new PushFrames(many);
        for (let r = 0; r < R; r++) outN[r] = frames.ws();
      },
    },
  ];

  const bench = new Bench({
    name: 'codec',
    time: opts.time,
    iterations: 10,
    warmup: true,
    warmupTime: opts.warmupTime,
    warmupIterations: 10,
    timestampProvider: 'hrtimeNow',
    throws: true,
  });
  const byName = new Map(defs.map((d) => [d.name, d]));
  for (const d of defs) bench.add(d.name, d.fn);
  bench.addEventListener('cycle', (evt) => {
    const t = evt.task;
    if (t?.result.state === 'completed') {
      const d = byName.get(t.name)!;
      process.stdout.write(`  ${t.name.padEnd(44)} ${formatNumber((t.result.latency.p50 * 1e6) / d.ops).padStart(8)} ns/${d.unit}\n`);
    }
  });

  await bench.run();
  const results = bench.tasks.map((t) => result(byName.get(t.name)!, t));

  // Sanity: the decode cases delivered at least their measured packets, each with the push op and body size.
  let expectedPackets = 0;
  for (const r of results) expectedPackets += (byName.get(r.name)!.packets ?? 0) * r.samples;
  if (decodedPackets < expectedPackets || decodedBytes !== decodedPackets * BODY_BYTES) {
    throw new Error(`decode check failed: ${decodedPackets} packets (≥ ${expectedPackets} expected), ${decodedBytes} body bytes`);
  }

  // --- tables
  process.stdout.write('\n');
  printTable(
    ['case', 'ns/op (median)', 'ops/s', 'op', '±rme', 'samples'],
    results.map((r): Cell[] => [r.name, r.nsPerOp.p50, r.opsPerSec, r.unit, `${r.rmePercent.toFixed(1)}%`, String(r.samples)]),
    { rightAlign: [1, 2, 4, 5] },
  );

  const get = (name: string): CaseResult => results.find((r) => r.name === name)!;
  const comparisons = [
    { case: `1 push → ${R} recipients`, perClient: get('fan-out 1 push: per-client'), frameOnce: get('fan-out 1 push: frame-once') },
    {
      case: `${BATCH} pushes → ${R} recipients`,
      perClient: get(`fan-out ${BATCH} pushes: per-client`),
      frameOnce: get(`fan-out ${BATCH} pushes: frame-once (merged)`),
    },
  ].map((c) => ({
    case: c.case,
    perClientNsPerRecipient: c.perClient.nsPerOp.p50,
    frameOnceNsPerRecipient: c.frameOnce.nsPerOp.p50,
    ratio: c.perClient.nsPerOp.p50 / c.frameOnce.nsPerOp.p50,
  }));

  process.stdout.write('\nfan-out framing, ns per recipient (median):\n');
  printTable(
    ['case', 'per-client', 'frame-once', 'per-client/frame-once'],
    comparisons.map((c): Cell[] => [c.case, c.perClientNsPerRecipient, c.frameOnceNsPerRecipient, ratio(c.ratio)]),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(
    `\nCPU only: no sockets, no syscalls; this isolates the cost of encoding and framing (a real ws.send / socket.write adds\n` +
      `its own per-recipient cost on both sides). per-client = encodePacket + op-9 wrapper + WS frame header, new buffers,\n` +
      `per recipient (${BATCH} frames per recipient for the batch); frame-once = new PushFrames(items) + frames.ws() per recipient,\n` +
      `the cost of framing amortised over ${R} recipients; both store each recipient's buffer into a preallocated array.\n` +
      `ns/op = median tinybench iteration / ops per iteration (${ENCODE_REPS} codec ops, or ${R} recipients).   [${seconds.toFixed(1)} s]\n`,
  );

  writeResult(
    SCENARIO,
    { ...opts, pushOp: PUSH_OP, bodyBytes: BODY_BYTES, maxBody: MAX_BODY, batch: BATCH, chunkPackets: CHUNK_PACKETS, encodeReps: ENCODE_REPS },
    results,
    { comparisons, decodedPackets, seconds },
  );
}
