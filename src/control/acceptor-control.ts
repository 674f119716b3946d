/**
 * The acceptor's side of the control port (src/control/http.ts serves the port on the workers):
 * it answers the `hop` routes the workers hand it, after their token, rate and body checks, and
 * keeps the dashboard's snapshot samplers for the workers that have a stream open.
 */
import type { ClusterSnapshot } from '../cluster/box.js';
import { CONFIG_DEFAULTS } from '../config/index.js';
import type { ImService } from '../im/service.js';
import type { Logger } from '../logger.js';
import type { AcceptorControl, ForwardedReply, ForwardedRequest } from '../messages.js';
import type { Supervisor } from '../supervisor.js';
import { acceptorRoutes } from './acceptor-routes.js';
import { answer, EMPTY_QUERY, errorAnswer, parseQuery, routeTable } from './answer.js';
import { SnapshotSamplers, type DashboardHop } from './dashboard/remote.js';
import { DEFAULT_NODES, nodesReplies, type ApiContext, type ApiRequest } from './goim-api.js';
import { ControlMetrics, type MetricsSource } from './metrics.js';

export interface AcceptorControlOptions {
  supervisor: Supervisor;
  listeners: Array<{ name: string; host: string; port: number }>;
  testCommands: boolean;
  log: Logger;
  startedAt: number;
  /** Reliable messaging for the group administration routes. */
  im: ImService | null;
  metrics: MetricsSource;
  draining: () => boolean;
  /** Starts the graceful drain (POST /admin/drain). */
  drain: (() => void) | null;
  /** Cluster mode: the /health section of the cluster. */
  cluster?: () => Promise<{ readonly engine: { readonly state: string } }>;
  /** Cluster mode: the dashboard's cluster figures (src/cluster/box.ts). */
  clusterSnapshot?: () => ClusterSnapshot;
}

/**
 * The acceptor's side of the control port: answers the `hop` routes the workers hand it (health,
 * metrics, test commands, group administration, the drain), after their token, rate and body
 * checks, and the dashboard's snapshots of the workers that have a stream open
 * (src/control/dashboard/remote.ts).
 */
export function createAcceptorControl(opts: AcceptorControlOptions): AcceptorControl & DashboardHop & { close(): void; workerGone(worker: number): void } {
  const metrics = new ControlMetrics(opts.metrics);
  const api: ApiContext = { push: null, im: opts.im, metrics, batchMaxTargets: CONFIG_DEFAULTS.control.batchMaxTargets, log: opts.log, nodes: nodesReplies(DEFAULT_NODES), liveNodes: null, draining: opts.draining };
  const { routes, debug } = routeTable(acceptorRoutes({ ...opts, metrics }));
  // The same figures the dashboard of a server answering alone reads (localSnapshots, src/control/http.ts).
  const samplers = new SnapshotSamplers({
    workers: () => opts.supervisor.statuses(),
    refusals: () => metrics.refusals(),
    pushTotals: () => metrics.pushTotals(),
    pushesInFlight: () => opts.metrics.pushesInFlight?.() ?? 0,
    draining: opts.draining,
    ...(opts.clusterSnapshot !== undefined ? { cluster: opts.clusterSnapshot } : {}),
  });
  return {
    dashboard: (from, op) => samplers.dashboard(from, op),
    workerGone: (worker) => samplers.forget(worker),
    async handle(fwd: ForwardedRequest): Promise<ForwardedReply> {
      const qi = fwd.url.indexOf('?');
      const path = qi < 0 ? fwd.url : fwd.url.slice(0, qi);
      const route = routes.get(path) ?? (path.startsWith('/debug/') ? debug : undefined);
      if (route === undefined || route.hop !== true) return errorAnswer(404, `unknown route ${path}`);
      const req: ApiRequest = {
        method: fwd.method,
        headers: fwd.contentType === undefined ? {} : { 'content-type': fwd.contentType },
        apiPath: path,
        apiQuery: qi >= 0 ? parseQuery(fwd.url.slice(qi + 1)) : EMPTY_QUERY,
        apiBody: Buffer.from(fwd.body.buffer, fwd.body.byteOffset, fwd.body.byteLength),
        apiFrom: fwd.from,
      };
      const a = await answer(api, route, req, opts.log, fwd.url);
      return req.apiCrashAfter === undefined ? a : { ...a, crashAfter: req.apiCrashAfter };
    },
    close: () => {
      samplers.close();
      metrics.close();
    },
  };
}
