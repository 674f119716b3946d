/** Raw TCP transport: a net.Server on this worker's own descriptor of the shared listening socket. */
import net from 'node:net';
import type { Transport, TransportSink } from './transport.js';

const SINK = Symbol('sink');

class TcpTransport implements Transport {
  readonly protocol = 'tcp' as const;
  readonly remoteAddress: string;
  private readonly socket: net.Socket;

  constructor(socket: net.Socket) {
    this.socket = socket;
    this.remoteAddress = socket.remoteAddress ?? '';
  }
  write(bytes: Uint8Array): boolean {
    return this.socket.write(bytes);
  }
  close(_reason: string): void {
    this.socket.end();
    this.socket.destroySoon();
  }
  destroy(): void {
    this.socket.destroy();
  }
}

type SocketWithSink = net.Socket & { [SINK]: TransportSink };

// Listeners live at module level and reach the actor through a symbol: no closures per connection.
function onData(this: SocketWithSink, chunk: Buffer): void {
  this[SINK].onData(chunk);
}
function onClose(this: SocketWithSink): void {
  this[SINK].onClose();
}
function onError(this: SocketWithSink): void {
  // 'close' follows every 'error'; resets from clients are routine and not worth a log line.
}

export function listenTcp(fd: number, accept: (t: Transport) => TransportSink): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer({ noDelay: true }, (socket) => {
      const s = socket as SocketWithSink;
      s[SINK] = accept(new TcpTransport(socket));
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
