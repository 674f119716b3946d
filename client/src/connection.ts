/**
 * One connection to the server: one transport, from the auth (op 7) to its end. It decodes what
 * arrives, answers calls by header seq, heartbeats, and watches for a dead link. It ends once
 * (end()), and after that nothing it owns calls back: the client makes a new Connection for every
 * attempt, so a late callback of an old one cannot reach a newer one.
 */
import { decodeBatch, decodeMessage, encodePacket, StreamDecoder } from './codec.js';
import { ClientCode } from './disconnect.js';
import { RingcastError, type RingcastErrorKind } from './errors.js';
import { Op } from './ops.js';
import { fromUtf8, type Timers } from './platform.js';
import { PendingRequests, type Reply } from './requests.js';
import type { Transport, TransportFactory } from './transport.js';

/** After op 6 the server closes; if the close does not follow within this, the client ends the connection itself. */
const NOTICE_GRACE_MS = 5000;
/** Beyond the heartbeat interval, how long the server may stay silent before the link counts as dead. */
export const DEAD_LINK_SLACK_MS = 10_000;

/** What a connection tells its client. Called only while the connection has not ended (and onEnd once). */
export interface ConnectionHost {
  onOpen(conn: Connection): void;
  onEnd(conn: Connection, code: number, reason: string, reconnectAfterMs: number | undefined): void;
  onPush(op: number, seq: number, body: Uint8Array): void;
  /**
   * op 112. `via`: 'room' = it came inside op 9 (on WebSocket a room push: a read fan-out group's
   * message), 'direct' = bare on WebSocket (the user's inbox), 'unknown' = bare on TCP (either).
   */
  onMessage(body: Uint8Array, via: 'room' | 'direct' | 'unknown'): void;
  onGap(dropped: number): void;
  onCount(count: number): void;
  onError(err: Error): void;
}

export interface ConnectionOptions {
  url: string;
  factory: TransportFactory;
  auth: Uint8Array;
  timers: Timers;
  heartbeatMs: number;
  connectTimeoutMs: number;
}

type Phase = 'opening' | 'authenticating' | 'open' | 'notified' | 'ended';

interface Notice {
  code: number;
  reason: string;
  reconnectAfterMs: number | undefined;
}

export class Connection {
  private phase: Phase = 'opening';
  private readonly host: ConnectionHost;
  private readonly timers: Timers;
  private readonly heartbeatMs: number;
  private readonly requests: PendingRequests;
  private transport: Transport | null = null;
  private stream: StreamDecoder | null = null;
  private timer: unknown = null;
  private readonly startedAt: number;
  private lastByteAt: number;
  private nextHeartbeatAt = 0;
  private notice: Notice | null = null;
  private readonly authSeq: number;
  /** Dropped once sent: an idle connection keeps as little as it can. */
  private authBody: Uint8Array | null;
  private readonly connectTimeoutMs: number;
  /** Bound once: the packet handlers the decoders call. */
  private readonly onPacket = (op: number, seq: number, body: Uint8Array): void => this.packet(op, seq, body, false);
  private readonly onBatchPacket = (op: number, seq: number, body: Uint8Array): void => this.packet(op, seq, body, true);

  constructor(host: ConnectionHost, o: ConnectionOptions) {
    this.host = host;
    this.timers = o.timers;
    this.heartbeatMs = o.heartbeatMs;
    this.connectTimeoutMs = o.connectTimeoutMs;
    this.requests = new PendingRequests(o.timers);
    this.authSeq = this.requests.seq();
    this.authBody = o.auth;
    this.startedAt = this.lastByteAt = o.timers.now();
    this.arm(o.connectTimeoutMs);
    let t: Transport;
    try {
      t = o.factory(o.url, {
        onOpen: () => this.opened(t),
        onData: (bytes) => this.data(t, bytes),
        onClose: (code, reason) => this.closed(t, code, reason),
      });
    } catch (err) {
      // A bad URL or no WebSocket: end on the next turn, as a failed connection would.
      this.timers.setTimeout(() => this.end(ClientCode.TransportClosed, (err as Error).message), 0);
      return;
    }
    this.transport = t;
    if (t.framing === 'stream') this.stream = new StreamDecoder();
  }

