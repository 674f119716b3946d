/**
 * The HTTP control port, on plain node:http:
 *   - goim logic's API under /goim (src/control/goim-api.ts),
 *   - POST /push/batch and GET /sessions (src/control/batch.ts),
 *   - reliable messaging under /im (src/control/im-api.ts),
 *   - GET /metrics (Prometheus, src/control/metrics.ts), GET /health,
 *   - POST /admin/kick and /admin/drain (src/control/admin-api.ts),
 *   - the dashboard under /dashboard (src/control/dashboard/), whose page and files need no token,
 *   - the test-only /debug routes when `debug.testCommands` is on,
 *   - the streaming push API, a WebSocket at /push/stream (src/control/stream.ts).
 * With a token, every request but GET /health and the dashboard's page and files needs `Authorization: Bearer <token>`. Errors answer with an HTTP
 * 4xx/5xx status and goim's envelope {code: -status, message}.
 *
 * Every worker serves the port on its own descriptor (src/worker-control.ts): it parses each request,
 * checks the token, the rate (one limit for the process, src/process-words.ts) and the body limit,
 * and answers the push, online, session and messaging routes itself. The routes marked `hop`
 * (health, metrics, test commands, group administration) are handed to the acceptor, which answers
 * them with the supervisor's knowledge (src/control/acceptor-control.ts); a server made with a supervisor
 * (tests of this layer) answers them itself.
 *
 * Requests are instances of `ControlRequest` (http.createServer's IncomingMessage option), which
 * carries the per-request state, so that body reading needs no per-request closures.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { CONFIG_DEFAULTS } from '../config/index.js';
import type { Logger } from '../logger.js';
import type { CrashMode, ForwardedReply, ForwardedRequest } from '../messages.js';
import type { PushService } from '../push/types.js';
import type { Supervisor } from '../supervisor.js';
import { TokenBucket } from '../token-bucket.js';
import type { ImService } from '../im/service.js';
import { acceptorRoutes } from './acceptor-routes.js';
import { answer, EMPTY_QUERY, errorAnswer, parseQuery, routeTable, type Answer } from './answer.js';
import { kickRoute } from './admin-api.js';
import { authorized, bearer } from './bearer.js';
import { attachPushStream } from './stream.js';
import { Dashboard, type DashboardOptions } from './dashboard/index.js';
import { StatsSampler } from './dashboard/stats.js';
import type { SnapshotSource } from './dashboard/stream.js';
import {
  DEFAULT_NODES,
  nodesReplies,
  type LiveNodesSource,
  type ApiContext,
  type ApiRequest,
  type ApiRoute,
  type NodesOptions,
  type Query,
} from './goim-api.js';
import { ControlMetrics, type ControlCounters, type MetricsSource } from './metrics.js';

export { HttpError } from './goim-api.js';
export type { NodesOptions } from './goim-api.js';
export type { MetricsSource, WorkerMetrics } from './metrics.js';

export interface ControlOptions {
  /** Answers health, metrics and the test commands here (the acceptor alone, tests); without it `forward` must be given. */
  supervisor?: Supervisor;
  listeners?: Array<{ name: string; host: string; port: number }>;
  testCommands: boolean;
  log: Logger;
  startedAt?: number;
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
  /** Cluster mode: the live boxes, which /goim/nodes/weighted lists (docs/cluster.md). */
  liveNodes?: LiveNodesSource;
  /** Per-worker figures for /metrics. Default: the supervisor's statuses and shared limit counters. */
  metrics?: MetricsSource;
  /** Requests per second over the whole port (GET /health exempt); past it 429. 0/absent = no limit. */
  ratePerSec?: number;
  /** Token bucket size of the rate limit. Default: control.burst's. */
  burst?: number;
  /** True while the server drains (SIGTERM): /health says so, /goim/nodes lists no node. Default: never. */
  draining?: () => boolean;
  /** The rate limit's check (true: the request may go on); default: a token bucket of ratePerSec and burst for this server alone. */
  takeRate?: () => boolean;
  /** Where requests, pushes and refusals are counted; default: this server's own metrics. */
  counters?: ControlCounters;
  /** Hands the `hop` routes to the acceptor (a worker's port); absent: they are answered here. */
  forward?: (req: ForwardedRequest) => Promise<ForwardedReply>;
  /** The worker serving this port; with test commands on, every answer says so in `x-ringcast-worker`. */
  worker?: number;
  /** Test command: this worker crashes itself the given way (after its answer is out). */
  crashSelf?: (mode: CrashMode) => void;
  /** Pushes a /push/stream connection may have unanswered. Default: control.streamWindow's. */
  streamWindow?: number;
  /** Starts the graceful drain (POST /admin/drain, answered where the supervisor is); absent = that route answers 503. */
  drain?: () => void;
  /** Closes the connections with a key (POST /admin/kick, op 6 4006) and says how many; default: every worker of the supervisor is asked. */
  kickKey?: (key: string) => Promise<number>;
  /** The dashboard's switches. Default: control.dashboard's and control.dashboardReadOnly's. */
  dashboard?: DashboardOptions;
  /** Where the dashboard's stream gets its snapshots (a worker: the acceptor, once a tick while watched); default: the supervisor's statuses and this server's metrics. */
  snapshots?: SnapshotSource;
  /** Workers of the process (the dashboard's hello); default: the supervisor's count. */
  workers?: number;
}

