/**
 * Fuzz: the HTTP control API of a real server (1 worker) with thousands of random requests: paths,
 * methods, query strings, headers and bodies (goim routes, /push/batch with random JSON and msgpack).
 *
 * What must hold: every answer is 2xx or 4xx, never 5xx; error answers carry goim's JSON envelope
 * {code, message} with a non-empty message; no request hangs; the server process stays up, /health
 * answers 200 with its worker ready and never restarted, and a connected client keeps working.
 *
 * Seeded: FUZZ_SEED=<seed> (printed) reproduces the run; each failure names its request.
 */
import assert from 'node:assert/strict';
import { Rng } from './rng.js';
import http from 'node:http';
import net from 'node:net';
import { encode } from '@msgpack/msgpack';
import { Op } from '../../src/codec.js';
import { GoimClient } from '../helpers/goim-client.js';
import { startServer, type RunningServer } from '../helpers/server.js';

// A fresh seed on every local run finds new inputs; CI uses a fixed one so a landing is reproducible.
const SEED =
  process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) >>> 0 : process.env.CI !== undefined ? 20261123 : (Date.now() ^ (process.pid << 16)) >>> 0;
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 6000);
/** FUZZ_ONLY=12,345: replay just these requests of the seed's sequence, one at a time. */
const ONLY = process.env.FUZZ_ONLY !== undefined ? process.env.FUZZ_ONLY.split(',').map(Number) : null;
const CONCURRENCY = 16;
const MAX_BODY = 64 * 1024; // control.maxBodyBytes in this test
const BATCH_MAX_TARGETS = 1000; // control.batchMaxTargets in this test
const REQUEST_TIMEOUT_MS = 15_000;
const GUARD_KEY = `ctl-guard-${SEED}`;
const GUARD_MID = 4_100_000_000_001;

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789-_.~';

function reqRng(idx: number): Rng {
  return new Rng((SEED ^ Math.imul(idx + 1, 0x9e3779b1)) >>> 0);
}

// ---------------------------------------------------------------------------------------------
// Request generators

const ROUTES = [
  '/goim/push/keys', '/goim/push/mids', '/goim/push/room', '/goim/push/all', '/goim/online/top', '/goim/online/room',
  '/goim/online/total', '/goim/nodes/weighted', '/goim/nodes/instances', '/push/batch', '/sessions', '/health', '/metrics',
];
const BODY_ROUTES = new Set(['/goim/push/keys', '/goim/push/mids', '/goim/push/room', '/goim/push/all', '/push/batch']);
const PARAMS = ['operation', 'keys', 'mids', 'type', 'room', 'rooms', 'limit', 'speed', 'platform', 'mid'];
const METHODS = ['GET', 'POST', 'POST', 'POST', 'GET', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'PROPFIND', 'MKCOL', 'LOCK', 'SEARCH', 'PURGE'];

function randomPath(r: Rng): string {
  const k = r.int(20);
  if (k < 11) return r.pick(ROUTES);
  if (k === 11) return `/goim/${r.ascii(r.range(0, 20), 'abcdefghijklmnopqrstuvwxyz/')}`;
  if (k === 12) return `/goim/${r.pick(['push', 'online', 'nodes'])}/${r.ascii(r.range(0, 10), ALPHABET)}`;
  if (k === 13) return r.pick(['/', '//goim//push/keys', '/goim/push/keys/', '/goim/push/%6Beys', '/goim/../health', '/GOIM/PUSH/KEYS', '/goim', '/goim/', '/push', '/push/batch/', '/health/', '*', '/goim/push/keys;x', '/%2e%2e/health', '/debug/workers/0/crash', '/debug/router', '/debug/workers/0/block']);
  if (k === 14) return `/${r.ascii(r.range(1, 4000), 'abcdefghij/%._~-')}`;
  if (k === 15) return `/goim/${encodeURIComponent(r.unicode(r.range(1, 30)))}`;
  if (k === 16) return `/goim/push/${r.pick(['%FF', '%C0%AF', '%', '%zz', '%E4%B8', '%00', '%0A', '%ED%A0%80'])}`;
  if (k === 17) return `/${r.ascii(r.range(0, 30), ALPHABET)}`;
  if (k === 18) return '/debug/' + r.ascii(r.range(0, 30), 'abcdefghijklmnopqrstuvwxyz0123456789/');
  return r.pick(ROUTES) + r.pick(['#frag', '?', '??', '?&', '?=', '?&&==']);
}

