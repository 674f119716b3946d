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
import type { BoxCounts, ClusterEngine, EngineStats, LiveNode, NodeAdvert } from './engine.js';

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

export class ClusterBox {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private live: LiveNode[] = [];
  private countsAgeMs = 0;
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