// The config's defaults (src/config/keys.ts), for a server made without a config (tests).
export const DEFAULT_MAX_BODY_BYTES = CONFIG_DEFAULTS.control.maxBodyBytes;
export const DEFAULT_BATCH_MAX_TARGETS = CONFIG_DEFAULTS.control.batchMaxTargets;

const EMPTY_BODY = Buffer.alloc(0);

interface ServerState {
  api: ApiContext;
  routes: Map<string, ApiRoute>;
  debugRoute: ApiRoute;
  /** "Bearer <token>" bytes, or null without auth. */
  token: Buffer | null;
  maxBodyBytes: number;
  metrics: ControlCounters;
  /** The control.ratePerSec check, or null without a rate limit. */
  takeRate: (() => boolean) | null;
  rateText: string;
  log: Logger;
  dashboard: Dashboard;
  forward: ((req: ForwardedRequest) => Promise<ForwardedReply>) | null;
  /** This worker's index as a header value (test commands on), or null. */
  workerHeader: string | null;
  self: number;
  crashSelf: ((mode: CrashMode) => void) | null;
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
  if (req.rcState!.workerHeader !== null) headers['x-ringcast-worker'] = req.rcState!.workerHeader;
  if (status === 401) headers['WWW-Authenticate'] = 'Bearer';
  else if (status === 429) headers['Retry-After'] = '1';
  else if (status === 405 && req.rcRoute !== null && req.rcRoute.methods !== null) headers['Allow'] = allowed(req.rcRoute.methods).join(', ');
  res.writeHead(status, headers);
  res.end(text);
  req.rcState!.metrics.countRequest(req.rcLabel, status);
}

