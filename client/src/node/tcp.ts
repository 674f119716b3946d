/** goim over raw TCP in Node (`tcp://host:port`): a stream of packets, pushes bare (docs/protocol.md). */
import net from 'node:net';
import type { Transport, TransportEvents, TransportFactory } from '../transport.js';

class TcpTransport implements Transport {
  readonly framing = 'stream' as const;
  private readonly socket: net.Socket;
  private closed = false;

  constructor(host: string, port: number, events: TransportEvents) {
    const s = net.connect({ host, port, noDelay: true });
    this.socket = s;
    s.on('connect', () => {
      if (!this.closed) events.onOpen();
    });
    s.on('data', (chunk: Buffer) => {
      if (!this.closed) events.onData(chunk);
    });
    // After op 6 the server half-closes: finish our side too (allowHalfOpen is off, so Node does).
    s.on('error', () => undefined);
    s.on('close', () => {
      if (this.closed) return;
      this.closed = true;
      events.onClose(0, '');
    });
  }

  send(bytes: Uint8Array): void {
    if (!this.closed && !this.socket.destroyed) this.socket.write(bytes);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
  }
}

export function tcpTransport(url: string): TransportFactory {
  const u = new URL(url);
  const port = Number(u.port);
  if (u.hostname === '' || !Number.isInteger(port) || port <= 0) throw new TypeError(`options.url ${url}: expected tcp://host:port`);
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  return (_url, events) => new TcpTransport(host, port, events);
}
