/**
 * The config module's entry point: what the rest of ringcast imports. Keys are declared once in
 * keys.ts; see docs/configuration.md (generated from them) for every key.
 */
export { KEYS } from './keys.js';
export { CONFIG_DEFAULTS, CONFIG_KEYS } from './table.js';
export { ConfigSchema } from './schema.js';
export { ConfigError, type ConfigProblem } from './errors.js';
export { ENV_PREFIX, envName } from './env.js';
export { resolveConfig } from './resolve.js';
export { loadConfig } from './load.js';
export { DEFAULT_CONFIG_FILE, PACKAGE_ROOT } from './paths.js';
export { kickPlatforms, resolvedWorkers, servePagesEnabled, tlsEnabled } from './derived.js';
export type { RoomPolicyRule, UpstreamService } from './lists.js';
export {
  AUTH_MODES,
  JWT_ALGORITHMS,
  LOG_LEVELS,
  MULTI_LOGIN_POLICIES,
  SLOW_CONSUMER_POLICIES,
  type AuthMode,
  type JwtAlgorithm,
  type LogLevel,
  type MultiLoginPolicy,
  type SlowConsumerPolicy,
} from './values.js';
export type { AuthConfig, Config, ConfigFile, ConfigInput, ImConfig, MultiLoginConfig, PushConfig } from './types.js';
