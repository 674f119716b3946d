/**
 * ringcast's entry point: the acceptor. It resolves the config (exit 2 on a bad one), binds the
 * client listeners and the control port through the descriptor pool (every worker serves both on
 * its own descriptors), starts and supervises the workers, answers the control routes the workers
 * hand it (health, metrics, test commands, group administration), and stops everything cleanly on
 * SIGINT/SIGTERM.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { loadConfig, resolvedWorkers, tlsEnabled, type Config } from './config/index.js';
import { clusterEnabled, withClusterNodeId } from './config/derived.js';
import type { ClusterBox } from './cluster/box.js';
import type { Logger } from './logger.js';
import { StartupError } from './errors.js';
import * as Comlink from 'comlink';
import { nodeEndpoint } from './comlink-node.js';
import { controlTotals, createControlCounters } from './control/counters.js';
import type { DashboardHop, SnapshotOp } from './control/dashboard/remote.js';
import { createAcceptorControl } from './control/acceptor-control.js';
import { shardOfMid } from './hash.js';
import { ListenFdPool, type ListenerSpec } from './listen-fds.js';
import { createLogger } from './logger.js';
import { Supervisor } from './supervisor.js';
import { ActorKind } from './actor-system.js';
import { MessageKind, SystemActorId, type AcceptorControl, type ForwardedRequest } from './messages.js';
import { encodeRoomPush } from './push/records.js';
import { unansweredRequest } from './request-table.js';
import { imStatus } from './im/status.js';
import { ImRequests } from '../actors/im-requests.js';
import { ImOp } from './ops.js';
import { ImService } from './im/service.js';
import { checkImPersistence, openImStore } from './cluster/im-data.js';

/**
 * Reads and checks tls.cert and tls.key (PEM files); a problem stops start-up with exit code 2 and a
 * line naming the key, as any other config error. Returns the PEM texts, or null without TLS.
 */
