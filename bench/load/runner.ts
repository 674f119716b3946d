/**
 * Load scenarios (issue 6): each runs ringcast and then the baseline under the same load, in the
 * same run, and prints ringcast | baseline | ratio.
 *
 *   broadcast        1,000 WS in one room, 300 room pushes/s (heavy load: --rate 1000)
 *   broadcast-light  1,000 WS in one room, 10 room pushes/s: latency at light load
 *   broadcast-wide   10,000 WS in one room, 10 room pushes/s
 *   unicast          10,000 WS, 15,000 pushes/s to random keys (/goim/push/keys)
 *   idle             18,000 connections in 100 rooms, heartbeating: RSS and CPU per connection (WS; TCP ringcast only)
 *   connect-storm    10,000 clients connect + auth at once: time to all authenticated, rate, errors
 *
 * ringcast runs with its default config (push.batchWindowMs included) unless an option says
 * otherwise; `--workers 1,2` runs it once per worker count and adds the ratio of the last to the first.
 *
 * Flow of a push scenario, per server: start it (free ports, 127.0.0.1), connect the generator's
 * clients, push open-loop for warm-up + measured seconds; over the measured interval sample the
 * server's CPU (/proc/<pid>/stat, all threads, and each thread: bench/load/threads.ts) and RSS and
 * count deliveries; then drain, collect delivered / missing / duplicates / latency from the clients
 * and stop everything.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { formatNumber, UsageError, writeResult } from '../report.js';
import { nowMs } from '../../test/helpers/load.js';
import { procCpuSeconds, procRssBytes } from '../../test/helpers/proc.js';
import { sleep } from '../../test/helpers/wait.js';
import { Transport } from './common.js';
import { FinalResult, Generator } from './generator.js';
import { Pusher, PusherStats } from './pusher.js';
import { liveProcesses, ServerHandle, ServerName, startBaseline, startRingcast } from './servers.js';
import { columnsFor, makeRow, printRows, type Columns, type Row } from './tables.js';
import { printThreadRows, ThreadMeter, type PerUnit, type ThreadRow } from './threads.js';

type Mode = 'room' | 'keys' | 'idle' | 'storm';

interface Params {
  connections: number;
  rate: number;
  seconds: number;
  warmup: number;
  rooms: number;
  /** ringcast's push.batchWindowMs; null: its default. */
  batchWindowMs: number | null;
  settleSeconds: number;
  drainSeconds: number;
}

interface ScenarioSpec {
  mode: Mode;
  description: string;
  defaults: Params;
  quick: Partial<Params>;
  targets: string[];
}

