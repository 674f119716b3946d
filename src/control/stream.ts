/**
 * The streaming push API: a WebSocket at `/push/stream` on the control port, for services that
 * push at high rates. One connection carries push requests (keys, mids, room, all; binary frames,
 * src/control/stream-codec.ts) each with an id of the client's choosing, pipelined, and gets one
 * answer per request as its push completes: the connections it was queued to, or the error an HTTP
 * push would get (same status and message). No HTTP request per push.
 *
 *   - The token is checked at the upgrade (a bad one gets 401 before it), and the upgrade counts as
 *     one control request against `control.ratePerSec`; so does every push on the stream.
 *   - Window: at most `control.streamWindow` pushes unanswered per connection; a push past it is
 *     answered with 429 naming the key (the connection stays open).
 *   - A push whose body is over `control.maxBodyBytes` gets 413; its targets count against
 *     `control.batchMaxTargets`, as in a batch.
 *   - A request that cannot be delimited (a truncated header, an unknown target, lengths past the
 *     message) gets its error answer; the server then reads nothing more and closes the connection
 *     with 1002 once the pushes already taken have been answered. A text message is treated so too.
 *
 * Answers of one turn of the event loop go out together, in one WebSocket message.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { ServiceError } from '../errors.js';
import type { LimitName } from '../limits.js';
import type { Logger } from '../logger.js';
import type { PushResult, PushService } from '../push/types.js';
import { authorized } from './bearer.js';
import type { ControlCounters, PushKind } from './metrics.js';
import { OK_ANSWER, REQUEST_HEAD, StreamAnswerType, StreamTarget } from './stream-codec.js';

export const STREAM_PATH = '/push/stream';

export interface StreamOptions {
  push: PushService | null;
  /** "Bearer <token>" bytes, or null without auth. */
  token: Buffer | null;
  /** The control.ratePerSec check, or null without a rate limit. */
  takeRate: (() => boolean) | null;
  rateText: string;
  maxBodyBytes: number;
  batchMaxTargets: number;
  /** control.streamWindow */
  window: number;
  counters: ControlCounters;
  log: Logger;
  /** This worker's index for `x-ringcast-worker` (test commands on), or null. */
  workerHeader: string | null;
}

const MAX_MID_HIGH = 0x200000; // high word of 2^53: a mid must be below it
const dec = new TextDecoder();

/** Answers WebSocket upgrades at /push/stream on `server`; any other upgrade gets a JSON 4xx. */
export function attachPushStream(server: http.Server, o: StreamOptions): void {
  // A message may hold one push of the largest body and its targets, or many smaller pushes.
  const wss = new WebSocketServer({ noServer: true, maxPayload: o.maxBodyBytes + (1 << 20), perMessageDeflate: false, clientTracking: false });
  if (o.workerHeader !== null) {
    const line = `x-ringcast-worker: ${o.workerHeader}`;
    wss.on('headers', (headers: string[]) => headers.push(line));
  }
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = req.url ?? '/';
    const qi = url.indexOf('?');
    const path = qi < 0 ? url : url.slice(0, qi);
    const refuse = (status: number, message: string, limit: LimitName | null = null): void => {
      if (limit !== null) o.counters.countLimit(limit);
      o.counters.countRequest(path === STREAM_PATH ? STREAM_PATH : 'unknown', status);
      refuseUpgrade(socket, status, message, o.workerHeader);
    };
    if (path !== STREAM_PATH) return refuse(400, `an HTTP upgrade is offered only at ${STREAM_PATH}, not ${path}`);
    if (o.token !== null && !authorized(o.token, req.headers.authorization)) return refuse(401, 'missing or wrong token: send "Authorization: Bearer <control.token>"');
    if (o.takeRate !== null && !o.takeRate()) return refuse(429, o.rateText, 'control.ratePerSec');
    if (req.method !== 'GET') return refuse(405, `${STREAM_PATH} takes GET (a WebSocket upgrade), not ${req.method}`);
    if (o.push === null) return refuse(503, 'push service not available');
    wss.handleUpgrade(req, socket, head, (ws) => {
      o.counters.countRequest(STREAM_PATH, 101);
      new StreamSession(ws, o, o.push!);
    });
  });
}

