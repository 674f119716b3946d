/**
 * Every config key, written once: its default, range, type and description. The zod schema
 * (schema.ts), the built-in defaults (table.ts), config/default.json and docs/configuration.md
 * (render.ts) are all derived from this table, in this order.
 *
 * Builders take the default first, then the range, then the description (Markdown).
 */
import { parseCommaList, parseRoomPolicies, parseServices } from './lists.js';
import { absolutePath, bool, int, list, nonEmpty, num, oneOf, port, powerOfTwo, text, urlOrEmpty, type Section } from './spec.js';
import { AUTH_MODES, JWT_ALGORITHMS, LOG_LEVELS, MULTI_LOGIN_POLICIES, SERVE_PAGES_MODES, SLOW_CONSUMER_POLICIES } from './values.js';

export const KEYS = {
  workers: int(0, [0, 256], 'Worker threads; 0 = `os.availableParallelism()`.'),
  bucketsPerWorker: int(32, [1, 4096], 'Connection-actor buckets per worker, chosen by hash of the connection key (goim comet uses 32).'),
  tcp: {
    enabled: bool(true, 'Start the raw TCP (goim protocol) listener.'),
    host: nonEmpty('0.0.0.0', 'Address the TCP listener binds to.'),
    port: port(3101, 'TCP listener port; 0 = any free port.'),
  },
  ws: {
    enabled: bool(true, 'Start the WebSocket listener.'),
    host: nonEmpty('0.0.0.0', 'Address the WebSocket listener binds to.'),
    port: port(3102, 'WebSocket listener port; 0 = any free port.'),
    path: absolutePath('/sub', 'HTTP path at which WebSocket upgrades are accepted.'),
    perMessageDeflate: bool(false, 'Negotiate permessage-deflate with clients that offer it (off: pushes are written pre-framed).'),
    servePages: oneOf(
      SERVE_PAGES_MODES,
      'auto',
      'Serve, on the WebSocket port(s), the browser build of `@ringcast/client` at `GET /ringcast-client.js` and the demo chat at `GET /demo`, and answer the built-in upstream service `Demo/Say` (which pushes a client\'s message to its room); off: `/demo` is 404 and `Demo` an unknown service. `auto`: on when `auth.mode` is `none`, off with real auth, so that clients of a production server cannot broadcast to their rooms by accident.',
    ),
  },
  mars: {
    host: nonEmpty('0.0.0.0', 'Address the Tencent Mars long-link listener binds to.'),
    port: port(0, 'Mars long-link TCP port; 0 = off.'),
  },
  control: {
    host: nonEmpty('127.0.0.1', 'Address the HTTP control (push API) listener binds to.'),
    port: port(3111, 'Control listener port; 0 = any free port.'),
    token: text('', 'When set, every control request but `GET /health` needs `Authorization: Bearer <token>` (else 401).'),
    maxBodyBytes: int(1048576, [1, 1073741824], 'Largest control request body (push payloads, batches) in bytes; larger gets 413.'),
    batchMaxTargets: int(100000, [1, 10000000], 'Most keys + mids in one `POST /push/batch`.'),
    ratePerSec: int(
      0,
      [0, 10000000],
      'Control requests per second over the whole port, one limit for the process whichever worker takes them (token bucket; `GET /health` exempt; each push on `/push/stream` counts as one request); past it 429 with a message. 0 = no limit.',
    ),
    burst: int(100, [1, 10000000], 'Token bucket size of the control rate limit (requests allowed at once).'),
    dashboard: bool(true, 'Serve the live dashboard at `GET /dashboard` on the control port (its page needs no token; its data routes need `control.token` like every other route).'),
    dashboardReadOnly: bool(
      false,
      'Read-only dashboard: the page shows no actions, and the control port refuses (403) every POST sent by a browser (a request with an `Origin` or `Sec-Fetch-Site` header); API clients are unaffected.',
    ),
    streamWindow: int(
      1024,
      [1, 1000000],
      'Pushes one `/push/stream` connection may have unanswered at once; a push past it is answered with an error (429 naming this key) and the connection stays open.',
    ),
  },
  limits: {
    maxConnections: int(
      0,
      [0, 100000000],
      'Open client connections in the whole process; a connection past it gets op 6 `{"code":4003}` and is closed. 0 = no limit.',
    ),
    maxConnectionsPerWorker: int(
      0,
      [0, 100000000],
      'Open client connections per worker thread (the kernel spreads new connections over workers, so a full worker refuses while another may have room). 0 = no limit.',
    ),
    maxConnectionsPerIp: int(
      0,
      [0, 100000000],
      'Open client connections from one IP address, process-wide (count-min table of 2 × 32,768 cells per worker, 256 KiB each: never lets an address past the limit; may refuse early only when another address shares both its cells). 0 = no limit (and no table).',
    ),
    maxPendingHandshakes: int(0, [0, 100000000], 'Connections accepted but not yet authenticated, process-wide. 0 = no limit.'),
  },
  shutdown: {
    graceMs: int(
      5000,
      [0, 600000],
      'On SIGTERM/SIGINT, how long (ms) outbound queues may take to reach clients that were told to reconnect (op 6 code 1001) before their connections are closed.',
    ),
  },
  tls: {
    cert: text(
      '',
      'PEM certificate (chain) file. With `tls.key`, TLS listeners are served; a missing or bad file stops start-up (exit 2) naming the key. "" = no TLS.',
      'string (file)',
    ),
    key: text('', 'PEM private key file of `tls.cert`.', 'string (file)'),
    host: nonEmpty('0.0.0.0', 'Address the TLS listeners bind to.'),
    wsPort: port(3103, "WebSocket over TLS (`wss://host:3103/sub`, goim's port) when TLS is on; 0 = off."),
    tcpPort: port(3104, "goim's TCP protocol over TLS when TLS is on; 0 = off."),
  },
  protocol: {
    maxBodyBytes: int(4096, [0, 16777216], 'Largest inbound packet body in bytes (goim: 4096); a bigger packet closes that connection.'),
    handshakeTimeoutMs: int(5000, [100, 600000], 'Time (ms) a new connection has to authenticate (op 7).'),
    heartbeatTimeoutMs: int(480000, [1000, 86400000], 'A connection with no heartbeat (op 2) for this long (ms) is closed (goim: 8 min).'),
    timerTickMs: int(250, [10, 10000], "Resolution (ms) of each worker's timer wheel (one timer per worker, none per connection)."),
  },
  rooms: {
    maxPerConnection: int(16, [1, 1024], 'Most rooms one connection may be in (its goim room plus extension joins).'),
    countIntervalMs: int(
      1000,
      [100, 600000],
      'How often (ms) per-worker room counts are summed into the process-wide counts that heartbeat replies carry.',
    ),
  },
  auth: {
    mode: oneOf(
      AUTH_MODES,
      'none',
      "none: trust the auth body's mid; jwt: verify the body's `token`; http: POST the auth body to `auth.http.url`.",
    ),
    timeoutMs: int(3000, [1, 600000], 'Longest an authentication may take (ms) before the client is rejected (504).'),
    jwt: {
      algorithm: oneOf(JWT_ALGORITHMS, 'HS256', 'The only signature algorithm accepted.'),
      secret: text('', 'HS256 shared secret (required for jwt with HS256).'),
      publicKey: text(
        '',
        'RS256 public key, PEM text: SPKI public key, PKCS#1 or X.509 certificate of an RSA key of at least 2048 bits (required for jwt with RS256).',
        'string (PEM)',
      ),
      issuer: text('', 'Required `iss` claim when set.'),
      audience: text('', 'Required `aud` claim when set.'),
    },
    http: {
      url: text('', 'Auth backend (required for http mode): 200 with JSON `{mid, rooms?}` accepts.', 'string (URL)'),
    },
  },
  multiLogin: {
    default: oneOf(
      MULTI_LOGIN_POLICIES,
      'allow',
      'A second login of the same user on the same platform: allow both, or kick the older (op 6 then close).',
    ),
    kick: list('', 'Platforms whose policy is kick.', 'comma-separated platforms', parseCommaList),
    allow: list('', 'Platforms whose policy is allow.', 'comma-separated platforms', parseCommaList),
  },
  upstream: {
    services: list('', 'Backends for op-4 requests: `Service/Method` is POSTed to `URL/Method`.', '`Service=URL,...`', parseServices),
    timeoutMs: int(5000, [1, 600000], 'Longest wait (ms) for a backend reply (then status 504).'),
    maxInFlight: int(8, [1, 100000], 'Upstream requests one connection may have in flight (then 503).'),
    ratePerSec: int(20, [1, 1000000], 'Sustained upstream requests per second per connection (then 429).'),
    burst: int(40, [1, 1000000], 'Token bucket size for upstream requests per connection.'),
  },
  push: {
    batchWindowMs: int(
      0,
      [0, 10000],
      'How room and broadcast pushes are merged into one write per connection (op 9 on WebSocket). 0: merging adapts to load: a push that finds the worker idle is written at once, and pushes that arrive while it writes, or within 4× the time its last write of pushes took (at most 50 ms), are merged. More than 0: fixed merging, every push waits up to this window (ms) and those arriving within it are merged.',
    ),
    batchMaxBytes: int(32768, [64, 16777216], 'A merged batch is written at once when it reaches this many bytes.'),
    maxInFlight: int(
      20000,
      [1, 10000000],
      'Pushes in flight at most (accepted, not yet answered by the workers); beyond it the control API answers 503 "overloaded" instead of queueing without bound.',
    ),
    writeQueueBytes: int(
      4194304,
      [1024, 1073741824],
      "Bound of one connection's outbound queue (bytes in its socket's buffer plus pushes held while the socket is backed up): a client that stops reading until its queue passes this is a slow consumer and gets the slow-consumer policy (counted in `/health` and `/metrics`), so one stuck client cannot grow the server's memory.",
    ),
    slowConsumerPolicy: oneOf(
      SLOW_CONSUMER_POLICIES,
      'close',
      'Policy for pushes without a room rule: `close` closes the connection; `drop-oldest` drops whole queued pushes, oldest first, until the queue is under `push.writeQueueBytes`, and sends the client a gap marker (ext op 104, body `{"dropped": n}`) before the next push that reaches it.',
    ),
    roomPolicies: list(
      '',
      'Policy per room for room pushes, e.g. `live://1000=drop-oldest,chat://*=close`: a room key, or a prefix ending in `*`; an exact room beats a prefix, a longer prefix a shorter one; rooms without a rule (and pushes by key, mid or to all) use `push.slowConsumerPolicy`. A bad item stops start-up naming it.',
      '`room=policy` items, comma-separated',
      parseRoomPolicies,
    ),
  },
  im: {
    dataDir: nonEmpty(
      './data',
      'Directory of the reliable-messaging store (one LMDB environment shared by all threads); created if missing. Relative paths are relative to the working directory.',
      'non-empty string (path)',
    ),
    retainCount: int(10000, [1, 100000000], 'Messages kept per user inbox; older ones are removed as new ones arrive.'),
    retainMs: int(
      604800000,
      [1000, 2 ** 52],
      'Messages older than this (ms) are no longer served (sync, `/im/inbox`) and are removed as new ones arrive.',
    ),
    idempotencyMs: int(
      86400000,
      [0, 2 ** 52],
      "How long (ms) a sender's `client_msg_id` is remembered: a retried send within this window answers the original seq and stores nothing.",
    ),
    redeliverMs: int(5000, [50, 3600000], 'Messages sent to a device and not acked within this (ms) are sent again (timer wheel, one entry per device).'),
    ackWindow: int(1000, [1, 100000], 'Messages sent to one device and not yet acked, at most; also the largest sync page.'),
    groupFanoutMax: int(
      500,
      [1, 1000000],
      "Groups up to this many members get write fan-out (a copy in each member's inbox); larger groups get read fan-out (one group inbox, room broadcast).",
    ),
    maxMessageBytes: int(
      4096,
      [1, 16777216],
      'Largest reliable message body in bytes, the one limit on every path: `POST /im/send` and `/im/group/send` answer 413 past it, a client send (op 110) gets op 111 code 413. A client packet must also fit `protocol.maxBodyBytes`, which holds the op-110 envelope (15 bytes and the client_msg_id) besides the body.',
    ),
    sendRatePerSec: int(100, [1, 1000000], 'Sustained client sends (op 110) per second per connection (then error 429).'),
    sendBurst: int(200, [1, 1000000], 'Token bucket size for client sends per connection.'),
  },
  nodes: {
    domain: text('', 'Domain `/goim/nodes/weighted` gives web clients (empty: addresses).'),
    addrs: list('', "Addresses of this node given to clients (empty: the TCP listener's host).", 'comma-separated hosts', parseCommaList),
    wssPort: port(3103, "WSS port advertised to clients (ringcast's own `tls.wsPort`, or a TLS proxy's)."),
    heartbeatSec: int(240, [1, 86400], 'Heartbeat interval advertised to clients, in seconds (goim: 4 min).'),
    heartbeatMax: int(2, [1, 1000], 'Missed heartbeats before a client reconnects, advertised (goim: 2).'),
    backoffMaxDelay: int(300, [0, 86400], 'Reconnect backoff advertised: max delay (s).'),
    backoffBaseDelay: int(3, [0, 86400], 'Reconnect backoff advertised: base delay (s).'),
    backoffFactor: num(1.8, [1, 100], 'Reconnect backoff advertised: factor.'),
    backoffJitter: num(0.3, [0, 1], 'Reconnect backoff advertised: jitter.'),
  },
  cluster: {
    redisUrl: urlOrEmpty(
      '',
      ['redis:', 'rediss:'],
      'Cluster mode (docs/cluster.md): the Redis server every box shares, e.g. `redis://10.0.0.5:6379`. Empty = one box, no external service.',
    ),
    nodeId: text(
      '',
      'This box\'s id in the cluster, unique among the live boxes (a box started with the id of a live one refuses to start). Empty = `<hostname>:<port>` with the control port as bound (with control.port 0, the free port it got).',
    ),
    leaseMs: int(
      5000,
      [1000, 600000],
      "How long (ms) a box's lease in Redis lasts without renewal: a box dead this long is dropped from the directory and the counts by the others (renewed every third of it).",
    ),
    keyPrefix: nonEmpty('ringcast', 'Prefix of every Redis key and channel ringcast uses, so that several clusters can share one Redis.'),
    commandTimeoutMs: int(1000, [50, 60000], 'Deadline (ms) of every call to the cluster engine: past it the call fails (a cross-box push answers 503 naming the engine) instead of waiting.'),
    probeIntervalMs: int(1000, [100, 60000], "How often (ms) each engine connection publishes a probe to itself, to detect a subscriber that looks connected but receives nothing."),
    probeTimeoutMs: int(1000, [50, 60000], 'A probe not back within this (ms) marks the engine stale (shown in /health and /metrics) until one comes back.'),
    roomGraceMs: int(2000, [0, 600000], "A worker whose last member left a room keeps the room's channel subscribed this long (ms), against join/leave churn."),
    countIntervalMs: int(1000, [100, 1000], "How often (ms) each box publishes its exact counts (totals and rooms); /goim/online/* sums the live boxes' counts, so they are at most this old."),
  },
  ring: {
    mailboxBytes: powerOfTwo(4194304, [64, 1073741824], "Size of each thread's mailbox ring, in bytes."),
    overflowBytes: int(16777216, [0, 2 ** 31 - 1], 'Bound, in bytes, of the overflow list per destination per producing thread.'),
    drainBudget: int(4096, [1, 1000000], 'Records a thread takes from its mailbox per turn before yielding to I/O.'),
  },
  supervisor: {
    probeIntervalMs: int(1000, [50, 60000], "How often (ms) the acceptor probes each worker's mailbox."),
    stallTimeoutMs: int(5000, [100, 600000], 'A worker whose mailbox has not moved this long (ms) while holding records is reported stalled.'),
    shutdownTimeoutMs: int(4000, [100, 60000], 'At shutdown, workers still running this long (ms) after `shutdown.graceMs` are terminated.'),
    restartDelayMs: int(100, [0, 60000], 'Delay (ms) before replacing a dead worker.'),
    crashLoopLimit: int(5, [1, 1000], 'Deaths within `crashLoopWindowMs` after which a worker slot is not restarted again.'),
    crashLoopWindowMs: int(60000, [1000, 3600000], 'Window (ms) over which worker deaths are counted for `crashLoopLimit`.'),
    spareListenFds: int(2, [1, 64], 'Spare listening descriptors kept per listener for replacement workers.'),
    reconnectSpreadMs: int(
      5000,
      [0, 3600000],
      'At shutdown each client gets op 6 `{"code":1001, "reason", "reconnect_after_ms"}` with a random delay below this (ms), so reconnects spread out.',
    ),
    workerHeapMb: int(
      0,
      [0, 1048576],
      "Heap limit (MiB, V8 old generation) of each worker thread; a worker that runs out of it dies and is replaced. 0 = Node's default.",
    ),
  },
  log: {
    level: oneOf(LOG_LEVELS, 'info', 'pino log level.'),
  },
  debug: {
    testCommands: bool(false, 'Enables test-only control routes such as killing a worker; never in production.'),
  },
} satisfies Section;
