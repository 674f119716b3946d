/**
 * The control port's counters when every worker serves it: one region of Float64 counters per
 * worker slot in a SharedArrayBuffer, written only by the worker in that slot (a replacement goes
 * on from its predecessor's values, so a counter never goes back) and summed by the acceptor when
 * /metrics is scraped. Single writer per region: plain stores, no Atomics; a reader may see a count
 * a moment old.
 *
 * Per region: pushes by kind, deliveries, push bytes, bytes out (× connections), refusals by limit (LIMITS order), then
 * requests by route label × status. Labels and statuses are fixed lists; a status outside the list
 * is counted as "other" (none is produced today).
 */
import { LIMITS, type LimitName } from '../limits.js';
import { ADMIN_PATHS } from './admin-api.js';
import { BATCH_ROUTES } from './batch.js';
import { DASHBOARD_PATHS } from './dashboard/index.js';
import { GOIM_ROUTES } from './goim-api.js';
import { IM_ROUTES } from './im-api.js';
import { PUSH_KINDS, type ControlCounters, type ControlTotals, type PushKind } from './metrics.js';

/** Every route label the HTTP layer counts (src/control/http.ts). */
export const ROUTE_LABELS: readonly string[] = ['/health', '/metrics', ...[...GOIM_ROUTES, ...BATCH_ROUTES, ...IM_ROUTES].map(([, r]) => r.label), ...ADMIN_PATHS, ...DASHBOARD_PATHS, '/debug', '/push/stream', 'unknown'];
const STATUSES = [101, 200, 304, 400, 401, 403, 404, 405, 409, 413, 415, 429, 431, 500, 502, 503, 504] as const;
const STATUS_SLOTS = STATUSES.length + 1; // + other

const C_PUSHES = 0;
const C_DELIVERIES = PUSH_KINDS.length;
const C_BYTES = C_DELIVERIES + 1;
const C_BYTES_OUT = C_BYTES + 1;
const C_LIMITS = C_BYTES_OUT + 1;
const C_REQUESTS = C_LIMITS + LIMITS.length;
const REGION = C_REQUESTS + ROUTE_LABELS.length * STATUS_SLOTS;

const labelIndex = new Map(ROUTE_LABELS.map((l, i) => [l, i]));
const statusIndex = new Map<number, number>(STATUSES.map((s, i) => [s, i]));
const kindIndex = new Map<PushKind, number>(PUSH_KINDS.map((k, i) => [k, i]));
const limitIndex = new Map<LimitName, number>(LIMITS.map((l, i) => [l, i]));

export function createControlCounters(workers: number): SharedArrayBuffer {
  return new SharedArrayBuffer(workers * REGION * 8);
}

/** One worker's region: what its control port counts. */
export class SharedControlCounters implements ControlCounters {
  private readonly c: Float64Array;

  constructor(buffer: SharedArrayBuffer, worker: number) {
    this.c = new Float64Array(buffer, worker * REGION * 8, REGION);
  }

  countPush(kind: PushKind, connections: number, bytes: number): void {
    this.c[C_PUSHES + kindIndex.get(kind)!]! += 1;
    this.c[C_DELIVERIES]! += connections;
    this.c[C_BYTES]! += bytes;
    this.c[C_BYTES_OUT]! += bytes * connections;
  }

  countLimit(limit: LimitName): void {
    this.c[C_LIMITS + limitIndex.get(limit)!]! += 1;
  }

  countRequest(route: string, status: number): void {
    const l = labelIndex.get(route) ?? labelIndex.get('unknown')!;
    this.c[C_REQUESTS + l * STATUS_SLOTS + (statusIndex.get(status) ?? STATUSES.length)]! += 1;
  }
}

/** The sums over every worker region (the acceptor's /metrics). */
export function controlTotals(buffer: SharedArrayBuffer, workers: number): ControlTotals {
  const all = new Float64Array(buffer);
  const sum = (i: number): number => {
    let n = 0;
    for (let w = 0; w < workers; w++) n += all[w * REGION + i]!;
    return n;
  };
  const pushes = Object.fromEntries(PUSH_KINDS.map((k, i) => [k, sum(C_PUSHES + i)])) as Record<PushKind, number>;
  const limits: Partial<Record<LimitName, number>> = {};
  LIMITS.forEach((l, i) => (limits[l] = sum(C_LIMITS + i)));
  const requests: Array<[string, string, number]> = [];
  for (let l = 0; l < ROUTE_LABELS.length; l++) {
    for (let s = 0; s < STATUS_SLOTS; s++) {
      const n = sum(C_REQUESTS + l * STATUS_SLOTS + s);
      if (n > 0) requests.push([ROUTE_LABELS[l]!, s < STATUSES.length ? String(STATUSES[s]) : 'other', n]);
    }
  }
  return { pushes, deliveries: sum(C_DELIVERIES), pushBytes: sum(C_BYTES), bytesOut: sum(C_BYTES_OUT), limits, requests };
}
