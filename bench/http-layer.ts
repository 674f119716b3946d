/**
 * Scenario `http-layer`: which HTTP layer should serve the control API — plain node:http (what
 * src/control/http.ts uses) or fastify 5? Measured in one run, side by side:
 *   - two servers, each in its own child process (so the load generator does not share their
 *     thread): node:http with a handler shaped like ringcast's POST /goim/push/keys (routes map,
 *     method check, querystring parse, operation int32 check, repeated/comma `keys`, raw body read
 *     up to a limit, `{"code":0,"message":"","data":{"connections":1}}`), and the same handler on
 *     fastify 5 (a catch-all raw-body content-type parser, fastify's own query parser and reply).
 *     Both run the identical `pushKeys` below; only the HTTP layer differs.
 *   - one closed-loop load generator in this process: a node:http keep-alive Agent, N concurrent
 *     connections, each sending its next request as soon as the previous answer has arrived:
 *     POST /goim/push/keys?operation=1000&keys=k1&keys=k2 with a 100-byte body.
 *   - one server at a time, alternating A B A B after an unrecorded priming run against each; each
 *     run has a warm-up and then a measured window.
 *     Per server: requests/s, p50/p99 latency (all requests of both its runs) and the server
 *     process's CPU time per request from /proc/<pid>/stat (utime + stime, in clock ticks).
 *
 * On a 2-core machine the load generator (node:http's client is costlier than its server) may be
 * the bottleneck, so requests/s can come out close; CPU per request is the figure that compares
 * the layers. The load generator's own CPU use is printed so this can be judged.
 *
 * Usage: npm run bench -- http-layer [--seconds N] [--warmup N] [--connections N] [--quick]
 *
 * The module is also the servers' entry point: `node dist/bench/http-layer.js plain|fastify`
 * (started by the scenario through child_process.fork; it is not meant to be run by hand).
 */
import { ChildProcess, execFileSync, fork } from 'node:child_process';
import { HttpError, operation, requiredList, type Query } from '../src/control/goim-api.js';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import querystring from 'node:querystring';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Cell, formatNumber, parseBenchArgs, printTable, quantile, writeResult } from './report.js';

const SCENARIO = 'http-layer';
const HOST = '127.0.0.1';
const PUSH_PATH = '/goim/push/keys';
const REQUEST_PATH = `${PUSH_PATH}?operation=1000&keys=k1&keys=k2`;
const BODY_BYTES = 100;
const MAX_BODY_BYTES = 1_048_576; // ringcast's DEFAULT_MAX_BODY_BYTES
const JSON_TYPE = 'application/json; charset=utf-8';
const EXPECTED_REPLY = '{"code":0,"message":"","data":{"connections":1}}';
const REQUEST_TIMEOUT_MS = 10_000;

type ServerKind = 'plain' | 'fastify';
const KINDS: readonly ServerKind[] = ['plain', 'fastify'];
const LABEL: Record<ServerKind, string> = { plain: 'node:http', fastify: 'fastify' };

// =============================================================================================
// Server side (child processes)

// The push route's parameter handling is ringcast's own (src/control/goim-api.ts), so both
// layers run the real validation code.
interface ServerStats {
  connections: number;
  requests: number;
  bodyBytes: number;
}

const stats: ServerStats = { connections: 0, requests: 0, bodyBytes: 0 };

/** The route's work, identical for both layers: validate, "push", answer the connection count. */
async function pushKeys(q: Query, body: Buffer): Promise<{ connections: number }> {
  const op = operation(q);
  const keys = requiredList(q, 'keys');
  stats.requests++;
  stats.bodyBytes += body.length;
  return { connections: op === 1000 && keys.length > 0 ? 1 : 0 };
}

// --- plain node:http, shaped like src/control/http.ts ------------------------------------------

const EMPTY_BODY = Buffer.alloc(0);
const EMPTY_QUERY: Query = Object.freeze(Object.create(null) as Query);

interface PlainRoute {
  methods: readonly string[];
  handle(q: Query, body: Buffer): Promise<unknown>;
}

