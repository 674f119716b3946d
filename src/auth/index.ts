/**
 * Authentication of goim op-7 (Auth) requests.
 *
 * `parseAuthBody` (src/auth/body.ts) turns the body into an `AuthRequest` (or a 400 `AuthFailure`), and
 * `createAuthenticator` builds the function that decides who the connection is:
 *
 * - `none`: trust the body's mid, as goim does.
 * - `jwt`:  verify `token` with `jose` (HS256 or RS256, that algorithm only); mid comes from `sub`, extra rooms from
 *           an optional `rooms` claim (src/auth/jwt.ts).
 * - `http`: POST the raw body to an auth backend, which answers 200 `{"mid":..., "rooms":[...]}` or rejects
 *           (src/auth/http.ts).
 *
 * Every authentication is bounded by `timeoutMs` (504) and never throws; failures carry an HTTP-like code
 * (400 bad body, 401 rejected, 503 backend unavailable, 504 backend timeout) and a human-readable reason.
 */
import type { AuthConfig } from '../config/index.js';
import { Disconnect } from '../errors.js';
import type { Logger } from '../logger.js';
import { fail } from './claims.js';
import { createHttp } from './http.js';
import { createJwt } from './jwt.js';
import type { AuthFailure, AuthResult, Authenticator, Verify } from './types.js';

export { parseAuthBody } from './body.js';
export type { AuthFailure, AuthRequest, AuthResult, AuthSuccess, Authenticator } from './types.js';

function createNone(): Verify {
  return async (req) => ({ ok: true, mid: req.mid, rooms: [] });
}

/** Warn at most once a second per failure code, so an auth-backend outage does not flood the log. */
function createFailureLogger(logger: Logger | undefined): (f: AuthFailure, mode: string) => void {
  if (!logger) return () => {};
  const last = new Map<number, { at: number; suppressed: number }>();
  return (f, mode) => {
    if (f.code === Disconnect.AuthUnavailable.code || f.code === Disconnect.AuthTimeout.code) {
      const now = Date.now();
      const s = last.get(f.code);
      if (s && now - s.at < 1000) {
        s.suppressed++;
        return;
      }
      logger.warn({ mode, code: f.code, reason: f.reason, suppressed: s?.suppressed ?? 0 }, 'auth backend problem');
      last.set(f.code, { at: now, suppressed: 0 });
    } else {
      logger.debug({ mode, code: f.code, reason: f.reason }, 'auth rejected');
    }
  };
}

/**
 * Builds the authenticator for a validated config (src/config/: the checks of every `auth.*` key live there). The
 * returned function never throws and always settles within `cfg.timeoutMs` (504 otherwise).
 */
export function createAuthenticator(cfg: AuthConfig, logger?: Logger): Authenticator {
  const timeoutMs = cfg.timeoutMs;
  const mode = cfg.mode;
  const verify = mode === 'jwt' ? createJwt(cfg.jwt) : mode === 'http' ? createHttp(cfg.http.url) : createNone();
  const logFailure = createFailureLogger(logger);
  if (mode === 'none') {
    // Nothing to wait for, so no deadline: no timer and no AbortController per connection (both
    // showed in connect-storm profiles).
    const never = new AbortController().signal;
    const settle = (r: AuthResult): AuthResult => {
      if (!r.ok) logFailure(r, mode);
      return r;
    };
    return (req) => {
      try {
        return verify(req, never).then(settle, (err: unknown) => settle(verifyThrew(err)));
      } catch (err) {
        return Promise.resolve(settle(verifyThrew(err)));
      }
    };
  }

  return (req) =>
    new Promise<AuthResult>((resolve) => {
      const ctrl = new AbortController();
      let settled = false;
      const finish = (r: AuthResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (!r.ok) logFailure(r, mode);
        resolve(r);
      };
      const timer = setTimeout(() => {
        finish(fail(Disconnect.AuthTimeout.code, `auth timed out after ${timeoutMs} ms`));
        ctrl.abort(); // cancels an in-flight backend request; its result is ignored
      }, timeoutMs);
      let p: Promise<AuthResult>;
      try {
        p = verify(req, ctrl.signal);
      } catch (err) {
        finish(verifyThrew(err));
        return;
      }
      p.then(finish, (err: unknown) => finish(verifyThrew(err)));
    });
}

/** A verifier that threw or rejected: the client is refused (401) with the reason. */
function verifyThrew(err: unknown): AuthResult {
  return fail(Disconnect.Unauthorized.code, `auth failed: ${err instanceof Error ? err.message : String(err)}`);
}
