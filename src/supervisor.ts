/**
 * The acceptor's supervision of worker threads (after piscina): start each worker with its own
 * listening descriptors and wait for its ready handshake; replace a worker that dies, after its
 * router entries are purged everywhere, unless it keeps dying (crash-loop guard); notice a worker
 * whose mailbox stops moving; and at shutdown tell, drain and join every worker. It runs the room
 * count round (src/room-counts.ts) and reports each worker's status (src/worker-status.ts).
 */
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { ActorKind, ActorSystem } from './actor-system.js';
import { nodeEndpoint } from './comlink-node.js';
import type { Config } from './config/index.js';
import { ST_CONNECTIONS, ST_HEAP_KB, ST_LOOP_LAG_MS, ST_PARKED, ST_ROOM_VERSION, ST_ROOMS, ST_ROUTER_ENTRIES, ST_STATE, STATUS_WORDS, WorkerState } from './layout.js';
import type { ListenFdPool } from './listen-fds.js';
import { createLimitsBuffer, SharedLimits } from './limits.js';
import type { Logger } from './logger.js';
import { MessageKind, RouterActorId, SystemActorId, type DashboardSetup, type NodesOptions, type WorkerAdmin, type WorkerEvent, type WorkerInit } from './messages.js';
import { createProcessWords, ProcessWords } from './process-words.js';
import { createRingBuffer, RingReader } from './ring/ring.js';
import { RoomCountRound } from './room-counts.js';
import { encodeWorker } from './router-records.js';
import { readWorkerStatus, type ExtensionStatus, type SlotState, type SlotView, type WorkerStatus } from './worker-status.js';

export type { SlotState, WorkerStatus } from './worker-status.js';

const WORKER_ENTRY = new URL('../workers/worker.js', import.meta.url);

/** One worker position: the Worker in it changes when it is replaced; its index and mailbox do not. */
interface Slot extends SlotView {
  worker: Worker | null;
  admin: Comlink.Remote<WorkerAdmin> | null;
  deaths: number[]; // times of recent deaths, for the crash-loop guard
  cleanup: Promise<void> | null; // what the replacement waits for (cleanUpWorker)
  lastConsumed: number; // stall detection
}

export class Supervisor {
  readonly workers: number;
  readonly mailboxes: SharedArrayBuffer[];
  readonly status: SharedArrayBuffer;
  /** Connection counts and limit refusals, shared with every worker (src/limits.ts). */
  readonly limits: SharedLimits;
  private readonly limitsBuffer: SharedArrayBuffer;
  /** The control plane's process-wide limits and flags (src/process-words.ts), shared with every worker. */
  readonly process: ProcessWords;
  private readonly processBuffer: SharedArrayBuffer;
  /**
   * What every worker's control port is given (set before start()): the shared control counters,
   * what /goim/nodes reports and the dashboard's switches and hello; and where the acceptor answers the routes workers hand it (each
   * worker gets a port of its own, exposed by `exposeControl`).
   */
  control: { counters: SharedArrayBuffer; nodes: NodesOptions; dashboard: DashboardSetup; exposeControl(port: MessagePort, worker: number): void } | null = null;
  /** PEM text of the TLS certificate and key handed to workers (set before start()); null = no TLS. */
  tls: { cert: string; key: string } | null = null;
  /** The acceptor's own actor system (thread index = workers): how it writes records to workers. */
  readonly system: ActorSystem;
  private readonly slots: Slot[];
  private readonly statusWords: Int32Array;
  private readonly config: Config;
  private readonly log: Logger;
  private readonly fds: ListenFdPool;
  private probeTimer: NodeJS.Timeout | null = null;
  private countTimer: NodeJS.Timeout | null = null;
  private readonly roomCounts: RoomCountRound;
  private stopping = false;
  /** Called when a worker has died (after its router entries are purged from the shards). */
  onWorkerDeath: (worker: number) => void = () => undefined;
  /**
   * Cluster mode: removes what a dead worker left outside this process (its directory entries,
   * src/cluster/box.ts); its replacement starts once this has settled. Null on one box.
   */
  cleanUpWorker: ((worker: number) => Promise<void>) | null = null;
  /** Called when no worker is left alive and none will be restarted. */
  onAllFailed: () => void = () => undefined;
  /** Figures of the session extensions, read from their status words (src/layout.ts, ST_EXT_FIRST), added to each WorkerStatus. */
  extensionStatus: ExtensionStatus = () => ({});

