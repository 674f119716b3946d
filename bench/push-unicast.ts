/**
 * Unicast pushes by mid (issue 13), each push to one user of `--connections` WebSocket clients
 * (bench/load's generator: connection g is user g + 1), open loop at `--rate`:
 *
 *   unicast-mid  over HTTP, POST /goim/push/mids one push per request (pipelined keep-alive
 *                connections, bench/load/pusher.ts); `--against DIR` runs the same load against another
 *                ringcast tree in the same run (e.g. /work/main: the baseline before issue 13).
 *   stream       over the streaming push API, /push/stream (`--streams` WebSocket connections,
 *                test/helpers/push-stream.ts), each push one request; then, on the same server, the
 *                same pushes over HTTP at `--http-rate` for the ratio.
 *
 * Each phase reports pushes answered per second, delivery (exactly once: every push carries its
 * user's sequence number), delivery latency from the scheduled send time, server CPU per push and
 * the acceptor's share of it (the main thread, /proc/<pid>/task/<pid>): every push is served by the
 * workers, so that share shows whether any serial step is left.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { encodeBody, nowMs } from '../test/helpers/load.js';
import { procCpuSeconds } from '../test/helpers/proc.js';
import { PushStreamClient } from '../test/helpers/push-stream.js';
import { sleep } from '../test/helpers/wait.js';
import { formatNumber, parseBenchArgs, printTable, writeResult, type Cell } from './report.js';
import { PUSH_OP } from './load/common.js';
import { Generator, type FinalResult } from './load/generator.js';
import { PipeConn } from './load/pusher.js';
import { liveProcesses, startRingcast, type ServerHandle } from './load/servers.js';

const CLK_TCK = 100;
/** At most this many pushes unanswered per stream (the server's control.streamWindow default). */
const STREAM_WINDOW = 1024;