export const SPECS: Record<string, ScenarioSpec> = {
  broadcast: {
    mode: 'room',
    description: '1,000 WS in one room, 300 room pushes/s for 30 s (heavy load: --rate 1000): delivery, CPU/delivery, latency vs baseline',
    defaults: { connections: 1000, rate: 300, seconds: 30, warmup: 3, rooms: 1, batchWindowMs: null, settleSeconds: 1, drainSeconds: 15 },
    quick: { connections: 100, seconds: 5, warmup: 1, drainSeconds: 5 },
    targets: ['100 % delivered, no duplicates', 'server CPU ≤ 1.0 µs per delivery', 'p99 ≤ 100 ms (at --rate 1000: p99 ≤ 150 ms)'],
  },
  'broadcast-light': {
    mode: 'room',
    description: '1,000 WS in one room, 10 room pushes/s for 30 s: latency at light load vs baseline',
    defaults: { connections: 1000, rate: 10, seconds: 30, warmup: 3, rooms: 1, batchWindowMs: null, settleSeconds: 1, drainSeconds: 10 },
    quick: { connections: 100, seconds: 5, warmup: 1, drainSeconds: 5 },
    targets: ['100 % delivered', 'p50 ≤ 5 ms', 'p99 ≤ 15 ms'],
  },
  'broadcast-wide': {
    mode: 'room',
    description: '10,000 WS in one room, 10 room pushes/s: delivery, latency, CPU/delivery vs baseline',
    defaults: { connections: 10000, rate: 10, seconds: 30, warmup: 3, rooms: 1, batchWindowMs: null, settleSeconds: 2, drainSeconds: 15 },
    quick: { connections: 1000, seconds: 5, warmup: 1, drainSeconds: 5 },
    targets: ['100 % delivered', 'p99 ≤ 60 ms', 'CPU per delivery ≤ 0.5× baseline'],
  },
  unicast: {
    mode: 'keys',
    description: '10,000 WS, 15,000 pushes/s to random keys through /goim/push/keys: delivery, latency vs baseline',
    defaults: { connections: 10000, rate: 15000, seconds: 30, warmup: 3, rooms: 100, batchWindowMs: null, settleSeconds: 2, drainSeconds: 15 },
    quick: { connections: 1000, rate: 1500, seconds: 5, warmup: 1, drainSeconds: 5 },
    targets: ['100 % delivered', 'p99 ≤ 5 ms'],
  },
  idle: {
    mode: 'idle',
    description: '18,000 connections in 100 rooms, heartbeating every 30 s: RSS and CPU per connection and per heartbeat, WS (vs baseline) and TCP (ringcast only)',
    // Settle 60 s: V8 gives back the young generation grown during the connect burst only when its
    // memory reducer runs (tens of seconds after the burst); what an idle server holds is what is left.
    defaults: { connections: 18000, rate: 0, seconds: 10, warmup: 0, rooms: 100, batchWindowMs: null, settleSeconds: 60, drainSeconds: 0 },
    quick: { connections: 1800, seconds: 3, settleSeconds: 2 },
    targets: ['RSS per connection ≤ 5 KB over WebSocket', '≤ 2.5 KB over TCP', 'CPU per WS heartbeat < baseline and ≤ 2× TCP'],
  },
  'connect-storm': {
    mode: 'storm',
    description: '10,000 WS clients connect and authenticate at once: time until all authenticated, errors, rate vs baseline',
    defaults: { connections: 10000, rate: 0, seconds: 0, warmup: 0, rooms: 100, batchWindowMs: null, settleSeconds: 0, drainSeconds: 0 },
    quick: { connections: 1000 },
    targets: ['all authenticated, no errors', 'rate ≥ 2× baseline'],
  },
};

/** The generator's clients heartbeat every this many ms by default (bench/load/client.ts spreads them over it). */
const HEARTBEAT_MS = 30_000;

interface RunOptions extends Params {
  quick: boolean;
  servers: ServerName[];
  /** ringcast worker counts: one run each. */
  workers: number[];
  /** Each client connection heartbeats this often (ms). */
  heartbeatMs: number;
  cpuProf: string | null;
}

/** One server run of a scenario: its column label, which server, and (ringcast) how many workers. */
interface RunSpec {
  label: string;
  server: ServerName;
  workers: number;
}

function runSpecs(o: RunOptions): RunSpec[] {
  const runs: RunSpec[] = [];
  if (o.servers.includes('ringcast')) {
    for (const w of o.workers) runs.push({ label: o.workers.length === 1 ? 'ringcast' : `ringcast ${w}w`, server: 'ringcast', workers: w });
  }
  if (o.servers.includes('baseline')) runs.push({ label: 'baseline', server: 'baseline', workers: 1 });
  return runs;
}

function help(name: string, spec: ScenarioSpec): string {
  const d = spec.defaults;
  return `usage: npm run bench -- ${name} [options]

${spec.description}

  --connections N   client connections (default ${d.connections})
  --rate R          pushes per second (default ${d.rate})
  --seconds S       measured seconds (default ${d.seconds})
  --warmup S        warm-up seconds before measuring (default ${d.warmup})
  --settle S        seconds between connecting and measuring (default ${d.settleSeconds})
  --batch-window MS ringcast push.batchWindowMs (default: ringcast's own default)
  --workers N[,M]   ringcast worker threads (default 2); a list runs ringcast once per count
                    and adds the ratio of the last to the first (e.g. unicast --workers 1,2)
  --heartbeat-ms MS each connection heartbeats this often (default ${HEARTBEAT_MS}; goim clients: 4 min)
  --only NAME       run only ringcast or only baseline
  --cpu-prof DIR    run the servers with node --cpu-prof, profiles in DIR
  --quick           smoke run (${Object.entries(spec.quick).map(([k, v]) => `${k} ${v}`).join(', ')}); explicit options still win
  --help`;
}

