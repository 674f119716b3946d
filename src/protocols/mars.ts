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
import net from 'node:net';
import { codecErrorReason, CodecError } from '../codec.js';
import { encodeMarsPacket, MARS_NOOP_CMDID, MARS_NOOP_SEQ, MarsStreamDecoder, type MarsHandler } from '../codec-mars.js';
import type { PushFrames } from '../push/frames.js';
import type { Accept, Transport, TransportSink } from './transport.js';

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

const CONN = Symbol('conn');

class MarsTransport implements Transport {
  readonly protocol = 'mars' as const;
  readonly remoteAddress: string;
  readonly socket: net.Socket;
  readonly decoder: MarsStreamDecoder;
  sink!: TransportSink;
  onPacket!: MarsHandler;
  /** The client_version the client uses; echoed in our packets. */
  clientVersion = 0;

  constructor(socket: net.Socket, maxBody: number) {
    this.socket = socket;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.decoder = new MarsStreamDecoder(maxBody);
  }
  sendPacket(_ver: number, op: number, seq: number, body: Uint8Array | null): boolean {
    if (op === HEARTBEAT_REPLY) return this.socket.write(encodeMarsPacket(MARS_NOOP_CMDID, MARS_NOOP_SEQ, null, this.clientVersion));
    return this.socket.write(encodeMarsPacket(opToMarsCmdid(op), seq >>> 0, body, this.clientVersion));
  }
  write(bytes: Uint8Array): boolean {
    return this.socket.write(bytes);
  }
  writeFrames(frames: PushFrames): void {
    this.socket.write(frames.mars());
  }
  close(_reason: string): void {
    this.socket.end();
    this.socket.destroySoon();
  }
}

type SocketWithConn = net.Socket & { [CONN]: MarsTransport };

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
  // 'close' follows.
}

export function listenMars(fd: number, maxBody: number, accept: Accept): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer({ noDelay: true }, (socket) => {
      const t = new MarsTransport(socket, maxBody);
      const sink = accept(t);
      t.sink = sink;
      t.onPacket = (clientVersion, cmdid, seq, buf, off, len) => {
        t.clientVersion = clientVersion;
        sink.onPacket(1, marsCmdidToOp(cmdid), seq | 0, buf, off, len);
      };
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
