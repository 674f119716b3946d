import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import {
  MAX_REPLY_BODY,
  RequestLimiter,
  UpstreamClient,
  UpstreamStatus,
  decodeReply,
  decodeRequest,
  encodeReply,
  encodeRequest,
} from '../../src/upstream/index.js';
import { TokenBucket } from '../../src/token-bucket.js';

const text = new TextDecoder();
const who = { mid: 123, key: 'k-1', platform: 'web', room: '' };

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A backend on 127.0.0.1:0. Routes: /echo answers 200 with the body; /teapot 418; /boom 500; /slow waits 500 ms; /big sends too much. */
async function startBackend(): Promise<{ server: http.Server; base: string; seen: Seen[]; connections: () => number }> {
  const seen: Seen[] = [];
  let conns = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const route = (req.url ?? '').replace(/^\/api\//, '');
      if (route === 'Echo') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
      } else if (route === 'Teapot') {
        res.writeHead(418).end('short and stout');
      } else if (route === 'Boom') {
        res.writeHead(500).end('kaput');
      } else if (route === 'Slow') {
        const t = setTimeout(() => res.writeHead(200).end('late'), 500);
        res.on('close', () => clearTimeout(t));
      } else if (route === 'Big') {
        res.writeHead(200, { 'content-length': String(MAX_REPLY_BODY + 1) }).end(Buffer.alloc(MAX_REPLY_BODY + 1));
      } else if (route === 'BigChunked') {
        res.writeHead(200);
        res.write(Buffer.alloc(MAX_REPLY_BODY));
        res.end(Buffer.alloc(10));
      } else {
        res.writeHead(404).end('no route');
      }
    });
  });
  server.on('connection', () => conns++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { server, base: `http://127.0.0.1:${port}/api/`, seen, connections: () => conns };
}

/** A port that was just free: listen on 0, close, reuse the number. */
async function deadPort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as AddressInfo;
  s.close();
  await once(s, 'close');
  return port;
}

describe('upstream envelope', () => {
  it('round-trips a request, at an offset inside a larger buffer, and copies the payload', () => {
    const payload = new Uint8Array([0, 1, 2, 255, 254]);
    const env = encodeRequest('Chat/Send', payload);
    assert.deepEqual([...env.subarray(0, 2)], [0, 9]);
    const buf = Buffer.alloc(env.length + 7, 0xaa);
    buf.set(env, 3);
    const r = decodeRequest(buf, 3, env.length);
    assert.ok(!('error' in r), JSON.stringify(r));
    assert.equal(r.service, 'Chat');
    assert.equal(r.method, 'Send');
    assert.deepEqual([...r.payload], [...payload]);
    buf.fill(0); // the caller reuses its buffer
    assert.deepEqual([...r.payload], [...payload]);
    assert.ok(!(r.payload instanceof Buffer));
  });

  it('accepts an empty payload and all allowed uri characters', () => {
    const r = decodeRequest(encodeRequest('a-Z_0.9/m.x-Y_1', new Uint8Array()), 0, 17);
    assert.ok(!('error' in r));
    assert.equal(r.service, 'a-Z_0.9');
    assert.equal(r.method, 'm.x-Y_1');
    assert.equal(r.payload.length, 0);
  });

  it('rejects bad envelopes', () => {
    const bad = (buf: Uint8Array, off = 0, len = buf.length): string => {
      const r = decodeRequest(buf, off, len);
      assert.ok('error' in r, `expected an error for ${JSON.stringify([...buf])}`);
      return r.error;
    };
    const p = new Uint8Array([1, 2, 3]);
    assert.match(bad(new Uint8Array()), /too short/);
    assert.match(bad(new Uint8Array([0])), /too short/);
    assert.match(bad(new Uint8Array([0, 0])), /empty uri/);
    const env = encodeRequest('Chat/Send', p);
    assert.match(bad(env, 0, 8), /past the end/); // length field says 9 uri bytes, only 6 present
    assert.match(bad(new Uint8Array([0, 50, 0x41, 0x2f, 0x42])), /past the end/);
    assert.match(bad(new Uint8Array([1, 0, 0x41])), /longer than 255/);
    assert.match(bad(encodeRequest('ChatSend', p)), /not Service\/Method/);
    assert.match(bad(encodeRequest('Chat/', p)), /empty method/);
    assert.match(bad(encodeRequest('/Send', p)), /empty service/);
    assert.match(bad(encodeRequest('Chat/Se/nd', p)), /more than one slash/);
    assert.match(bad(encodeRequest('Chat/Se nd', p)), /character/);
    assert.match(bad(encodeRequest('Chat/Sénd', p)), /character/);
    assert.match(bad(encodeRequest('Chat/a?b', p)), /character/);
    assert.match(bad(encodeRequest('Chat/..', p)), /\. or \.\./);
    assert.match(bad(encodeRequest('./x', p)), /\. or \.\./);
    assert.match(bad(env, 4, env.length), /outside/);
    const ok = decodeRequest(encodeRequest(`${'s'.repeat(127)}/${'m'.repeat(127)}`, p), 0, 2 + 255 + 3);
    assert.ok(!('error' in ok));
  });

  it('round-trips replies with binary and text payloads', () => {
    const r1 = encodeReply(200, new Uint8Array([9, 8, 7]));
    assert.deepEqual([...r1], [0, 200, 9, 8, 7]);
    assert.deepEqual(decodeReply(r1, 0, r1.length), { status: 200, payload: new Uint8Array([9, 8, 7]) });
    const r2 = encodeReply(UpstreamStatus.Timeout, 'timed out ✓');
    const buf = new Uint8Array(r2.length + 4);
    buf.set(r2, 2);
    const d = decodeReply(buf, 2, r2.length);
    assert.equal(d.status, 504);
    assert.equal(text.decode(d.payload), 'timed out ✓');
    assert.deepEqual(decodeReply(encodeReply(65535, ''), 0, 2), { status: 65535, payload: new Uint8Array() });
    assert.throws(() => decodeReply(new Uint8Array([1]), 0, 1), RangeError);
    assert.throws(() => encodeReply(70000, ''), RangeError);
  });
});

