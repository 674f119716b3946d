/**
 * Operator actions on the control port (docs/control-api.md, "Admin routes"), used by the
 * dashboard's Actions page and by scripts alike:
 *   POST /admin/kick?key=K  closes the connection with key K (op 6 4006, src/errors.ts), on whichever worker holds it;
 *   POST /admin/drain       starts the same graceful drain as SIGTERM (docs/operations.md#graceful-drain).
 * Control plane: the kick asks every running worker over comlink, as /sessions does.
 */
import type { Supervisor } from '../supervisor.js';
import { HttpError, required, type ApiContext, type ApiRequest, type ApiRoute } from './goim-api.js';

export interface AdminOptions {
  supervisor: Pick<Supervisor, 'workers' | 'admin'>;
  /** Starts the drain (main.ts: the SIGTERM path); null = this server cannot drain itself (503). */
  drain: (() => void) | null;
  draining: () => boolean;
}

/** The paths adminRoutes() serves (test/unit/docs.test.ts holds docs/control-api.md to them). */
export const ADMIN_PATHS = ['/admin/kick', '/admin/drain'] as const;

export function adminRoutes(opts: AdminOptions): Array<[string, ApiRoute]> {
  const { supervisor } = opts;

  async function kick(_ctx: ApiContext, req: ApiRequest): Promise<unknown> {
    const key = required(req.apiQuery, 'key');
    const asks: Array<Promise<number>> = [];
    for (let i = 0; i < supervisor.workers; i++) {
      const admin = supervisor.admin(i);
      // A worker that dies meanwhile held no connection worth kicking: its sockets died with it.
      if (admin !== null) asks.push(Promise.resolve(admin.kickKey(key)).catch(() => 0));
    }
    const kicked = (await Promise.all(asks)).reduce((n, k) => n + k, 0);
    if (kicked === 0) throw new HttpError(404, `no connection with key "${key}"`);
    return { key, kicked };
  }

  async function drain(): Promise<unknown> {
    if (opts.drain === null) throw new HttpError(503, 'this server cannot drain itself (started without a drain hook)');
    if (opts.draining()) throw new HttpError(409, 'the server is draining already');
    opts.drain();
    return { draining: true };
  }

  return [
    ['/admin/kick', { label: '/admin/kick', methods: ['POST'], body: false, handle: kick }],
    ['/admin/drain', { label: '/admin/drain', methods: ['POST'], body: false, handle: drain }],
  ];
}
