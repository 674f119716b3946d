/**
 * Operator actions on the control port (docs/control-api.md, "Admin routes"), used by the
 * dashboard's Actions page and by scripts alike:
 *   POST /admin/kick?key=K  closes the connection with key K (op 6 4006, src/errors.ts), on whichever worker holds it;
 *   POST /admin/drain       starts the same graceful drain as SIGTERM (docs/operations.md#graceful-drain).
 * The kick is answered by the worker that took the request: it asks the key's key-directory shard,
 * which kicks the holder, as a push by key goes (src/worker-control.ts). The drain is the acceptor's
 * (a `hop` route, src/control/acceptor-routes.ts).
 */
import { HttpError, required, type ApiContext, type ApiRequest, type ApiRoute } from './goim-api.js';

/** The paths of the admin routes (test/unit/docs.test.ts holds docs/control-api.md to them). */
export const ADMIN_PATHS = ['/admin/kick', '/admin/drain'] as const;

/**
 * POST /admin/kick. `kickKey` closes the connections with the key and resolves with how many;
 * null: this server cannot reach the connections (503).
 */
export function kickRoute(kickKey: ((key: string) => Promise<number>) | null): [string, ApiRoute] {
  async function kick(_ctx: ApiContext, req: ApiRequest): Promise<unknown> {
    const key = required(req.apiQuery, 'key');
    if (kickKey === null) throw new HttpError(503, 'this server holds no key directory (POST /admin/kick)');
    const kicked = await kickKey(key);
    if (kicked === 0) throw new HttpError(404, `no connection with key "${key}"`);
    return { key, kicked };
  }
  return ['/admin/kick', { label: '/admin/kick', methods: ['POST'], body: false, handle: kick }];
}

export interface DrainOptions {
  /** Starts the drain (main.ts: the SIGTERM path); null = this server cannot drain itself (503). */
  drain: (() => void) | null;
  draining: () => boolean;
}

/** POST /admin/drain, answered where the supervisor is. */
export function drainRoute(opts: DrainOptions): [string, ApiRoute] {
  async function drain(): Promise<unknown> {
    if (opts.drain === null) throw new HttpError(503, 'this server cannot drain itself (started without a drain hook)');
    if (opts.draining()) throw new HttpError(409, 'the server is draining already');
    opts.drain();
    return { draining: true };
  }
  return ['/admin/drain', { label: '/admin/drain', methods: ['POST'], body: false, hop: true, handle: drain }];
}
