/**
 * goim over raw TCP: a stream of packets, decoded as they arrive (split and coalesced reads), on a
 * net.Server listening on this worker's own descriptor of the shared listening socket.
 */
import net from 'node:net';
import { codecErrorReason, CodecError, encodePacket, GoimStreamDecoder, type PacketHandler } from '../codec.js';
import type { PushFrames } from '../push/frames.js';
import type { Accept, Transport, TransportSink } from './transport.js';

const CONN = Symbol('conn');

class TcpTransport implements Transport {
  readonly protocol = 'tcp' as const;
  readonly remoteAddress: string;
  readonly socket: net.Socket;
  readonly decoder: GoimStreamDecoder;
  sink!: TransportSink;
  onPacket!: PacketHandler;

  constructor(socket: net.Socket, maxBody: number) {
    this.socket = socket;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.decoder = new GoimStreamDecoder(maxBody);
  }
  sendPacket(ver: number, op: number, seq: number, body: Uint8Array | null): boolean {
    return this.socket.write(encodePacket(op, seq, body, ver));
  }
  write(bytes: Uint8Array): boolean {
    return this.socket.write(bytes);
  }
  writeFrames(frames: PushFrames): void {
    this.socket.write(frames.tcp());
  }
  close(_reason: string): void {
    this.socket.end();
    this.socket.destroySoon();
  }
}

type SocketWithConn = net.Socket & { [CONN]: TcpTransport };

// Listeners live at module level and reach the transport through a symbol: no closures per socket.
function onData(this: SocketWithConn, chunk: Buffer): void {
  const t = this[CONN];
  let err: CodecError;
  try {
    err = t.decoder.push(chunk, t.onPacket);
  } catch (e) {
    // A bug in the session must cost this connection, never the worker.
    this.destroy();
    t.sink.onProtocolError(`internal error: ${(e as Error).message}`);
    return;
  }
  if (err !== CodecError.None) {
    this.destroy();
    t.sink.onProtocolError(codecErrorReason(err));
  }
}
function onClose(this: SocketWithConn): void {
  this[CONN].sink.onClose();
}
function onError(this: SocketWithConn): void {
  // 'close' follows every 'error'; resets from clients are routine.
}

export function listenTcp(fd: number, maxBody: number, accept: Accept): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer({ noDelay: true }, (socket) => {
      const t = new TcpTransport(socket, maxBody);
      const sink = accept(t);
      t.sink = sink;
      t.onPacket = sink.onPacket.bind(sink);
      const s = socket as SocketWithConn;
      s[CONN] = t;
      s.on('data', onData);
      s.on('close', onClose);
      s.on('error', onError);
    });
    server.once('error', reject);
    server.listen({ fd }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
