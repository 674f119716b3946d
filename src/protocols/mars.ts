/**
 * Tencent Mars long-link framing over TCP (20-byte header, see ../shared/docs/goim.md section 5),
 * mapped onto the same goim operations, so that the session layer does not know the difference.
 *
 * cmdid ↔ op mapping:
 *   - cmdid 6 (Mars noop, seq 0xFFFFFFFF) ↔ op 2 heartbeat; the reply is a Mars noop (cmdid 6,
 *     seq 0xFFFFFFFF, empty body), as Mars expects;
 *   - cmdid 100 + op ↔ goim op (0..999): auth 107 → 108, send 104 → 105, change room 112 → 113, sub
 *     114 → 115, unsub 116 → 117, disconnect 106, ringcast's extension ops 100..199 → 200..299;
 *   - cmdid ≥ 1000 = the same application op (pushes, seq 0 = Mars's PUSH_DATA_TASKID).
 * Mars seq (task id) is the goim seq; replies echo it.
 */
import type net from 'node:net';
import { encodeMarsPacket, MARS_NOOP_CMDID, MARS_NOOP_SEQ, MarsStreamDecoder, type MarsHandler } from '../codec-mars.js';
import type { PushFrames } from '../push/frames.js';
import { listenStream, StreamTransport } from './stream.js';
import type { Accept, TransportSink } from './transport.js';

export const MARS_OP_OFFSET = 100;
const HEARTBEAT = 2;
const HEARTBEAT_REPLY = 3;

export function marsCmdidToOp(cmdid: number): number {
  if (cmdid === MARS_NOOP_CMDID) return HEARTBEAT;
  if (cmdid >= 1000) return cmdid | 0;
  return cmdid - MARS_OP_OFFSET; // cmdids below 100 (other than 6) become negative ops: unknown
}

export function opToMarsCmdid(op: number): number {
  if (op === HEARTBEAT || op === HEARTBEAT_REPLY) return MARS_NOOP_CMDID;
  if (op >= 1000) return op >>> 0;
  return op + MARS_OP_OFFSET;
}

class MarsTransport extends StreamTransport<MarsHandler> {
  readonly protocol = 'mars' as const;
  /** The client_version the client uses; echoed in our packets. */
  clientVersion = 0;

  sendPacket(_ver: number, op: number, seq: number, body: Uint8Array | null): boolean {
    if (op === HEARTBEAT_REPLY) return this.socket.write(encodeMarsPacket(MARS_NOOP_CMDID, MARS_NOOP_SEQ, null, this.clientVersion));
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
