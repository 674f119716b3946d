/**
 * A connection actor: one client connection on one worker, whatever its transport, speaking goim's
 * session protocol (docs/protocol.md) plus ringcast's extension ops.
 *
 *   handshake ──op 7──▶ authenticating ──ok──▶ open ──close──▶ closed
 *       │                     │ rejected: op 6 {code, reason}, then close
 *       └─ other op: op 6 400 (TCP, Mars; WebSocket: the close frame's reason), then close;
 *          no auth within protocol.handshakeTimeoutMs: op 6 4003, then close
 *
 * Open: op 2 heartbeat → op 3 with the room's online count (int32 BE) and the idle deadline moves
 * back; op 12 change room → 13; op 14/16 sub/unsub accepts → 15/17; op 4 upstream request → op 5;
 * ext ops 100/102 join/leave rooms → 101/103; the ops of a session extension (reliable messaging
 * 110/113/114, src/im/gateway.ts) go to it; any other op is echoed with an empty body (goim).
 * Records addressed to the connection (Kick; an extension's, such as ImDeliver) are decoded here.
 * Deadlines live on the worker's timer wheel: one entry per connection, no timer of its own.
 * Its collaborators come in the worker's context (actors/context.ts); its registry entry is its own.
 */
import { randomUUID } from 'node:crypto';
import { parseAuthBody, type AuthResult } from '../src/auth/index.js';
import { CodecError } from '../src/codec.js';
import { Disconnect, disconnectBody } from '../src/errors.js';
import { Limit } from '../src/limits.js';
import { MessageKind } from '../src/messages.js';
import { ExtOp, Op } from '../src/ops.js';
import type { Transport, TransportSink } from '../src/protocols/transport.js';
import { decodeKick } from '../src/router-records.js';
import { ST_SLOW_CLOSED } from '../src/layout.js';
import { TimerEntry, type Expiring } from '../src/timer-wheel.js';
import { decodeRequest, encodeReply, RequestLimiter, UpstreamStatus } from '../src/upstream/index.js';
import type { WorkerContext } from './context.js';
import type { RegistryMember } from './registry.js';

export const enum ConnState {
  Handshake = 0,
  Authenticating = 1,
  Open = 2,
  /** close() was called; the socket's close event has not come yet. */
  Closing = 3,
  Closed = 4,
}

interface EarlyPacket {
  ver: number;
  op: number;
  seq: number;
  body: Uint8Array;
}

/** How long a closed connection waits for the client to close its side before it is destroyed. */
const CLOSE_LINGER_MS = 2000;

/** Packets a client may send after op 7 before the auth reply (goim's client ring holds 8). */
const MAX_EARLY_PACKETS = 8;

const NO_OPS: ReadonlySet<number> = new Set<number>();

/** Strictly ascending (so already the interning key's order, without duplicates): what clients usually send. */
function ascending(ops: readonly number[]): boolean {
  for (let i = 1; i < ops.length; i++) if (!(ops[i]! > ops[i - 1]!)) return false;
  return true;
}
/** Interned accepts sets by their sorted op list; bounded so odd clients cannot grow it. */
const acceptSets = new Map<string, ReadonlySet<number>>();
const MAX_INTERNED_ACCEPTS = 4096;

function internAccepts(ops: readonly number[]): ReadonlySet<number> {
  if (ops.length === 0) return NO_OPS;
  const key = ops.length === 1 ? String(ops[0]) : ascending(ops) ? ops.join(',') : [...new Set(ops)].sort((a, b) => a - b).join(',');
  let set = acceptSets.get(key);
  if (set === undefined) {
    set = new Set(ops);
    if (acceptSets.size < MAX_INTERNED_ACCEPTS) acceptSets.set(key, set);
  }
  return set;
}

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: false });

/** The heartbeat reply's body (the room's online count, int32 BE): one for the worker, since sendPacket copies it. */
const heartbeatBody = new Uint8Array(4);
const heartbeatView = new DataView(heartbeatBody.buffer);