function queryValue(r: Rng, name: string): string {
  const k = r.int(14);
  if (k < 4) {
    switch (name) {
      case 'operation':
        return String(r.pick([1000, 0, -1, 2147483647, -2147483648, 1001]));
      case 'keys':
        return r.chance(0.3) ? GUARD_KEY : r.ascii(r.range(1, 20), ALPHABET);
      case 'mids':
        return r.chance(0.3) ? String(GUARD_MID) : String(r.int(1e9));
      case 'type':
        return r.pick(['live', 'chat', '']);
      case 'room':
      case 'rooms':
        return String(r.int(100));
      case 'limit':
        return String(r.range(1, 100));
      default:
        return String(r.int(1000));
    }
  }
  if (k === 4) return '';
  if (k === 5) return r.pick(['-1', '-0', '2147483648', '-2147483649', '4294967296', '9007199254740992', '-9007199254740993', '1e3', '0x10', '1.5', ' 7', '+5', '00012', 'NaN', 'Infinity']);
  if (k === 6) return '9'.repeat(r.range(10, 400));
  if (k === 7) return r.pick(['%FF', '%C0%AF', '%', '%zz', '%E4%B8', '%00', '%ED%A0%80', '%F8%88%80%80%80', '%%', '%2', '%u0041', '%25FF']);
  if (k === 8) return encodeURIComponent(r.unicode(r.range(1, 40)));
  if (k === 9) return r.pick(['a,b,,c', ',,,', ',', '1,2,3', ' , ', `${GUARD_KEY},${GUARD_KEY}`, '1,x,3']);
  if (k === 10) return r.ascii(r.range(0, 2000), ALPHABET);
  if (k === 11) return r.ascii(r.range(1, 30), 'abc=&;+ %');
  if (k === 12) return String(-r.int(1e6));
  return r.ascii(r.range(1, 20), ALPHABET);
}

function randomQuery(r: Rng): string {
  const k = r.int(12);
  if (k === 0) return '';
  if (k === 1) {
    // Thousands of keys (under Node's 16 KiB header limit).
    const name = r.pick(['keys', 'mids', 'rooms', 'x', 'operation']);
    const n = r.range(500, 1800);
    const parts: string[] = [];
    for (let i = 0; i < n; i++) parts.push(`${r.chance(0.8) ? name : r.ascii(r.range(1, 3), ALPHABET)}=${r.int(1000)}`);
    return `?${parts.join('&')}`.slice(0, 15000);
  }
  if (k === 2) return `?${r.ascii(r.range(1, 300), 'abc=&;+%0123456789')}`;
  const n = r.range(1, 8);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = r.chance(0.85) ? r.pick(PARAMS) : r.pick([r.ascii(r.range(0, 10), ALPHABET), '%FF', '__proto__', 'constructor', 'hasOwnProperty', '']);
    parts.push(r.chance(0.05) ? name : `${name}=${queryValue(r, name)}`);
    if (r.chance(0.15)) parts.push(`${name}=${queryValue(r, name)}`); // duplicated
  }
  return `?${parts.join(r.chance(0.9) ? '&' : r.pick([';', '&&', '&amp;']))}`;
}

function randomJson(r: Rng, depth: number): unknown {
  const k = r.int(depth > 4 ? 6 : 9);
  switch (k) {
    case 0:
      return r.pick([0, -1, 1.5, 1e300, -0, 2147483648, 9007199254740993, 1000, 1001]);
    case 1:
      return r.chance(0.5) ? r.unicode(r.range(0, 20)) : r.pick(['', 'live://1', GUARD_KEY, 'QUJD', '!!', '1000']);
    case 2:
      return r.pick([true, false]);
    case 3:
      return null;
    case 4:
      return r.int(1e6);
    case 5:
      return r.pick(['op', 'keys', 'mids']);
    case 6:
    case 7: {
      const n = r.range(0, 6);
      const a: unknown[] = [];
      for (let i = 0; i < n; i++) a.push(randomJson(r, depth + 1));
      return a;
    }
    default: {
      const o: Record<string, unknown> = {};
      const n = r.range(0, 6);
      for (let i = 0; i < n; i++) o[r.pick(['op', 'keys', 'mids', 'room', 'body', 'body_base64', 'pushes', r.ascii(3, ALPHABET), '__proto__'])] = randomJson(r, depth + 1);
      return o;
    }
  }
}