/** An upgrade refused before the handshake: an HTTP answer with goim's JSON envelope, then the close. */
function refuseUpgrade(socket: Duplex, status: number, message: string, worker: string | null): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ code: -status, message });
  const extra = (status === 401 ? 'WWW-Authenticate: Bearer\r\n' : status === 429 ? 'Retry-After: 1\r\n' : '') + (worker !== null ? `x-ringcast-worker: ${worker}\r\n` : '');
  socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`);
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 405: 'Method Not Allowed', 429: 'Too Many Requests', 503: 'Service Unavailable' };

/** A request that cannot be delimited: where it starts and why. */
class FramingError extends Error {
  constructor(
    readonly id: number,
    message: string,
  ) {
    super(message);
  }
}

const KIND: Record<StreamTarget, PushKind> = { [StreamTarget.Keys]: 'keys', [StreamTarget.Mids]: 'mids', [StreamTarget.Room]: 'room', [StreamTarget.All]: 'all' };

class StreamSession {
  private readonly ws: WebSocket;
  private readonly o: StreamOptions;
  private readonly push: PushService;
  /** Pushes taken and not yet answered. */
  private inFlight = 0;
  /** Answers waiting for the end of this turn. */
  private out = Buffer.allocUnsafe(4096);
  private outLen = 0;
  private flushScheduled = false;
  /** Set after a request that cannot be delimited: nothing more is read, the close follows the last answer. */
  private closing: string | null = null;
  private closed = false;
  private readonly flushBound = (): void => this.flush();

  constructor(ws: WebSocket, o: StreamOptions, push: PushService) {
    this.ws = ws;
    this.o = o;
    this.push = push;
    ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(data, isBinary));
    ws.on('close', () => {
      this.closed = true;
    });
    ws.on('error', (err: Error) => o.log.debug({ err }, 'push stream: connection error'));
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closing !== null) return;
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (!isBinary) return this.fail(0, 'expected binary frames of push requests (docs/control-api.md), got a text message');
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let at = 0;
    try {
      while (at < buf.length) at = this.request(buf, dv, at);
    } catch (err) {
      if (!(err instanceof FramingError)) throw err;
      this.fail(err.id, err.message);
    }
  }

  /** Takes the request at `at` (answering it at once when it is refused); returns where the next one starts. */
  private request(buf: Buffer, dv: DataView, at: number): number {
    if (buf.length - at < REQUEST_HEAD) throw new FramingError(buf.length - at >= 5 ? dv.getUint32(at + 1) : 0, `truncated request at byte ${at}: ${buf.length - at} bytes, a request header is ${REQUEST_HEAD}`);
    const target = buf[at]! as StreamTarget;
    const id = dv.getUint32(at + 1);
    const op = dv.getInt32(at + 5);
    const n = dv.getUint32(at + 9);
    const bodyLen = dv.getUint32(at + 13);
    let p = at + REQUEST_HEAD;
    let keys: string[] | null = null;
    let mids: number[] | null = null;
    let invalid: string | null = null;
    switch (target) {
      case StreamTarget.Keys:
      case StreamTarget.Room: {
        keys = new Array<string>(n);
        for (let i = 0; i < n; i++) {
          if (p + 2 > buf.length) throw new FramingError(id, `request ${id}: truncated target ${i} at byte ${p}`);
          const len = dv.getUint16(p);
          if (p + 2 + len > buf.length) throw new FramingError(id, `request ${id}: target ${i} of ${len} bytes runs past the message`);
          keys[i] = dec.decode(buf.subarray(p + 2, p + 2 + len));
          if (len === 0) invalid ??= target === StreamTarget.Room ? 'the room key is empty (expected "type://id")' : `keys[${i}] is empty`;
          p += 2 + len;
        }
        if (target === StreamTarget.Room && n !== 1) invalid ??= `a room push names exactly one room, got ${n}`;
        break;
      }
      case StreamTarget.Mids: {
        if (p + n * 8 > buf.length) throw new FramingError(id, `request ${id}: ${n} mids run past the message`);
        mids = new Array<number>(n);
        for (let i = 0; i < n; i++, p += 8) {
          const hi = dv.getUint32(p);
          if (hi >= MAX_MID_HIGH) invalid ??= `mids[${i}] is over 2^53-1`;
          mids[i] = hi * 0x100000000 + dv.getUint32(p + 4);
        }
        break;
      }
      case StreamTarget.All:
        if (n !== 0) throw new FramingError(id, `request ${id}: a push to all names no target, got n = ${n}`);
        break;
      default:
        throw new FramingError(id, `request ${id}: unknown target ${target as number} at byte ${at} (1 keys, 2 mids, 3 room, 4 all)`);
    }
    if (p + bodyLen > buf.length) throw new FramingError(id, `request ${id}: a body of ${bodyLen} bytes runs past the message`);
    const body = buf.subarray(p, p + bodyLen);
    const next = p + bodyLen;
    const o = this.o;
    if ((target === StreamTarget.Keys || target === StreamTarget.Mids) && n === 0) invalid ??= `no ${target === StreamTarget.Keys ? 'keys' : 'mids'}`;
    if (invalid !== null) return this.refuse(id, 400, `request ${id}: ${invalid}`), next;
    if (bodyLen > o.maxBodyBytes) return this.refuse(id, 413, `body of ${bodyLen} bytes is over the limit of ${o.maxBodyBytes} bytes (control.maxBodyBytes)`, 'control.maxBodyBytes'), next;
    if (n > o.batchMaxTargets) return this.refuse(id, 400, `request ${id}: more than ${o.batchMaxTargets} keys+mids (the limit is control.batchMaxTargets)`, 'control.batchMaxTargets'), next;
    if (this.inFlight >= o.window) return this.refuse(id, 429, `stream window full: ${this.inFlight} pushes unanswered on this connection (control.streamWindow = ${o.window}); wait for answers before sending more`), next;
    if (o.takeRate !== null && !o.takeRate()) return this.refuse(id, 429, o.rateText, 'control.ratePerSec'), next;
    let done: Promise<PushResult>;
    try {
      done = target === StreamTarget.Keys ? this.push.pushKeys(op, keys!, body) : target === StreamTarget.Mids ? this.push.pushMids(op, mids!, body) : target === StreamTarget.Room ? this.push.pushRoom(op, keys![0]!, body) : this.push.pushAll(op, 0, body);
    } catch (err) {
      this.failed(id, err);
      return next;
    }
    this.inFlight++;
    const kind = KIND[target];
    done.then(
      (r) => {
        this.inFlight--;
        o.counters.countPush(kind, r.connections, bodyLen);
        this.answerOk(id, r.connections);
      },
      (err: unknown) => {
        this.inFlight--;
        this.failed(id, err);
      },
    );
    return next;
  }

  private failed(id: number, err: unknown): void {
    if (err instanceof ServiceError) return this.refuse(id, err.status, err.message, err.limit);
    this.o.log.error({ err, id }, 'push stream: push failed');
    this.refuse(id, 500, 'internal error');
  }

  private refuse(id: number, status: number, message: string, limit: LimitName | null = null): void {
    if (limit !== null) this.o.counters.countLimit(limit);
    const text = Buffer.from(message.length > 4096 ? `${message.slice(0, 4093)}...` : message);
    const b = this.reserve(9 + text.length);
    this.out[b] = StreamAnswerType.Error;
    this.out.writeUInt32BE(id >>> 0, b + 1);
    this.out.writeUInt16BE(status, b + 5);
    this.out.writeUInt16BE(text.length, b + 7);
    text.copy(this.out, b + 9);
  }

  private answerOk(id: number, connections: number): void {
    const b = this.reserve(OK_ANSWER);
    this.out[b] = StreamAnswerType.Ok;
    this.out.writeUInt32BE(id >>> 0, b + 1);
    this.out.writeUInt32BE(connections >>> 0, b + 5);
  }

  /** Room for `n` answer bytes; returns where they go. The flush at the end of the turn sends them all. */
  private reserve(n: number): number {
    if (this.outLen + n > this.out.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.outLen + n));
      this.out.copy(grown, 0, 0, this.outLen);
      this.out = grown;
    }
    const at = this.outLen;
    this.outLen += n;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushBound);
    }
    return at;
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.outLen > 0 && !this.closed) {
      // The buffer goes to the socket as is: the next answers go into a new one.
      this.ws.send(this.out.subarray(0, this.outLen), { binary: true });
      this.out = Buffer.allocUnsafe(Math.max(4096, Math.min(this.out.length, 1 << 16)));
    }
    this.outLen = 0;
    this.closeIfDone();
  }

  /** A request that cannot be delimited: its answer, then no more reading, and the close once every push taken is answered. */
  private fail(id: number, message: string): void {
    this.refuse(id, 400, message);
    this.closing = message;
    this.ws.pause();
  }

  private closeIfDone(): void {
    if (this.closing === null || this.closed || this.inFlight > 0 || this.outLen > 0) return;
    this.closed = true;
    // Reading again, so that the client's close frame completes the handshake (what else it sent is dropped).
    this.ws.resume();
    // A close reason is at most 123 bytes (of UTF-8).
    let reason = this.closing;
    while (Buffer.byteLength(reason) > 123) reason = reason.slice(0, -1);
    this.ws.close(1002, reason);
  }
}
