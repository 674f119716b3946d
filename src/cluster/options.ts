/** The engine's options, derived from the validated config (the `cluster.*` keys, src/config/keys.ts). */
import type { Config } from '../config/types.js';
import { clusterNodeId } from '../config/derived.js';
import type { EngineOptions } from './engine.js';

export function engineOptions(cfg: Config, role: string): EngineOptions {
  const c = cfg.cluster;
  return Object.freeze({
    url: c.redisUrl,
    nodeId: clusterNodeId(cfg),
    keyPrefix: c.keyPrefix,
    leaseMs: c.leaseMs,
    commandTimeoutMs: c.commandTimeoutMs,
    probeTimeoutMs: c.probeTimeoutMs,
    probeIntervalMs: c.probeIntervalMs,
    roomGraceMs: c.roomGraceMs,
    role,
  });
}

/** The engine's address as shown in errors, logs and /health: the URL without its password. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    u.username = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}