/** CPU seconds of one thread of a process (the acceptor is the main thread: tid = pid). */
function threadCpuSeconds(pid: number, tid: number): number {
  const s = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/** One way of pushing: issue a push to user g + 1 with this body; counts its answers. */
interface Sender {
  readonly name: string;
  issue(g: number, body: Buffer): void;
  /** Issued and not answered. */
  readonly inFlight: number;
  /** Whether one more push may be issued now (a stream's window has room); the driver waits otherwise. */
  canIssue(): boolean;
  ok: number;
  errors: number;
  readonly errorSamples: string[];
  /** Sum of the response times (ms) and their count. */
  responseMs: number;
  close(): void;
}

/** What both senders count of their answers. */
abstract class Answers {
  ok = 0;
  errors = 0;
  readonly errorSamples: string[] = [];
  responseMs = 0;
  protected pending = 0;

  get inFlight(): number {
    return this.pending;
  }

  /** One answer: ok, or refused with `why`; `t0` is when its push was sent (undefined: unknown). */
  protected answered(ok: boolean, why: string, t0: number | undefined): void {
    this.pending--;
    if (t0 !== undefined) this.responseMs += nowMs() - t0;
    if (ok) this.ok++;
    else {
      this.errors++;
      if (this.errorSamples.length < 5) this.errorSamples.push(why);
    }
  }
}

class HttpSender extends Answers implements Sender {
  readonly name = 'HTTP POST /goim/push/mids';
  private rr = 0;
  private readonly conns: PipeConn[] = [];

  constructor(
    private readonly port: number,
    sockets: number,
  ) {
    super();
    for (let i = 0; i < sockets; i++) this.conns.push(new PipeConn('127.0.0.1', port, (ok, why, t0) => this.answered(ok, why, t0)));
  }

  canIssue(): boolean {
    return true;
  }

  issue(g: number, body: Buffer): void {
    this.pending++;
    this.conns[this.rr++ % this.conns.length]!.send(`POST /goim/push/mids?operation=${PUSH_OP}&mids=${g + 1} HTTP/1.1\r\nHost: 127.0.0.1:${this.port}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`, body);
  }

  close(): void {
    for (const c of this.conns) c.close();
  }
}

class StreamSender extends Answers implements Sender {
  readonly name = 'WebSocket /push/stream';
  private rr = 0;
  private nextId = 1;
  /** Unanswered per stream: each stays within the server's window. */
  private readonly open: number[];
  /** Send time by id. */
  private readonly sentAt = new Map<number, number>();

  private constructor(private readonly streams: PushStreamClient[]) {
    super();
    this.open = streams.map(() => 0);
    streams.forEach((st, i) => {
      st.listen((a) => {
        this.open[i]!--;
        const t0 = this.sentAt.get(a.id);
        this.sentAt.delete(a.id);
        this.answered(a.status === 0, `${a.status} ${a.message}`, t0);
      });
    });
  }

  static async open(port: number, streams: number): Promise<StreamSender> {
    return new StreamSender(await Promise.all(Array.from({ length: streams }, () => PushStreamClient.connect(port))));
  }

  canIssue(): boolean {
    return this.open.some((n) => n < STREAM_WINDOW);
  }

  issue(g: number, body: Buffer): void {
    let i = this.rr++ % this.streams.length;
    while (this.open[i]! >= STREAM_WINDOW) i = (i + 1) % this.streams.length;
    const id = this.nextId++ >>> 0;
    this.pending++;
    this.open[i]!++;
    this.sentAt.set(id, nowMs());
    this.streams[i]!.pushWithId(id, { mids: [g + 1], op: PUSH_OP, body });
  }

  close(): void {
    for (const st of this.streams) st.close();
  }
}

interface Options {
  connections: number;
  rate: number;
  seconds: number;
  warmup: number;
  workers: number;
  streams: number;
  httpRate: number;
  against: string | null;
  cpuProf: string | null;
  drainSeconds: number;
}

interface Phase {
  label: string;
  sender: string;
  offered: number;
  issued: number;
  ok: number;
  errors: number;
  errorSamples: string[];
  /** Pushes answered per second over the measured interval. */
  answeredPerSec: number;
  serverCpuPercent: number;
  cpuUsPerPush: number;
  acceptorUsPerPush: number;
  acceptorShare: number;
  loadCpuPercent: number;
  meanResponseMs: number;
  maxIssueLagMs: number;
  final: FinalResult;
}

function log(label: string, text: string): void {
  process.stdout.write(`  [${label}] ${text}\n`);
}

/** Pushes at `rate` for warm-up + measured seconds with `sender`, then waits for answers and deliveries. */
async function phase(label: string, server: ServerHandle, gen: Generator, sender: Sender, rate: number, o: Options): Promise<Phase> {
  const perKey = new Uint32Array(o.connections);
  let rng = 0x9e3779b9;
  let gseq = 0;
  const start = nowMs() + 5;
  const total = Math.floor(rate * (o.warmup + o.seconds));
  const interval = 1000 / rate;
  const measureFrom = start + o.warmup * 1000;
  const measureTo = measureFrom + o.seconds * 1000;
  gen.measure(measureFrom, measureTo);
  const pid = server.pid;
  const loadCpu = (): number => {
    const own = process.cpuUsage();
    let t = (own.user + own.system) / 1e6;
    for (const c of gen.children) if (c.proc.pid !== undefined) t += procCpuSeconds(c.proc.pid);
    return t;
  };
  const snap = (): { t: number; cpu: number; main: number; ok: number; load: number } => ({ t: nowMs(), cpu: procCpuSeconds(pid), main: threadCpuSeconds(pid, pid), ok: sender.ok, load: loadCpu() });
  const marks: Array<ReturnType<typeof snap>> = [];
  let issued = 0;
  let maxLag = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = nowMs();
      if (marks.length === 0 && now >= measureFrom) marks.push(snap());
      else if (marks.length === 1 && now >= measureTo) marks.push(snap());
      while (issued < total) {
        const due = start + issued * interval;
        if (due > now || !sender.canIssue()) break;
        if (now - due > maxLag) maxLag = now - due;
        rng ^= rng << 13;
        rng ^= rng >>> 17;
        rng ^= rng << 5;
        const g = (rng >>> 0) % o.connections;
        sender.issue(g, encodeBody(++perKey[g]!, due, ++gseq));
        issued++;
      }
      if (issued >= total && marks.length === 2) {
        clearInterval(timer);
        clearInterval(progress);
        resolve();
      }
    };
    const timer = setInterval(tick, 1);
    let last = { t: nowMs(), ok: 0 };
    const progress = setInterval(() => {
      const now = nowMs();
      log(label, `t=${((now - start) / 1000).toFixed(0).padStart(3)} s  issued ${issued}  answered ${sender.ok} (${formatNumber(((sender.ok - last.ok) * 1000) / (now - last.t))}/s)  errors ${sender.errors}  in flight ${sender.inFlight}  delivered ${formatNumber(gen.progress().delivered)}${now < measureFrom ? '  [warm-up]' : ''}`);
      last = { t: now, ok: sender.ok };
    }, 1000);
  });
  // Drain: the last answers, then the last deliveries.
  const drainUntil = nowMs() + o.drainSeconds * 1000;
  while (sender.inFlight > 0 && nowMs() < drainUntil) await sleep(20);
  let prev = -1;
  for (let still = 0; nowMs() < drainUntil; ) {
    const d = await gen.mark();
    if (d >= sender.ok) break;
    if (d === prev) {
      if (++still >= 8) break;
    } else still = 0;
    prev = d;
    await sleep(250);
  }
  const final = await gen.finish(null, perKey);
  const [a, b] = marks as [ReturnType<typeof snap>, ReturnType<typeof snap>];
  const secs = (b.t - a.t) / 1000;
  const pushes = Math.max(1, b.ok - a.ok);
  return {
    label,
    sender: sender.name,
    offered: rate,
    issued,
    ok: sender.ok,
    errors: sender.errors,
    errorSamples: sender.errorSamples,
    answeredPerSec: (b.ok - a.ok) / secs,
    serverCpuPercent: ((b.cpu - a.cpu) / secs) * 100,
    cpuUsPerPush: ((b.cpu - a.cpu) * 1e6) / pushes,
    acceptorUsPerPush: ((b.main - a.main) * 1e6) / pushes,
    acceptorShare: b.cpu > a.cpu ? (b.main - a.main) / (b.cpu - a.cpu) : 0,
    loadCpuPercent: ((b.load - a.load) / secs) * 100,
    meanResponseMs: sender.responseMs / Math.max(1, sender.ok + sender.errors),
    maxIssueLagMs: maxLag,
    final,
  };
}