  get isOpen(): boolean {
    return this.phase === 'open';
  }

  get ended(): boolean {
    return this.phase === 'ended';
  }

  /** Sends a packet that has no reply (op 113). */
  sendPacket(op: number, body: Uint8Array | null): void {
    if (this.phase !== 'open') return;
    this.transport?.send(encodePacket(op, this.requests.seq(), body));
  }

  /** Sends a request and resolves with its reply (same seq); op 199 rejects with the server's code. */
  request(op: number, body: Uint8Array | null, timeoutMs: number, what: string): Promise<Reply> {
    if (this.phase !== 'open') return Promise.reject(new RingcastError('disconnected', `${what}: not connected`));
    const seq = this.requests.seq();
    const reply = this.requests.wait(seq, timeoutMs, what);
    this.transport!.send(encodePacket(op, seq, body));
    return reply;
  }

  /** Heartbeats now (the page became visible): first checks the link against the wall clock. */
  heartbeatNow(): void {
    if (this.phase !== 'open') return;
    if (this.deadLink(this.timers.now())) return;
    this.heartbeat(this.timers.now());
    this.schedule();
  }

  /** Ends the connection: closes the transport, rejects the calls in flight, tells the host (once). */
  end(code: number, reason: string, reconnectAfterMs?: number, kind: RingcastErrorKind = 'disconnected'): void {
    if (this.phase === 'ended') return;
    this.phase = 'ended';
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    const t = this.transport;
    this.transport = null;
    t?.close();
    this.requests.rejectAll(kind, kind === 'closed' ? `client closed: ${reason}` : `connection lost (${code} ${reason})`, code);
    this.host.onEnd(this, code, reason, reconnectAfterMs);
  }

  private opened(t: Transport): void {
    if (t !== this.transport || this.phase !== 'opening') return;
    this.phase = 'authenticating';
    t.send(encodePacket(Op.Auth, this.authSeq, this.authBody));
    this.authBody = null;
  }

  private data(t: Transport, bytes: Uint8Array): void {
    if (t !== this.transport || this.phase === 'ended') return;
    this.lastByteAt = this.timers.now();
    const err = this.stream !== null ? this.stream.push(bytes, this.onPacket) : decodeMessage(bytes, this.onPacket);
    if (err !== null && this.transport === t) this.end(ClientCode.ProtocolError, `bad packet from the server: ${err}`);
  }

  private closed(t: Transport, code: number, reason: string): void {
    if (t !== this.transport) return;
    const n = this.notice;
    if (n !== null) this.end(n.code, n.reason, n.reconnectAfterMs);
    else if (code !== 0 && code !== 1005 && code !== 1006) this.end(code, reason || `WebSocket closed with ${code}`);
    else this.end(ClientCode.TransportClosed, reason || 'the connection closed without a disconnect notice');
  }

  private packet(op: number, seq: number, body: Uint8Array, inBatch: boolean): void {
    if (this.phase === 'ended') return;
    switch (op) {
      case Op.Batch:
        if (!inBatch) {
          const err = decodeBatch(body, this.onBatchPacket);
          if (err !== null) this.end(ClientCode.ProtocolError, `bad packet from the server: ${err}`);
          return;
        }
        break;
      case Op.AuthReply:
        if (seq === this.authSeq && this.phase === 'authenticating') {
          this.phase = 'open';
          this.host.onOpen(this);
          // The first heartbeat at once: its reply carries the room's online count.
          if (this.phase === 'open') {
            this.heartbeat(this.timers.now());
            this.schedule();
          }
          return;
        }
        break;
      case Op.Disconnect:
        this.disconnectNotice(body);
        return;
      case Op.HeartbeatReply:
        this.host.onCount(body.length >= 4 ? new DataView(body.buffer, body.byteOffset, 4).getInt32(0) : 0);
        return;
      case Op.Gap:
        this.host.onGap(parseGap(body));
        return;
      case Op.ImMessage:
        this.host.onMessage(body, inBatch ? 'room' : this.stream !== null ? 'unknown' : 'direct');
        return;
      case Op.ErrorReply:
        if (seq !== 0 && this.requests.has(seq)) {
          const e = parseErrorReply(body);
          this.requests.reject(seq, new RingcastError('server', e.reason, e.code));
        } else {
          const e = parseErrorReply(body);
          this.host.onError(new RingcastError('server', `server error for op ${e.op}: ${e.reason}`, e.code));
        }
        return;
    }
    if (seq !== 0 && !inBatch && this.requests.resolve(seq, { op, body })) return;
    this.host.onPush(op, seq, body);
  }

