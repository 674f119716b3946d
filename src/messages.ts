/**
 * What threads say to each other.
 *
 * Ring records (hot path and supervision) carry a numeric MessageKind in the record header and a
 * binary body laid out by the actor that receives it. Rare acceptor↔worker admin calls go through
 * comlink (WorkerAdmin), and the few lifecycle events a worker reports by itself are typed
 * postMessage objects (WorkerEvent). What a worker is started with is WorkerInit (workerData).
 *
 * Thread indexes: workers are 0..N-1, the acceptor (main thread) is N.
 */
import type { MessagePort } from 'node:worker_threads';
import type { Config } from './config/index.js';
import type { LimitName } from './limits.js';
import type { ThreadMemory } from './thread-memory.js';

/** What a worker thread is started with (workerData), from the supervisor. */
export interface WorkerInit {
  index: number;
  workers: number;
  config: Config;
  mailboxes: SharedArrayBuffer[];
  status: SharedArrayBuffer;
  /** Connection counts and limit refusals shared by every thread (src/limits.ts). */
  limits: SharedArrayBuffer;
  /** PEM text of tls.cert and tls.key, read by the acceptor at start-up; null without TLS. */
  tls: { cert: string; key: string } | null;
  fds: Record<string, number>;
  /** The control port's part of the worker (src/worker-control.ts). */
  control: ControlSetup;
}

/** What /goim/nodes/* report (src/control/goim-api.ts); fixed at start-up by the acceptor. */
export interface NodesOptions {
  /** Host name handed to `web` clients by /goim/nodes/weighted ("" = use addrs). */
  domain: string;
  tcpPort: number;
  wsPort: number;
  /** wss port advertised (ringcast's own TLS listener or a proxy's; 0 = none). */
  wssPort: number;
  /** Client heartbeat interval, seconds. */
  heartbeatSec: number;
  /** Missed heartbeats after which a client reconnects. */
  heartbeatMax: number;
  backoff: { maxDelay: number; baseDelay: number; factor: number; jitter: number };
  /** Public addresses (hosts) of this server. */
  addrs: string[];
}

/**
 * The control port as a worker serves it: the process-wide limits and flags (src/process-words.ts),
 * the shared counters /metrics sums (src/control/counters.ts), what the acceptor fixed at start-up,
 * and a port to the acceptor for the rare routes it answers (comlink, AcceptorControl).
 */
export interface ControlSetup {
  process: SharedArrayBuffer;
  counters: SharedArrayBuffer;
  nodes: NodesOptions;
  dashboard: DashboardSetup;
  /** A MessagePort (transferred) exposing the acceptor's AcceptorControl. */
  acceptor: MessagePort;
}

/** The dashboard on a worker's control port: control.dashboard, control.dashboardReadOnly, and what its streams' hello says. */
export interface DashboardSetup {
  enabled: boolean;
  readOnly: boolean;
  startedAt: number;
  listeners: Array<{ name: string; host: string; port: number }>;
}

/** A control request a worker hands to the acceptor (health, metrics, debug and group administration). */
export interface ForwardedRequest {
  /** The worker that took the request. */
  from: number;
  method: string;
  /** Path and query, as received. */
  url: string;
  contentType: string | undefined;
  body: Uint8Array;
}

/** The acceptor's answer to a forwarded request, written by the worker as is. */
export interface ForwardedReply {
  status: number;
  contentType: string;
  text: string;
  /** The limit that refused it (counted by the worker in ringcast_limit_refusals_total), or null. */
  limit: LimitName | null;
  /** Test command: the worker that took the request crashes itself this way once the answer is written. */
  crashAfter?: CrashMode;
}

/**
 * The acceptor's side of the control port (comlink, over ControlSetup.acceptor). The same port also
 * answers the dashboard's snapshots (DashboardHop, src/control/dashboard/remote.ts).
 */
export interface AcceptorControl {
  handle(req: ForwardedRequest): Promise<ForwardedReply>;
}

export const enum MessageKind {
  /** Supervisor → worker system actor: proves the mailbox is being drained. Body: [f64 sent at, ms]. */
  Probe = 1,
  /** Connection actor → router shard of its mid: [f64 mid][u16 worker][u32 connId][u8 flags][u8 platformLen][platform][key]. */
  RouterRegister = 10,
  /** Connection actor → router shard of its mid: [f64 mid][u16 worker][u32 connId][key]. */
  RouterUnregister = 11,
  /** Bodies of RouterRegister .. Kick: src/router-records.ts. Supervisor → router shard: [u16 worker]: forget every entry on that (dead) worker. */
  RouterPurgeWorker = 12,
  /** Supervisor → worker system actor: [u16 shard]: re-register connections owned by that (new) shard. */
  RouterResync = 13,
  /** Connection actor (or a resync) → the key-directory shard of its key: [u16 worker][u32 connId][u8 flags][key]. */
  KeyRegister = 14,
  /** Connection actor → the key-directory shard of its key: [u16 worker][u32 connId][u8 flags][key]. */
  KeyUnregister = 15,
  /** Router shard → connection actor: [u16 code][reason UTF-8]: send op 6 and close. */
  Kick = 20,
  /** Push path; bodies in src/push/records.ts. A worker's push dispatcher → every worker's deliverer. */
  PushRoom = 30,
  PushAll = 31,
  /** A worker's push dispatcher → the key-directory shard owning the keys. */
  PushKeys = 32,
  /** A worker's push dispatcher → the router shard owning the mids. */
  PushMids = 33,
  /** Router shard or key-directory shard → the deliverer of the worker holding the connections. */
  Deliver = 34,
  /**
   * First-hop receiver (deliverer for room/all, shard for keys/mids) → the dispatcher that asked: the
   * worker named in the request id (requestOrigin, src/request-table.ts). [u32 req][u32 connections][u32 0][u32 0].
   */
  PushReply = 35,
  /** Second-hop receiver (the deliverer of a Deliver) → the dispatcher that asked (requestOrigin). */
  DeliverReply = 36,
  /** Reliable messaging; bodies in src/im/records.ts. Sender (acceptor or worker) → the shard owning the recipients. */
  ImSend = 40,
  /** Shard → the sender's ImRequests: seqs allocated and durable, or an error code. */
  ImSendReply = 41,
  /** Connection's worker → shard of its mid: start (or restart) delivery to the device from a seq. */
  ImSync = 42,
  /** Connection's worker → shard of its mid: the device acked (up to) a seq. */
  ImAck = 43,
  /** Shard → connection actor: write op 112 with this body (a stored message). */
  ImDeliver = 44,
  /** Shard → connection actor: write op 115 with this body (sync reply). */
  ImSyncReply = 45,
  /** A box's worker → this box's shard of the user (cluster mode): the user's inbox holds seq n (src/im/records.ts). */
  ImNotify = 46,
  /** A worker's question to another worker (online counts, sessions): [u32 req][u8 type][msgpack]; actors/worker-queries.ts. */
  Query = 50,
  /** The answer, in one or more records: [u32 req][u8 last][msgpack bytes]. */
  QueryReply = 51,
}