/** Starts the server; `fn` runs phases on it, each with clients of its own (`clients()`: connected, settled). */
async function withServer<T>(label: string, o: Options, main: string | undefined, fn: (s: ServerHandle, clients: () => Promise<Generator>) => Promise<T>): Promise<T> {
  const nodeArgs = o.cpuProf !== null ? ['--cpu-prof', '--cpu-prof-dir', path.join(o.cpuProf, label.replace(/[^a-z0-9-]/gi, '_'))] : [];
  const server = await startRingcast({ workers: o.workers, batchWindowMs: 5, nodeArgs, ...(main !== undefined ? { main } : {}) });
  const gens: Generator[] = [];
  try {
    return await fn(server, async () => {
      // A generator per phase: its clients' sequence numbers and latency histogram start afresh.
      for (const g of gens.splice(0)) await g.stop();
      const gen = await Generator.start({ kind: 'ws', host: '127.0.0.1', port: server.ports.ws!, path: '/sub', connections: o.connections, rooms: 100, keyPrefix: 'k', heartbeatMs: 30_000, connectConcurrency: 200, minChildren: 2 });
      gens.push(gen);
      const c = await gen.connect();
      log(label, `${c.ok} connections authenticated in ${(c.ms / 1000).toFixed(1)} s, ${c.errors} errors`);
      await sleep(2000);
      return gen;
    });
  } finally {
    for (const g of gens) await g.stop();
    const code = await server.stop();
    if (code !== 0 && code !== null) log(label, `server exited with code ${code}`);
    const warn = server.stderrTail.filter((l) => l.trim() !== '');
    if (warn.length > 0) log(label, `server stderr (last lines):\n    ${warn.slice(-5).join('\n    ')}`);
  }
}

