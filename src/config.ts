/**
 * Configuration: built-in defaults < config file (JSON) < RINGCAST_* environment variables.
 *
 * `CONFIG_DEFAULTS` is the single source of default values; `config/default.json` must equal it
 * (a test checks this). Every problem is reported as a `ConfigError` whose message names the key
 * (dotted path), the value given and what was expected; all problems found are listed, one line
 * each, and the error's own `key`/`value`/`expected` describe the first one.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface TcpConfig {
  /** Whether the raw TCP (goim protocol) listener is started. Default true. */
  readonly enabled: boolean;
  /** Address the TCP listener binds to. Default "0.0.0.0". */
  readonly host: string;
  /** TCP listener port; 0 = any free port. Default 3101. */
  readonly port: number;
}

export interface WsConfig {
  /** Whether the WebSocket listener is started. Default true. */
  readonly enabled: boolean;
  /** Address the WebSocket listener binds to. Default "0.0.0.0". */
  readonly host: string;
  /** WebSocket listener port; 0 = any free port. Default 3102. */
  readonly port: number;
  /** HTTP path at which WebSocket upgrades are accepted. Default "/sub". */
  readonly path: string;
  /** Negotiate permessage-deflate with clients that offer it. Default false (frames are written pre-encoded). */
  readonly perMessageDeflate: boolean;
}

export interface MarsConfig {
  /** Address the Tencent Mars long-link listener binds to. Default "0.0.0.0". */
  readonly host: string;
  /** Mars long-link TCP port; 0 = off. Default 0. */
  readonly port: number;
}

export interface ProtocolConfig {
  /** Largest inbound packet body in bytes (goim: 4096); a bigger packet closes the connection. Default 4096. */
  readonly maxBodyBytes: number;
  /** Time (ms) a new connection has to authenticate (op 7). Default 5000. */
  readonly handshakeTimeoutMs: number;
  /** A connection with no heartbeat (op 2) for this long (ms) is closed (goim: 8 min). Default 480000. */
  readonly heartbeatTimeoutMs: number;
  /** Resolution (ms) of each worker's timer wheel. Default 250. */
  readonly timerTickMs: number;
}

export interface RoomsConfig {
  /** Most rooms one connection may be in (its goim room plus extension joins). Default 16. */
  readonly maxPerConnection: number;
  /** How often (ms) per-worker room counts are summed into the process-wide counts heartbeats report. Default 1000. */
  readonly countIntervalMs: number;
}

export interface PushConfig {
  /** Room and broadcast pushes arriving within this window (ms) go out as one write per connection; 0 = merge only what is already queued. Default 5. */
  readonly batchWindowMs: number;
  /** A merged batch is written at once when it reaches this many bytes. Default 32768. */
  readonly batchMaxBytes: number;
  /** Pushes the acceptor has in flight at most; beyond, the control API answers 503 (overload protection). Default 20000. */
  readonly maxInFlight: number;
  /** Bound of each connection's outbound queue; past it the slow-consumer policy applies. Default 4194304. */
  readonly writeQueueBytes: number;
  /** What happens to a connection whose outbound queue passes writeQueueBytes: close it, or drop-oldest (drop whole queued pushes, oldest first, and send a gap marker, op 104). Default "close". */
  readonly slowConsumerPolicy: (typeof SLOW_CONSUMER_POLICIES)[number];
  /** Per-room policies for room pushes, `room=policy` items, comma-separated; a room ending in `*` is a prefix (`live://1000=drop-oldest,chat://*=close`); exact beats prefix, longer prefix beats shorter. Default "". */
  readonly roomPolicies: string;
}

export const SLOW_CONSUMER_POLICIES = ['close', 'drop-oldest'] as const;
export interface ImConfig {
  /** Directory of the reliable-messaging store (LMDB environment), created if missing. Default "./data". */
  readonly dataDir: string;
  /** Messages kept per user inbox; older ones are removed as new ones arrive. Default 10000. */
  readonly retainCount: number;
  /** Messages older than this (ms) are not served and are removed as new ones arrive. Default 604800000 (7 days). */
  readonly retainMs: number;
  /** How long (ms) a sender's client_msg_id is remembered: a retry within it gets the original seq. Default 86400000. */
  readonly idempotencyMs: number;
  /** Messages sent to a device and not acked within this (ms) are sent again. Default 5000. */
  readonly redeliverMs: number;
  /** Messages sent to one device and not yet acked, at most (the sync page size bound). Default 1000. */
  readonly ackWindow: number;
  /** Groups up to this many members get write fan-out (a copy in each member's inbox); larger groups read fan-out. Default 500. */
  readonly groupFanoutMax: number;
  /** Client sends (op 110) per second per connection, sustained. Default 100. */
  readonly sendRatePerSec: number;
  /** Client sends (op 110) a connection may burst. Default 200. */
  readonly sendBurst: number;
}

