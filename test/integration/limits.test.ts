/**
 * Limits against the real server: a connection past a limit gets op 6 {code 4003, reason naming the
 * limit} and is closed, the refusal shows in ringcast_limit_refusals_total, and the connections
 * already there keep working. Also the limits that existed before (packet size, handshake timeout,
 * rooms, upstream, control body, batch size, control rate) are counted in /metrics.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { encodePacket, Op } from '../../src/codec.js';
import { encodeRequest, decodeReply } from '../../src/upstream/index.js';
import { GoimClient, type ConnectOptions, type Kind } from '../helpers/goim-client.js';
import { connectTcp, limitRefusals, startServer, until, type RunningServer } from '../helpers/server.js';

/** Connects and expects the refusal: op 6 with code 4003 and a reason naming `limit`, then the close. */
async function expectRefused(kind: Kind, port: number, limit: string, opts: ConnectOptions = {}): Promise<void> {
  const c = await GoimClient.connect(kind, port, opts);
  const p = await c.next();
  assert.ok(p !== null, `${kind}: closed without op 6`);
  assert.equal(p.op, Op.DisconnectReply);
  const body = JSON.parse(p.body.toString()) as { code: number; reason: string };
  assert.equal(body.code, 4003);
  assert.ok(body.reason.includes(limit), `reason "${body.reason}" names ${limit}`);
  await c.closed;
}

async function authed(kind: Kind, port: number, mid: number, opts: ConnectOptions = {}): Promise<GoimClient> {
  const c = await GoimClient.connect(kind, port, opts);
  const reply = await c.auth({ mid, platform: 'web' });
  assert.equal(reply.op, Op.AuthReply, `mid ${mid} authenticated`);
  return c;
}

async function connections(s: RunningServer): Promise<number> {
  return (await s.health()).connections as number;
}

