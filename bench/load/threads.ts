/**
 * CPU time of each thread of a server process, from /proc/<pid>/task/<tid>/stat, so that a serial
 * step shows: the thread every push must pass through stands out in µs per push. Threads are told
 * apart by what they are: the main thread has the process's id (ringcast's acceptor, the baseline's
 * only JS thread); ringcast's workers name themselves `rc-worker-<index>` (src/thread-name.ts);
 * everything else (V8's platform threads: GC, compiler; libuv's pool) and threads that exited are
 * `other`, the process total minus the named threads.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { formatNumber, printTable } from '../report.js';
import { procCpuSeconds } from '../../test/helpers/proc.js';

const CLK_TCK = 100;

/** CPU seconds so far of every live thread by tid, with its role, and the process total. */
export interface ThreadSample {
  threads: Map<number, { role: string; seconds: number }>;
  total: number;
}

function taskCpu(pid: number, tid: number): { comm: string; seconds: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
    const open = s.indexOf('(');
    const close = s.lastIndexOf(')');
    const f = s.slice(close + 2).split(' ');
    return { comm: s.slice(open + 1, close), seconds: (Number(f[11]) + Number(f[12])) / CLK_TCK };
  } catch {
    return null; // exited meanwhile
  }
}

function roleOf(pid: number, tid: number, comm: string, mainRole: string): string | null {
  if (tid === pid) return mainRole;
  const m = /^rc-worker-(\d+)$/.exec(comm);
  return m === null ? null : `worker ${m[1]}`;
}

/** Samples every thread of `pid`; `mainRole` names the main thread ('acceptor' for ringcast). */
export function sampleThreads(pid: number, mainRole: string): ThreadSample {
  const threads = new Map<number, { role: string; seconds: number }>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return { threads, total: NaN };
  }
  for (const t of tids) {
    const tid = Number(t);
    const c = taskCpu(pid, tid);
    if (c === null) continue;
    const role = roleOf(pid, tid, c.comm, mainRole);
    if (role !== null) threads.set(tid, { role, seconds: c.seconds });
  }
  let total = NaN;
  try {
    total = procCpuSeconds(pid);
  } catch {
    // exited
  }
  return { threads, total };
}

/** CPU seconds per role between two samples (`other`: the rest of the process, `total`: all of it), in a stable order. */
export function threadDelta(a: ThreadSample, b: ThreadSample): Array<[string, number]> {
  const byRole = new Map<string, number>();
  let named = 0;
  for (const [tid, t] of b.threads) {
    // A thread that started in the interval (a replacement worker) counts from zero.
    const d = t.seconds - (a.threads.get(tid)?.seconds ?? 0);
    byRole.set(t.role, (byRole.get(t.role) ?? 0) + d);
    named += d;
  }
  const total = b.total - a.total;
  const order = (r: string): number => (r.startsWith('worker ') ? 1 + Number(r.slice(7)) : 0);
  const out = [...byRole.entries()].sort((x, y) => order(x[0]) - order(y[0]));
  out.push(['other', Math.max(0, total - named)], ['total', total]);
  return out;
}

/** What the CPU is divided by: pushes, deliveries, heartbeats, connections, with how many there were. */
export interface PerUnit {
  label: string;
  count: number;
}

export interface ThreadRow {
  thread: string;
  cpuSeconds: number;
  percentOfCore: number;
  /** Share of the process's CPU. */
  share: number;
  /** µs of this thread's CPU per unit, by unit label. */
  perUnit: Record<string, number>;
}

/** One row per thread role for a measured interval of `seconds`. */
export function threadRows(delta: Array<[string, number]>, seconds: number, units: PerUnit[]): ThreadRow[] {
  const total = delta.find(([r]) => r === 'total')?.[1] ?? NaN;
  return delta.map(([thread, cpu]) => ({
    thread,
    cpuSeconds: cpu,
    percentOfCore: (cpu / seconds) * 100,
    share: cpu / total,
    perUnit: Object.fromEntries(units.map((u) => [u.label, u.count > 0 ? (cpu * 1e6) / u.count : NaN])),
  }));
}

export function printThreadRows(title: string, rows: ThreadRow[], units: PerUnit[]): void {
  process.stdout.write(`\n${title}\n`);
  printTable(
    ['thread', '% of a core', 'share', ...units.map((u) => `µs per ${u.label}`)],
    rows.map((r) => [r.thread, r.percentOfCore, `${(r.share * 100).toFixed(1)} %`, ...units.map((u) => formatNumber(r.perUnit[u.label]!))]),
  );
}

/** Monotonic µs, the clock V8's CPU profiles use (so profile-summary.ts can cut a profile to an interval). */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** A measured interval's two ends, for one server. */
export class ThreadMeter {
  private first: ThreadSample | null = null;
  private last: ThreadSample | null = null;
  /** The interval on the monotonic clock (µs). */
  fromUs = 0;
  toUs = 0;
  constructor(
    private readonly pid: number,
    private readonly mainRole: string,
  ) {}
  start(): void {
    this.fromUs = monotonicUs();
    this.first = sampleThreads(this.pid, this.mainRole);
  }
  stop(): void {
    this.toUs = monotonicUs();
    this.last = sampleThreads(this.pid, this.mainRole);
  }
  rows(seconds: number, units: PerUnit[]): ThreadRow[] {
    if (this.first === null || this.last === null) return [];
    return threadRows(threadDelta(this.first, this.last), seconds, units);
  }
}
