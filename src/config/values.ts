/**
 * The closed sets of values that some keys take. They live apart from the key table because the
 * list parsers (lists.ts) need SLOW_CONSUMER_POLICIES too, and the key table needs the parsers.
 */

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const AUTH_MODES = ['none', 'jwt', 'http'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

export const JWT_ALGORITHMS = ['HS256', 'RS256'] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

export const MULTI_LOGIN_POLICIES = ['allow', 'kick'] as const;
export type MultiLoginPolicy = (typeof MULTI_LOGIN_POLICIES)[number];

export const SLOW_CONSUMER_POLICIES = ['close', 'drop-oldest'] as const;
export type SlowConsumerPolicy = (typeof SLOW_CONSUMER_POLICIES)[number];

/** ws.servePages: auto = on exactly when auth.mode is none (the embedded default), off with real auth. */
export const SERVE_PAGES_MODES = ['auto', 'on', 'off'] as const;
export type ServePagesMode = (typeof SERVE_PAGES_MODES)[number];
