/**
 * ringcast's errors, in one place (after centrifuge's disconnect table and undici's coded errors):
 *
 *   - `Disconnect`: every code a client can see when the server ends its connection: op 6
 *     {code, reason[, reconnect_after_ms]} on every transport, and the close codes of the WebSocket
 *     close frame. `reconnect` says what a client should do: that column is what a client SDK obeys.
 *   - `ServiceError`: an error the control plane answers with an HTTP status; each has a stable
 *     string code (`RC_ERR_*`) for logs and clients. HttpError, PushRefused and ImError extend it.
 *   - `StartupError`: start-up cannot go on; main prints `ringcast: <message>` and exits with its code.
 *
 * Errors that cross threads travel as numbers (a kick record carries the disconnect code).
 */
import type { LimitName } from './limits.js';

/** What a client should do after a disconnect. */
export type Reconnect =
  /** Do not reconnect by itself: the same attempt fails again (bad credentials, replaced, a client bug). */
  | 'no'
  /** Reconnect after `reconnect_after_ms` (spread so that a restart is not a connect storm). */
  | 'after-delay'
  /** Reconnect with exponential backoff (the limit or the condition may have passed). */
  | 'backoff';

export interface DisconnectInfo {
  readonly code: number;
  readonly name: string;
  /** The reason text sent (a fixed text, or the start of one that names the limit or the platform). */
  readonly reason: string;
  readonly reconnect: Reconnect;
  /** Where the code appears: op 6, the WebSocket close frame, or both. */
  readonly via: 'op6' | 'ws-close' | 'op6+ws-close';
}

function d(code: number, name: string, reason: string, reconnect: Reconnect, via: DisconnectInfo['via'] = 'op6'): DisconnectInfo {
  return Object.freeze({ code, name, reason, reconnect, via });
}

/** The disconnect table. A connection closed for any of these gets op 6 first (WebSocket: then a close frame with code 1000 and the reason). */
export const Disconnect = Object.freeze({
  /** The auth body (op 7) is not valid, or the first packet is not op 7. */
  BadRequest: d(400, 'bad_request', 'auth body', 'no'),
  /** Authentication refused the credentials (jwt, http backend). */
  Unauthorized: d(401, 'unauthorized', 'auth failed', 'no'),
  /** The authenticator failed unexpectedly. */
  InternalError: d(500, 'internal_error', 'auth failed', 'backoff'),
  /** The auth backend is unreachable or answered nonsense. */
  AuthUnavailable: d(503, 'auth_unavailable', 'auth backend unavailable', 'backoff'),
  /** The auth backend did not answer within auth.timeoutMs. */
  AuthTimeout: d(504, 'auth_timeout', 'auth timed out', 'backoff'),
  /** WebSocket close frame of every orderly close: the reason is the op 6 reason. */
  Normal: d(1000, 'normal', '', 'no', 'ws-close'),
  /** The server is draining (shutdown, restart): reconnect after reconnect_after_ms, to this node or another. */
  Shutdown: d(1001, 'shutdown', 'server shutting down', 'after-delay'),
  /** WebSocket message that is not a goim packet (the reason is the codec's: bad header length, ...). */
  WsProtocolError: d(1002, 'ws_protocol_error', '', 'no', 'ws-close'),
  /** WebSocket message over protocol.maxBodyBytes (sent by the ws library). */
  WsMessageTooBig: d(1009, 'ws_message_too_big', 'message too large', 'backoff', 'ws-close'),
  /** A newer connection with the same key replaced this one (on any worker). */
  SameKey: d(4001, 'same_key', 'replaced by a new connection with the same key', 'no'),
  /** The same user logged in again on the same platform, whose multi-login policy is kick. */
  MultiLogin: d(4002, 'multi_login', 'logged in again on', 'no'),
  /** A limit refused or closed the connection; the reason names the config key. */
  Limit: d(4003, 'limit', 'limit:', 'backoff'),
  /** No heartbeat within protocol.heartbeatTimeoutMs. */
  HeartbeatTimeout: d(4004, 'heartbeat_timeout', 'heartbeat timeout: no heartbeat within protocol.heartbeatTimeoutMs', 'backoff'),
  /** The outbound queue passed push.writeQueueBytes under the close policy. */
  SlowConsumer: d(4005, 'slow_consumer', 'slow consumer: outbound queue over push.writeQueueBytes', 'backoff'),
  /** An operator closed the connection (POST /admin/kick, the dashboard's Actions page). */
  Kicked: d(4006, 'kicked', 'kicked by the operator', 'no'),
});

