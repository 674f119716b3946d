/**
 * Assembles one worker thread: its actor system (mailbox drain loop), its registry of connections
 * and rooms, its actors (connections, router shard, key-directory shard, deliverer, reliable-messaging shard), its
 * session extensions, its timer wheel, its admin surface, and its own listeners on its own
 * descriptors of the shared listening sockets. Nothing here handles a record or a packet: each actor
 * is handed the worker's frozen context (actors/context.ts). workers/worker.ts builds this from
 * workerData.
 */
import type http from 'node:http';
import type net from 'node:net';
import { ActorKind, ActorSystem } from './actor-system.js';
import { createAuthenticator } from './auth/index.js';
import { servePagesEnabled } from './config/index.js';
import { clusterEnabled } from './config/derived.js';
import { ST_ROUTER_ENTRIES, ST_STATE, WorkerState } from './layout.js';
import { SharedLimits } from './limits.js';
import type { Logger } from './logger.js';
import { MessageKind, RouterActorId, SystemActorId, type WorkerInit } from './messages.js';
import { ImOp } from './ops.js';
import { listenMars } from './protocols/mars.js';
import { listenTcp } from './protocols/tcp.js';
import type { Transport, TransportSink } from './protocols/transport.js';
import { listenWs } from './protocols/ws.js';
import { encodeReply, encodeRoomPush } from './push/records.js';
import { BoundedSender } from './im/requests.js';
import { requestOrigin, unansweredRequest } from './request-table.js';
import { SlowConsumerPolicies } from './push/slow-policy.js';
import { encodeKick } from './router-records.js';
import { SessionExtensions } from './session.js';
import { ThreadStatus } from './thread-status.js';
import { TimerWheel, type Expiring } from './timer-wheel.js';
import { DEMO_SERVICE, demoService, UpstreamClient } from './upstream/index.js';
import { ImGateway } from './im/gateway.js';
import { ImService } from './im/service.js';
import { RedisImPeers } from './cluster/im-peers-redis.js';
import { clusterNodeId } from './config/derived.js';
import { openImStore } from './cluster/im-data.js';
import { SupervisionActor, WorkerAdminSurface } from './worker-admin.js';
import { WorkerControl } from './worker-control.js';
import { ConnectionActor } from '../actors/connection.js';
import type { WorkerContext } from '../actors/context.js';
import { Deliverer } from '../actors/deliverer.js';
import { ImRequests } from '../actors/im-requests.js';
import { ImShard } from '../actors/im-shard.js';
import { KeyDirectory } from '../actors/key-directory.js';
import { RedisImShard } from '../actors/im-shard-redis.js';
import { Registry } from '../actors/registry.js';
import { RouterShard } from '../actors/router-shard.js';

const TIMER_SLOTS = 4096;
/** The extension slot of reliable messaging (the first and only session extension). */
const IM_SLOT = 0;

export class WorkerRuntime {
  readonly ctx: WorkerContext;
  readonly admin: WorkerAdminSurface;
  readonly control: WorkerControl;
  private readonly init: WorkerInit;
  private readonly servers: Array<net.Server | http.Server> = [];
  /** Cluster mode: Redis (again) reachable, the shard re-reads what notices it may have missed. */
  private imUp: () => void = () => undefined;
  private readonly deliverer: Deliverer;
  /** Closed at the end of a drain (the cluster engine joins them in cluster mode). */
  private readonly closeAtDrain: Array<{ close(): void }>;