const PLAIN_ROUTES = new Map<string, PlainRoute>([[PUSH_PATH, { methods: ['POST'], handle: pushKeys }]]);

class PlainRequest extends http.IncomingMessage {
  rcRes: http.ServerResponse | null = null;
  rcRoute: PlainRoute | null = null;
  rcQuery: Query = EMPTY_QUERY;
  rcChunks: Buffer[] = [];
  rcSize = 0;
  rcDone = false;
}

function plainReply(req: PlainRequest, status: number, text: string, close: boolean): void {
  const res = req.rcRes!;
  if (req.rcDone || res.headersSent) return;
  req.rcDone = true;
  const headers: http.OutgoingHttpHeaders = { 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(text) };
  if (close) headers['Connection'] = 'close';
  res.writeHead(status, headers);
  res.end(text);
}

function plainFail(req: PlainRequest, status: number, message: string, close = false): void {
  plainReply(req, status, JSON.stringify({ code: -status, message }), close);
}

function plainHasBody(req: http.IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  return (cl !== undefined && cl !== '0') || req.headers['transfer-encoding'] !== undefined;
}

function plainStart(req: PlainRequest, res: http.ServerResponse): void {
  req.rcRes = res;
  const url = req.url ?? '/';
  const qi = url.indexOf('?');
  const path = qi < 0 ? url : url.slice(0, qi);
  const route = PLAIN_ROUTES.get(path);
  if (route === undefined) {
    plainFail(req, 404, `unknown route ${path}`, plainHasBody(req));
    return;
  }
  req.rcRoute = route;
  if (!route.methods.includes(req.method ?? 'GET')) {
    plainFail(req, 405, `${path} takes ${route.methods.join(' or ')}, not ${req.method}`, plainHasBody(req));
    return;
  }
  if (qi >= 0) req.rcQuery = querystring.parse(url.slice(qi + 1), '&', '=', { maxKeys: 0 }) as Query;
  const cl = req.headers['content-length'];
  if (cl !== undefined && Number(cl) > MAX_BODY_BYTES) {
    plainFail(req, 413, `body of ${cl} bytes is over the limit of ${MAX_BODY_BYTES} bytes`, true);
    return;
  }
  req.on('data', plainOnData);
  req.on('end', plainOnEnd);
  req.on('error', plainOnError);
}

function plainOnData(this: PlainRequest, chunk: Buffer): void {
  if (this.rcDone) return;
  this.rcSize += chunk.length;
  if (this.rcSize > MAX_BODY_BYTES) {
    this.rcChunks = [];
    this.pause();
    plainFail(this, 413, `body is over the limit of ${MAX_BODY_BYTES} bytes`, true);
    return;
  }
  this.rcChunks.push(chunk);
}

function plainOnEnd(this: PlainRequest): void {
  if (this.rcDone) return;
  const chunks = this.rcChunks;
  const body = chunks.length === 0 ? EMPTY_BODY : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.rcSize);
  this.rcChunks = [];
  void plainRun(this, body);
}

function plainOnError(this: PlainRequest): void {
  this.rcDone = true;
}

async function plainRun(req: PlainRequest, body: Buffer): Promise<void> {
  try {
    const data = await req.rcRoute!.handle(req.rcQuery, body);
    plainReply(req, 200, JSON.stringify({ code: 0, message: '', data }), false);
  } catch (err) {
    if (err instanceof HttpError) plainFail(req, err.status, err.message);
    else plainFail(req, 500, 'internal error');
  }
}

async function startPlain(): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer<typeof PlainRequest>({ IncomingMessage: PlainRequest }, plainStart);
  server.on('connection', () => stats.connections++);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// --- fastify 5 ---------------------------------------------------------------------------------

