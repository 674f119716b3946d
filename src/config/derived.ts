/** Questions answered from a validated config, asked in more than one place. */
import os from 'node:os';
import type { Config, MultiLoginConfig } from './types.js';

/** Whether TLS listeners are configured (tls.cert and tls.key both set). */
export function tlsEnabled(cfg: Config): boolean {
  return cfg.tls.cert !== '' && cfg.tls.key !== '';
}

/** Whether the WebSocket port serves GET /ringcast-client.js and /demo, and Demo/Say exists (ws.servePages; auto: only without real auth). */
export function servePagesEnabled(cfg: Config): boolean {
  return cfg.ws.servePages === 'on' || (cfg.ws.servePages === 'auto' && cfg.auth.mode === 'none');
}

/** Number of worker threads to start: `cfg.workers`, or os.availableParallelism() when it is 0. */
export function resolvedWorkers(cfg: Config): number {
  return cfg.workers === 0 ? os.availableParallelism() : cfg.workers;
}

/** Whether a second login on `platform` kicks the older one: its list (kick, then allow), else the default. */
export function kickPlatforms(cfg: MultiLoginConfig, platform: string): boolean {
  // The lists hold no empty item, so an empty platform is never listed.
  if (cfg.kick.includes(platform)) return true;
  if (cfg.allow.includes(platform)) return false;
  return cfg.default === 'kick';
}

/**
 * This box's cluster id: `cluster.nodeId`, or `<hostname>:<port>` when it is empty, with the control
 * port as bound (control.port 0 binds any free port, and two boxes on one host must not share an id).
 * The acceptor fills the id in once the port is bound (withClusterNodeId), so the workers read it as set.
 */
export function clusterNodeId(cfg: Config, boundControlPort: number = cfg.control.port): string {
  return cfg.cluster.nodeId !== '' ? cfg.cluster.nodeId : `${os.hostname()}:${boundControlPort}`;
}

/** The config with `cluster.nodeId` resolved against the bound control port (unchanged when it is set). */
export function withClusterNodeId(cfg: Config, boundControlPort: number): Config {
  if (cfg.cluster.nodeId !== '') return cfg;
  const cluster = Object.freeze({ ...cfg.cluster, nodeId: clusterNodeId(cfg, boundControlPort) });
  return Object.freeze({ ...cfg, cluster });
}

/** Whether this box runs in cluster mode (cluster.redisUrl set). */
export function clusterEnabled(cfg: Config): boolean {
  return cfg.cluster.redisUrl !== '';
}