export class ConnectionActor implements TransportSink, RegistryMember, Expiring {
  readonly id: number;
  readonly transport: Transport;
  readonly since = Date.now();
  readonly timer: TimerEntry<Expiring>;
  state = ConnState.Handshake;
  /** Authenticated and not closing: may receive pushes. */
  get open(): boolean {
    return this.state === ConnState.Open;
  }
  /** Set once the registry has registered the connection with the router (undone on release). */
  registered = false;
  /** Admitted by the connection limits (false: refused, only told why; or released). */
  admitted = false;
  /** The per-IP count cells the limits charged for this connection (Admission). */
  ipCell0 = -1;
  ipCell1 = -1;
  /** Counted as a pending handshake until it authenticates or closes. */
  pendingHandshake = false;
  key = '';
  mid = 0;
  platform = '';
  /** The goim room (auth room_id / op 12); '' when none. */
  room = '';
  /** Every room the connection is in, the goim room included. */
  readonly rooms = new Set<string>();
  /** Ops this connection accepts; shared, immutable sets (most clients send the same list). */
  accepts: ReadonlySet<number> = NO_OPS;
  /** State of the session extensions, by slot (src/session.ts); made when an extension first needs it. */
  private extSlots: unknown[] | null = null;
  private limiter: RequestLimiter | null = null;
  /** Packets that arrived while auth was in progress. */
  private early: EarlyPacket[] | null = null;
  private readonly ctx: WorkerContext;

  constructor(id: number, transport: Transport, ctx: WorkerContext) {
    this.id = id;
    this.transport = transport;
    this.ctx = ctx;
    this.timer = new TimerEntry<Expiring>(this);
  }

  get ext(): unknown[] {
    return (this.extSlots ??= new Array<unknown>(this.ctx.extensions.list.length));
  }

  /** A new connection from a listener: admitted by the registry (or told why not). */
  static accept(ctx: WorkerContext, transport: Transport): ConnectionActor {
    const conn = new ConnectionActor(ctx.registry.allocateId(), transport, ctx);
    ctx.registry.admit(conn);
    return conn;
  }

  /** A ring record addressed to this connection. */
  onRecord(kind: number, buf: Uint8Array, off: number, len: number): void {
    if (kind === MessageKind.Kick) {
      const { code, reason } = decodeKick(buf, off, len);
      this.kick(code, reason);
      return;
    }
    this.ctx.extensions.forRecord(kind)?.onRecord(this, kind, buf, off, len);
  }

  // ---- transport events ----

  onPacket(ver: number, op: number, seq: number, buf: Uint8Array, off: number, len: number): void {
    switch (this.state) {
      case ConnState.Handshake:
        if (op !== Op.Auth) {
          const reason = `first packet must be auth (op 7), got op ${op}`;
          // TCP and Mars are told why (op 6); WebSocket gets the reason in its close frame.
          if (this.transport.protocol === 'ws') this.close(reason);
          else this.kick(Disconnect.BadRequest.code, reason);
          return;
        }
        this.startAuth(ver, seq, buf, off, len);
        return;
      case ConnState.Authenticating:
        // goim reads packets in order, so what follows op 7 is answered after op 8: keep it (copied,
        // the read buffer is reused) and play it back once the auth reply is out. Bounded, as goim's
        // client ring (cliProto) is.
        if (this.early === null) this.early = [];
        if (this.early.length >= MAX_EARLY_PACKETS) {
          this.close(`more than ${MAX_EARLY_PACKETS} packets before the auth reply`);
          return;
        }
        this.early.push({ ver, op, seq, body: buf.slice(off, off + len) });
        return;
      case ConnState.Open:
        this.onOpenPacket(ver, op, seq, buf, off, len);
        return;
      default:
        return;
    }
  }

  onProtocolError(reason: string, code: CodecError = CodecError.None): void {
    if (code === CodecError.BodyTooLarge) {
      this.ctx.limits.count(Limit.PacketSize);
      // TCP and Mars keep the socket open for this notice; WebSocket closed with 1009/1002 and its reason.
      if (this.transport.protocol !== 'ws') this.kick(Disconnect.Limit.code, `${Disconnect.Limit.reason} packet body too large (protocol.maxBodyBytes)`);
    }
    if (reason.startsWith('internal error')) this.error(reason);
    else this.debug('protocol error: closing', { reason });
  }

