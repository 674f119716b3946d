/**
 * Load scenarios (issue 6): each runs ringcast and then the baseline under the same load, in the
 * same run, and prints ringcast | baseline | ratio.
 *
 *   broadcast       1,000 WS in one room, 300 room pushes/s, ringcast push.batchWindowMs 50
 *   broadcast-wide  10,000 WS in one room, 10 room pushes/s, batchWindowMs 0
 *   unicast         10,000 WS, 15,000 pushes/s to random keys (/goim/push/keys)
 *   idle            18,000 connections in 100 rooms, heartbeating: RSS per connection (WS; TCP ringcast only)
 *   connect-storm   10,000 clients connect + auth at once: time to all authenticated, rate, errors
 *
 * Flow of a push scenario, per server: start it (free ports, 127.0.0.1), connect the generator's
 * clients, push open-loop for warm-up + measured seconds; over the measured interval sample the
 * server's CPU (/proc/<pid>/stat, all threads) and RSS and count deliveries; then drain, collect
 * delivered / missing / duplicates / latency from the clients and stop everything.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Cell, formatNumber, printTable, UsageError, writeResult } from '../report.js';
import { nowMs } from '../../test/helpers/load.js';
import { procCpuSeconds, procRssBytes } from '../../test/helpers/proc.js';
import { sleep } from '../../test/helpers/wait.js';
import { Transport } from './common.js';
import { FinalResult, Generator } from './generator.js';
import { Pusher, PusherStats } from './pusher.js';
import { liveProcesses, ServerHandle, ServerName, startBaseline, startRingcast } from './servers.js';

type Mode = 'room' | 'keys' | 'idle' | 'storm';

interface Params {
  connections: number;
  rate: number;
  seconds: number;
  warmup: number;
  rooms: number;
  batchWindowMs: number;
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
    description: '1,000 WS in one room, 300 room pushes/s for 30 s (batch window 50 ms): delivery, CPU/delivery, latency vs baseline',
    defaults: { connections: 1000, rate: 300, seconds: 30, warmup: 3, rooms: 1, batchWindowMs: 50, settleSeconds: 1, drainSeconds: 15 },
    quick: { connections: 100, seconds: 5, warmup: 1, drainSeconds: 5 },
    targets: ['100 % delivered, no duplicates', 'server CPU ≤ 1.0 µs per delivery', 'p99 ≤ 100 ms'],
  },
  'broadcast-wide': {
    mode: 'room',
    description: '10,000 WS in one room, 10 room pushes/s (batch window 0): delivery, latency, CPU/delivery vs baseline',
    defaults: { connections: 10000, rate: 10, seconds: 30, warmup: 3, rooms: 1, batchWindowMs: 0, settleSeconds: 2, drainSeconds: 15 },
    quick: { connections: 1000, seconds: 5, warmup: 1, drainSeconds: 5 },
    targets: ['100 % delivered', 'p99 ≤ 60 ms', 'CPU per delivery ≤ 0.5× baseline'],
  },
  unicast: {
    mode: 'keys',
    description: '10,000 WS, 15,000 pushes/s to random keys through /goim/push/keys: delivery, latency vs baseline',
    defaults: { connections: 10000, rate: 15000, seconds: 30, warmup: 3, rooms: 100, batchWindowMs: 5, settleSeconds: 2, drainSeconds: 15 },
    quick: { connections: 1000, rate: 1500, seconds: 5, warmup: 1, drainSeconds: 5 },
    targets: ['100 % delivered', 'p99 ≤ 5 ms'],
  },
  idle: {
    mode: 'idle',
    description: '18,000 connections in 100 rooms, heartbeating: RSS per connection, WS (vs baseline) and TCP (ringcast only)',
    // Settle 60 s: V8 gives back the young generation grown during the connect burst only when its
    // memory reducer runs (tens of seconds after the burst); what an idle server holds is what is left.
    defaults: { connections: 18000, rate: 0, seconds: 10, warmup: 0, rooms: 100, batchWindowMs: 5, settleSeconds: 60, drainSeconds: 0 },
    quick: { connections: 1800, seconds: 3, settleSeconds: 2 },
    targets: ['RSS per connection ≤ 5 KB over WebSocket', '≤ 2.5 KB over TCP'],
  },
  'connect-storm': {
    mode: 'storm',
    description: '10,000 WS clients connect and authenticate at once: time until all authenticated, errors, rate vs baseline',
    defaults: { connections: 10000, rate: 0, seconds: 0, warmup: 0, rooms: 100, batchWindowMs: 5, settleSeconds: 0, drainSeconds: 0 },
    quick: { connections: 1000 },
    targets: ['all authenticated, no errors', 'rate ≥ 2× baseline'],
  },
};

interface RunOptions extends Params {
  quick: boolean;
  servers: ServerName[];
  workers: number;
  cpuProf: string | null;
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
  --batch-window MS ringcast push.batchWindowMs (default ${d.batchWindowMs})
  --workers N       ringcast worker threads (default 2)
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
  return {
    ...base,
    connections: Math.floor(num('connections', v.connections, base.connections, 1)),
    rate: num('rate', v.rate, base.rate, 0),
    seconds: num('seconds', v.seconds, base.seconds, 0),
    warmup: num('warmup', v.warmup, base.warmup, 0),
    settleSeconds: num('settle', v.settle, base.settleSeconds, 0),
    batchWindowMs: Math.floor(num('batch-window', v['batch-window'], base.batchWindowMs, 0)),
    workers: Math.floor(num('workers', v.workers, 2, 1)),
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
  measuredSeconds: number;
  cpuSeconds: number;
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
  delivered: number;
}

interface IdleMeasure {
  connect: { ok: number; errors: number; ms: number };
  rssBeforeBytes: number;
  rssAfterBytes: number;
  perConnBytes: number;
  cpuPercent: number;
  dropped: number;
}

interface StormMeasure {
  ok: number;
  errors: number;
  ms: number;
  rate: number;
  cpuSeconds: number;
  cpuUsPerConn: number;
  errorSamples: string[];
}

async function startServer(which: ServerName, o: RunOptions): Promise<ServerHandle> {
  // One directory per server: node names each thread's profile CPU.<date>.<pid>.<tid>.<seq>.cpuprofile
  // (--cpu-prof-name does not expand placeholders, so a fixed name would let the threads overwrite each other).
  const nodeArgs = o.cpuProf !== null ? ['--cpu-prof', '--cpu-prof-dir', path.join(o.cpuProf, which)] : [];
  return which === 'ringcast'
    ? startRingcast({ workers: o.workers, batchWindowMs: o.batchWindowMs, nodeArgs })
    : startBaseline(nodeArgs);
}

function log(label: string, text: string): void {
  process.stdout.write(`  [${label}] ${text}\n`);
}

async function withServer<T>(which: ServerName, o: RunOptions, fn: (s: ServerHandle) => Promise<T>): Promise<T> {
  const s = await startServer(which, o);
  try {
    return await fn(s);
  } finally {
    const code = await s.stop();
    if (code !== 0 && code !== null) log(which, `server exited with code ${code}`);
    const warn = s.stderrTail.filter((l) => l.trim() !== '');
    if (warn.length > 0) log(which, `server stderr (last ${Math.min(5, warn.length)} lines):\n    ${warn.slice(-5).join('\n    ')}`);
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
    heartbeatMs: 30_000,
    connectConcurrency,
    minChildren: 2,
  });
}

async function runPush(which: ServerName, kind: Transport, spec: ScenarioSpec, o: RunOptions): Promise<PushMeasure> {
  return withServer(which, o, async (server) => {
    const gen = await startGenerator(server, kind, o, 200);
    const pusher = new Pusher('127.0.0.1', server.ports.control, spec.mode === 'keys' ? { kind: 'keys', connections: o.connections, keyPrefix: 'k' } : { kind: 'room', room: '0' });
    try {
      const c = await gen.connect();
      log(which, `${c.ok} connections authenticated in ${(c.ms / 1000).toFixed(1)} s, ${c.errors} errors${c.errorSamples.length ? ` (${c.errorSamples.join('; ')})` : ''}`);
      await sleep(o.settleSeconds * 1000);

      const t0 = nowMs();
      const measureFrom = t0 + o.warmup * 1000;
      const measureTo = measureFrom + o.seconds * 1000;
      gen.measure(measureFrom, measureTo);
      // The measured interval's two ends: time, server CPU, load-side CPU and deliveries so far.
      const snapshot = (): Promise<Snapshot> => {
        const t = nowMs();
        const cpu = procCpuSeconds(server.pid);
        const loadCpu = loadCpuSeconds(gen);
        return gen.mark().then((delivered) => ({ t, cpu, loadCpu, delivered }));
      };
      const rss: number[] = [];
      let lastCpu = procCpuSeconds(server.pid);
      let lastDelivered = 0;
      let lastT = t0;
      const timers: NodeJS.Timeout[] = [];
      const marks: Promise<Snapshot>[] = [];
      timers.push(
        setTimeout(() => marks.push(snapshot()), measureFrom - t0),
        setTimeout(() => marks.push(snapshot()), measureTo - t0),
      );
      const progress = setInterval(() => {
        const now = nowMs();
        const cpu = procCpuSeconds(server.pid);
        const r = procRssBytes(server.pid);
        if (now >= measureFrom && now <= measureTo + 500) rss.push(r);
        const p = gen.progress();
        const dt = (now - lastT) / 1000;
        log(
          which,
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
      return {
        connect: { ok: c.ok, errors: c.errors, ms: c.ms },
        pusher: pstats,
        expected,
        final,
        measuredDeliveries: b.delivered - a.delivered,
        measuredSeconds: (b.t - a.t) / 1000,
        cpuSeconds: b.cpu - a.cpu,
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

async function runIdle(which: ServerName, kind: Transport, o: RunOptions): Promise<IdleMeasure> {
  return withServer(which, o, async (server) => {
    await sleep(1000);
    const rssBefore = procRssBytes(server.pid);
    const gen = await startGenerator(server, kind, o, 200);
    try {
      const c = await gen.connect();
      log(`${which} ${kind}`, `${c.ok} connections authenticated in ${(c.ms / 1000).toFixed(1)} s, ${c.errors} errors${c.errorSamples.length ? ` (${c.errorSamples.join('; ')})` : ''}`);
      for (let i = 0; i < o.settleSeconds; i++) {
        await sleep(1000);
        if (i % 10 === 9 || i === o.settleSeconds - 1) log(`${which} ${kind}`, `settling: rss ${(procRssBytes(server.pid) / 2 ** 20).toFixed(1)} MB, open ${gen.progress().open}`);
      }
      const cpu0 = procCpuSeconds(server.pid);
      const t0 = nowMs();
      const samples: number[] = [];
      for (let i = 0; i < Math.max(1, o.seconds); i++) {
        await sleep(1000);
        samples.push(procRssBytes(server.pid));
        log(`${which} ${kind}`, `measuring: rss ${(samples[samples.length - 1]! / 2 ** 20).toFixed(1)} MB, open ${gen.progress().open}`);
      }
      const cpuPercent = ((procCpuSeconds(server.pid) - cpu0) / ((nowMs() - t0) / 1000)) * 100;
      samples.sort((a, b) => a - b);
      const rssAfter = samples[samples.length >> 1]!;
      return {
        connect: { ok: c.ok, errors: c.errors, ms: c.ms },
        rssBeforeBytes: rssBefore,
        rssAfterBytes: rssAfter,
        perConnBytes: (rssAfter - rssBefore) / Math.max(1, c.ok),
        cpuPercent,
        dropped: gen.progress().dropped,
      };
    } finally {
      await gen.stop();
    }
  });
}

async function runStorm(which: ServerName, o: RunOptions): Promise<StormMeasure> {
  return withServer(which, o, async (server) => {
    await sleep(500);
    const per = Math.ceil(o.connections / 2);
    const gen = await startGenerator(server, 'ws', o, per);
    try {
      const cpu0 = procCpuSeconds(server.pid);
      const c = await gen.connect();
      const cpu = procCpuSeconds(server.pid) - cpu0;
      const rate = (c.ok * 1000) / Math.max(1, c.ms);
      log(which, `${c.ok} authenticated in ${(c.ms / 1000).toFixed(2)} s (${formatNumber(rate)}/s), ${c.errors} errors${c.errorSamples.length ? ` (${c.errorSamples.join('; ')})` : ''}`);
      return { ok: c.ok, errors: c.errors, ms: c.ms, rate, cpuSeconds: cpu, cpuUsPerConn: (cpu * 1e6) / Math.max(1, c.ok), errorSamples: c.errorSamples };
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

interface Row {
  metric: string;
  unit: string;
  ringcast: number | null;
  baseline: number | null;
  ratio: number | null;
}

function row(metric: string, unit: string, r: number | null | undefined, b: number | null | undefined): Row {
  const rv = r ?? null;
  const bv = b ?? null;
  return { metric, unit, ringcast: rv, baseline: bv, ratio: rv !== null && bv !== null && bv !== 0 ? rv / bv : null };
}

function cell(v: number | null): Cell {
  return v === null || Number.isNaN(v) ? '—' : v;
}

function ratioText(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return '—';
  return x >= 10 ? `${x.toFixed(1)}×` : x >= 1 ? `${x.toFixed(2)}×` : `${x.toFixed(3)}×`;
}

function printRows(rows: Row[]): void {
  printTable(
    ['metric', 'unit', 'ringcast', 'baseline', 'ringcast/baseline'],
    rows.map((r) => [r.metric, r.unit, cell(r.ringcast), cell(r.baseline), ratioText(r.ratio)]),
    { rightAlign: [2, 3, 4] },
  );
}

function pushRows(m: Partial<Record<ServerName, PushMeasure>>): Row[] {
  const f = (fn: (x: PushMeasure) => number): [number | null, number | null] => [m.ringcast ? fn(m.ringcast) : null, m.baseline ? fn(m.baseline) : null];
  const rows: Row[] = [];
  const add = (metric: string, unit: string, fn: (x: PushMeasure) => number): void => {
    const [r, b] = f(fn);
    rows.push(row(metric, unit, r, b));
  };
  add('connections authenticated', 'count', (x) => x.connect.ok);
  add('pushes issued', 'pushes/s', (x) => x.pusher.issuedRate);
  add('push HTTP errors', 'count', (x) => x.pusher.errors);
  add('push HTTP response', 'ms mean', (x) => x.pusher.meanResponseMs);
  add('deliveries expected', 'count', (x) => x.expected);
  add('delivered', '%', (x) => (x.expected > 0 ? (x.final.unique / x.expected) * 100 : NaN));
  add('missing', 'count', (x) => x.final.missing);
  add('duplicates', 'count', (x) => x.final.duplicates);
  add('deliveries in measured interval', 'per s', (x) => x.measuredDeliveries / x.measuredSeconds);
  add('server CPU', '% of a core', (x) => (x.cpuSeconds / x.measuredSeconds) * 100);
  add('load generator + pusher CPU', '% of a core', (x) => (x.loadCpuSeconds / x.measuredSeconds) * 100);
  add('server CPU per delivery', 'µs', (x) => (x.cpuSeconds * 1e6) / x.measuredDeliveries);
  add('latency p50', 'ms', (x) => x.final.hist.quantile(0.5) / 1000);
  add('latency p99', 'ms', (x) => x.final.hist.quantile(0.99) / 1000);
  add('latency max', 'ms', (x) => x.final.hist.max / 1000);
  add('server RSS (max)', 'MB', (x) => x.rssMaxBytes / 2 ** 20);
  add('drain after last push', 's', (x) => x.drainMs / 1000);
  return rows;
}

// ---------------------------------------------------------------- entry

export async function runScenario(name: string, args: string[]): Promise<void> {
  const spec = SPECS[name]!;
  const o = parseOptions(name, spec, args);
  if (o === null) return;
  const started = nowMs();
  process.stdout.write(
    `${name}: ${o.connections} connections` +
      (spec.mode === 'room' || spec.mode === 'keys' ? `, ${o.rate} pushes/s, ${o.warmup} s warm-up + ${o.seconds} s measured, ringcast batch window ${o.batchWindowMs} ms` : '') +
      `, ringcast ${o.workers} workers${o.quick ? ' [quick]' : ''}\n`,
  );
  const options = { ...o };
  let rows: Row[] = [];
  const extra: Record<string, unknown> = { targets: spec.targets };
  try {
    if (spec.mode === 'room' || spec.mode === 'keys') {
      const m: Partial<Record<ServerName, PushMeasure>> = {};
      for (const s of o.servers) {
        process.stdout.write(`${s}:\n`);
        m[s] = await runPush(s, 'ws', spec, o);
      }
      rows = pushRows(m);
      extra.details = Object.fromEntries(
        Object.entries(m).map(([k, v]) => [k, { ...v, final: { ...v.final, hist: undefined, p50Ms: v.final.hist.quantile(0.5) / 1000, p90Ms: v.final.hist.quantile(0.9) / 1000, p99Ms: v.final.hist.quantile(0.99) / 1000, p999Ms: v.final.hist.quantile(0.999) / 1000, maxMs: v.final.hist.max / 1000, samples: v.final.hist.count } }]),
      );
    } else if (spec.mode === 'idle') {
      const m: Record<string, IdleMeasure> = {};
      if (o.servers.includes('ringcast')) {
        process.stdout.write('ringcast over WebSocket:\n');
        m.ringcastWs = await runIdle('ringcast', 'ws', o);
        process.stdout.write('ringcast over TCP:\n');
        m.ringcastTcp = await runIdle('ringcast', 'tcp', o);
      }
      if (o.servers.includes('baseline')) {
        process.stdout.write('baseline over WebSocket:\n');
        m.baselineWs = await runIdle('baseline', 'ws', o);
      }
      rows = [
        row('WS connections authenticated', 'count', m.ringcastWs?.connect.ok, m.baselineWs?.connect.ok),
        row('WS RSS per connection', 'KB', m.ringcastWs && m.ringcastWs.perConnBytes / 1024, m.baselineWs && m.baselineWs.perConnBytes / 1024),
        row('WS server RSS after connecting', 'MB', m.ringcastWs && m.ringcastWs.rssAfterBytes / 2 ** 20, m.baselineWs && m.baselineWs.rssAfterBytes / 2 ** 20),
        row('WS server RSS before connecting', 'MB', m.ringcastWs && m.ringcastWs.rssBeforeBytes / 2 ** 20, m.baselineWs && m.baselineWs.rssBeforeBytes / 2 ** 20),
        row('WS idle server CPU', '% of a core', m.ringcastWs?.cpuPercent, m.baselineWs?.cpuPercent),
        row('WS connections dropped', 'count', m.ringcastWs?.dropped, m.baselineWs?.dropped),
        row('TCP connections authenticated', 'count', m.ringcastTcp?.connect.ok, null),
        row('TCP RSS per connection', 'KB', m.ringcastTcp && m.ringcastTcp.perConnBytes / 1024, null),
        row('TCP idle server CPU', '% of a core', m.ringcastTcp?.cpuPercent, null),
      ];
      extra.details = m;
    } else {
      const m: Partial<Record<ServerName, StormMeasure>> = {};
      for (const s of o.servers) {
        process.stdout.write(`${s}:\n`);
        m[s] = await runStorm(s, o);
      }
      rows = [
        row('authenticated', 'count', m.ringcast?.ok, m.baseline?.ok),
        row('errors', 'count', m.ringcast?.errors, m.baseline?.errors),
        row('time until all authenticated', 's', m.ringcast && m.ringcast.ms / 1000, m.baseline && m.baseline.ms / 1000),
        row('connection rate', 'conn/s', m.ringcast?.rate, m.baseline?.rate),
        row('server CPU per connection', 'µs', m.ringcast?.cpuUsPerConn, m.baseline?.cpuUsPerConn),
      ];
      extra.details = m;
    }
  } finally {
    for (const p of liveProcesses) p.kill('SIGKILL');
  }
  process.stdout.write('\n');
  printRows(rows);
  process.stdout.write(`targets (ringcast): ${spec.targets.join('; ')}\n`);
  extra.seconds = (nowMs() - started) / 1000;
  writeResult(name, options, rows, extra);
  process.stdout.write(`[${((nowMs() - started) / 1000).toFixed(1)} s]\n`);
}
