/** The public types of @ringcast/client: options, events and what the calls answer. */
import type { Timers } from './platform.js';
import type { SeqStore } from './store.js';
import type { TransportFactory } from './transport.js';
import type { WebSocketConstructor } from './transport-ws.js';

/** The auth body (op 7, docs/protocol.md "Auth body"). */
export interface AuthBody {
  mid?: number | string;
  key?: string;
  room_id?: string;
  platform?: string;
  accepts?: number[];
  token?: string;
}

export interface ReconnectOptions {
  /** Shortest delay before a retry, ms (default 500). */
  minDelayMs?: number;
  /** Longest delay before a retry, ms (default 20000). */
  maxDelayMs?: number;
  /** A connection that stayed up this long (ms) resets the retry count (default 10000). */
  resetAfterMs?: number;
}

/** Browser events the client follows; defaults to the page's window and document where they exist. */
export interface ClientEnvironment {
  /** Fires 'online' and 'offline' (the window). */
  network?: EventTargetLike | null;
  /** Fires 'visibilitychange' and has visibilityState (the document). */
  visibility?: (EventTargetLike & { readonly visibilityState?: string }) | null;
}

export interface EventTargetLike {
  addEventListener(type: string, fn: () => void): void;
  removeEventListener(type: string, fn: () => void): void;
}

export interface RingcastClientOptions {
  /** `ws://host:port/sub`, `wss://…`, or in Node `tcp://host:port` (goim over raw TCP). */
  url: string;
  /** The auth body, or a function returning it (called before every connection: a fresh token each time). */
  auth: AuthBody | (() => AuthBody | Promise<AuthBody>);
  /** A WebSocket constructor (Node 20: the `ws` package's); the global WebSocket by default. */
  WebSocket?: WebSocketConstructor;
  /** Retry delays; `false` never reconnects by itself. */
  reconnect?: ReconnectOptions | false;
  /** Heartbeat interval, ms (default 30000). No byte from the server for this + 10 s: the link is dead. */
  heartbeatMs?: number;
  /** Longest wait for the connection to open and authenticate, ms (default 10000). */
  connectTimeoutMs?: number;
  /** Longest wait for the reply of a call (joinRooms, send, request, …), ms (default 10000). */
  requestTimeoutMs?: number;
  /** Attempts of one send() before it rejects: the first and the retries on timeout, 503 or 504 (default 5). */
  sendAttempts?: number;
  /** Reliable messaging: sync (op 114) after each op 8 and emit 'message' (default true). */
  reliable?: boolean;
  /**
   * Keeps the last seq handed to the app across reloads and restarts: a SeqStore, or a name (the
   * localStorage item in a browser, the file path in Node).
   */
  store?: SeqStore | string;
  /** For tests and other runtimes: timers and the wall clock. */
  timers?: Timers;
  /** For tests: the random source of the backoff (uniform in [0, 1)). */
  random?: () => number;
  /** For tests and other runtimes: where online/offline and visibilitychange come from. */
  environment?: ClientEnvironment;
  /** For tests and custom transports: opens the transport of each connection attempt. */
  transport?: TransportFactory;
}

export type ClientState = 'connecting' | 'connected' | 'disconnected' | 'closed';

/** What came with a state change. */
export interface StateInfo {
  /** The disconnect code (op 6, WebSocket close, or the SDK's 3000-3099); 0 when there is none. */
  code: number;
  reason: string;
  /** Whether the client will connect again by itself. */
  reconnect: boolean;
  /** 'disconnected': the delay until the next attempt, ms. */
  delayMs?: number;
  /** 'connecting': which attempt since the last stable connection (1 = the first). */
  attempt?: number;
}

export interface Push {
  op: number;
  body: Uint8Array;
  /** The packet's header seq (0 for pushes). */
  seq: number;
}

export interface Message {
  /** The user's seq (a read fan-out group message: the group's seq). */
  seq: number;
  from: number;
  op: number;
  body: Uint8Array;
  /** Server time it was stored, ms since the epoch. */
  ts: number;
  /** The group, for a group message. */
  group?: number;
  clientMsgId: string;
}

export interface Gap {
  dropped: number;
}

export interface SendInput {
  /** A user (mid) … */
  to?: number;
  /** … or a group. */
  group?: number;
  /** The application op (default 1000). */
  op?: number;
  body: Uint8Array | string;
  /** Makes retries idempotent; one is made up when missing. */
  clientMsgId?: string;
}

export interface SendResult {
  /** The recipient's seq (a user), the group seq (read fan-out group), or the sender's own copy's seq (write fan-out group; 0 if unknown). */
  seq: number;
  /** Every recipient's seq, by mid (empty for a read fan-out group). */
  seqs: Record<string, number>;
  /** A read fan-out group's seq. */
  groupSeq?: number;
  clientMsgId: string;
}

export interface RequestReply {
  /** The backend's HTTP status, or the gateway's (docs/protocol.md, "Upstream requests"). */
  status: number;
  body: Uint8Array;
}

export interface ClientEvents {
  state: [state: ClientState, info: StateInfo];
  push: [push: Push];
  message: [message: Message];
  gap: [gap: Gap];
  count: [count: number];
  /** An ack (op 113, "everything up to seq is read") went to the server: the messages up to seq count as read. */
  ack: [seq: number];
  error: [error: Error];
}
