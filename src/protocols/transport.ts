/**
 * What a connection actor needs from the socket under it. TCP and WebSocket each implement it, so
 * the session logic (auth, heartbeat, rooms) exists once, in actors/connection.ts.
 */
export interface Transport {
  readonly protocol: 'tcp' | 'ws';
  readonly remoteAddress: string;
  /** Queues bytes (one goim packet, or several back to back); false when the socket buffer is full. */
  write(bytes: Uint8Array): boolean;
  /** Closes the connection; `reason` is logged (and, on WebSocket, sent in the close frame). */
  close(reason: string): void;
}

/** Events a transport reports to its connection actor. */
export interface TransportSink {
  onData(chunk: Uint8Array): void;
  onClose(): void;
}
