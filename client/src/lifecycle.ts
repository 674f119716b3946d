/**
 * The connection lifecycle of RingcastClient: one Connection at a time (connection.ts); when it
 * ends, the disconnect code decides (disconnect.ts): stay closed, wait the server's
 * reconnect_after_ms, or back off with full jitter (backoff.ts). After every op 8 it replays what
 * the app asked for (goim room, accepts, rooms) and syncs reliable messages (reliable.ts). The calls
 * themselves are in client.ts.
 */
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { Connection, type ConnectionHost } from './connection.js';
import { ClientCode, reconnectPolicy } from './disconnect.js';
import { Emitter } from './emitter.js';
import { watchEnvironment } from './environment.js';
import { RingcastError, type RingcastErrorKind } from './errors.js';
import { Op } from './ops.js';
import { realTimers, utf8, type Timers } from './platform.js';
import { decodeImMessage, Inbox, u64Body } from './reliable.js';
import type { Reply } from './requests.js';
import type { SeqStore } from './store.js';
import type { TransportFactory } from './transport.js';
import type { AuthBody, ClientEvents, ClientState, RingcastClientOptions, StateInfo } from './types.js';

/** What differs between the browser and Node entries. */
export interface Platform {
  /** The transport for `url`; throws a TypeError naming the problem when this platform has none. */
  transport(url: string, options: RingcastClientOptions): TransportFactory;
  /** The store a name stands for (localStorage item, file path). */
  store(name: string): SeqStore;
}

export const DEFAULTS = { minDelayMs: 500, maxDelayMs: 20_000, resetAfterMs: 10_000, heartbeatMs: 30_000, connectTimeoutMs: 10_000, requestTimeoutMs: 10_000, sendAttempts: 5 };

interface Waiter {
  resolve(c: Connection): void;
  reject(e: Error): void;
}

interface Sleeper {
  timer: unknown;
  reject(e: Error): void;
}

function positive(n: number | undefined, fallback: number, name: string): number {
  if (n === undefined) return fallback;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) throw new TypeError(`options.${name}: expected a positive number, got ${String(n)}`);
  return n;
}

/**
 * What connections call: one small object per client instead of a closure per callback. It reaches
 * the client's private methods by element access, so that they stay off the client's public type.
 */
class Host implements ConnectionHost {
  private readonly c: Lifecycle;
  constructor(c: Lifecycle) {
    this.c = c;
  }
  onOpen(conn: Connection): void {
    this.c['opened'](conn);
  }
  onEnd(conn: Connection, code: number, reason: string, after: number | undefined): void {
    this.c['ended'](conn, code, reason, after);
  }
  onPush(op: number, seq: number, body: Uint8Array): void {
    this.c['emit']('push', { op, body, seq });
  }
  onMessage(body: Uint8Array, via: 'room' | 'direct' | 'unknown'): void {
    this.c['message'](body, via);
  }
  onGap(dropped: number): void {
    this.c['emit']('gap', { dropped });
  }
  onCount(n: number): void {
    this.c['emit']('count', n);
  }
  onError(err: Error): void {
    this.c['emit']('error', err);
  }
}

export class Lifecycle extends Emitter<ClientEvents> {
  private _state: ClientState = 'closed';
  private readonly url: string;
  private readonly auth: RingcastClientOptions['auth'];
  private readonly factory: TransportFactory;
  private readonly timers: Timers;
  protected readonly random: () => number;
  protected readonly backoff: (BackoffOptions & { resetAfterMs: number }) | null;
  private readonly heartbeatMs: number;
  private readonly connectTimeoutMs: number;
  protected readonly requestTimeoutMs: number;
  protected readonly sendAttempts: number;
  private readonly environment: RingcastClientOptions['environment'];
  private readonly inbox: Inbox | null;

