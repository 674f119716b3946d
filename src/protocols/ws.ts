/**
 * goim over WebSocket: an HTTP server on this worker's own descriptor; upgrades at the configured
 * path (goim: exactly `/sub`) become connections, anything else gets a plain HTTP error. One goim
 * packet per message; binary and text messages are both accepted, as goim does; we send binary.
 */
import http from 'node:http';
import https from 'node:https';
import type tls from 'node:tls';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { codecErrorReason, CodecError, decodeFrame, encodePacket, type PacketHandler } from '../codec.js';
import { encodeWsPacket, type PushFrames } from './frames.js';
import { Disconnect } from '../errors.js';
import { TLS_HANDSHAKE_TIMEOUT_MS } from './stream.js';
import { PushQueue } from './backlog.js';
import type { Accept, Transport, TransportSink } from './transport.js';
import { pagesHandler } from './ws-pages.js';
import { installFastReceive } from './ws-receive.js';

const CONN = Symbol('conn');

type WsInternals = WebSocket & { _socket?: net.Socket; _sender?: { _queue?: unknown[] } };

const BINARY = { binary: true } as const;

class WsTransport extends PushQueue implements Transport {
  readonly protocol = 'ws' as const;
  readonly remoteAddress: string;
  readonly ws: WebSocket;
  readonly maxBody: number;
  /** No extension (permessage-deflate) was negotiated: whole frames we build may go straight to the socket. */
  private readonly plain: boolean;
  sink!: TransportSink;
  onPacket!: PacketHandler;

  constructor(ws: WebSocket, remoteAddress: string, maxBody: number) {
    super();
    this.ws = ws;
    this.remoteAddress = remoteAddress;
    this.maxBody = maxBody;
    // Extensions are settled by the upgrade; read once (the getter builds a string every call).
    this.plain = ws.extensions === '';
  }
  /**
   * The socket to write a frame we built ourselves to, or null when ws must frame it: the connection
   * is not open, or it compresses (permessage-deflate), or ws's sender holds queued frames (which
   * only happens while it compresses) that must go first.
   */
  private directSocket(): net.Socket | null {
    const ws = this.ws as WsInternals;
    if (!this.plain || ws.readyState !== WebSocket.OPEN || ws._socket === undefined) return null;
    return (ws._sender?._queue?.length ?? 0) === 0 ? ws._socket : null;
  }
  /**
   * A reply (heartbeat, auth, room changes...): one frame in one buffer and one socket write, the
   * same bytes ws.send would write (as two buffers: header and payload, through cork and writev).
   */
  sendPacket(ver: number, op: number, seq: number, body: Uint8Array | null): boolean {
    const socket = this.directSocket();
    if (socket !== null) return socket.write(encodeWsPacket(op, seq, body, ver));
    this.ws.send(encodePacket(op, seq, body, ver), BINARY);
    return this.ws.bufferedAmount === 0;
  }
  write(bytes: Uint8Array): boolean {
    this.ws.send(bytes, BINARY);
    return this.ws.bufferedAmount === 0;
  }
  protected socketOf(): net.Socket | null {
    return (this.ws as WsInternals)._socket ?? null;
  }
  /**
   * The pre-built frame goes straight to the socket when that is safe (directSocket); otherwise ws
   * frames (and compresses) the op-9 payload itself.
   */
  protected writeNow(frames: PushFrames): void {
    const ws = this.ws as WsInternals;
    if (ws.readyState !== WebSocket.OPEN) return;
    const socket = this.directSocket();
    if (socket !== null) socket.write(frames.ws());
    else ws.send(frames.wsPayload(), BINARY);
  }
  protected frameBytes(frames: PushFrames): number {
    return frames.ws().length;
  }
  protected bufferedBytes(): number {
    return this.ws.bufferedAmount + ((this.ws as WsInternals)._socket?.writableLength ?? 0);
  }
  destroy(): void {
    this.ws.terminate();
  }
  close(reason: string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.flushBacklog(true);
    // Close reasons are limited to 123 bytes by the WebSocket protocol.
    this.ws.close(Disconnect.Normal.code, Buffer.from(reason).subarray(0, 120).toString());
  }
}

type WsWithConn = WebSocket & { [CONN]: WsTransport };