  onClose(): void {
    if (this.state === ConnState.Closed) return;
    this.state = ConnState.Closed;
    this.ctx.registry.release(this);
    for (const ext of this.ctx.extensions.list) ext.onClose(this);
  }

  /** The timer wheel fired: the handshake or the heartbeat deadline has passed. */
  onTimeout(): void {
    if (this.state === ConnState.Open) this.kick(Disconnect.HeartbeatTimeout.code, Disconnect.HeartbeatTimeout.reason);
    else if (this.state < ConnState.Open) {
      this.ctx.limits.count(Limit.HandshakeTimeout);
      this.kick(Disconnect.Limit.code, `${Disconnect.Limit.reason} no auth within protocol.handshakeTimeoutMs`);
    }
    else if (this.state === ConnState.Closing) this.transport.destroy();
  }

  close(reason: string, lingerMs = CLOSE_LINGER_MS): void {
    if (this.state >= ConnState.Closing) return;
    this.state = ConnState.Closing;
    this.debug('closing', { reason });
    this.transport.close(reason);
    // The transport half-closed and keeps reading; a client that never closes its side is cut off
    // after the linger time (the timer wheel entry, now the linger deadline).
    this.ctx.wheel.schedule(this.timer, lingerMs);
  }

  /**
   * Slow consumer under the `close` policy: counted and logged, the pushes held for it are dropped,
   * the client is told why after what its socket already holds (op 6 4005), and the socket is
   * half-closed; a client that still does not read is cut off after the linger time, so its buffer
   * is held 2 s at most.
   */
  dropSlow(): void {
    if (this.state >= ConnState.Closing) return;
    const { status, log, settings } = this.ctx;
    status.add(ST_SLOW_CLOSED, 1);
    log.warn({ conn: this.id, key: this.key, mid: this.mid, queuedBytes: this.transport.queuedBytes(), limit: settings.writeQueueBytes }, 'slow consumer: outbound queue over push.writeQueueBytes, closing');
    this.transport.discardQueued();
    this.kick(Disconnect.SlowConsumer.code, Disconnect.SlowConsumer.reason);
  }

  /** Tells the client why (op 6 with {code, reason}) and closes. */
  kick(code: number, reason: string, seq = 0, reconnectAfterMs?: number, lingerMs?: number): void {
    if (this.state >= ConnState.Closing) return;
    this.transport.sendPacket(1, Op.DisconnectReply, seq, disconnectBody(code, reason, reconnectAfterMs));
    this.close(reason, lingerMs);
  }

  // ---- session ----

  private startAuth(ver: number, seq: number, buf: Uint8Array, off: number, len: number): void {
    this.state = ConnState.Authenticating;
    const req = parseAuthBody(buf, off, len);
    if ('ok' in req) {
      this.kick(req.code, req.reason, seq);
      return;
    }
    this.key = req.key === '' ? randomUUID() : req.key;
    this.platform = req.platform;
    this.accepts = internAccepts(req.accepts);
    const roomId = req.roomId;
    this.ctx.authenticate(req).then(
      (result) => this.finishAuth(ver, seq, result, roomId),
      (err: Error) => this.kick(Disconnect.InternalError.code, `${Disconnect.InternalError.reason}: ${err.message}`, seq),
    );
  }

