/**
 * GET /dashboard/stream: Server-Sent Events, one `hello` event when a stream opens, then one
 * snapshot (src/control/dashboard/stats.ts) a second as a plain `data:` event. One timer serves
 * every open stream and runs only while one is open; each snapshot is encoded once and the same text
 * written to every stream. A stream whose socket is backed up skips snapshots until it catches up,
 * so a stalled browser costs at most one buffer.
 */
import type http from 'node:http';
import type { StatsSampler } from './stats.js';

/** A stream holding more unsent bytes than this gets no new snapshot (it is a second behind anyway). */
const MAX_BUFFERED_BYTES = 256 * 1024;

export class StreamHub {
  private readonly streams = new Set<http.ServerResponse>();
  private timer: NodeJS.Timeout | null = null;
  /** The latest snapshot's event text, for a stream that opens between two ticks. */
  private last = '';

  constructor(
    private readonly sampler: StatsSampler,
    private readonly headers: http.OutgoingHttpHeaders,
    private readonly intervalMs = 1000,
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
    if (this.timer === null) {
      this.sampler.start();
      this.last = this.encode();
      this.timer = setInterval(() => this.tick(), this.intervalMs);
      this.timer.unref();
    }
    res.write(this.last);
    this.streams.add(res);
    res.on('close', () => this.remove(res));
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
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.last = '';
    this.sampler.stop();
  }

  private encode(): string {
    return `data: ${JSON.stringify(this.sampler.sample(Date.now()))}\n\n`;
  }

  private tick(): void {
    this.last = this.encode();
    for (const res of this.streams) if (res.writableLength < MAX_BUFFERED_BYTES) res.write(this.last);
  }
}
