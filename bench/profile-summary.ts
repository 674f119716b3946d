/**
 * Summarises V8 .cpuprofile files (from `npm run bench -- <scenario> --cpu-prof DIR`): for each profile,
 * the share of samples spent idle, in GC, and the top functions by self time, so "where does the time go"
 * is answered in a terminal without loading a flame graph. A `window.json` ({fromUs, toUs} on the
 * profiles' monotonic clock) beside a profile, as the load scenarios write it, limits that profile to
 * the scenario's measured interval (the connect phase before it left out); `--all` ignores it.
 *
 *   node dist/bench/profile-summary.js DIR [--top N] [--all]
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

interface Summary {
  file: string;
  totalMs: number;
  idleMs: number;
  gcMs: number;
  top: Array<{ name: string; ms: number; share: number }>;
}

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url === '' ? '' : ` ${path.basename(url)}:${lineNumber + 1}`;
  return `${functionName === '' ? '(anonymous)' : functionName}${file}`;
}

export interface Window {
  fromUs: number;
  toUs: number;
}

export function summarise(file: string, top: number, window: Window | null = null): Summary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const selfUs = new Map<string, number>();
  let totalUs = 0;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (window !== null && (t < window.fromUs || t > window.toUs)) continue;
    if (node === undefined) continue;
    const name = frameName(node);
    selfUs.set(name, (selfUs.get(name) ?? 0) + dt);
    totalUs += dt;
  }
  const idleUs = selfUs.get('(idle)') ?? 0;
  const gcUs = selfUs.get('(garbage collector)') ?? 0;
  const busyUs = Math.max(1, totalUs - idleUs);
  const ranked = [...selfUs.entries()]
    .filter(([name]) => name !== '(idle)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => ({ name, ms: us / 1000, share: us / busyUs }));
  return { file: path.basename(file), totalMs: totalUs / 1000, idleMs: idleUs / 1000, gcMs: gcUs / 1000, top: ranked };
}

function main(): void {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, all: { type: 'boolean', default: false } } });
  const dir = positionals[0];
  if (dir === undefined) {
    process.stderr.write('usage: node dist/bench/profile-summary.js DIR [--top N] [--all]\n');
    process.exit(2);
  }
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.cpuprofile')) files.push(p);
    }
  };
  walk(dir);
  for (const f of files.sort()) {
    const windowFile = path.join(path.dirname(f), 'window.json');
    const window = !values.all && fs.existsSync(windowFile) ? (JSON.parse(fs.readFileSync(windowFile, 'utf8')) as Window) : null;
    const s = summarise(f, Number(values.top), window);
    const busy = s.totalMs - s.idleMs;
    process.stdout.write(`\n${path.relative(dir, f)}: ${s.totalMs.toFixed(0)} ms sampled${window !== null ? ' (measured interval)' : ''}, busy ${busy.toFixed(0)} ms, GC ${s.gcMs.toFixed(0)} ms\n`);
    for (const t of s.top) process.stdout.write(`  ${(t.share * 100).toFixed(1).padStart(5)} %  ${t.ms.toFixed(1).padStart(8)} ms  ${t.name}\n`);
  }
}

main();
