/** The `jwt` auth mode: mid comes from the token's `sub`, extra rooms from an optional `rooms` claim. */
import { createPublicKey, type webcrypto } from 'node:crypto';
import * as jose from 'jose';
import type { AuthConfig } from '../config/index.js';
import { Disconnect } from '../errors.js';
import { fail, toMid, toRooms } from './claims.js';
import type { Verify } from './types.js';

/**
 * JWT verification with `jose`. jose verifies signatures through WebCrypto (`crypto.subtle.verify`), which Node runs
 * as an async job on the libuv thread pool, off the JS thread; that is why RS256 needs no worker pool of our own.
 * Keys are imported once here and the resulting CryptoKey is reused for every verification.
 *
 * The config was validated at load (src/config/rules.ts): HS256 has a secret, RS256 an RSA public key of at
 * least 2048 bits.
 */
export function createJwt(j: AuthConfig['jwt']): Verify {
  const alg = j.algorithm;
  let keyPromise: Promise<webcrypto.CryptoKey>;
  if (alg === 'HS256') {
    // The secret is used as its UTF-8 bytes, like most JWT libraries do with a string secret.
    const bytes = new TextEncoder().encode(j.secret);
    keyPromise = crypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  } else {
    // jose imports SPKI only; the config also takes PKCS#1 keys and certificates, so convert first.
    const spki = createPublicKey({ key: j.publicKey, format: 'pem' }).export({ type: 'spki', format: 'pem' }) as string;
    keyPromise = jose.importSPKI(spki, 'RS256');
  }
  keyPromise.catch(() => {}); // surfaced per request below; never an unhandled rejection
  const options: jose.JWTVerifyOptions = { algorithms: [alg] };
  if (j.issuer) options.issuer = j.issuer;
  if (j.audience) options.audience = j.audience;

  return async (req) => {
    if (!req.token) return fail(Disconnect.Unauthorized.code, 'missing token');
    let key: webcrypto.CryptoKey;
    try {
      key = await keyPromise;
    } catch (err) {
      return fail(Disconnect.AuthUnavailable.code, `jwt key import failed: ${(err as Error).message}`);
    }
    let payload: jose.JWTPayload;
    try {
      ({ payload } = await jose.jwtVerify(req.token, key, options));
    } catch (err) {
      return fail(Disconnect.Unauthorized.code, jwtErrorReason(err));
    }
    const mid = toMid(payload.sub);
    if (mid === undefined) return fail(Disconnect.Unauthorized.code, 'token "sub" must be a non-negative safe integer (number or decimal string)');
    if (req.mid !== 0 && req.mid !== mid) return fail(Disconnect.Unauthorized.code, 'mid does not match token');
    const rooms = toRooms(payload['rooms'], 'token claim "rooms"');
    if (typeof rooms === 'string') return fail(Disconnect.Unauthorized.code, rooms);
    return { ok: true, mid, rooms };
  };
}

function jwtErrorReason(err: unknown): string {
  if (err instanceof jose.errors.JWTExpired) return 'token expired';
  if (err instanceof jose.errors.JWTClaimValidationFailed) return `token claim check failed: ${err.claim} (${err.message})`;
  if (err instanceof jose.errors.JOSEAlgNotAllowed) return `token algorithm not allowed (${err.message})`;
  if (err instanceof jose.errors.JWSSignatureVerificationFailed) return 'invalid token signature';
  if (err instanceof jose.errors.JOSEError) return `invalid token (${err.message})`;
  return `token verification failed (${err instanceof Error ? err.message : String(err)})`;
}