export const AUTH_MODES = ['none', 'jwt', 'http'] as const;
export const JWT_ALGORITHMS = ['HS256', 'RS256'] as const;
export const MULTI_LOGIN_POLICIES = ['allow', 'kick'] as const;

export interface AuthJwtConfig {
  /** Accepted signature algorithm (only this one). Default "HS256". */
  readonly algorithm: (typeof JWT_ALGORITHMS)[number];
  /** HS256 shared secret. Default "". */
  readonly secret: string;
  /** RS256 public key, PEM text. Default "". */
  readonly publicKey: string;
  /** Required `iss` claim when non-empty. Default "". */
  readonly issuer: string;
  /** Required `aud` claim when non-empty. Default "". */
  readonly audience: string;
}

export interface AuthConfig {
  /** none (trust the body's mid), jwt (token in the auth body) or http (ask a backend). Default "none". */
  readonly mode: (typeof AUTH_MODES)[number];
  /** Longest an authentication may take (ms) before the client is rejected. Default 3000. */
  readonly timeoutMs: number;
  readonly jwt: AuthJwtConfig;
  readonly http: { readonly url: string };
}

export interface MultiLoginConfig {
  /** Policy for a second login of the same user on the same platform: allow or kick (the older one). Default "allow". */
  readonly default: (typeof MULTI_LOGIN_POLICIES)[number];
  /** Comma-separated platforms whose policy is kick. Default "". */
  readonly kick: string;
  /** Comma-separated platforms whose policy is allow. Default "". */
  readonly allow: string;
}

export interface UpstreamSettings {
  /** Comma-separated `Service=baseURL` pairs: op-4 requests to Service/Method are POSTed to baseURL/Method. Default "". */
  readonly services: string;
  /** Longest wait (ms) for a backend reply. Default 5000. */
  readonly timeoutMs: number;
  /** Upstream requests one connection may have in flight. Default 8. */
  readonly maxInFlight: number;
  /** Sustained upstream requests per second per connection (token bucket rate). Default 20. */
  readonly ratePerSec: number;
  /** Token bucket size: requests per connection allowed in a burst. Default 40. */
  readonly burst: number;
}

export interface ControlConfig {
  /** Address the HTTP control (push API) listener binds to. Default "127.0.0.1". */
  readonly host: string;
  /** Control listener port; 0 = any free port. Default 3111. */
  readonly port: number;
  /** When set, every control request must carry `Authorization: Bearer <token>`. Default "". */
  readonly token: string;
  /** Largest request body (push payloads, batches) in bytes. Default 1048576. */
  readonly maxBodyBytes: number;
  /** Most keys + mids in one POST /push/batch. Default 100000. */
  readonly batchMaxTargets: number;
  /** Control requests per second (token bucket over the whole port; GET /health exempt); past it 429. 0 = no limit. Default 0. */
  readonly ratePerSec: number;
  /** Token bucket size of the control rate limit: requests allowed in a burst. Default 100. */
  readonly burst: number;
}

export interface LimitsConfig {
  /** Open client connections in the process at most; a new one past it gets op 6 code 4003 and is closed. 0 = no limit. Default 0. */
  readonly maxConnections: number;
  /** Open client connections per worker thread at most. 0 = no limit. Default 0. */
  readonly maxConnectionsPerWorker: number;
  /** Open client connections from one IP address at most (process-wide). 0 = no limit. Default 0. */
  readonly maxConnectionsPerIp: number;
  /** Connections accepted but not yet authenticated at most (process-wide). 0 = no limit. Default 0. */
  readonly maxPendingHandshakes: number;
}

export interface ShutdownConfig {
  /** On SIGTERM/SIGINT, how long (ms) outbound queues may take to flush to clients told to reconnect, before they are closed. Default 5000. */
  readonly graceMs: number;
}

export interface TlsConfig {
  /** PEM certificate (chain) file; with tls.key set, TLS listeners are served. "" = no TLS. Default "". */
  readonly cert: string;
  /** PEM private key file of tls.cert. Default "". */
  readonly key: string;
  /** Address the TLS listeners bind to. Default "0.0.0.0". */
  readonly host: string;
  /** WebSocket over TLS (wss) port, as goim's 3103; 0 = off. Default 3103. */
  readonly wsPort: number;
  /** goim TCP protocol over TLS port; 0 = off. Default 3104. */
  readonly tcpPort: number;
}