async function startFastify(): Promise<{ port: number; close(): Promise<void> }> {
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false, bodyLimit: MAX_BODY_BYTES });
  // The body stays raw, whatever its content type (push payloads are opaque bytes).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_BODY_BYTES }, (_req, body, done) => done(null, body));
  app.setErrorHandler((err: { statusCode?: number; message: string }, _req, reply) => {
    const status = err instanceof HttpError ? err.status : (err.statusCode ?? 500);
    void reply.code(status).send({ code: -status, message: status >= 500 ? 'internal error' : err.message });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ code: -404, message: `unknown route ${req.url.split('?')[0]}` });
  });
  app.post(PUSH_PATH, async (req) => {
    const body = Buffer.isBuffer(req.body) ? req.body : EMPTY_BODY;
    const data = await pushKeys(req.query as Query, body);
    return { code: 0, message: '', data };
  });
  app.server.on('connection', () => stats.connections++);
  await app.listen({ host: HOST, port: 0 });
  return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
}

// --- child entry point ------------------------------------------------------------------------

type ToChild = { type: 'stats' } | { type: 'stop' };
type FromChild = { type: 'ready'; port: number } | { type: 'stats'; stats: ServerStats } | { type: 'error'; message: string };

async function serve(kind: string | undefined): Promise<void> {
  const send = (msg: FromChild): void => {
    process.send?.(msg);
  };
  if (kind !== 'plain' && kind !== 'fastify') {
    process.stderr.write(`http-layer server: unknown kind ${kind}\n`);
    process.exitCode = 2;
    return;
  }
  if (process.send === undefined) {
    process.stderr.write('http-layer server: must be started by the http-layer scenario (needs an IPC channel)\n');
    process.exitCode = 2;
    return;
  }
  let server: { port: number; close(): Promise<void> };
  try {
    server = kind === 'plain' ? await startPlain() : await startFastify();
  } catch (err) {
    send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    process.exitCode = 1;
    process.disconnect();
    return;
  }
  process.on('message', (msg: ToChild) => {
    if (msg.type === 'stats') {
      send({ type: 'stats', stats: { ...stats } });
      stats.connections = stats.requests = stats.bodyBytes = 0;
    } else if (msg.type === 'stop') {
      void server.close().finally(() => process.disconnect());
    }
  });
  // The parent went away without saying stop: do not linger.
  process.on('disconnect', () => void server.close());
  send({ type: 'ready', port: server.port });
}

// =============================================================================================
// Parent side: the scenario

export interface HttpLayerOptions {
  seconds: number;
  warmup: number;
  connections: number;
  quick: boolean;
}

const DEFAULTS: HttpLayerOptions = { seconds: 5, warmup: 1, connections: 32, quick: false };
const QUICK: HttpLayerOptions = { seconds: 1, warmup: 0.5, connections: 32, quick: true };

const HELP = `usage: npm run bench -- http-layer [options]

  --seconds N      measured seconds per run (default ${DEFAULTS.seconds}); 4 runs: node:http, fastify, node:http, fastify
  --warmup N       warm-up seconds before each run's measured window (default ${DEFAULTS.warmup})
  --connections N  concurrent keep-alive connections, closed loop (default ${DEFAULTS.connections})
  --quick          smoke run: ${QUICK.seconds} s measured + ${QUICK.warmup} s warm-up per run (explicit options still win)
  --help           this text`;

function parseOptions(args: string[]): HttpLayerOptions | null {
  const a = parseBenchArgs(args, ['seconds', 'warmup', 'connections'], HELP);
  if (a === null) return null;
  const base = a.quick ? QUICK : DEFAULTS;
  return {
    seconds: a.num('seconds', base.seconds, 0.1, 600, false),
    warmup: a.num('warmup', base.warmup, 0, 60, false),
    connections: a.num('connections', base.connections, 1, 1024),
    quick: a.quick,
  };
}

/** Clock ticks per second for /proc/<pid>/stat times (USER_HZ; 100 on Linux in practice). */
function clockTicks(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 2_000 }).trim());
    if (Number.isSafeInteger(n) && n > 0) return n;
  } catch {
    // fall through
  }
  return 100;
}

