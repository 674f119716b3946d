/**
 * RingcastClient's calls (client/README.md, "Methods"): room and accept changes (state, replayed
 * after every reconnect), reliable sends with idempotent retries, upstream requests. The lifecycle
 * they run on is lifecycle.ts. The entry points (index.ts for browsers, node/index.ts for Node)
 * subclass ClientCore with their platform: which transport serves a URL and what a store name means.
 */
import { backoffDelay } from './backoff.js';
import { opList, parseRequestReply, parseRooms, parseSendReply, requestBody, roomList, sendBody } from './bodies.js';
import { RingcastError } from './errors.js';
import { DEFAULTS, Lifecycle } from './lifecycle.js';
import { Op } from './ops.js';
import { randomId, utf8 } from './platform.js';
import type { Reply } from './requests.js';
import type { RequestReply, SendInput, SendResult } from './types.js';

export type { Platform } from './lifecycle.js';

export class ClientCore extends Lifecycle {
  /** Joins rooms (op 100), now and after every reconnect. Resolves with every room the connection is in. */
  async joinRooms(rooms: string[]): Promise<string[]> {
    const body = utf8(roomList(rooms, 'joinRooms'));
    this.refuseIfClosed();
    for (const r of rooms) this.rooms.add(r);
    try {
      return parseRooms((await this.stateCall(Op.JoinRooms, body, 'joinRooms')).body);
    } catch (err) {
      if (err instanceof RingcastError && err.kind === 'server') for (const r of rooms) this.rooms.delete(r);
      throw err;
    }
  }

  /** Leaves rooms (op 102). Resolves with every room the connection is in. */
  async leaveRooms(rooms: string[]): Promise<string[]> {
    const body = utf8(roomList(rooms, 'leaveRooms'));
    this.refuseIfClosed();
    for (const r of rooms) this.rooms.delete(r);
    if (this.roomOverride !== null && rooms.includes(this.roomOverride)) this.roomOverride = '';
    return parseRooms((await this.stateCall(Op.LeaveRooms, body, 'leaveRooms')).body);
  }

  /** Changes the goim room (op 12; '' leaves it), now and after every reconnect. */
  async changeRoom(room: string): Promise<void> {
    if (typeof room !== 'string') throw new RingcastError('invalid', 'changeRoom: expected a room key string');
    this.refuseIfClosed();
    this.roomOverride = room;
    await this.stateCall(Op.ChangeRoom, utf8(room), 'changeRoom');
  }

  /** Adds ops to the accepted set (op 14), now and after every reconnect. */
  async addAccepts(ops: number[]): Promise<void> {
    const body = utf8(opList(ops, 'addAccepts'));
    this.refuseIfClosed();
    const set = (this.acceptsOverride ??= new Set(this.authAccepts));
    for (const op of ops) set.add(op);
    await this.stateCall(Op.Sub, body, 'addAccepts');
  }

  /** Removes ops from the accepted set (op 16), now and after every reconnect. */
  async removeAccepts(ops: number[]): Promise<void> {
    const body = utf8(opList(ops, 'removeAccepts'));
    this.refuseIfClosed();
    const set = (this.acceptsOverride ??= new Set(this.authAccepts));
    for (const op of ops) set.delete(op);
    await this.stateCall(Op.Unsub, body, 'removeAccepts');
  }

  /**
   * A reliable send (op 110 → 111), to a user (`to`) or a group. Retried on timeout, on a lost
   * connection, and on 503 or 504, with the same clientMsgId, so a retry never stores it twice.
   */
  async send(input: SendInput): Promise<SendResult> {
    const clientMsgId = input?.clientMsgId ?? randomId();
    const body = sendBody(input, clientMsgId);
    const pace = { minDelayMs: this.backoff?.minDelayMs ?? DEFAULTS.minDelayMs, maxDelayMs: Math.min(this.backoff?.maxDelayMs ?? DEFAULTS.maxDelayMs, 5000) };
    let last: RingcastError | null = null;
    for (let attempt = 1; attempt <= this.sendAttempts; attempt++) {
      if (attempt > 1) await this.sleep(backoffDelay(attempt - 1, pace, this.random));
      const conn = await this.whenConnected();
      let reply: Reply;
      try {
        reply = await conn.request(Op.ImSend, body, this.requestTimeoutMs, 'send');
      } catch (err) {
        if (err instanceof RingcastError && (err.kind === 'timeout' || err.kind === 'disconnected')) {
          last = err;
          continue;
        }
        throw err;
      }
      const r = parseSendReply(reply.body, input, this.selfMid, clientMsgId);
      if (r.code === 0) return r.result!;
      last = new RingcastError('server', `send: ${r.code} ${r.message}`, r.code);
      if (r.code !== 503 && r.code !== 504) throw last;
    }
    throw new RingcastError(last!.kind, `send: no success in ${this.sendAttempts} attempts (clientMsgId ${clientMsgId}); last: ${last!.message}`, last!.code);
  }

  /** An upstream request (op 4 → 5) to `Service/Method`. Not retried: a lost connection rejects it (it may have run). */
  async request(uri: string, payload?: Uint8Array | string): Promise<RequestReply> {
    const body = requestBody(uri, payload);
    const conn = await this.whenConnected();
    return parseRequestReply((await conn.request(Op.SendMsg, body, this.requestTimeoutMs, `request ${uri}`)).body);
  }
}
