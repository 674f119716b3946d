/**
 * @ringcast/client across server restarts and refusals, on a real server:
 *
 *   - the server is killed (SIGKILL) and restarted on the same ports and data directory while
 *     messages keep being sent to the users over POST /im/send, also while they are offline: after
 *     the automatic reconnect each app has every message exactly once, in seq order, and its rooms
 *     are joined again;
 *   - a drain (SIGTERM: op 6 1001 with reconnect_after_ms) is honoured: the next attempt comes after
 *     the server's delay, not after the backoff;
 *   - terminal refusals are not retried: a wrong token (auth.mode jwt, 401), and a second
 *     connection with the same key (4001).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SignJWT } from 'jose';
import { RingcastError } from '@ringcast/client';
import { control, sdkClient, type Recorded, type SdkKind } from '../helpers/sdk.js';
import { startServer, until, type RunningServer } from '../helpers/server.js';
import { sleep } from '../helpers/wait.js';

const SECRET = 'a-test-secret-of-at-least-32-bytes!!';

async function token(sub: number, secret = SECRET): Promise<string> {
  return new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(String(sub)).setExpirationTime('1h').sign(new TextEncoder().encode(secret));
}

describe('client SDK: server restarts, drain, terminal refusals', function () {
  this.timeout(120_000);

  describe('kill -9, restart, drain', () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringcast-sdk-restart-'));
    let s: RunningServer;
    let config: Record<string, unknown> = {};
    const clients = new Map<SdkKind, Recorded>();
    const mids: Record<SdkKind, number> = { ws: 6001, tcp: 6002 };
    /** Per user: seq → body, of every send answered 200. */
    const sent = new Map<number, Map<number, string>>();
    let sentWhileOffline = 0;

    before(async () => {
      s = await startServer({ workers: 2, im: { dataDir, redeliverMs: 600_000 }, shutdown: { graceMs: 300 }, supervisor: { reconnectSpreadMs: 1000 } });
      // The same ports and store on every restart.
      config = {
        workers: 2,
        im: { dataDir, redeliverMs: 600_000 },
        shutdown: { graceMs: 300 },
        supervisor: { reconnectSpreadMs: 1000 },
        tcp: { port: s.tcpPort },
        ws: { port: s.wsPort },
        control: { port: s.controlPort },
      };
      for (const kind of ['ws', 'tcp'] as const) {
        // minDelay = maxDelay: each retry waits exactly 3 s, so there is a window in which the server is
        // back and the users are still offline.
        const c = sdkClient(kind, s, { auth: { mid: mids[kind], key: `restart-${kind}`, room_id: `live://restart-${kind}` }, reconnect: { minDelayMs: 3000, maxDelayMs: 3000 } });
        clients.set(kind, c);
        await c.client.connect();
        await c.client.joinRooms(['chat://restart']);
      }
    });
    after(async () => {
      for (const c of clients.values()) c.client.close();
      await s.stop('SIGKILL');
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    /** Sends message i to every user, retrying with the same client_msg_id until it is answered 200. */
    async function sendAll(i: number): Promise<void> {
      for (const [kind, mid] of Object.entries(mids) as Array<[SdkKind, number]>) {
        for (;;) {
          try {
            const r = await control(s, '/im/send', { from: 1, to: [mid], op: 1000, body: `b${i}`, client_msg_id: `r-${i}` });
            if (r.status === 200) {
              let m = sent.get(mid);
              if (m === undefined) sent.set(mid, (m = new Map()));
              m.set(r.json.data.seq[String(mid)], `b${i}`);
              if (clients.get(kind)!.client.state !== 'connected') sentWhileOffline++;
              break;
            }
          } catch {
            // the server is down: try again
          }
          await sleep(50); // pacing the retries of a send while the server is down
        }
      }
    }

    it('after a kill -9 and a restart, each app got every message exactly once, in seq order, and is back in its rooms', async () => {
      let i = 0;
      for (; i < 20; i++) await sendAll(i);
      await s.stop('SIGKILL');
      await until(() => [...clients.values()].every((c) => c.client.state === 'disconnected'), 5000, 'both clients disconnected');
      s = await startServer(config);
      // Go on sending right away: the users are offline until their retry (3 s after the kill).
      const reconnected = until(() => [...clients.values()].every((c) => c.client.state === 'connected'), 30_000, 'both clients back');
      let back = false;
      void reconnected.then(() => (back = true), () => undefined);
      while (!back) await sendAll(i++);
      for (const end = i + 20; i < end; i++) await sendAll(i);
      await reconnected;
      assert.ok(sentWhileOffline > 0, 'some messages were stored while the users were offline');
      for (const [kind, c] of clients) {
        const expected = sent.get(mids[kind])!;
        await until(() => c.messages.length >= expected.size, 10_000, `${kind}: every message`);
        const seqs = c.messages.map((m) => m.seq);
        assert.deepEqual(seqs, [...expected.keys()].sort((a, b) => a - b), `${kind}: each seq once, in order`);
        assert.deepEqual(seqs, Array.from({ length: expected.size }, (_, k) => k + 1));
        assert.deepEqual(c.messages.map((m) => Buffer.from(m.body).toString()), seqs.map((q) => expected.get(q)));
        assert.deepEqual(c.states.map(([st]) => st).slice(-3), ['disconnected', 'connecting', 'connected']);
      }
      // Rooms joined with joinRooms, and the auth body's goim room, are joined again.
      await control(s, '/goim/push/room?operation=1000&type=chat&room=restart', 'chat after restart');
      await control(s, '/goim/push/room?operation=1000&type=live&room=restart-ws', 'live after restart');
      await until(() => clients.get('ws')!.texts().includes('chat after restart') && clients.get('tcp')!.texts().includes('chat after restart'), 5000, 'the room push');
      await until(() => clients.get('ws')!.texts().includes('live after restart'), 5000, 'the goim room push');
    });

    it('honours a drain: the next attempt comes after reconnect_after_ms, not after the backoff', async () => {
      const c = clients.get('ws')!;
      const from = c.states.length;
      const t0 = Date.now();
      const stopped = s.stop('SIGTERM');
      await until(() => c.states.slice(from).some(([st]) => st === 'connecting'), 10_000, 'the next attempt');
      const [st, info] = c.states[from]!;
      assert.equal(st, 'disconnected');
      assert.equal(info.code, 1001);
      assert.equal(info.reconnect, true);
      assert.ok(info.delayMs! >= 0 && info.delayMs! < 1000, `the delay is the server's reconnect_after_ms (below supervisor.reconnectSpreadMs), got ${info.delayMs}`);
      assert.ok(Date.now() - t0 < 3000, 'sooner than the 3 s backoff');
      await stopped;
      s = await startServer(config);
      await until(() => c.client.state === 'connected', 15_000, 'connected to the new server');
      await control(s, '/goim/push/room?operation=1000&type=chat&room=restart', 'after the drain');
      await until(() => c.texts().includes('after the drain'), 5000, 'the room push after the drain');
    });
  });

  describe('terminal refusals', () => {
    let s: RunningServer;
    before(async () => {
      s = await startServer({ workers: 1, auth: { mode: 'jwt', jwt: { secret: SECRET } } });
    });
    after(async () => {
      await s.stop('SIGKILL');
    });

    it('a wrong token (401) closes the client for good; auth as a function gets a fresh token per connection', async () => {
      const bad = sdkClient('ws', s, { auth: { key: 'jwt-bad', token: await token(7001, 'another-secret-of-at-least-32-bytes') }, reconnect: { minDelayMs: 50, maxDelayMs: 100 } });
      await assert.rejects(bad.client.connect(), (e: RingcastError) => e.kind === 'refused' && e.code === 401);
      assert.equal(bad.client.state, 'closed');
      assert.deepEqual(bad.states.at(-1)![1].reconnect, false);
      await sleep(1000); // a window in which a retry (50-100 ms backoff) would have come
      assert.deepEqual(bad.states.map(([st]) => st), ['connecting', 'closed'], 'no retry');

      let calls = 0;
      const good = sdkClient('tcp', s, {
        auth: async () => ({ key: 'jwt-good', token: await token(7002 + calls++) }),
        reconnect: { minDelayMs: 50, maxDelayMs: 100 },
      });
      await good.client.connect();
      assert.equal(calls, 1);
      const sessions = await s.get('/sessions?mid=7002');
      assert.equal(sessions.body.data.sessions.length, 1, 'authenticated as the token subject');
      good.client.close();
    });

    it('a second client with the same key replaces the first (4001), which does not come back', async () => {
      const first = sdkClient('ws', s, { auth: { key: 'same-key', token: await token(7100) }, reconnect: { minDelayMs: 50, maxDelayMs: 100 } });
      await first.client.connect();
      const second = sdkClient('tcp', s, { auth: { key: 'same-key', token: await token(7100) }, reconnect: { minDelayMs: 50, maxDelayMs: 100 } });
      await second.client.connect();
      await until(() => first.client.state === 'closed', 5000, 'the first client closed');
      assert.deepEqual(first.states.at(-1), ['closed', { code: 4001, reason: 'replaced by a new connection with the same key', reconnect: false }]);
      await sleep(1000); // a window in which a retry of the first client would have replaced the second
      assert.deepEqual(second.states.map(([st]) => st), ['connecting', 'connected'], 'the second stays connected');
      assert.deepEqual(first.states.map(([st]) => st), ['connecting', 'connected', 'closed']);
      await assert.rejects(first.client.send({ to: 1, body: 'x' }), (e: RingcastError) => e.kind === 'refused' && e.code === 4001);
      second.client.close();
    });
  });
});
