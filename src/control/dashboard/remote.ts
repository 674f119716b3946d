/**
 * The dashboard's snapshots when every worker serves the control port: the figures live with the
 * acceptor (the supervisor's statuses, the shared limit and control counters, its own event loop),
 * so a worker with a stream open asks it once a tick over the worker's comlink port to the
 * acceptor (src/worker-control.ts), and nothing while nobody watches on that worker.
 *
 *   worker: RemoteSnapshots, the StreamHub's source (stream.ts): start, sample, stop → one call each;
 *   acceptor: SnapshotSamplers, one StatsSampler per watching worker (each with its own baseline,
 *             so the rates of two workers' streams do not disturb each other), dropped when that
 *             worker stops watching or dies.
 */
import { StatsSampler, type DashboardSource, type Snapshot } from './stats.js';
import type { SnapshotSource } from './stream.js';

export type SnapshotOp = 'start' | 'sample' | 'stop';

/** The acceptor's side of the question, exposed beside AcceptorControl on each worker's port. */
export interface DashboardHop {
  /** `sample` answers the snapshot; `start` and `stop` answer null. */
  dashboard(from: number, op: SnapshotOp): Promise<Snapshot | null>;
}

/** A worker's snapshot source: the acceptor, asked over the worker's port. */
export class RemoteSnapshots implements SnapshotSource {
  constructor(
    private readonly hop: DashboardHop,
    private readonly self: number,
  ) {}

  start(): void {
    // Nothing to wait for: the port keeps the calls in order, so the first sample sees the start.
    void this.hop.dashboard(this.self, 'start').catch(() => undefined);
  }

  stop(): void {
    void this.hop.dashboard(this.self, 'stop').catch(() => undefined);
  }

  async sample(): Promise<Snapshot> {
    const snapshot = await this.hop.dashboard(this.self, 'sample');
    if (snapshot === null) throw new Error('the acceptor sent no snapshot');
    return snapshot;
  }
}

/** The acceptor's samplers, one per worker whose dashboard streams are open. */
export class SnapshotSamplers implements DashboardHop {
  private readonly samplers = new Map<number, StatsSampler>();

  constructor(private readonly source: DashboardSource) {}

  /** Workers watching now (tests). */
  get watching(): number {
    return this.samplers.size;
  }

  async dashboard(from: number, op: SnapshotOp): Promise<Snapshot | null> {
    if (op === 'stop') {
      this.forget(from);
      return null;
    }
    let sampler = this.samplers.get(from);
    if (sampler === undefined) {
      // A sample without its start (a start lost with a replaced worker's port) starts one as well.
      sampler = new StatsSampler(this.source);
      sampler.start();
      this.samplers.set(from, sampler);
    } else if (op === 'start') {
      sampler.start();
    }
    return op === 'sample' ? sampler.sample(Date.now()) : null;
  }

  /** The worker stopped watching, or died (its streams died with it). */
  forget(worker: number): void {
    this.samplers.get(worker)?.stop();
    this.samplers.delete(worker);
  }

  close(): void {
    for (const worker of [...this.samplers.keys()]) this.forget(worker);
  }
}