  private conn: Connection | null = null;
  /** Bumped by every attempt and by close: an auth() still pending for an older attempt is dropped. */
  private generation = 0;
  /** Retries since the last connection that stayed up resetAfterMs. */
  private retries = 0;
  private retryTimer: unknown = null;
  private connectedAt: number | null = null;
  private waiters: Waiter[] = [];
  /** send() retry delays in progress (made on the first). */
  private sleepers: Set<Sleeper> | null = null;
  private unwatch: (() => void) | null = null;
  private lastClose: StateInfo = { code: ClientCode.Closed, reason: 'not connected yet (call connect())', reconnect: false };
  private closeKind: RingcastErrorKind = 'closed';

  // What the app asked for, replayed after every op 8.
  protected readonly rooms = new Set<string>();
  protected roomOverride: string | null = null;
  protected acceptsOverride: Set<number> | null = null;
  private authRoom = '';
  protected authAccepts: number[] = [];
  protected selfMid = 0;

  private readonly host: ConnectionHost = new Host(this);

  constructor(options: RingcastClientOptions, platform: Platform) {
    super();
    if (options === null || typeof options !== 'object') throw new TypeError('new RingcastClient(options): options must be an object');
    if (typeof options.url !== 'string') throw new TypeError('options.url: expected a string such as ws://127.0.0.1:3102/sub');
    if (options.auth === null || (typeof options.auth !== 'object' && typeof options.auth !== 'function')) throw new TypeError('options.auth: expected the auth body or a function returning it');
    this.url = options.url;
    this.auth = options.auth;
    this.factory = options.transport ?? platform.transport(options.url, options);
    this.timers = options.timers ?? realTimers;
    this.random = options.random ?? Math.random;
    const r = options.reconnect;
    this.backoff =
      r === false
        ? null
        : {
            minDelayMs: positive(r?.minDelayMs, DEFAULTS.minDelayMs, 'reconnect.minDelayMs'),
            maxDelayMs: positive(r?.maxDelayMs, DEFAULTS.maxDelayMs, 'reconnect.maxDelayMs'),
            resetAfterMs: positive(r?.resetAfterMs, DEFAULTS.resetAfterMs, 'reconnect.resetAfterMs'),
          };
    this.heartbeatMs = positive(options.heartbeatMs, DEFAULTS.heartbeatMs, 'heartbeatMs');
    this.connectTimeoutMs = positive(options.connectTimeoutMs, DEFAULTS.connectTimeoutMs, 'connectTimeoutMs');
    this.requestTimeoutMs = positive(options.requestTimeoutMs, DEFAULTS.requestTimeoutMs, 'requestTimeoutMs');
    this.sendAttempts = Math.floor(positive(options.sendAttempts, DEFAULTS.sendAttempts, 'sendAttempts'));
    this.environment = options.environment;
    const store = options.store === undefined ? null : typeof options.store === 'string' ? platform.store(options.store) : options.store;
    this.inbox = options.reliable === false ? null : new Inbox(store, this.timers, (seq) => this.sendAck(seq));
  }

  /** 'connecting' | 'connected' | 'disconnected' (a retry is scheduled) | 'closed' (no retry). */
  get state(): ClientState {
    return this._state;
  }

  /** The last reliable-message seq handed to the app (null: none yet). */
  get lastSeq(): number | null {
    return this.inbox?.lastSeq ?? null;
  }

  /** Connects (and keeps reconnecting). Resolves on op 8; rejects when the client closes first (a terminal refusal, or close()). */
  connect(): Promise<void> {
    if (this._state === 'closed') {
      this.retries = 0;
      this.unwatch = watchEnvironment(this.environment, {
        online: () => {
          if (this._state === 'disconnected') this.attempt();
        },
        offline: () => this.conn?.end(ClientCode.Offline, 'the browser went offline'),
        visible: () => this.conn?.heartbeatNow(),
      });
      this.attempt();
    }
    return this.whenConnected().then(() => undefined);
  }

