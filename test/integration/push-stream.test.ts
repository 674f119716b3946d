/**
 * The streaming push API (`/push/stream`) against a real server: the token checked at the upgrade
 * (401 before it), pushes by key, mid, room and to all taken on every worker and delivered exactly
 * once, the window (control.streamWindow), per-request errors with the status and message an HTTP
 * push would get (400, 413, 429, 503), and a request that cannot be delimited: its error, the close
 * (1002) after the pushes taken are answered.
 */
import assert from 'node:assert/strict';
import { encodeStreamRequest } from '../../src/control/stream-codec.js';
import { Op } from '../../src/ops.js';
import { GoimClient } from '../helpers/goim-client.js';
import { PushStreamClient, StreamRefused, UpgradeRefused } from '../helpers/push-stream.js';
import { controlRequest, limitRefusals, startServer, until, type RunningServer } from '../helpers/server.js';

const TOKEN = 'stream-secret';
const auth = { authorization: `Bearer ${TOKEN}` };

/** Streams until every worker has one (the kernel picks the worker of each connection). */
async function streamsOnEveryWorker(port: number, workers: number, token = TOKEN): Promise<PushStreamClient[]> {
  const found: Array<PushStreamClient | undefined> = new Array(workers);
  for (let i = 0; i < 200 && found.includes(undefined); i++) {
    const c = await PushStreamClient.connect(port, { token });
    if (c.worker < 0) throw new Error('no x-ringcast-worker header on the upgrade');
    if (found[c.worker] === undefined) found[c.worker] = c;
    else c.close();
  }
  assert.ok(!found.includes(undefined), 'a stream on every worker');
  return found as PushStreamClient[];
}

async function refusal(p: Promise<unknown>): Promise<StreamRefused> {
  const err = await p.then(() => null, (e: unknown) => e);
  assert.ok(err instanceof StreamRefused, `refused, got ${String(err)}`);
  return err;
}

describe('push stream (/push/stream)', function () {
  this.timeout(60_000);
  let s: RunningServer;
  const clients: GoimClient[] = [];

  before(async () => {
    s = await startServer({ workers: 2, control: { token: TOKEN, maxBodyBytes: 2048, batchMaxTargets: 50 } });
  });
  after(async () => {
    for (const c of clients) c.close();
    await s.stop('SIGKILL');
  });

  it('checks the token at the upgrade: 401 with the JSON envelope before it, without or with a wrong token', async () => {
    for (const token of [undefined, 'wrong']) {
      const err = await PushStreamClient.connect(s.controlPort, token === undefined ? {} : { token }).then(() => null, (e: unknown) => e);
      assert.ok(err instanceof UpgradeRefused, String(err));
      assert.equal(err.status, 401);
      assert.equal(err.headers['www-authenticate'], 'Bearer');
      assert.deepEqual(err.body, { code: -401, message: 'missing or wrong token: send "Authorization: Bearer <control.token>"' });
    }
    const ok = await PushStreamClient.connect(s.controlPort, { token: TOKEN });
    assert.deepEqual(await ok.push({ room: 'live://nobody', op: 1000, body: 'x' }), { connections: 0 });
    ok.close();
  });

  it('pushes by key, mid, room and to all, taken on every worker, reach each client exactly once', async () => {
    const mine: Array<{ c: GoimClient; key: string; mid: number }> = [];
    for (let i = 0; i < 6; i++) {
      const c = await GoimClient.connect(i % 2 === 0 ? 'tcp' : 'ws', i % 2 === 0 ? s.tcpPort : s.wsPort);
      clients.push(c);
      const key = `st-${i}`;
      assert.equal((await c.auth({ mid: 7700 + i, key, room_id: 'live://st', accepts: [1000] })).op, Op.AuthReply);
      mine.push({ c, key, mid: 7700 + i });
    }
    await until(async () => JSON.parse((await controlRequest(s.controlPort, 'GET', '/goim/online/room?type=live&rooms=st', undefined, auth)).text).data.st === 6, 5000, 'the six in the room');
    const streams = await streamsOnEveryWorker(s.controlPort, 2);
    for (const st of streams) {
      const w = st.worker;
      const answers = await Promise.all([
        st.push({ keys: mine.map((m) => m.key), op: 1000, body: `keys-${w}` }),
        st.push({ mids: mine.map((m) => m.mid), op: 1000, body: `mids-${w}` }),
        st.push({ room: 'live://st', op: 1000, body: `room-${w}` }),
      ]);
      assert.deepEqual(answers, [{ connections: 6 }, { connections: 6 }, { connections: 6 }], `via worker ${w}`);
      assert.ok((await st.push({ all: true, op: 1000, body: `all-${w}` })).connections >= 6);
    }
    for (const st of streams) await st.push({ keys: mine.map((m) => m.key), op: 1000, body: 'end' });
    const expected = streams.flatMap((st) => ['keys', 'mids', 'room', 'all'].map((k) => `${k}-${st.worker}`)).sort();
    for (const m of mine) {
      const got = (await m.c.collectUntil(1000, 'end')).filter((p) => p.op === 1000).map((p) => p.body.toString());
      assert.deepEqual(got.sort(), expected, `${m.key}: each push once`);
    }
    for (const st of streams) st.close();
  });

  it('per-request errors carry the status and message of the HTTP push; the connection stays open', async () => {
    const st = await PushStreamClient.connect(s.controlPort, { token: TOKEN });
    let e = await refusal(st.push({ keys: [], op: 1000 }));
    assert.equal(e.status, 400);
    assert.match(e.message, /no keys/);
    e = await refusal(st.push({ keys: ['a', ''], op: 1000 }));
    assert.deepEqual([e.status, /keys\[1\] is empty/.test(e.message)], [400, true]);
    e = await refusal(st.push({ mids: [2 ** 53], op: 1000 }));
    assert.deepEqual([e.status, /over 2\^53-1/.test(e.message)], [400, true]);
    e = await refusal(st.push({ mids: Array.from({ length: 51 }, (_, i) => i + 1), op: 1000 }));
    assert.equal(e.status, 400);
    assert.match(e.message, /control\.batchMaxTargets/);
    e = await refusal(st.push({ room: 'live://x', op: 1000, body: Buffer.alloc(2049) }));
    const http = await controlRequest(s.controlPort, 'POST', '/goim/push/room?operation=1000&type=live&room=x', Buffer.alloc(2049), auth);
    assert.equal(e.status, 413);
    assert.equal(e.message, JSON.parse(http.text).message, 'the message of the HTTP push');
    assert.deepEqual(await st.push({ room: 'live://x', op: 1000, body: Buffer.alloc(2048) }), { connections: 0 }, 'still open; a body at the limit is fine');
    st.close();
  });

  it('a request that cannot be delimited gets its error; the pushes taken before it are answered, then the close (1002)', async () => {
    const st = await PushStreamClient.connect(s.controlPort, { token: TOKEN });
    const good = encodeStreamRequest(41, { room: 'live://y', op: 1000, body: 'ok' });
    const bad = encodeStreamRequest(42, { keys: ['abc'], op: 1000 }).subarray(0, 20); // cut inside the key
    st.sendRaw(Buffer.concat([good, bad]));
    const closed = await st.closed;
    assert.equal(closed.code, 1002);
    assert.match(closed.reason, /request 42: target 0 of 3 bytes runs past the message/);
    assert.deepEqual(st.answers.map((a) => [a.id, a.status]).sort(), [[41, 0], [42, 400]]);
    const text = await PushStreamClient.connect(s.controlPort, { token: TOKEN });
    text.sendRaw('{"keys":["a"]}');
    assert.equal((await text.closed).code, 1002);
    assert.match(text.answers[0]!.message, /expected binary frames/);
  });
});

