/**
 * A connection actor: one client connection on one worker, whatever its transport.
 *
 * The runtime core only hosts it: it gets an id (its actor address inside the worker) and a key
 * (unique in the process), lives in a bucket, and leaves cleanly when the socket closes. The goim
 * session on top (auth, heartbeat, rooms) belongs to the gateway.
 */
import type { Transport, TransportSink } from '../src/protocols/transport.js';

export interface ConnectionHost {
  /** Called once when the connection is gone. */
  release(conn: ConnectionActor): void;
}

export class ConnectionActor implements TransportSink {
  readonly id: number;
  key: string;
  readonly transport: Transport;
  readonly since: number;
  /** Set once the client has authenticated (gateway); the router knows only authenticated users. */
  mid: number | null = null;
  platform = '';
  private readonly host: ConnectionHost;
  private closed = false;

  constructor(id: number, key: string, transport: Transport, host: ConnectionHost) {
    this.id = id;
    this.key = key;
    this.transport = transport;
    this.host = host;
    this.since = Date.now();
  }

  onData(_chunk: Uint8Array): void {
    // The goim codec and session arrive with the gateway; until then inbound bytes are read and
    // discarded so that a client cannot fill our socket buffer.
  }

  onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.host.release(this);
  }

  close(reason: string): void {
    this.transport.close(reason);
  }
}