/** utime + stime of a process, in clock ticks (all its threads, including GC and libuv's). */
function cpuTicks(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name in parentheses (which may itself hold spaces or ')'):
  // [0] state (field 3) … [11] utime (field 14), [12] stime (field 15).
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** One server child process and its IPC. */
class ServerProcess {
  private pendingStats: ((s: ServerStats) => void) | null = null;
  private failure: Error | null = null;
  private readonly exited: Promise<number | null>;

  private constructor(
    readonly kind: ServerKind,
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
      else child.once('exit', (code) => resolve(code));
    });
    void this.exited.then((code) => {
      if (this.failure === null) this.failure = new Error(`${LABEL[kind]} server exited (code ${code})`);
    });
    child.on('message', (msg: FromChild) => {
      if (msg.type === 'stats') {
        const p = this.pendingStats;
        this.pendingStats = null;
        p?.(msg.stats);
      }
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  static async start(kind: ServerKind): Promise<ServerProcess> {
    const child = fork(fileURLToPath(import.meta.url), [kind], {
      execArgv: [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${LABEL[kind]} server did not start within 15 s`)), 15_000);
        const done = (): void => {
          clearTimeout(timer);
          child.off('message', onMsg);
          child.off('exit', onExit);
          child.off('error', onError);
        };
        const onMsg = (msg: FromChild): void => {
          if (msg.type === 'ready') {
            done();
            resolve(msg.port);
          } else if (msg.type === 'error') {
            done();
            reject(new Error(`${LABEL[kind]} server failed to start: ${msg.message}`));
          }
        };
        const onExit = (code: number | null): void => {
          done();
          reject(new Error(`${LABEL[kind]} server exited during start (code ${code})`));
        };
        const onError = (err: Error): void => {
          done();
          reject(err);
        };
        child.on('message', onMsg);
        child.once('exit', onExit);
        child.once('error', onError);
      });
      return new ServerProcess(kind, child, port);
    } catch (err) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      throw err;
    }
  }

  check(): void {
    if (this.failure !== null) throw this.failure;
  }

  /** The server's counters since the last call (they are reset on reading). */
  stats(): Promise<ServerStats> {
    this.check();
    return new Promise<ServerStats>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${LABEL[this.kind]} server did not answer a stats request`)), 5_000);
      this.pendingStats = (s) => {
        clearTimeout(timer);
        resolve(s);
      };
      this.child.send({ type: 'stats' } satisfies ToChild);
    });
  }

  /** Asks the server to close and waits for the process to end; SIGKILL after 5 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    if (this.child.connected) this.child.send({ type: 'stop' } satisfies ToChild);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), 5_000);
    });
    const result = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      process.stderr.write(`warning: the ${LABEL[this.kind]} server (pid ${this.pid}) did not exit within 5 s; killing it\n`);
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}

interface Reply {
  status: number;
  body: string;
}

/** One request on the given agent; the reply body is read in full. */
function request(agent: http.Agent, port: number, path: string, body: Buffer): Promise<Reply> {
  return new Promise<Reply>((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: HOST,
        port,
        method: 'POST',
        path,
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length },
        timeout: REQUEST_TIMEOUT_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request timed out after ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

interface RunResult {
  server: string;
  run: number;
  seconds: number;
  requests: number;
  errors: number;
  requestsPerSec: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  serverCpuTicks: number;
  serverCpuUsPerRequest: number;
  serverCpuUtilization: number; // of one core
  loadgenCpuUtilization: number; // of one core
  serverStats: ServerStats; // counted by the server over warm-up + measured window
}

function latencySummary(sorted: Float64Array): RunResult['latencyMs'] {
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    max: sorted.length > 0 ? sorted[sorted.length - 1]! : NaN,
    mean: sum / sorted.length,
  };
}

/** A growable list of latencies in ms. */
class Samples {
  data = new Float64Array(1 << 16);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = v;
  }
  sorted(): Float64Array {
    return this.data.slice(0, this.length).sort();
  }
}

/**
 * One closed-loop run against one server: `connections` loops on a fresh keep-alive Agent (as many
 * sockets as loops), warm-up then the measured window. Requests that complete inside the window
 * are counted; the server's CPU ticks are read at the window's edges.
 */
async function loadRun(server: ServerProcess, opts: HttpLayerOptions, runIndex: number, ticksPerSec: number, body: Buffer): Promise<{ result: RunResult; samples: Samples }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.connections, maxFreeSockets: opts.connections });
  const samples = new Samples();
  let errors = 0;
  let firstError: Error | null = null;
  let measuring = false;
  let stopping = false;
  try {
    await server.stats(); // reset the server's counters

    const loop = async (): Promise<void> => {
      while (!stopping) {
        const t0 = process.hrtime.bigint();
        try {
          const r = await request(agent, server.port, REQUEST_PATH, body);
          if (r.status !== 200 || r.body !== EXPECTED_REPLY) throw new Error(`unexpected reply ${r.status} ${r.body}`);
          const t1 = process.hrtime.bigint();
          if (measuring && !stopping) samples.push(Number(t1 - t0) / 1e6);
        } catch (err) {
          if (measuring && !stopping) errors++;
          firstError ??= err as Error;
          server.check();
          await new Promise((r) => setTimeout(r, 10)); // do not spin on a dead server
        }
      }
    };
    const loops = Array.from({ length: opts.connections }, loop);

    await new Promise((r) => setTimeout(r, opts.warmup * 1000));
    server.check();
    // The measured window opens: reset the samples and read the CPU counters.
    samples.length = 0;
    errors = 0;
    measuring = true;
    const ticks0 = cpuTicks(server.pid);
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, opts.seconds * 1000));
    const ticks1 = cpuTicks(server.pid);
    const cpu1 = process.cpuUsage(cpu0);
    const t1 = process.hrtime.bigint();
    stopping = true;
    const count = samples.length;
    // In-flight requests finish (bounded by the request timeout) before the agent goes.
    await Promise.all(loops);
    server.check();

    const elapsed = Number(t1 - t0) / 1e9;
    const ticks = ticks1 - ticks0;
    const all = new Samples();
    all.data = samples.data.slice(0, count);
    all.length = count;
    const fe = firstError as Error | null; // assigned by the loops
    if (count === 0) throw new Error(`no request completed against ${LABEL[server.kind]}: ${fe?.message ?? 'unknown'}`);
    if (errors > 0) process.stderr.write(`warning: ${errors} failed requests against ${LABEL[server.kind]} (first: ${fe?.message})\n`);
    const result: RunResult = {
      server: LABEL[server.kind],
      run: runIndex,
      seconds: elapsed,
      requests: count,
      errors,
      requestsPerSec: count / elapsed,
      latencyMs: latencySummary(all.sorted()),
      serverCpuTicks: ticks,
      serverCpuUsPerRequest: ((ticks / ticksPerSec) * 1e6) / count,
      serverCpuUtilization: ticks / ticksPerSec / elapsed,
      loadgenCpuUtilization: (cpu1.user + cpu1.system) / 1e6 / elapsed,
      serverStats: await server.stats(),
    };
    return { result, samples: all };
  } finally {
    stopping = true;
    agent.destroy();
  }
}

