/**
 * The HTTP control port, served by the acceptor (main thread). For now: GET /health, and the
 * test-only /debug routes when `debug.testCommands` is on. Push routes come with the push path.
 * Errors answer with an HTTP 4xx and goim's envelope {code, message}.
 */
import http from 'node:http';
import type { Logger } from '../logger.js';
import type { CrashMode } from '../messages.js';
import type { Supervisor } from '../supervisor.js';

export interface ControlOptions {
  supervisor: Supervisor;
  listeners: Array<{ name: string; host: string; port: number }>;
  testCommands: boolean;
  log: Logger;
  startedAt: number;
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function intParam(url: URL, name: string, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') throw new HttpError(400, `missing query parameter "${name}"`);
  if (!/^-?\d+$/.test(raw)) throw new HttpError(400, `query parameter "${name}" must be an integer, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new HttpError(400, `query parameter "${name}" must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function createControlServer(opts: ControlOptions): http.Server {
  const { supervisor } = opts;

  function health(): { status: number; body: unknown } {
    const workers = supervisor.statuses();
    const ready = workers.filter((w) => w.state === 'ready' && !w.stalled).length;
    const status = ready === workers.length ? 'ok' : ready > 0 ? 'degraded' : 'down';
    return {
      status: ready > 0 ? 200 : 503,
      body: {
        status,
        uptimeSec: Math.round((Date.now() - opts.startedAt) / 1000),
        workers,
        listeners: opts.listeners,
        connections: workers.reduce((n, w) => n + w.connections, 0),
      },
    };
  }

  function worker(url: URL, id: string): NonNullable<ReturnType<Supervisor['admin']>> {
    if (!/^\d+$/.test(id) || Number(id) >= supervisor.workers) throw new HttpError(404, `no worker ${id} (workers are 0..${supervisor.workers - 1})`);
    const admin = supervisor.admin(Number(id));
    if (admin === null) throw new HttpError(409, `worker ${id} is not running (${url.pathname})`);
    return admin;
  }

  async function debug(req: http.IncomingMessage, url: URL): Promise<unknown> {
    const m = /^\/debug\/workers\/([^/]+)\/(crash|block|register)$/.exec(url.pathname);
    if (m !== null) {
      if (req.method !== 'POST') throw new HttpError(405, `${url.pathname} takes POST`);
      const admin = worker(url, m[1]!);
      if (m[2] === 'crash') {
        const mode = url.searchParams.get('mode') ?? 'throw';
        if (mode !== 'throw' && mode !== 'exit' && mode !== 'oom') throw new HttpError(400, `query parameter "mode" must be "throw", "exit" or "oom", got "${mode}"`);
        await admin.debugCrash(mode as CrashMode);
        return { worker: Number(m[1]), crash: mode };
      }
      if (m[2] === 'block') {
        const ms = intParam(url, 'ms', 1, 60_000);
        await admin.debugBlock(ms);
        return { worker: Number(m[1]), blockMs: ms };
      }
      const mid = intParam(url, 'mid', 0, Number.MAX_SAFE_INTEGER);
      const key = url.searchParams.get('key');
      if (key === null || key === '') throw new HttpError(400, 'missing query parameter "key"');
      await admin.debugRegister(mid, key, url.searchParams.get('platform') ?? '');
      return { worker: Number(m[1]), mid, key };
    }
    if (url.pathname === '/debug/router') {
      if (req.method !== 'GET') throw new HttpError(405, '/debug/router takes GET');
      const mid = intParam(url, 'mid', 0, Number.MAX_SAFE_INTEGER);
      const entries: Array<{ key: string; worker: number; platform: string; shard: number }> = [];
      for (let i = 0; i < supervisor.workers; i++) {
        const admin = supervisor.admin(i);
        if (admin === null) continue;
        for (const [key, w, platform] of await admin.routerLookup(mid)) entries.push({ key, worker: w, platform, shard: i });
      }
      return { mid, entries };
    }
    throw new HttpError(404, `unknown route ${url.pathname}`);
  }

  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://control');
    if (url.pathname === '/health') {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, '/health takes GET');
      const h = health();
      send(res, h.status, h.body);
      return;
    }
    if (url.pathname.startsWith('/debug/')) {
      if (!opts.testCommands) throw new HttpError(404, `unknown route ${url.pathname} (test commands are off: debug.testCommands)`);
      send(res, 200, { code: 0, message: '', data: await debug(req, url) });
      return;
    }
    throw new HttpError(404, `unknown route ${url.pathname}`);
  }

  return http.createServer((req, res) => {
    // Bodies are not used by these routes; read and drop them so keep-alive works.
    req.resume();
    route(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) {
        send(res, err.status, { code: -err.status, message: err.message });
      } else {
        opts.log.error({ err, url: req.url }, 'control request failed');
        send(res, 500, { code: -500, message: 'internal error' });
      }
    });
  });
}
