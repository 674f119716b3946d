/**
 * What the dashboard's stream sends each second (docs/operations.md#dashboard): one snapshot of
 * figures ringcast keeps anyway, read from shared state without asking any worker: the workers'
 * status words (src/worker-status.ts, via the supervisor), the shared limit counters
 * (src/limits.ts) and the control API's own counters (src/control/metrics.ts). Rates are the
 * difference from the previous snapshot over the time between them.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import v8 from 'node:v8';
import { latencyQuantileUs, latencySince, sumLatency, type LatencyCounts } from '../../latency-histogram.js';
import type { ClusterSnapshot } from '../../cluster/box.js';
import type { WorkerStatus } from '../../worker-status.js';
import type { PushTotals } from '../metrics.js';

/** Where a snapshot is read from; every call is a read of memory this thread can see. */
export interface DashboardSource {
  workers(): readonly WorkerStatus[];
  /** Refusals so far by limit (config key). */
  refusals(): Readonly<Record<string, number>>;
  pushTotals(): Readonly<PushTotals>;
  pushesInFlight(): number;
  draining(): boolean;
  /** Cluster mode: what the acceptor's cluster part holds (src/cluster/box.ts); absent on one box. */
  cluster?: () => ClusterSnapshot;
}

/** Per second, over the time since the previous snapshot; null in a stream's first snapshot. */
export interface Rates {
  connects: number;
  disconnects: number;
  pushes: number;
  deliveries: number;
  bytesOut: number;
  /** Refusals per second by limit (only limits that refused something in the interval). */
  refusals: Record<string, number>;
}

export interface Snapshot {
  /** ms since the epoch. */
  t: number;
  status: 'ok' | 'degraded' | 'down' | 'draining';
  connections: number;
  ready: number;
  pushesInFlight: number;
  rates: Rates | null;
  acceptor: { loopLagMs: number; loopLagMaxMs: number; heapUsedBytes: number };
  /** As GET /health shows them. */
  workers: readonly WorkerStatus[];
  slow: { closed: number; gaps: number; dropped: number };
  refusals: Readonly<Record<string, number>>;
  /**
   * Push-to-write latency (a push record's arrival at its worker → the socket write) of the pushes
   * written since the previous snapshot, from the workers' histograms (src/latency-histogram.ts);
   * null in a stream's first snapshot. p50/p99 are null when no push was written.
   */
  latency: LatencySummary | null;
  /** Cluster mode: the boxes, their leases, the engine's state, probe latency and errors; null on one box. */
  cluster: ClusterSnapshot | null;
}

export interface LatencyQuantiles {
  p50Ms: number | null;
  p99Ms: number | null;
  /** Pushes written in the interval. */
  count: number;
}

export interface LatencySummary extends LatencyQuantiles {
  workers: Array<LatencyQuantiles & { id: number }>;
}

function quantiles(h: LatencyCounts): LatencyQuantiles {
  const ms = (us: number | null): number | null => (us === null ? null : Math.round(us) / 1000);
  return { p50Ms: ms(latencyQuantileUs(h, 0.5)), p99Ms: ms(latencyQuantileUs(h, 0.99)), count: h.buckets.reduce((a, b) => a + b, 0) };
}

/** The same rule as GET /health (src/control/acceptor-routes.ts): a box whose cluster engine is not up is degraded. */
export function overallStatus(workers: readonly WorkerStatus[], draining: boolean, clusterUp = true): Snapshot['status'] {
  const ready = workers.filter((w) => w.state === 'ready' && !w.stalled).length;
  return draining ? 'draining' : ready === workers.length && clusterUp ? 'ok' : ready > 0 ? 'degraded' : 'down';
}

interface Previous {
  t: number;
  accepted: number[];
  connections: number[];
  pushes: number;
  deliveries: number;
  bytesOut: number;
  refusals: Readonly<Record<string, number>>;
  latency: LatencyCounts[];
}

/** 100 ms, as the /metrics monitor (src/control/metrics.ts): fine enough for a 1 s chart, ten wake-ups a second. */
const LAG_RESOLUTION_MS = 100;

export class StatsSampler {
  private prev: Previous | null = null;
  private lag: IntervalHistogram | null = null;

  constructor(private readonly source: DashboardSource) {}

