/**
 * The Redis connection of reliable messaging in cluster mode: one node-redis client per thread,
 * every command bounded by a deadline, and every failure (Redis down, a deadline passed, an error
 * reply such as MISCONF when Redis cannot write its append-only file) turned into one typed error,
 * ImEngineUnavailable: the control API answers it with 503 naming the engine, op 111 with code 503
 * (retryable with the same client_msg_id). Nothing waits for Redis to come back: while it is down,
 * commands fail at once (no offline queue) and the client reconnects in the background.
 */
import type { RedisClientType } from 'redis';
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

/** Bulk strings as Buffers (RESP_TYPES.BLOB_STRING of node-redis is 36; not imported: see `load`). */
const BUFFERS = { 36: Buffer } as const;

/** A RESP2 client with no modules, functions or scripts registered. */
type Client = RedisClientType<{}, {}, {}, 2, {}>;

interface Waiting {
  /** When it was sent (0: not yet). */
  at: number;
  readonly args: Array<string | Buffer>;
  readonly buffers: boolean;
  readonly resolve: (r: Reply) => void;
  readonly reject: (err: ImEngineUnavailable) => void;
}

/** Commands sent and not answered, per connection, at most (a pipeline this deep keeps Redis busy). */
const MAX_IN_FLIGHT = 512;

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
  /** Null until node-redis is loaded (a few ms after the constructor): calls fail meanwhile. */
  private client: Client | null = null;
  private readonly where: string;
  private readonly opts: ImRedisOptions;
  /** The subscriber connection (pub/sub needs its own), made by the first subscribe. */
  private sub: Client | null = null;
  private readonly loaded: Promise<Client>;
  private closed = false;
  private down = false;
  /**
   * Calls waiting for Redis, oldest first (a Set iterates in insertion order). One interval per
   * thread, running only while calls wait, fails those past the deadline: node-redis's own per-command
   * timeout costs a timer per command (it halved the append rate here).
   */
  private readonly waiting = new Set<Waiting>();
  /** Calls not sent yet (past MAX_IN_FLIGHT), from `queuedHead` on. */
  private queued: Waiting[] = [];
  private queuedHead = 0;
  private ticker: NodeJS.Timeout | null = null;

  constructor(opts: ImRedisOptions) {
    this.opts = opts;
    this.where = displayUrl(opts.url);
    this.loaded = this.load(opts);
    this.loaded.catch((err: unknown) => opts.onError?.(err as Error));
  }

  /**
   * node-redis is imported here, not at the top: this module is part of every thread's graph, and on
   * one box (no cluster.redisUrl) no Redis code is loaded.
   */
  private async load(opts: ImRedisOptions): Promise<Client> {
    const { createClient: create } = await import('redis');
    const client = create({
      url: opts.url,
      RESP: 2,
      disableOfflineQueue: true,
      socket: { connectTimeout: opts.timeoutMs, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000) },
    });
    client.on('error', (err: Error) => {
      if (!this.down) opts.onError?.(err);
      this.down = true;
    });
    client.on('ready', () => {
      this.down = false;
      // Loaded before the calls that follow (one connection answers in order): after a restart Redis's
      // script cache is empty, and a burst of calls would each fail with NOSCRIPT and send the source.
      for (const sc of opts.scripts ?? []) client.sendCommand(['SCRIPT', 'LOAD', sc.source]).catch(() => undefined);
      opts.onReady?.();
    });
    this.client = client;
    if (this.closed) return client;
    // The first connect may fail (Redis not up yet): commands fail fast until it succeeds.
    client.connect().catch(() => undefined);
    return client;
  }

  get ready(): boolean {
    return this.client?.isReady === true;
  }

  /**
   * One command; its reply with bulk strings as Buffers when `buffers`, else as strings. At most
   * MAX_IN_FLIGHT commands are sent at once (the rest wait here, in order): the deadline measures
   * Redis, not a backlog of this thread's own, and a burst (a send to 10,000 users) cannot make every
   * command of a pipeline miss its deadline at once.
   */
  call(args: Array<string | Buffer>, buffers = false): Promise<Reply> {
    if (this.closed) return Promise.reject(new ImEngineUnavailable(this.where, 'the connection is closed'));
    if (this.client === null) return Promise.reject(new ImEngineUnavailable(this.where, 'not connected yet'));
    return new Promise<Reply>((resolve, reject) => {
      const w: Waiting = { at: 0, args, buffers, resolve, reject };
      if (this.waiting.size < MAX_IN_FLIGHT) this.issue(w);
      else this.queued.push(w);
    });
  }

  private issue(w: Waiting): void {
    w.at = Date.now();
    this.waiting.add(w);
    if (this.ticker === null) this.ticker = setInterval(() => this.expire(), Math.max(10, this.opts.timeoutMs >> 2));
    this.client!.sendCommand(w.args, w.buffers ? { typeMapping: BUFFERS } : undefined).then(
      (r) => this.settle(w, null, r as unknown as Reply),
      (err: unknown) => this.settle(w, new ImEngineUnavailable(this.where, (err as Error).message), null),
    );
  }

  private settle(w: Waiting, err: ImEngineUnavailable | null, r: Reply): void {
    if (!this.waiting.delete(w)) return; // past its deadline already
    if (err === null) w.resolve(r);
    else w.reject(err);
    if (this.queued.length > this.queuedHead) this.next();
  }

  private next(): void {
    while (this.waiting.size < MAX_IN_FLIGHT && this.queuedHead < this.queued.length) {
      const w = this.queued[this.queuedHead]!;
      this.queued[this.queuedHead++] = undefined as unknown as Waiting;
      this.issue(w);
    }
    if (this.queuedHead === this.queued.length) {
      this.queued.length = 0;
      this.queuedHead = 0;
    }
  }

  private expire(): void {
    const limit = Date.now() - this.opts.timeoutMs;
    let expired = false;
    for (const w of this.waiting) {
      if (w.at > limit) break;
      this.waiting.delete(w);
      expired = true;
      w.reject(new ImEngineUnavailable(this.where, `no answer within ${this.opts.timeoutMs} ms (cluster.commandTimeoutMs)`));
    }
    // Redis is not answering: what waits behind the expired commands would only expire in turn.
    if (expired) {
      for (let i = this.queuedHead; i < this.queued.length; i++) this.queued[i]!.reject(new ImEngineUnavailable(this.where, `no answer within ${this.opts.timeoutMs} ms (cluster.commandTimeoutMs)`));
      this.queued.length = 0;
      this.queuedHead = 0;
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
      const sub = (await this.loaded).duplicate();
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
    for (const w of [...this.waiting, ...this.queued.slice(this.queuedHead)]) w.reject(new ImEngineUnavailable(this.where, 'the connection is closed'));
    this.waiting.clear();
    this.queued = [];
    if (this.sub !== null) this.sub.destroy();
    const client = this.client;
    if (client === null) return;
    try {
      await client.close();
    } catch {
      client.destroy();
    }
  }
}