/** Before measuring: both servers answer the push exactly alike, and both reject a bad operation. */
async function sanityCheck(server: ServerProcess, body: Buffer): Promise<void> {
  const agent = new http.Agent({ keepAlive: false });
  try {
    const ok = await request(agent, server.port, REQUEST_PATH, body);
    if (ok.status !== 200 || ok.body !== EXPECTED_REPLY) throw new Error(`${LABEL[server.kind]}: push answered ${ok.status} ${ok.body}`);
    const bad = await request(agent, server.port, `${PUSH_PATH}?operation=99999999999&keys=k1`, body);
    if (bad.status !== 400) throw new Error(`${LABEL[server.kind]}: bad operation answered ${bad.status} ${bad.body}`);
    const noKeys = await request(agent, server.port, `${PUSH_PATH}?operation=1000`, body);
    if (noKeys.status !== 400) throw new Error(`${LABEL[server.kind]}: missing keys answered ${noKeys.status} ${noKeys.body}`);
    const big = await request(agent, server.port, REQUEST_PATH, Buffer.alloc(MAX_BODY_BYTES + 1));
    if (big.status !== 413) throw new Error(`${LABEL[server.kind]}: over-limit body answered ${big.status} ${big.body}`);
    await server.stats(); // reset the counters
  } finally {
    agent.destroy();
  }
}