export interface NodesConfig {
  /** Domain handed to web clients by /goim/nodes/weighted (empty: addresses instead). Default "". */
  readonly domain: string;
  /** Comma-separated addresses of this node handed to clients (empty: the TCP listener's host). Default "". */
  readonly addrs: string;
  /** WSS port advertised to clients (ringcast's own tls.wsPort, or a TLS proxy's). Default 3103. */
  readonly wssPort: number;
  /** Client heartbeat interval advertised, seconds (goim: 240). Default 240. */
  readonly heartbeatSec: number;
  /** Missed heartbeats before a client reconnects, advertised (goim: 2). Default 2. */
  readonly heartbeatMax: number;
  /** Reconnect backoff advertised to clients (goim: 300 / 3 / 1.8 / 0.3). */
  readonly backoffMaxDelay: number;
  readonly backoffBaseDelay: number;
  readonly backoffFactor: number;
  readonly backoffJitter: number;
}

export interface RingConfig {
  /** Size in bytes of each thread's mailbox ring; a power of two in 64..1073741824. Default 4194304. */
  readonly mailboxBytes: number;
  /** Bound in bytes of the overflow list per destination per producing thread. Default 16777216. */
  readonly overflowBytes: number;
  /** Records a thread takes from its mailbox per turn before yielding to I/O. Default 4096. */
  readonly drainBudget: number;
}

export interface SupervisorConfig {
  /** How often (ms) the acceptor probes each worker's mailbox. Default 1000. */
  readonly probeIntervalMs: number;
  /** A worker whose mailbox has not moved this long (ms) while holding records is reported stalled. Default 5000. */
  readonly stallTimeoutMs: number;
  /** After this long (ms), workers still running at shutdown are terminated. Default 4000. */
  readonly shutdownTimeoutMs: number;
  /** Delay (ms) before replacing a dead worker. Default 100. */
  readonly restartDelayMs: number;
  /** Deaths within crashLoopWindowMs after which a worker slot is not restarted again. Default 5. */
  readonly crashLoopLimit: number;
  /** Window (ms) over which worker deaths are counted for crashLoopLimit. Default 60000. */
  readonly crashLoopWindowMs: number;
  /** Spare listening descriptors kept per listener for replacement workers. Default 2. */
  readonly spareListenFds: number;
  /** Clients closed at shutdown are told to reconnect after a random delay below this (ms, in op 6). Default 5000. */
  readonly reconnectSpreadMs: number;
  /** Heap limit (MiB, V8 old generation) of each worker thread; past it the worker dies and is replaced. 0 = Node's default. Default 0. */
  readonly workerHeapMb: number;
}

export interface LogConfig {
  /** pino log level: fatal, error, warn, info, debug, trace or silent. Default "info". */
  readonly level: LogLevel;
}

export interface DebugConfig {
  /** Enables test-only control routes (such as killing a worker); never in production. Default false. */
  readonly testCommands: boolean;
}

export interface Config {
  /** Worker threads; 0 = os.availableParallelism(). Default 0. */
  readonly workers: number;
  /** Connection-actor buckets per worker, chosen by hash of the connection key (goim comet uses 32). Default 32. */
  readonly bucketsPerWorker: number;
  readonly tcp: TcpConfig;
  readonly ws: WsConfig;
  readonly mars: MarsConfig;
  readonly control: ControlConfig;
  readonly limits: LimitsConfig;
  readonly shutdown: ShutdownConfig;
  readonly tls: TlsConfig;
  readonly protocol: ProtocolConfig;
  readonly rooms: RoomsConfig;
  readonly auth: AuthConfig;
  readonly multiLogin: MultiLoginConfig;
  readonly upstream: UpstreamSettings;
  readonly push: PushConfig;
  readonly im: ImConfig;
  readonly nodes: NodesConfig;
  readonly ring: RingConfig;
  readonly supervisor: SupervisorConfig;
  readonly log: LogConfig;
  readonly debug: DebugConfig;
}

