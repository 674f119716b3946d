/**
 * What the two framings over raw TCP (goim, Mars) share: a net.Server on this worker's own
 * descriptor of the shared listening socket, a stream decoder per socket fed from 'data', and the
 * close/error plumbing. Listener functions live at module level and reach the transport through a
 * symbol: no closures per socket. Each framing supplies only its decoder, its packet handler and
 * how it encodes.
 */
import net from 'node:net';
import tls from 'node:tls';
import { codecErrorReason, CodecError, type StreamFramer } from '../codec.js';
import type { PushFrames } from './frames.js';
import { PushQueue } from './backlog.js';
import type { Accept, Transport, TransportSink } from './transport.js';

const CONN = Symbol('conn');

export abstract class StreamTransport<H> extends PushQueue implements Transport {
  abstract readonly protocol: 'tcp' | 'mars';
  readonly remoteAddress: string;
  readonly socket: net.Socket;
  readonly decoder: StreamFramer<H>;
  sink!: TransportSink;
  /** The decoder's packet callback, bound once per connection to its sink. */
  handler!: H;

  constructor(socket: net.Socket, decoder: StreamFramer<H>) {
    super();
    this.socket = socket;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.decoder = decoder;
  }
  /** The bytes of a push on this framing (shared by every recipient on it). */
  protected abstract framed(frames: PushFrames): Uint8Array;
  /** Makes the decoder's packet callback for this connection's sink. */
  abstract bind(sink: TransportSink): H;

  write(bytes: Uint8Array): boolean {
    return this.socket.write(bytes);
  }
  protected socketOf(): net.Socket {
    return this.socket;
  }
  protected writeNow(frames: PushFrames): void {
    this.socket.write(this.framed(frames));
  }
  protected frameBytes(frames: PushFrames): number {
    return this.framed(frames).length;
  }
  protected bufferedBytes(): number {
    return this.socket.writableLength;
  }
  destroy(): void {
    this.socket.destroy();
  }
  /**
   * Half-closes: what is queued (an op 6 notice, say) is written, then FIN. Reading goes on, so a
   * client still sending does not make our kernel answer with a reset that would discard the notice
   * on its side; the connection actor destroys the socket if the client has not closed within its
   * linger time.
   */
  close(_reason: string): void {
    this.flushBacklog(true);
    this.socket.end();
  }
}

type SocketWithConn = net.Socket & { [CONN]: StreamTransport<unknown> };

function onData(this: SocketWithConn, chunk: Buffer): void {
  const t = this[CONN];
  let err: CodecError;
  try {
    err = t.decoder.push(chunk, t.handler);
  } catch (e) {
    // A bug in the session must cost this connection, never the worker.
    this.destroy();
    t.sink.onProtocolError(`internal error: ${(e as Error).message}`);
    return;
  }
  if (err === CodecError.BodyTooLarge) {
    // A limit, not garbage: the session tells the client why (op 6) and half-closes; what the client
    // still sends is read and dropped until then.
    this.off('data', onData);
    this.on('data', discard);
    t.sink.onProtocolError(codecErrorReason(err), err);
  } else if (err !== CodecError.None) {
    this.destroy();
    t.sink.onProtocolError(codecErrorReason(err), err);
  }
}
function discard(): void {}
function onClose(this: SocketWithConn): void {
  this[CONN].sink.onClose();
}
/** A TLS handshake must finish within this time (node's default is 120 s). */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

function onTlsClientError(_err: Error, socket: tls.TLSSocket): void {
  socket.destroy();
}

function onError(this: SocketWithConn): void {
  // 'close' follows every 'error'; resets from clients are routine.
}

/**
 * Listens on `fd`; with `secure` (certificate and key), connections are TLS (a tls.Server on the same
 * descriptor: the transport gets the decrypted TLSSocket, a net.Socket like any other).
 */
export function listenStream<H>(fd: number, create: (socket: net.Socket) => StreamTransport<H>, accept: Accept, secure?: tls.SecureContextOptions): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const onSocket = (socket: net.Socket): void => {
      const t = create(socket);
      t.sink = accept(t);
      t.handler = t.bind(t.sink);
      const s = socket as SocketWithConn;
      s[CONN] = t as StreamTransport<unknown>;
      s.on('data', onData);
      s.on('close', onClose);
      s.on('error', onError);
    };
    const server =
      secure === undefined
        ? net.createServer({ noDelay: true }, onSocket)
        : tls.createServer({ ...secure, noDelay: true, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS }, onSocket);
    // A failed TLS handshake (plain text on the TLS port, bad client hello) costs that socket only.
    if (secure !== undefined) server.on('tlsClientError', onTlsClientError);
    server.once('error', reject);
    server.listen({ fd }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