/** Every disconnect code, for docs and clients. */
export const DISCONNECTS: readonly DisconnectInfo[] = Object.freeze(Object.values(Disconnect));

export function disconnectInfo(code: number): DisconnectInfo | undefined {
  return DISCONNECTS.find((x) => x.code === code);
}

const enc = new TextEncoder();

/** The body of op 6: JSON {code, reason[, reconnect_after_ms]}. */
export function disconnectBody(code: number, reason: string, reconnectAfterMs?: number): Uint8Array {
  return enc.encode(JSON.stringify(reconnectAfterMs === undefined ? { code, reason } : { code, reason, reconnect_after_ms: reconnectAfterMs }));
}

// ---------------------------------------------------------------------------------------------
// Service errors

/** Stable error codes of the control plane (and of the messaging service), by HTTP status. */
export const ErrorCode = Object.freeze({
  BadRequest: 'RC_ERR_BAD_REQUEST',
  Unauthorized: 'RC_ERR_UNAUTHORIZED',
  Forbidden: 'RC_ERR_FORBIDDEN',
  NotFound: 'RC_ERR_NOT_FOUND',
  MethodNotAllowed: 'RC_ERR_METHOD_NOT_ALLOWED',
  Conflict: 'RC_ERR_CONFLICT',
  PayloadTooLarge: 'RC_ERR_PAYLOAD_TOO_LARGE',
  UnsupportedMediaType: 'RC_ERR_UNSUPPORTED_MEDIA_TYPE',
  RateLimited: 'RC_ERR_RATE_LIMITED',
  Internal: 'RC_ERR_INTERNAL',
  Unavailable: 'RC_ERR_UNAVAILABLE',
  Overloaded: 'RC_ERR_OVERLOADED',
  Timeout: 'RC_ERR_TIMEOUT',
} as const);
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const CODE_BY_STATUS: ReadonlyMap<number, ErrorCode> = new Map([
  [400, ErrorCode.BadRequest],
  [401, ErrorCode.Unauthorized],
  [403, ErrorCode.Forbidden],
  [404, ErrorCode.NotFound],
  [405, ErrorCode.MethodNotAllowed],
  [409, ErrorCode.Conflict],
  [413, ErrorCode.PayloadTooLarge],
  [415, ErrorCode.UnsupportedMediaType],
  [429, ErrorCode.RateLimited],
  [500, ErrorCode.Internal],
  [503, ErrorCode.Unavailable],
  [504, ErrorCode.Timeout],
]);

/** The code of an error answered with `status` (any status without its own code counts as internal). */
export function errorCodeOf(status: number): ErrorCode {
  return CODE_BY_STATUS.get(status) ?? ErrorCode.Internal;
}

/**
 * An error the control plane answers with `status` and goim's envelope {code: -status, message}.
 * `limit`: the limit that refused the request, counted in ringcast_limit_refusals_total.
 */
export class ServiceError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly limit: LimitName | null;
  constructor(status: number, message: string, code: ErrorCode = errorCodeOf(status), limit: LimitName | null = null) {
    super(message);
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.limit = limit;
  }
}

// ---------------------------------------------------------------------------------------------
// Start-up

/** Start-up cannot go on: main prints `ringcast: <message>` on stderr and exits with `exitCode`. */
export class StartupError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'StartupError';
    this.exitCode = exitCode;
  }
}