describe('TokenBucket', () => {
  it('allows burst, then refills at the rate, capped at burst', () => {
    const b = new TokenBucket(10, 3); // one token per 100 ms
    const t0 = 1_000_000;
    assert.equal(b.take(t0), true);
    assert.equal(b.take(t0), true);
    assert.equal(b.take(t0), true);
    assert.equal(b.take(t0), false);
    assert.equal(b.take(t0 + 50), false); // half a token
    assert.equal(b.take(t0 + 100), true); // 50 + 50 = one token
    assert.equal(b.take(t0 + 100), false);
    assert.equal(b.take(t0 + 350), true); // 2.5 tokens accumulated
    assert.equal(b.take(t0 + 350), true);
    assert.equal(b.take(t0 + 350), false);
    // A long idle period refills only up to burst.
    const t1 = t0 + 60_000;
    assert.equal(b.take(t1), true);
    assert.equal(b.take(t1), true);
    assert.equal(b.take(t1), true);
    assert.equal(b.take(t1), false);
    // A clock going back refills nothing.
    assert.equal(b.take(t0), false);
  });

  it('rejects nonsense parameters', () => {
    assert.throws(() => new TokenBucket(0, 1), RangeError);
    assert.throws(() => new TokenBucket(1, 0), RangeError);
  });
});

describe('RequestLimiter', () => {
  it('limits requests in flight and frees a slot on finish', () => {
    const l = new RequestLimiter(2, 1000, 1000);
    assert.equal(l.tryStart(0), 0);
    assert.equal(l.tryStart(0), 0);
    assert.equal(l.inFlight, 2);
    assert.equal(l.tryStart(0), UpstreamStatus.TooManyInFlight);
    assert.equal(l.inFlight, 2);
    l.finish();
    assert.equal(l.inFlight, 1);
    assert.equal(l.tryStart(0), 0);
    l.finish();
    l.finish();
    l.finish(); // an extra finish does not go negative
    assert.equal(l.inFlight, 0);
  });

  it('rate-limits with its token bucket; a 503 costs no token', () => {
    const l = new RequestLimiter(1, 1, 2);
    assert.equal(l.tryStart(0), 0);
    assert.equal(l.tryStart(0), UpstreamStatus.TooManyInFlight);
    l.finish();
    assert.equal(l.tryStart(0), 0);
    l.finish();
    assert.equal(l.tryStart(0), UpstreamStatus.RateLimited);
    assert.equal(l.inFlight, 0);
    assert.equal(l.tryStart(999), UpstreamStatus.RateLimited);
    assert.equal(l.tryStart(1000), 0);
  });
});

