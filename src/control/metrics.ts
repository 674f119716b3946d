/**
 * Prometheus metrics of the control port (GET /metrics), on a registry of their own (not
 * prom-client's global one). Worker gauges are read from a `MetricsSource` at scrape time (the
 * supervisor's `statuses()` fits it). Push and request counters are counted by the HTTP layer
 * (ControlCounters): here, in a server that renders its own metrics, or in the shared counters of
 * src/control/counters.ts when every worker serves the port, summed at scrape time (`controlTotals`).
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client';
import { bucketUpperSeconds, LATENCY_BUCKETS, type LatencyCounts } from '../latency-histogram.js';
import { LIMITS, type LimitName } from '../limits.js';

/** One worker as the metrics see it: a subset of the supervisor's `WorkerStatus` (`rooms` optional). */
export interface WorkerMetrics {
  id: number;
  connections: number;
  rooms?: number;
  routerEntries: number;
  accepted: number;
  restarts: number;
  /** How late (ms) the worker took the acceptor's last probe record: its event-loop lag. */
  loopLagMs?: number;
  /** Connections closed because their outbound queue passed push.writeQueueBytes. */
  slowConsumersClosed?: number;
  /** Policy drop-oldest: gaps opened and pushes dropped. */
  slowConsumerGaps?: number;
  slowMessagesDropped?: number;
  /** Reliable messaging: messages made durable by this worker's shard, sent to devices, sent again. */
  imStored?: number;
  imSent?: number;
  imRedelivered?: number;
  /** Push-to-write latency counts (src/latency-histogram.ts), kept by the worker in its status words. */
  pushWriteLatency?: LatencyCounts;
  mailbox: { usedBytes: number; fullEvents: number; parked: number; rejected: number };
}

export interface MetricsSource {
  workers(): readonly WorkerMetrics[];
  /** Refusals counted by the workers (shared counters), by limit. */
  limitRefusals?(): Partial<Record<LimitName, number>>;
  /** Pushes accepted and not yet answered. */
  pushesInFlight?(): number;
  /** What the control ports of the workers counted (src/control/counters.ts), added to what is counted here. */
  controlTotals?(): ControlTotals;
  /** Cluster mode only: the acceptor's view of the engine and the cluster (docs/cluster.md). */
  cluster?(): ClusterMetrics;
}

export interface ClusterMetrics {
  /** The engine is up (commands answer and the last probe came back). */
  up: boolean;
  /** Round trip of the last probe (ms), null when it did not come back. */
  probeMs: number | null;
  /** Engine errors (connection errors, calls past their deadline), the acceptor's and its workers'. */
  errors: number;
  liveBoxes: number;
  /** Age of the oldest count in the last cluster sum (ms). */
  countsAgeMs: number;
}

export const PUSH_KINDS = ['keys', 'mids', 'room', 'all', 'batch'] as const;
export type PushKind = (typeof PUSH_KINDS)[number];

/** What the HTTP layer counts: pushes, refusals by a control limit, requests by route and status. */
export interface ControlCounters {
  countPush(kind: PushKind, connections: number, bytes: number): void;
  countLimit(limit: LimitName): void;
  countRequest(route: string, status: number): void;
}

/** Control counters summed over the workers. */
export interface ControlTotals {
  pushes: Record<PushKind, number>;
  deliveries: number;
  pushBytes: number;
  /** Push body bytes × connections queued to (the dashboard's bytes out). */
  bytesOut: number;
  limits: Partial<Record<LimitName, number>>;
  /** [route, status, count] */
  requests: Array<[string, string, number]>;
}

export interface ControlMetricsOptions {
  /** Also register prom-client's default process/Node.js metrics on the registry. Default true. */
  defaultMetrics?: boolean;
  /** Sampling resolution (ms) of the event-loop delay monitor. Default 100. */
  eventLoopResolutionMs?: number;
}

const WORKER = ['worker'] as const;