  constructor(init: WorkerInit, log: Logger) {
    this.init = init;
    const { config, index, workers } = init;
    const status = new ThreadStatus(init.status, index);
    const limits = new SharedLimits(init.limits, workers, config.limits);
    // A replacement starts from zero (the supervisor cleared the dead worker's counts too).
    limits.clearWorker(index);
    const system = new ActorSystem({ self: index, mailboxes: init.mailboxes, status: init.status, overflowBytes: config.ring.overflowBytes, drainBudget: config.ring.drainBudget, log });
    const wheel = new TimerWheel<Expiring>(config.protocol.timerTickMs, TIMER_SLOTS, (owner) => owner.onTimeout());
    const registry = new Registry(
      {
        index,
        workers,
        buckets: config.bucketsPerWorker,
        handshakeTimeoutMs: config.protocol.handshakeTimeoutMs,
        multiLogin: config.multiLogin,
        reconnectSpreadMs: config.supervisor.reconnectSpreadMs,
        graceMs: config.shutdown.graceMs,
      },
      system,
      limits,
      wheel,
      status,
    );

    // Reliable messaging: this worker's shard of users, its senders' pending requests, its client ops.
    // The LMDB store on one box; in cluster mode the Redis store (src/cluster/im-data.ts).
    const imStores = openImStore(config, log, () => this.imUp());
    const imRequests = new ImRequests(system, workers, () => status.liveWorkers(workers), config.push.maxInFlight);
    // A push to a room from inside a worker (a group's live copy, a Demo/Say) on every worker: nobody
    // waits for it (its replies come back here under a request id no dispatcher hands out, and are ignored).
    const pushToRoom = (room: string, op: number, msg: Uint8Array): void => {
      const body = encodeRoomPush(unansweredRequest(index), op, room, msg);
      for (let w = 0; w < workers; w++) system.send(w, ActorKind.System, SystemActorId.Deliverer, MessageKind.PushRoom, body);
    };
    const broadcast = (room: string, msg: Uint8Array): void => pushToRoom(room, ImOp.Message, msg);
    const imService = new ImService(imStores.store, imRequests, config.im, broadcast);
    const imGateway = new ImGateway(imService, system, workers, config.im, config.push.writeQueueBytes, IM_SLOT);

    // The demo chat's Demo/Say exists only while the pages are served (ws.servePages).
    const builtIns = new Map(servePagesEnabled(config) ? [[DEMO_SERVICE, demoService(pushToRoom)] as const] : []);
    const upstream = new UpstreamClient(upstreamConfig(config.upstream), log, builtIns);
    this.ctx = Object.freeze({
      index,
      workers,
      system,
      registry,
      wheel,
      authenticate: createAuthenticator(config.auth, log),
      upstream,
      limits,
      extensions: new SessionExtensions([imGateway]),
      log,
      status,
      settings: Object.freeze({
        maxRooms: config.rooms.maxPerConnection,
        heartbeatTimeoutMs: config.protocol.heartbeatTimeoutMs,
        writeQueueBytes: config.push.writeQueueBytes,
        upstream: Object.freeze({ maxInFlight: config.upstream.maxInFlight, ratePerSec: config.upstream.ratePerSec, burst: config.upstream.burst }),
      }),
    });
    const ctx = this.ctx;

    const router = new RouterShard({
      entriesChanged: (n) => status.store(ST_ROUTER_ENTRIES, n),
      kick: (worker, connId, code, reason) => system.send(worker, ActorKind.Connection, connId, MessageKind.Kick, encodeKick(code, reason)),
      deliver: (worker, body) => system.send(worker, ActorKind.System, SystemActorId.Deliverer, MessageKind.Deliver, body),
      replyEmpty: (req) => system.send(requestOrigin(req), ActorKind.System, SystemActorId.PushDispatcher, MessageKind.PushReply, encodeReply(req, 0)),
    });
    const keys = new KeyDirectory({
      kick: (worker, connId, code, reason) => system.send(worker, ActorKind.Connection, connId, MessageKind.Kick, encodeKick(code, reason)),
      deliver: (worker, body) => system.send(worker, ActorKind.System, SystemActorId.Deliverer, MessageKind.Deliver, body),
      replyEmpty: (req) => system.send(requestOrigin(req), ActorKind.System, SystemActorId.PushDispatcher, MessageKind.PushReply, encodeReply(req, 0)),
    });
    const push = config.push;
    const deliverer = (this.deliverer = new Deliverer(ctx, { windowMs: push.batchWindowMs, maxBytes: push.batchMaxBytes, writeQueueBytes: push.writeQueueBytes }, new SlowConsumerPolicies(push.slowConsumerPolicy, push.roomPolicies)));
    let imShard: ImShard | RedisImShard;
    if (imStores.kind === 'lmdb') imShard = new ImShard(ctx, imStores.store, router, config.im);
    else {
      // Cluster mode: notices from the other boxes come on this worker's own channel, for its shard.
      const peers = new RedisImPeers(imStores.store, config.cluster.keyPrefix, clusterNodeId(config), index, log);
      const shard = new RedisImShard(ctx, imStores.store, peers, router, config.im);
      peers.start((body) => shard.receive(MessageKind.ImNotify, index, body, 0, body.length)).catch((err: unknown) => log.error({ err }, 'im (cluster): cannot subscribe to notices'));
      this.imUp = () => shard.engineUp();
      imShard = shard;
    }
    router.onRemoved = (mid, key, e) => imShard.connectionGone(mid, key, e.worker, e.connId);

    system.register(ActorKind.System, SystemActorId.Supervision, new SupervisionActor(ctx));
    system.register(ActorKind.System, SystemActorId.Deliverer, deliverer);
    system.register(ActorKind.System, SystemActorId.ImRequests, imRequests);
    system.register(ActorKind.RouterShard, RouterActorId.Shard, router);
    system.register(ActorKind.RouterShard, RouterActorId.Im, imShard);
    system.register(ActorKind.RouterShard, RouterActorId.Keys, keys);
    // Records for connections go through one handler per worker: no per-connection registration.
    // The connection decodes what is addressed to it.
    system.registerKind(ActorKind.Connection, (id, kind, _source, buf, off, len) => {
      const conn = registry.byId.get(id);
      if (conn === undefined) return false;
      conn.onRecord(kind, buf, off, len);
      return true;
    });

    // The control port's part: dispatcher, queries, the control API's messaging (bounded process-wide).
    this.control = new WorkerControl(
      ctx,
      init,
      { keys, router, im: (process) => new ImService(imStores.store, new BoundedSender(imRequests, process.sends, config.push.maxInFlight), config.im, broadcast) },
      () => this.admin,
    );
    this.closeAtDrain = [upstream, imRequests, this.control, ...(imStores.kind === 'redis' ? [{ close: () => void imStores.store.close() }] : [])];
    this.admin = new WorkerAdminSurface(ctx, { router, deliverer, servers: this.servers, timerTickMs: config.protocol.timerTickMs, closeAtDrain: this.closeAtDrain });
  }