  constructor(config: Config, workers: number, fds: ListenFdPool, log: Logger) {
    this.config = config;
    this.workers = workers;
    this.fds = fds;
    this.log = log;
    // One mailbox per thread: workers 0..N-1, then the acceptor.
    this.mailboxes = Array.from({ length: workers + 1 }, () => createRingBuffer(config.ring.mailboxBytes));
    this.status = new SharedArrayBuffer((workers + 1) * STATUS_WORDS * 4);
    this.statusWords = new Int32Array(this.status);
    this.limitsBuffer = createLimitsBuffer(workers, config.limits);
    this.limits = new SharedLimits(this.limitsBuffer, workers, config.limits);
    this.processBuffer = createProcessWords(workers);
    this.process = new ProcessWords(this.processBuffer, workers, -1);
    this.system = new ActorSystem({
      self: workers,
      mailboxes: this.mailboxes,
      status: this.status,
      overflowBytes: config.ring.overflowBytes,
      drainBudget: config.ring.drainBudget,
      log,
    });
    const now = Date.now();
    this.slots = Array.from({ length: workers }, (_, index) => ({
      index,
      state: 'starting' as SlotState,
      worker: null,
      admin: null,
      threadId: 0,
      restarts: 0,
      deaths: [],
      cleanup: null,
      lastExit: null,
      probe: new RingReader(this.mailboxes[index]!), // read-only use: used()/consumed()
      lastConsumed: 0,
      lastProgressAt: now,
      stalled: false,
    }));
    this.roomCounts = new RoomCountRound(
      {
        version: () => {
          let version = 0;
          for (const s of this.slots) version += Atomics.load(this.statusWords, s.index * STATUS_WORDS + ST_ROOM_VERSION) + s.restarts;
          return version;
        },
        admins: () => this.slots.filter((s) => s.state === 'ready' && s.admin !== null).map((s) => s.admin!),
      },
      log,
    );
  }

  /** Starts every worker and resolves when all are ready. */
  async start(): Promise<void> {
    // Room and broadcast pushes wait in a worker's merge window anyway: no wake while it dozes.
    this.system.setLazyKinds([MessageKind.PushRoom, MessageKind.PushAll]);
    this.system.start();
    await Promise.all(this.slots.map((slot) => this.spawn(slot)));
    this.probeTimer = setInterval(() => this.probe(), this.config.supervisor.probeIntervalMs);
    this.probeTimer.unref();
    this.countTimer = setInterval(() => {
      if (!this.stopping && this.localRoomCounts) void this.roomCounts.run();
    }, this.config.rooms.countIntervalMs);
    this.countTimer.unref();
  }

  private spawn(slot: Slot): Promise<void> {
    const control = this.control;
    if (control === null) throw new Error('supervisor.control must be set before the workers start');
    const channel = new MessageChannel();
    const init: WorkerInit = {
      index: slot.index,
      workers: this.workers,
      config: this.config,
      mailboxes: this.mailboxes,
      status: this.status,
      limits: this.limitsBuffer,
      tls: this.tls,
      fds: this.fds.take(),
      control: { process: this.processBuffer, counters: control.counters, nodes: control.nodes, dashboard: control.dashboard, acceptor: channel.port2 },
    };
    control.exposeControl(channel.port1, slot.index);
    Atomics.store(this.statusWords, slot.index * STATUS_WORDS + ST_STATE, WorkerState.Starting);
    const heap = this.config.supervisor.workerHeapMb;
    const worker = new Worker(WORKER_ENTRY, {
      workerData: init,
      transferList: [channel.port2],
      name: `ringcast-worker-${slot.index}`,
      ...(heap > 0 ? { resourceLimits: { maxOldGenerationSizeMb: heap } } : {}),
    });
    slot.worker = worker;
    slot.state = 'starting';
    slot.admin = Comlink.wrap<WorkerAdmin>(nodeEndpoint(worker));
    let lastError: Error | null = null;
    worker.on('error', (err) => {
      lastError = err;
    });
    return new Promise((resolve, reject) => {
      let ready = false;
      worker.on('message', (msg: WorkerEvent | unknown) => {
        if (typeof msg === 'object' && msg !== null && (msg as WorkerEvent).type === 'ready') {
          ready = true;
          slot.state = 'ready';
          slot.threadId = (msg as WorkerEvent).threadId;
          slot.lastProgressAt = Date.now();
          slot.stalled = false;
          resolve();
        }
      });
      worker.on('exit', (code) => {
        slot.worker = null;
        slot.admin = null;
        channel.port1.close();
        const error = lastError === null ? null : (lastError as Error).message;
        slot.lastExit = { code, error, at: Date.now() };
        if (this.stopping) {
          slot.state = 'stopped';
          if (!ready) resolve();
          return;
        }
        this.onDeath(slot, code, lastError);
        if (!ready) reject(new Error(`worker ${slot.index} died while starting (exit code ${code}${error ? `: ${error}` : ''})`));
      });
    });
  }