  /** Closes the connection and stops reconnecting; pending calls reject. Safe in any state; connect() starts again. */
  close(): void {
    if (this._state === 'closed') return;
    this.inbox?.flush();
    this.shut({ code: ClientCode.Closed, reason: 'closed by the client', reconnect: false }, 'closed');
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle

  private setState(state: ClientState, info: StateInfo): void {
    this._state = state;
    this.emit('state', state, info);
  }

  private attempt(): void {
    if (this.retryTimer !== null) this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const gen = ++this.generation;
    this.setState('connecting', { code: 0, reason: '', reconnect: true, attempt: this.retries + 1 });
    if (gen === this.generation) void this.open(gen);
  }

  private async open(gen: number): Promise<void> {
    let auth: AuthBody;
    try {
      const a = this.auth;
      auth = typeof a === 'function' ? await a() : a;
      if (auth === null || typeof auth !== 'object') throw new TypeError('options.auth must be (or return) an object');
      this.noteAuth(auth);
      if (this.inbox !== null) await this.inbox.prepare({ mid: this.selfMid, key: auth.key ?? '' });
    } catch (err) {
      if (gen === this.generation) this.lost(ClientCode.AuthProviderFailed, `options.auth failed: ${(err as Error).message}`, undefined);
      return;
    }
    if (gen !== this.generation) return; // closed, or another attempt started meanwhile
    this.conn = new Connection(this.host, { url: this.url, factory: this.factory, auth: utf8(JSON.stringify(auth)), timers: this.timers, heartbeatMs: this.heartbeatMs, connectTimeoutMs: this.connectTimeoutMs });
  }

  private noteAuth(a: AuthBody): void {
    this.authRoom = a.room_id ?? '';
    this.authAccepts = Array.isArray(a.accepts) ? a.accepts : [];
    const mid = Number(a.mid ?? 0);
    this.selfMid = Number.isSafeInteger(mid) ? mid : 0;
  }

  private opened(conn: Connection): void {
    if (conn !== this.conn) return;
    this.connectedAt = this.timers.now();
    this.replay(conn);
    this.setState('connected', { code: 0, reason: '', reconnect: true });
    if (this.conn !== conn || !conn.isOpen) return; // a listener closed it
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.resolve(conn);
  }

  private ended(conn: Connection, code: number, reason: string, reconnectAfterMs: number | undefined): void {
    if (conn !== this.conn) return;
    this.conn = null;
    this.lost(code, reason, reconnectAfterMs);
  }

  /** The connection is gone (or never came): close for good, or schedule the next attempt. */
  private lost(code: number, reason: string, reconnectAfterMs: number | undefined): void {
    this.inbox?.disconnected();
    if (this.connectedAt !== null && this.backoff !== null && this.timers.now() - this.connectedAt >= this.backoff.resetAfterMs) this.retries = 0;
    this.connectedAt = null;
    const policy = reconnectPolicy(code);
    if (policy === 'no' || this.backoff === null) {
      this.shut({ code, reason, reconnect: false }, policy === 'no' ? 'refused' : 'closed');
      return;
    }
    let delayMs: number;
    if (policy === 'after-delay' && reconnectAfterMs !== undefined) {
      // A drain is no failure: the attempts after it start from the first retry again.
      this.retries = 0;
      delayMs = reconnectAfterMs;
    } else {
      this.retries++;
      delayMs = backoffDelay(this.retries, this.backoff, this.random);
    }
    const gen = this.generation;
    this.setState('disconnected', { code, reason, reconnect: true, delayMs });
    if (gen !== this.generation || this._state !== 'disconnected') return; // a listener closed or reconnected
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = null;
      this.attempt();
    }, delayMs);
  }

  private shut(info: StateInfo, kind: RingcastErrorKind): void {
    this.generation++;
    if (this.retryTimer !== null) this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.unwatch?.();
    this.unwatch = null;
    const conn = this.conn;
    this.conn = null;
    conn?.end(info.code, info.reason, undefined, 'closed');
    this.inbox?.disconnected();
    this.connectedAt = null;
    this.lastClose = info;
    this.closeKind = kind;
    const err = this.closedError();
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(err);
    for (const s of this.sleepers ?? []) {
      this.timers.clearTimeout(s.timer);
      s.reject(err);
    }
    this.sleepers = null;
    this.setState('closed', info);
  }

  private closedError(): RingcastError {
    const { code, reason } = this.lastClose;
    return new RingcastError(this.closeKind, this.closeKind === 'refused' ? `refused by the server: ${code} ${reason}` : `client closed: ${reason} (${code})`, code);
  }

  // -------------------------------------------------------------------------------------------
  // Calls

  protected refuseIfClosed(): void {
    if (this._state === 'closed') throw this.closedError();
  }

  protected whenConnected(): Promise<Connection> {
    if (this._state === 'connected' && this.conn !== null && this.conn.isOpen) return Promise.resolve(this.conn);
    if (this._state === 'closed') return Promise.reject(this.closedError());
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** A call that changes connection state: replayed on reconnect anyway, so a lost connection just waits for the next one. */
  protected async stateCall(op: number, body: Uint8Array, what: string): Promise<Reply> {
    for (;;) {
      const conn = await this.whenConnected();
      try {
        return await conn.request(op, body, this.requestTimeoutMs, what);
      } catch (err) {
        if (err instanceof RingcastError && err.kind === 'disconnected') continue;
        throw err;
      }
    }
  }

  protected sleep(ms: number): Promise<void> {
    if (this._state === 'closed') return Promise.reject(this.closedError());
    return new Promise((resolve, reject) => {
      const s: Sleeper = { timer: null, reject };
      s.timer = this.timers.setTimeout(() => {
        this.sleepers?.delete(s);
        resolve();
      }, ms);
      (this.sleepers ??= new Set()).add(s);
    });
  }

  /** After op 8: the goim room, the accepts and the rooms the app set, then the sync. */
  private replay(conn: Connection): void {
    const fire = (op: number, body: Uint8Array, what: string, onReply?: (r: Reply) => void, onRefused?: () => void): void => {
      conn.request(op, body, this.requestTimeoutMs, what).then(onReply, (err: RingcastError) => {
        if (err.kind === 'disconnected' || err.kind === 'closed') return; // the next connection replays again
        if (err.kind === 'server') onRefused?.();
        this.emit('error', new RingcastError(err.kind, `after reconnecting, ${what} failed: ${err.message}`, err.code));
      });
    };
    if (this.roomOverride !== null && this.roomOverride !== this.authRoom) fire(Op.ChangeRoom, utf8(this.roomOverride), 'changeRoom');
    if (this.acceptsOverride !== null) {
      const add = [...this.acceptsOverride].filter((op) => !this.authAccepts.includes(op));
      const remove = this.authAccepts.filter((op) => !this.acceptsOverride!.has(op));
      if (add.length > 0) fire(Op.Sub, utf8(add.join(',')), 'addAccepts');
      if (remove.length > 0) fire(Op.Unsub, utf8(remove.join(',')), 'removeAccepts');
    }
    if (this.rooms.size > 0) {
      const rooms = [...this.rooms];
      fire(Op.JoinRooms, utf8(rooms.join(',')), `joinRooms ${rooms.join(',')}`, undefined, () => {
        for (const r of rooms) this.rooms.delete(r);
      });
    }
    const inbox = this.inbox;
    if (inbox !== null) fire(Op.ImSync, inbox.syncBody(), 'sync', (r) => inbox.onSyncReply(r.body));
  }

  private message(body: Uint8Array, via: 'room' | 'direct' | 'unknown'): void {
    const m = decodeImMessage(body);
    if (m === null) {
      this.emit('error', new RingcastError('server', 'unreadable op 112'));
      return;
    }
    const inbox = this.inbox;
    if (inbox === null) {
      this.emit('message', m);
      return;
    }
    // On TCP a group room's op 112 arrives bare: the room it came through tells it apart.
    const viaRoom = via === 'room' || (via === 'unknown' && m.group !== undefined && this.rooms.has(`group://${m.group}`));
    if (!inbox.isNew(m, viaRoom)) return;
    this.emit('message', m);
    inbox.handed(m, viaRoom);
  }

  private sendAck(seq: number): boolean {
    const c = this.conn;
    if (c === null || !c.isOpen) return false;
    c.sendPacket(Op.ImAck, u64Body(seq));
    this.emit('ack', seq);
    return true;
  }
}
