/**
 * GET /dashboard/stream: Server-Sent Events, one `hello` event when a stream opens, then one
 * snapshot (src/control/dashboard/stats.ts) a second as a plain `data:` event. One timer serves
 * every open stream of this control server and runs only while one is open; each snapshot is
 * fetched once a tick, encoded once and the same text written to every stream. On a worker the
 * snapshot comes from the acceptor (src/control/dashboard/remote.ts): one question a tick while
 * someone watches, none otherwise. A stream whose socket is backed up skips snapshots until it
 * catches up, so a stalled browser costs at most one buffer.
 */
import type http from 'node:http';
import type { Logger } from '../../logger.js';
import type { Snapshot } from './stats.js';

/**
 * Where the snapshots come from: started when the first stream opens (a new baseline for the
 * rates), sampled once a tick, stopped when the last one closes. StatsSampler reads them here;
 * RemoteSnapshots asks the acceptor.
 */
export interface SnapshotSource {
  start(): void;
  stop(): void;
  sample(now: number): Snapshot | Promise<Snapshot>;
}

/** A stream holding more unsent bytes than this gets no new snapshot (it is a second behind anyway). */
const MAX_BUFFERED_BYTES = 256 * 1024;

export class StreamHub {
  private readonly streams = new Set<http.ServerResponse>();
  private timer: NodeJS.Timeout | null = null;
  /** The latest snapshot's event text, for a stream that opens between two ticks. */
  private last = '';
  /** A snapshot is on its way (a slow acceptor: the next tick is skipped, questions never pile up). */
  private fetching = false;
  /** Bumped when the hub goes idle: a snapshot asked for before is not sent. */
  private generation = 0;

  constructor(
    private readonly sampler: SnapshotSource,
    private readonly headers: http.OutgoingHttpHeaders,
    private readonly intervalMs = 1000,
    private readonly log: Logger | null = null,
  ) {}

  /** Open streams. */
  get size(): number {
    return this.streams.size;
  }

  /** Whether the tick timer runs (only while a stream is open). */
  get ticking(): boolean {
    return this.timer !== null;
  }

  /** Starts a stream on `res`: headers, the hello event, the latest snapshot at once, then one a second. */
  open(res: http.ServerResponse, hello: unknown): void {
    res.writeHead(200, { ...this.headers, 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
    res.write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify(hello)}\n\n`);
    this.streams.add(res);
    res.on('close', () => this.remove(res));
    if (this.timer === null) {
      this.sampler.start();
      this.timer = setInterval(() => this.tick(), this.intervalMs);
      this.timer.unref();
      this.tick();
    } else if (this.last !== '') {
      res.write(this.last);
    }
  }

  /** Ends every stream (the control port closes). */
  closeAll(): void {
    for (const res of [...this.streams]) res.end();
    this.streams.clear();
    this.idle();
  }

  private remove(res: http.ServerResponse): void {
    if (this.streams.delete(res) && this.streams.size === 0) this.idle();
  }

  private idle(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
    this.last = '';
    this.generation++;
    this.sampler.stop();
  }

  private tick(): void {
    if (this.fetching) return;
    this.fetching = true;
    const generation = this.generation;
    Promise.resolve()
      .then(() => this.sampler.sample(Date.now()))
      .then(
        (snapshot) => {
          this.fetching = false;
          if (generation !== this.generation) return;
          this.last = `data: ${JSON.stringify(snapshot)}\n\n`;
          for (const res of this.streams) if (res.writableLength < MAX_BUFFERED_BYTES) res.write(this.last);
        },
        (err: unknown) => {
          // The next tick asks again; the streams keep their last figures meanwhile.
          this.fetching = false;
          this.log?.warn({ err }, 'dashboard: no snapshot this tick');
        },
      );
  }
}
