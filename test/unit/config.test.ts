import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CONFIG_DEFAULTS,
  CONFIG_KEYS,
  ConfigError,
  DEFAULT_CONFIG_FILE,
  PACKAGE_ROOT,
  envName,
  kickPlatforms,
  loadConfig,
  resolveConfig,
  resolvedWorkers,
  type Config,
} from '../../src/config/index.js';
import { renderConfigDocs, renderDefaultJson } from '../../src/config/render.js';
import { KEY_SPECS } from '../../src/config/table.js';
import { SlowConsumerPolicies } from '../../src/push/slow-policy.js';

const DEFAULT_JSON = path.join(PACKAGE_ROOT, 'config', 'default.json');
const README = path.join(PACKAGE_ROOT, 'config', 'README.md');
const DOCS = path.join(PACKAGE_ROOT, 'docs', 'configuration.md');

/** Runs `fn`, asserts it throws a ConfigError, checks each fragment is in the message; returns the error. */
function expectConfigError(fn: () => unknown, ...fragments: string[]): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  for (const f of fragments) assert.ok(caught.message.includes(f), `message ${JSON.stringify(caught.message)} lacks ${JSON.stringify(f)}`);
  return caught;
}

function leafKeys(tree: object, prefix = ''): string[] {
  return Object.entries(tree).flatMap(([k, v]) => {
    const key = prefix === '' ? k : `${prefix}.${k}`;
    return typeof v === 'object' && v !== null ? leafKeys(v as object, key) : [key];
  });
}

