/**
 * The live dashboard on the control port (docs/operations.md#dashboard):
 *   GET /dashboard, /dashboard/static/*  the page and its files (static-files.ts), open to anyone:
 *                                        they hold no data, and a browser cannot send a bearer token
 *                                        when it loads a page;
 *   GET /dashboard/session               whether a token is needed and whether the request's is good
 *                                        (the page asks before it shows anything but the token prompt);
 *   GET /dashboard/stream                the live figures (stream.ts), with the token like any data route.
 * The page's actions use the ordinary control routes. `refuses` is the browser guard the control
 * port applies to every request: a read-only dashboard takes no change from a browser, and no page
 * of another site may post to the control port (with no token, nothing else would stop it).
 */
import type http from 'node:http';
import { PAGE_PATH, staticFiles, type StaticFile } from './static-files.js';
import type { Logger } from '../../logger.js';
import { StreamHub, type SnapshotSource } from './stream.js';

export type { DashboardSource } from './stats.js';
export type { SnapshotSource } from './stream.js';

export interface DashboardOptions {
  /** control.dashboard: off = every /dashboard path is 404. */
  enabled: boolean;
  /** control.dashboardReadOnly: no actions on the page; browser POSTs refused. */
  readOnly: boolean;
}

export interface DashboardParts extends DashboardOptions {
  /** Where the stream's snapshots come from: read here (StatsSampler) or asked of the acceptor (remote.ts). */
  snapshots: SnapshotSource;
  /** Sent once at the start of each stream: what does not change while the server runs. */
  hello: { workers: number; startedAt: number; listeners: ReadonlyArray<{ name: string; host: string; port: number }> };
  /** Whether a token is needed at all (control.token set). */
  tokenRequired: boolean;
  /** Counts an answered request in ringcast_http_requests_total. */
  count(label: string, status: number): void;
  /** Tick interval of the stream; 1000 but in tests. */
  intervalMs?: number;
  /** Where a snapshot that did not come is logged. */
  log?: Logger;
  /** More headers on every dashboard answer (the serving worker's x-ringcast-worker, with test commands on). */
  headers?: Readonly<http.OutgoingHttpHeaders>;
}

/** Only the page's own files, scripts, styles and fetches; nothing inline, nothing framed. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const SECURITY_HEADERS: Readonly<http.OutgoingHttpHeaders> = Object.freeze({
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'Referrer-Policy': 'no-referrer',
});

const STREAM_PATH = '/dashboard/stream';
const SESSION_PATH = '/dashboard/session';
const JSON_TYPE = 'application/json; charset=utf-8';

/** The paths of the dashboard's routes besides its static files (test/unit/docs.test.ts). */
export const DASHBOARD_PATHS = [PAGE_PATH, SESSION_PATH, STREAM_PATH] as const;

export class Dashboard {
  private readonly parts: DashboardParts;
  private readonly files: ReadonlyMap<string, StaticFile>;
  private readonly hub: StreamHub;
  private readonly headers: Readonly<http.OutgoingHttpHeaders>;

  constructor(parts: DashboardParts) {
    this.parts = parts;
    this.headers = { ...SECURITY_HEADERS, ...parts.headers };
    // Read at start-up, so a broken install stops the server at once instead of failing a page later.
    this.files = parts.enabled ? staticFiles() : new Map();
    this.hub = new StreamHub(parts.snapshots, this.headers, parts.intervalMs ?? 1000, parts.log ?? null);
  }

  /** Open streams (tests, and the ticking rule). */
  get streams(): number {
    return this.hub.size;
  }

  get ticking(): boolean {
    return this.hub.ticking;
  }

  /** Paths served without the token: the page, its files, and the session question. */
  isPublic(path: string): boolean {
    return this.parts.enabled && (path === SESSION_PATH || this.files.has(path) || path === `${PAGE_PATH}/`);
  }

  /** The 403 message for a request the browser guard refuses, or null. */
  refuses(req: http.IncomingMessage): string | null {
    const method = req.method ?? 'GET';
    if (method === 'GET' || method === 'HEAD') return null;
    const site = req.headers['sec-fetch-site'];
    const origin = req.headers.origin;
    if (site === undefined && origin === undefined) return null; // not a browser: API clients are unaffected
    if (this.parts.readOnly) return 'read-only dashboard: the control port takes no changes from a browser (control.dashboardReadOnly)';
    const sameOrigin = site !== undefined ? site === 'same-origin' || site === 'none' : hostOf(origin!) === req.headers.host;
    return sameOrigin ? null : `cross-origin request refused (from ${origin ?? site}): the control port takes changes only from its own pages`;
  }

  /** Answers a dashboard path (true), or leaves the request to the other routes (false). */
  serve(req: http.IncomingMessage, res: http.ServerResponse, path: string, authorized: boolean): boolean {
    if (path !== PAGE_PATH && !path.startsWith(`${PAGE_PATH}/`)) return false;
    const method = req.method ?? 'GET';
    const label = path === STREAM_PATH || path === SESSION_PATH ? path : PAGE_PATH;
    if (!this.parts.enabled) return this.error(req, res, label, 404, `unknown route ${path} (the dashboard is off: control.dashboard)`);
    if (method !== 'GET' && method !== 'HEAD') return this.error(req, res, label, 405, `${path} takes GET, not ${method}`);
    req.resume();
    if (path === STREAM_PATH) {
      this.parts.count(label, 200);
      if (method === 'HEAD') {
        res.writeHead(200, { ...this.headers, 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end();
      } else {
        this.hub.open(res, { ...this.parts.hello, readOnly: this.parts.readOnly });
      }
      return true;
    }
    if (path === SESSION_PATH) {
      const body = { tokenRequired: this.parts.tokenRequired, authorized, ...(authorized ? { readOnly: this.parts.readOnly } : {}) };
      return this.send(req, res, label, 200, JSON_TYPE, Buffer.from(JSON.stringify({ code: 0, message: '', data: body })), 'no-store');
    }
    const f = this.files.get(path === `${PAGE_PATH}/` ? PAGE_PATH : path);
    if (f === undefined) return this.error(req, res, label, 404, `no dashboard file ${path}`);
    if (req.headers['if-none-match'] === f.etag) {
      res.writeHead(304, { ...this.headers, ETag: f.etag, 'Cache-Control': 'no-cache' });
      res.end();
      this.parts.count(label, 304);
      return true;
    }
    return this.send(req, res, label, 200, f.contentType, f.body, 'no-cache', f.etag);
  }

  /** Ends the open streams (the control port closes). */
  close(): void {
    this.hub.closeAll();
  }

  private send(req: http.IncomingMessage, res: http.ServerResponse, label: string, status: number, type: string, body: Buffer, cache: string, etag?: string): true {
    const headers: http.OutgoingHttpHeaders = { ...this.headers, 'Content-Type': type, 'Content-Length': body.length, 'Cache-Control': cache };
    if (etag !== undefined) headers['ETag'] = etag;
    // A body we do not read would hold the connection: answer and close it, as the control port does (src/control/http.ts).
    if (status >= 400 && (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined)) headers['Connection'] = 'close';
    if (status === 405) headers['Allow'] = 'GET, HEAD';
    res.writeHead(status, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
    this.parts.count(label, status);
    return true;
  }

  private error(req: http.IncomingMessage, res: http.ServerResponse, label: string, status: number, message: string): true {
    return this.send(req, res, label, status, JSON_TYPE, Buffer.from(JSON.stringify({ code: -status, message })), 'no-store');
  }
}

function hostOf(origin: string): string | null {
  try {
    return new URL(origin).host;
  } catch {
    return null;
  }
}