function batchItem(r: Rng): Record<string, unknown> {
  const it: Record<string, unknown> = {};
  it.op = r.chance(0.8) ? r.pick([1000, 1001, 7, -1, 2147483647]) : randomJson(r, 3);
  const t = r.int(4);
  if (t === 0) it.keys = r.chance(0.8) ? [GUARD_KEY, r.ascii(8, ALPHABET)] : randomJson(r, 3);
  else if (t === 1) it.mids = r.chance(0.8) ? [GUARD_MID, r.int(1e6), String(r.int(1e6))] : randomJson(r, 3);
  else if (t === 2) it.room = r.chance(0.8) ? `live://${r.int(10)}` : randomJson(r, 3);
  else {
    it.keys = ['a'];
    it.room = 'live://1';
  }
  const b = r.int(5);
  if (b === 0) it.body = r.unicode(r.range(0, 100));
  else if (b === 1) it.body_base64 = r.chance(0.7) ? r.bytes(r.range(0, 60)).toString('base64') : r.ascii(r.range(0, 30), 'ABC=!*-_');
  else if (b === 2) it.body = randomJson(r, 3);
  else if (b === 3) {
    it.body = 'x';
    it.body_base64 = 'eA==';
  }
  if (r.chance(0.05)) it[r.ascii(4, ALPHABET)] = 1;
  return it;
}

function batchJson(r: Rng): string {
  switch (r.int(9)) {
    case 0:
    case 1: {
      const n = r.range(1, 20);
      const pushes: unknown[] = [];
      for (let i = 0; i < n; i++) pushes.push(batchItem(r));
      return JSON.stringify({ pushes });
    }
    case 2: {
      const n = r.range(100, 30000);
      const open = r.pick(['[', '{"a":', '{"pushes":[']);
      const close = open === '[' ? ']' : open === '{"a":' ? '}' : ']}';
      return open.repeat(n) + '1' + close.repeat(r.chance(0.8) ? n : r.int(n));
    }
    case 3:
      return JSON.stringify(randomJson(r, 0));
    case 4: {
      // Huge arrays: over batchMaxTargets, or many items.
      const n = r.range(BATCH_MAX_TARGETS - 5, 9000);
      if (r.chance(0.5)) return JSON.stringify({ pushes: [{ op: 1000, mids: Array.from({ length: n }, (_, i) => i) }] });
      return JSON.stringify({ pushes: Array.from({ length: Math.min(n, 1500) }, (_, i) => ({ op: 1000, room: `live://${i % 7}`, body: '' })) });
    }
    case 5: {
      const s = JSON.stringify({ pushes: [batchItem(r), batchItem(r)] });
      return s.slice(0, r.int(s.length));
    }
    case 6:
      return r.pick(['', 'null', '[]', '{}', '{"pushes":[]}', '{"pushes":{}}', '{"pushes":null}', '"pushes"', '{"pushes":[null]}', '{"pushes":[[]]}', '{"pushes":[1]}', '{"__proto__":{"pushes":[1]}}', '\ufeff{"pushes":[]}']);
    case 7:
      return JSON.stringify({ pushes: [{ op: 1000, keys: Array.from({ length: r.range(1, 3000) }, () => r.ascii(r.range(1, 10), ALPHABET)), body: 'k' }] });
    default:
      return r.unicode(r.range(0, 500));
  }
}

function batchMsgpack(r: Rng): Buffer {
  const k = r.int(5);
  if (k === 0) return r.bytes(r.range(0, 2000));
  const value: unknown =
    k === 1
      ? { pushes: [{ op: 1000, keys: [GUARD_KEY], body: r.bytes(r.range(0, 50)) }, { op: 1000, mids: [BigInt(GUARD_MID), r.int(100)], body: 'm' }] }
      : k === 2
        ? randomJson(r, 0)
        : { pushes: Array.from({ length: r.range(1, 10) }, () => batchItem(r)) };
  let b: Buffer;
  try {
    b = Buffer.from(encode(value, { useBigInt64: true }));
  } catch {
    b = r.bytes(20);
  }
  if (k === 4 && b.length > 0) {
    // Mutated: flip some bytes, truncate.
    for (let i = r.range(1, 5); i > 0; i--) b[r.int(b.length)] = r.u32() & 0xff;
    if (r.chance(0.5)) b = b.subarray(0, r.int(b.length));
  }
  return b;
}

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | null;
  /** Sent with Transfer-Encoding: chunked, in pieces. */
  chunked: boolean;
  /** Bigger than control.maxBodyBytes: the server may answer 413 and close before reading it all. */
  over: boolean;
}

