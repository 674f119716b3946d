/**
 * The HTTP control port, served by the acceptor (main thread), on plain node:http:
 *   - goim logic's API under /goim (src/control/goim-api.ts),
 *   - POST /push/batch and GET /sessions (src/control/batch.ts),
 *   - reliable messaging under /im (src/control/im-api.ts),
 *   - GET /metrics (Prometheus, src/control/metrics.ts), GET /health,
 *   - the test-only /debug routes when `debug.testCommands` is on.
 * With a token, every request but GET /health needs `Authorization: Bearer <token>`. Errors answer with an HTTP
 * 4xx/5xx status and goim's envelope {code: -status, message}.
 *
 * Requests are instances of `ControlRequest` (http.createServer's IncomingMessage option), which
 * carries the per-request state, so that body reading needs no per-request closures.
 */
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import querystring from 'node:querystring';
import { CONFIG_DEFAULTS } from '../config/index.js';
import type { Logger } from '../logger.js';
import type { CrashMode } from '../messages.js';
import { ServiceError } from '../errors.js';
import type { PushService } from '../push/types.js';
import type { Supervisor } from '../supervisor.js';
import { TokenBucket } from '../token-bucket.js';
import type { ImService } from '../im/service.js';
import { BATCH_ROUTES } from './batch.js';
import { IM_ROUTES } from './im-api.js';
import {
  DEFAULT_NODES,
  GOIM_ROUTES,
  HttpError,
  RawReply,
  first,
  intParam,
  nodesReplies,
  type ApiContext,
  type ApiRequest,
  type ApiRoute,
  type NodesOptions,
  type Query,
} from './goim-api.js';
import { ControlMetrics, type MetricsSource } from './metrics.js';
import { threadMemory } from '../thread-memory.js';

export { HttpError } from './goim-api.js';
export type { NodesOptions } from './goim-api.js';
export type { MetricsSource, WorkerMetrics } from './metrics.js';

export interface ControlOptions {
  supervisor: Supervisor;
  listeners: Array<{ name: string; host: string; port: number }>;
  testCommands: boolean;
  log: Logger;
  startedAt: number;
  /** The push service behind the push/online/sessions routes; absent = those answer 503. */
  push?: PushService;
  /** Reliable messaging behind the /im routes; absent = those answer 503. */
  im?: ImService;
  /** Bearer token every request must carry; "" (default) = no auth. */
  token?: string;
  /** Largest request body in bytes; a bigger one gets 413. Default: control.maxBodyBytes's. */
  maxBodyBytes?: number;
  /** Most keys+mids in one POST /push/batch. Default: control.batchMaxTargets's. */
  batchMaxTargets?: number;
  /** What /goim/nodes/* report. Default: goim's defaults (DEFAULT_NODES). */
  nodes?: NodesOptions;
  /** Per-worker figures for /metrics. Default: the supervisor's statuses and shared limit counters. */
  metrics?: MetricsSource;
  /** Requests per second over the whole port (GET /health exempt); past it 429. 0/absent = no limit. */
  ratePerSec?: number;
  /** Token bucket size of the rate limit. Default: control.burst's. */
  burst?: number;
  /** True while the server drains (SIGTERM): /health says so, /goim/nodes lists no node. Default: never. */
  draining?: () => boolean;
}

// The config's defaults (src/config/keys.ts), for a server made without a config (tests).
export const DEFAULT_MAX_BODY_BYTES = CONFIG_DEFAULTS.control.maxBodyBytes;
export const DEFAULT_BATCH_MAX_TARGETS = CONFIG_DEFAULTS.control.batchMaxTargets;

const JSON_TYPE = 'application/json; charset=utf-8';
const EMPTY_BODY = Buffer.alloc(0);
const EMPTY_QUERY: Query = Object.freeze(Object.create(null) as Query);

interface ServerState {
  api: ApiContext;
  routes: Map<string, ApiRoute>;
  debugRoute: ApiRoute;
  /** "Bearer <token>" bytes, or null without auth. */
  token: Buffer | null;
  maxBodyBytes: number;
  metrics: ControlMetrics;
  /** The control.ratePerSec bucket, or null without a rate limit. */
  rate: TokenBucket | null;
  rateText: string;
  log: Logger;
}

