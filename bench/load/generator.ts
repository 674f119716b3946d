/**
 * Load generator, parent side: forks client processes (each ≤ MAX_PER_CHILD sockets, so the
 * per-process fd limit holds), hands each its share of connections and aggregates their reports.
 */
import { ChildProcess, fork } from 'node:child_process';
import { Histogram } from '../../test/helpers/load.js';
import { track } from './servers.js';
import { ConnectReport, DeliveryCounts, FinalReport, FromClient, ToClient, Transport } from './common.js';

export const MAX_PER_CHILD = 9000;

export interface GeneratorOptions {
  kind: Transport;
  host: string;
  port: number;
  path: string;
  connections: number;
  rooms: number;
  keyPrefix: string;
  heartbeatMs: number;
  connectConcurrency: number;
  /** At least this many processes (spreads the client work over the cores). */
  minChildren: number;
}

export interface ConnectResult {
  ok: number;
  errors: number;
  /** From the earliest 'go' to the last authentication, ms. */
  ms: number;
  errorSamples: string[];
}

export interface FinalResult extends DeliveryCounts {
  hist: Histogram;
}

interface Child {
  proc: ChildProcess;
  first: number;
  count: number;
  progress: { delivered: number; open: number; dropped: number };
  exited: Promise<void>;
}

export class Generator {
  readonly children: Child[] = [];
  private readonly waiters = new Map<string, ((msg: FromClient, child: Child) => void)[]>();
  private failure: Error | null = null;

  private constructor(readonly opts: GeneratorOptions) {}

  static async start(opts: GeneratorOptions): Promise<Generator> {
    const g = new Generator(opts);
    const n = Math.max(opts.minChildren, Math.ceil(opts.connections / MAX_PER_CHILD));
    const per = Math.ceil(opts.connections / n);
    const ready: Promise<void>[] = [];
    for (let c = 0, first = 0; c < n; c++, first += per) {
      const count = Math.max(0, Math.min(per, opts.connections - first));
      const proc = fork(new URL('./client.js', import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
      track(proc);
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      const child: Child = { proc, first, count, progress: { delivered: 0, open: 0, dropped: 0 }, exited };
      g.children.push(child);
      proc.on('message', (msg: FromClient) => g.onMessage(child, msg));
      proc.once('exit', (code, sig) => {
        if (g.failure === null && code !== 0) g.fail(new Error(`load client process exited (code ${code}, signal ${sig})`));
      });
      ready.push(g.once('ready', child).then(() => undefined));
      const init: ToClient = {
        type: 'init',
        kind: opts.kind,
        host: opts.host,
        port: opts.port,
        path: opts.path,
        firstIndex: first,
        count,
        rooms: opts.rooms,
        keyPrefix: opts.keyPrefix,
        heartbeatMs: opts.heartbeatMs,
        connectConcurrency: opts.connectConcurrency,
      };
      proc.send(init);
    }
    await Promise.all(ready);
    return g;
  }

  private onMessage(child: Child, msg: FromClient): void {
    if (msg.type === 'progress') {
      child.progress = { delivered: msg.delivered, open: msg.open, dropped: msg.dropped };
      return;
    }
    const key = `${msg.type}:${this.children.indexOf(child)}`;
    const list = this.waiters.get(key);
    const w = list?.shift();
    if (w !== undefined) w(msg, child);
  }

  private fail(err: Error): void {
    this.failure = err;
    for (const list of this.waiters.values()) for (const w of list) w({ type: 'ready' }, this.children[0]!);
    this.waiters.clear();
  }

  private once<T extends FromClient>(type: T['type'], child: Child): Promise<T> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const key = `${type}:${this.children.indexOf(child)}`;
    return new Promise<T>((resolve, reject) => {
      const list = this.waiters.get(key) ?? [];
      list.push((msg) => (this.failure !== null ? reject(this.failure) : resolve(msg as T)));
      this.waiters.set(key, list);
    });
  }

  private sendAll(msg: ToClient): void {
    for (const c of this.children) if (c.proc.connected) c.proc.send(msg);
  }

  /** Every process opens and authenticates its connections; resolves when all have settled. */
  async connect(): Promise<ConnectResult> {
    const reports = this.children.map((c) => this.once<ConnectReport>('connected', c));
    this.sendAll({ type: 'go' });
    const rs = await Promise.all(reports);
    const go = Math.min(...rs.map((r) => r.goMs));
    const last = Math.max(...rs.map((r) => r.lastAuthMs));
    return {
      ok: rs.reduce((a, r) => a + r.ok, 0),
      errors: rs.reduce((a, r) => a + r.errors, 0),
      ms: last - go,
      errorSamples: rs.flatMap((r) => r.errorSamples).slice(0, 5),
    };
  }

  /** Latency is recorded only for messages sent within [fromMs, toMs). */
  measure(fromMs: number, toMs: number): void {
    this.sendAll({ type: 'measure', fromMs, toMs });
  }

  private markId = 0;
  /** Deliveries counted so far by every process (a consistent-enough cut: one IPC round trip). */
  async mark(): Promise<number> {
    const id = ++this.markId;
    const ps = this.children.map((c) => this.once<{ type: 'mark'; id: number; delivered: number }>('mark', c));
    this.sendAll({ type: 'mark', id });
    const rs = await Promise.all(ps);
    return rs.reduce((a, r) => a + r.delivered, 0);
  }

  progress(): { delivered: number; open: number; dropped: number } {
    const p = { delivered: 0, open: 0, dropped: 0 };
    for (const c of this.children) {
      p.delivered += c.progress.delivered;
      p.open += c.progress.open;
      p.dropped += c.progress.dropped;
    }
    return p;
  }

  /** Final counts; `keyExpected` is indexed by global connection index. */
  async finish(roomExpected: Record<string, number> | null, keyExpected: Uint32Array | null): Promise<FinalResult> {
    const ps = this.children.map((c) => {
      const p = this.once<FinalReport>('final', c);
      c.proc.send({ type: 'finish', roomExpected, keyExpected: keyExpected === null ? null : Array.from(keyExpected.subarray(c.first, c.first + c.count)) });
      return p;
    });
    const rs = await Promise.all(ps);
    const hist = new Histogram();
    const out: FinalResult = { delivered: 0, unique: 0, duplicates: 0, missing: 0, connsMissing: 0, outOfOrder: 0, dropped: 0, malformed: 0, hist };
    for (const r of rs) {
      out.delivered += r.delivered;
      out.unique += r.unique;
      out.duplicates += r.duplicates;
      out.missing += r.missing;
      out.connsMissing += r.connsMissing;
      out.outOfOrder += r.outOfOrder;
      out.dropped += r.dropped;
      out.malformed += r.malformed;
      hist.merge(r.hist, r.histMax, r.histSum);
    }
    return out;
  }

  /** Closes every connection and waits for each process to exit (killed after 5 s). */
  async stop(): Promise<void> {
    this.failure ??= new Error('generator stopped');
    for (const c of this.children) {
      if (c.proc.exitCode === null && c.proc.signalCode === null) {
        if (c.proc.connected) c.proc.send({ type: 'stop' });
        else c.proc.kill('SIGTERM');
      }
    }
    await Promise.all(
      this.children.map(async (c) => {
        let t: NodeJS.Timeout | undefined;
        const timeout = new Promise<'t'>((r) => (t = setTimeout(() => r('t'), 5000)));
        if ((await Promise.race([c.exited, timeout])) === 't') {
          c.proc.kill('SIGKILL');
          await c.exited;
        }
        clearTimeout(t);
      }),
    );
  }
}