/** Running totals of the pushes the control API accepted, as plain numbers (the dashboard's rates, src/control/dashboard/). */
export interface PushTotals {
  pushes: number;
  /** Connections the pushes were queued to. */
  deliveries: number;
  /** Push body bytes × the connections each was queued to: the payload bytes written out. */
  bytesOut: number;
}

export class ControlMetrics implements ControlCounters {
  readonly registry = new Registry();
  private readonly source: MetricsSource;
  private readonly connections: Gauge<'worker'>;
  private readonly rooms: Gauge<'worker'>;
  private readonly routerEntries: Gauge<'worker'>;
  private readonly mailboxUsed: Gauge<'worker'>;
  private readonly workerLag: Gauge<'worker'>;
  private readonly slowClosed: Counter<'worker'>;
  private readonly slowByPolicy: Counter<'policy'>;
  private readonly slowDropped: Counter;
  private readonly mailboxFull: Counter<'worker'>;
  private readonly mailboxParked: Gauge<'worker'>;
  private readonly mailboxRejected: Counter<'worker'>;
  private readonly accepted: Counter<'worker'>;
  private readonly restarts: Counter<'worker'>;
  private readonly pushes: Counter<'kind'>;
  private readonly deliveries: Counter;
  private readonly pushBytes: Counter;
  private readonly requests: Counter<'route' | 'status'>;
  private readonly limitRefusals: Counter<'limit'>;
  /** What was counted in this thread (a server rendering its own metrics), added to controlTotals at scrape time. */
  private readonly localRefusals = new Map<LimitName, number>();
  private readonly localPushes = new Map<PushKind, number>();
  private localDeliveries = 0;
  private localBytes = 0;
  private localBytesOut = 0;
  private readonly localRequests = new Map<string, number>();
  private readonly inFlight: Gauge;
  private readonly clusterGauges: { up: Gauge; probe: Gauge; errors: Gauge; boxes: Gauge; age: Gauge } | null = null;
  private readonly imStored: Counter<'worker'>;
  private readonly imSent: Counter<'worker'>;
  private readonly imRedelivered: Counter<'worker'>;
  private readonly loopLag: Gauge;
  private readonly loopLagMax: Gauge;
  private readonly loopDelay: IntervalHistogram;
  /** Timer resolution (ns) of loopDelay: its samples include it, the lag is what exceeds it. */
  private readonly loopResolutionNs: number;

