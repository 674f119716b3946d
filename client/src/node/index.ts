/**
 * @ringcast/client in Node 20: WebSocket through options.WebSocket (the `ws` package) and raw TCP
 * (`tcp://host:port`, goim framing); a store name is a file path. Everything else is the browser
 * entry's (index.ts), re-exported; this RingcastClient takes the place of that one.
 */
import { ClientCore, type Platform } from '../client.js';
import { webSocketTransport } from '../transport-ws.js';
import type { RingcastClientOptions } from '../types.js';
import { fileStore } from './file-store.js';
import { tcpTransport } from './tcp.js';

export * from '../index.js';
export { fileStore } from './file-store.js';

const node: Platform = {
  transport(url, options) {
    if (/^wss?:\/\//i.test(url)) return webSocketTransport(options.WebSocket);
    if (/^tcp:\/\//i.test(url)) return tcpTransport(url);
    throw new TypeError(`options.url ${url}: expected ws://, wss:// or tcp://`);
  },
  store: (name) => fileStore(name),
};

export class RingcastClient extends ClientCore {
  constructor(options: RingcastClientOptions) {
    super(options, node);
  }
}