type DeepPartial<T> = { -readonly [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** What `resolveConfig` accepts: any subset of the keys; missing ones take their defaults. */
export type ConfigInput = DeepPartial<Config>;

/** The built-in defaults: the single source of default values (config/default.json mirrors it). */
export const CONFIG_DEFAULTS: Config = deepFreeze({
  workers: 0,
  bucketsPerWorker: 32,
  tcp: { enabled: true, host: '0.0.0.0', port: 3101 },
  ws: { enabled: true, host: '0.0.0.0', port: 3102, path: '/sub', perMessageDeflate: false },
  mars: { host: '0.0.0.0', port: 0 },
  control: { host: '127.0.0.1', port: 3111, token: '', maxBodyBytes: 1048576, batchMaxTargets: 100000, ratePerSec: 0, burst: 100 },
  limits: { maxConnections: 0, maxConnectionsPerWorker: 0, maxConnectionsPerIp: 0, maxPendingHandshakes: 0 },
  shutdown: { graceMs: 5000 },
  tls: { cert: '', key: '', host: '0.0.0.0', wsPort: 3103, tcpPort: 3104 },
  protocol: { maxBodyBytes: 4096, handshakeTimeoutMs: 5000, heartbeatTimeoutMs: 480000, timerTickMs: 250 },
  rooms: { maxPerConnection: 16, countIntervalMs: 1000 },
  auth: {
    mode: 'none',
    timeoutMs: 3000,
    jwt: { algorithm: 'HS256', secret: '', publicKey: '', issuer: '', audience: '' },
    http: { url: '' },
  },
  multiLogin: { default: 'allow', kick: '', allow: '' },
  upstream: { services: '', timeoutMs: 5000, maxInFlight: 8, ratePerSec: 20, burst: 40 },
  push: { batchWindowMs: 5, batchMaxBytes: 32768, maxInFlight: 20000, writeQueueBytes: 4194304, slowConsumerPolicy: 'close', roomPolicies: '' },
  im: {
    dataDir: './data',
    retainCount: 10000,
    retainMs: 604800000,
    idempotencyMs: 86400000,
    redeliverMs: 5000,
    ackWindow: 1000,
    groupFanoutMax: 500,
    sendRatePerSec: 100,
    sendBurst: 200,
  },
  nodes: {
    domain: '',
    addrs: '',
    wssPort: 3103,
    heartbeatSec: 240,
    heartbeatMax: 2,
    backoffMaxDelay: 300,
    backoffBaseDelay: 3,
    backoffFactor: 1.8,
    backoffJitter: 0.3,
  },
  ring: { mailboxBytes: 4194304, overflowBytes: 16777216, drainBudget: 4096 },
  supervisor: {
    probeIntervalMs: 1000,
    stallTimeoutMs: 5000,
    shutdownTimeoutMs: 4000,
    restartDelayMs: 100,
    crashLoopLimit: 5,
    crashLoopWindowMs: 60000,
    spareListenFds: 2,
    reconnectSpreadMs: 5000,
    workerHeapMb: 0,
  },
  log: { level: 'info' },
  debug: { testCommands: false },
});

/** Prefix of every environment variable that overrides a key. */
export const ENV_PREFIX = 'RINGCAST_';

/** The package root (two levels up from dist/src/). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The config file read when no `--config` is given. */
export const DEFAULT_CONFIG_FILE = path.join(PACKAGE_ROOT, 'config', 'default.json');

// ---------------------------------------------------------------------------------------------
// Schema. Each leaf carries one "expected ..." text used for every way it can fail.

const OBJECT_EXPECTED = 'expected an object';

function int(min: number, max: number) {
  const error = `expected an integer between ${min} and ${max}`;
  return z.int({ error }).min(min, { error }).max(max, { error });
}

function powerOfTwo(min: number, max: number) {
  const error = `expected a power of two between ${min} and ${max}`;
  return z
    .int({ error })
    .min(min, { error })
    .max(max, { error })
    .refine((n) => Number.isInteger(Math.log2(n)), { error });
}

const bool = () => z.boolean({ error: 'expected a boolean (true or false)' });
const host = () => z.string({ error: 'expected a non-empty string' }).min(1, { error: 'expected a non-empty string' });
const port = () => int(0, 65535);
const text = () => z.string({ error: 'expected a string' });
function num(min: number, max: number) {
  const error = `expected a number between ${min} and ${max}`;
  return z.number({ error }).min(min, { error }).max(max, { error });
}
function oneOf<T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `expected one of ${values.join(', ')}` });
}

function section<S extends z.core.$ZodLooseShape>(shape: S) {
  return z.strictObject(shape, { error: OBJECT_EXPECTED });
}