  private startCluster(): Promise<void> {
    return buildCluster({ ctx: this.ctx, deliverer: this.deliverer, control: this.control, admin: this.admin, closeAtDrain: this.closeAtDrain }, this.init.config);
  }

  async start(): Promise<void> {
    const { config, fds } = this.init;
    const { system, wheel, status, log } = this.ctx;
    system.setLazyKinds([MessageKind.PushRoom, MessageKind.PushAll]);
    system.start();
    wheel.start();
    const ctx = this.ctx;
    const accept = (t: Transport): TransportSink => ConnectionActor.accept(ctx, t);
    const maxBody = config.protocol.maxBodyBytes;
    const wsOpts = { path: config.ws.path, perMessageDeflate: config.ws.perMessageDeflate, maxBody, upgradeTimeoutMs: config.protocol.handshakeTimeoutMs, servePages: servePagesEnabled(config) };
    const secure = this.init.tls ?? undefined;
    if (fds.tcp !== undefined) this.servers.push(await listenTcp(fds.tcp, maxBody, accept));
    if (fds.ws !== undefined) this.servers.push(await listenWs(fds.ws, wsOpts, accept));
    if (fds.mars !== undefined) this.servers.push(await listenMars(fds.mars, maxBody, accept));
    if (fds.tcps !== undefined && secure !== undefined) this.servers.push(await listenTcp(fds.tcps, maxBody, accept, secure));
    if (fds.wss !== undefined && secure !== undefined) this.servers.push(await listenWs(fds.wss, { ...wsOpts, secure }, accept));
    // Cluster mode: this worker's engine, before the listeners, so that the first connection is registered.
    if (clusterEnabled(config)) await this.startCluster();
    // The control port stays up through a drain (it reports it): not among the servers a drain closes.
    const control = fds.control !== undefined ? await this.control.listen(fds.control, this.admin) : null;
    // An accept can fail (EMFILE: out of descriptors); without a listener that would kill the worker.
    // Logged at most once a second: keep limits.maxConnections below the descriptor limit.
    let loggedAt = 0;
    const onListenerError = (err: Error): void => {
      const now = Date.now();
      if (now - loggedAt < 1000) return;
      loggedAt = now;
      log.error({ err }, 'listener error (accept failed)');
    };
    for (const server of this.servers) server.on('error', onListenerError);
    control?.on('error', onListenerError);
    status.store(ST_STATE, WorkerState.Ready);
  }
}

