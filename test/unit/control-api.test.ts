/**
 * The control HTTP layer over real sockets: goim routes, batch, sessions, metrics, auth and limits,
 * against a recording fake PushService (end-to-end delivery is tested elsewhere).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { encode } from '@msgpack/msgpack';
import { createControlServer, type ControlOptions } from '../../src/control/http.js';
import type { WorkerMetrics } from '../../src/control/metrics.js';
import { createLogger } from '../../src/logger.js';
import type { OnlineTotal, PushResult, PushService, SessionInfo } from '../../src/push/types.js';
import type { Supervisor } from '../../src/supervisor.js';

interface Call {
  method: string;
  args: unknown[];
}

class FakePush implements PushService {
  calls: Call[] = [];
  connections = 3;
  fail = false;
  private record(method: string, ...args: unknown[]): void {
    if (this.fail) throw new Error('boom');
    this.calls.push({ method, args });
  }
  async pushKeys(op: number, keys: string[], body: Uint8Array): Promise<PushResult> {
    this.record('pushKeys', op, keys, Buffer.from(body));
    return { connections: keys.length };
  }
  async pushMids(op: number, mids: number[], body: Uint8Array): Promise<PushResult> {
    this.record('pushMids', op, mids, Buffer.from(body));
    return { connections: mids.length * 2 };
  }
  async pushRoom(op: number, room: string, body: Uint8Array): Promise<PushResult> {
    this.record('pushRoom', op, room, Buffer.from(body));
    return { connections: this.connections };
  }
  async pushAll(op: number, speed: number, body: Uint8Array): Promise<PushResult> {
    this.record('pushAll', op, speed, Buffer.from(body));
    return { connections: 10 };
  }
  async onlineTop(type: string, limit: number): Promise<Array<{ room_id: string; count: number }>> {
    this.record('onlineTop', type, limit);
    return [
      { room_id: '1000', count: 100 },
      { room_id: '1001', count: 7 },
    ].slice(0, limit);
  }
  async onlineRooms(type: string, rooms: string[]): Promise<Record<string, number>> {
    this.record('onlineRooms', type, rooms);
    return Object.fromEntries(rooms.map((r, i) => [r, i + 1]));
  }
  async onlineTotal(): Promise<OnlineTotal> {
    this.record('onlineTotal');
    return { ip_count: 4, conn_count: 9 };
  }
  async sessions(mid: number): Promise<SessionInfo[]> {
    this.record('sessions', mid);
    return [{ key: 'k1', platform: 'web', worker: 1, rooms: ['live://1000'], since: 1700000000000, protocol: 'ws' }];
  }
}

const WORKERS: WorkerMetrics[] = [
  { id: 0, connections: 5, rooms: 2, routerEntries: 4, accepted: 50, restarts: 0, mailbox: { usedBytes: 128, fullEvents: 1, parked: 0, rejected: 0 } },
  { id: 1, connections: 6, rooms: 3, routerEntries: 5, accepted: 60, restarts: 2, mailbox: { usedBytes: 0, fullEvents: 0, parked: 3, rejected: 7 } },
];

const fakeSupervisor = {
  workers: 2,
  statuses: () => WORKERS.map((w) => ({ ...w, state: 'ready', stalled: false })),
  admin: () => null,
} as unknown as Supervisor;

interface Running {
  base: string;
  push: FakePush;
  server: http.Server;
}

const servers: http.Server[] = [];

async function start(over: Partial<ControlOptions> = {}): Promise<Running> {
  const push = new FakePush();
  const opts: ControlOptions = {
    supervisor: fakeSupervisor,
    listeners: [{ name: 'tcp', host: '127.0.0.1', port: 3101 }],
    testCommands: false,
    log: createLogger('silent', 'test'),
    startedAt: Date.now(),
    push,
    token: '',
    maxBodyBytes: 1024,
    batchMaxTargets: 100000,
    nodes: {
      domain: 'im.example.com',
      tcpPort: 3101,
      wsPort: 3102,
      wssPort: 3103,
      heartbeatSec: 240,
      heartbeatMax: 2,
      backoff: { maxDelay: 300, baseDelay: 3, factor: 1.8, jitter: 0.3 },
      addrs: ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6'],
    },
    metrics: { workers: () => WORKERS },
    ...over,
  };
  const server = createControlServer(opts);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { base: `http://127.0.0.1:${port}`, push: opts.push as FakePush, server };
}

interface Envelope {
  code: number;
  message: string;
  data?: unknown;
}

async function call(url: string, init?: RequestInit): Promise<{ status: number; body: Envelope; headers: Headers }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as Envelope, headers: res.headers };
}

async function expectError(url: string, init: RequestInit | undefined, status: number, ...words: string[]): Promise<void> {
  const r = await call(url, init);
  assert.equal(r.status, status, `${url}: ${JSON.stringify(r.body)}`);
  assert.equal(r.body.code, -status);
  assert.equal(typeof r.body.message, 'string');
  for (const w of words) assert.ok(r.body.message.includes(w), `message ${JSON.stringify(r.body.message)} should name ${w}`);
  assert.equal(r.body.data, undefined);
}

/** A raw request (chunked upload etc.), resolving with the status and body text, or the socket error. */
function raw(base: string, path: string, method: string, chunks: Buffer[], headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    let i = 0;
    const next = (): void => {
      if (i < chunks.length) req.write(chunks[i++]!, () => setTimeout(next, 5));
      else req.end();
    };
    next();
  });
}