/** Per-key validation (cross-field rules are checked after it succeeds: see `crossFieldProblems`). */
export const ConfigSchema = section({
  workers: int(0, 256),
  bucketsPerWorker: int(1, 4096),
  tcp: section({ enabled: bool(), host: host(), port: port() }),
  ws: section({
    enabled: bool(),
    host: host(),
    port: port(),
    path: z
      .string({ error: 'expected a string starting with "/"' })
      .startsWith('/', { error: 'expected a string starting with "/"' }),
    perMessageDeflate: bool(),
  }),
  mars: section({ host: host(), port: port() }),
  control: section({ host: host(), port: port(), token: text(), maxBodyBytes: int(1, 1073741824), batchMaxTargets: int(1, 10000000), ratePerSec: int(0, 10000000), burst: int(1, 10000000) }),
  limits: section({
    maxConnections: int(0, 100000000),
    maxConnectionsPerWorker: int(0, 100000000),
    maxConnectionsPerIp: int(0, 100000000),
    maxPendingHandshakes: int(0, 100000000),
  }),
  shutdown: section({ graceMs: int(0, 600000) }),
  tls: section({ cert: text(), key: text(), host: host(), wsPort: port(), tcpPort: port() }),
  protocol: section({
    maxBodyBytes: int(0, 16777216),
    handshakeTimeoutMs: int(100, 600000),
    heartbeatTimeoutMs: int(1000, 86400000),
    timerTickMs: int(10, 10000),
  }),
  rooms: section({ maxPerConnection: int(1, 1024), countIntervalMs: int(100, 600000) }),
  auth: section({
    mode: oneOf(AUTH_MODES),
    timeoutMs: int(1, 600000),
    jwt: section({ algorithm: oneOf(JWT_ALGORITHMS), secret: text(), publicKey: text(), issuer: text(), audience: text() }),
    http: section({ url: text() }),
  }),
  multiLogin: section({ default: oneOf(MULTI_LOGIN_POLICIES), kick: text(), allow: text() }),
  upstream: section({
    services: text(),
    timeoutMs: int(1, 600000),
    maxInFlight: int(1, 100000),
    ratePerSec: int(1, 1000000),
    burst: int(1, 1000000),
  }),
  push: section({
    batchWindowMs: int(0, 10000),
    batchMaxBytes: int(64, 16777216),
    maxInFlight: int(1, 10000000),
    writeQueueBytes: int(1024, 1073741824),
    slowConsumerPolicy: oneOf(SLOW_CONSUMER_POLICIES),
    roomPolicies: text().superRefine((value, ctx) => {
      const rules = parseRoomPolicies(value);
      if (typeof rules === 'string') ctx.addIssue({ code: 'custom', message: rules });
    }),
  }),
  im: section({
    dataDir: host(),
    retainCount: int(1, 100000000),
    retainMs: int(1000, 2 ** 52),
    idempotencyMs: int(0, 2 ** 52),
    redeliverMs: int(50, 3600000),
    ackWindow: int(1, 100000),
    groupFanoutMax: int(1, 1000000),
    sendRatePerSec: int(1, 1000000),
    sendBurst: int(1, 1000000),
  }),
  nodes: section({
    domain: text(),
    addrs: text(),
    wssPort: port(),
    heartbeatSec: int(1, 86400),
    heartbeatMax: int(1, 1000),
    backoffMaxDelay: int(0, 86400),
    backoffBaseDelay: int(0, 86400),
    backoffFactor: num(1, 100),
    backoffJitter: num(0, 1),
  }),
  ring: section({
    mailboxBytes: powerOfTwo(64, 1073741824),
    overflowBytes: int(0, 2 ** 31 - 1),
    drainBudget: int(1, 1000000),
  }),
  supervisor: section({
    probeIntervalMs: int(50, 60000),
    stallTimeoutMs: int(100, 600000),
    shutdownTimeoutMs: int(100, 60000),
    restartDelayMs: int(0, 60000),
    crashLoopLimit: int(1, 1000),
    crashLoopWindowMs: int(1000, 3600000),
    spareListenFds: int(1, 64),
    reconnectSpreadMs: int(0, 3600000),
    workerHeapMb: int(0, 1048576),
  }),
  log: section({
    level: z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(', ')}` }),
  }),
  debug: section({ testCommands: bool() }),
}) satisfies z.ZodType<Config>;

// ---------------------------------------------------------------------------------------------
// Errors

/** One problem with the configuration. */
export interface ConfigProblem {
  /** Dotted path of the key (`ring.mailboxBytes`), or `--config` / `argv` / an env variable name. */
  readonly key: string;
  /** The value given (the raw string for env variables). */
  readonly value: unknown;
  /** What is expected, starting with "expected " or "a known key". */
  readonly expected: string;
  /** The line reported for this problem. */
  readonly message: string;
}

export class ConfigError extends Error {
  /** Key of the first problem. */
  readonly key: string;
  /** Value given for the first problem. */
  readonly value: unknown;
  /** Expectation of the first problem. */
  readonly expected: string;
  /** Every problem found (at least one); the message is their lines joined by newlines. */
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    if (problems.length === 0) throw new TypeError('ConfigError needs at least one problem');
    super(problems.map((p) => p.message).join('\n'));
    this.name = 'ConfigError';
    const first = problems[0]!;
    this.key = first.key;
    this.value = first.value;
    this.expected = first.expected;
    this.problems = problems;
  }
}

function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return String(value);
    return text.length > 200 ? `${text.slice(0, 200)}…` : text;
  } catch {
    return String(value);
  }
}

function valueProblem(key: string, value: unknown, expected: string, label = key, suffix = ''): ConfigProblem {
  return { key, value, expected, message: `config: ${label} = ${show(value)}: ${expected}${suffix}` };
}

function unknownKeyProblem(key: string, value: unknown, suggestion: string | undefined, suffix = '', where = ''): ConfigProblem {
  const hint = suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`;
  return { key, value, expected: 'a known key', message: `config: unknown key "${key}"${where}${hint}${suffix}` };
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The closest candidate within edit distance 2, if any (first one on ties). */
function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// Keys and environment

type Leaf = boolean | number | string;
type Tree = { readonly [key: string]: Tree | Leaf };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function leafEntries(tree: Tree, prefix = ''): [string, Leaf][] {
  const out: [string, Leaf][] = [];
  for (const [k, v] of Object.entries(tree)) {
    const key = prefix === '' ? k : `${prefix}.${k}`;
    if (typeof v === 'object') out.push(...leafEntries(v, key));
    else out.push([key, v]);
  }
  return out;
}

/**
 * `upstream.services` is "Service=baseURL,Other=baseURL": a string so that one environment
 * variable can set it. Returns the map, or what is wrong as an "expected ..." text.
 */
export function parseServices(text: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    const name = item.slice(0, eq).trim();
    const url = item.slice(eq + 1).trim();
    if (eq <= 0 || !/^[A-Za-z0-9_.-]+$/.test(name) || !/^https?:\/\/./.test(url)) {
      return `expected comma-separated Service=http://host/path pairs (bad item "${item}")`;
    }
    out[name] = url;
  }
  return out;
}

export type SlowConsumerPolicy = (typeof SLOW_CONSUMER_POLICIES)[number];

/** One `push.roomPolicies` item: a room key, or a prefix when `prefix` is set (the text before `*`). */
export interface RoomPolicyRule {
  readonly room: string;
  readonly prefix: boolean;
  readonly policy: SlowConsumerPolicy;
}

/**
 * `push.roomPolicies` is "room=policy,prefix*=policy": a string so that one environment variable can
 * set it. Returns the rules, or what is wrong as an "expected ..." text naming the bad item.
 */
export function parseRoomPolicies(text: string): RoomPolicyRule[] | string {
  const out: RoomPolicyRule[] = [];
  for (const part of text.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const eq = item.lastIndexOf('=');
    const room = item.slice(0, eq).trim();
    const policy = item.slice(eq + 1).trim();
    const star = room.indexOf('*');
    if (eq <= 0 || room === '' || (star >= 0 && star !== room.length - 1) || !(SLOW_CONSUMER_POLICIES as readonly string[]).includes(policy)) {
      return `expected comma-separated room=policy items, room a room key or a prefix ending in *, policy one of ${SLOW_CONSUMER_POLICIES.join(', ')} (bad item "${item}")`;
    }
    out.push({ room: star >= 0 ? room.slice(0, -1) : room, prefix: star >= 0, policy: policy as SlowConsumerPolicy });
  }
  return out;
}

/** The set of platforms whose multi-login policy is `kick`. */
export function kickPlatforms(cfg: MultiLoginConfig, platform: string): boolean {
  // Empty items (an empty list splits into [""]) name no platform, not the empty one.
  const listed = (list: string): boolean => list.split(',').some((p) => p.trim() !== '' && p.trim() === platform);
  if (listed(cfg.kick)) return true;
  if (listed(cfg.allow)) return false;
  return cfg.default === 'kick';
}

const DEFAULT_LEAVES: readonly [string, Leaf][] = leafEntries(CONFIG_DEFAULTS as unknown as Tree);

/** Every leaf key, dotted, in declaration order (e.g. `ring.mailboxBytes`). */
export const CONFIG_KEYS: readonly string[] = DEFAULT_LEAVES.map(([k]) => k);

/** The environment variable that overrides `key`: `ring.mailboxBytes` → `RINGCAST_RING_MAILBOX_BYTES`. */
export function envName(key: string): string {
  return (
    ENV_PREFIX +
    key
      .split('.')
      .map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())
      .join('_')
  );
}

/** Known keys at the level of `parentPath` (top level when empty). */
function knownKeysAt(parentPath: readonly PropertyKey[]): string[] {
  let node: unknown = CONFIG_DEFAULTS;
  for (const p of parentPath) {
    if (!isPlainObject(node)) return [];
    node = node[String(p)];
  }
  return isPlainObject(node) ? Object.keys(node) : [];
}

function getAt(root: unknown, keys: readonly PropertyKey[]): unknown {
  let node = root;
  for (const k of keys) {
    if (!isPlainObject(node)) return undefined;
    node = Object.prototype.hasOwnProperty.call(node, k) ? node[String(k)] : undefined;
  }
  return node;
}

function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  // defineProperty so that a "__proto__" key from JSON stays an (unknown) own key.
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** `input` over `base`; sections that are not objects on either side are taken from `input` as given. */
function deepMerge(base: Record<string, unknown>, input: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(base)) setOwn(out, k, isPlainObject(v) ? deepMerge(v, {}) : v);
  for (const [k, v] of Object.entries(input)) {
    const b = Object.prototype.hasOwnProperty.call(base, k) ? base[k] : undefined;
    setOwn(out, k, isPlainObject(b) && isPlainObject(v) ? deepMerge(b, v) : v);
  }
  return out;
}

