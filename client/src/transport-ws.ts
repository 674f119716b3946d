/**
 * goim over WebSocket: one packet per message (docs/protocol.md, "Transports"). Works with the
 * browser's global WebSocket and with any constructor of the same shape, such as the `ws` package's
 * in Node 20 (options.WebSocket).
 */
import type { Transport, TransportEvents, TransportFactory } from './transport.js';
import { utf8 } from './platform.js';

/** The part of the WebSocket interface the SDK uses (the browser's, and the `ws` package's). */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

const OPEN = 1;

function bytesOf(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data; // Node's Buffer (ws with binaryType 'nodebuffer')
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (typeof data === 'string') return utf8(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(0);
}

class WsTransport implements Transport {
  readonly framing = 'message' as const;
  private readonly ws: WebSocketLike;
  private closed = false;

  constructor(ctor: WebSocketConstructor, url: string, events: TransportEvents) {
    const ws = new ctor(url);
    this.ws = ws;
    // The `ws` package can hand out its Buffers as they are (no copy); browsers take 'arraybuffer'.
    try {
      ws.binaryType = 'nodebuffer';
    } catch {
      // a browser may throw on a value it does not know
    }
    if (ws.binaryType !== 'nodebuffer') ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      if (!this.closed) events.onOpen();
    };
    ws.onmessage = (ev) => {
      if (!this.closed) events.onData(bytesOf(ev.data));
    };
    ws.onclose = (ev) => {
      if (this.closed) return;
      this.closed = true;
      events.onClose(ev.code, ev.reason);
    };
    // 'error' is always followed by 'close', which reports it.
    ws.onerror = () => undefined;
  }

  send(bytes: Uint8Array): void {
    if (!this.closed && this.ws.readyState === OPEN) this.ws.send(bytes);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ws.onopen = null;
    this.ws.onmessage = null;
    this.ws.onclose = null;
    try {
      this.ws.close(1000);
    } catch {
      // already closing
    }
  }
}

/** A factory of WebSocket transports over `ctor` (the global WebSocket when none is given). */
export function webSocketTransport(ctor: WebSocketConstructor | undefined): TransportFactory {
  return (url, events) => {
    const c = ctor ?? (globalThis as unknown as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (c === undefined) throw new TypeError('no WebSocket here: pass options.WebSocket (in Node 20, the `ws` package)');
    return new WsTransport(c, url, events);
  };
}
