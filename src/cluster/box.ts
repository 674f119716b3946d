/**
 * The acceptor's part in a cluster (docs/cluster.md): the start-up check and the lease of this
 * box's id, the removal of dead boxes' entries (this box learnt the death), and the box's exact
 * counts, published every `cluster.countIntervalMs`; the cluster-wide totals of the rooms this box
 * has members in are read back in the same round and handed to the workers (heartbeat replies
 * carry them, src/room-counts.ts on one box).
 */
import { StartupError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ClusterWorkerStats } from '../messages.js';
import type { BoxCounts, ClusterCounts, ClusterEngine, EngineStats, LiveNode, NodeAdvert } from './engine.js';

/** What the round reads of this box and hands back (the supervisor's workers, over comlink). */
export interface BoxCountSource {
  counts(): Promise<BoxCounts>;
  setRoomTotals(totals: Record<string, number>): Promise<void>;
  /** The workers must register their connections again (the lease was taken again after running out). */
  resyncWorkers(): void;
  /** Each running worker's engine, for /health and /metrics. */
  workerStats(): Promise<Array<ClusterWorkerStats & { worker: number }>>;
}

export interface ClusterHealth {
  readonly nodeId: string;
  readonly engine: EngineStats;
  readonly leaseMs: number;
  readonly boxes: ReadonlyArray<{ nodeId: string; leaseLeftMs: number; addrs: Readonly<Record<string, string>> }>;
  /** Age of the oldest count in the last sum (ms). */
  readonly countsAgeMs: number;
  readonly countErrors: number;
  /** Each worker's own engine (each has its connections to Redis). */
  readonly workers: ReadonlyArray<ClusterWorkerStats & { worker: number }>;
}

/** The dashboard's view of the cluster (src/control/dashboard/stats.ts), from what the box holds: no call to the engine. */
export interface ClusterSnapshot {
  readonly nodeId: string;
  readonly url: string;
  readonly leaseMs: number;
  /** This box's own lease as last read: live (held) and how long it runs unless renewed. */
  readonly lease: { readonly held: boolean; readonly leftMs: number };
  /** The state /health shows (the acceptor's engine and every worker's). */
  readonly state: string;
  readonly probeMs: number | null;
  readonly errors: number;
  readonly countErrors: number;
  readonly countsAgeMs: number;
  readonly boxes: ReadonlyArray<{
    readonly nodeId: string;
    readonly leaseLeftMs: number;
    /** Since the box started (its advert), ms; null when it did not say. */
    readonly upMs: number | null;
    /** Its published totals; null before its first count. */
    readonly connections: number | null;
    readonly ips: number | null;
    readonly countAgeMs: number | null;
    readonly addrs: Readonly<Record<string, string>>;
  }>;
  readonly workers: ReadonlyArray<{ readonly worker: number; readonly state: string; readonly probeMs: number | null; readonly errors: number; readonly directoryFailures: number }>;
}

export class ClusterBox {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private live: LiveNode[] = [];
  private countsAgeMs = 0;
  private byBox: ClusterCounts['byBox'] = new Map();
  private workers: Array<ClusterWorkerStats & { worker: number }> = [];
  countErrors = 0;

  constructor(
    readonly engine: ClusterEngine,
    private readonly leaseMs: number,
    private readonly countIntervalMs: number,
    private readonly source: BoxCountSource,
    private readonly log: Logger,
  ) {}

  /** Connects, takes the lease (refusing a live box's id) and removes this id's leftovers, before the workers start. */
  async start(advert: NodeAdvert): Promise<void> {
    const e = this.engine;
    try {
      await e.connect();
    } catch (err) {
      throw new StartupError(`cluster.redisUrl: ${(err as Error).message}`);
    }
    await e.acquireLease(advert);
    const left = await e.sweepOwnEntries();
    if (left > 0) this.log.info({ entries: left }, 'cluster: removed directory entries a previous run of this box left');
    e.onNodeDead((nodeId) => {
      this.log.warn({ nodeId }, 'cluster: a box lease ran out; removing its directory entries and counts');
      e.sweepNode(nodeId).then(
        (n) => this.log.info({ nodeId, entries: n }, 'cluster: dead box removed'),
        (err: unknown) => this.log.warn({ err, nodeId }, 'cluster: removing a dead box failed (lookups skip it anyway)'),
      );
    });
    e.onLeaseRetaken(() => {
      this.log.warn('cluster: this box lease had run out and was taken again; the workers register their connections again');
      this.source.resyncWorkers();
    });
    e.onState((ev) => this.log[ev.state === 'up' ? 'info' : 'warn']({ state: ev.state, reason: ev.reason }, 'cluster engine state'));
  }