/**
 * Cluster mode (docs/cluster.md): this worker's own engine connections, its cluster member (directory,
 * rooms, what other boxes send), and the push service that reaches every box for its control port.
 * Loaded only in cluster mode: on one box no Redis code is imported.
 */
async function buildCluster(rt: { ctx: WorkerContext; deliverer: Deliverer; control: WorkerControl; admin: WorkerAdminSurface; closeAtDrain: Array<{ close(): void }> }, config: WorkerInit['config']): Promise<void> {
  const [{ createEngine }, { engineOptions }, { ClusterPushService }, { ClusterMember }] = await Promise.all([
    import('./cluster/redis-engine.js'),
    import('./cluster/options.js'),
    import('./cluster/push.js'),
    import('../actors/cluster-member.js'),
  ]);
  const { index, registry, log } = rt.ctx;
  const engine = createEngine(engineOptions(config, `worker-${index}`), (err) => log.debug({ err }, 'cluster engine error'));
  const member = new ClusterMember(engine, {
    index,
    byKey: registry.byKey,
    connections: () => [...registry.byId.values()].filter((c) => c.registered),
    roomMembers: (room) => registry.rooms.byId.get(room)?.members,
    deliver: (op, conns, body) => void rt.deliverer.deliverTo(op, conns, body),
    fanout: (room, op, body) => rt.deliverer.fanout(room, op, body),
    multiLogin: config.multiLogin,
    log,
  });
  registry.cluster = member;
  rt.admin.cluster = member;
  rt.control.clusterPush = new ClusterPushService(rt.control.dispatcher, engine);
  rt.control.liveNodes = async () => (await engine.liveNodes()).map((n) => ({ node_id: n.nodeId, addrs: n.addrs, weight: n.weight }));
  rt.closeAtDrain.push({ close: () => void engine.close() });
  try {
    await engine.connect();
  } catch (err) {
    // The acceptor reached Redis a moment ago; the engine goes on reconnecting and subscribes then.
    log.warn({ err }, 'cluster engine not reachable at start: cross-box pushes refused until it is');
  }
  await member.start();
}

/** upstream.services (parsed at load) with each service's timeout. */
function upstreamConfig(u: WorkerInit['config']['upstream']): ConstructorParameters<typeof UpstreamClient>[0] {
  const serviceMap: Record<string, { url: string; timeoutMs: number }> = {};
  for (const { name, url } of u.services) serviceMap[name] = { url, timeoutMs: u.timeoutMs };
  return { services: serviceMap, maxInFlight: u.maxInFlight, ratePerSec: u.ratePerSec, burst: u.burst };
}
