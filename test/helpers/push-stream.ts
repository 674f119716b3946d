/**
 * A client of the streaming push API (`/push/stream`, docs/control-api.md) for the tests and the
 * benchmarks: one WebSocket, pushes pipelined with ids, one promise per push. The pushes issued in
 * one turn of the event loop go out in one WebSocket message.
 */
import { WebSocket } from 'ws';
import { decodeStreamAnswers, encodeStreamRequest, type StreamAnswer, type StreamPush } from '../../src/control/stream-codec.js';

/** A push the server refused: the HTTP status and message an HTTP push would get. */
export class StreamRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The upgrade was refused: the HTTP answer. */
export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: any,
    readonly headers: Record<string, string | string[] | undefined>,
  ) {
    super(`upgrade refused: ${status} ${JSON.stringify(body)}`);
  }
}

interface Waiting {
  resolve: (r: { connections: number }) => void;
  reject: (err: StreamRefused) => void;
}

export class PushStreamClient {
  /** The worker that took the connection (x-ringcast-worker; -1 without test commands). */
  worker = -1;
  /** Every answer received, in order (also those of raw requests). */
  readonly answers: StreamAnswer[] = [];
  /** Resolves with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly ws: WebSocket;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private queued: Uint8Array[] = [];
  private queuedBytes = 0;
  private flushScheduled = false;
  private onAnswer: ((a: StreamAnswer) => void) | null = null;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer) => {
      for (const a of decodeStreamAnswers(data)) {
        this.answers.push(a);
        this.onAnswer?.(a);
        const w = this.waiting.get(a.id);
        if (w === undefined) continue;
        this.waiting.delete(a.id);
        if (a.status === 0) w.resolve({ connections: a.connections });
        else w.reject(new StreamRefused(a.status, a.message));
      }
    });
    this.closed = new Promise((resolve) => ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
    ws.on('error', () => undefined);
  }

  static connect(port: number, opts: { token?: string; host?: string } = {}): Promise<PushStreamClient> {
    const headers: Record<string, string> = opts.token !== undefined ? { authorization: `Bearer ${opts.token}` } : {};
    const ws = new WebSocket(`ws://${opts.host ?? '127.0.0.1'}:${port}/push/stream`, { headers, perMessageDeflate: false });
    return new Promise((resolve, reject) => {
      let worker = -1;
      ws.once('upgrade', (res) => {
        const w = Number(res.headers['x-ringcast-worker']);
        if (Number.isInteger(w)) worker = w;
      });
      ws.once('open', () => {
        const c = new PushStreamClient(ws);
        c.worker = worker;
        resolve(c);
      });
      ws.once('unexpected-response', (_req, res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON: kept as text
          }
          reject(new UpgradeRefused(res.statusCode ?? 0, body, res.headers));
        });
      });
      ws.once('error', reject);
    });
  }

  /** Pushes; resolves with the connections it was queued to, rejects with StreamRefused. */
  push(p: StreamPush): Promise<{ connections: number }> {
    const id = this.nextId++ >>> 0;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.enqueue(encodeStreamRequest(id, p));
    });
  }

  /** Calls `fn` for every answer as it arrives (the benchmarks count them without a promise each). */
  listen(fn: (a: StreamAnswer) => void): void {
    this.onAnswer = fn;
  }

  /** Sends a request with a given id and no promise (its answer lands in `answers` and the listener). */
  pushWithId(id: number, p: StreamPush): void {
    this.enqueue(encodeStreamRequest(id, p));
  }

  /** Sends bytes as one binary message, at once (malformed requests, several requests in one message). */
  sendRaw(bytes: Uint8Array | string): void {
    this.ws.send(bytes, { binary: typeof bytes !== 'string' });
  }

  /** Pushes not yet answered. */
  get pending(): number {
    return this.waiting.size;
  }

  close(): void {
    this.ws.close();
  }

  private enqueue(bytes: Uint8Array): void {
    this.queued.push(bytes);
    this.queuedBytes += bytes.length;
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      const msg = this.queued.length === 1 ? this.queued[0]! : Buffer.concat(this.queued, this.queuedBytes);
      this.queued = [];
      this.queuedBytes = 0;
      this.ws.send(msg);
    });
  }
}
