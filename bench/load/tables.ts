/**
 * The comparison table of a load scenario: one column per server run (ringcast with each worker count
 * asked for, the baseline), then the ratios: each ringcast run over the baseline, and, when ringcast
 * ran with several worker counts, the last over the first (`--workers 1,2`: 2 w / 1 w).
 */
import { Cell, printTable } from '../report.js';

export interface Row {
  metric: string;
  unit: string;
  /** By run label ("ringcast", "ringcast 1w", "baseline"). */
  values: Record<string, number | null>;
  ratios: Record<string, number | null>;
}

export interface Columns {
  /** Run labels in column order. */
  labels: string[];
  /** Ratio columns: [name, numerator label, denominator label]. */
  ratios: Array<[string, string, string]>;
}

/** The ratio columns for these runs: every ringcast run over the baseline; last ringcast run over the first. */
export function columnsFor(labels: string[]): Columns {
  const ringcast = labels.filter((l) => l.startsWith('ringcast'));
  const ratios: Array<[string, string, string]> = [];
  if (labels.includes('baseline')) for (const r of ringcast) ratios.push([`${r}/baseline`, r, 'baseline']);
  if (ringcast.length >= 2) {
    const first = ringcast[0]!;
    const last = ringcast[ringcast.length - 1]!;
    ratios.push([`${last.replace('ringcast ', '')}/${first.replace('ringcast ', '')}`, last, first]);
  }
  return { labels, ratios };
}

export function makeRow(cols: Columns, metric: string, unit: string, values: Record<string, number | null | undefined>): Row {
  const v: Record<string, number | null> = {};
  for (const l of cols.labels) v[l] = values[l] ?? null;
  const ratios: Record<string, number | null> = {};
  for (const [name, num, den] of cols.ratios) {
    const a = v[num];
    const b = v[den];
    ratios[name] = a !== null && a !== undefined && b !== null && b !== undefined && b !== 0 ? a / b : null;
  }
  return { metric, unit, values: v, ratios };
}

function cell(v: number | null): Cell {
  return v === null || Number.isNaN(v) ? '—' : v;
}

export function ratioText(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return '—';
  return x >= 10 ? `${x.toFixed(1)}×` : x >= 1 ? `${x.toFixed(2)}×` : `${x.toFixed(3)}×`;
}

export function printRows(cols: Columns, rows: Row[]): void {
  const n = cols.labels.length + cols.ratios.length;
  printTable(
    ['metric', 'unit', ...cols.labels, ...cols.ratios.map(([name]) => name)],
    rows.map((r) => [r.metric, r.unit, ...cols.labels.map((l) => cell(r.values[l] ?? null)), ...cols.ratios.map(([name]) => ratioText(r.ratios[name] ?? null))]),
    { rightAlign: Array.from({ length: n }, (_, i) => i + 2) },
  );
}