describe('config', () => {
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'ringcast-config-'));
  });
  after(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  it('defaults: resolveConfig({}) equals config/default.json exactly, the list-valued keys parsed', () => {
    const fromFile = JSON.parse(readFileSync(DEFAULT_JSON, 'utf8')) as Record<string, Record<string, unknown>>;
    assert.deepEqual(CONFIG_DEFAULTS, fromFile);
    assert.equal(DEFAULT_CONFIG_FILE, DEFAULT_JSON);
    assert.deepEqual(leafKeys(fromFile as object), [...CONFIG_KEYS]);
    // The loaded config holds the list-valued keys parsed (their default "" is the empty list);
    // every other key is the file's value as it is.
    const lists = { upstream: ['services'], push: ['roomPolicies'], multiLogin: ['kick', 'allow'], nodes: ['addrs'] };
    const expected = structuredClone(fromFile);
    for (const [section, keys] of Object.entries(lists)) {
      for (const key of keys) {
        assert.equal(expected[section]![key], '', `${section}.${key} defaults to ""`);
        expected[section]![key] = [];
      }
    }
    assert.deepEqual(resolveConfig({}, {}), expected);
    // loadConfig with no arguments reads that file
    assert.deepEqual(loadConfig([], {}), expected);
  });

  it('every key of default.json (and its env variable) is documented in docs/configuration.md; config/README.md points there', () => {
    const docs = readFileSync(DOCS, 'utf8');
    const keys = leafKeys(JSON.parse(readFileSync(DEFAULT_JSON, 'utf8')) as object);
    assert.ok(keys.length >= 20);
    for (const key of keys) {
      assert.ok(docs.includes(`| \`${key}\` |`), `docs/configuration.md lacks a row for ${key}`);
      assert.ok(docs.includes(`\`${envName(key)}\``), `docs/configuration.md lacks ${envName(key)}`);
    }
    assert.ok(readFileSync(README, 'utf8').includes('../docs/configuration.md'), 'config/README.md links to docs/configuration.md');
  });

  it('config/default.json and docs/configuration.md are what the key table renders (npm run config:write)', () => {
    assert.equal(readFileSync(DEFAULT_JSON, 'utf8'), renderDefaultJson(), 'config/default.json is stale: run npm run config:write');
    assert.equal(readFileSync(DOCS, 'utf8'), renderConfigDocs(), 'docs/configuration.md is stale: run npm run config:write');
  });

  it('envName maps dotted camelCase keys to RINGCAST_ upper snake case', () => {
    assert.equal(envName('ring.mailboxBytes'), 'RINGCAST_RING_MAILBOX_BYTES');
    assert.equal(envName('workers'), 'RINGCAST_WORKERS');
    assert.equal(envName('supervisor.crashLoopWindowMs'), 'RINGCAST_SUPERVISOR_CRASH_LOOP_WINDOW_MS');
    assert.equal(new Set(CONFIG_KEYS.map(envName)).size, CONFIG_KEYS.length);
  });

  it('partial input is merged over the defaults', () => {
    const cfg = resolveConfig({ ws: { port: 4000 }, ring: { drainBudget: 7 } }, {});
    assert.equal(cfg.ws.port, 4000);
    assert.equal(cfg.ws.path, '/sub');
    assert.equal(cfg.ring.drainBudget, 7);
    assert.equal(cfg.ring.mailboxBytes, 4194304);
  });

  it('unknown key: names the dotted key and suggests the closest known key', () => {
    const err = expectConfigError(() => resolveConfig({ ring: { mailboxByte: 1024 } }, {}), 'config: unknown key "ring.mailboxByte" (did you mean "ring.mailboxBytes"?)');
    assert.equal(err.key, 'ring.mailboxByte');
    assert.equal(err.value, 1024);
    expectConfigError(() => resolveConfig({ wrokers: 2 }, {}), 'unknown key "wrokers" (did you mean "workers"?)');
    const far = expectConfigError(() => resolveConfig({ completelyDifferent: 1 }, {}), 'config: unknown key "completelyDifferent"');
    assert.ok(!far.message.includes('did you mean'));
    // "__proto__" from JSON is an unknown key, not a prototype
    expectConfigError(() => resolveConfig(JSON.parse('{"__proto__": {"workers": 3}}'), {}), 'unknown key "__proto__"');
  });

  it('wrong type: names key, value and expectation; sections must be objects', () => {
    const err = expectConfigError(() => resolveConfig({ workers: '4' }, {}), 'config: workers = "4": expected an integer between 0 and 256');
    assert.equal(err.key, 'workers');
    assert.equal(err.value, '4');
    assert.equal(err.expected, 'expected an integer between 0 and 256');
    expectConfigError(() => resolveConfig({ tcp: 5 }, {}), 'config: tcp = 5: expected an object');
    expectConfigError(() => resolveConfig({ ws: [] }, {}), 'config: ws = []: expected an object');
    expectConfigError(() => resolveConfig({ tcp: { enabled: 'yes' } }, {}), 'config: tcp.enabled = "yes": expected a boolean');
    expectConfigError(() => resolveConfig({ log: { level: 'verbose' } }, {}), 'config: log.level = "verbose": expected one of fatal, error, warn, info, debug, trace, silent');
    expectConfigError(() => resolveConfig({ ws: { path: 'sub' } }, {}), 'config: ws.path = "sub": expected a string starting with "/"');
    expectConfigError(() => resolveConfig({ tcp: { host: '' } }, {}), 'config: tcp.host = "": expected a non-empty string');
    expectConfigError(() => resolveConfig({ ring: { drainBudget: 1.5 } }, {}), 'config: ring.drainBudget = 1.5: expected an integer between 1 and 1000000');
    expectConfigError(() => resolveConfig(5, {}), '= 5: expected an object');
  });

  it('every problem gets one line naming key, value and expectation', () => {
    const err = expectConfigError(() => resolveConfig({ workers: -1, tcp: { port: 'x' }, bogus: true }, {}));
    const lines = err.message.split('\n');
    assert.equal(lines.length, 3);
    assert.ok(lines.includes('config: workers = -1: expected an integer between 0 and 256'), err.message);
    assert.ok(lines.includes('config: tcp.port = "x": expected an integer between 0 and 65535'), err.message);
    assert.ok(lines.includes('config: unknown key "bogus"'), err.message);
    assert.equal(err.problems.length, 3);
  });

  it('workers: 0 means os.availableParallelism(); negative is rejected', () => {
    assert.equal(resolveConfig({ workers: 0 }, {}).workers, 0);
    assert.equal(resolveConfig({ workers: 1 }, {}).workers, 1);
    assert.equal(resolveConfig({ workers: 256 }, {}).workers, 256);
    expectConfigError(() => resolveConfig({ workers: -1 }, {}), 'config: workers = -1: expected an integer between 0 and 256');
    expectConfigError(() => resolveConfig({ workers: 257 }, {}), 'config: workers = 257: expected an integer between 0 and 256');
  });

  it('ring.mailboxBytes must be a power of two in range', () => {
    assert.equal(resolveConfig({ ring: { mailboxBytes: 64 } }, {}).ring.mailboxBytes, 64);
    assert.equal(resolveConfig({ ring: { mailboxBytes: 1073741824 } }, {}).ring.mailboxBytes, 1073741824);
    const expectation = 'expected a power of two between 64 and 1073741824';
    expectConfigError(() => resolveConfig({ ring: { mailboxBytes: 5000 } }, {}), `config: ring.mailboxBytes = 5000: ${expectation}`);
    expectConfigError(() => resolveConfig({ ring: { mailboxBytes: 32 } }, {}), `config: ring.mailboxBytes = 32: ${expectation}`);
    expectConfigError(() => resolveConfig({ ring: { mailboxBytes: 2147483648 } }, {}), `config: ring.mailboxBytes = 2147483648: ${expectation}`);
  });

  it('port out of range', () => {
    assert.equal(resolveConfig({ tcp: { port: 0 } }, {}).tcp.port, 0);
    expectConfigError(() => resolveConfig({ tcp: { port: 65536 } }, {}), 'config: tcp.port = 65536: expected an integer between 0 and 65535');
    expectConfigError(() => resolveConfig({ control: { port: -1 } }, {}), 'config: control.port = -1: expected an integer between 0 and 65535');
  });

  it('duplicate ports are rejected (naming the second key) unless 0; one listener must be enabled', () => {
    expectConfigError(() => resolveConfig({ ws: { port: 3101 } }, {}), 'config: ws.port = 3101: expected a port different from tcp.port');
    expectConfigError(() => resolveConfig({ control: { port: 3102 } }, {}), 'config: control.port = 3102: expected a port different from ws.port');
    const zeros = resolveConfig({ tcp: { port: 0 }, ws: { port: 0 }, control: { port: 0 } }, {});
    assert.equal(zeros.ws.port, 0);
    assert.equal(resolveConfig({ tcp: { enabled: false } }, {}).ws.enabled, true);
    expectConfigError(() => resolveConfig({ tcp: { enabled: false }, ws: { enabled: false } }, {}), 'config: ws.enabled = false: expected true when tcp.enabled is false');
  });

  it('env overrides are parsed by type and win over the input', () => {
    const cfg = resolveConfig({ workers: 5 }, {
      RINGCAST_WORKERS: '3',
      RINGCAST_TCP_ENABLED: '0',
      RINGCAST_DEBUG_TEST_COMMANDS: 'true',
      RINGCAST_WS_PATH: '/ws',
      RINGCAST_LOG_LEVEL: 'debug',
      PATH: '/usr/bin',
    });
    assert.equal(cfg.workers, 3);
    assert.equal(cfg.tcp.enabled, false);
    assert.equal(cfg.debug.testCommands, true);
    assert.equal(cfg.ws.path, '/ws');
    assert.equal(cfg.log.level, 'debug');
  });

  it('bad env value: names the variable, the key, the raw value and the expectation', () => {
    const err = expectConfigError(() => resolveConfig({}, { RINGCAST_TCP_PORT: 'abc' }), 'config: RINGCAST_TCP_PORT (tcp.port) = "abc": expected an integer between 0 and 65535');
    assert.equal(err.key, 'RINGCAST_TCP_PORT');
    assert.equal(err.value, 'abc');
    expectConfigError(() => resolveConfig({}, { RINGCAST_TCP_PORT: '70000' }), 'config: RINGCAST_TCP_PORT (tcp.port) = "70000": expected an integer between 0 and 65535');
    expectConfigError(() => resolveConfig({}, { RINGCAST_WORKERS: '1e3' }), 'config: RINGCAST_WORKERS (workers) = "1e3": expected an integer between 0 and 256');
    expectConfigError(() => resolveConfig({}, { RINGCAST_WS_ENABLED: 'yes' }), 'config: RINGCAST_WS_ENABLED (ws.enabled) = "yes": expected true, false, 1 or 0');
    expectConfigError(() => resolveConfig({}, { RINGCAST_WS_PORT: '3101' }), 'config: RINGCAST_WS_PORT (ws.port) = "3101": expected a port different from tcp.port');
  });

  it('unknown RINGCAST_ variable is an error naming the variable', () => {
    const err = expectConfigError(() => resolveConfig({}, { RINGCAST_TCP_PROT: '1' }), 'unknown key "RINGCAST_TCP_PROT"', '(did you mean "RINGCAST_TCP_PORT"?)');
    assert.equal(err.key, 'RINGCAST_TCP_PROT');
    expectConfigError(() => resolveConfig({}, { RINGCAST_NOTHING_LIKE_IT: '1' }), 'unknown key "RINGCAST_NOTHING_LIKE_IT"');
  });

  it('--config FILE / --config=FILE read the file; values in it are attributed to it', () => {
    const file = path.join(tmp, 'good.json');
    writeFileSync(file, JSON.stringify({ workers: 2, ws: { path: '/x' } }));
    assert.equal(loadConfig(['--config', file], {}).workers, 2);
    assert.equal(loadConfig([`--config=${file}`], { RINGCAST_WORKERS: '7' }).workers, 7);
    const bad = path.join(tmp, 'bad-value.json');
    writeFileSync(bad, JSON.stringify({ ring: { mailboxBytes: 100 } }));
    expectConfigError(() => loadConfig(['--config', bad], {}), 'config: ring.mailboxBytes = 100: expected a power of two between 64 and 1073741824', bad);
  });

  it('--config with a missing file names the file', () => {
    const missing = path.join(tmp, 'does-not-exist.json');
    const err = expectConfigError(() => loadConfig(['--config', missing], {}), `config: --config = ${JSON.stringify(missing)}: expected a readable JSON file`, 'ENOENT');
    assert.equal(err.key, '--config');
    assert.equal(err.value, missing);
    expectConfigError(() => loadConfig(['--config'], {}), 'config: --config = undefined: expected a file name after --config');
  });

  it('invalid JSON file names the file', () => {
    const file = path.join(tmp, 'broken.json');
    writeFileSync(file, '{ "workers": 2, }');
    const err = expectConfigError(() => loadConfig([`--config=${file}`], {}), `config: --config = ${JSON.stringify(file)}: expected a file containing valid JSON`);
    assert.equal(err.key, '--config');
  });

  it('unknown command-line argument is an error', () => {
    const err = expectConfigError(() => loadConfig(['--confg', 'x.json'], {}), 'unknown argument "--confg"', 'expected --config FILE');
    assert.equal(err.key, 'argv');
    assert.equal(err.value, '--confg');
  });

  it('the result is deeply frozen', () => {
    const cfg = resolveConfig({}, {});
    assert.ok(Object.isFrozen(cfg));
    for (const section of ['tcp', 'ws', 'control', 'ring', 'supervisor', 'log', 'debug'] as const) assert.ok(Object.isFrozen(cfg[section]), section);
    assert.throws(() => {
      (cfg as { workers: number }).workers = 3;
    }, TypeError);
    assert.throws(() => {
      (cfg.ring as { drainBudget: number }).drainBudget = 3;
    }, TypeError);
    assert.ok(Object.isFrozen(CONFIG_DEFAULTS.supervisor));
    // the input is not aliased into the result
    const input = { tcp: { port: 9000 } };
    const fromInput = resolveConfig(input, {});
    assert.notEqual(fromInput.tcp, input.tcp as unknown);
    assert.ok(!Object.isFrozen(input.tcp));
  });

  it('slow-consumer policies: global and per room, validated naming the bad item; exact room beats prefix, longer prefix beats shorter', () => {
    expectConfigError(() => resolveConfig({ push: { slowConsumerPolicy: 'drop' } }, {}), 'config: push.slowConsumerPolicy = "drop": expected one of close, drop-oldest');
    for (const bad of ['live://1', 'live://1=drop', '=close', 'live://*1=close', 'live://1=close,chat://*=later']) {
      assert.throws(() => resolveConfig({ push: { roomPolicies: bad } }, {}), (err: unknown) => err instanceof ConfigError && err.key === 'push.roomPolicies' && /expected comma-separated room=policy items.*\(bad item "/.test(err.message), bad);
    }
    const env = resolveConfig({}, { RINGCAST_PUSH_ROOM_POLICIES: 'live://*=drop-oldest, live://1000=close ,live://10*=close', RINGCAST_PUSH_SLOW_CONSUMER_POLICY: 'close' });
    const p = new SlowConsumerPolicies(env.push.slowConsumerPolicy, env.push.roomPolicies);
    assert.deepEqual(
      ['live://1000', 'live://1001', 'live://2', 'chat://1', null].map((r) => p.forRoom(r)),
      ['close', 'close', 'drop-oldest', 'close', 'close'],
    );
    assert.equal(new SlowConsumerPolicies('drop-oldest', []).forRoom('live://1'), 'drop-oldest');
  });

  it('resolvedWorkers: 0 means os.availableParallelism()', () => {
    const auto: Config = resolveConfig({ workers: 0 }, {});
    assert.equal(resolvedWorkers(auto), os.availableParallelism());
    assert.equal(resolvedWorkers(resolveConfig({ workers: 3 }, {})), 3);
  });
});

/** `{a: {b: value}}` for key "a.b". */
function at(key: string, value: unknown): Record<string, unknown> {
  return key
    .split('.')
    .reverse()
    .reduce<unknown>((inner, part) => ({ [part]: inner }), value) as Record<string, unknown>;
}

function valueAt(cfg: unknown, key: string): unknown {
  return key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown>)[part], cfg);
}

