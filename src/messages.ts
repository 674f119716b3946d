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
import type { Config } from './config/index.js';
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
  /** Connection actor → the acceptor's key directory: [u16 worker][u32 connId][key]. */
  KeyRegister = 14,
  /** Connection actor → the acceptor's key directory: [u16 worker][u32 connId][key]. */
  KeyUnregister = 15,
  /** Router shard → connection actor: [u16 code][reason UTF-8]: send op 6 and close. */
  Kick = 20,
  /** Push path; bodies in src/push/records.ts. Acceptor → every worker's deliverer. */
  PushRoom = 30,
  PushAll = 31,
  /** Acceptor → the router shard owning the mids. */
  PushMids = 33,
  /** Router shard (or, for keys, the acceptor) → the deliverer of the worker holding the connections. */
  Deliver = 34,
  /** First-hop receiver (deliverer for room/all, shard for keys/mids) → acceptor. */
  PushReply = 35,
  /** Second-hop receiver (the deliverer of a Deliver) → acceptor. */
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
}

/** Well-known ids of ActorKind.System actors, on every thread. */
export const enum SystemActorId {
  /** A worker's supervision endpoint: probes and resync requests from the supervisor (src/worker-admin.ts). */
  Supervision = 0,
  /** A worker's deliverer (actors/deliverer.ts). */
  Deliverer = 1,
  /** Pending reliable-messaging sends of this thread, worker or acceptor (actors/im-requests.ts). */
  ImRequests = 2,
}
/** Ids of ActorKind.RouterShard actors: each worker owns one shard of the users (hash of mid). */
export const enum RouterActorId {
  /** The user directory and push routing by mid (actors/router-shard.ts). */
  Shard = 0,
  /** The reliable-messaging shard (actors/im-shard.ts): owns its users' seqs, inboxes and device cursors. */
  Im = 1,
}
/** Ids of ActorKind.Acceptor actors: they live on the acceptor thread only (index = workers). */
export const enum AcceptorActorId {
  /** Connection key → holder, for the whole process (actors/key-directory.ts). */
  KeyDirectory = 0,
  /** The push API's side of the push path (actors/push-dispatcher.ts): takes PushReply and DeliverReply. */
  PushDispatcher = 1,
}

/** Worker lifecycle, worker → acceptor, by postMessage. */
export type WorkerEvent = { type: 'ready'; index: number; threadId: number };

/** Crash modes of the test-only crash command. */
export type CrashMode = 'throw' | 'exit' | 'oom';

/** Admin calls the acceptor makes on a worker (comlink). Control plane only, never the hot path. */
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
}
