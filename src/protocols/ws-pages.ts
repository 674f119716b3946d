/**
 * The pages the WebSocket port serves while ws.servePages is on:
 *
 *   GET /ringcast-client.js   the browser build of @ringcast/client, so that a page can `import {
 *                             RingcastClient } from 'http://host:3102/ringcast-client.js'` from the
 *                             server it talks to (client/README.md); any origin may import it;
 *   GET /demo                 the demo chat (demo/index.html), and its files under /demo/
 *                             (DEMO_FILES): a page of this origin only, with a Content-Security-Policy
 *                             that allows its own scripts, styles and WebSocket alone.
 *
 * The files are read once, when the listener starts, into a fixed table (URL path → bytes) from
 * fixed paths inside this repository (client/dist/ringcast-client.js is made by `npm run build`);
 * a request is answered by looking its path up in the table, so no part of a URL ever becomes a
 * file-system path: `..`, `%2e%2e`, double encoding and backslashes are simply not keys (404 under
 * /demo, 426 elsewhere, as before). With the pages off, /demo and its files answer 404 saying so.
 * The server does not import the client: it serves bytes.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { PACKAGE_ROOT } from '../config/paths.js';

export const CLIENT_SCRIPT_PATH = '/ringcast-client.js';
export const DEMO_PATH = '/demo';

/** <repo>/client/dist/ringcast-client.js */
export const CLIENT_SCRIPT_FILE = path.join(PACKAGE_ROOT, 'client', 'dist', 'ringcast-client.js');
/** The demo's files: URL path → file under <repo>/demo/. */
export const DEMO_FILES: ReadonlyArray<readonly [string, string]> = [
  [DEMO_PATH, 'index.html'],
  [`${DEMO_PATH}/demo.js`, 'demo.js'],
  [`${DEMO_PATH}/demo.css`, 'demo.css'],
  [`${DEMO_PATH}/favicon.svg`, 'favicon.svg'],
];
/** Written into demo/index.html at start-up: the page connects to ws.path. */
const WS_PATH_PLACEHOLDER = '{{WS_PATH}}';

/** Only the demo's own scripts, styles and WebSocket (CSP 'self' covers ws: of the same host and port). */
export const DEMO_CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Answers a request if it is one for the pages; false: not ours, the caller answers as before. */
export type PageHandler = (req: http.IncomingMessage, res: http.ServerResponse) => boolean;

interface Page {
  body: Buffer | null;
  /** Said with the 404 when the file could not be read. */
  missing: string;
  headers: Readonly<http.OutgoingHttpHeaders>;
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

const TEXT_404 = { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' };

function read(file: string): Buffer | null {
  try {
    return fs.readFileSync(file);
  } catch {
    return null; // answered with a 404 that says what is missing
  }
}

function etagOf(body: Buffer | null): string {
  return body === null ? '' : `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
}

function htmlAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export interface PagesOptions {
  /** ws.servePages: off answers /demo with a 404 naming the key (and /ringcast-client.js as before). */
  enabled: boolean;
  /** ws.path, written into the demo page. */
  wsPath: string;
}

/** The fixed table, built once. */
function pageTable(opts: PagesOptions): ReadonlyMap<string, Page> {
  const table = new Map<string, Page>();
  const script = read(CLIENT_SCRIPT_FILE);
  table.set(CLIENT_SCRIPT_PATH, {
    body: script,
    missing: 'ringcast-client.js is not built: run `npm run build` (it bundles client/ into client/dist/ringcast-client.js)\n',
    headers: {
      'Content-Type': TYPES['.js'],
      'X-Content-Type-Options': 'nosniff',
      // Module scripts load in CORS mode: a page of another origin may import it.
      'Access-Control-Allow-Origin': '*',
      'Cross-Origin-Resource-Policy': 'cross-origin',
      'Cache-Control': 'no-cache',
      ETag: etagOf(script),
    },
  });
  for (const [url, name] of DEMO_FILES) {
    let body = read(path.join(PACKAGE_ROOT, 'demo', name));
    if (body !== null && name === 'index.html') body = Buffer.from(body.toString('utf8').replaceAll(WS_PATH_PLACEHOLDER, htmlAttr(opts.wsPath)));
    table.set(url, {
      body,
      missing: `demo/${name} is missing from this install\n`,
      headers: {
        'Content-Type': TYPES[path.extname(name)],
        'X-Content-Type-Options': 'nosniff',
        'Content-Security-Policy': DEMO_CONTENT_SECURITY_POLICY,
        'Referrer-Policy': 'no-referrer',
        'Cache-Control': 'no-cache',
        ETag: etagOf(body),
      },
    });
  }
  return table;
}

export function pagesHandler(opts: PagesOptions): PageHandler {
  const table = opts.enabled ? pageTable(opts) : null;
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    // The path alone decides; a query string (the demo's ?mid=&room=, cache busting) is allowed.
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const p = q < 0 ? url : url.slice(0, q);
    const underDemo = p === DEMO_PATH || p.startsWith(`${DEMO_PATH}/`);
    if (table === null) {
      if (!underDemo) return false;
      res.writeHead(404, TEXT_404).end('the demo pages are off (ws.servePages)\n');
      return true;
    }
    const page = table.get(p);
    if (page === undefined) {
      if (!underDemo) return false;
      res.writeHead(404, TEXT_404).end(`no demo file ${p}\n`);
      return true;
    }
    if (page.body === null) {
      res.writeHead(404, TEXT_404).end(page.missing);
      return true;
    }
    if (req.headers['if-none-match'] === page.headers['ETag']) {
      res.writeHead(304, page.headers).end();
      return true;
    }
    res.writeHead(200, { ...page.headers, 'Content-Length': page.body.length });
    res.end(req.method === 'HEAD' ? undefined : page.body);
    return true;
  };
}
