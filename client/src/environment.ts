/**
 * The browser events the client follows while it runs (between connect() and close()): `online`
 * retries at once, `offline` drops the connection (and backs off until `online`), and
 * `visibilitychange` to visible heartbeats at once (timers of background tabs are throttled).
 */
import type { ClientEnvironment, EventTargetLike } from './types.js';

export interface EnvironmentHandlers {
  online(): void;
  offline(): void;
  visible(): void;
}

function defaults(): ClientEnvironment {
  const g = globalThis as unknown as { window?: EventTargetLike; document?: EventTargetLike & { visibilityState?: string } };
  const hasEvents = (x: unknown): x is EventTargetLike => typeof (x as EventTargetLike | undefined)?.addEventListener === 'function';
  return { network: hasEvents(g.window) ? g.window : null, visibility: hasEvents(g.document) ? g.document : null };
}

const noop = (): void => undefined;

/** Subscribes to the environment's events; returns the unsubscribe. */
export function watchEnvironment(given: ClientEnvironment | undefined, h: EnvironmentHandlers): () => void {
  const env = { ...defaults(), ...given };
  const network = env.network ?? null;
  const visibility = env.visibility ?? null;
  if (network === null && visibility === null) return noop; // Node: nothing to follow, nothing kept
  const online = (): void => h.online();
  const offline = (): void => h.offline();
  const change = (): void => {
    if (visibility?.visibilityState === undefined || visibility.visibilityState === 'visible') h.visible();
  };
  network?.addEventListener('online', online);
  network?.addEventListener('offline', offline);
  visibility?.addEventListener('visibilitychange', change);
  return () => {
    network?.removeEventListener('online', online);
    network?.removeEventListener('offline', offline);
    visibility?.removeEventListener('visibilitychange', change);
  };
}