function rows(phases: Phase[]): Cell[][] {
  const f = (fn: (p: Phase) => number | string): Cell[] => phases.map((p) => fn(p));
  return [
    ['offered', 'pushes/s', ...f((p) => p.offered)],
    ['answered in the measured interval', 'pushes/s', ...f((p) => p.answeredPerSec)],
    ['errors', 'count', ...f((p) => p.errors)],
    ['delivered (unique / issued)', '%', ...f((p) => (p.final.unique / Math.max(1, p.issued)) * 100)],
    ['duplicates', 'count', ...f((p) => p.final.duplicates)],
    ['latency p50', 'ms', ...f((p) => p.final.hist.quantile(0.5) / 1000)],
    ['latency p99', 'ms', ...f((p) => p.final.hist.quantile(0.99) / 1000)],
    ['push answer, mean', 'ms', ...f((p) => p.meanResponseMs)],
    ['server CPU', '% of a core', ...f((p) => p.serverCpuPercent)],
    ['server CPU per push', 'µs', ...f((p) => p.cpuUsPerPush)],
    ['acceptor CPU per push', 'µs', ...f((p) => p.acceptorUsPerPush)],
    ['acceptor share of the server CPU', '%', ...f((p) => p.acceptorShare * 100)],
    ['load generator + pusher CPU', '% of a core', ...f((p) => p.loadCpuPercent)],
    ['pusher lag behind schedule, max', 'ms', ...f((p) => p.maxIssueLagMs)],
  ];
}

function report(name: string, phases: Phase[], o: Options, targets: string[]): void {
  process.stdout.write('\n');
  const headers = ['metric', 'unit', ...phases.map((p) => p.label)];
  const body = rows(phases);
  if (phases.length === 2) {
    headers.push('ratio');
    for (const r of body) {
      const x = r[2];
      const y = r[3];
      r.push(typeof x === 'number' && typeof y === 'number' && y !== 0 ? `${(x / y).toFixed(3)}×` : '—');
    }
  }
  printTable(headers, body);
  for (const p of phases) if (p.errorSamples.length > 0) process.stdout.write(`  ${p.label} errors: ${p.errorSamples.join('; ')}\n`);
  process.stdout.write(`targets: ${targets.join('; ')}\n`);
  writeResult(
    name,
    o,
    body.map((r) => Object.fromEntries(headers.map((h, i) => [h, r[i]]))),
    { targets, phases: phases.map((p) => ({ ...p, final: { ...p.final, hist: undefined, p50Ms: p.final.hist.quantile(0.5) / 1000, p99Ms: p.final.hist.quantile(0.99) / 1000, maxMs: p.final.hist.max / 1000 } })) },
  );
}

const COMMON = `  --connections N   WebSocket clients, one user each (default 10000)
  --seconds S       measured seconds (default 10), after --warmup S (default 2)
  --workers N       ringcast workers (default 2)
  --cpu-prof DIR    run the servers with node --cpu-prof (profiles in DIR; node dist/bench/profile-summary.js DIR)
  --quick           1,000 clients, 3 s`;