  private finishAuth(ver: number, seq: number, result: AuthResult, roomId: string): void {
    if (this.state !== ConnState.Authenticating) return; // closed meanwhile
    if (!result.ok) {
      this.kick(result.code, result.reason, seq);
      return;
    }
    this.mid = result.mid;
    const registry = this.ctx.registry;
    // The auth body's room is the client's choice, so it passes the same admission as op 12 (a read
    // fan-out group's room is for members); rooms granted by the auth result are the backend's.
    const refusedRoom = roomId !== '' && !this.mayJoin(roomId);
    if (roomId !== '' && !refusedRoom) {
      this.room = roomId;
      this.rooms.add(roomId);
      registry.joinRoom(this, roomId);
    }
    const extra = result.rooms.filter((r) => r !== roomId).slice(0, Math.max(0, this.ctx.settings.maxRooms - this.rooms.size));
    for (const r of extra) {
      this.rooms.add(r);
      registry.joinRoom(this, r);
    }
    const registering = registry.opened(this);
    if (registering === null) this.authReplied(ver, seq, refusedRoom, roomId);
    // Cluster mode: the reply waits for the directory write (bounded by the engine's deadline), so
    // that a push sent from another box once the client has its reply finds it. Until then the
    // connection is not open: pushes in that window skip it, as they would have before its auth.
    else registering.then(() => {
      if (this.state === ConnState.Authenticating) this.authReplied(ver, seq, refusedRoom, roomId);
    });
  }

  private authReplied(ver: number, seq: number, refusedRoom: boolean, roomId: string): void {
    this.state = ConnState.Open;
    this.ctx.wheel.schedule(this.timer, this.ctx.settings.heartbeatTimeoutMs);
    this.transport.sendPacket(ver, Op.AuthReply, seq, null);
    if (refusedRoom) this.errorReply(ver, Op.Auth, seq, 403, `not allowed to join ${roomId}`);
    const early = this.early;
    this.early = null;
    if (early !== null) for (const p of early) if (this.state === ConnState.Open) this.onOpenPacket(p.ver, p.op, p.seq, p.body, 0, p.body.length);
  }

  private onOpenPacket(ver: number, op: number, seq: number, buf: Uint8Array, off: number, len: number): void {
    switch (op) {
      case Op.Heartbeat: {
        this.ctx.wheel.schedule(this.timer, this.ctx.settings.heartbeatTimeoutMs);
        heartbeatView.setInt32(0, this.room === '' ? 0 : this.ctx.registry.rooms.onlineCount(this.room));
        this.transport.sendPacket(ver, Op.HeartbeatReply, seq, heartbeatBody);
        return;
      }
      case Op.ChangeRoom: {
        const next = dec.decode(buf.subarray(off, off + len));
        if (next !== this.room) {
          if (next !== '' && !this.rooms.has(next) && this.rooms.size - (this.room === '' ? 0 : 1) >= this.ctx.settings.maxRooms) {
            this.roomLimit(ver, op, seq);
            return;
          }
          if (next !== '' && !this.rooms.has(next) && !this.mayJoin(next)) {
            this.errorReply(ver, op, seq, 403, `not allowed to join ${next}`);
            return;
          }
          if (this.room !== '') this.leave(this.room);
          this.room = next;
          if (next !== '') this.join(next);
        }
        this.transport.sendPacket(ver, Op.ChangeRoomReply, seq, buf.slice(off, off + len));
        return;
      }
      case Op.Sub:
      case Op.Unsub: {
        const text = dec.decode(buf.subarray(off, off + len));
        const next = new Set(this.accepts);
        for (const part of text.split(',')) {
          const n = Number(part.trim());
          if (part.trim() === '' || !Number.isInteger(n)) continue;
          if (op === Op.Sub) next.add(n);
          else next.delete(n);
        }
        this.accepts = internAccepts([...next]);
        this.transport.sendPacket(ver, op + 1, seq, buf.slice(off, off + len));
        return;
      }
      case Op.SendMsg:
        this.upstream(ver, seq, buf, off, len);
        return;
      case ExtOp.JoinRooms:
      case ExtOp.LeaveRooms:
        this.joinOrLeave(ver, op, seq, dec.decode(buf.subarray(off, off + len)));
        return;
      case Op.Auth:
        return; // already authenticated: ignored, as goim does
      default: {
        const ext = this.ctx.extensions.forOp(op);
        if (ext !== undefined) ext.onPacket(this, ver, op, seq, buf, off, len);
        // goim echoes any other op with its seq and no body.
        else this.transport.sendPacket(ver, op, seq, null);
      }
    }
  }

