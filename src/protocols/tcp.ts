/** goim over raw TCP: a stream of packets, decoded as they arrive (split and coalesced reads). */
import type net from 'node:net';
import type tls from 'node:tls';
import { encodePacket, GoimStreamDecoder, type PacketHandler } from '../codec.js';
import type { PushFrames } from './frames.js';
import { listenStream, StreamTransport } from './stream.js';
import type { Accept, TransportSink } from './transport.js';

class TcpTransport extends StreamTransport<PacketHandler> {
  readonly protocol = 'tcp' as const;

  sendPacket(ver: number, op: number, seq: number, body: Uint8Array | null): boolean {
    return this.socket.write(encodePacket(op, seq, body, ver));
  }
  protected framed(frames: PushFrames): Uint8Array {
    return frames.tcp();
  }
  bind(sink: TransportSink): PacketHandler {
    return sink.onPacket.bind(sink);
  }
}

export function listenTcp(fd: number, maxBody: number, accept: Accept, secure?: tls.SecureContextOptions): Promise<net.Server> {
  return listenStream(fd, (socket) => new TcpTransport(socket, new GoimStreamDecoder(maxBody)), accept, secure);
}
