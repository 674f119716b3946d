/**
 * What a connection actor needs from the socket under it. Each file in src/protocols/ implements it
 * for one framing (goim over TCP, goim over WebSocket, Mars over TCP), so the session logic (auth,
 * heartbeat, rooms) exists once, in actors/connection.ts, in goim's terms (ver, op, seq, body).
 */
import type { CodecError } from '../codec.js';
import type { PushFrames } from './frames.js';

export interface Transport {
  readonly protocol: 'tcp' | 'ws' | 'mars';
  readonly remoteAddress: string;
  /** Sends one packet, framed for this transport; `body` is copied before it returns. False when the socket's buffer is full. */
  sendPacket(ver: number, op: number, seq: number, body: Uint8Array | null): boolean;
  /** Writes bytes already framed for this transport. */
  write(bytes: Uint8Array): boolean;
  /**
   * Writes a push, using the frame this transport's kind shares with every other recipient; while
   * the socket is backed up the push is held, whole, in the connection's backlog (protocols/backlog.ts).
   */
  writeFrames(frames: PushFrames): void;
  /** Bytes accepted for this connection but not yet handed to the kernel (the outbound queue). */
  queuedBytes(): number;
  /** Drops held pushes, oldest first, until at most `maxBytes` are queued; returns the messages dropped. */
  dropOldest(maxBytes: number): number;
  /** Messages dropped that the client has not been told about yet (the next gap marker's count). */
  pendingGap(): number;
  /** Drops the pushes held for this connection (not what is already in the socket's buffer). */
  discardQueued(): void;
  /** Closes at once, dropping what is queued (a client that does not read gets nothing more). */
  destroy(): void;
  /** Closes the connection after what is queued has been written. */
  close(reason: string): void;
}

/** Events a transport reports to its connection actor. */
export interface TransportSink {
  /** One inbound packet; the body `buf[off .. off+len)` is valid only during the call. */
  onPacket(ver: number, op: number, seq: number, buf: Uint8Array, off: number, len: number): void;
  /** The peer sent bytes that are not a valid packet (`code` says how, when known); the transport is already closing. */
  onProtocolError(reason: string, code?: CodecError): void;
  onClose(): void;
}

export type Accept = (transport: Transport) => TransportSink;
