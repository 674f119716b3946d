/**
 * The one page the WebSocket port serves (ws.servePages): the browser build of @ringcast/client at
 * `GET /ringcast-client.js`, so that a page can `import { RingcastClient } from
 * 'http://host:3102/ringcast-client.js'` from the server it talks to (client/README.md).
 *
 * The file is read once, when the listener starts, from a fixed path inside this repository
 * (client/dist/ringcast-client.js, made by `npm run build`); no part of a URL ever becomes a path.
 * The server does not import the client: it serves bytes.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import { fileURLToPath } from 'node:url';

export const CLIENT_SCRIPT_PATH = '/ringcast-client.js';

/** dist/src/protocols/ws-pages.js → <repo>/client/dist/ringcast-client.js */
export const CLIENT_SCRIPT_FILE = fileURLToPath(new URL('../../../client/dist/ringcast-client.js', import.meta.url));

/** Answers a request if it is one for the page; false: not ours, the caller answers as before. */
export type PageHandler = (req: http.IncomingMessage, res: http.ServerResponse) => boolean;

export function clientScriptHandler(file: string = CLIENT_SCRIPT_FILE): PageHandler {
  let body: Buffer | null = null;
  try {
    body = fs.readFileSync(file);
  } catch {
    // Not built: answered with a 404 that says how to build it.
  }
  const etag = body === null ? '' : `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    // The path alone decides; a query string (cache busting) is allowed.
    const url = req.url ?? '';
    const q = url.indexOf('?');
    if ((q < 0 ? url : url.slice(0, q)) !== CLIENT_SCRIPT_PATH) return false;
    if (body === null) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
      res.end('ringcast-client.js is not built: run `npm run build` (it bundles client/ into client/dist/ringcast-client.js)\n');
      return true;
    }
    const headers = {
      'Content-Type': 'text/javascript; charset=utf-8',
      'X-Content-Type-Options': 'nosniff',
      // Module scripts load in CORS mode: a page of another origin may import it.
      'Access-Control-Allow-Origin': '*',
      'Cross-Origin-Resource-Policy': 'cross-origin',
      'Cache-Control': 'no-cache',
      ETag: etag,
    };
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers).end();
      return true;
    }
    res.writeHead(200, { ...headers, 'Content-Length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