function randomRequest(idx: number): FuzzRequest {
  const r = reqRng(idx);
  let path = randomPath(r);
  const route = path.split('?')[0]!;
  let method = r.pick(METHODS);
  if (BODY_ROUTES.has(route) && r.chance(0.6)) method = 'POST';
  path = (path + randomQuery(r)).replace(/ /g, r.chance(0.5) ? '+' : '%20').slice(0, 15000);
  const headers: Record<string, string> = {};
  let body: Buffer | null = null;
  if (method !== 'GET' && method !== 'HEAD' && r.chance(0.85)) {
    const k = r.int(10);
    if (route === '/push/batch' && k < 7) {
      const mp = r.chance(0.3);
      body = mp ? batchMsgpack(r) : Buffer.from(batchJson(r));
      headers['content-type'] = mp ? r.pick(['application/msgpack', 'application/x-msgpack', 'Application/MsgPack; x=1']) : r.pick(['application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', ' application/json ;']);
    } else if (k < 5) body = r.bytes(r.range(0, 2000));
    else if (k < 7) body = Buffer.from(r.unicode(r.range(0, 500)));
    else if (k < 8) body = r.bytes(r.pick([MAX_BODY, MAX_BODY - 1, MAX_BODY + 1]));
    else body = r.bytes(r.range(MAX_BODY + 1, 1_500_000));
  }
  if (r.chance(0.2)) headers['content-type'] = r.pick(['text/plain', 'application/octet-stream', '', 'multipart/form-data; boundary=x', 'application/json', 'application/msgpack', ';;;', 'a/b/c']);
  if (r.chance(0.1)) headers['authorization'] = r.pick(['Bearer ', 'Bearer x', 'Basic Zm9vOmJhcg==', r.ascii(50, ALPHABET)]);
  // Request line and headers stay under Node's 16 KiB limit here (over it: the malformed-HTTP test).
  if (r.chance(0.05)) headers['x-' + r.ascii(5, ALPHABET)] = r.ascii(r.range(0, path.length > 12000 ? 500 : 3000), ALPHABET);
  if (r.chance(0.05)) headers['accept'] = r.pick(['*/*', 'text/html', 'application/json']);
  const chunked = body !== null && r.chance(0.3);
  return { method, path, headers, body, chunked, over: body !== null && body.length > MAX_BODY };
}