interface EnvOverride {
  readonly variable: string;
  readonly raw: string;
}

const INTEGER_TEXT = /^-?[0-9]+$/;
const ENV_BOOLEANS: Readonly<Record<string, boolean>> = { true: true, false: false, '1': true, '0': false };
const ENV_BOOLEAN_EXPECTED = 'expected true, false, 1 or 0';

/**
 * Applies RINGCAST_* overrides to `merged` in place. Values that do not parse are stored as the raw
 * string, so validation reports them; returns the overrides by dotted key, plus unknown-variable problems.
 */
function applyEnv(merged: Record<string, unknown>, env: NodeJS.ProcessEnv): { overrides: Map<string, EnvOverride>; problems: ConfigProblem[] } {
  const overrides = new Map<string, EnvOverride>();
  const problems: ConfigProblem[] = [];
  const known = new Map(DEFAULT_LEAVES.map(([k, d]) => [envName(k), [k, d] as const]));
  for (const variable of Object.keys(env).sort()) {
    if (!variable.startsWith(ENV_PREFIX)) continue;
    const raw = env[variable];
    if (raw === undefined) continue;
    const entry = known.get(variable);
    if (entry === undefined) {
      problems.push(unknownKeyProblem(variable, raw, closest(variable, [...known.keys()]), '', ' in the environment'));
      continue;
    }
    const [key, dflt] = entry;
    let value: unknown = raw;
    if (typeof dflt === 'number') {
      // Integers everywhere; the few fractional keys (nodes.backoffFactor, …) take decimals too.
      if (INTEGER_TEXT.test(raw) || (!Number.isInteger(dflt) && /^-?\d+(\.\d+)?$/.test(raw))) value = Number(raw);
    } else if (typeof dflt === 'boolean') {
      if (Object.prototype.hasOwnProperty.call(ENV_BOOLEANS, raw)) value = ENV_BOOLEANS[raw];
    }
    const parts = key.split('.');
    const parent = getAt(merged, parts.slice(0, -1));
    // If the file made the section a non-object, that is reported for the section; skip the override.
    if (!isPlainObject(parent)) continue;
    setOwn(parent, parts[parts.length - 1]!, value);
    overrides.set(key, { variable, raw });
  }
  return { overrides, problems };
}

