/**
 * The two Redis connections of one engine (commands, and the subscriber pub/sub needs to itself),
 * the engine's state, the deadline on every call, and the probe of the pub/sub path.
 *
 * - Commands are auto-pipelined by node-redis: every command issued in the same event-loop turn
 *   goes out in one write. The offline queue is off, so a call while Redis is unreachable rejects
 *   at once, and every command carries `commandTimeoutMs`: no call waits longer.
 * - node-redis reconnects by itself and resubscribes every channel whose subscription Redis had
 *   confirmed; `onReconnected` lets the owner restore the ones that were refused while down.
 * - State is `up` only once a probe published on the command connection came back on the
 *   subscriber (after Centrifugo's issue #1189: connections that look healthy and deliver nothing).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createClient, RESP_TYPES } from 'redis';
import { EngineUnavailable, type EngineState, type EngineStateEvent, type ProbeResult } from './engine.js';
import type { EngineOptions } from './engine.js';
import { Deadlines } from './deadlines.js';
import { displayUrl } from './options.js';

/** A node-redis client whose bulk strings come back as Buffers (bodies are bytes) and maps as flat arrays (as the scripts return them). */
export type BufferClient = ReturnType<typeof makeClient>;

function makeClient(url: string, opts: EngineOptions, name: string) {
  return createClient({
    url,
    name,
    disableOfflineQueue: true,
    commandOptions: { timeout: opts.commandTimeoutMs },
    socket: {
      connectTimeout: opts.commandTimeoutMs,
      // Back off fast (an outage of Redis is what the cluster tests restart under load): 50 ms doubling, at most 1 s, jittered.
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 5), 1000) * (0.5 + Math.random() / 2),
    },
  }).withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer, [RESP_TYPES.MAP]: Array });
}

export type MessageListener = (message: Buffer, channel: Buffer) => void;

interface PendingProbe {
  token: string;
  sentAt: number;
  waiters: Array<(r: ProbeResult) => void>;
  timer: NodeJS.Timeout;
}

export class RedisLink {
  readonly url: string;
  readonly cmd: BufferClient;
  readonly sub: BufferClient;
  private current: EngineState = 'connecting';
  private reason = 'not connected yet';
  private readonly stateListeners = new Set<(ev: EngineStateEvent) => void>();
  private readonly reconnectListeners = new Set<() => void>();
  private probeTimer: NodeJS.Timeout | null = null;
  private pending: PendingProbe | null = null;
  private probeSeq = 0;
  private readonly probeChannel: string;
  private readonly probeId = randomBytes(6).toString('hex');
  private closed = false;
  /** Each client has been ready since its last error: both must be for `up`. */
  private cmdReady = false;
  private subReady = false;
  private readonly deadlines: Deadlines;
  lastProbeMs: number | null = null;
  errors = 0;
  commands = 0;
  published = 0;
  received = 0;

  constructor(
    readonly opts: EngineOptions,
    probeChannel: string,
    private readonly onError: (err: unknown) => void = () => {},
  ) {
    this.url = displayUrl(opts.url);
    this.deadlines = new Deadlines(opts.commandTimeoutMs, () => {
      this.errors++;
      return new EngineUnavailable(this.url, `no answer within ${opts.commandTimeoutMs} ms (cluster.commandTimeoutMs)`);
    });
    this.probeChannel = probeChannel;
    this.cmd = makeClient(opts.url, opts, `ringcast:${opts.nodeId}:${opts.role}`);
    this.sub = makeClient(opts.url, opts, `ringcast:${opts.nodeId}:${opts.role}:sub`);
    for (const [client, which] of [[this.cmd, 'cmd'], [this.sub, 'sub']] as const) {
      client.on('error', (err: unknown) => {
        this.errors++;
        this.onError(err);
        this.setReady(which, false, err instanceof Error ? err.message : String(err));
      });
      client.on('end', () => this.setReady(which, false, 'connection closed'));
      client.on('ready', () => this.setReady(which, true, ''));
    }
  }

  get state(): EngineState {
    return this.current;
  }

  get why(): string {
    return this.reason;
  }