function describeRequest(q: FuzzRequest): string {
  const body = q.body === null ? 'no body' : `${q.body.length} bytes${q.chunked ? ' chunked' : ''} ${q.body.subarray(0, 80).toString('hex')}${q.body.length > 80 ? '…' : ''}`;
  const full = process.env.FUZZ_ONLY !== undefined;
  return `${q.method} ${q.path.length > 300 && !full ? `${q.path.slice(0, 300)}…(${q.path.length} chars)` : q.path} headers ${JSON.stringify(q.headers).slice(0, 300)} body ${body}`;
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function send(port: number, agent: http.Agent, q: FuzzRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...q.headers };
    if (q.body !== null) {
      // Explicit framing: Node's client does not chunk GET/DELETE/OPTIONS bodies by default (it would
      // send the bytes unframed, and they would be parsed as the next request).
      if (q.chunked) headers['transfer-encoding'] = 'chunked';
      else headers['content-length'] = String(q.body.length);
    }
    const req = http.request({ host: '127.0.0.1', port, method: q.method, path: q.path, headers, agent });
    const timer = setTimeout(() => {
      req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`));
    }, REQUEST_TIMEOUT_MS);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
    });
    if (q.body === null) req.end();
    else if (!q.chunked) req.end(q.body);
    else {
      const step = Math.max(1, Math.ceil(q.body.length / 7));
      for (let o = 0; o < q.body.length; o += step) req.write(q.body.subarray(o, o + step));
      req.end();
    }
  });
}

/** The problem with an answer, or null if it is acceptable. */
function check(q: FuzzRequest, a: Answer): string | null {
  if (a.status >= 500 || a.status < 200 || (a.status >= 300 && a.status < 400)) return `status ${a.status}: ${a.body.toString().slice(0, 300)}`;
  if (q.method === 'HEAD') return null;
  const route = q.path.split('?')[0]!.split('#')[0]!;
  if (a.status < 300 && route === '/metrics') return String(a.headers['content-type']).startsWith('text/plain') ? null : `metrics content-type ${a.headers['content-type']}`;
  let body: unknown;
  try {
    body = JSON.parse(a.body.toString('utf8'));
  } catch {
    return `status ${a.status} with a body that is not JSON: ${JSON.stringify(a.body.toString('latin1').slice(0, 200))}`;
  }
  if (a.status < 300 && route === '/health') return typeof body === 'object' && body !== null && (body as { status?: unknown }).status === 'ok' ? null : `health body ${a.body.toString().slice(0, 200)}`;
  const env = body as { code?: unknown; message?: unknown };
  if (typeof env !== 'object' || env === null || typeof env.code !== 'number' || typeof env.message !== 'string') return `status ${a.status} without a {code, message} envelope: ${a.body.toString().slice(0, 200)}`;
  if (a.status >= 400 && env.message === '') return `status ${a.status} with an empty message: ${a.body.toString().slice(0, 200)}`;
  if (a.status >= 400 && env.code !== -a.status) return `status ${a.status} with code ${env.code}`;
  if (a.status < 300 && env.code !== 0) return `status ${a.status} with code ${env.code}`;
  return null;
}

/** Sends raw bytes on a fresh connection; resolves with the raw answer once the server closes or `ms` passes. */
function rawExchange(port: number, bytes: Buffer, ms: number): Promise<{ text: string; closed: boolean; ms: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => finish(false), ms);
    s.on('connect', () => s.end(bytes));
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      // One complete answer with a Content-Length is enough.
      const text = Buffer.concat(chunks).toString('latin1');
      const he = text.indexOf('\r\n\r\n');
      const m = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, he));
      if (he >= 0 && m !== null && text.length >= he + 4 + Number(m[1])) finish(false);
    });
    s.on('error', () => finish(true));
    s.on('close', () => finish(true));
  });
}

// ---------------------------------------------------------------------------------------------

describe('fuzz: control API', function () {
  this.timeout(180_000);
  let s: RunningServer;
  let guard: GoimClient;

  before(async () => {
    console.log(`      fuzz seed ${SEED} (rerun with FUZZ_SEED=${SEED})`);
    s = await startServer({ workers: 1, control: { maxBodyBytes: MAX_BODY, batchMaxTargets: BATCH_MAX_TARGETS }, debug: { testCommands: false } });
    guard = await GoimClient.connect('tcp', s.tcpPort);
    const reply = await guard.auth({ mid: GUARD_MID, key: GUARD_KEY, room_id: 'live://1', platform: 'web', accepts: [1000] });
    assert.equal(reply.op, Op.AuthReply);
  });

  after(async () => {
    guard?.close();
    if (s !== undefined) await s.stop('SIGKILL');
  });

  it(`answers ${REQUESTS} random requests with 2xx or 4xx and goim's envelope, never 5xx, never hangs`, async () => {
    const t0 = Date.now();
    const agent = new http.Agent({ keepAlive: ONLY === null, maxSockets: CONCURRENCY });
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let resets = 0;
    let next = 0;
    let bytesSent = 0;
    const order = ONLY ?? Array.from({ length: REQUESTS }, (_, i) => i);
    const worker = async (): Promise<void> => {
      while (next < order.length) {
        const idx = order[next++]!;
        const q = randomRequest(idx);
        bytesSent += q.body?.length ?? 0;
        try {
          const a = await send(s.controlPort, agent, q);
          statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
          const problem = check(q, a);
          if (problem !== null) failures.push(`#${idx} ${describeRequest(q)} → ${problem}`);
          if (q.over && a.status !== 413 && a.status < 400) failures.push(`#${idx} ${describeRequest(q)} → ${a.status} for a body over control.maxBodyBytes`);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          // A body over the limit is refused (413) and the connection closed while the client is
          // still sending: the client may see a reset instead of the answer. Nothing else may fail.
          if (q.over && (code === 'ECONNRESET' || code === 'EPIPE')) resets++;
          else failures.push(`#${idx} ${describeRequest(q)} → ${(err as Error).message} (${code ?? ''})`);
        }
      }
    };
    await Promise.all(Array.from({ length: ONLY === null ? CONCURRENCY : 1 }, worker));
    agent.destroy();
    const ms = Date.now() - t0;
    console.log(`      ${order.length} requests (${(bytesSent / 1e6).toFixed(1)} MB of bodies) in ${ms} ms; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}; resets on over-limit bodies ${resets}`);
    assert.deepEqual(failures.slice(0, 25), [], `${failures.length} failures (seed ${SEED})`);
  });

  it('answers malformed HTTP with a 4xx and a JSON {code, message} body, never 5xx, never hangs', async () => {
    const port = s.controlPort;
    const r = new Rng(SEED ^ 0xc0ffee);
    const cases: Array<[string, Buffer]> = [
      ['unknown method', Buffer.from('FOO /goim/push/keys?operation=1000&keys=a HTTP/1.1\r\nHost: x\r\n\r\n')],
      ['CONNECT', Buffer.from('CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: x\r\n\r\n')],
      ['raw bytes >= 0x80 in the path', Buffer.concat([Buffer.from('GET /goim/'), Buffer.from([0xff, 0xfe, 0xc0, 0xaf]), Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n')])],
      ['control character in the path', Buffer.from('GET /goim/\x01push HTTP/1.1\r\nHost: x\r\n\r\n')],
      ['query over 16 KiB (thousands of keys)', Buffer.from(`GET /goim/online/room?type=live${'&rooms=1'.repeat(3000)} HTTP/1.1\r\nHost: x\r\n\r\n`)],
      ['header over 16 KiB', Buffer.from(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`)],
      ['bad chunk size', Buffer.from('POST /goim/push/all?operation=1000 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n')],
      ['Content-Length and Transfer-Encoding', Buffer.from('POST /goim/push/all?operation=1000 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n')],
      ['negative Content-Length', Buffer.from('POST /goim/push/all?operation=1000 HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n')],
      ['non-numeric Content-Length', Buffer.from('POST /goim/push/all?operation=1000 HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n')],
      ['two Content-Lengths', Buffer.from('POST /goim/push/all?operation=1000 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab')],
      ['invalid header name', Buffer.from('GET /health HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n')],
      ['no HTTP version', Buffer.from('GET /health\r\n\r\n')],
      ['HTTP/2 preface', Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')],
      ['random bytes', r.bytes(300)],
    ];
    const failures: string[] = [];
    for (const [name, bytes] of cases) {
      const a = await rawExchange(port, bytes, 5000);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(a.text);
      const he = a.text.indexOf('\r\n\r\n');
      const body = he >= 0 ? a.text.slice(he + 4) : '';
      if (m === null) {
        failures.push(`${name}: ${a.closed ? 'connection closed without an answer' : 'no answer within 5000 ms'} (got ${JSON.stringify(a.text.slice(0, 100))})`);
        continue;
      }
      const status = Number(m[1]);
      if (status >= 500 || status < 200 || (status >= 300 && status < 400)) {
        failures.push(`${name}: status ${status}`);
        continue;
      }
      if (status < 300) continue; // read leniently and answered (e.g. a request line without a version)
      try {
        const env = JSON.parse(body) as { code?: unknown; message?: unknown };
        if (typeof env.code !== 'number' || typeof env.message !== 'string' || env.message === '') failures.push(`${name}: ${status} with body ${JSON.stringify(body.slice(0, 200))}`);
      } catch {
        failures.push(`${name}: ${status} with a body that is not JSON: ${JSON.stringify(a.text.slice(0, 200))}`);
      }
    }
    assert.deepEqual(failures, []);
  });

  it('is still alive: /health 200, the worker ready and never restarted, the client still served', async () => {
    assert.equal(s.proc.exitCode, null, 'server process exited');
    assert.equal(s.proc.signalCode, null, 'server process killed');
    const h = await s.get('/health');
    assert.equal(h.status, 200);
    for (const w of h.body.workers as Array<{ state: string; restarts: number }>) {
      assert.equal(w.state, 'ready', JSON.stringify(w));
      assert.equal(w.restarts, 0, JSON.stringify(w));
    }
    guard.send(Op.Heartbeat, 4242);
    const p = await guard.expect(Op.HeartbeatReply, 10_000);
    assert.equal(p.seq, 4242);
    const res = await fetch(`http://127.0.0.1:${s.controlPort}/goim/push/keys?operation=1000&keys=${GUARD_KEY}`, { method: 'POST', body: 'after-control-fuzz' });
    assert.equal(res.status, 200);
    const got = await guard.collectUntil(1000, 'after-control-fuzz', 10_000).catch((err: Error) => err);
    assert.ok(Array.isArray(got), `the push after the fuzz did not arrive: ${String(got)}`);
    const errors = s.stderr.join('').split('\n').filter((l) => /"level":(50|60)/.test(l));
    assert.deepEqual(errors.slice(0, 10), [], 'error-level log lines from the server');
  });
});