function crossFieldProblems(cfg: Config): { key: string; value: unknown; expected: string }[] {
  const out: { key: string; value: unknown; expected: string }[] = [];
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
  if (!cfg.tcp.enabled && !cfg.ws.enabled) {
    out.push({ key: 'ws.enabled', value: false, expected: 'expected true when tcp.enabled is false (at least one of tcp and ws must be enabled)' });
  }
  const { auth } = cfg;
  if (auth.mode === 'jwt' && auth.jwt.algorithm === 'HS256' && auth.jwt.secret === '') {
    out.push({ key: 'auth.jwt.secret', value: '', expected: 'expected a secret when auth.mode is "jwt" with HS256' });
  }
  if (auth.mode === 'jwt' && auth.jwt.algorithm === 'RS256' && !auth.jwt.publicKey.includes('-----BEGIN')) {
    out.push({ key: 'auth.jwt.publicKey', value: auth.jwt.publicKey, expected: 'expected a PEM public key when auth.mode is "jwt" with RS256' });
  }
  if (auth.mode === 'http' && !/^https?:\/\/./.test(auth.http.url)) {
    out.push({ key: 'auth.http.url', value: auth.http.url, expected: 'expected an http:// or https:// URL when auth.mode is "http"' });
  }
  if ((cfg.tls.cert === '') !== (cfg.tls.key === '')) {
    const [key, other] = cfg.tls.cert === '' ? ['tls.cert', 'tls.key'] : ['tls.key', 'tls.cert'];
    out.push({ key, value: '', expected: `expected a PEM file name when ${other} is set (TLS needs both)` });
  }
  const services = parseServices(cfg.upstream.services);
  if (typeof services === 'string') out.push({ key: 'upstream.services', value: cfg.upstream.services, expected: services });
  return out;
}