describe('UpstreamClient (real HTTP backend)', function () {
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let client: UpstreamClient;
  let dead: number;

  before(async () => {
    backend = await startBackend();
    dead = await deadPort();
    client = new UpstreamClient({
      services: {
        chat: { url: backend.base, timeoutMs: 2000 }, // trailing slash on purpose
        slowsvc: { url: backend.base.replace(/\/$/, ''), timeoutMs: 150 },
        down: { url: `http://127.0.0.1:${dead}/x`, timeoutMs: 2000 },
      },
      maxInFlight: 4,
      ratePerSec: 10,
      burst: 10,
    });
  });

  after(async () => {
    client.close();
    backend.server.closeAllConnections();
    backend.server.close();
    await once(backend.server, 'close');
  });

  beforeEach(() => {
    backend.seen.length = 0;
  });

  it('forwards payload bytes and headers and returns the backend status and body', async () => {
    const payload = new Uint8Array([0, 1, 2, 3, 250, 251, 252, 253, 254, 255]);
    const r = await client.call('chat', 'Echo', payload, { mid: 9007199254740991, key: 'key-é', platform: 'android', room: '' });
    assert.equal(r.status, 200);
    assert.deepEqual([...r.body], [...payload]);
    assert.equal(backend.seen.length, 1);
    const s = backend.seen[0]!;
    assert.equal(s.method, 'POST');
    assert.equal(s.url, '/api/Echo'); // exactly one slash between base and method
    assert.deepEqual([...s.body], [...payload]);
    assert.equal(s.headers['content-type'], 'application/octet-stream');
    assert.equal(s.headers['x-ringcast-mid'], '9007199254740991');
    assert.equal(s.headers['x-ringcast-key'], encodeURIComponent('key-é'));
    assert.equal(s.headers['x-ringcast-platform'], 'android');
    assert.equal(s.headers['x-ringcast-method'], 'Echo');
  });

  it('passes backend 4xx and 5xx statuses through with their bodies', async () => {
    const t = await client.call('chat', 'Teapot', new Uint8Array(), who);
    assert.equal(t.status, 418);
    assert.equal(text.decode(t.body), 'short and stout');
    const b = await client.call('slowsvc', 'Boom', new Uint8Array([1]), who);
    assert.equal(b.status, 500);
    assert.equal(text.decode(b.body), 'kaput');
    assert.equal(backend.seen[1]!.url, '/api/Boom'); // base without a trailing slash
  });

  it('answers 404 for an unknown service without a network call', async () => {
    const before = backend.connections();
    const r = await client.call('nope', 'Echo', new Uint8Array([1]), who);
    assert.equal(r.status, UpstreamStatus.UnknownService);
    assert.match(text.decode(r.body), /unknown service nope/);
    assert.equal(backend.seen.length, 0);
    assert.equal(backend.connections(), before);
  });

  it('answers 400 for a method name that would escape the base path', async () => {
    const r = await client.call('chat', '..', new Uint8Array(), who);
    assert.equal(r.status, UpstreamStatus.BadEnvelope);
    assert.equal(backend.seen.length, 0);
  });

  it('answers 502 when the backend is down', async () => {
    const r = await client.call('down', 'Echo', new Uint8Array([1]), who);
    assert.equal(r.status, UpstreamStatus.BackendError);
    assert.match(text.decode(r.body), /ECONNREFUSED/);
  });

  it('answers 504 after the service timeout on a slow backend', async () => {
    const t0 = Date.now();
    const r = await client.call('slowsvc', 'Slow', new Uint8Array(), who);
    const took = Date.now() - t0;
    assert.equal(r.status, UpstreamStatus.Timeout);
    assert.match(text.decode(r.body), /timed out after 150 ms/);
    assert.ok(took >= 140 && took < 450, `took ${took} ms`);
  });

  it('answers 502 for a reply body over 64 KiB (declared or chunked)', async () => {
    const a = await client.call('chat', 'Big', new Uint8Array(), who);
    assert.equal(a.status, UpstreamStatus.BackendError);
    assert.match(text.decode(a.body), /exceeds/);
    const b = await client.call('chat', 'BigChunked', new Uint8Array(), who);
    assert.equal(b.status, UpstreamStatus.BackendError);
    assert.match(text.decode(b.body), /exceeds/);
    // Still works afterwards.
    assert.equal((await client.call('chat', 'Echo', new Uint8Array([5]), who)).status, 200);
  });

  it('reuses one keep-alive socket across sequential calls', async () => {
    const fresh = new UpstreamClient({ services: { chat: { url: backend.base, timeoutMs: 2000 } }, maxInFlight: 4, ratePerSec: 10, burst: 10 });
    try {
      const before = backend.connections();
      for (let i = 0; i < 5; i++) {
        const r = await fresh.call('chat', 'Echo', new Uint8Array([i]), who);
        assert.equal(r.status, 200);
        assert.deepEqual([...r.body], [i]);
      }
      assert.equal(backend.connections() - before, 1);
    } finally {
      fresh.close();
    }
  });
});
