/**
 * A transport carries goim packets to and from one server connection. The client creates one per
 * connection attempt and never reuses it: after close() (or once it reported onClose) it must call
 * nothing more, and the client ignores it if it does (a stale callback cannot touch a newer
 * connection).
 */
export interface TransportEvents {
  /** The connection is open: packets can be sent. */
  onOpen(): void;
  /**
   * Bytes arrived. `framing` says how to read them: 'message' = exactly one goim packet (a
   * WebSocket message), 'stream' = a chunk of a packet stream (TCP).
   */
  onData(bytes: Uint8Array): void;
  /** The connection ended (code: the WebSocket close code, or 0 where the transport has none). */
  onClose(code: number, reason: string): void;
}

export interface Transport {
  readonly framing: 'message' | 'stream';
  send(bytes: Uint8Array): void;
  /** Ends the connection now; no callback follows. */
  close(): void;
}

/** Opens a transport for `url`; `events` are called until the transport is closed. */
export type TransportFactory = (url: string, events: TransportEvents) => Transport;