  private disconnectNotice(body: Uint8Array): void {
    let code = 0;
    let reason = '';
    let reconnectAfterMs: number | undefined;
    try {
      const j = JSON.parse(fromUtf8(body)) as { code?: unknown; reason?: unknown; reconnect_after_ms?: unknown };
      if (typeof j.code === 'number') code = j.code;
      if (typeof j.reason === 'string') reason = j.reason;
      if (typeof j.reconnect_after_ms === 'number' && j.reconnect_after_ms >= 0) reconnectAfterMs = j.reconnect_after_ms;
    } catch {
      reason = 'disconnect notice (unreadable)';
    }
    this.notice = { code, reason, reconnectAfterMs };
    // Pushes the server still held may follow the notice; the close comes after them.
    this.phase = 'notified';
    this.requests.rejectAll('disconnected', `connection lost (${code} ${reason})`, code);
    this.arm(NOTICE_GRACE_MS);
  }

  /** One timer per connection: the connect deadline, then heartbeats and the dead-link deadline. */
  private arm(ms: number): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = this.timers.setTimeout(() => this.tick(), Math.max(0, ms));
  }

  private schedule(): void {
    const now = this.timers.now();
    const deadAt = this.lastByteAt + this.heartbeatMs + DEAD_LINK_SLACK_MS;
    this.arm(Math.min(this.nextHeartbeatAt, deadAt) - now);
  }

  private tick(): void {
    this.timer = null;
    const now = this.timers.now();
    switch (this.phase) {
      case 'opening':
      case 'authenticating':
        if (now - this.startedAt >= this.connectTimeoutMs) this.end(ClientCode.ConnectTimeout, `not connected within ${this.connectTimeoutMs} ms`);
        else this.arm(this.startedAt + this.connectTimeoutMs - now);
        return;
      case 'notified': {
        const n = this.notice!;
        this.end(n.code, n.reason, n.reconnectAfterMs);
        return;
      }
      case 'open':
        if (this.deadLink(now)) return;
        if (now >= this.nextHeartbeatAt) this.heartbeat(now);
        this.schedule();
        return;
      case 'ended':
        return;
    }
  }

  /** Wall-clock deltas, not timer counts: a throttled background tab or a sleeping laptop still counts right. */
  private deadLink(now: number): boolean {
    const silent = now - this.lastByteAt;
    if (silent < this.heartbeatMs + DEAD_LINK_SLACK_MS) return false;
    this.end(ClientCode.DeadLink, `no byte from the server for ${silent} ms (heartbeatMs + ${DEAD_LINK_SLACK_MS} ms)`);
    return true;
  }

  private heartbeat(now: number): void {
    this.nextHeartbeatAt = now + this.heartbeatMs;
    this.transport?.send(encodePacket(Op.Heartbeat, this.requests.seq(), null));
  }
}

function parseGap(body: Uint8Array): number {
  try {
    const j = JSON.parse(fromUtf8(body)) as { dropped?: unknown };
    return typeof j.dropped === 'number' ? j.dropped : 0;
  } catch {
    return 0;
  }
}

function parseErrorReply(body: Uint8Array): { op: number; code: number; reason: string } {
  try {
    const j = JSON.parse(fromUtf8(body)) as { op?: unknown; code?: unknown; reason?: unknown };
    return { op: typeof j.op === 'number' ? j.op : 0, code: typeof j.code === 'number' ? j.code : 0, reason: typeof j.reason === 'string' ? j.reason : 'error' };
  } catch {
    return { op: 0, code: 0, reason: 'error (unreadable op 199)' };
  }
}