  constructor(source: MetricsSource, opts: ControlMetricsOptions = {}) {
    this.source = source;
    const registers = [this.registry];
    const gauge = (name: string, help: string): Gauge<'worker'> => new Gauge({ name, help, labelNames: WORKER, registers });
    const counter = (name: string, help: string): Counter<'worker'> => new Counter({ name, help, labelNames: WORKER, registers });
    this.connections = gauge('ringcast_connections', 'Open client connections per worker.');
    this.rooms = gauge('ringcast_rooms', 'Rooms with at least one member per worker.');
    this.routerEntries = gauge('ringcast_router_entries', 'Entries (mid -> connection) in the worker shard of the mid router.');
    this.mailboxUsed = gauge('ringcast_mailbox_used_bytes', 'Bytes waiting in the worker mailbox ring.');
    this.imStored = counter('ringcast_im_messages_stored_total', 'Reliable messages made durable in the inboxes of the users whose shard is this worker (one per recipient).');
    this.imSent = counter('ringcast_im_messages_sent_total', 'Reliable messages (op 112) sent to devices by this worker\'s shard, redeliveries included.');
    this.imRedelivered = counter('ringcast_im_redeliveries_total', 'Reliable messages sent again because no ack came within im.redeliverMs.');
    this.slowClosed = counter('ringcast_slow_consumers_closed_total', 'Connections closed because they stopped reading (outbound queue over push.writeQueueBytes).');
    this.slowByPolicy = new Counter({ name: 'ringcast_slow_consumer_total', help: 'Slow consumers by policy: connections closed (close), gaps opened, i.e. connections that started dropping queued pushes (drop-oldest).', labelNames: ['policy'] as const, registers });
    this.slowDropped = new Counter({ name: 'ringcast_slow_consumer_dropped_messages_total', help: 'Pushes dropped from outbound queues by the drop-oldest policy (each announced to its client by a gap marker, op 104).', registers });
    this.workerLag = gauge('ringcast_worker_loop_lag_seconds', 'How late the worker took the last supervision probe from its mailbox (its event-loop lag).');
    this.mailboxFull = counter('ringcast_mailbox_full_events_total', 'Times a write found the worker mailbox ring full.');
    this.mailboxParked = gauge('ringcast_mailbox_parked', 'Records parked in overflow lists waiting for room in the worker mailbox.');
    this.mailboxRejected = counter('ringcast_mailbox_rejected_total', 'Records dropped because the overflow list for the worker was full.');
    this.accepted = counter('ringcast_accepted_total', 'Connections accepted by the worker (since it started).');
    this.restarts = counter('ringcast_worker_restarts_total', 'Times the worker slot was restarted after its thread died.');
    this.pushes = new Counter({ name: 'ringcast_pushes_total', help: 'Pushes accepted by the control API, by kind (batch = one per batch item).', labelNames: ['kind'] as const, registers });
    this.deliveries = new Counter({ name: 'ringcast_push_deliveries_total', help: 'Connections pushes were queued to (sum over pushes).', registers });
    this.pushBytes = new Counter({ name: 'ringcast_push_bytes_total', help: 'Push body bytes accepted by the control API (once per push, not per connection).', registers });
    this.requests = new Counter({ name: 'ringcast_http_requests_total', help: 'Control API requests by route and HTTP status.', labelNames: ['route', 'status'] as const, registers });
    this.limitRefusals = new Counter({
      name: 'ringcast_limit_refusals_total',
      help: 'Things refused because a limit was reached, by the config key of the limit (connections, handshakes, packets, rooms, upstream and control requests).',
      labelNames: ['limit'] as const,
      registers,
    });
    if (this.source.cluster !== undefined) {
      const g = (name: string, help: string): Gauge => new Gauge({ name, help, registers });
      this.clusterGauges = {
        up: g('ringcast_cluster_engine_up', '1 while the cluster engine is up (commands answer and its probe comes back), else 0 (docs/cluster.md).'),
        probe: g('ringcast_cluster_probe_seconds', 'Round trip of the last probe of the cluster engine pub/sub path; -1 when it did not come back.'),
        errors: g('ringcast_cluster_engine_errors', 'Cluster engine errors so far (lost connections, calls past cluster.commandTimeoutMs), acceptor and workers.'),
        boxes: g('ringcast_cluster_live_boxes', 'Boxes whose lease is live, this one included.'),
        age: g('ringcast_cluster_counts_age_seconds', 'Age of the oldest box count in the last cluster-wide sum.'),
      };
    }
    this.inFlight = new Gauge({ name: 'ringcast_pushes_in_flight', help: 'Pushes accepted by the control API and not yet answered by the workers (503 past push.maxInFlight).', registers });
    this.loopLag = new Gauge({ name: 'ringcast_event_loop_lag_seconds', help: 'p99 event-loop lag of the acceptor (main thread) since the previous scrape.', registers });
    this.loopLagMax = new Gauge({ name: 'ringcast_event_loop_lag_max_seconds', help: 'Largest event-loop lag of the acceptor (main thread) since the previous scrape.', registers });
    this.registry.registerMetric(latencyHistogram(() => this.source.workers()));
    // 100 ms, not prom-client's 10: a 10 ms sampler wakes an idle acceptor 100 times a second.
    const resolutionMs = opts.eventLoopResolutionMs ?? 100;
    this.loopResolutionNs = resolutionMs * 1e6;
    this.loopDelay = monitorEventLoopDelay({ resolution: resolutionMs });
    this.loopDelay.enable();
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: resolutionMs });
  }

  countPush(kind: PushKind, connections: number, bytes: number): void {
    this.localPushes.set(kind, (this.localPushes.get(kind) ?? 0) + 1);
    this.localDeliveries += connections;
    this.localBytes += bytes;
    this.localBytesOut += bytes * connections;
  }

  /** Counts one refusal by a limit enforced by the control port. */
  countLimit(limit: LimitName): void {
    this.localRefusals.set(limit, (this.localRefusals.get(limit) ?? 0) + 1);
  }

  countRequest(route: string, status: number): void {
    const key = `${route} ${status}`;
    this.localRequests.set(key, (this.localRequests.get(key) ?? 0) + 1);
  }

  /** Prometheus text exposition (`contentType` is its content type). */
  async render(): Promise<string> {
    const shared = this.source.controlTotals?.() ?? null;
    this.fillWorkers();
    this.fillLimits(shared);
    this.fillControl(shared);
    this.inFlight.set(this.source.pushesInFlight?.() ?? 0);
    if (this.clusterGauges !== null && this.source.cluster !== undefined) {
      const c = this.source.cluster();
      const g = this.clusterGauges;
      g.up.set(c.up ? 1 : 0);
      g.probe.set(c.probeMs === null ? -1 : c.probeMs / 1000);
      g.errors.set(c.errors);
      g.boxes.set(c.liveBoxes);
      g.age.set(c.countsAgeMs / 1000);
    }
    const d = this.loopDelay;
    const lag = (ns: number): number => Math.max(0, ns - this.loopResolutionNs) / 1e9;
    this.loopLag.set(d.count > 0 ? lag(d.percentile(99)) : 0);
    this.loopLagMax.set(d.count > 0 ? lag(d.max) : 0);
    d.reset();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Stops the event-loop delay monitor. */
  close(): void {
    this.loopDelay.disable();
  }

  /** Refusals of every limit so far: the workers' shared counters, their control ports' and this thread's own. */
  refusals(control: ControlTotals | null = this.source.controlTotals?.() ?? null): Record<LimitName, number> {
    const shared = this.source.limitRefusals?.() ?? {};
    const out = {} as Record<LimitName, number>;
    for (const limit of LIMITS) out[limit] = (shared[limit] ?? 0) + (control?.limits[limit] ?? 0) + (this.localRefusals.get(limit) ?? 0);
    return out;
  }

  /** Pushes accepted so far, the connections they were queued to and the bytes written out: this thread's and the control ports'. */
  pushTotals(control: ControlTotals | null = this.source.controlTotals?.() ?? null): PushTotals {
    let pushes = 0;
    for (const n of this.localPushes.values()) pushes += n;
    if (control !== null) for (const kind of PUSH_KINDS) pushes += control.pushes[kind];
    return { pushes, deliveries: this.localDeliveries + (control?.deliveries ?? 0), bytesOut: this.localBytesOut + (control?.bytesOut ?? 0) };
  }

  private fillLimits(control: ControlTotals | null): void {
    const counts = this.refusals(control);
    this.limitRefusals.reset();
    for (const limit of LIMITS) this.limitRefusals.inc({ limit }, counts[limit]);
  }

  /** Pushes and requests: what was counted here plus what the workers' control ports counted. */
  private fillControl(control: ControlTotals | null): void {
    this.pushes.reset();
    for (const kind of PUSH_KINDS) this.pushes.inc({ kind }, (this.localPushes.get(kind) ?? 0) + (control?.pushes[kind] ?? 0));
    this.deliveries.reset();
    this.deliveries.inc(this.localDeliveries + (control?.deliveries ?? 0));
    this.pushBytes.reset();
    this.pushBytes.inc(this.localBytes + (control?.pushBytes ?? 0));
    // Keyed "route status": a route label never holds a space.
    const requests = new Map(this.localRequests);
    for (const [route, status, n] of control?.requests ?? []) requests.set(`${route} ${status}`, (requests.get(`${route} ${status}`) ?? 0) + n);
    this.requests.reset();
    for (const [key, n] of requests) {
      const sp = key.lastIndexOf(' ');
      this.requests.inc({ route: key.slice(0, sp), status: key.slice(sp + 1) }, n);
    }
  }

  private fillWorkers(): void {
    const workers = this.source.workers();
    const perWorker = [this.connections, this.rooms, this.routerEntries, this.mailboxUsed, this.mailboxParked, this.workerLag];
    for (const m of perWorker) m.reset();
    for (const m of [this.mailboxFull, this.mailboxRejected, this.accepted, this.restarts, this.slowClosed, this.slowDropped, this.imStored, this.imSent, this.imRedelivered]) m.reset();
    this.slowByPolicy.reset();
    let closed = 0;
    let gaps = 0;
    for (const w of workers) {
      const labels = { worker: String(w.id) };
      this.connections.set(labels, w.connections);
      if (w.rooms !== undefined) this.rooms.set(labels, w.rooms);
      if (w.loopLagMs !== undefined) this.workerLag.set(labels, w.loopLagMs / 1000);
      this.routerEntries.set(labels, w.routerEntries);
      this.mailboxUsed.set(labels, w.mailbox.usedBytes);
      this.mailboxParked.set(labels, w.mailbox.parked);
      // Totals kept by the workers: reset + inc sets the counter to the worker's own value.
      this.mailboxFull.inc(labels, Math.max(0, w.mailbox.fullEvents));
      this.mailboxRejected.inc(labels, Math.max(0, w.mailbox.rejected));
      this.accepted.inc(labels, Math.max(0, w.accepted));
      this.restarts.inc(labels, Math.max(0, w.restarts));
      if (w.slowConsumersClosed !== undefined) this.slowClosed.inc(labels, Math.max(0, w.slowConsumersClosed));
      closed += Math.max(0, w.slowConsumersClosed ?? 0);
      gaps += Math.max(0, w.slowConsumerGaps ?? 0);
      this.slowDropped.inc(Math.max(0, w.slowMessagesDropped ?? 0));
      this.imStored.inc(labels, Math.max(0, w.imStored ?? 0));
      this.imSent.inc(labels, Math.max(0, w.imSent ?? 0));
      this.imRedelivered.inc(labels, Math.max(0, w.imRedelivered ?? 0));
    }
    this.slowByPolicy.inc({ policy: 'close' }, closed);
    this.slowByPolicy.inc({ policy: 'drop-oldest' }, gaps);
  }
}