  /** Starts the count round (after the workers are up). */
  startCounts(): void {
    this.timer = setInterval(() => void this.round(), this.countIntervalMs);
    this.timer.unref();
    void this.round();
  }

  private async round(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      this.workers = await this.source.workerStats();
      const counts = await this.source.counts();
      await this.engine.publishCounts(counts);
      const [sum, live] = await Promise.all([this.engine.readCounts([...counts.rooms.keys()]), this.engine.liveNodes()]);
      this.live = live;
      this.countsAgeMs = sum.oldestMs;
      this.byBox = sum.byBox;
      await this.source.setRoomTotals(Object.fromEntries(sum.rooms));
    } catch (err) {
      this.countErrors++;
      this.log.debug({ err }, 'cluster count round failed; the next one retries');
    } finally {
      this.running = false;
    }
  }

  /**
   * A worker of this box died: its connections died with it, so its directory entries go before
   * its replacement starts (the supervisor waits for this). Never rejects: with the engine away the
   * entries stay until the box stops or is found dead, and pushes to them reach nobody.
   */
  async workerDied(worker: number): Promise<void> {
    try {
      const n = await this.engine.sweepWorker(worker);
      this.log.info({ worker, entries: n }, 'cluster: removed the directory entries of a dead worker');
    } catch (err) {
      this.log.warn({ err, worker }, 'cluster: could not remove the directory entries of a dead worker (engine unavailable)');
    }
  }

  liveNodes(): LiveNode[] {
    return this.live;
  }

  health(): ClusterHealth {
    const now = Date.now();
    return {
      nodeId: this.engine.nodeId,
      engine: { ...this.engine.stats(), state: this.up() ? 'up' : this.engine.state === 'up' ? (this.workers.find((w) => w.state !== 'up')?.state ?? 'up') : this.engine.state },
      leaseMs: this.leaseMs,
      boxes: this.live.map((n) => ({ nodeId: n.nodeId, leaseLeftMs: Math.max(0, n.leaseUntil - now), addrs: n.addrs })),
      countsAgeMs: this.countsAgeMs,
      countErrors: this.countErrors,
      workers: this.workers,
    };
  }

  dashboard(): ClusterSnapshot {
    const now = Date.now();
    const h = this.health();
    const self = this.live.find((n) => n.nodeId === h.nodeId);
    return {
      nodeId: h.nodeId,
      url: h.engine.url,
      leaseMs: this.leaseMs,
      lease: { held: self !== undefined && self.leaseUntil > now, leftMs: self === undefined ? 0 : Math.max(0, self.leaseUntil - now) },
      state: h.engine.state,
      probeMs: h.engine.lastProbeMs,
      errors: this.errors(),
      countErrors: this.countErrors,
      countsAgeMs: this.countsAgeMs,
      boxes: [...this.live].sort((x, y) => (x.nodeId < y.nodeId ? -1 : 1)).map((n) => {
        const c = this.byBox.get(n.nodeId);
        const started = Number(n.meta?.startedAt);
        return {
          nodeId: n.nodeId,
          leaseLeftMs: Math.max(0, n.leaseUntil - now),
          upMs: Number.isFinite(started) && started > 0 ? Math.max(0, now - started) : null,
          connections: c?.connections ?? null,
          ips: c?.ips ?? null,
          countAgeMs: c === undefined || c.at === 0 ? null : Math.max(0, now - c.at),
          addrs: n.addrs,
        };
      }),
      workers: this.workers.map((w) => ({ worker: w.worker, state: w.state, probeMs: w.lastProbeMs, errors: w.errors, directoryFailures: w.directoryFailures })),
    };
  }

  /** Up only when the acceptor's engine and every worker's are (each has its own connections). */
  up(): boolean {
    return this.engine.state === 'up' && this.workers.every((w) => w.state === 'up');
  }

  errors(): number {
    return this.engine.stats().errors + this.workers.reduce((n, w) => n + w.errors, 0);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    try {
      // The workers have drained: what is left of this box's entries (unregisters cut by the engine's
      // close) goes now, then the id, so that a box may take it at once.
      await this.engine.sweepOwnEntries();
      await this.engine.releaseLease();
    } catch {
      // Redis away: the lease runs out by itself
    }
    await this.engine.close();
  }
}