function fail(req: ControlRequest, status: number, message: string, close = false): void {
  const a = errorAnswer(status, message);
  reply(req, status, a.contentType, a.text, close);
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
  const authed = st.token === null || authorized(st.token, req.headers.authorization);
  // /health stays open (and unlimited): load balancers and supervisors probe it without credentials.
  // So do the dashboard's page and files (no data in them: its data routes need the token).
  if (!authed && path !== '/health' && !st.dashboard.isPublic(path)) {
    fail(req, 401, 'missing or wrong token: send "Authorization: Bearer <control.token>"', hasBody(req));
    return;
  }
  // After the token check: requests without it (cheap 401s) do not use up the callers' budget.
  if (st.takeRate !== null && path !== '/health' && !st.takeRate()) {
    st.metrics.countLimit('control.ratePerSec');
    fail(req, 429, st.rateText, hasBody(req));
    return;
  }
  const refused = st.dashboard.refuses(req);
  if (refused !== null) {
    fail(req, 403, refused, hasBody(req));
    return;
  }
  if (st.dashboard.serve(req, res, path, authed)) return;
  if (route === undefined) {
    fail(req, 404, `unknown route ${path}`, hasBody(req));
    return;
  }
  const method = req.method ?? 'GET';
  if (route.methods !== null && !route.methods.includes(method) && !(method === 'HEAD' && route.methods.includes('GET'))) {
    fail(req, 405, `${path} takes ${route.methods.join(' or ')}, not ${method}`, hasBody(req));
    return;
  }
  if (qi >= 0) req.apiQuery = parseQuery(url.slice(qi + 1));
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

/** What a route answers: status, body, and the limit that refused it (counted), if one did. */
async function run(req: ControlRequest): Promise<void> {
  const st = req.rcState!;
  const route = req.rcRoute!;
  let a: Answer;
  let crashAfter: CrashMode | undefined;
  if (route.hop === true && st.forward !== null) {
    try {
      const fwd = await st.forward({ from: st.self, method: req.method ?? 'GET', url: req.url ?? '/', contentType: req.headers['content-type'], body: req.apiBody });
      a = fwd;
      crashAfter = fwd.crashAfter;
    } catch (err) {
      st.log.error({ err, url: req.url }, 'control request: the acceptor did not answer');
      a = errorAnswer(500, 'internal error');
    }
  } else {
    a = await answer(st.api, route, req, st.log, req.url);
  }
  if (a.limit !== null) st.metrics.countLimit(a.limit);
  reply(req, a.status, a.contentType, a.text, false);
  if (crashAfter !== undefined && st.crashSelf !== null) {
    const crash = st.crashSelf;
    req.rcRes!.once('finish', () => crash(crashAfter!));
  }
}

// ---------------------------------------------------------------------------------------------

/** The acceptor's routes as a worker's port knows them: handed over, never run there. */
function handedOver(): { byPath: Array<[string, ApiRoute]>; debug: ApiRoute } {
  const never = (): Promise<unknown> => Promise.reject(new Error('a route the acceptor answers ran on a worker'));
  return {
    byPath: [
      ['/health', { label: '/health', methods: ['GET'], body: false, hop: true, handle: never }],
      ['/metrics', { label: '/metrics', methods: ['GET'], body: false, hop: true, handle: never }],
      ['/admin/drain', { label: '/admin/drain', methods: ['POST'], body: false, hop: true, handle: never }],
    ],
    debug: { label: '/debug', methods: null, body: false, hop: true, handle: never },
  };
}

/** A server that answers health itself (the acceptor alone, tests): the kick asks every worker over comlink. */
function kickOnEveryWorker(supervisor: Pick<Supervisor, 'workers' | 'admin'>): (key: string) => Promise<number> {
  return async (key) => {
    const asks: Array<Promise<number>> = [];
    for (let i = 0; i < supervisor.workers; i++) {
      const admin = supervisor.admin(i);
      // A worker that dies meanwhile held no connection worth kicking: its sockets died with it.
      if (admin !== null) asks.push(Promise.resolve(admin.kickKey(key)).catch(() => 0));
    }
    return (await Promise.all(asks)).reduce((n, k) => n + k, 0);
  };
}

/** The dashboard's snapshots read here (a server with a supervisor): its statuses and this server's metrics. */
function localSnapshots(opts: ControlOptions, metrics: ControlMetrics | null, draining: () => boolean): SnapshotSource {
  const { supervisor } = opts;
  if (supervisor === undefined || metrics === null) throw new Error('a control server needs snapshots for its dashboard, or a supervisor');
  return new StatsSampler({
    workers: () => supervisor.statuses(),
    refusals: () => metrics.refusals(),
    pushTotals: () => metrics.pushTotals(),
    pushesInFlight: () => opts.push?.inFlight?.() ?? 0,
    draining,
  });
}

function metricsOf(opts: ControlOptions): ControlMetrics | null {
  const { supervisor } = opts;
  if (opts.metrics === undefined && supervisor === undefined) return null;
  return new ControlMetrics(opts.metrics ?? { workers: () => supervisor!.statuses(), limitRefusals: () => supervisor!.limits.refusals(), pushesInFlight: () => opts.push?.inFlight?.() ?? 0 });
}

export function createControlServer(opts: ControlOptions): http.Server {
  const draining = opts.draining ?? (() => false);
  const metrics = metricsOf(opts);
  const counters = opts.counters ?? metrics;
  if (counters === null) throw new Error('a control server needs counters, metrics or a supervisor');
  const api: ApiContext = {
    push: opts.push ?? null,
    im: opts.im ?? null,
    metrics: counters,
    batchMaxTargets: opts.batchMaxTargets ?? DEFAULT_BATCH_MAX_TARGETS,
    log: opts.log,
    nodes: nodesReplies(opts.nodes ?? DEFAULT_NODES),
    liveNodes: opts.liveNodes ?? null,
    draining,
  };
  let own: { byPath: Array<[string, ApiRoute]>; debug: ApiRoute };
  if (opts.supervisor !== undefined && metrics !== null) {
    own = acceptorRoutes({ supervisor: opts.supervisor, listeners: opts.listeners ?? [], testCommands: opts.testCommands, startedAt: opts.startedAt ?? Date.now(), metrics, draining, drain: opts.drain ?? null });
  } else if (opts.forward !== undefined) own = handedOver();
  else throw new Error('a control server needs a supervisor (to answer health, metrics, debug) or forward');
  const kickKey = opts.kickKey ?? (opts.supervisor !== undefined ? kickOnEveryWorker(opts.supervisor) : null);
  const { routes, debug } = routeTable(own, [kickRoute(kickKey)]);
  const token = opts.token ?? '';
  const burst = opts.burst ?? CONFIG_DEFAULTS.control.burst;
  const ratePerSec = opts.ratePerSec ?? 0;
  let takeRate = opts.takeRate ?? null;
  if (takeRate === null && ratePerSec > 0) {
    const bucket = new TokenBucket(ratePerSec, burst);
    takeRate = () => bucket.take(Date.now());
  }
  const workerHeader = opts.testCommands && opts.worker !== undefined ? String(opts.worker) : null;
  const st: ServerState = {
    api,
    routes,
    debugRoute: debug,
    token: bearer(token),
    maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    metrics: counters,
    takeRate: ratePerSec > 0 ? takeRate : null,
    rateText: `rate limited: over ${ratePerSec} requests per second (control.ratePerSec, burst control.burst = ${burst}); retry later`,
    dashboard: new Dashboard({
      enabled: opts.dashboard?.enabled ?? CONFIG_DEFAULTS.control.dashboard,
      readOnly: opts.dashboard?.readOnly ?? CONFIG_DEFAULTS.control.dashboardReadOnly,
      snapshots: opts.snapshots ?? localSnapshots(opts, metrics, draining),
      hello: { workers: opts.workers ?? opts.supervisor?.workers ?? 0, startedAt: opts.startedAt ?? Date.now(), listeners: opts.listeners ?? [] },
      tokenRequired: token !== '',
      count: (label, status) => counters.countRequest(label, status),
      log: opts.log,
      headers: workerHeader === null ? {} : { 'x-ringcast-worker': workerHeader },
    }),
    log: opts.log,
    forward: opts.supervisor !== undefined ? null : (opts.forward ?? null),
    workerHeader,
    self: opts.worker ?? -1,
    crashSelf: opts.crashSelf ?? null,
  };

  const server = http.createServer<typeof ControlRequest>({ IncomingMessage: ControlRequest }, (req, res) => start(st, req, res));
  attachPushStream(server, {
    push: api.push,
    token: st.token,
    takeRate: st.takeRate,
    rateText: st.rateText,
    maxBodyBytes: st.maxBodyBytes,
    batchMaxTargets: api.batchMaxTargets,
    window: opts.streamWindow ?? CONFIG_DEFAULTS.control.streamWindow,
    counters,
    log: opts.log,
    workerHeader: st.workerHeader,
  });
  // A client that half-closes after its request (shutdown(SHUT_WR), as some HTTP/1.0 clients do) is
  // still answered: node:http otherwise aborts a request still being answered when the FIN comes,
  // and every answer a worker gets from the acceptor or another worker comes a turn later.
  (server as unknown as { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  server.on('close', () => {
    metrics?.close();
    st.dashboard.close();
  });
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