function readTls(config: Config): { cert: string; key: string } | null {
  if (!tlsEnabled(config)) return null;
  const fail = (key: string, file: string, expected: string): never => {
    throw new StartupError(`config: ${key} = ${JSON.stringify(file)}: ${expected}`, 2);
  };
  const read = (key: string, file: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      return fail(key, file, `expected a readable PEM file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  };
  const cert = read('tls.cert', config.tls.cert);
  const key = read('tls.key', config.tls.key);
  try {
    new X509Certificate(cert);
  } catch (err) {
    fail('tls.cert', config.tls.cert, `expected a PEM certificate (${(err as Error).message})`);
  }
  try {
    createPrivateKey(key);
  } catch (err) {
    fail('tls.key', config.tls.key, `expected a PEM private key (${(err as Error).message})`);
  }
  try {
    tls.createSecureContext({ cert, key });
  } catch (err) {
    fail('tls.key', config.tls.key, `expected the private key of tls.cert (${(err as Error).message})`);
  }
  return { cert, key };
}

/** A signal this soon (ms) after the first one that started the drain counts as the same one. */
const SAME_SIGNAL_MS = 1000;

/** Runs a start-up step; a failure stops start-up with `ringcast: <describe(err)>` (exit 1). */
async function step<T>(run: () => T | Promise<T>, describe: (err: NodeJS.ErrnoException) => string = (err) => err.message): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof StartupError) throw err;
    throw new StartupError(describe(err as NodeJS.ErrnoException));
  }
}

/**
 * Cluster mode: the acceptor's engine and its part (src/cluster/box.ts): connect, take the lease
 * (StartupError naming cluster.nodeId when a live box holds it), and the count round's source, read
 * from the workers over comlink.
 */
async function startCluster(config: Config, supervisor: Supervisor, log: Logger, ports: { host: string; tcp: number; ws: number; control: number }, startedAt: number): Promise<ClusterBox> {
  const [{ createEngine }, { engineOptions }, { ClusterBox }] = await Promise.all([import('./cluster/redis-engine.js'), import('./cluster/options.js'), import('./cluster/box.js')]);
  const engine = createEngine(engineOptions(config, 'acceptor'), (err) => log.debug({ err }, 'cluster engine error'));
  const admins = (): Array<[number, NonNullable<ReturnType<Supervisor['admin']>>]> =>
    supervisor.liveWorkers().flatMap((w) => {
      const a = supervisor.admin(w);
      return a === null ? [] : [[w, a] as [number, NonNullable<ReturnType<Supervisor['admin']>>]];
    });
  const box = new ClusterBox(
    engine,
    config.cluster.leaseMs,
    config.cluster.countIntervalMs,
    {
      async counts() {
        let connections = 0;
        const ips = new Set<string>();
        const rooms = new Map<string, number>();
        for (const [, a] of admins()) {
          const [c, ipList, rc] = await Promise.all([a.connectionCount(), a.ips(), a.roomCounts()]);
          connections += c;
          for (const ip of ipList) ips.add(ip);
          for (const [room, k] of Object.entries(rc)) rooms.set(room, (rooms.get(room) ?? 0) + k);
        }
        return { connections, ips: ips.size, rooms };
      },
      async setRoomTotals(totals) {
        await Promise.all(admins().map(([, a]) => a.setRoomTotals(totals)));
      },
      resyncWorkers() {
        for (const [, a] of admins()) void a.clusterResync();
      },
      async workerStats() {
        const out = await Promise.all(admins().map(async ([w, a]) => ({ worker: w, stats: await a.clusterStats() })));
        return out.flatMap((o) => (o.stats === null ? [] : [{ worker: o.worker, ...o.stats }]));
      },
    },
    log,
  );
  const { host, tcp, ws, control } = ports;
  const addrs: Record<string, string> = { host, control: `${host}:${control}` };
  if (tcp > 0) addrs.tcp = `${host}:${tcp}`;
  if (ws > 0) addrs.ws = `${host}:${ws}`;
  await box.start({ addrs, weight: 1, meta: { startedAt: String(startedAt) } });
  supervisor.localRoomCounts = false;
  return box;
}

async function main(): Promise<void> {
  const startedAt = Date.now();
  const loaded = loadConfig(process.argv.slice(2), process.env);
  const log = createLogger(loaded.log.level, 'acceptor');
  const workers = resolvedWorkers(loaded);
  const tlsPem = readTls(loaded);

  const specs: ListenerSpec[] = [];
  if (loaded.tcp.enabled) specs.push({ name: 'tcp', host: loaded.tcp.host, port: loaded.tcp.port });
  if (loaded.ws.enabled) specs.push({ name: 'ws', host: loaded.ws.host, port: loaded.ws.port });
  if (loaded.mars.port !== 0) specs.push({ name: 'mars', host: loaded.mars.host, port: loaded.mars.port });
  if (tlsPem !== null && loaded.tls.tcpPort !== 0) specs.push({ name: 'tcps', host: loaded.tls.host, port: loaded.tls.tcpPort });
  if (tlsPem !== null && loaded.tls.wsPort !== 0) specs.push({ name: 'wss', host: loaded.tls.host, port: loaded.tls.wsPort });
  // The control port: every worker serves it on its own descriptor, as the client ports.
  specs.push({ name: 'control', host: loaded.control.host, port: loaded.control.port });
  const fds = await step(() => ListenFdPool.open(specs, workers, loaded.supervisor.spareListenFds));
  const controlPort = fds.listeners.find((l) => l.name === 'control')!.port;
  // The default cluster.nodeId names the control port as bound (control.port 0 = any free port):
  // resolved here, before the lease is taken and the workers read the config.
  const config = withClusterNodeId(loaded, controlPort);
  // The message store, once the listeners are bound: a data directory that cannot be opened stops
  // start-up with its reason.
  // In cluster mode the store is Redis (src/cluster/im-data.ts): nothing to open here, and the first
  // connection says in the log what an acknowledged message survives.
  let persistenceChecked = false;
  const imStores = await step(
    () => openImStore(config, log, () => {
      if (persistenceChecked || imStores.kind !== 'redis') return;
      persistenceChecked = true;
      void checkImPersistence(imStores.store, log);
    }),
    (err) => `cannot open the message store in im.dataDir "${config.im.dataDir}": ${err.message}`,
  );
  const imStore = imStores.store;
  // Idempotency entries expire by whole time buckets (src/im/store.ts): one sweep per half window.
  // (Redis expires them by itself: each has its own TTL.)
  if (imStores.kind === 'lmdb' && config.im.idempotencyMs > 0) {
    const lmdb = imStores.store;
    const windowMs = config.im.idempotencyMs;
    setInterval(() => {
      try {
        const n = lmdb.expireIdempotency(Date.now(), windowMs);
        if (n > 0) log.debug({ n }, 'im: expired idempotency entries');
      } catch (err) {
        log.warn({ err }, 'im: idempotency expiry failed');
      }
    }, Math.min(3_600_000, Math.max(1000, windowMs / 2))).unref();
  }

  fds.onRefillError = (err) => log.error({ err }, 'could not duplicate listening descriptors for replacement workers');

  const supervisor = new Supervisor(config, workers, fds, log);
  supervisor.tls = tlsPem;
  supervisor.extensionStatus = imStatus;
  supervisor.onAllFailed = () => {
    log.fatal('every worker keeps dying: stopping');
    process.exit(1);
  };

  // The client listeners (the control port is served by the workers too, but is not one of them).
  const listeners = fds.listeners.filter((l) => l.name !== 'control').map((l) => ({ name: l.name, host: l.host, port: l.port }));
  // Reliable messaging in the acceptor: group administration (the workers hand those routes over).
  const imRequests = new ImRequests(supervisor.system, workers, () => supervisor.liveWorkers(), config.push.maxInFlight);
  supervisor.system.register(ActorKind.System, SystemActorId.ImRequests, imRequests);
  const im = new ImService(imStore, imRequests, config.im, (room, msg) => {
    // Group sends are served by the workers; a broadcast from here would go the same way, unanswered.
    const body = encodeRoomPush(unansweredRequest(workers), ImOp.Message, room, msg);
    for (const w of supervisor.liveWorkers()) supervisor.system.send(w, ActorKind.System, SystemActorId.Deliverer, MessageKind.PushRoom, body);
  }, async (mid, room) => {
    // A removed member's connections leave the group's room (control plane: rare, comlink calls).
    const shard = supervisor.admin(shardOfMid(mid, workers));
    if (shard === null) return;
    for (const [key, worker] of await shard.routerLookup(mid)) await supervisor.admin(worker)?.evictFromRoom([key], room);
  });
  // /goim/nodes advertises only what listens: a listener that is off (tcp.enabled false, TLS off) is port 0.
  const listening = (name: string): number => fds.listeners.find((l) => l.name === name)?.port ?? 0;
  const n = config.nodes;
  const addrs = [...n.addrs];
  // Cluster mode (docs/cluster.md): the lease of this box's id is taken before any worker starts; a
  // live box with the same id stops start-up here. Nothing of it is loaded on one box.
  const cluster = clusterEnabled(config) ? await startCluster(config, supervisor, log, {
    host: addrs[0] ?? (config.tcp.host === '0.0.0.0' ? '127.0.0.1' : config.tcp.host),
    tcp: listening('tcp'),
    ws: listening('ws'),
    control: controlPort,
  }, startedAt) : null;
  // Set at SIGTERM/SIGINT: the control port stays up through the drain and says so.
  let stopping = false;
  const counters = createControlCounters(workers);
  const acceptorControl = createAcceptorControl({
    supervisor,
    listeners,
    testCommands: config.debug.testCommands,
    log,
    startedAt,
    im,
    draining: () => stopping,
    // POST /admin/drain: the same drain as SIGTERM (`stop` is defined below, before any request comes).
    drain: () => void stop('POST /admin/drain'),
    metrics: {
      workers: () => supervisor.statuses(),
      limitRefusals: () => supervisor.limits.refusals(),
      pushesInFlight: () => supervisor.process.pushes.count(),
      controlTotals: () => controlTotals(counters, workers),
      ...(cluster !== null
        ? { cluster: () => ({ up: cluster.up(), probeMs: cluster.engine.stats().lastProbeMs, errors: cluster.errors(), liveBoxes: cluster.liveNodes().length, countsAgeMs: cluster.health().countsAgeMs }) }
        : {}),
    },
    ...(cluster !== null ? { cluster: async () => cluster.health(), clusterSnapshot: () => cluster.dashboard() } : {}),
  });
  // A dead worker's dashboard streams died with it: the acceptor stops sampling for it.
  supervisor.onWorkerDeath = (worker) => acceptorControl.workerGone(worker);
  if (cluster !== null) supervisor.cleanUpWorker = (worker) => cluster.workerDied(worker);
  supervisor.control = {
    counters,
    dashboard: { enabled: config.control.dashboard, readOnly: config.control.dashboardReadOnly, startedAt, listeners },
    nodes: {
      domain: n.domain,
      tcpPort: listening('tcp'),
      wsPort: listening('ws'),
      // nodes.wssPort other than tls.wsPort is a TLS proxy's port, advertised as given; equal to it
      // (the default), it is ringcast's own wss listener, advertised only while that listens.
      wssPort: listening('wss') || (n.wssPort !== config.tls.wsPort ? n.wssPort : 0),
      heartbeatSec: n.heartbeatSec,
      heartbeatMax: n.heartbeatMax,
      backoff: { maxDelay: n.backoffMaxDelay, baseDelay: n.backoffBaseDelay, factor: n.backoffFactor, jitter: n.backoffJitter },
      addrs: addrs.length > 0 ? addrs : [config.tcp.host === '0.0.0.0' ? '127.0.0.1' : config.tcp.host],
    },
    // Each worker's own port to the routes the acceptor answers.
    exposeControl: (port) =>
      Comlink.expose(
        { handle: (req: ForwardedRequest) => acceptorControl.handle(req), dashboard: (from: number, op: SnapshotOp) => acceptorControl.dashboard(from, op) } satisfies AcceptorControl & DashboardHop,
        nodeEndpoint(port),
      ),
  };
  await step(() => supervisor.start());
  cluster?.startCounts();

  // Signal handlers before the ready lines: whoever waits for those lines may signal at once.
  // Ctrl-C under `npm start` delivers SIGINT twice: the terminal signals the whole process group and
  // npm forwards its own copy a moment later. A signal within SAME_SIGNAL_MS of the first is that
  // same request to drain; only a later one means "exit now".
  let firstSignalAt = 0;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) {
      const sinceMs = performance.now() - firstSignalAt;
      if (sinceMs < SAME_SIGNAL_MS) {
        log.info({ signal, sinceMs: Math.round(sinceMs) }, 'signal again within a second of the first: the same request, still draining');
        return;
      }
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    firstSignalAt = performance.now();
    supervisor.process.setDraining();
    const t0 = Date.now();
    log.info({ signal, graceMs: config.shutdown.graceMs }, 'draining');
    // Listeners close, clients are told to reconnect elsewhere, queues flush; the control port
    // stays up meanwhile (it reports draining and lists no node), and closes last.
    const { forced } = await supervisor.stop(config.shutdown.graceMs);
    // The lease is given back: a box started with this id may start at once.
    await cluster?.stop();
    acceptorControl.close();
    imRequests.close();
    log.info({ ms: Date.now() - t0, forced }, 'stopped');
    process.stdout.write(`ringcast: stopped (${signal}) in ${Date.now() - t0} ms\n`);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  const lines = [`ringcast: ${workers} worker${workers === 1 ? '' : 's'}`];
  for (const l of listeners) lines.push(`ringcast: ${l.name} listening on ${l.host}:${l.port}${l.name === 'ws' || l.name === 'wss' ? ` (path ${config.ws.path})` : ''}`);
  lines.push(`ringcast: control listening on ${config.control.host}:${controlPort}`);
  process.stdout.write(lines.join('\n') + '\n');
  log.info({ workers, listeners, controlPort, startupMs: Date.now() - startedAt }, 'ready');

}

// Start-up failures end here, once: on stderr, every line of the message with the prefix (so that
// each of several config problems says where it comes from), and the error's exit code.
await main().catch((err: unknown) => {
  if (!(err instanceof StartupError)) throw err;
  process.stderr.write(err.message.split('\n').map((line) => `ringcast: ${line}\n`).join(''));
  process.exit(err.exitCode);
});