  private onDeath(slot: Slot, code: number, err: Error | null): void {
    slot.state = 'dead';
    this.log.error({ worker: slot.index, code, err }, 'worker died');
    // Its connections are gone: their counts must not hold back the limits, nor its control
    // requests in flight (they died with its control connections) push.maxInFlight.
    this.limits.clearWorker(slot.index);
    this.process.clearWorker(slot.index);
    // Its gauges described a thread that is gone; a replacement only writes them when they change,
    // so /health, /metrics and online counts would go on counting the dead worker's connections.
    const base = slot.index * STATUS_WORDS;
    for (const word of [ST_CONNECTIONS, ST_ROOMS, ST_ROUTER_ENTRIES, ST_PARKED, ST_LOOP_LAG_MS, ST_HEAP_KB]) Atomics.store(this.statusWords, base + word, 0);
    // Not running: the other workers send it nothing more (pushes skip it) until its replacement starts.
    Atomics.store(this.statusWords, base + ST_STATE, WorkerState.Stopped);
    // Its sockets died with it: every router shard and key-directory shard forgets the connections
    // it held, and every push dispatcher completes what waits for its answer.
    const body = encodeWorker(slot.index);
    for (const other of this.slots) {
      if (other === slot || other.state === 'failed') continue;
      this.system.send(other.index, ActorKind.RouterShard, RouterActorId.Shard, MessageKind.RouterPurgeWorker, body);
      this.system.send(other.index, ActorKind.RouterShard, RouterActorId.Keys, MessageKind.RouterPurgeWorker, body);
      this.system.send(other.index, ActorKind.System, SystemActorId.PushDispatcher, MessageKind.RouterPurgeWorker, body);
    }
    this.onWorkerDeath(slot.index);
    if (this.cleanUpWorker !== null) slot.cleanup = this.cleanUpWorker(slot.index);
    const now = Date.now();
    slot.deaths = slot.deaths.filter((t) => now - t < this.config.supervisor.crashLoopWindowMs);
    slot.deaths.push(now);
    if (slot.deaths.length >= this.config.supervisor.crashLoopLimit) {
      slot.state = 'failed';
      this.log.fatal({ worker: slot.index, deaths: slot.deaths.length, windowMs: this.config.supervisor.crashLoopWindowMs }, 'worker keeps dying: not restarting it');
      if (this.slots.every((s) => s.state === 'failed')) this.onAllFailed();
      return;
    }
    const timer = setTimeout(() => this.replace(slot), this.config.supervisor.restartDelayMs);
    timer.unref();
  }

  private async replace(slot: Slot): Promise<void> {
    if (this.stopping) return;
    slot.restarts++;
    try {
      // The dead worker's entries elsewhere go first: the replacement's would carry the same worker index.
      if (slot.cleanup !== null) await slot.cleanup;
      slot.cleanup = null;
      await this.fds.refill();
      await this.spawn(slot);
    } catch (err) {
      this.log.error({ worker: slot.index, err }, 'replacement worker failed to start');
      // A worker that died while starting was counted by its exit handler, which scheduled the next
      // try. One that never started (no listening descriptor could be had) needs a retry here.
      if (slot.worker === null && slot.state === 'dead') {
        const timer = setTimeout(() => this.replace(slot), Math.max(1000, this.config.supervisor.restartDelayMs));
        timer.unref();
      }
      return;
    }
    this.log.info({ worker: slot.index, restarts: slot.restarts }, 'worker replaced');
    // The new worker's router and key-directory shards are empty: the others register again the users and keys it owns.
    const body = encodeWorker(slot.index);
    for (const other of this.slots) {
      if (other !== slot && other.state === 'ready') this.system.send(other.index, ActorKind.System, SystemActorId.Supervision, MessageKind.RouterResync, body);
    }
  }

