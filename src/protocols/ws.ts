/**
 * WebSocket transport: an HTTP server on this worker's own descriptor; upgrades at the configured
 * path (goim: exactly `/sub`) become connections, anything else gets a plain HTTP error.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { Transport, TransportSink } from './transport.js';

const SINK = Symbol('sink');

class WsTransport implements Transport {
  readonly protocol = 'ws' as const;
  readonly remoteAddress: string;
  private readonly ws: WebSocket;

  constructor(ws: WebSocket, remoteAddress: string) {
    this.ws = ws;
    this.remoteAddress = remoteAddress;
  }
  write(bytes: Uint8Array): boolean {
    this.ws.send(bytes, { binary: true });
    return this.ws.bufferedAmount === 0;
  }
  close(reason: string): void {
    this.ws.close(1000, reason.slice(0, 120));
  }
}

type WsWithSink = WebSocket & { [SINK]: TransportSink };

function onMessage(this: WebSocket, data: Buffer): void {
  (this as WsWithSink)[SINK].onData(data);
}
function onClose(this: WebSocket): void {
  (this as WsWithSink)[SINK].onClose();
}
function onError(this: WebSocket): void {
  // 'close' follows; nothing to do here.
}

function refuse(socket: Duplex, status: number, message: string): void {
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`);
}

export function listenWs(fd: number, path: string, perMessageDeflate: boolean, accept: (t: Transport) => TransportSink): Promise<http.Server> {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate, clientTracking: false });
  const server = http.createServer((_req, res) => {
    res.writeHead(426, { 'Content-Type': 'text/plain' }).end(`WebSocket endpoint: upgrade at ${path}\n`);
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (req.url !== path) {
      refuse(socket, 404, `no WebSocket endpoint at ${req.url ?? ''}; use ${path}\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const w = ws as WsWithSink;
      w[SINK] = accept(new WsTransport(ws, req.socket.remoteAddress ?? ''));
      w.on('message', onMessage);
      w.on('close', onClose);
      w.on('error', onError);
    });
  });
  server.on('clientError', (_err, socket: Duplex) => refuse(socket, 400, 'bad request\n'));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ fd }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