// One test per key (piscina's option-validation.ts): what the key table says of a key is what
// validation does, so docs/configuration.md, generated from the same table, tells the truth.
describe('config: every key enforces its documented type and range', () => {
  for (const [key, spec] of KEY_SPECS) {
    it(`${key}: ${spec.type}`, () => {
      const wrong = spec.env === 'string' ? 5 : 'x';
      const err = expectConfigError(() => resolveConfig(at(key, wrong), {}), `config: ${key} = ${JSON.stringify(wrong)}: expected `);
      assert.equal(err.key, key);
      if (spec.range !== undefined) {
        const [min, max] = spec.range;
        assert.equal(valueAt(resolveConfig(at(key, min), {}), key), min);
        assert.equal(valueAt(resolveConfig(at(key, max), {}), key), max);
        for (const outside of [min - 1, max + 1]) {
          expectConfigError(() => resolveConfig(at(key, outside), {}), `config: ${key} = ${outside}: expected `, `between ${min} and ${max}`);
        }
        if (spec.env === 'integer') expectConfigError(() => resolveConfig(at(key, min + 0.5), {}), `config: ${key} = ${min + 0.5}: expected `);
      }
      if (spec.values !== undefined) {
        // (auth.mode jwt and http need their keys: the rules across keys are tested below.)
        const context = { RINGCAST_AUTH_JWT_SECRET: 's', RINGCAST_AUTH_HTTP_URL: 'http://127.0.0.1/auth' };
        for (const v of spec.values) assert.equal(valueAt(resolveConfig(at(key, v), context), key), v);
        expectConfigError(() => resolveConfig(at(key, 'no-such-value'), {}), `config: ${key} = "no-such-value": expected one of ${spec.values.join(', ')}`);
      }
      // Its variable, set to the default's text, gives the default.
      const fromEnv = resolveConfig({}, { [envName(key)]: String(spec.default) });
      assert.deepEqual(valueAt(fromEnv, key), valueAt(resolveConfig({}, {}), key));
    });
  }

  it('every section must be an object', () => {
    for (const section of new Set(CONFIG_KEYS.filter((k) => k.includes('.')).map((k) => k.slice(0, k.lastIndexOf('.'))))) {
      expectConfigError(() => resolveConfig(at(section, 5), {}), `config: ${section} = 5: expected an object`);
    }
    expectConfigError(() => resolveConfig([], {}), 'config: (root) = []: expected an object');
  });
});