  /**
   * Stall detection: a worker whose mailbox holds records that it has not consumed for
   * stallTimeoutMs is stalled. A probe record is written every interval, so even an otherwise idle
   * worker that stops draining shows up.
   */
  private probe(): void {
    const now = Date.now();
    for (const slot of this.slots) {
      if (slot.state !== 'ready') continue;
      const consumed = slot.probe.consumed();
      if (consumed !== slot.lastConsumed || slot.probe.used() === 0) {
        slot.lastConsumed = consumed;
        slot.lastProgressAt = now;
        if (slot.stalled) {
          slot.stalled = false;
          this.log.warn({ worker: slot.index }, 'worker is draining its mailbox again');
        }
      } else if (!slot.stalled && now - slot.lastProgressAt >= this.config.supervisor.stallTimeoutMs) {
        slot.stalled = true;
        this.log.error({ worker: slot.index, stalledMs: now - slot.lastProgressAt, pendingBytes: slot.probe.used() }, 'worker stalled: its mailbox is not being drained');
      }
      // Only into an empty mailbox: pending records already prove (or disprove) progress.
      // The probe carries its send time: the worker's delay in taking it is its event-loop lag.
      if (slot.probe.used() === 0) {
        const body = new Uint8Array(8);
        new DataView(body.buffer).setFloat64(0, Date.now());
        this.system.send(slot.index, ActorKind.System, SystemActorId.Supervision, MessageKind.Probe, body);
      }
    }
  }

  /** False in cluster mode: the cluster's count round hands the workers cluster-wide totals instead (src/cluster/box.ts). */
  localRoomCounts = true;

  admin(index: number): Comlink.Remote<WorkerAdmin> | null {
    return this.slots[index]?.admin ?? null;
  }

  liveWorkers(): number[] {
    return this.slots.filter((s) => s.state === 'ready').map((s) => s.index);
  }

  readyCount(): number {
    return this.slots.filter((s) => s.state === 'ready').length;
  }

  statuses(): WorkerStatus[] {
    const now = Date.now();
    return this.slots.map((slot) => readWorkerStatus(slot, this.statusWords, this.extensionStatus, now));
  }

  /**
   * Graceful stop: every worker stops accepting and delivers what is already in its mailbox and
   * push batches (twice: a push by mid crosses more than one worker), then tells its clients to
   * reconnect and lets their queues flush for up to `graceMs`; once every worker has drained, they
   * exit. A worker not drained supervisor.shutdownTimeoutMs after the grace time, or not gone that
   * long after its exit was asked, is terminated.
   */
  async stop(graceMs: number): Promise<{ forced: number }> {
    this.stopping = true;
    this.fds.closeAll();
    if (this.probeTimer !== null) clearInterval(this.probeTimer);
    if (this.countTimer !== null) clearInterval(this.countTimer);
    const deadline = graceMs + this.config.supervisor.shutdownTimeoutMs;
    const quiesce = (): Promise<unknown> =>
      Promise.race([
        Promise.all(this.slots.map((s) => (s.admin === null ? null : s.admin.quiesce().catch(() => 0)))),
        sleep(this.config.supervisor.shutdownTimeoutMs),
      ]);
    await quiesce();
    await Promise.race([this.system.settled(), sleep(this.config.supervisor.shutdownTimeoutMs)]);
    await quiesce();
    let forced = 0;
    const terminate = async (slot: Slot, worker: Worker, timeoutMs: number): Promise<void> => {
      forced++;
      this.log.warn({ worker: slot.index, timeoutMs }, 'worker did not stop in time: terminating it');
      await worker.terminate();
    };
    // Every worker drains; none exits before all have, because every worker serves the control
    // port, which must stay up (and say it is draining) until the drain is over.
    const drained = await Promise.all(
      this.slots.map(async (slot) => {
        const worker = slot.worker;
        if (worker === null) return null;
        slot.state = 'stopping';
        const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
        const clean = slot.admin!.drain(graceMs).then(
          (d) => {
            this.log.info({ worker: slot.index, ...d }, 'worker drained');
            return true;
          },
          () => false,
        );
        const ok = await Promise.race([clean, sleep(deadline).then(() => false)]);
        return { slot, worker, exited, ok };
      }),
    );
    await Promise.all(
      drained.map(async (d) => {
        if (d === null) return;
        if (!d.ok) return terminate(d.slot, d.worker, deadline);
        void d.slot.admin?.exit();
        const gone = await Promise.race([d.exited.then(() => true), sleep(this.config.supervisor.shutdownTimeoutMs).then(() => false)]);
        if (!gone) await terminate(d.slot, d.worker, this.config.supervisor.shutdownTimeoutMs);
      }),
    );
    this.system.stop();
    return { forced };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