function onMessage(this: WebSocket, data: Buffer): void {
  const t = (this as WsWithConn)[CONN];
  let err: CodecError;
  try {
    err = decodeFrame(data, t.maxBody, t.onPacket);
  } catch (e) {
    // A bug in the session must cost this connection, never the worker.
    this.terminate();
    t.sink.onProtocolError(`internal error: ${(e as Error).message}`);
    return;
  }
  if (err !== CodecError.None) {
    this.close(Disconnect.WsProtocolError.code, codecErrorReason(err).slice(0, 120));
    t.sink.onProtocolError(codecErrorReason(err), err);
  }
}
function onClose(this: WebSocket): void {
  (this as WsWithConn)[CONN].sink.onClose();
}
function onError(this: WebSocket, err: Error & { code?: string }): void {
  // Bad frames (bad opcode, unmasked, too big) end here; ws closes the socket and 'close' follows.
  if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') (this as WsWithConn)[CONN].sink.onProtocolError('message too large', CodecError.BodyTooLarge);
}

function refuse(socket: Duplex, status: number, message: string): void {
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`);
}

/**
 * A socket that did not send its whole request within the deadline is destroyed, as a socket timeout
 * would (a client that sends nothing and never reads must not hold a half-open socket); bad HTTP is
 * answered 400.
 */
function onClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') socket.destroy();
  else refuse(socket, 400, 'bad request\n');
}

export interface WsOptions {
  path: string;
  perMessageDeflate: boolean;
  maxBody: number;
  /**
   * A socket must complete its HTTP upgrade within this (protocol.handshakeTimeoutMs): before the
   * upgrade it is no connection yet (limits and the auth deadline count from the upgrade), so without
   * a deadline of its own a socket that never sends its request would be held for ever.
   */
  upgradeTimeoutMs: number;
  /** Serve wss: TLS with this certificate and key (an https server on the descriptor). */
  secure?: tls.SecureContextOptions;
  /** Serve GET /ringcast-client.js and the demo chat at /demo (ws.servePages; src/protocols/ws-pages.ts). */
  servePages?: boolean;
}

export function listenWs(fd: number, opts: WsOptions, accept: Accept): Promise<http.Server> {
  // maxPayload: a goim packet is at most 16 + maxBody bytes; goim ignores trailing bytes, allow some.
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: opts.perMessageDeflate, clientTracking: false, maxPayload: 16 + opts.maxBody + 1024 });
  const page = pagesHandler({ enabled: opts.servePages === true, wsPath: opts.path });
  const notWs = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (page(req, res)) return;
    res.writeHead(426, { 'Content-Type': 'text/plain' }).end(`WebSocket endpoint: upgrade at ${opts.path}\n`);
  };
  // Before the upgrade a socket must send its request within upgradeTimeoutMs, or it is destroyed
  // (an idle socket that sends nothing too: onClientError). node:http checks every connection it still
  // parses on one interval per server: no timer per socket (a socket timeout would be one), and an
  // upgraded socket is no longer among them. A deadline is enforced up to one interval late.
  const checkEveryMs = Math.max(100, Math.min(1000, Math.floor(opts.upgradeTimeoutMs / 2)));
  const server: http.Server =
    opts.secure === undefined
      ? http.createServer({ connectionsCheckingInterval: checkEveryMs }, notWs)
      : https.createServer({ ...opts.secure, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS, connectionsCheckingInterval: checkEveryMs }, notWs);
  server.headersTimeout = opts.upgradeTimeoutMs;
  server.requestTimeout = opts.upgradeTimeoutMs;
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (req.url !== opts.path) {
      refuse(socket, 404, `no WebSocket endpoint at ${req.url ?? ''}; use ${opts.path}\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const t = new WsTransport(ws, req.socket.remoteAddress ?? '', opts.maxBody);
      const sink = accept(t);
      t.sink = sink;
      t.onPacket = sink.onPacket.bind(sink);
      (ws as WsWithConn)[CONN] = t;
      ws.on('message', onMessage);
      // Small whole binary frames (heartbeats, most packets) skip ws's Writable parser (ws-receive.ts).
      installFastReceive(ws, onMessage);
      ws.on('close', onClose);
      ws.on('error', onError);
    });
  });
  server.on('clientError', onClientError);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ fd }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
