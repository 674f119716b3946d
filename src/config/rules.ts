/**
 * Rules that span keys, checked once every key is valid on its own (so they can read the parsed
 * config). Each problem is reported on one key: the one to change.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { servePagesEnabled, tlsEnabled } from './derived.js';
import type { Config } from './types.js';

export interface CrossFieldProblem {
  readonly key: string;
  readonly value: unknown;
  readonly expected: string;
}

/** The listeners' ports must differ (0 = any free port); the later key of a clash is named. */
function portClashes(cfg: Config): CrossFieldProblem[] {
  const out: CrossFieldProblem[] = [];
  const listeners: [string, number][] = [
    ['tcp.port', cfg.tcp.port],
    ['ws.port', cfg.ws.port],
    ['control.port', cfg.control.port],
    ['mars.port', cfg.mars.port],
    ...(tlsEnabled(cfg) ? ([['tls.wsPort', cfg.tls.wsPort], ['tls.tcpPort', cfg.tls.tcpPort]] as [string, number][]) : []),
  ];
  for (let i = 1; i < listeners.length; i++) {
    const [key, p] = listeners[i]!;
    if (p === 0) continue;
    const clash = listeners.slice(0, i).find(([, q]) => q === p);
    if (clash !== undefined) out.push({ key, value: p, expected: `expected a port different from ${clash[0]}` });
  }
  return out;
}

/**
 * What is wrong with an RS256 public key, if anything. Checked here rather than when the workers
 * build their authenticator, so that a bad key stops start-up naming the key like any config error.
 */
function rsaKeyProblem(pem: string): string | undefined {
  const base = 'expected a PEM public key when auth.mode is "jwt" with RS256';
  if (!pem.includes('-----BEGIN')) return base;
  let key: KeyObject;
  try {
    // Accepts SPKI public keys, PKCS#1 and certificates (src/auth/jwt.ts imports the key the same way).
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (err) {
    return `${base} (${(err as Error).message})`;
  }
  if (key.asymmetricKeyType !== 'rsa') return `expected an RSA key for RS256, got ${key.asymmetricKeyType ?? 'unknown'}`;
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < 2048) return `expected an RSA key of at least 2048 bits, got ${bits}`;
  return undefined;
}

function isHttpUrl(text: string): boolean {
  if (!/^https?:\/\/./.test(text)) return false;
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

function authProblems({ auth }: Config): CrossFieldProblem[] {
  const out: CrossFieldProblem[] = [];
  if (auth.mode === 'jwt' && auth.jwt.algorithm === 'HS256' && auth.jwt.secret === '') {
    out.push({ key: 'auth.jwt.secret', value: '', expected: 'expected a secret when auth.mode is "jwt" with HS256' });
  }
  if (auth.mode === 'jwt' && auth.jwt.algorithm === 'RS256') {
    const problem = rsaKeyProblem(auth.jwt.publicKey);
    if (problem !== undefined) out.push({ key: 'auth.jwt.publicKey', value: auth.jwt.publicKey, expected: problem });
  }
  if (auth.mode === 'http' && !isHttpUrl(auth.http.url)) {
    out.push({ key: 'auth.http.url', value: auth.http.url, expected: 'expected an http:// or https:// URL when auth.mode is "http"' });
  }
  return out;
}

export function crossFieldProblems(cfg: Config): CrossFieldProblem[] {
  const out = portClashes(cfg);
  if (!cfg.tcp.enabled && !cfg.ws.enabled) {
    out.push({ key: 'ws.enabled', value: false, expected: 'expected true when tcp.enabled is false (at least one of tcp and ws must be enabled)' });
  }
  out.push(...authProblems(cfg));
  // The demo chat's built-in service (src/upstream/demo-say.ts) owns the name while the pages are served.
  if (servePagesEnabled(cfg) && cfg.upstream.services.some((svc) => svc.name === 'Demo')) {
    out.push({ key: 'upstream.services', value: 'Demo', expected: 'expected no service named Demo while ws.servePages is on (the demo chat\'s built-in Demo/Say); rename it or set ws.servePages off' });
  }
  if ((cfg.tls.cert === '') !== (cfg.tls.key === '')) {
    const [key, other] = cfg.tls.cert === '' ? ['tls.cert', 'tls.key'] : ['tls.key', 'tls.cert'];
    out.push({ key, value: '', expected: `expected a PEM file name when ${other} is set (TLS needs both)` });
  }
  return out;
}
