/**
 * What a worker's actors are handed: one frozen context per worker, built by src/worker-runtime.ts.
 * An actor reaches its collaborators through it (a property read), never through its worker.
 */
import type { ActorSystem } from '../src/actor-system.js';
import type { Authenticator } from '../src/auth/index.js';
import type { SharedLimits } from '../src/limits.js';
import type { Logger } from '../src/logger.js';
import type { SessionExtensions } from '../src/session.js';
import type { ThreadStatus } from '../src/thread-status.js';
import type { Expiring, TimerWheel } from '../src/timer-wheel.js';
import type { UpstreamClient } from '../src/upstream/index.js';
import type { Registry } from './registry.js';

/** The session settings a connection reads (from the config, read once). */
export interface SessionSettings {
  /** rooms.maxPerConnection */
  readonly maxRooms: number;
  /** protocol.heartbeatTimeoutMs */
  readonly heartbeatTimeoutMs: number;
  /** push.writeQueueBytes: past it a connection is a slow consumer. */
  readonly writeQueueBytes: number;
  /** upstream.maxInFlight, upstream.ratePerSec, upstream.burst: each connection's op-4 limiter. */
  readonly upstream: { readonly maxInFlight: number; readonly ratePerSec: number; readonly burst: number };
}

export interface WorkerContext {
  /** This worker's thread index; the acceptor's is `workers`. */
  readonly index: number;
  readonly workers: number;
  readonly system: ActorSystem;
  readonly registry: Registry;
  readonly wheel: TimerWheel<Expiring>;
  readonly authenticate: Authenticator;
  readonly upstream: UpstreamClient;
  readonly limits: SharedLimits;
  readonly extensions: SessionExtensions;
  readonly log: Logger;
  readonly status: ThreadStatus;
  readonly settings: SessionSettings;
}
