/**
 * The control port as one worker serves it: its push dispatcher (the pushes its port takes, and
 * their replies), its questions to the other workers (online counts, sessions), a messaging
 * service for POST /im/send and the /im reads, the HTTP server on this worker's own descriptor of
 * the control port (the dashboard's files included), and the comlink port to the acceptor for the
 * routes it answers (health, metrics, test commands, group administration, the drain) and for the
 * dashboard's snapshots. Nothing of a push goes through the acceptor.
 */
import http from 'node:http';
import * as Comlink from 'comlink';
import { ActorKind } from './actor-system.js';
import { nodeEndpoint } from './comlink-node.js';
import { RemoteSnapshots, type DashboardHop } from './control/dashboard/remote.js';
import { createControlServer } from './control/http.js';
import { Disconnect } from './errors.js';
import { shardOfKey } from './hash.js';
import { SharedControlCounters } from './control/counters.js';
import type { ImService } from './im/service.js';
import type { LiveNodesSource } from './control/goim-api.js';
import type { ClusterPushService } from './cluster/push.js';
import { SystemActorId, type AcceptorControl, type WorkerInit } from './messages.js';
import { ProcessWords } from './process-words.js';
import type { WorkerAdminSurface } from './worker-admin.js';
import type { WorkerContext } from '../actors/context.js';
import type { KeyDirectory } from '../actors/key-directory.js';
import { PushDispatcher } from '../actors/push-dispatcher.js';
import type { RouterShard } from '../actors/router-shard.js';
import { QueryType, WorkerQueries } from '../actors/worker-queries.js';

export interface ControlParts {
  readonly keys: KeyDirectory;
  readonly router: RouterShard;
  /** Reliable messaging for the control API's sends and reads (bounded by push.maxInFlight process-wide). */
  readonly im: (process: ProcessWords) => ImService;
}

export class WorkerControl {
  readonly process: ProcessWords;
  readonly dispatcher: PushDispatcher;
  readonly queries: WorkerQueries;
  private readonly ctx: WorkerContext;
  private readonly init: WorkerInit;
  private readonly im: ImService;
  /** Cluster mode (set by the runtime before listen): the push service that reaches every box, and the live boxes. */
  clusterPush: ClusterPushService | null = null;
  liveNodes: LiveNodesSource | null = null;

  constructor(ctx: WorkerContext, init: WorkerInit, parts: ControlParts, admin: () => WorkerAdminSurface) {
    this.ctx = ctx;
    this.init = init;
    const { system, registry, workers, index, status, log } = ctx;
    this.process = new ProcessWords(init.control.process, workers, index);
    this.queries = new WorkerQueries(
      system,
      (type, question) => {
        const q = question as { prefix?: string; rooms?: string[]; mid?: number; keys?: string[]; key?: string };
        switch (type) {
          case QueryType.RoomCounts: {
            const out: Record<string, number> = {};
            if (q.rooms !== undefined) for (const r of q.rooms) out[r] = registry.rooms.localCount(r);
            else for (const [room, n] of Object.entries(registry.rooms.localCounts())) if (room.startsWith(q.prefix ?? '')) out[room] = n;
            return out;
          }
          case QueryType.OnlineTotal:
            return { conns: registry.byId.size, ips: [...registry.ips.keys()] };
          case QueryType.RouterLookup:
            return parts.router.lookup(q.mid ?? 0);
          case QueryType.SessionInfo:
            return admin().sessionInfo(q.keys ?? []);
          case QueryType.KickKey:
            return parts.keys.kickKey(q.key ?? '', Disconnect.Kicked.code, Disconnect.Kicked.reason) ? 1 : 0;
          default:
            return null;
        }
      },
      log,
    );
    this.dispatcher = new PushDispatcher({ workers, system, liveWorkers: () => status.runningWorkers(workers), isLive: (w) => status.isRunning(w), keys: parts.keys, queries: this.queries, inFlight: this.process.pushes }, log, init.config.push.maxInFlight);
    system.register(ActorKind.System, SystemActorId.PushDispatcher, this.dispatcher);
    system.register(ActorKind.System, SystemActorId.Queries, this.queries);
    this.im = parts.im(this.process);
  }

  /** Serves the control port on this worker's descriptor of it. */
  async listen(fd: number, admin: WorkerAdminSurface): Promise<http.Server> {
    const { config, index, control } = this.init;
    const c = config.control;
    const acceptor = Comlink.wrap<AcceptorControl & DashboardHop>(nodeEndpoint(control.acceptor));
    const process = this.process;
    const queries = this.queries;
    const workers = this.init.workers;
    const server = createControlServer({
      testCommands: config.debug.testCommands,
      log: this.ctx.log,
      push: this.clusterPush ?? this.dispatcher,
      liveNodes: this.liveNodes ?? undefined,
      im: this.im,
      token: c.token,
      maxBodyBytes: c.maxBodyBytes,
      batchMaxTargets: c.batchMaxTargets,
      ratePerSec: c.ratePerSec,
      burst: c.burst,
      takeRate: () => process.takeRate(c.ratePerSec, c.burst),
      counters: new SharedControlCounters(control.counters, index),
      nodes: control.nodes,
      draining: () => process.draining,
      forward: (req) => acceptor.handle(req),
      worker: index,
      crashSelf: (mode) => admin.debugCrash(mode),
      streamWindow: c.streamWindow,
      // The dashboard: its files from this worker, its snapshots from the acceptor (only while watched).
      dashboard: { enabled: control.dashboard.enabled, readOnly: control.dashboard.readOnly },
      snapshots: new RemoteSnapshots(acceptor, index),
      workers,
      startedAt: control.dashboard.startedAt,
      listeners: control.dashboard.listeners,
      // A kick goes to the key's key-directory shard, which kicks the holder (as a push by key goes);
      // in a cluster a key no worker of this box holds is looked up and kicked on its box.
      kickKey: async (key) => {
        const here = Number((await queries.ask(shardOfKey(key, workers), QueryType.KickKey, { key })) ?? 0);
        if (here > 0 || this.clusterPush === null) return here;
        return this.clusterPush.kickElsewhere(key, Disconnect.Kicked.code, Disconnect.Kicked.reason);
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ fd }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server;
  }

  /** At the end of a drain: what is still pending is answered with what was counted. */
  close(): void {
    this.dispatcher.close();
    this.queries.close();
  }
}