const POST = (body?: RequestInit['body'], headers?: Record<string, string>): RequestInit => ({ method: 'POST', body: body ?? null, headers: headers ?? {} });

describe('control API (HTTP layer)', function () {
  let s: Running;

  before(async () => {
    s = await start();
  });

  beforeEach(() => {
    s.push.calls = [];
    s.push.fail = false;
  });

  after(() => {
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
  });

  describe('goim push routes', () => {
    it('POST /goim/push/keys: repeated and comma-separated keys, exact binary body, envelope', async () => {
      const body = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const r = await call(`${s.base}/goim/push/keys?operation=1000&keys=a&keys=b,c`, POST(body));
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { code: 0, message: '', data: { connections: 3 } });
      assert.match(r.headers.get('content-type') ?? '', /application\/json/);
      assert.equal(s.push.calls.length, 1);
      const [op, keys, got] = s.push.calls[0]!.args as [number, string[], Buffer];
      assert.equal(s.push.calls[0]!.method, 'pushKeys');
      assert.equal(op, 1000);
      assert.deepEqual(keys, ['a', 'b', 'c']);
      assert.ok(got.equals(body), 'body bytes preserved');
    });

    it('POST /goim/push/keys: URL-encoded keys, empty body', async () => {
      const r = await call(`${s.base}/goim/push/keys?operation=-5&keys=${encodeURIComponent('k y&=1')}`, POST());
      assert.equal(r.status, 200);
      assert.deepEqual(s.push.calls[0]!.args, [-5, ['k y&=1'], Buffer.alloc(0)]);
    });

    it('POST /goim/push/mids', async () => {
      const r = await call(`${s.base}/goim/push/mids?operation=7&mids=1&mids=2,3`, POST('hello'));
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { code: 0, message: '', data: { connections: 6 } });
      assert.deepEqual(s.push.calls[0], { method: 'pushMids', args: [7, [1, 2, 3], Buffer.from('hello')] });
    });

    it('POST /goim/push/room builds the room key type://room', async () => {
      const r = await call(`${s.base}/goim/push/room?operation=1000&type=live&room=1000`, POST('hi'));
      assert.equal(r.status, 200);
      assert.deepEqual(r.body.data, { connections: 3 });
      assert.deepEqual(s.push.calls[0], { method: 'pushRoom', args: [1000, 'live://1000', Buffer.from('hi')] });
    });

    it('POST /goim/push/all with and without speed', async () => {
      let r = await call(`${s.base}/goim/push/all?operation=9&speed=50`, POST('x'));
      assert.deepEqual(r.body, { code: 0, message: '', data: { connections: 10 } });
      r = await call(`${s.base}/goim/push/all?operation=9`, POST('y'));
      assert.equal(r.status, 200);
      assert.deepEqual(s.push.calls.map((c) => c.args), [
        [9, 50, Buffer.from('x')],
        [9, 0, Buffer.from('y')],
      ]);
    });

    it('400s name the problem', async () => {
      const b = s.base;
      await expectError(`${b}/goim/push/keys?keys=a`, POST('x'), 400, 'missing', '"operation"');
      await expectError(`${b}/goim/push/keys?operation=abc&keys=a`, POST('x'), 400, '"operation"', 'int32', 'abc');
      await expectError(`${b}/goim/push/keys?operation=2147483648&keys=a`, POST('x'), 400, '"operation"', 'int32');
      await expectError(`${b}/goim/push/keys?operation=1.5&keys=a`, POST('x'), 400, '"operation"', 'int32');
      await expectError(`${b}/goim/push/keys?operation=1`, POST('x'), 400, 'missing', '"keys"');
      await expectError(`${b}/goim/push/keys?operation=1&keys=&keys=,`, POST('x'), 400, 'missing', '"keys"');
      await expectError(`${b}/goim/push/mids?operation=1`, POST('x'), 400, 'missing', '"mids"');
      await expectError(`${b}/goim/push/mids?operation=1&mids=1&mids=x2`, POST('x'), 400, '"mids"', 'integers', 'x2');
      await expectError(`${b}/goim/push/mids?operation=1&mids=99999999999999999999`, POST('x'), 400, '"mids"');
      await expectError(`${b}/goim/push/room?operation=1&room=1000`, POST('x'), 400, 'missing', '"type"');
      await expectError(`${b}/goim/push/room?operation=1&type=live`, POST('x'), 400, 'missing', '"room"');
      await expectError(`${b}/goim/push/all?operation=1&speed=fast`, POST('x'), 400, '"speed"');
      await expectError(`${b}/goim/online/top?type=live`, undefined, 400, 'missing', '"limit"');
      await expectError(`${b}/goim/online/top?limit=3`, undefined, 400, 'missing', '"type"');
      await expectError(`${b}/goim/online/top?type=live&limit=0`, undefined, 400, '"limit"');
      await expectError(`${b}/goim/online/room?type=live`, undefined, 400, 'missing', '"rooms"');
      assert.equal(s.push.calls.length, 0, 'nothing reached the service');
    });

    it('404 for unknown routes, 405 for wrong methods', async () => {
      await expectError(`${s.base}/goim/push/nothing`, undefined, 404, '/goim/push/nothing');
      await expectError(`${s.base}/`, undefined, 404, 'unknown route');
      const r = await call(`${s.base}/goim/push/keys?operation=1&keys=a`);
      assert.equal(r.status, 405);
      assert.equal(r.body.code, -405);
      assert.match(r.body.message, /POST/);
      assert.equal(r.headers.get('allow'), 'POST');
      await expectError(`${s.base}/goim/online/total`, POST('x'), 405, 'GET');
      await expectError(`${s.base}/debug/router?mid=1`, undefined, 404, 'debug.testCommands');
      assert.equal(s.push.calls.length, 0);
    });

    it('500 when the service throws', async () => {
      s.push.fail = true;
      await expectError(`${s.base}/goim/push/keys?operation=1&keys=a`, POST('x'), 500, 'internal error');
    });

    it('503 without a push service', async () => {
      const t = await start({ push: undefined });
      await expectError(`${t.base}/goim/online/total`, undefined, 503, 'push service');
    });
  });

  describe('goim online and nodes routes', () => {
    it('GET /goim/online/top', async () => {
      const r = await call(`${s.base}/goim/online/top?type=live&limit=2`);
      assert.deepEqual(r.body, { code: 0, message: '', data: [{ room_id: '1000', count: 100 }, { room_id: '1001', count: 7 }] });
      assert.deepEqual(s.push.calls[0], { method: 'onlineTop', args: ['live', 2] });
    });

    it('GET /goim/online/room with repeated rooms', async () => {
      const r = await call(`${s.base}/goim/online/room?type=live&rooms=1000&rooms=1001`);
      assert.deepEqual(r.body, { code: 0, message: '', data: { '1000': 1, '1001': 2 } });
      assert.deepEqual(s.push.calls[0], { method: 'onlineRooms', args: ['live', ['1000', '1001']] });
    });

    it('GET /goim/online/total', async () => {
      const r = await call(`${s.base}/goim/online/total`);
      assert.deepEqual(r.body, { code: 0, message: '', data: { ip_count: 4, conn_count: 9 } });
    });

    it('GET /goim/nodes/weighted: web gets the domain, others at most 5 addrs', async () => {
      const backoff = { max_delay: 300, base_delay: 3, factor: 1.8, jitter: 0.3 };
      const common = { domain: 'im.example.com', tcp_port: 3101, ws_port: 3102, wss_port: 3103, heartbeat: 240, heartbeat_max: 2, backoff };
      let r = await call(`${s.base}/goim/nodes/weighted?platform=web`);
      assert.deepEqual(r.body, { code: 0, message: '', data: { ...common, nodes: ['im.example.com'] } });
      r = await call(`${s.base}/goim/nodes/weighted?platform=android`);
      assert.deepEqual(r.body.data, { ...common, nodes: ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5'] });
      r = await call(`${s.base}/goim/nodes/weighted`);
      assert.equal((r.body.data as { nodes: string[] }).nodes.length, 5);

      const t = await start({
        nodes: { domain: '', tcpPort: 1, wsPort: 2, wssPort: 0, heartbeatSec: 60, heartbeatMax: 3, backoff: { maxDelay: 1, baseDelay: 2, factor: 3, jitter: 4 }, addrs: ['1.2.3.4'] },
      });
      r = await call(`${t.base}/goim/nodes/weighted?platform=web`);
      assert.deepEqual(r.body.data, {
        domain: '',
        tcp_port: 1,
        ws_port: 2,
        wss_port: 0,
        heartbeat: 60,
        heartbeat_max: 3,
        nodes: ['1.2.3.4'],
        backoff: { max_delay: 1, base_delay: 2, factor: 3, jitter: 4 },
      });
      r = await call(`${t.base}/goim/nodes/instances`);
      assert.deepEqual((r.body.data as Array<{ addrs: string[] }>)[0]!.addrs, ['tcp://1.2.3.4:1', 'ws://1.2.3.4:2']);
    });

    it('GET /goim/nodes/instances', async () => {
      const before = Date.now() * 1e6;
      const r = await call(`${s.base}/goim/nodes/instances`);
      assert.equal(r.body.code, 0);
      const list = r.body.data as Array<Record<string, unknown>>;
      assert.equal(list.length, 1);
      const inst = list[0]!;
      assert.deepEqual(Object.keys(inst).sort(), ['addrs', 'appid', 'env', 'hostname', 'latest_timestamp', 'metadata', 'region', 'version', 'zone']);
      assert.equal(inst['appid'], 'goim.comet');
      assert.equal(inst['hostname'], os.hostname());
      assert.equal(inst['region'], '');
      assert.deepEqual(inst['metadata'], {});
      assert.ok((inst['addrs'] as string[]).includes('tcp://10.0.0.1:3101'));
      assert.ok((inst['addrs'] as string[]).includes('ws://10.0.0.1:3102'));
      const ts = inst['latest_timestamp'] as number;
      assert.ok(ts >= before - 1e9 && ts <= Date.now() * 1e6 + 1e9, `latest_timestamp ${ts} is now in ns`);
    });
  });

  describe('auth and limits', () => {
    it('token: 401 without or with a wrong token, on every route but /health; ok with it', async () => {
      const t = await start({ token: 's3cret' });
      const open = await fetch(`${t.base}/health`);
      assert.equal(open.status, 200, '/health needs no token');
      await open.text();
      for (const path of ['/metrics', '/goim/online/total', '/sessions?mid=1', '/nope']) {
        await expectError(`${t.base}${path}`, undefined, 401, 'token');
        await expectError(`${t.base}${path}`, { headers: { Authorization: 'Bearer wrong' } }, 401, 'token');
      }
      await expectError(`${t.base}/goim/push/keys?operation=1&keys=a`, POST('x', { Authorization: 's3cret' }), 401, 'token');
      const r = await call(`${t.base}/goim/push/keys?operation=1&keys=a`, POST('x', { Authorization: 'Bearer s3cret' }));
      assert.equal(r.status, 200);
      assert.deepEqual(t.push.calls, [{ method: 'pushKeys', args: [1, ['a'], Buffer.from('x')] }]);
      const h = await fetch(`${t.base}/health`, { headers: { Authorization: 'Bearer s3cret' } });
      assert.equal(h.status, 200);
      await h.text();
      const m = await fetch(`${t.base}/metrics`, { headers: { Authorization: 'Bearer s3cret' } });
      assert.equal(m.status, 200);
      assert.match(await m.text(), /ringcast_connections/);
    });

    it('413 for a body over maxBodyBytes (Content-Length), body at the limit is fine', async () => {
      await expectError(`${s.base}/goim/push/keys?operation=1&keys=a`, POST(Buffer.alloc(1025, 1)), 413, '1024', 'maxBodyBytes');
      assert.equal(s.push.calls.length, 0);
      const r = await call(`${s.base}/goim/push/keys?operation=1&keys=a`, POST(Buffer.alloc(1024, 2)));
      assert.equal(r.status, 200);
      assert.equal((s.push.calls[0]!.args[2] as Buffer).length, 1024);
    });

    it('413 for a chunked body going over maxBodyBytes: stops reading and closes', async () => {
      const chunks = [Buffer.alloc(600, 1), Buffer.alloc(600, 2)];
      let outcome: { status: number; text: string } | Error;
      try {
        outcome = await raw(s.base, '/goim/push/room?operation=1&type=live&room=1', 'POST', chunks);
      } catch (err) {
        outcome = err as Error;
      }
      assert.ok(!(outcome instanceof Error), `got ${String(outcome)}`);
      assert.equal(outcome.status, 413);
      const body = JSON.parse(outcome.text) as Envelope;
      assert.equal(body.code, -413);
      assert.match(body.message, /maxBodyBytes/);
      assert.equal(s.push.calls.length, 0);
      // A chunked body under the limit is assembled exactly.
      const ok = await raw(s.base, '/goim/push/room?operation=1&type=live&room=1', 'POST', [Buffer.from('ab'), Buffer.from([0, 255]), Buffer.from('cd')]);
      assert.equal(ok.status, 200);
      assert.deepEqual(s.push.calls[0]!.args, [1, 'live://1', Buffer.from([0x61, 0x62, 0, 255, 0x63, 0x64])]);
    });

    it('keeps the connection alive across requests', async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const sockets = new Set<unknown>();
      for (let i = 0; i < 3; i++) {
        await new Promise<void>((resolve, reject) => {
          const req = http.request(`${s.base}/goim/push/keys?operation=1&keys=a`, { method: 'POST', agent }, (res) => {
            sockets.add(res.socket);
            res.resume();
            res.on('end', resolve);
          });
          req.on('error', reject);
          req.end('body');
        });
      }
      agent.destroy();
      assert.equal(sockets.size, 1);
      assert.equal(s.push.calls.length, 3);
    });
  });

  describe('POST /push/batch', () => {
    it('JSON: keys, mids and room items with body / body_base64, in order', async () => {
      const batch = {
        pushes: [
          { op: 1000, keys: ['a', 'b'], body: 'héllo' },
          { op: 1001, mids: [1, 2, '3'], body_base64: Buffer.from([0, 1, 254, 255]).toString('base64') },
          { op: 1002, room: 'live://1' },
        ],
      };
      const r = await call(`${s.base}/push/batch`, POST(JSON.stringify(batch), { 'Content-Type': 'application/json; charset=utf-8' }));
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body, { code: 0, message: '', data: { results: [{ connections: 2 }, { connections: 6 }, { connections: 3 }], connections: 11 } });
      assert.deepEqual(s.push.calls, [
        { method: 'pushKeys', args: [1000, ['a', 'b'], Buffer.from('héllo', 'utf8')] },
        { method: 'pushMids', args: [1001, [1, 2, 3], Buffer.from([0, 1, 254, 255])] },
        { method: 'pushRoom', args: [1002, 'live://1', Buffer.alloc(0)] },
      ]);
    });

    it('msgpack (application/msgpack and application/x-msgpack) with a bytes body', async () => {
      const bytes = new Uint8Array([9, 0, 200, 255]);
      const batch = { pushes: [{ op: 5, keys: ['k'], body: bytes }, { op: 6, room: 'live://2', body: 'txt' }] };
      for (const type of ['application/msgpack', 'application/x-msgpack']) {
        s.push.calls = [];
        const r = await call(`${s.base}/push/batch`, POST(encode(batch), { 'Content-Type': type }));
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.deepEqual(r.body.data, { results: [{ connections: 1 }, { connections: 3 }], connections: 4 });
        assert.deepEqual(s.push.calls, [
          { method: 'pushKeys', args: [5, ['k'], Buffer.from(bytes)] },
          { method: 'pushRoom', args: [6, 'live://2', Buffer.from('txt')] },
        ]);
      }
    });

    it('validation names the item and field; nothing is pushed', async () => {
      const json = (v: unknown): RequestInit => POST(JSON.stringify(v), { 'Content-Type': 'application/json' });
      const url = `${s.base}/push/batch`;
      const ok = { op: 1, keys: ['a'] };
      await expectError(url, json({ pushes: [ok, ok, ok, { op: 'x', keys: ['a'] }] }), 400, 'pushes[3].op: expected an int32');
      await expectError(url, json({ pushes: [ok, { op: 2 ** 31, keys: ['a'] }] }), 400, 'pushes[1].op: expected an int32');
      await expectError(url, json({ pushes: [{ keys: ['a'] }] }), 400, 'pushes[0].op');
      await expectError(url, json({ pushes: [{ op: 1 }] }), 400, 'pushes[0]', 'keys', 'mids', 'room');
      await expectError(url, json({ pushes: [{ op: 1, keys: ['a'], room: 'live://1' }] }), 400, 'pushes[0]', 'exactly one');
      await expectError(url, json({ pushes: [{ op: 1, keys: [] }] }), 400, 'pushes[0].keys');
      await expectError(url, json({ pushes: [{ op: 1, keys: ['a', 3] }] }), 400, 'pushes[0].keys[1]');
      await expectError(url, json({ pushes: [ok, { op: 1, mids: [1, 'x'] }] }), 400, 'pushes[1].mids[1]');
      await expectError(url, json({ pushes: [{ op: 1, room: '' }] }), 400, 'pushes[0].room');
      await expectError(url, json({ pushes: [{ op: 1, keys: ['a'], body: 5 }] }), 400, 'pushes[0].body');
      await expectError(url, json({ pushes: [{ op: 1, keys: ['a'], body: 'x', body_base64: 'eA==' }] }), 400, 'pushes[0]', 'not both');
      await expectError(url, json({ pushes: [{ op: 1, keys: ['a'], body_base64: '***' }] }), 400, 'pushes[0].body_base64');
      await expectError(url, json({ pushes: [{ op: 1, key: ['a'] }] }), 400, 'pushes[0].key', 'unknown field');
      await expectError(url, json({ pushes: [] }), 400, 'pushes');
      await expectError(url, json([1]), 400, 'body');
      await expectError(url, POST('{"pushes":', { 'Content-Type': 'application/json' }), 400, 'invalid JSON');
      await expectError(url, POST(Buffer.from([0xc1]), { 'Content-Type': 'application/msgpack' }), 400, 'invalid msgpack');
      await expectError(url, POST(JSON.stringify({ pushes: [ok] }), { 'Content-Type': 'text/plain' }), 415, 'content-type', 'text/plain');
      await expectError(url, undefined, 405, 'POST');
      assert.equal(s.push.calls.length, 0);
    });

    it('at most batchMaxTargets keys+mids in total', async () => {
      const t = await start({ batchMaxTargets: 5 });
      const json = (v: unknown): RequestInit => POST(JSON.stringify(v), { 'Content-Type': 'application/json' });
      const fits = { pushes: [{ op: 1, keys: ['a', 'b', 'c'] }, { op: 1, mids: [1, 2] }, { op: 1, room: 'live://1' }] };
      const r = await call(`${t.base}/push/batch`, json(fits));
      assert.equal(r.status, 200);
      t.push.calls = [];
      const over = { pushes: [{ op: 1, keys: ['a', 'b', 'c'] }, { op: 1, room: 'live://1' }, { op: 1, mids: [1, 2, 3] }] };
      await expectError(`${t.base}/push/batch`, json(over), 400, 'pushes[2]', 'more than 5', 'batchMaxTargets');
      assert.equal(t.push.calls.length, 0, 'nothing pushed');
    });

    it('413 for a batch body over maxBodyBytes', async () => {
      const big = { pushes: [{ op: 1, keys: ['a'], body: 'x'.repeat(2000) }] };
      await expectError(`${s.base}/push/batch`, POST(JSON.stringify(big), { 'Content-Type': 'application/json' }), 413, 'maxBodyBytes');
    });
  });

  describe('sessions, metrics, health', () => {
    it('GET /sessions?mid=N', async () => {
      const r = await call(`${s.base}/sessions?mid=42`);
      assert.deepEqual(r.body, {
        code: 0,
        message: '',
        data: { mid: 42, sessions: [{ key: 'k1', platform: 'web', worker: 1, rooms: ['live://1000'], since: 1700000000000, protocol: 'ws' }] },
      });
      assert.deepEqual(s.push.calls[0], { method: 'sessions', args: [42] });
      await expectError(`${s.base}/sessions`, undefined, 400, 'missing', '"mid"');
      await expectError(`${s.base}/sessions?mid=abc`, undefined, 400, '"mid"', 'abc');
    });

    it('GET /metrics: Prometheus text with every metric', async () => {
      await call(`${s.base}/goim/push/room?operation=1&type=live&room=1`, POST('abcd'));
      const res = await fetch(`${s.base}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      const text = await res.text();
      for (const name of [
        'ringcast_connections',
        'ringcast_rooms',
        'ringcast_router_entries',
        'ringcast_mailbox_used_bytes',
        'ringcast_mailbox_full_events_total',
        'ringcast_mailbox_parked',
        'ringcast_mailbox_rejected_total',
        'ringcast_accepted_total',
        'ringcast_worker_restarts_total',
        'ringcast_pushes_total',
        'ringcast_push_deliveries_total',
        'ringcast_push_bytes_total',
        'ringcast_http_requests_total',
        'ringcast_event_loop_lag_seconds',
        'ringcast_event_loop_lag_max_seconds',
      ]) {
        assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `${name} missing`);
      }
      assert.match(text, /^ringcast_connections\{worker="1"\} 6$/m);
      assert.match(text, /^ringcast_rooms\{worker="0"\} 2$/m);
      assert.match(text, /^ringcast_mailbox_rejected_total\{worker="1"\} 7$/m);
      assert.match(text, /^ringcast_worker_restarts_total\{worker="1"\} 2$/m);
      assert.match(text, /^ringcast_pushes_total\{kind="room"\} [1-9]/m);
      assert.match(text, /^ringcast_pushes_total\{kind="batch"\} [1-9]/m);
      assert.match(text, /^ringcast_push_bytes_total [1-9]/m);
      assert.match(text, /^ringcast_http_requests_total\{route="\/goim\/push\/room",status="200"\} [1-9]/m);
      assert.match(text, /^ringcast_http_requests_total\{route="\/goim\/push\/keys",status="400"\} [1-9]/m);
      assert.match(text, /^ringcast_http_requests_total\{route="unknown",status="404"\} [1-9]/m);
      assert.match(text, /^process_cpu_user_seconds_total /m, 'default metrics on the registry');
    });

    it('GET /health still answers', async () => {
      const res = await fetch(`${s.base}/health`);
      assert.equal(res.status, 200);
      const body = (await res.json()) as { status: string; connections: number; workers: unknown[] };
      assert.equal(body.status, 'ok');
      assert.equal(body.connections, 11);
      assert.equal(body.workers.length, 2);
      const head = await fetch(`${s.base}/health`, { method: 'HEAD' });
      assert.equal(head.status, 200);
    });
  });
});
