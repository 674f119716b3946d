/**
 * The Redis connection of reliable messaging in cluster mode: one node-redis client per thread,
 * every command bounded by a deadline, and every failure (Redis down, a deadline passed, an error
 * reply such as MISCONF when Redis cannot write its append-only file) turned into one typed error,
 * ImEngineUnavailable: the control API answers it with 503 naming the engine, op 111 with code 503
 * (retryable with the same client_msg_id). Nothing waits for Redis to come back: while it is down,
 * commands fail at once (no offline queue) and the client reconnects in the background.
 */
import { createClient, RESP_TYPES } from 'redis';
import { ImError } from '../im/requests.js';
import type { Script } from './im-scripts.js';
import { displayUrl } from './options.js';

/**
 * Redis did not answer (down, too slow, or refused the write): the outcome of a write is unknown.
 * Worded as the cluster engine's EngineUnavailable (src/cluster/engine.ts), and an ImError so that
 * op 111 carries its code.
 */
export class ImEngineUnavailable extends ImError {
  constructor(url: string, reason: string) {
    super(503, `cluster engine ${url} unavailable: ${reason}; retry with the same client_msg_id`);
  }
}

export type Reply = null | number | Buffer | string | Reply[];

const BUFFERS = { [RESP_TYPES.BLOB_STRING]: Buffer } as const;

interface Waiting {
  readonly at: number;
  readonly reject: (err: ImEngineUnavailable) => void;
}

export interface ImRedisOptions {
  url: string;
  /** Deadline of each command (ms), connecting included. */
  timeoutMs: number;
  /** Called with each connection error (logged by the caller, at most once per outage). */
  onError?: (err: Error) => void;
  /** Scripts to load each time the connection is (again) ready. */
  scripts?: readonly Script[];
  /** Called when the connection is (again) ready: a box re-reads what it may have missed. */
  onReady?: () => void;
}

export class ImRedis {
  private readonly client: ReturnType<typeof createClient>;
  private readonly where: string;
  private readonly opts: ImRedisOptions;
  /** The subscriber connection (pub/sub needs its own), made by the first subscribe. */
  private sub: ReturnType<typeof createClient> | null = null;
  private closed = false;
  private down = false;
  /**
   * Calls waiting for Redis, oldest first (a Set iterates in insertion order). One interval per
   * thread, running only while calls wait, fails those past the deadline: node-redis's own per-command
   * timeout costs a timer per command (it halved the append rate here).
   */
  private readonly waiting = new Set<Waiting>();
  private ticker: NodeJS.Timeout | null = null;

  constructor(opts: ImRedisOptions) {
    this.opts = opts;
    this.where = displayUrl(opts.url);
    this.client = createClient({
      url: opts.url,
      RESP: 2,
      disableOfflineQueue: true,
      socket: { connectTimeout: opts.timeoutMs, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000) },
    });
    this.client.on('error', (err: Error) => {
      if (!this.down) opts.onError?.(err);
      this.down = true;
    });
    this.client.on('ready', () => {
      this.down = false;
      // Loaded before the calls that follow (one connection answers in order): after a restart Redis's
      // script cache is empty, and a burst of calls would each fail with NOSCRIPT and send the source.
      for (const sc of opts.scripts ?? []) this.client.sendCommand(['SCRIPT', 'LOAD', sc.source]).catch(() => undefined);
      opts.onReady?.();
    });
    // The first connect may fail (Redis not up yet): commands fail fast until it succeeds.
    this.client.connect().catch(() => undefined);
  }

  get ready(): boolean {
    return this.client.isReady;
  }

  /** One command; its reply with bulk strings as Buffers when `buffers`, else as strings. */
  call(args: Array<string | Buffer>, buffers = false): Promise<Reply> {
    if (this.closed) return Promise.reject(new ImEngineUnavailable(this.where, 'the connection is closed'));
    return new Promise<Reply>((resolve, reject) => {
      const w: Waiting = { at: Date.now(), reject };
      this.waiting.add(w);
      if (this.ticker === null) this.ticker = setInterval(() => this.expire(), Math.max(10, this.opts.timeoutMs >> 2));
      this.client.sendCommand(args, buffers ? { typeMapping: BUFFERS } : undefined).then(
        (r) => {
          if (this.waiting.delete(w)) resolve(r as unknown as Reply);
        },
        (err: unknown) => {
          if (this.waiting.delete(w)) reject(new ImEngineUnavailable(this.where, (err as Error).message));
        },
      );
    });
  }

  private expire(): void {
    const limit = Date.now() - this.opts.timeoutMs;
    for (const w of this.waiting) {
      if (w.at > limit) return;
      this.waiting.delete(w);
      w.reject(new ImEngineUnavailable(this.where, `no answer within ${this.opts.timeoutMs} ms (cluster.commandTimeoutMs)`));
    }
    if (this.waiting.size === 0 && this.ticker !== null) {
      clearInterval(this.ticker);
      this.ticker = null;
    }
  }

  /** A script by its sha1, loaded again after a restart of Redis wiped its script cache. */
  async eval(s: Script, keys: string[], args: Array<string | Buffer>, buffers = false): Promise<Reply> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await this.call(['EVALSHA', s.sha1, ...tail], buffers);
    } catch (err) {
      if (!(err instanceof ImEngineUnavailable) || !err.message.includes('NOSCRIPT')) throw err;
      return this.call(['EVAL', s.source, ...tail], buffers);
    }
  }

  /**
   * Receives the messages of `channel` as bytes, from now until close. Its own connection: it
   * connects (waiting for Redis if it is down), and after an outage node-redis subscribes again
   * before it reports ready, when `onReady` runs (what was published meanwhile is lost).
   */
  async subscribe(channel: string, listener: (msg: Buffer) => void): Promise<void> {
    if (this.sub === null) {
      const sub = this.client.duplicate();
      sub.on('error', () => undefined); // the command connection reports the outage
      sub.on('ready', () => this.opts.onReady?.());
      this.sub = sub;
      await sub.connect();
    }
    await this.sub.subscribe(channel, listener, true);
  }

  /** What Redis promises for an acknowledged write: `appendonly` and `appendfsync` (null if CONFIG is refused). */
  async persistence(): Promise<{ appendonly: string; appendfsync: string } | null> {
    try {
      const r = (await this.call(['CONFIG', 'GET', 'append*'])) as string[];
      const m = new Map<string, string>();
      for (let i = 0; i + 1 < r.length; i += 2) m.set(String(r[i]), String(r[i + 1]));
      return { appendonly: m.get('appendonly') ?? '?', appendfsync: m.get('appendfsync') ?? '?' };
    } catch {
      return null;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ticker !== null) clearInterval(this.ticker);
    for (const w of this.waiting) w.reject(new ImEngineUnavailable(this.where, 'the connection is closed'));
    this.waiting.clear();
    if (this.sub !== null) this.sub.destroy();
    try {
      await this.client.close();
    } catch {
      this.client.destroy();
    }
  }
}