  private join(room: string): void {
    this.rooms.add(room);
    this.ctx.registry.joinRoom(this, room);
  }
  private leave(room: string): void {
    this.rooms.delete(room);
    this.ctx.registry.leaveRoom(this, room);
  }

  /** Whether the client may join this room itself: every extension must agree (group rooms are for members). */
  private mayJoin(room: string): boolean {
    for (const ext of this.ctx.extensions.list) if (!ext.mayJoin(this, room)) return false;
    return true;
  }

  evict(room: string): boolean {
    if (!this.rooms.has(room)) return false;
    if (this.room === room) this.room = '';
    this.leave(room);
    return true;
  }

  private joinOrLeave(ver: number, op: number, seq: number, text: string): void {
    const names = text
      .split(',')
      .map((r) => r.trim())
      .filter((r) => r !== '');
    if (op === ExtOp.JoinRooms) {
      const fresh = [...new Set(names)].filter((r) => !this.rooms.has(r));
      if (this.rooms.size + fresh.length > this.ctx.settings.maxRooms) {
        this.roomLimit(ver, op, seq);
        return;
      }
      const refused = fresh.find((r) => !this.mayJoin(r));
      if (refused !== undefined) {
        this.errorReply(ver, op, seq, 403, `not allowed to join ${refused}`);
        return;
      }
      for (const r of fresh) this.join(r);
    } else {
      for (const r of names) {
        if (!this.rooms.has(r)) continue;
        if (r === this.room) this.room = '';
        this.leave(r);
      }
    }
    this.transport.sendPacket(ver, op + 1, seq, enc.encode([...this.rooms].join(',')));
  }

  private roomLimit(ver: number, op: number, seq: number): void {
    this.ctx.limits.count(Limit.RoomsPerConnection);
    this.errorReply(ver, op, seq, 403, `room limit reached (${this.ctx.settings.maxRooms} per connection, rooms.maxPerConnection)`);
  }

  private errorReply(ver: number, op: number, seq: number, code: number, reason: string): void {
    this.transport.sendPacket(ver, ExtOp.ErrorReply, seq, enc.encode(JSON.stringify({ op, code, reason })));
  }

  private upstream(ver: number, seq: number, buf: Uint8Array, off: number, len: number): void {
    const req = decodeRequest(buf, off, len);
    if ('error' in req) {
      this.transport.sendPacket(ver, Op.SendMsgReply, seq, encodeReply(UpstreamStatus.BadEnvelope, req.error));
      return;
    }
    if (this.limiter === null) {
      const u = this.ctx.settings.upstream;
      this.limiter = new RequestLimiter(u.maxInFlight, u.ratePerSec, u.burst);
    }
    const refused = this.limiter.tryStart(Date.now());
    if (refused !== 0) {
      this.ctx.limits.count(refused === UpstreamStatus.RateLimited ? Limit.UpstreamRate : Limit.UpstreamInFlight);
      const reason = refused === UpstreamStatus.RateLimited ? 'rate limited' : 'too many requests in flight';
      this.transport.sendPacket(ver, Op.SendMsgReply, seq, encodeReply(refused, reason));
      return;
    }
    const limiter = this.limiter;
    void this.ctx.upstream.call(req.service, req.method, req.payload, this).then((reply) => {
      limiter.finish();
      if (this.state !== ConnState.Open) return;
      this.transport.sendPacket(ver, Op.SendMsgReply, seq, encodeReply(reply.status, reply.body));
    });
  }

  // ---- logs ----

  private debug(msg: string, extra?: object): void {
    const log = this.ctx.log;
    if (log.isLevelEnabled('debug')) log.debug({ conn: this.id, key: this.key, mid: this.mid, remote: this.transport.remoteAddress, proto: this.transport.protocol, ...extra }, msg);
  }

  private error(msg: string): void {
    this.ctx.log.error({ conn: this.id, key: this.key, mid: this.mid, proto: this.transport.protocol }, msg);
  }
}
