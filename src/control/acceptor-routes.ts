/**
 * The control routes the acceptor answers, because what they report or command is the supervisor's:
 * GET /health (every worker's state), GET /metrics (everything summed, Prometheus text), POST
 * /admin/drain (the SIGTERM path) and the test-only /debug routes (commands to one worker over comlink). When the workers serve the control
 * port they hand these requests to the acceptor (src/control/acceptor-control.ts); a
 * server built for the acceptor alone (tests) serves them itself.
 */
import type { CrashMode } from '../messages.js';
import type { Supervisor } from '../supervisor.js';
import { threadMemory } from '../thread-memory.js';
import { first, HttpError, intParam, RawReply, type ApiContext, type ApiRequest, type ApiRoute } from './goim-api.js';
import { drainRoute } from './admin-api.js';
import type { ControlMetrics } from './metrics.js';

const JSON_TYPE = 'application/json; charset=utf-8';

export interface AcceptorRouteOptions {
  supervisor: Supervisor;
  listeners: Array<{ name: string; host: string; port: number }>;
  testCommands: boolean;
  startedAt: number;
  metrics: ControlMetrics;
  draining: () => boolean;
  /** Starts the graceful drain (POST /admin/drain); null = that route answers 503. */
  drain: (() => void) | null;
  /** Cluster mode: the /health section of the cluster (docs/cluster.md); absent on one box. */
  cluster?: () => Promise<{ readonly engine: { readonly state: string } }>;
}

/** /health, /metrics and /admin/drain by path, and the /debug route (every path under /debug/). */
export function acceptorRoutes(opts: AcceptorRouteOptions): { byPath: Array<[string, ApiRoute]>; debug: ApiRoute } {
  const { supervisor, metrics, draining } = opts;

  async function health(): Promise<RawReply> {
    const workers = supervisor.statuses();
    const ready = workers.filter((w) => w.state === 'ready' && !w.stalled).length;
    // Draining answers 503 so that load balancers stop sending clients here.
    const cluster = opts.cluster !== undefined ? await opts.cluster() : undefined;
    // A box whose cluster engine is not up still serves its own clients: degraded, not down.
    const clusterUp = cluster === undefined || cluster.engine.state === 'up';
    const status = draining() ? 'draining' : ready === workers.length && clusterUp ? 'ok' : ready > 0 ? 'degraded' : 'down';
    const body = {
      status,
      uptimeSec: Math.round((Date.now() - opts.startedAt) / 1000),
      workers,
      listeners: opts.listeners,
      connections: workers.reduce((n, w) => n + w.connections, 0),
      ...(cluster !== undefined ? { cluster } : {}),
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
        // The worker that took this request must write the answer before it dies: it crashes itself
        // once the answer is out (src/control/http.ts).
        if (req.apiFrom === Number(m[1])) req.apiCrashAfter = mode as CrashMode;
        else await admin.debugCrash(mode as CrashMode);
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

  return {
    byPath: [
      ['/health', { label: '/health', methods: ['GET'], body: false, hop: true, handle: health }],
      ['/metrics', { label: '/metrics', methods: ['GET'], body: false, hop: true, handle: renderMetrics }],
      drainRoute({ drain: opts.drain, draining }),
    ],
    // Debug routes read no body (the handler checks the method).
    debug: { label: '/debug', methods: null, body: false, hop: true, handle: debug },
  };
}