function ratio(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return x >= 10 ? `${x.toFixed(1)}×` : x >= 1 ? `${x.toFixed(2)}×` : `${x.toFixed(3)}×`;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(0)} %`;
}

interface ServerSummary {
  server: string;
  runs: number;
  seconds: number;
  requests: number;
  errors: number;
  requestsPerSec: number;
  latencyMs: RunResult['latencyMs'];
  serverCpuUsPerRequest: number;
  serverCpuUtilization: number;
  loadgenCpuUtilization: number;
}

function summarize(kind: ServerKind, runs: RunResult[], samples: Samples[], ticksPerSec: number): ServerSummary {
  const seconds = runs.reduce((s, r) => s + r.seconds, 0);
  const requests = runs.reduce((s, r) => s + r.requests, 0);
  const ticks = runs.reduce((s, r) => s + r.serverCpuTicks, 0);
  const merged = new Samples();
  for (const s of samples) for (let i = 0; i < s.length; i++) merged.push(s.data[i]!);
  return {
    server: LABEL[kind],
    runs: runs.length,
    seconds,
    requests,
    errors: runs.reduce((s, r) => s + r.errors, 0),
    requestsPerSec: requests / seconds,
    latencyMs: latencySummary(merged.sorted()),
    serverCpuUsPerRequest: ((ticks / ticksPerSec) * 1e6) / requests,
    serverCpuUtilization: ticks / ticksPerSec / seconds,
    loadgenCpuUtilization: runs.reduce((s, r) => s + r.loadgenCpuUtilization * r.seconds, 0) / seconds,
  };
}

export async function run(args: string[]): Promise<void> {
  const opts = parseOptions(args);
  if (opts === null) return;
  const ticksPerSec = clockTicks();
  const order: ServerKind[] = ['plain', 'fastify', 'plain', 'fastify'];
  const fastifyVersion = (JSON.parse(readFileSync(new URL('../../node_modules/fastify/package.json', import.meta.url), 'utf8')) as { version: string }).version;
  process.stdout.write(
    `http-layer: node:http vs fastify ${fastifyVersion}, each server in its own process; closed loop, ${opts.connections} keep-alive connections, ` +
      `POST ${REQUEST_PATH} with ${BODY_BYTES} B; runs ${order.map((k) => LABEL[k]).join(', ')}, ` +
      `each ${opts.warmup} s warm-up + ${opts.seconds} s measured (after ${opts.warmup} s priming per server)${opts.quick ? ' [quick]' : ''}\n`,
  );

  const body = Buffer.alloc(BODY_BYTES, 'x');
  const servers = new Map<ServerKind, ServerProcess>();
  const runs: RunResult[] = [];
  const samples = new Map<ServerKind, Samples[]>(KINDS.map((k) => [k, []]));
  try {
    for (const kind of KINDS) servers.set(kind, await ServerProcess.start(kind));
    for (const kind of KINDS) await sanityCheck(servers.get(kind)!, body);
    // Prime both servers and this process's HTTP client (JIT) once, unrecorded, so that the first
    // measured run is not the only one paying for a cold load generator.
    if (opts.warmup > 0) {
      for (const kind of KINDS) await loadRun(servers.get(kind)!, { ...opts, seconds: opts.warmup, warmup: 0 }, 0, ticksPerSec, body);
    }
    for (let i = 0; i < order.length; i++) {
      const kind = order[i]!;
      const { result, samples: s } = await loadRun(servers.get(kind)!, opts, i + 1, ticksPerSec, body);
      runs.push(result);
      samples.get(kind)!.push(s);
      process.stdout.write(
        `  run ${i + 1} ${result.server.padEnd(9)} ${formatNumber(result.requestsPerSec).padStart(7)} req/s  p50 ${formatNumber(result.latencyMs.p50)} ms  ` +
          `p99 ${formatNumber(result.latencyMs.p99)} ms  server CPU ${formatNumber(result.serverCpuUsPerRequest)} µs/req (${pct(result.serverCpuUtilization)} of a core), ` +
          `load generator ${pct(result.loadgenCpuUtilization)}\n`,
      );
    }
  } finally {
    await Promise.all([...servers.values()].map((s) => s.stop()));
  }

  const plain = summarize('plain', runs.filter((r) => r.server === LABEL.plain), samples.get('plain')!, ticksPerSec);
  const fast = summarize('fastify', runs.filter((r) => r.server === LABEL.fastify), samples.get('fastify')!, ticksPerSec);

  process.stdout.write('\n');
  const rows: Cell[][] = [
    ['requests/s', plain.requestsPerSec, fast.requestsPerSec, ratio(fast.requestsPerSec / plain.requestsPerSec)],
    ['latency p50 (ms)', plain.latencyMs.p50, fast.latencyMs.p50, ratio(fast.latencyMs.p50 / plain.latencyMs.p50)],
    ['latency p99 (ms)', plain.latencyMs.p99, fast.latencyMs.p99, ratio(fast.latencyMs.p99 / plain.latencyMs.p99)],
    ['server CPU per request (µs)', plain.serverCpuUsPerRequest, fast.serverCpuUsPerRequest, ratio(fast.serverCpuUsPerRequest / plain.serverCpuUsPerRequest)],
    ['server CPU (of one core)', pct(plain.serverCpuUtilization), pct(fast.serverCpuUtilization), ratio(fast.serverCpuUtilization / plain.serverCpuUtilization)],
    ['load generator CPU (of one core)', pct(plain.loadgenCpuUtilization), pct(fast.loadgenCpuUtilization), ''],
    ['requests measured (errors)', `${plain.requests} (${plain.errors})`, `${fast.requests} (${fast.errors})`, ''],
  ];
  printTable(['metric', 'node:http', `fastify ${fastifyVersion}`, 'fastify / node:http'], rows);

  const cpuRatio = fast.serverCpuUsPerRequest / plain.serverCpuUsPerRequest;
  // Run-to-run spread of CPU per request within each server: a gap smaller than that is noise.
  const spread = (name: string): number => {
    const v = runs.filter((r) => r.server === name).map((r) => r.serverCpuUsPerRequest);
    return Math.max(...v) - Math.min(...v);
  };
  const noise = Math.max(spread(LABEL.plain), spread(LABEL.fastify));
  const gap = Math.abs(fast.serverCpuUsPerRequest - plain.serverCpuUsPerRequest);
  const withinNoise = gap <= noise;
  const verdict =
    (withinNoise ? `no clear winner: the CPU-per-request gap (${formatNumber(gap)} µs) is within the run-to-run spread (${formatNumber(noise)} µs); ` : '') +
    (cpuRatio >= 1
      ? `node:http uses ${ratio(cpuRatio)} less server CPU per request than fastify (${formatNumber(plain.serverCpuUsPerRequest)} vs ${formatNumber(fast.serverCpuUsPerRequest)} µs)`
      : `fastify uses ${ratio(1 / cpuRatio)} less server CPU per request than node:http (${formatNumber(fast.serverCpuUsPerRequest)} vs ${formatNumber(plain.serverCpuUsPerRequest)} µs)`);
  process.stdout.write(`verdict: ${verdict}\n`);
  const loadgenBound = Math.max(plain.loadgenCpuUtilization, fast.loadgenCpuUtilization) > 0.9;
  if (loadgenBound) {
    process.stdout.write('note: the load generator was near one full core, so requests/s is partly bounded by it; compare CPU per request.\n');
  }

  writeResult(
    SCENARIO,
    { ...opts, bodyBytes: BODY_BYTES, path: REQUEST_PATH, order: order.map((k) => LABEL[k]), clockTicksPerSec: ticksPerSec, fastify: fastifyVersion },
    [plain, fast].map((s) => ({ ...s })),
    { runs, cpuPerRequestSpreadUs: noise, withinNoise, ratios: { requestsPerSec: fast.requestsPerSec / plain.requestsPerSec, cpuPerRequest: cpuRatio, p50: fast.latencyMs.p50 / plain.latencyMs.p50, p99: fast.latencyMs.p99 / plain.latencyMs.p99 }, verdict, loadgenBound },
  );
}

// Started by fork() as a server process?
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void serve(process.argv[2]);
}