/** Whether TLS listeners are configured (tls.cert and tls.key both set). */
export function tlsEnabled(cfg: Config): boolean {
  return cfg.tls.cert !== '' && cfg.tls.key !== '';
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Public entry points

/**
 * Deep-merges `input` over the defaults, applies RINGCAST_* overrides from `env`, validates, and
 * returns a deeply frozen Config. `source` (e.g. the file name) is appended to problems about
 * values that came from `input`. Throws ConfigError listing every problem.
 */
export function resolveConfig(input: unknown, env: NodeJS.ProcessEnv = {}, source?: string): Config {
  // (`env` omitted = no overrides; pass process.env explicitly.)
  const suffix = source === undefined ? '' : ` (in ${source})`;
  if (input === undefined) input = {};
  if (!isPlainObject(input)) throw new ConfigError([valueProblem('(root)', input, OBJECT_EXPECTED, '(root)', suffix)]);

  const merged = deepMerge(CONFIG_DEFAULTS as unknown as Record<string, unknown>, input);
  const { overrides, problems } = applyEnv(merged, env);

  const valueLine = (key: string, value: unknown, expected: string): ConfigProblem => {
    const o = overrides.get(key);
    if (o === undefined) return valueProblem(key, value, expected, key, suffix);
    const leafDefault = DEFAULT_LEAVES.find(([k]) => k === key)?.[1];
    // A boolean variable that did not parse: say what the environment accepts.
    const exp = typeof leafDefault === 'boolean' && typeof value === 'string' ? ENV_BOOLEAN_EXPECTED : expected;
    return valueProblem(o.variable, o.raw, exp, `${o.variable} (${key})`);
  };

  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const seen = new Set<string>();
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        const known = knownKeysAt(issue.path);
        for (const k of issue.keys) {
          const full = [...issue.path.map(String), k].join('.');
          if (seen.has(full)) continue;
          seen.add(full);
          const near = closest(k, known);
          const suggestion = near === undefined ? undefined : [...issue.path.map(String), near].join('.');
          problems.push(unknownKeyProblem(full, getAt(merged, [...issue.path, k]), suggestion, suffix));
        }
        continue;
      }
      const key = issue.path.length === 0 ? '(root)' : issue.path.map(String).join('.');
      if (seen.has(key)) continue; // one line per key (zod may report several checks of one value)
      seen.add(key);
      problems.push(valueLine(key, getAt(merged, issue.path), issue.message));
    }
    throw new ConfigError(problems);
  }
  for (const p of crossFieldProblems(parsed.data)) problems.push(valueLine(p.key, p.value, p.expected));
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(parsed.data);
}

/**
 * Reads the config file named by `--config FILE` / `--config=FILE` in `argv` (process.argv.slice(2);
 * default config/default.json in the package root), then resolves it with `env`.
 */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): Config {
  let file: string | undefined;
  const given = (value: string | undefined): void => {
    if (file !== undefined) throw new ConfigError([valueProblem('--config', value, 'expected --config only once')]);
    if (value === undefined || value === '') throw new ConfigError([valueProblem('--config', value, 'expected a file name after --config')]);
    file = value;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--config') given(argv[++i]);
    else if (arg.startsWith('--config=')) given(arg.slice('--config='.length));
    else {
      throw new ConfigError([
        { key: 'argv', value: arg, expected: 'expected --config FILE or --config=FILE', message: `config: unknown argument ${show(arg)}: expected --config FILE or --config=FILE` },
      ]);
    }
  }
  const resolved = file === undefined ? DEFAULT_CONFIG_FILE : path.resolve(file);

  let text: string;
  try {
    text = readFileSync(resolved, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigError([valueProblem('--config', resolved, `expected a readable JSON file (${reason})`)]);
  }
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([valueProblem('--config', resolved, `expected a file containing valid JSON (${(err as Error).message})`)]);
  }
  return resolveConfig(input, env, resolved);
}

/** Number of worker threads to start: `cfg.workers`, or os.availableParallelism() when it is 0. */
export function resolvedWorkers(cfg: Config): number {
  return cfg.workers === 0 ? os.availableParallelism() : cfg.workers;
}
