/**
 * Graceful drain against the real server: on SIGTERM a push already queued (waiting in its merge
 * window) still reaches the clients, then they get op 6 code 1001 with a reconnect hint; during the
 * drain the control port stays up, /health says draining and /goim/nodes/weighted lists no node;
 * the process exits 0 within shutdown.graceMs plus a margin. A second signal within a second of the
 * first is the same request (Ctrl-C under npm start delivers two SIGINTs); a later one exits at once.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { Op } from '../../src/codec.js';
import { GoimClient } from '../helpers/goim-client.js';
import { metricsText, startServer, until, type RunningServer } from '../helpers/server.js';
import { sleep } from '../helpers/wait.js';

const GRACE_MS = 3000;

/** A client that never closes its side: it keeps the drain waiting until shutdown.graceMs. */
async function lingering(port: number): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  await once(s, 'connect');
  s.resume();
  s.on('error', () => undefined);
  return s;
}

describe('graceful drain (SIGTERM, SIGINT)', function () {
  this.timeout(60_000);
  let s: RunningServer | null = null;

  afterEach(async () => {
    if (s !== null) await s.stop('SIGKILL');
    s = null;
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal}: delivers the queued push, then op 6 1001 with reconnect_after_ms; lists no node while draining; exits 0 within graceMs`, async () => {
      s = await startServer({
        workers: 2,
        shutdown: { graceMs: GRACE_MS },
        // A long merge window: the room push waits in the workers when the signal comes.
        push: { batchWindowMs: 5000 },
        protocol: { handshakeTimeoutMs: 600_000 },
        // No probe records: the workers' consumed counters move only for the push (health and metrics go to the acceptor by comlink).
        supervisor: { probeIntervalMs: 60_000, reconnectSpreadMs: 2000 },
        nodes: { addrs: '127.0.0.1' },
      });
      const srv = s;
      const tcp = await GoimClient.connect('tcp', s.tcpPort);
      assert.equal((await tcp.auth({ mid: 1, room_id: 'live://1' })).op, Op.AuthReply);
      const ws = await GoimClient.connect('ws', s.wsPort);
      assert.equal((await ws.auth({ mid: 2, room_id: 'live://1' })).op, Op.AuthReply);
      const slow = await lingering(s.tcpPort);
      const routed = async (): Promise<boolean> => (await srv.get('/health')).body.workers.reduce((n: number, w: { routerEntries: number }) => n + w.routerEntries, 0) === 2;
      await until(routed, 5000, 'both users in the router');
      assert.deepEqual((await s.get('/goim/nodes/weighted?platform=web')).body.data.nodes, ['127.0.0.1']);

      const consumed = async (): Promise<number[]> => (await srv.get('/health')).body.workers.map((w: { mailbox: { consumed: number } }) => w.mailbox.consumed);
      const before = await consumed();
      const pushed = fetch(`http://127.0.0.1:${s.controlPort}/goim/push/room?operation=1000&type=live&room=1`, { method: 'POST', body: 'last words' });
      // The worker whose control connection took the push queued it at once; the other takes it from its mailbox.
      await until(async () => (await consumed()).some((n, i) => n > before[i]!) && (await metricsText(srv.controlPort)).includes('ringcast_pushes_in_flight 1'), 5000, 'every worker to take the push record');

      const t0 = Date.now();
      const exited = once(s.proc, 'exit');
      s.proc.kill(signal);
      for (const c of [tcp, ws]) {
        const push = await c.next();
        assert.ok(push !== null && push.op === 1000 && push.body.toString() === 'last words', `${c.kind}: the queued push comes first`);
        const bye = await c.next();
        assert.ok(bye !== null && bye.op === Op.DisconnectReply, `${c.kind}: then op 6`);
        const body = JSON.parse(bye.body.toString()) as { code: number; reason: string; reconnect_after_ms: number };
        assert.equal(body.code, 1001);
        assert.ok(body.reconnect_after_ms >= 0 && body.reconnect_after_ms < 2000, `reconnect_after_ms ${body.reconnect_after_ms}`);
        await c.closed;
      }
      assert.deepEqual(await (await pushed).json(), { code: 0, message: '', data: { connections: 2 } });
      // The lingering client keeps the drain going: the control port is up and sends clients elsewhere.
      const nodes = await s.get('/goim/nodes/weighted?platform=web');
      assert.equal(nodes.status, 200);
      assert.deepEqual(nodes.body.data.nodes, []);
      const health = await s.get('/health');
      assert.equal(health.status, 503);
      assert.equal(health.body.status, 'draining');
      // Not accepting: a new connection is refused by the kernel, not accepted and dropped.
      const refused = await new Promise<string>((resolve) => {
        const sock = net.connect(s!.tcpPort, '127.0.0.1', () => resolve('connected'));
        sock.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
        sock.once('close', () => resolve('closed'));
      });
      assert.equal(refused, 'ECONNREFUSED');

      const [code] = (await exited) as [number | null];
      const ms = Date.now() - t0;
      assert.equal(code, 0);
      assert.ok(ms >= GRACE_MS - 500, `waited for the lingering client (${ms} ms)`);
      assert.ok(ms < GRACE_MS + 3000, `exited ${ms} ms after the signal`);
      assert.ok(slow.destroyed || slow.readableEnded, 'the lingering client was closed');
      slow.destroy();
      s = null;
    });
  }

  it('Ctrl-C under npm start: two SIGINTs 50 ms apart are one request, the drain completes and exits 0', async () => {
    const graceMs = 1500;
    s = await startServer({ workers: 1, shutdown: { graceMs }, protocol: { handshakeTimeoutMs: 600_000 } });
    const srv = s;
    // The lingering client holds the drain for graceMs, so the second signal lands while it runs.
    const slow = await lingering(s.tcpPort);
    await until(async () => (await srv.get('/health')).body.connections === 1, 5000, 'the connection');
    const exited = once(s.proc, 'exit');
    const t0 = Date.now();
    s.proc.kill('SIGINT');
    // The gap is what is tested: npm forwards its copy of the terminal's SIGINT a moment later.
    await sleep(50);
    s.proc.kill('SIGINT');
    const [code] = (await exited) as [number | null];
    const ms = Date.now() - t0;
    assert.equal(code, 0, `drained exit, stderr: ${s.stderr.join('')}`);
    assert.ok(s.stdout.some((l) => l.startsWith('ringcast: stopped (SIGINT)')), 'the drain ran to its end');
    assert.ok(ms >= graceMs - 500, `waited for the drain (${ms} ms)`);
    slow.destroy();
    s = null;
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal}: a second signal more than a second into the drain exits at once (code 1)`, async () => {
      s = await startServer({ workers: 1, shutdown: { graceMs: 30_000 }, protocol: { handshakeTimeoutMs: 600_000 } });
      const srv = s;
      const slow = await lingering(s.tcpPort);
      await until(async () => (await srv.get('/health')).body.connections === 1, 5000, 'the connection');
      const exited = once(s.proc, 'exit');
      s.proc.kill(signal);
      await until(async () => (await srv.get('/health')).body.status === 'draining', 5000, 'the drain to start');
      // The time is what is tested: within a second a repeated signal is the same one (the test above).
      await sleep(1100);
      const t0 = Date.now();
      s.proc.kill(signal);
      const [code] = (await exited) as [number | null];
      assert.equal(code, 1);
      assert.ok(Date.now() - t0 < 2000, `exited ${Date.now() - t0} ms after the second signal`);
      slow.destroy();
      s = null;
    });
  }
});