describe('config: rules', () => {
  it('--config may be given once, with a file name', () => {
    expectConfigError(() => loadConfig(['--config', 'a.json', '--config=b.json'], {}), 'config: --config = "b.json": expected --config only once');
    expectConfigError(() => loadConfig(['--config='], {}), 'config: --config = "": expected a file name after --config');
  });

  it('environment numbers: integer keys take decimal integers only, number keys decimals too', () => {
    expectConfigError(() => resolveConfig({}, { RINGCAST_WORKERS: '1.5' }), 'config: RINGCAST_WORKERS (workers) = "1.5": expected an integer between 0 and 256');
    expectConfigError(() => resolveConfig({}, { RINGCAST_WORKERS: '' }), 'config: RINGCAST_WORKERS (workers) = "": expected an integer');
    assert.equal(resolveConfig({}, { RINGCAST_NODES_BACKOFF_FACTOR: '2.5' }).nodes.backoffFactor, 2.5);
    assert.equal(resolveConfig({}, { RINGCAST_NODES_BACKOFF_JITTER: '0' }).nodes.backoffJitter, 0);
    expectConfigError(() => resolveConfig({}, { RINGCAST_NODES_BACKOFF_FACTOR: '1e1' }), 'RINGCAST_NODES_BACKOFF_FACTOR (nodes.backoffFactor) = "1e1": expected a number between 1 and 100');
  });

  it('mars.port and, with TLS on, tls.wsPort and tls.tcpPort must differ from the other listeners', () => {
    expectConfigError(() => resolveConfig({ mars: { port: 3111 } }, {}), 'config: mars.port = 3111: expected a port different from control.port');
    // TLS off: its ports are not listened on, so they may clash.
    assert.equal(resolveConfig({ tls: { wsPort: 3101 } }, {}).tls.wsPort, 3101);
    const tls = { cert: 'c.pem', key: 'k.pem' };
    expectConfigError(() => resolveConfig({ tls: { ...tls, wsPort: 3101 } }, {}), 'config: tls.wsPort = 3101: expected a port different from tcp.port');
    expectConfigError(() => resolveConfig({ tls: { ...tls, tcpPort: 3103 } }, {}), 'config: tls.tcpPort = 3103: expected a port different from tls.wsPort');
  });

  it('tls.cert and tls.key are set together', () => {
    expectConfigError(() => resolveConfig({ tls: { cert: 'c.pem' } }, {}), 'config: tls.key = "": expected a PEM file name when tls.cert is set (TLS needs both)');
    expectConfigError(() => resolveConfig({ tls: { key: 'k.pem' } }, {}), 'config: tls.cert = "": expected a PEM file name when tls.key is set (TLS needs both)');
  });

  // These were checked by createAuthenticator in each worker (test/auth.test.ts "names the config
  // key"); src/auth/ now takes the validated config, so they are checked here, at load.
  it('auth: each mode requires its keys, named in the problem', () => {
    const jwt = (j: object) => (): unknown => resolveConfig({ auth: { mode: 'jwt', jwt: j } }, {});
    expectConfigError(jwt({ algorithm: 'HS256', secret: '' }), 'auth.jwt.secret');
    expectConfigError(jwt({ algorithm: 'RS256', publicKey: '' }), 'auth.jwt.publicKey');
    expectConfigError(jwt({ algorithm: 'RS256', publicKey: '-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n' }), 'auth.jwt.publicKey');
    expectConfigError(jwt({ algorithm: 'RS256', publicKey: 'hello' }), 'auth.jwt.publicKey');
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    expectConfigError(jwt({ algorithm: 'RS256', publicKey: ec }), 'config: auth.jwt.publicKey = ', 'expected an RSA key for RS256, got ec');
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    expectConfigError(jwt({ algorithm: 'RS256', publicKey: small }), 'config: auth.jwt.publicKey = ', 'expected an RSA key of at least 2048 bits, got 1024');
    expectConfigError(jwt({ algorithm: 'ES256', secret: 'x' }), 'auth.jwt.algorithm');
    const http = (url: string) => (): unknown => resolveConfig({ auth: { mode: 'http', http: { url } } }, {});
    for (const url of ['', 'not a url', 'ftp://x/', 'http://[::1']) expectConfigError(http(url), `config: auth.http.url = ${JSON.stringify(url)}: expected an http:// or https:// URL when auth.mode is "http"`);
    expectConfigError(() => resolveConfig({ auth: { mode: 'none', timeoutMs: 0 } }, {}), 'auth.timeoutMs');
    expectConfigError(() => resolveConfig({ auth: { mode: 'ldap' } }, {}), 'auth.mode');
    // and what they accept
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    for (const type of ['spki', 'pkcs1'] as const) {
      const publicKey = rsa.export({ type, format: 'pem' }) as string;
      assert.equal(resolveConfig({ auth: { mode: 'jwt', jwt: { algorithm: 'RS256', publicKey } } }, {}).auth.jwt.publicKey, publicKey);
    }
    assert.equal(resolveConfig({ auth: { mode: 'http', http: { url: 'https://idp.example/auth' } } }, {}).auth.http.url, 'https://idp.example/auth');
    // Other modes do not read these keys, so they are not checked.
    assert.equal(resolveConfig({ auth: { mode: 'none', jwt: { algorithm: 'RS256', publicKey: 'hello' } } }, {}).auth.mode, 'none');
  });

  it('a problem with a key left at its default names the key and where to set it, and blames no file', () => {
    const err = expectConfigError(
      () => loadConfig([], { RINGCAST_AUTH_MODE: 'jwt' }),
      'config: auth.jwt.secret = "": expected a secret when auth.mode is "jwt" with HS256 (left at its default: set it in a --config file or with RINGCAST_AUTH_JWT_SECRET)',
    );
    assert.ok(!err.message.includes('default.json'), err.message);
    assert.equal(err.key, 'auth.jwt.secret');
    expectConfigError(
      () => resolveConfig({ tcp: { port: 3102 } }, {}, 'my.json'),
      'config: ws.port = 3102: expected a port different from tcp.port (left at its default: set it in a --config file or with RINGCAST_WS_PORT)',
    );
    // A value the file gave is still attributed to the file.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ringcast-config-'));
    try {
      const file = path.join(dir, 'http-auth.json');
      writeFileSync(file, JSON.stringify({ auth: { mode: 'http', http: { url: 'ftp://x/' } } }));
      expectConfigError(() => loadConfig(['--config', file], {}), `config: auth.http.url = "ftp://x/": expected an http:// or https:// URL when auth.mode is "http" (in ${file})`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('config: list-valued keys are parsed once, at load', () => {
  it('upstream.services: Service=URL pairs into {name, url} entries (a name given twice keeps its last URL)', () => {
    const text = ' Echo=http://127.0.0.1:9/echo , Auth.v2=https://a.example/x,,Echo=http://h/2';
    const expected = [
      { name: 'Echo', url: 'http://h/2' },
      { name: 'Auth.v2', url: 'https://a.example/x' },
    ];
    assert.deepEqual(resolveConfig({ upstream: { services: text } }, {}).upstream.services, expected);
    assert.deepEqual(resolveConfig({}, { RINGCAST_UPSTREAM_SERVICES: text }).upstream.services, expected);
    for (const bad of ['Echo', '=http://x', 'Echo=ftp://x', 'bad name=http://x', 'Echo=http://x,Other']) {
      const err = expectConfigError(() => resolveConfig({ upstream: { services: bad } }, {}), 'expected comma-separated Service=http://host/path pairs (bad item "');
      assert.equal(err.key, 'upstream.services');
    }
  });

  it('push.roomPolicies: room=policy items into rules, in the order given, prefixes without their *', () => {
    const text = 'live://*=drop-oldest, live://1000=close ,a=b://c=close';
    const expected = [
      { room: 'live://', prefix: true, policy: 'drop-oldest' },
      { room: 'live://1000', prefix: false, policy: 'close' },
      { room: 'a=b://c', prefix: false, policy: 'close' },
    ];
    assert.deepEqual(resolveConfig({ push: { roomPolicies: text } }, {}).push.roomPolicies, expected);
    assert.deepEqual(resolveConfig({}, { RINGCAST_PUSH_ROOM_POLICIES: text }).push.roomPolicies, expected);
  });

  it('multiLogin.kick and multiLogin.allow: platform lists; kickPlatforms reads them', () => {
    const cfg = resolveConfig({ multiLogin: { kick: ' ios, android ,,', allow: 'web' } }, {});
    assert.deepEqual(cfg.multiLogin.kick, ['ios', 'android']);
    assert.deepEqual(cfg.multiLogin.allow, ['web']);
    assert.deepEqual(resolveConfig({}, { RINGCAST_MULTI_LOGIN_ALLOW: 'pc,web' }).multiLogin.allow, ['pc', 'web']);
    assert.deepEqual(['ios', 'android', 'web', 'pc', ''].map((p) => kickPlatforms(cfg.multiLogin, p)), [true, true, false, false, false]);
    const kickAll = resolveConfig({ multiLogin: { default: 'kick', allow: 'web' } }, {}).multiLogin;
    // An empty platform is in no list (empty items name nothing), so it takes the default.
    assert.deepEqual(['ios', 'web', ''].map((p) => kickPlatforms(kickAll, p)), [true, false, true]);
  });

  it('nodes.addrs: a list of hosts', () => {
    assert.deepEqual(resolveConfig({ nodes: { addrs: '10.0.0.1, 10.0.0.2,' } }, {}).nodes.addrs, ['10.0.0.1', '10.0.0.2']);
    assert.deepEqual(resolveConfig({}, { RINGCAST_NODES_ADDRS: 'a.example' }).nodes.addrs, ['a.example']);
  });

  it('the parsed config is plain data: it survives structured clone (workerData) unchanged', () => {
    const cfg = resolveConfig(
      {
        upstream: { services: 'Echo=http://127.0.0.1:9/echo' },
        push: { roomPolicies: 'live://*=drop-oldest' },
        multiLogin: { kick: 'ios' },
        nodes: { addrs: '10.0.0.1' },
      },
      {},
    );
    const copy: unknown = structuredClone(cfg);
    assert.deepEqual(copy, cfg);
    // Only plain objects and arrays: nothing that a clone would turn into something else.
    const prototypes = new Set<unknown>();
    const walk = (v: unknown): void => {
      if (typeof v !== 'object' || v === null) return;
      prototypes.add(Object.getPrototypeOf(v));
      for (const child of Object.values(v)) walk(child);
    };
    walk(cfg);
    assert.deepEqual([...prototypes].sort(), [Array.prototype, Object.prototype].sort());
    // The parsed lists are frozen like the rest.
    assert.ok(Object.isFrozen(cfg.push.roomPolicies) && Object.isFrozen(cfg.push.roomPolicies[0]));
    assert.ok(Object.isFrozen(cfg.upstream.services));
  });
});