/** A control request: IncomingMessage plus the state of its handling. */
export class ControlRequest extends http.IncomingMessage implements ApiRequest {
  apiPath = '/';
  apiQuery: Query = EMPTY_QUERY;
  apiBody: Buffer = EMPTY_BODY;
  rcState: ServerState | null = null;
  rcRes: http.ServerResponse | null = null;
  rcRoute: ApiRoute | null = null;
  rcLabel = 'unknown';
  rcChunks: Buffer[] = [];
  rcSize = 0;
  rcDone = false;
}

// ---------------------------------------------------------------------------------------------
// Replies

function reply(req: ControlRequest, status: number, contentType: string, text: string, close: boolean): void {
  const res = req.rcRes!;
  if (req.rcDone || res.headersSent) return;
  req.rcDone = true;
  const headers: http.OutgoingHttpHeaders = { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) };
  if (close) headers['Connection'] = 'close';
  if (status === 401) headers['WWW-Authenticate'] = 'Bearer';
  else if (status === 429) headers['Retry-After'] = '1';
  else if (status === 405 && req.rcRoute !== null && req.rcRoute.methods !== null) headers['Allow'] = allowed(req.rcRoute.methods).join(', ');
  res.writeHead(status, headers);
  res.end(text);
  req.rcState!.metrics.countRequest(req.rcLabel, status);
}

function fail(req: ControlRequest, status: number, message: string, close = false): void {
  reply(req, status, JSON_TYPE, JSON.stringify({ code: -status, message }), close);
}

function allowed(methods: readonly string[]): string[] {
  return methods.includes('GET') ? [...methods, 'HEAD'] : [...methods];
}

/** Whether the request may still have body bytes coming (answering early then closes the connection). */
function hasBody(req: http.IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  return (cl !== undefined && cl !== '0') || req.headers['transfer-encoding'] !== undefined;
}

// ---------------------------------------------------------------------------------------------
// Request flow: start → (body: onData… onEnd) → run → reply