/** Well-known ids of ActorKind.System actors, on every thread. */
export const enum SystemActorId {
  /** A worker's supervision endpoint: probes and resync requests from the supervisor (src/worker-admin.ts). */
  Supervision = 0,
  /** A worker's deliverer (actors/deliverer.ts). */
  Deliverer = 1,
  /** Pending reliable-messaging sends of this thread, worker or acceptor (actors/im-requests.ts). */
  ImRequests = 2,
  /** A worker's push dispatcher (actors/push-dispatcher.ts): the pushes its control port took, and their replies. */
  PushDispatcher = 3,
  /** A worker's questions to the other workers and its answers to theirs (actors/worker-queries.ts). */
  Queries = 4,
}
/** Ids of ActorKind.RouterShard actors: each worker owns one shard of the users (hash of mid). */
export const enum RouterActorId {
  /** The user directory and push routing by mid (actors/router-shard.ts). */
  Shard = 0,
  /** The reliable-messaging shard (actors/im-shard.ts): owns its users' seqs, inboxes and device cursors. */
  Im = 1,
  /** The key-directory shard (actors/key-directory.ts): connection key → holder for the keys it owns (hash of key). */
  Keys = 2,
}
/** Worker lifecycle, worker → acceptor, by postMessage. */
export type WorkerEvent = { type: 'ready'; index: number; threadId: number };

/** Crash modes of the test-only crash command. */
export type CrashMode = 'throw' | 'exit' | 'oom';

/** Admin calls the acceptor makes on a worker (comlink). Control plane only, never the hot path. */
/** A worker's cluster engine as /health and /metrics show it (docs/cluster.md). */
export interface ClusterWorkerStats {
  state: 'connecting' | 'up' | 'down' | 'stale';
  lastProbeMs: number | null;
  errors: number;
  commands: number;
  published: number;
  received: number;
  rooms: number;
  /** Directory writes that failed while the engine was away (made again by the resync). */
  directoryFailures: number;
}

export interface WorkerAdmin {
  /** Stops accepting, takes every record in the mailbox and writes pending push batches (shutdown, step 1). */
  quiesce(): Promise<number>;
  /**
   * Tells every client to reconnect (op 6, code 1001), lets outbound queues flush for up to
   * `graceMs`, closes what is left and drains the mailbox (shutdown, step 2).
   */
  drain(graceMs: number): Promise<{ connections: number; records: number; forced: number }>;
  /** Ends the worker thread (after drain). */
  exit(): void;
  /** This worker's member count per room. */
  roomCounts(): Record<string, number>;
  /** Process-wide member counts per room, summed by the acceptor (heartbeat replies carry them). */
  setRoomTotals(totals: Record<string, number>): void;
  /** Connections open on this worker (authenticated or not). */
  connectionCount(): number;
  /** Distinct client IP addresses connected to this worker. */
  ips(): string[];
  /** Details of this worker's connections with these keys (for GET /sessions). */
  sessionInfo(keys: string[]): Array<{ key: string; rooms: string[]; since: number; protocol: 'tcp' | 'ws' | 'mars' }>;
  /** Takes the connections with these keys out of a room (a member removed from a group); returns how many were in it. */
  evictFromRoom(keys: string[], room: string): number;
  /** Closes this worker's connection with this key, if it has one (op 6 4006, POST /admin/kick); returns 1 if it did, else 0. */
  kickKey(key: string): number;
  /** Router-shard entries of one user, as [key, worker, platform] triples. */
  routerLookup(mid: number): Array<[string, number, string]>;
  /** Test only: registers a synthetic router entry from this worker, through the rings. */
  debugRegister(mid: number, key: string, platform: string): void;
  /** Test only: kills the worker the given way. */
  debugCrash(mode: CrashMode): void;
  /** Test only: keeps the worker's thread busy (not draining anything) for `ms`. */
  debugBlock(ms: number): void;
  /** Test only: this worker's heap (after a full GC when `gc`), event-loop resources, timer-wheel entries and connections. */
  debugMemory(gc: boolean): ThreadMemory & { timerEntries: number; connections: number };
  /** Cluster mode: register every connection of this worker in the directory again (the box's lease was taken again). */
  clusterResync(): void;
  /** Cluster mode: this worker's engine (null on one box). */
  clusterStats(): ClusterWorkerStats | null;
}