  onState(listener: (ev: EngineStateEvent) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Called once both connections are back after an outage, before the probe says `up`. */
  onReconnected(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  private setState(state: EngineState, reason: string): void {
    if (state === this.current && reason === this.reason) return;
    const previous = this.current;
    this.current = state;
    this.reason = reason;
    if (state === previous) return;
    const ev = Object.freeze({ state, previous, reason });
    for (const l of this.stateListeners) {
      try {
        l(ev);
      } catch (err) {
        this.onError(err);
      }
    }
  }

  private setReady(which: 'cmd' | 'sub', ready: boolean, reason: string): void {
    if (this.closed) return;
    const wasBoth = this.cmdReady && this.subReady;
    if (which === 'cmd') this.cmdReady = ready;
    else this.subReady = ready;
    const both = this.cmdReady && this.subReady;
    if (!ready) {
      this.setState(this.current === 'connecting' ? 'connecting' : 'down', reason);
      return;
    }
    if (both && !wasBoth) {
      for (const l of this.reconnectListeners) {
        try {
          l();
        } catch (err) {
          this.onError(err);
        }
      }
      // `up` once our own publish comes back (node-redis resubscribes what Redis had confirmed; the
      // probe channel too, unless the first connect never got that far).
      this.subscribeProbe().then(
        () => void this.probe(),
        (err: unknown) => this.onError(err),
      );
    }
  }

  async connect(): Promise<void> {
    const deadline = Math.max(this.opts.commandTimeoutMs * 5, 2000);
    // Probing runs from now on, even if this first connect fails: the clients keep reconnecting and
    // the engine becomes up by itself once a probe comes back.
    if (this.opts.probeIntervalMs > 0 && this.probeTimer === null) {
      this.probeTimer = setInterval(() => void this.probe(), this.opts.probeIntervalMs);
      this.probeTimer.unref();
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new EngineUnavailable(this.url, `not reachable within ${deadline} ms`)), deadline);
    });
    try {
      await Promise.race([Promise.all([this.cmd.connect(), this.sub.connect()]), timeout]);
      await Promise.race([this.subscribeProbe(), timeout]);
      // A probe sent before the subscription was confirmed may be lost: probe until one comes back.
      for (;;) {
        const r = await Promise.race([this.probe(), timeout]);
        if (r.latencyMs !== null) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } catch (err) {
      throw err instanceof EngineUnavailable ? err : new EngineUnavailable(this.url, errText(err));
    } finally {
      clearTimeout(timer);
    }
  }

  private readonly onProbeMessage = (m: Buffer): void => this.onProbe(m);

  private subscribeProbe(): Promise<void> {
    return this.sub.sSubscribe(this.probeChannel, this.onProbeMessage, true);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.settleProbe(null);
    this.deadlines.failAll(new EngineUnavailable(this.url, 'engine closed'));
    for (const c of [this.cmd, this.sub]) {
      try {
        if (c.isOpen) c.destroy();
      } catch {
        // already closed
      }
    }
    this.setState('down', 'closed');
  }

  /** Whether calls can go out now (pub/sub calls also need the probe to have come back). */
  usable(pubsub: boolean): boolean {
    if (this.closed || !this.cmdReady) return false;
    if (!pubsub) return true;
    return this.current === 'up';
  }

  /** Run one engine call under the rules: refused at once when not usable, any failure is EngineUnavailable. */
  async call<T>(fn: () => Promise<T>, pubsub = false): Promise<T> {
    if (!this.usable(pubsub)) throw new EngineUnavailable(this.url, this.closed ? 'engine closed' : this.reason || this.current);
    try {
      this.commands++;
      return await this.deadlines.run(fn);
    } catch (err) {
      if (err instanceof EngineUnavailable) throw err;
      this.errors++;
      throw new EngineUnavailable(this.url, errText(err));
    }
  }

  /** Publish our own probe and wait for it on the subscriber, at most probeTimeoutMs. One at a time: a call meanwhile shares it. */
  probe(): Promise<ProbeResult> {
    return new Promise((resolve) => {
      if (this.pending) {
        this.pending.waiters.push(resolve);
        return;
      }
      if (this.closed || !this.cmdReady || !this.subReady) {
        resolve({ latencyMs: null, state: this.current });
        return;
      }
      const token = `${this.probeId}:${++this.probeSeq}`;
      const timer = setTimeout(() => {
        if (this.pending?.token !== token) return;
        this.lastProbeMs = null;
        if (this.cmdReady && this.subReady) this.setState('stale', `probe not back within ${this.opts.probeTimeoutMs} ms`);
        this.settleProbe(null);
      }, this.opts.probeTimeoutMs);
      this.pending = { token, sentAt: performance.now(), waiters: [resolve], timer };
      this.cmd.sPublish(this.probeChannel, token).catch((err: unknown) => {
        this.errors++;
        if (this.pending?.token !== token) return;
        this.setState(this.cmdReady ? 'stale' : 'down', `probe publish failed: ${errText(err)}`);
        this.settleProbe(null);
      });
    });
  }

  private settleProbe(latencyMs: number | null): void {
    const p = this.pending;
    if (!p) return;
    clearTimeout(p.timer);
    this.pending = null;
    const r = { latencyMs, state: this.current };
    for (const w of p.waiters) w(r);
  }

  private onProbe(message: Buffer): void {
    const p = this.pending;
    if (!p || message.toString('latin1') !== p.token) return;
    const ms = performance.now() - p.sentAt;
    this.lastProbeMs = ms;
    if (this.cmdReady && this.subReady) this.setState('up', '');
    this.settleProbe(ms);
  }
}

export function errText(err: unknown): string {
  return err instanceof Error ? err.message || err.name : String(err);
}

/** EVALSHA with a fallback to EVAL when Redis does not know the script (after a restart). */
export class Script {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: BufferClient, keys: readonly string[], args: readonly (string | Buffer)[]): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await client.sendCommand(['EVALSHA', this.sha, ...tail]);
    } catch (err) {
      if (!errText(err).startsWith('NOSCRIPT')) throw err;
      return client.sendCommand(['EVAL', this.source, ...tail]);
    }
  }
}