describe('push stream: window and process-wide limits', function () {
  this.timeout(60_000);

  it('at most control.streamWindow pushes unanswered: past it 429 naming the key, and room again once answers come', async () => {
    const s = await startServer({ workers: 2, control: { streamWindow: 4 }, push: { batchWindowMs: 400 } });
    try {
      const st = await PushStreamClient.connect(s.controlPort);
      // Room pushes wait in the 400 ms merge window: six sent at once, four taken.
      const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => st.push({ room: 'live://w', op: 1000, body: `w${i}` })));
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as StreamRefused);
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 4);
      assert.equal(refused.length, 2);
      for (const r of refused) {
        assert.equal(r.status, 429);
        assert.match(r.message, /stream window full: 4 pushes unanswered on this connection \(control\.streamWindow = 4\)/);
      }
      assert.deepEqual(await st.push({ room: 'live://w', op: 1000, body: 'again' }), { connections: 0 }, 'room again');
      st.close();
    } finally {
      await s.stop('SIGKILL');
    }
  });

  it('control.ratePerSec and push.maxInFlight apply to stream pushes as to HTTP ones: 429 and 503 with the same messages, counted', async () => {
    const s = await startServer({ workers: 2, control: { ratePerSec: 1, burst: 3 }, push: { maxInFlight: 1, batchWindowMs: 400 } });
    try {
      const st = await PushStreamClient.connect(s.controlPort); // the upgrade takes one token
      const first = st.push({ room: 'live://r', op: 1000, body: 'a' });
      const overloaded = await refusal(st.push({ room: 'live://r', op: 1000, body: 'b' }));
      assert.equal(overloaded.status, 503);
      assert.match(overloaded.message, /^overloaded: 1 pushes in flight \(push\.maxInFlight\); retry later$/);
      const limited = await refusal(st.push({ room: 'live://r', op: 1000, body: 'c' }));
      assert.equal(limited.status, 429);
      assert.equal(limited.message, 'rate limited: over 1 requests per second (control.ratePerSec, burst control.burst = 3); retry later');
      await first;
      st.close();
      await until(async () => {
        const r = await limitRefusals(s.controlPort).catch(() => null);
        return r !== null && r['push.maxInFlight']! >= 1 && r['control.ratePerSec']! >= 1;
      }, 5000, 'the refusals counted');
    } finally {
      await s.stop('SIGKILL');
    }
  });
});