function parseOptions(name: string, spec: ScenarioSpec, args: string[]): RunOptions | null {
  let v;
  try {
    v = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        connections: { type: 'string' },
        rate: { type: 'string' },
        seconds: { type: 'string' },
        warmup: { type: 'string' },
        settle: { type: 'string' },
        'batch-window': { type: 'string' },
        workers: { type: 'string' },
        'heartbeat-ms': { type: 'string' },
        only: { type: 'string' },
        'cpu-prof': { type: 'string' },
        quick: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${help(name, spec)}`);
  }
  if (v.help) {
    process.stdout.write(help(name, spec) + '\n');
    return null;
  }
  const base: Params = { ...spec.defaults, ...(v.quick ? spec.quick : {}) };
  const num = (key: string, raw: string | undefined, fallback: number, min: number): number => {
    if (raw === undefined) return fallback;
    const n = Number(raw.replace(/_/g, ''));
    if (!Number.isFinite(n) || n < min) throw new UsageError(`--${key} needs a number ≥ ${min}, got "${raw}"\n\n${help(name, spec)}`);
    return n;
  };
  if (v.only !== undefined && v.only !== 'ringcast' && v.only !== 'baseline') throw new UsageError(`--only takes ringcast or baseline, got "${v.only}"`);
  const workers = (v.workers ?? '2').split(',').map((w) => Math.floor(num('workers', w, 2, 1)));
  if (spec.mode === 'idle' && workers.length > 1) throw new UsageError('idle takes one --workers count');
  return {
    ...base,
    connections: Math.floor(num('connections', v.connections, base.connections, 1)),
    rate: num('rate', v.rate, base.rate, 0),
    seconds: num('seconds', v.seconds, base.seconds, 0),
    warmup: num('warmup', v.warmup, base.warmup, 0),
    settleSeconds: num('settle', v.settle, base.settleSeconds, 0),
    batchWindowMs: v['batch-window'] === undefined ? base.batchWindowMs : Math.floor(num('batch-window', v['batch-window'], 0, 0)),
    workers,
    heartbeatMs: Math.floor(num('heartbeat-ms', v['heartbeat-ms'], HEARTBEAT_MS, 1000)),
    quick: v.quick,
    servers: v.only !== undefined ? [v.only as ServerName] : ['ringcast', 'baseline'],
    cpuProf: v['cpu-prof'] ?? null,
  };
}

// ---------------------------------------------------------------- one server, one load

interface PushMeasure {
  connect: { ok: number; errors: number; ms: number };
  pusher: PusherStats;
  expected: number;
  final: FinalResult;
  measuredDeliveries: number;
  /** Pushes issued within the measured interval. */
  measuredPushes: number;
  measuredSeconds: number;
  cpuSeconds: number;
  /** CPU of each server thread over the measured interval. */
  threads: ThreadRow[];
  /** CPU of the load side (client processes and this process, the pusher) over the same interval. */
  loadCpuSeconds: number;
  rssMaxBytes: number;
  rssMeanBytes: number;
  drainMs: number;
}

/** One end of a push scenario's measured interval. */
interface Snapshot {
  t: number;
  cpu: number;
  loadCpu: number;
  pushes: number;
  delivered: number;
}

interface IdleMeasure {
  connect: { ok: number; errors: number; ms: number };
  rssBeforeBytes: number;
  rssAfterBytes: number;
  perConnBytes: number;
  cpuPercent: number;
  /** Heartbeats the clients sent over the measured interval (each connection one per --heartbeat-ms). */
  heartbeats: number;
  cpuUsPerHeartbeat: number;
  /** % of a core per 10,000 idle connections. */
  cpuPercentPer10k: number;
  threads: ThreadRow[];
  dropped: number;
}

interface StormMeasure {
  ok: number;
  errors: number;
  ms: number;
  rate: number;
  cpuSeconds: number;
  cpuUsPerConn: number;
  /** CPU of the load side (the client processes) over the same time. */
  loadCpuSeconds: number;
  threads: ThreadRow[];
  errorSamples: string[];
}

function profileDir(run: RunSpec, o: RunOptions): string {
  return path.join(o.cpuProf ?? '', run.label.replace(/ /g, '-'));
}

/**
 * With --cpu-prof: the measured interval on the profiles' clock, next to them, so that
 * `profile-summary DIR` counts only that interval (not the connect phase before it).
 */
function saveWindow(run: RunSpec, o: RunOptions, meter: ThreadMeter, suffix = ''): void {
  if (o.cpuProf === null) return;
  const dir = profileDir(run, o) + suffix;
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'window.json'), JSON.stringify({ fromUs: meter.fromUs, toUs: meter.toUs }) + '\n');
}

async function startServer(run: RunSpec, o: RunOptions, suffix = ''): Promise<ServerHandle> {
  // One directory per server run: node names each thread's profile CPU.<date>.<pid>.<tid>.<seq>.cpuprofile
  // (--cpu-prof-name does not expand placeholders, so a fixed name would let the threads overwrite each other).
  const nodeArgs = o.cpuProf !== null ? ['--cpu-prof', '--cpu-prof-dir', profileDir(run, o) + suffix] : [];
  return run.server === 'ringcast' ? startRingcast({ workers: run.workers, batchWindowMs: o.batchWindowMs, nodeArgs }) : startBaseline(nodeArgs);
}

function log(label: string, text: string): void {
  process.stdout.write(`  [${label}] ${text}\n`);
}

/** The main thread's role in the per-thread table. */
function mainRole(run: RunSpec): string {
  return run.server === 'ringcast' ? 'acceptor' : 'main';
}

async function withServer<T>(run: RunSpec, o: RunOptions, fn: (s: ServerHandle) => Promise<T>, suffix = ''): Promise<T> {
  const s = await startServer(run, o, suffix);
  try {
    return await fn(s);
  } finally {
    const code = await s.stop();
    if (code !== 0 && code !== null) log(run.label, `server exited with code ${code}`);
    const warn = s.stderrTail.filter((l) => l.trim() !== '');
    if (warn.length > 0) log(run.label, `server stderr (last ${Math.min(5, warn.length)} lines):\n    ${warn.slice(-5).join('\n    ')}`);
  }
}

/** The generator every scenario uses: goim clients with keys k<i>, heartbeating every 30 s. */
function startGenerator(server: ServerHandle, kind: Transport, o: RunOptions, connectConcurrency: number): Promise<Generator> {
  return Generator.start({
    kind,
    host: '127.0.0.1',
    port: kind === 'ws' ? server.ports.ws! : server.ports.tcp!,
    path: '/sub',
    connections: o.connections,
    rooms: o.rooms,
    keyPrefix: 'k',
    heartbeatMs: o.heartbeatMs,
    connectConcurrency,
    minChildren: 2,
  });
}

async function runPush(run: RunSpec, kind: Transport, spec: ScenarioSpec, o: RunOptions): Promise<PushMeasure> {
  const label = run.label;
  return withServer(run, o, async (server) => {
    const gen = await startGenerator(server, kind, o, 200);
    const pusher = new Pusher('127.0.0.1', server.ports.control, spec.mode === 'keys' ? { kind: 'keys', connections: o.connections, keyPrefix: 'k' } : { kind: 'room', room: '0' });
    const meter = new ThreadMeter(server.pid, mainRole(run));
    try {
      const c = await gen.connect();
      log(label, `${c.ok} connections authenticated in ${(c.ms / 1000).toFixed(1)} s, ${c.errors} errors${c.errorSamples.length ? ` (${c.errorSamples.join('; ')})` : ''}`);
      await sleep(o.settleSeconds * 1000);

      const t0 = nowMs();
      const measureFrom = t0 + o.warmup * 1000;
      const measureTo = measureFrom + o.seconds * 1000;
      gen.measure(measureFrom, measureTo);
      // The measured interval's two ends: time, server CPU (whole and per thread), load-side CPU,
      // pushes issued and deliveries so far.
      const snapshot = (end: 'start' | 'stop'): Promise<Snapshot> => {
        const t = nowMs();
        const cpu = procCpuSeconds(server.pid);
        meter[end]();
        const loadCpu = loadCpuSeconds(gen);
        const pushes = pusher.sent;
        return gen.mark().then((delivered) => ({ t, cpu, loadCpu, pushes, delivered }));
      };
      const rss: number[] = [];
      let lastCpu = procCpuSeconds(server.pid);
      let lastDelivered = 0;
      let lastT = t0;
      const timers: NodeJS.Timeout[] = [];
      const marks: Promise<Snapshot>[] = [];
      timers.push(
        setTimeout(() => marks.push(snapshot('start')), measureFrom - t0),
        setTimeout(() => marks.push(snapshot('stop')), measureTo - t0),
      );
      const progress = setInterval(() => {
        const now = nowMs();
        const cpu = procCpuSeconds(server.pid);
        const r = procRssBytes(server.pid);
        if (now >= measureFrom && now <= measureTo + 500) rss.push(r);
        const p = gen.progress();
        const dt = (now - lastT) / 1000;
        log(
          label,
          `t=${((now - t0) / 1000).toFixed(0).padStart(3)} s  pushed ${pusher.sent} (ok ${pusher.okCount}, err ${pusher.errorCount}, pending ${pusher.pending})  ` +
            `delivered ${formatNumber(p.delivered)} (${formatNumber((p.delivered - lastDelivered) / dt)}/s)  open ${p.open}  cpu ${(((cpu - lastCpu) / dt) * 100).toFixed(0)} %  rss ${(r / 2 ** 20).toFixed(0)} MB` +
            (now < measureFrom ? '  [warm-up]' : now <= measureTo ? '' : '  [drain]'),
        );
        lastCpu = cpu;
        lastDelivered = p.delivered;
        lastT = now;
      }, 1000);

      let pstats: PusherStats;
      let expected = 0;
      let ends: Snapshot[] = [];
      const drainStart = { t: 0 };
      try {
        pstats = await pusher.run(o.rate, (o.warmup + o.seconds) * 1000, o.drainSeconds * 1000);
        while (marks.length < 2) await sleep(20);
        ends = await Promise.all(marks);
        expected = spec.mode === 'keys' ? pusher.sent : pusher.roomPushes * o.connections;
        // Drain: until every expected delivery arrived, no progress for 2 s, or drainSeconds.
        drainStart.t = nowMs();
        let prev = -1;
        let still = 0;
        while (nowMs() - drainStart.t < o.drainSeconds * 1000) {
          const d = await gen.mark();
          if (d >= expected) break;
          if (d === prev) {
            if (++still >= 8) break;
          } else still = 0;
          prev = d;
          await sleep(250);
        }
      } finally {
        clearInterval(progress);
        for (const t of timers) clearTimeout(t);
      }
      const drainMs = nowMs() - drainStart.t;
      const roomExpected: Record<string, number> | null = spec.mode === 'room' ? { '0': pusher.roomPushes } : null;
      const final = await gen.finish(roomExpected, spec.mode === 'keys' ? pusher.perKey : null);
      const [a, b] = ends as [Snapshot, Snapshot];
      saveWindow(run, o, meter);
      const measuredSeconds = (b.t - a.t) / 1000;
      const measuredPushes = b.pushes - a.pushes;
      const measuredDeliveries = b.delivered - a.delivered;
      return {
        connect: { ok: c.ok, errors: c.errors, ms: c.ms },
        pusher: pstats,
        expected,
        final,
        measuredDeliveries,
        measuredPushes,
        measuredSeconds,
        cpuSeconds: b.cpu - a.cpu,
        threads: meter.rows(measuredSeconds, [
          { label: 'push', count: measuredPushes },
          { label: 'delivery', count: measuredDeliveries },
        ]),
        loadCpuSeconds: b.loadCpu - a.loadCpu,
        rssMaxBytes: Math.max(...rss),
        rssMeanBytes: rss.reduce((a, b) => a + b, 0) / Math.max(1, rss.length),
        drainMs,
      };
    } finally {
      pusher.close();
      await gen.stop();
    }
  });
}

async function runIdle(run: RunSpec, kind: Transport, o: RunOptions): Promise<IdleMeasure> {
  const label = `${run.label} ${kind}`;
  return withServer(run, o, async (server) => {
    await sleep(1000);
    const rssBefore = procRssBytes(server.pid);
    const gen = await startGenerator(server, kind, o, 200);
    const meter = new ThreadMeter(server.pid, mainRole(run));
    try {
      const c = await gen.connect();
      log(label, `${c.ok} connections authenticated in ${(c.ms / 1000).toFixed(1)} s, ${c.errors} errors${c.errorSamples.length ? ` (${c.errorSamples.join('; ')})` : ''}`);
      for (let i = 0; i < o.settleSeconds; i++) {
        await sleep(1000);
        if (i % 10 === 9 || i === o.settleSeconds - 1) log(label, `settling: rss ${(procRssBytes(server.pid) / 2 ** 20).toFixed(1)} MB, open ${gen.progress().open}`);
      }
      const cpu0 = procCpuSeconds(server.pid);
      meter.start();
      const t0 = nowMs();
      const samples: number[] = [];
      for (let i = 0; i < Math.max(1, o.seconds); i++) {
        await sleep(1000);
        samples.push(procRssBytes(server.pid));
        log(label, `measuring: rss ${(samples[samples.length - 1]! / 2 ** 20).toFixed(1)} MB, open ${gen.progress().open}`);
      }
      const cpu = procCpuSeconds(server.pid) - cpu0;
      meter.stop();
      saveWindow(run, o, meter, `-${kind}`);
      const seconds = (nowMs() - t0) / 1000;
      const cpuPercent = (cpu / seconds) * 100;
      const open = gen.progress().open;
      const heartbeats = (open * seconds * 1000) / o.heartbeatMs;
      samples.sort((a, b) => a - b);
      const rssAfter = samples[samples.length >> 1]!;
      return {
        connect: { ok: c.ok, errors: c.errors, ms: c.ms },
        rssBeforeBytes: rssBefore,
        rssAfterBytes: rssAfter,
        perConnBytes: (rssAfter - rssBefore) / Math.max(1, c.ok),
        cpuPercent,
        heartbeats,
        cpuUsPerHeartbeat: (cpu * 1e6) / Math.max(1, heartbeats),
        cpuPercentPer10k: (cpuPercent * 10_000) / Math.max(1, open),
        threads: meter.rows(seconds, [{ label: 'heartbeat', count: heartbeats }]),
        dropped: gen.progress().dropped,
      };
    } finally {
      await gen.stop();
    }
  }, `-${kind}`);
}

async function runStorm(run: RunSpec, o: RunOptions): Promise<StormMeasure> {
  return withServer(run, o, async (server) => {
    await sleep(500);
    const per = Math.ceil(o.connections / 2);
    const gen = await startGenerator(server, 'ws', o, per);
    const meter = new ThreadMeter(server.pid, mainRole(run));
    try {
      const cpu0 = procCpuSeconds(server.pid);
      const load0 = loadCpuSeconds(gen);
      meter.start();
      const t0 = nowMs();
      const c = await gen.connect();
      const cpu = procCpuSeconds(server.pid) - cpu0;
      const loadCpu = loadCpuSeconds(gen) - load0;
      meter.stop();
      saveWindow(run, o, meter);
      const seconds = (nowMs() - t0) / 1000;
      const rate = (c.ok * 1000) / Math.max(1, c.ms);
      log(run.label, `${c.ok} authenticated in ${(c.ms / 1000).toFixed(2)} s (${formatNumber(rate)}/s), ${c.errors} errors${c.errorSamples.length ? ` (${c.errorSamples.join('; ')})` : ''}`);
      return {
        ok: c.ok,
        errors: c.errors,
        ms: c.ms,
        rate,
        cpuSeconds: cpu,
        cpuUsPerConn: (cpu * 1e6) / Math.max(1, c.ok),
        loadCpuSeconds: loadCpu,
        threads: meter.rows(seconds, [{ label: 'connection', count: c.ok }]),
        errorSamples: c.errorSamples,
      };
    } finally {
      await gen.stop();
    }
  });
}

/** CPU seconds used so far by the load side: every client process plus this one (the pusher). */
function loadCpuSeconds(gen: Generator): number {
  const own = process.cpuUsage();
  let total = (own.user + own.system) / 1e6;
  for (const c of gen.children) if (c.proc.pid !== undefined) total += procCpuSeconds(c.proc.pid);
  return total;
}

// ---------------------------------------------------------------- tables

type Measures<M> = Record<string, M>;

function rowsOf<M>(cols: Columns, m: Measures<M>, defs: Array<[string, string, (x: M) => number]>): Row[] {
  return defs.map(([metric, unit, fn]) => makeRow(cols, metric, unit, Object.fromEntries(Object.entries(m).map(([label, x]) => [label, fn(x)]))));
}

function pushRows(cols: Columns, m: Measures<PushMeasure>): Row[] {
  return rowsOf(cols, m, [
    ['connections authenticated', 'count', (x) => x.connect.ok],
    ['pushes issued', 'pushes/s', (x) => x.pusher.issuedRate],
    ['push HTTP errors', 'count', (x) => x.pusher.errors],
    ['push HTTP response', 'ms mean', (x) => x.pusher.meanResponseMs],
    ['deliveries expected', 'count', (x) => x.expected],
    ['delivered', '%', (x) => (x.expected > 0 ? (x.final.unique / x.expected) * 100 : NaN)],
    ['missing', 'count', (x) => x.final.missing],
    ['duplicates', 'count', (x) => x.final.duplicates],
    ['deliveries in measured interval', 'per s', (x) => x.measuredDeliveries / x.measuredSeconds],
    ['server CPU', '% of a core', (x) => (x.cpuSeconds / x.measuredSeconds) * 100],
    ['load generator + pusher CPU', '% of a core', (x) => (x.loadCpuSeconds / x.measuredSeconds) * 100],
    ['server CPU per push', 'µs', (x) => (x.cpuSeconds * 1e6) / x.measuredPushes],
    ['server CPU per delivery', 'µs', (x) => (x.cpuSeconds * 1e6) / x.measuredDeliveries],
    ['busiest thread CPU per push', 'µs', (x) => Math.max(...x.threads.filter((t) => t.thread !== 'total' && t.thread !== 'other').map((t) => t.perUnit.push!))],
    ['latency p50', 'ms', (x) => x.final.hist.quantile(0.5) / 1000],
    ['latency p99', 'ms', (x) => x.final.hist.quantile(0.99) / 1000],
    ['latency max', 'ms', (x) => x.final.hist.max / 1000],
    ['server RSS (max)', 'MB', (x) => x.rssMaxBytes / 2 ** 20],
    ['drain after last push', 's', (x) => x.drainMs / 1000],
  ]);
}

function printThreads(title: string, measures: Measures<{ threads: ThreadRow[] }>, units: PerUnit[]): void {
  for (const [label, m] of Object.entries(measures)) printThreadRows(`${label}: ${title}`, m.threads, units);
}

// ---------------------------------------------------------------- entry

export async function runScenario(name: string, args: string[]): Promise<void> {
  const spec = SPECS[name]!;
  const o = parseOptions(name, spec, args);
  if (o === null) return;
  const started = nowMs();
  const runs = runSpecs(o);
  process.stdout.write(
    `${name}: ${o.connections} connections` +
      (spec.mode === 'room' || spec.mode === 'keys' ? `, ${o.rate} pushes/s, ${o.warmup} s warm-up + ${o.seconds} s measured, ringcast batch window ${o.batchWindowMs ?? 'default'}${o.batchWindowMs === null ? '' : ' ms'}` : '') +
      `, ringcast ${o.workers.join(' and ')} worker(s)${o.quick ? ' [quick]' : ''}\n`,
  );
  const options = { ...o };
  let cols = columnsFor(runs.map((r) => r.label));
  let rows: Row[] = [];
  const extra: Record<string, unknown> = { targets: spec.targets };
  let printPerThread = (): void => undefined;
  try {
    if (spec.mode === 'room' || spec.mode === 'keys') {
      const m: Measures<PushMeasure> = {};
      for (const r of runs) {
        process.stdout.write(`${r.label}:\n`);
        m[r.label] = await runPush(r, 'ws', spec, o);
      }
      rows = pushRows(cols, m);
      printPerThread = () => printThreads('server CPU per thread over the measured interval', m, [{ label: 'push', count: 0 }, { label: 'delivery', count: 0 }]);
      extra.details = Object.fromEntries(
        Object.entries(m).map(([k, v]) => [k, { ...v, final: { ...v.final, hist: undefined, p50Ms: v.final.hist.quantile(0.5) / 1000, p90Ms: v.final.hist.quantile(0.9) / 1000, p99Ms: v.final.hist.quantile(0.99) / 1000, p999Ms: v.final.hist.quantile(0.999) / 1000, maxMs: v.final.hist.max / 1000, samples: v.final.hist.count } }]),
      );
    } else if (spec.mode === 'idle') {
      const m: Record<string, IdleMeasure> = {};
      const ringcast = runs.find((r) => r.server === 'ringcast');
      const baseline = runs.find((r) => r.server === 'baseline');
      if (ringcast !== undefined) {
        process.stdout.write('ringcast over WebSocket:\n');
        m['ringcast ws'] = await runIdle(ringcast, 'ws', o);
        process.stdout.write('ringcast over TCP:\n');
        m['ringcast tcp'] = await runIdle(ringcast, 'tcp', o);
      }
      if (baseline !== undefined) {
        process.stdout.write('baseline over WebSocket:\n');
        m['baseline ws'] = await runIdle(baseline, 'ws', o);
      }
      cols = columnsFor(['ringcast', 'baseline']);
      const both = (metric: string, unit: string, fn: (x: IdleMeasure) => number): Row => {
        const rw = m['ringcast ws'];
        const bw = m['baseline ws'];
        return makeRow(cols, metric, unit, { ringcast: rw && fn(rw), baseline: bw && fn(bw) });
      };
      const tcp = (metric: string, unit: string, fn: (x: IdleMeasure) => number): Row => {
        const rt = m['ringcast tcp'];
        return makeRow(cols, metric, unit, { ringcast: rt && fn(rt) });
      };
      rows = [
        both('WS connections authenticated', 'count', (x) => x.connect.ok),
        both('WS RSS per connection', 'KB', (x) => x.perConnBytes / 1024),
        both('WS server RSS after connecting', 'MB', (x) => x.rssAfterBytes / 2 ** 20),
        both('WS server RSS before connecting', 'MB', (x) => x.rssBeforeBytes / 2 ** 20),
        both('WS idle server CPU', '% of a core', (x) => x.cpuPercent),
        both('WS idle CPU per 10,000 connections', '% of a core', (x) => x.cpuPercentPer10k),
        both('WS CPU per heartbeat', 'µs', (x) => x.cpuUsPerHeartbeat),
        both('WS connections dropped', 'count', (x) => x.dropped),
        tcp('TCP connections authenticated', 'count', (x) => x.connect.ok),
        tcp('TCP RSS per connection', 'KB', (x) => x.perConnBytes / 1024),
        tcp('TCP idle server CPU', '% of a core', (x) => x.cpuPercent),
        tcp('TCP idle CPU per 10,000 connections', '% of a core', (x) => x.cpuPercentPer10k),
        tcp('TCP CPU per heartbeat', 'µs', (x) => x.cpuUsPerHeartbeat),
      ];
      const rw = m['ringcast ws'];
      const rt = m['ringcast tcp'];
      if (rw !== undefined && rt !== undefined) rows.push(makeRow(cols, 'WS / TCP CPU per heartbeat', 'ratio', { ringcast: rw.cpuUsPerHeartbeat / rt.cpuUsPerHeartbeat }));
      printPerThread = () => printThreads('server CPU per thread over the measured interval', m, [{ label: 'heartbeat', count: 0 }]);
      extra.details = m;
    } else {
      const m: Measures<StormMeasure> = {};
      for (const r of runs) {
        process.stdout.write(`${r.label}:\n`);
        m[r.label] = await runStorm(r, o);
      }
      rows = rowsOf(cols, m, [
        ['authenticated', 'count', (x) => x.ok],
        ['errors', 'count', (x) => x.errors],
        ['time until all authenticated', 's', (x) => x.ms / 1000],
        ['connection rate', 'conn/s', (x) => x.rate],
        ['server CPU per connection', 'µs', (x) => x.cpuUsPerConn],
        ['server CPU', '% of a core', (x) => (x.cpuSeconds / (x.ms / 1000)) * 100],
        ['load generator CPU per connection', 'µs', (x) => (x.loadCpuSeconds * 1e6) / Math.max(1, x.ok)],
        ['load generator CPU', '% of a core', (x) => (x.loadCpuSeconds / (x.ms / 1000)) * 100],
      ]);
      printPerThread = () => printThreads('server CPU per thread while connecting', m, [{ label: 'connection', count: 0 }]);
      extra.details = m;
    }
  } finally {
    for (const p of liveProcesses) p.kill('SIGKILL');
  }
  printPerThread();
  process.stdout.write('\n');
  printRows(cols, rows);
  process.stdout.write(`targets (ringcast): ${spec.targets.join('; ')}\n`);
  extra.seconds = (nowMs() - started) / 1000;
  writeResult(name, options, rows, extra);
  process.stdout.write(`[${((nowMs() - started) / 1000).toFixed(1)} s]\n`);
}
