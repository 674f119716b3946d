/**
 * @ringcast/client: the browser entry (and the default one). WebSocket only (the global WebSocket,
 * or options.WebSocket); a store name is a localStorage item. Bundled into one ES module,
 * dist/ringcast-client.js, which a ringcast server serves at GET /ringcast-client.js.
 */
import { ClientCore, type Platform } from './client.js';
import { localStorageStore } from './store.js';
import { webSocketTransport } from './transport-ws.js';
import type { RingcastClientOptions } from './types.js';

const browser: Platform = {
  transport(url, options) {
    if (/^wss?:\/\//i.test(url)) return webSocketTransport(options.WebSocket);
    if (/^tcp:\/\//i.test(url)) throw new TypeError(`options.url ${url}: tcp:// needs Node (import @ringcast/client there)`);
    throw new TypeError(`options.url ${url}: expected ws:// or wss://`);
  },
  store: (name) => localStorageStore(name),
};

export class RingcastClient extends ClientCore {
  constructor(options: RingcastClientOptions) {
    super(options, browser);
  }
}

export { RingcastError, type RingcastErrorKind } from './errors.js';
export { ClientCode, reconnectPolicy, type ReconnectPolicy } from './disconnect.js';
export { backoffDelay, backoffCeiling, type BackoffOptions } from './backoff.js';
export { localStorageStore, type SeqStore, type SeqRecord } from './store.js';
export type { Transport, TransportEvents, TransportFactory } from './transport.js';
export type { WebSocketConstructor, WebSocketLike } from './transport-ws.js';
export type { Timers } from './platform.js';
export type * from './types.js';
