/**
 * The security rules of issue 7 that other tests did not pin down whole, against the real server:
 * the control port binds to 127.0.0.1 unless configured otherwise; with control.token every route
 * but GET /health needs it (each route of the server, each method); with an auth mode other than
 * none, nothing a client sends before its auth succeeds is processed.
 */
import assert from 'node:assert/strict';
import { encodePacket, Op } from '../../src/codec.js';
import { BATCH_ROUTES } from '../../src/control/batch.js';
import { GOIM_ROUTES } from '../../src/control/goim-api.js';
import { CONFIG_DEFAULTS, DEFAULT_CONFIG_FILE, loadConfig } from '../../src/config/index.js';
import { encodeRequest } from '../../src/upstream/index.js';
import { GoimClient } from '../helpers/goim-client.js';
import { startServer, type RunningServer } from '../helpers/server.js';

describe('security', function () {
  this.timeout(30_000);
  let s: RunningServer | null = null;
  afterEach(async () => {
    if (s !== null) await s.stop('SIGKILL');
    s = null;
  });

  it('the control port binds to 127.0.0.1 by default (built-in default and config/default.json)', () => {
    assert.equal(CONFIG_DEFAULTS.control.host, '127.0.0.1');
    assert.equal(loadConfig(['--config', DEFAULT_CONFIG_FILE], {}).control.host, '127.0.0.1');
  });

  it('with control.token, every route of the server but GET /health answers 401 without it, whatever the method', async () => {
    s = await startServer({ workers: 1, control: { token: 'tok3n' } });
    const base = `http://127.0.0.1:${s.controlPort}`;
    const paths = [...GOIM_ROUTES, ...BATCH_ROUTES].map(([p]) => p).concat(['/metrics', '/debug/router', '/debug/workers/0/crash', '/unknown']);
    for (const path of paths) {
      for (const method of ['GET', 'POST']) {
        const res = await fetch(`${base}${path}?mid=1&operation=1000&keys=k`, { method, ...(method === 'POST' ? { body: 'x' } : {}) });
        assert.equal(res.status, 401, `${method} ${path}`);
        assert.match(((await res.json()) as { message: string }).message, /token/);
      }
    }
    assert.equal((await fetch(`${base}/health`)).status, 200);
    const withToken = await fetch(`${base}/goim/online/total`, { headers: { Authorization: 'Bearer tok3n' } });
    assert.equal(withToken.status, 200);
    assert.equal((await s.get('/health')).body.workers[0].restarts, 0, 'the crash route was not run');
  });

  for (const kind of ['tcp', 'ws'] as const) {
    it(`jwt (${kind}): packets before auth succeeds are never processed (first packet not auth: closed; after a rejected auth: nothing answered)`, async () => {
      s = await startServer({ workers: 2, auth: { mode: 'jwt', jwt: { secret: 'a-secret-of-decent-length-0123456789' } } });
      const port = kind === 'ws' ? s.wsPort : s.tcpPort;
      // Anything but op 7 first: closed at once, nothing processed (TCP: op 6 says why).
      const early = await GoimClient.connect(kind, port);
      early.send(100, 1, 'live://1');
      if (kind === 'tcp') assert.equal((await early.next())?.op, Op.DisconnectReply, 'TCP is told why (op 6) before the close');
      assert.equal(await early.next(), null);
      // A rejected auth with requests right behind it: only op 6 401 comes back.
      const c = await GoimClient.connect(kind, port);
      c.writeRaw(
        Buffer.concat([
          encodePacket(Op.Auth, 1, Buffer.from(JSON.stringify({ mid: 5, token: 'not.a.jwt', room_id: 'live://1' }))),
          encodePacket(100, 2, Buffer.from('live://2')),
          encodePacket(Op.Heartbeat, 3, null),
          encodePacket(Op.SendMsg, 4, encodeRequest('Chat/Say', Buffer.from('hi'))),
          encodePacket(Op.ChangeRoom, 5, Buffer.from('live://3')),
          encodePacket(1000, 6, null),
        ]),
      );
      const got: number[] = [];
      for (let p = await c.next(); p !== null; p = await c.next()) got.push(p.op);
      assert.deepEqual(got, [Op.DisconnectReply]);
      const online = await s.get('/goim/online/room?type=live&rooms=1&rooms=2&rooms=3');
      assert.deepEqual(online.body.data, { '1': 0, '2': 0, '3': 0 }, 'no room was joined');
      assert.deepEqual((await s.get('/debug/router?mid=5')).body.data.entries, [], 'nothing registered');
    });
  }
});
