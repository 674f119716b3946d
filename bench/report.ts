/**
 * Output helpers shared by every benchmark scenario: an aligned text table on stdout, and a JSON
 * record of the run in bench/results/<scenario>-<YYYY-MM-DD-HHMMSS>.json (git-ignored).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export type Cell = string | number;

/** Thrown by a scenario for bad command-line options: run.ts prints it and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface TableOptions {
  /** Columns (by index) aligned to the right; by default every column but the first. */
  rightAlign?: number[];
}

/** Renders rows as a text table with aligned columns and a rule under the header. */
export function formatTable(headers: string[], rows: Cell[][], opts: TableOptions = {}): string {
  const cells = rows.map((row) => headers.map((_, i) => cellText(row[i])));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i]!.length)));
  const right = new Set(opts.rightAlign ?? headers.map((_, i) => i).filter((i) => i > 0));
  const line = (row: string[]): string =>
    row
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join(' | ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('-|-');
  return [line(headers), rule, ...cells.map(line)].join('\n');
}

export function printTable(headers: string[], rows: Cell[][], opts: TableOptions = {}): void {
  process.stdout.write(formatTable(headers, rows, opts) + '\n');
}

function cellText(c: Cell | undefined): string {
  if (c === undefined) return '';
  return typeof c === 'number' ? formatNumber(c) : c;
}

/** 1234567 → "1.23 M", 12345 → "12.3 k", 12.345 → "12.3", 0.1234 → "0.123". */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(1)} k`;
  if (a >= 100) return n.toFixed(0);
  if (a >= 10) return n.toFixed(1);
  if (a >= 1) return n.toFixed(2);
  return n.toPrecision(3);
}

/** Sorted copy's value at quantile q (0..1), nearest-rank. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface RunEnvironment {
  node: string;
  v8: string;
  platform: string;
  arch: string;
  cpu: string;
  cores: number;
  totalMemoryMiB: number;
}

export function environment(): RunEnvironment {
  const cpus = os.cpus();
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: process.platform,
    arch: process.arch,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    totalMemoryMiB: Math.round(os.totalmem() / 2 ** 20),
  };
}

/** The project root: the nearest folder above this module holding a package.json. */
function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

function stamp(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/**
 * Writes bench/results/<scenario>-<YYYY-MM-DD-HHMMSS>.json (local time) with the environment, the
 * options used and the rows, prints the path and returns it.
 */
export function writeResult(scenario: string, options: object, rows: object[], extra: Record<string, unknown> = {}): string {
  const date = new Date();
  const dir = path.join(projectRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  let file = path.join(dir, `${scenario}-${stamp(date)}.json`);
  for (let i = 2; existsSync(file); i++) file = path.join(dir, `${scenario}-${stamp(date)}-${i}.json`);
  const env = environment();
  const doc = {
    scenario,
    date: date.toISOString(),
    node: env.node,
    cpu: env.cpu,
    cores: env.cores,
    environment: env,
    options,
    rows,
    ...extra,
  };
  writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
  process.stdout.write(`results written to ${path.relative(process.cwd(), file) || file}\n`);
  return file;
}

/** Parsed benchmark command line: the string options as given, `--quick`, and a checked number reader. */
export interface BenchArgs {
  values: Record<string, string | undefined>;
  quick: boolean;
  /** `--name` as a number in [min, max] (an integer unless `integer` is false), or `fallback` when absent. */
  num(name: string, fallback: number, min: number, max?: number, integer?: boolean): number;
}

/**
 * The option handling every scenario shares: `--help` prints `help` and answers null; unknown options
 * and bad numbers throw UsageError (exit 2) with the help text; `_` may group digits (`1_000_000`).
 */
export function parseBenchArgs(args: string[], stringOptions: readonly string[], help: string): BenchArgs | null {
  let parsed;
  try {
    const options: Record<string, { type: 'string' } | { type: 'boolean'; default: boolean; short?: string }> = {
      quick: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    };
    for (const name of stringOptions) options[name] = { type: 'string' };
    parsed = parseArgs({ args, strict: true, allowPositionals: false, options });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${help}`);
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  if (v.help === true) {
    process.stdout.write(help + '\n');
    return null;
  }
  const values: Record<string, string | undefined> = {};
  for (const name of stringOptions) values[name] = v[name] as string | undefined;
  return {
    values,
    quick: v.quick === true,
    num(name, fallback, min, max = Number.MAX_SAFE_INTEGER, integer = true) {
      const raw = values[name];
      if (raw === undefined) return fallback;
      const n = Number(raw.replace(/_/g, ''));
      if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isSafeInteger(n))) {
        throw new UsageError(`--${name} needs ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got "${raw}"\n\n${help}`);
      }
      return n;
    },
  };
}