const LATENCY_NAME = 'ringcast_push_write_latency_seconds';
/** The `le` labels of the buckets: 8 µs · 2^i, then +Inf. */
const LATENCY_LE = Array.from({ length: LATENCY_BUCKETS }, (_, i) => (i === LATENCY_BUCKETS - 1 ? '+Inf' : String(bucketUpperSeconds(i))));

/**
 * ringcast_push_write_latency_seconds, a Prometheus histogram per worker, read at scrape time from the
 * counts the workers keep in shared memory (prom-client's Histogram can only observe, not be set).
 */
function latencyHistogram(workers: () => readonly WorkerMetrics[]): Metric {
  const help = "Time from a push record's arrival at the worker to its socket write (per push, written batch by batch).";
  const get = (): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Array<{ metricName: string; labels: Record<string, string>; value: number }> }> => {
    const values: Array<{ metricName: string; labels: Record<string, string>; value: number }> = [];
    for (const w of workers()) {
      const h = w.pushWriteLatency;
      if (h === undefined) continue;
      const worker = String(w.id);
      let cumulative = 0;
      for (let i = 0; i < LATENCY_BUCKETS; i++) {
        cumulative += h.buckets[i] ?? 0;
        values.push({ metricName: `${LATENCY_NAME}_bucket`, labels: { le: LATENCY_LE[i]!, worker }, value: cumulative });
      }
      values.push({ metricName: `${LATENCY_NAME}_sum`, labels: { worker }, value: h.sumUs / 1e6 });
      values.push({ metricName: `${LATENCY_NAME}_count`, labels: { worker }, value: cumulative });
    }
    return Promise.resolve({ name: LATENCY_NAME, help, type: 'histogram', aggregator: 'sum', values });
  };
  return { name: LATENCY_NAME, help, get, reset: () => undefined } as unknown as Metric;
}
