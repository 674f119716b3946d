/**
 * What the SDK does after a connection ends, by code: the reconnect column of the server's
 * disconnect table (src/errors.ts, docs/protocol.md "Disconnect codes"), which the SDK obeys for op 6
 * codes and WebSocket close codes alike, plus the SDK's own codes (3000-3099) for ends the server
 * did not explain. test/unit/client-tables.test.ts checks the server's codes against this table.
 */

/** no: stay closed; after-delay: wait the server's reconnect_after_ms; backoff: retry with full-jitter backoff. */
export type ReconnectPolicy = 'no' | 'after-delay' | 'backoff';

/** Codes the SDK itself reports (the WebSocket range 3000-3999 is for libraries; the server never sends these). */
export const ClientCode = {
  /** close() was called. */
  Closed: 3000,
  /** The transport failed or closed without a disconnect notice (network failure, server gone). */
  TransportClosed: 3001,
  /** No op 8 within connectTimeoutMs of starting the attempt. */
  ConnectTimeout: 3002,
  /** No byte from the server for heartbeatMs + 10 s: the link is dead. */
  DeadLink: 3003,
  /** The browser went offline. */
  Offline: 3004,
  /** The server sent bytes that are not goim packets. */
  ProtocolError: 3005,
  /** options.auth (a function) threw or rejected. */
  AuthProviderFailed: 3006,
} as const;

const SERVER: ReadonlyMap<number, ReconnectPolicy> = new Map<number, ReconnectPolicy>([
  [400, 'no'], // the auth body is not valid: the same body fails again
  [401, 'no'], // credentials refused: get new ones first
  [500, 'backoff'],
  [503, 'backoff'],
  [504, 'backoff'],
  [1000, 'backoff'], // an orderly WebSocket close without op 6: nothing says it is final
  [1001, 'after-delay'], // drain: reconnect after reconnect_after_ms
  [1002, 'no'], // the server could not parse what this client sent
  [1009, 'backoff'],
  [4001, 'no'], // replaced by a newer connection with the same key: that one is the live one
  [4002, 'no'], // kicked by a newer login on this platform
  [4003, 'backoff'],
  [4004, 'backoff'],
  [4005, 'backoff'],
  [4006, 'no'], // kicked by the operator (POST /admin/kick): meant to go
]);

/** The policy for a code; codes nobody knows (a proxy's, a newer server's) back off. */
export function reconnectPolicy(code: number): ReconnectPolicy {
  return SERVER.get(code) ?? 'backoff';
}

/** Every server code the SDK knows, with its policy (for the table test). */
export const SERVER_CODES: ReadonlyMap<number, ReconnectPolicy> = SERVER;