describe('limits', function () {
  this.timeout(60_000);
  let s: RunningServer | null = null;
  const clients: GoimClient[] = [];
  const sockets: net.Socket[] = [];

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const x of sockets.splice(0)) x.destroy();
    if (s !== null) await s.stop('SIGKILL');
    s = null;
  });

  it('limits.maxConnections: the connection past it (TCP, WebSocket or Mars) gets op 6 4003 and is closed; the others keep working; a freed place can be taken', async () => {
    s = await startServer({ workers: 2, limits: { maxConnections: 3 }, mars: {} });
    for (let i = 1; i <= 3; i++) clients.push(await authed(i % 2 === 0 ? 'ws' : 'tcp', i % 2 === 0 ? s.wsPort : s.tcpPort, i));
    await expectRefused('tcp', s.tcpPort, 'limits.maxConnections');
    await expectRefused('ws', s.wsPort, 'limits.maxConnections');
    await expectRefused('mars', s.marsPort, 'limits.maxConnections');
    assert.equal((await limitRefusals(s.controlPort))['limits.maxConnections'], 3);
    for (const c of clients) assert.ok((await c.heartbeat()) >= 0, 'an admitted connection still heartbeats');
    clients.shift()!.close();
    const srv = s;
    await until(async () => (await connections(srv)) === 2, 5000, 'the closed connection to be released');
    clients.push(await authed('tcp', s.tcpPort, 9));
    assert.equal((await limitRefusals(s.controlPort))['limits.maxConnections'], 3);
  });

  it('a worker that dies takes its counts with it: its connections no longer hold places', async () => {
    s = await startServer({ workers: 2, limits: { maxConnections: 2 }, supervisor: { restartDelayMs: 50 } });
    const srv = s;
    const a = await authed('tcp', s.tcpPort, 1);
    const b = await authed('ws', s.wsPort, 2);
    clients.push(a, b);
    await expectRefused('tcp', s.tcpPort, 'limits.maxConnections');
    const { body } = await s.get('/sessions?mid=1');
    const worker = body.data.sessions[0].worker as number;
    assert.equal((await s.post(`/debug/workers/${worker}/crash?mode=exit`)).status, 200);
    await a.closed;
    await until(async () => (await srv.health()).workers[worker].restarts === 1, 5000, 'the worker to be replaced');
    // Whether b was on the dead worker or not, a new client now has a place.
    clients.push(await authed('tcp', s.tcpPort, 3));
  });

  it('limits.maxConnectionsPerWorker: a full worker refuses', async () => {
    s = await startServer({ workers: 1, limits: { maxConnectionsPerWorker: 2 } });
    clients.push(await authed('tcp', s.tcpPort, 1), await authed('ws', s.wsPort, 2));
    await expectRefused('tcp', s.tcpPort, 'limits.maxConnectionsPerWorker');
    assert.equal((await limitRefusals(s.controlPort))['limits.maxConnectionsPerWorker'], 1);
    for (const c of clients) assert.ok((await c.heartbeat()) >= 0);
  });

  it('limits.maxConnectionsPerIp: counted across workers per client address; other addresses are not affected', async () => {
    s = await startServer({ workers: 2, limits: { maxConnectionsPerIp: 3 } });
    const from = { localAddress: '127.0.0.1' };
    for (let i = 1; i <= 3; i++) clients.push(await authed(i === 2 ? 'ws' : 'tcp', i === 2 ? s.wsPort : s.tcpPort, i, from));
    await expectRefused('tcp', s.tcpPort, 'limits.maxConnectionsPerIp', from);
    await expectRefused('ws', s.wsPort, 'limits.maxConnectionsPerIp', from);
    // Another client address has its own count.
    const other = { localAddress: '127.0.0.2' };
    for (let i = 11; i <= 13; i++) clients.push(await authed('tcp', s.tcpPort, i, other));
    await expectRefused('tcp', s.tcpPort, 'limits.maxConnectionsPerIp', other);
    assert.equal((await limitRefusals(s.controlPort))['limits.maxConnectionsPerIp'], 3);
    for (const c of clients) assert.ok((await c.heartbeat()) >= 0);
  });

  it('limits.maxPendingHandshakes: counts connections not yet authenticated, process-wide', async () => {
    s = await startServer({ workers: 2, limits: { maxPendingHandshakes: 2 }, protocol: { handshakeTimeoutMs: 600_000 } });
    const srv = s;
    const a = await authed('tcp', s.tcpPort, 1); // authenticated: no longer pending
    clients.push(a);
    sockets.push(await connectTcp(s.tcpPort), await connectTcp(s.tcpPort));
    await until(async () => (await connections(srv)) === 3, 5000, 'the two pending connections');
    await expectRefused('ws', s.wsPort, 'limits.maxPendingHandshakes');
    await expectRefused('tcp', s.tcpPort, 'limits.maxPendingHandshakes');
    assert.equal((await limitRefusals(s.controlPort))['limits.maxPendingHandshakes'], 2);
    assert.ok((await a.heartbeat()) >= 0);
    sockets.shift()!.destroy();
    await until(async () => (await connections(srv)) === 2, 5000, 'the pending connection to go');
    clients.push(await authed('ws', s.wsPort, 2));
  });

  it('the limits that existed are counted too: packet size, handshake timeout, rooms, upstream in flight and rate, control body, batch size', async () => {
    // A backend that never answers keeps an upstream request in flight.
    const hang = http.createServer(() => undefined);
    await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve));
    try {
      s = await startServer({
        workers: 1,
        protocol: { handshakeTimeoutMs: 1000, maxBodyBytes: 64 },
        rooms: { maxPerConnection: 2 },
        upstream: { services: `Hang=http://127.0.0.1:${(hang.address() as AddressInfo).port}`, timeoutMs: 30_000, maxInFlight: 1, ratePerSec: 1, burst: 1 },
        control: { maxBodyBytes: 1024, batchMaxTargets: 2 },
      });
      const srv = s;
      const good = await authed('tcp', s.tcpPort, 1);
      clients.push(good);

      // protocol.maxBodyBytes, on TCP and on WebSocket
      for (const kind of ['tcp', 'ws'] as const) {
        const c = await GoimClient.connect(kind, kind === 'tcp' ? s.tcpPort : s.wsPort);
        c.writeRaw(encodePacket(Op.Auth, 1, Buffer.alloc(65, 0x20)));
        if (kind === 'tcp') {
          // TCP has no close frame: the client is told why (WebSocket closes with 1009/1002 and a reason).
          const notice = JSON.parse((await c.expect(Op.DisconnectReply)).body.toString());
          assert.deepEqual(notice, { code: 4003, reason: 'limit: packet body too large (protocol.maxBodyBytes)' });
        }
        await c.closed;
      }
      // protocol.handshakeTimeoutMs: told why, then closed
      const silent = await GoimClient.connect('tcp', s.tcpPort);
      const timedOut = JSON.parse((await silent.expect(Op.DisconnectReply, 5000)).body.toString());
      assert.deepEqual(timedOut, { code: 4003, reason: 'limit: no auth within protocol.handshakeTimeoutMs' });
      await silent.closed;
      // rooms.maxPerConnection
      good.send(100, 3, 'a://1,a://2,a://3');
      assert.equal(JSON.parse((await good.expect(199)).body.toString()).code, 403);
      // upstream.ratePerSec: the second request of a burst of 1 (an unknown service answers at once)
      const call = async (c: GoimClient, uri: string, seq: number): Promise<number> => {
        c.send(Op.SendMsg, seq, encodeRequest(uri, Buffer.from('x')));
        const p = await c.expect(Op.SendMsgReply);
        return decodeReply(p.body, 0, p.body.length).status;
      };
      assert.equal(await call(good, 'Nope/x', 4), 404);
      assert.equal(await call(good, 'Nope/x', 5), 429);
      // upstream.maxInFlight: another connection (its own bucket) with one request hanging
      const other = await authed('ws', s.wsPort, 2);
      clients.push(other);
      other.send(Op.SendMsg, 1, encodeRequest('Hang/x', Buffer.from('x')));
      assert.equal(await call(other, 'Hang/y', 2), 503);

      // control.maxBodyBytes and control.batchMaxTargets
      const base = `http://127.0.0.1:${s.controlPort}`;
      const big = await fetch(`${base}/goim/push/keys?operation=1000&keys=k`, { method: 'POST', body: 'x'.repeat(2000) });
      assert.equal(big.status, 413);
      const batch = await fetch(`${base}/push/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ pushes: [{ op: 1000, keys: ['a', 'b', 'c'], body: 'x' }] }),
      });
      assert.equal(batch.status, 400);
      assert.match(((await batch.json()) as { message: string }).message, /control\.batchMaxTargets/);

      await until(async () => (await limitRefusals(srv.controlPort))['protocol.handshakeTimeoutMs']! >= 1, 5000, 'the handshake timeout to be counted');
      const r = await limitRefusals(s.controlPort);
      assert.deepEqual(
        {
          packet: r['protocol.maxBodyBytes'],
          handshake: r['protocol.handshakeTimeoutMs'],
          rooms: r['rooms.maxPerConnection'],
          rate: r['upstream.ratePerSec'],
          inFlight: r['upstream.maxInFlight'],
          body: r['control.maxBodyBytes'],
          batch: r['control.batchMaxTargets'],
        },
        { packet: 2, handshake: 1, rooms: 1, rate: 1, inFlight: 1, body: 1, batch: 1 },
      );
      assert.ok((await good.heartbeat()) >= 0, 'the well-behaved connection still works');
    } finally {
      hang.closeAllConnections();
      hang.close();
    }
  });

  it('control.ratePerSec: 429 with a message past the burst, GET /health exempt, counted', async () => {
    s = await startServer({ workers: 1, control: { ratePerSec: 1, burst: 3 } });
    const base = `http://127.0.0.1:${s.controlPort}`;
    const statuses: number[] = [];
    let message = '';
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${base}/goim/online/total`);
      statuses.push(res.status);
      if (res.status === 429) message = ((await res.json()) as { message: string }).message;
      else await res.arrayBuffer();
    }
    assert.deepEqual(statuses.slice(0, 3), [200, 200, 200]);
    assert.ok(statuses.slice(3).includes(429), `statuses ${statuses}`);
    assert.match(message, /control\.ratePerSec/);
    for (let i = 0; i < 10; i++) assert.equal((await fetch(`${base}/health`)).status, 200, '/health is never rate limited');
    const srv = s;
    let refused = 0;
    // /metrics is rate limited as well: poll until a token is back (1 per second).
    await until(
      async () => {
        try {
          refused = (await limitRefusals(srv.controlPort))['control.ratePerSec']!;
          return true;
        } catch {
          return false;
        }
      },
      5000,
      '/metrics to answer',
    );
    assert.ok(refused >= statuses.filter((x) => x === 429).length, `${refused} refusals counted`);
  });
});