  /** Starts the acceptor's event-loop monitor; the next snapshot has no rates (a new baseline). */
  start(): void {
    this.prev = null;
    if (this.lag === null) {
      this.lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
      this.lag.enable();
    }
  }

  /** Stops the monitor: nothing of the dashboard runs while nobody watches. */
  stop(): void {
    this.lag?.disable();
    this.lag = null;
    this.prev = null;
  }

  sample(now: number): Snapshot {
    const src = this.source;
    const workers = src.workers();
    const totals = src.pushTotals();
    const refusals = src.refusals();
    let connections = 0;
    let ready = 0;
    const slow = { closed: 0, gaps: 0, dropped: 0 };
    for (const w of workers) {
      connections += w.connections;
      if (w.state === 'ready') ready++;
      slow.closed += w.slowConsumersClosed;
      slow.gaps += w.slowConsumerGaps;
      slow.dropped += w.slowMessagesDropped;
    }
    const prev = this.prev;
    const rates = prev === null || now <= prev.t ? null : this.rates(prev, now, workers, totals, refusals);
    const latency = prev === null || now <= prev.t ? null : this.latency(prev, workers);
    this.prev = {
      t: now,
      accepted: workers.map((w) => w.accepted),
      connections: workers.map((w) => w.connections),
      pushes: totals.pushes,
      deliveries: totals.deliveries,
      bytesOut: totals.bytesOut,
      refusals,
      latency: workers.map((w) => w.pushWriteLatency),
    };
    const cluster = src.cluster?.() ?? null;
    return {
      t: now,
      status: overallStatus(workers, src.draining(), cluster === null || cluster.state === 'up'),
      connections,
      ready,
      pushesInFlight: src.pushesInFlight(),
      rates,
      acceptor: { ...this.readLag(), heapUsedBytes: v8.getHeapStatistics().used_heap_size },
      workers,
      slow,
      refusals,
      latency,
      cluster,
    };
  }

  /** The latency of the pushes written since the previous snapshot, per worker and over all. */
  private latency(prev: Previous, workers: readonly WorkerStatus[]): LatencySummary {
    const since = workers.map((w, i) => latencySince(w.pushWriteLatency, prev.latency[i]));
    return { ...quantiles(sumLatency(since)), workers: since.map((h, i) => ({ id: workers[i]!.id, ...quantiles(h) })) };
  }

  private rates(prev: Previous, now: number, workers: readonly WorkerStatus[], totals: Readonly<PushTotals>, refusals: Readonly<Record<string, number>>): Rates {
    const sec = (now - prev.t) / 1000;
    let connects = 0;
    let disconnects = 0;
    workers.forEach((w, i) => {
      // A count that went down started again (a new thread in the slot): it counts from 0.
      const acceptedBefore = w.accepted >= (prev.accepted[i] ?? 0) ? (prev.accepted[i] ?? 0) : 0;
      const accepted = w.accepted - acceptedBefore;
      // Every connection accepted in the interval and not open at its end has closed (a dead worker's: all of them).
      connects += accepted;
      disconnects += Math.max(0, accepted - (w.connections - (prev.connections[i] ?? 0)));
    });
    const perSec: Record<string, number> = {};
    for (const [limit, n] of Object.entries(refusals)) {
      const d = n - (prev.refusals[limit] ?? 0);
      if (d > 0) perSec[limit] = d / sec;
    }
    return {
      connects: connects / sec,
      disconnects: disconnects / sec,
      pushes: (totals.pushes - prev.pushes) / sec,
      deliveries: (totals.deliveries - prev.deliveries) / sec,
      bytesOut: (totals.bytesOut - prev.bytesOut) / sec,
      refusals: perSec,
    };
  }

  /** p99 and max event-loop lag (ms) of this thread since the previous snapshot. */
  private readLag(): { loopLagMs: number; loopLagMaxMs: number } {
    const d = this.lag;
    if (d === null || d.count === 0) return { loopLagMs: 0, loopLagMaxMs: 0 };
    // Samples include the timer's own period: the lag is what exceeds it.
    const ms = (ns: number): number => Math.max(0, ns / 1e6 - LAG_RESOLUTION_MS);
    const out = { loopLagMs: ms(d.percentile(99)), loopLagMaxMs: ms(d.max) };
    d.reset();
    return out;
  }
}