function options(args: string[], help: string, dflt: { rate: number }): Options | null {
  const a = parseBenchArgs(args, ['connections', 'rate', 'seconds', 'warmup', 'workers', 'streams', 'http-rate', 'against', 'cpu-prof'], help);
  if (a === null) return null;
  return {
    connections: a.num('connections', a.quick ? 1000 : 10_000, 1, 18_000),
    rate: a.num('rate', a.quick ? dflt.rate / 10 : dflt.rate, 1, 1_000_000),
    seconds: a.num('seconds', a.quick ? 3 : 10, 1, 3600),
    warmup: a.num('warmup', a.quick ? 1 : 2, 0, 600),
    workers: a.num('workers', 2, 1, 64),
    streams: a.num('streams', 2, 1, 64),
    httpRate: a.num('http-rate', 5000, 0, 1_000_000),
    against: a.values.against ?? null,
    cpuProf: a.values['cpu-prof'] ?? null,
    drainSeconds: 15,
  };
}

export async function runUnicastMid(args: string[]): Promise<void> {
  const help = `usage: npm run bench -- unicast-mid [options]
Unicast by mid over HTTP (/goim/push/mids, one push per request), open loop.
  --rate R          pushes per second (default 5000)
  --against DIR     the same load against the ringcast tree in DIR (its dist/src/main.js), in the same run
${COMMON}`;
  const o = options(args, help, { rate: 5000 });
  if (o === null) return;
  process.stdout.write(`unicast-mid: ${o.connections} WS clients, ${o.rate} pushes/s by mid over HTTP, ${o.warmup} s warm-up + ${o.seconds} s, ${o.workers} workers${o.against !== null ? `; baseline ${o.against}` : ''}\n`);
  const phases: Phase[] = [];
  try {
    phases.push(await withServer('this tree', o, undefined, async (s, clients) => {
      const gen = await clients();
      const sender = new HttpSender(s.ports.control, 8);
      try {
        return await phase('this tree', s, gen, sender, o.rate, o);
      } finally {
        sender.close();
      }
    }));
    if (o.against !== null) {
      const main = path.resolve(o.against, 'dist/src/main.js');
      phases.push(await withServer('baseline', o, main, async (s, clients) => {
        const gen = await clients();
        const sender = new HttpSender(s.ports.control, 8);
        try {
          return await phase(`${path.basename(o.against!)} (baseline)`, s, gen, sender, o.rate, o);
        } finally {
          sender.close();
        }
      }));
    }
  } finally {
    for (const p of liveProcesses) p.kill('SIGKILL');
  }
  report('unicast-mid', phases, o, ['server CPU per push ≤ 60 µs', 'acceptor share ≤ 5 %', 'p99 ≤ 5 ms at 5,000/s']);
}

export async function runStream(args: string[]): Promise<void> {
  const help = `usage: npm run bench -- stream [options]
Unicast by mid over the streaming push API (/push/stream), open loop; then HTTP by mid on the same server for the ratio.
  --rate R          pushes per second over the streams (default 50000)
  --streams N       /push/stream connections (default 2)
  --http-rate R     the HTTP comparison's rate (default 5000; 0: none)
${COMMON}`;
  const o = options(args, help, { rate: 50_000 });
  if (o === null) return;
  process.stdout.write(`stream: ${o.connections} WS clients, ${o.rate} pushes/s by mid over ${o.streams} /push/stream connections, ${o.warmup} s warm-up + ${o.seconds} s, ${o.workers} workers\n`);
  let phases: Phase[] = [];
  try {
    phases = await withServer('stream', o, undefined, async (s, clients) => {
      const out: Phase[] = [];
      let gen = await clients();
      const stream = await StreamSender.open(s.ports.control, o.streams);
      try {
        out.push(await phase('/push/stream', s, gen, stream, o.rate, o));
      } finally {
        stream.close();
      }
      if (o.httpRate > 0) {
        gen = await clients();
        const http = new HttpSender(s.ports.control, 8);
        try {
          out.push(await phase(`HTTP at ${formatNumber(o.httpRate)}/s`, s, gen, http, o.httpRate, o));
        } finally {
          http.close();
        }
      }
      return out;
    });
  } finally {
    for (const p of liveProcesses) p.kill('SIGKILL');
  }
  report('stream', phases, o, ['≥ 50,000 pushes/s', 'p99 ≤ 10 ms', 'server CPU per push ≤ 15 µs']);
}