function authorized(expected: Buffer, header: string | undefined): boolean {
  if (header === undefined) return false;
  const given = Buffer.from(header.length > 7 && header.slice(0, 7).toLowerCase() === 'bearer ' ? `Bearer ${header.slice(7)}` : header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function start(st: ServerState, req: ControlRequest, res: http.ServerResponse): void {
  req.rcState = st;
  req.rcRes = res;
  const url = req.url ?? '/';
  const qi = url.indexOf('?');
  const path = qi < 0 ? url : url.slice(0, qi);
  req.apiPath = path;
  let route = st.routes.get(path);
  if (route === undefined && path.startsWith('/debug/')) route = st.debugRoute;
  if (route !== undefined) req.rcLabel = route.label;
  req.rcRoute = route ?? null;
  // /health stays open (and unlimited): load balancers and supervisors probe it without credentials.
  if (st.token !== null && path !== '/health' && !authorized(st.token, req.headers.authorization)) {
    fail(req, 401, 'missing or wrong token: send "Authorization: Bearer <control.token>"', hasBody(req));
    return;
  }
  // After the token check: requests without it (cheap 401s) do not use up the callers' budget.
  if (st.rate !== null && path !== '/health' && !st.rate.take(Date.now())) {
    st.metrics.countLimit('control.ratePerSec');
    fail(req, 429, st.rateText, hasBody(req));
    return;
  }
  if (route === undefined) {
    fail(req, 404, `unknown route ${path}`, hasBody(req));
    return;
  }
  const method = req.method ?? 'GET';
  if (route.methods !== null && !route.methods.includes(method) && !(method === 'HEAD' && route.methods.includes('GET'))) {
    fail(req, 405, `${path} takes ${route.methods.join(' or ')}, not ${method}`, hasBody(req));
    return;
  }
  if (qi >= 0) req.apiQuery = querystring.parse(url.slice(qi + 1), '&', '=', { maxKeys: 0 }) as Query;
  if (!route.body) {
    req.resume();
    void run(req);
    return;
  }
  const cl = req.headers['content-length'];
  if (cl !== undefined && Number(cl) > st.maxBodyBytes) {
    st.metrics.countLimit('control.maxBodyBytes');
    fail(req, 413, `body of ${cl} bytes is over the limit of ${st.maxBodyBytes} bytes (control.maxBodyBytes)`, true);
    return;
  }
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('error', onError);
}

function onData(this: ControlRequest, chunk: Buffer): void {
  if (this.rcDone) return;
  this.rcSize += chunk.length;
  const max = this.rcState!.maxBodyBytes;
  if (this.rcSize > max) {
    // Stop reading: answer and close the connection (Node ends and destroys the socket).
    this.rcChunks = [];
    this.pause();
    this.rcState!.metrics.countLimit('control.maxBodyBytes');
    fail(this, 413, `body is over the limit of ${max} bytes (control.maxBodyBytes)`, true);
    return;
  }
  this.rcChunks.push(chunk);
}

function onEnd(this: ControlRequest): void {
  if (this.rcDone) return;
  const chunks = this.rcChunks;
  this.apiBody = chunks.length === 0 ? EMPTY_BODY : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.rcSize);
  this.rcChunks = [];
  void run(this);
}

function onError(this: ControlRequest, err: Error): void {
  this.rcDone = true;
  this.rcState!.log.debug({ err, url: this.url }, 'control request aborted');
}

async function run(req: ControlRequest): Promise<void> {
  const st = req.rcState!;
  try {
    const data = await req.rcRoute!.handle(st.api, req);
    if (data instanceof RawReply) reply(req, data.status, data.contentType, data.text, false);
    else reply(req, 200, JSON_TYPE, JSON.stringify({ code: 0, message: '', data }), false);
  } catch (err) {
    // Every refusal (HttpError, PushRefused, ImError) is a ServiceError: its status, its message.
    if (err instanceof ServiceError) {
      if (err.limit !== null) st.metrics.countLimit(err.limit);
      fail(req, err.status, err.message);
    } else {
      st.log.error({ err, url: req.url }, 'control request failed');
      fail(req, 500, 'internal error');
    }
  }
}

// ---------------------------------------------------------------------------------------------

export function createControlServer(opts: ControlOptions): http.Server {
  const { supervisor } = opts;
  const metrics = new ControlMetrics(opts.metrics ?? { workers: () => supervisor.statuses(), limitRefusals: () => supervisor.limits.refusals(), pushesInFlight: () => opts.push?.inFlight?.() ?? 0 });
  const draining = opts.draining ?? (() => false);
  const api: ApiContext = {
    push: opts.push ?? null,
    im: opts.im ?? null,
    metrics,
    batchMaxTargets: opts.batchMaxTargets ?? DEFAULT_BATCH_MAX_TARGETS,
    log: opts.log,
    nodes: nodesReplies(opts.nodes ?? DEFAULT_NODES),
    draining,
  };

  async function health(): Promise<RawReply> {
    const workers = supervisor.statuses();
    const ready = workers.filter((w) => w.state === 'ready' && !w.stalled).length;
    // Draining answers 503 so that load balancers stop sending clients here.
    const status = draining() ? 'draining' : ready === workers.length ? 'ok' : ready > 0 ? 'degraded' : 'down';
    const body = {
      status,
      uptimeSec: Math.round((Date.now() - opts.startedAt) / 1000),
      workers,
      listeners: opts.listeners,
      connections: workers.reduce((n, w) => n + w.connections, 0),
    };
    return new RawReply(ready > 0 && status !== 'draining' ? 200 : 503, JSON_TYPE, JSON.stringify(body));
  }

  async function renderMetrics(): Promise<RawReply> {
    return new RawReply(200, metrics.contentType, await metrics.render());
  }

  function worker(path: string, id: string): NonNullable<ReturnType<Supervisor['admin']>> {
    if (!/^\d+$/.test(id) || Number(id) >= supervisor.workers) throw new HttpError(404, `no worker ${id} (workers are 0..${supervisor.workers - 1})`);
    const admin = supervisor.admin(Number(id));
    if (admin === null) throw new HttpError(409, `worker ${id} is not running (${path})`);
    return admin;
  }

  async function debug(_ctx: ApiContext, req: ApiRequest): Promise<unknown> {
    const path = req.apiPath;
    const q = req.apiQuery;
    if (!opts.testCommands) throw new HttpError(404, `unknown route ${path} (test commands are off: debug.testCommands)`);
    const m = /^\/debug\/workers\/([^/]+)\/(crash|block|register)$/.exec(path);
    if (m !== null) {
      if (req.method !== 'POST') throw new HttpError(405, `${path} takes POST`);
      const admin = worker(path, m[1]!);
      if (m[2] === 'crash') {
        const mode = first(q, 'mode') ?? 'throw';
        if (mode !== 'throw' && mode !== 'exit' && mode !== 'oom') throw new HttpError(400, `query parameter "mode" must be "throw", "exit" or "oom", got "${mode}"`);
        await admin.debugCrash(mode as CrashMode);
        return { worker: Number(m[1]), crash: mode };
      }
      if (m[2] === 'block') {
        const ms = intParam(q, 'ms', 1, 60_000);
        await admin.debugBlock(ms);
        return { worker: Number(m[1]), blockMs: ms };
      }
      const mid = intParam(q, 'mid', 0, Number.MAX_SAFE_INTEGER);
      const key = first(q, 'key');
      if (key === undefined) throw new HttpError(400, 'missing query parameter "key"');
      await admin.debugRegister(mid, key, first(q, 'platform') ?? '');
      return { worker: Number(m[1]), mid, key };
    }
    if (path === '/debug/memory') {
      if (req.method !== 'GET') throw new HttpError(405, '/debug/memory takes GET');
      const gc = first(q, 'gc') === '1';
      const workers: unknown[] = [];
      for (let i = 0; i < supervisor.workers; i++) {
        const admin = supervisor.admin(i);
        workers.push(admin === null ? null : { id: i, ...(await admin.debugMemory(gc)) });
      }
      return { rssBytes: process.memoryUsage.rss(), acceptor: threadMemory(gc), workers };
    }
    if (path === '/debug/router') {
      if (req.method !== 'GET') throw new HttpError(405, '/debug/router takes GET');
      const mid = intParam(q, 'mid', 0, Number.MAX_SAFE_INTEGER);
      const entries: Array<{ key: string; worker: number; platform: string; shard: number }> = [];
      for (let i = 0; i < supervisor.workers; i++) {
        const admin = supervisor.admin(i);
        if (admin === null) continue;
        for (const [key, w, platform] of await admin.routerLookup(mid)) entries.push({ key, worker: w, platform, shard: i });
      }
      return { mid, entries };
    }
    throw new HttpError(404, `unknown route ${path}`);
  }

  const routes = new Map<string, ApiRoute>([
    ['/health', { label: '/health', methods: ['GET'], body: false, handle: health }],
    ['/metrics', { label: '/metrics', methods: ['GET'], body: false, handle: renderMetrics }],
    ...GOIM_ROUTES,
    ...BATCH_ROUTES,
    ...IM_ROUTES,
  ]);
  const token = opts.token ?? '';
  const st: ServerState = {
    api,
    routes,
    // Debug routes read no body (the handler checks the method).
    debugRoute: { label: '/debug', methods: null, body: false, handle: debug },
    token: token === '' ? null : Buffer.from(`Bearer ${token}`),
    maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    metrics,
    rate: (opts.ratePerSec ?? 0) > 0 ? new TokenBucket(opts.ratePerSec!, opts.burst ?? CONFIG_DEFAULTS.control.burst) : null,
    rateText: `rate limited: over ${opts.ratePerSec ?? 0} requests per second (control.ratePerSec, burst control.burst = ${opts.burst ?? CONFIG_DEFAULTS.control.burst}); retry later`,
    log: opts.log,
  };

  const server = http.createServer<typeof ControlRequest>({ IncomingMessage: ControlRequest }, (req, res) => start(st, req, res));
  server.on('close', () => metrics.close());
  // Requests Node's parser rejects (bad framing, oversized headers) and CONNECT still get a JSON
  // answer with a message, as every other error does, instead of a bare status line or silence.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const message = status === 431 ? 'request line or headers too large (16 KiB at most)' : `malformed HTTP request (${err.code ?? err.message})`;
    rawJsonReply(socket, status, message);
  });
  server.on('connect', (_req: http.IncomingMessage, socket: Duplex) => rawJsonReply(socket, 405, 'CONNECT is not supported'));
  return server;
}

/** Writes a complete JSON error response straight to a socket the HTTP parser has given up on. */
function rawJsonReply(socket: Duplex, status: number, message: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ code: -status, message });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
