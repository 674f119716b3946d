/**
 * Tencent Mars long-link framing over TCP (20-byte header, src/codec-mars.ts; docs/protocol.md),
 * mapped onto the same goim operations (the cmdid ↔ op mapping is in src/ops.ts), so that the
 * session layer does not know the difference. Mars seq (task id) is the goim seq; replies echo it.
 */
import type net from 'node:net';
import { encodeMarsPacket, MARS_NOOP_SEQ, MarsStreamDecoder, type MarsHandler } from '../codec-mars.js';
import { marsCmdidToOp, MARS_NOOP_CMDID, Op, opToMarsCmdid } from '../ops.js';
import type { PushFrames } from './frames.js';
import { listenStream, StreamTransport } from './stream.js';
import type { Accept, TransportSink } from './transport.js';
class MarsTransport extends StreamTransport<MarsHandler> {
  readonly protocol = 'mars' as const;
  /** The client_version the client uses; echoed in our packets. */
  clientVersion = 0;

  sendPacket(_ver: number, op: number, seq: number, body: Uint8Array | null): boolean {
    if (op === Op.HeartbeatReply) return this.socket.write(encodeMarsPacket(MARS_NOOP_CMDID, MARS_NOOP_SEQ, null, this.clientVersion));
    return this.socket.write(encodeMarsPacket(opToMarsCmdid(op), seq >>> 0, body, this.clientVersion));
  }
  protected framed(frames: PushFrames): Uint8Array {
    return frames.mars();
  }
  bind(sink: TransportSink): MarsHandler {
    return (clientVersion, cmdid, seq, buf, off, len) => {
      this.clientVersion = clientVersion;
      sink.onPacket(1, marsCmdidToOp(cmdid), seq | 0, buf, off, len);
    };
  }
}

export function listenMars(fd: number, maxBody: number, accept: Accept): Promise<net.Server> {
  return listenStream(fd, (socket) => new MarsTransport(socket, new MarsStreamDecoder(maxBody)), accept);
}
