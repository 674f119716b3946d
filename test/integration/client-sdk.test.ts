/**
 * @ringcast/client against a real server, over WebSocket (the `ws` package) and raw TCP: every
 * method and event of the API (client/README.md) — connect, state, count, push (op-9 batches in
 * order), joinRooms / leaveRooms / changeRoom, addAccepts / removeAccepts, send → message,
 * request (op 4 → 5, to a backend in this process), gap (op 104), and a store.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { RingcastError } from '@ringcast/client';
import { control, sdkClient, type Recorded, type SdkKind } from '../helpers/sdk.js';
import { startServer, until, type RunningServer } from '../helpers/server.js';

const KINDS: SdkKind[] = ['ws', 'tcp'];

describe('client SDK against a real server', function () {
  this.timeout(60_000);
  let s: RunningServer;
  let backend: http.Server;
  const clients: Recorded[] = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ringcast-sdk-'));

  before(async () => {
    // The upstream backend of op 4: answers 201 with the method, the caller's mid and the payload.
    backend = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.writeHead(201).end(`${req.url} mid=${String(req.headers['x-ringcast-mid'])} ${Buffer.concat(chunks).toString()}`));
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    const port = (backend.address() as { port: number }).port;
    s = await startServer({
      workers: 2,
      upstream: { services: `Echo=http://127.0.0.1:${port}/echo` },
      push: { writeQueueBytes: 65_536, roomPolicies: 'gap://*=drop-oldest' },
      im: { redeliverMs: 600_000 },
    });
  });
  after(async () => {
    for (const c of clients) c.client.close();
    await s.stop('SIGKILL');
    backend.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  const open = async (kind: SdkKind, auth: Parameters<typeof sdkClient>[2]['auth'], extra: Partial<Parameters<typeof sdkClient>[2]> = {}): Promise<Recorded> => {
    const c = sdkClient(kind, s, { auth, ...extra });
    clients.push(c);
    await c.client.connect();
    return c;
  };

  for (const kind of KINDS) {
    const base = kind === 'ws' ? 1000 : 2000;
    describe(`over ${kind}`, () => {
      it('connects (state events), reports the room count, and delivers pushes in order, op-9 batches unpacked', async () => {
        const c = await open(kind, { mid: base + 1, key: `${kind}-a`, room_id: `live://${kind}`, platform: 'web', accepts: [1000] });
        assert.deepEqual(
          c.states.map(([st]) => st),
          ['connecting', 'connected'],
        );
        assert.equal(c.client.state, 'connected');
        await until(() => c.counts.length > 0, 5000, 'a heartbeat reply');
        assert.equal(c.counts[0], 1, 'one client in the goim room');
        const batch = { pushes: ['r1', 'r2', 'r3'].map((body) => ({ op: 1000, room: `live://${kind}`, body })) };
        assert.equal((await control(s, '/push/batch', batch)).status, 200);
        await control(s, `/goim/push/keys?operation=1000&keys=${kind}-a`, 'by key');
        await control(s, `/goim/push/mids?operation=1000&mids=${base + 1}`, 'by mid');
        await until(() => c.pushes.length >= 5, 5000, 'five pushes');
        assert.deepEqual(c.texts(), ['r1', 'r2', 'r3', 'by key', 'by mid']);
        assert.ok(c.pushes.every((p) => p.op === 1000 && p.seq === 0));
      });

      it('joins and leaves rooms, changes the goim room, and changes the accepted ops', async () => {
        const c = await open(kind, { mid: base + 2, key: `${kind}-b`, room_id: `live://${kind}-b`, accepts: [1000] });
        assert.deepEqual((await c.client.joinRooms([`chat://${kind}1`, `chat://${kind}2`])).sort(), [`chat://${kind}1`, `chat://${kind}2`, `live://${kind}-b`]);
        await control(s, `/goim/push/room?operation=1000&type=chat&room=${kind}1`, 'in chat 1');
        await until(() => c.texts().includes('in chat 1'), 5000, 'the push to the joined room');
        assert.deepEqual((await c.client.leaveRooms([`chat://${kind}1`])).sort(), [`chat://${kind}2`, `live://${kind}-b`]);
        await control(s, `/goim/push/room?operation=1000&type=chat&room=${kind}1`, 'after leaving');
        await c.client.changeRoom(`live://${kind}-c`);
        await control(s, `/goim/push/room?operation=1000&type=live&room=${kind}-c`, 'in the new goim room');
        await until(() => c.texts().includes('in the new goim room'), 5000, 'the push to the new goim room');
        // Pushes by key are filtered by the accepted ops.
        assert.equal((await control(s, `/goim/push/keys?operation=1001&keys=${kind}-b`, 'op 1001')).json.data.connections, 0);
        await c.client.addAccepts([1001]);
        assert.equal((await control(s, `/goim/push/keys?operation=1001&keys=${kind}-b`, 'op 1001 accepted')).json.data.connections, 1);
        await c.client.removeAccepts([1001]);
        assert.equal((await control(s, `/goim/push/keys?operation=1001&keys=${kind}-b`, 'op 1001 again')).json.data.connections, 0);
        await until(() => c.texts().includes('op 1001 accepted'), 5000, 'the accepted push');
        assert.deepEqual(c.texts(), ['in chat 1', 'in the new goim room', 'op 1001 accepted'], 'nothing from the room left');
        await assert.rejects(c.client.joinRooms(['bad,room']), (e: RingcastError) => e.kind === 'invalid');
      });

      it('sends reliable messages (op 110) that the recipient gets as message events, and makes upstream requests', async () => {
        const a = await open(kind, { mid: base + 3, key: `${kind}-c`, platform: 'web' });
        const b = await open(kind, { mid: base + 4, key: `${kind}-d`, platform: 'web' });
        const r1 = await a.client.send({ to: base + 4, op: 1005, body: 'hello', clientMsgId: `${kind}-m1` });
        assert.equal(r1.seq, 1);
        assert.deepEqual(r1.seqs, { [String(base + 4)]: 1 });
        const again = await a.client.send({ to: base + 4, op: 1005, body: 'hello', clientMsgId: `${kind}-m1` });
        assert.equal(again.seq, 1, 'the same clientMsgId is stored once');
        const r2 = await a.client.send({ to: base + 4, body: new Uint8Array([0xe2, 0x9c, 0x93]) });
        assert.equal(r2.seq, 2);
        await until(() => b.messages.length >= 2, 5000, 'two messages');
        const [m1, m2] = b.messages;
        assert.equal(m1!.seq, 1);
        assert.equal(m1!.from, base + 3);
        assert.equal(m1!.op, 1005);
        assert.equal(Buffer.from(m1!.body).toString(), 'hello');
        assert.equal(m1!.clientMsgId, `${kind}-m1`);
        assert.ok(Math.abs(m1!.ts - Date.now()) < 60_000);
        assert.equal(m1!.group, undefined);
        assert.equal(Buffer.from(m2!.body).toString(), '✓');
        assert.equal(b.messages.length, 2);
        assert.equal(b.client.lastSeq, 2);
        // The acks reach the server: the device's read position moves to 2.
        await until(async () => (await s.get(`/im/devices?mid=${base + 4}`)).body.data.devices.some((d: any) => d.device === `${kind}-d` && d.read === 2), 5000, 'the read position');
        await assert.rejects(a.client.send({ to: base + 4, group: 3, body: 'x' }), (e: RingcastError) => e.kind === 'invalid');

        const reply = await a.client.request('Echo/Say', 'payload');
        assert.equal(reply.status, 201);
        assert.equal(Buffer.from(reply.body).toString(), `/echo/Say mid=${base + 3} payload`);
        const unknown = await a.client.request('Nope/Say', 'x');
        assert.equal(unknown.status, 404);
        await assert.rejects(a.client.request('no-slash', 'x'), (e: RingcastError) => e.kind === 'invalid');
      });
    });
  }

  it('emits gap when the server dropped pushes while the client was not reading (TCP, drop-oldest)', async () => {
    const c = await open('tcp', { mid: 3001, key: 'gap-1', room_id: 'gap://1' });
    // Block this thread (Atomics.wait: the SDK's socket is not read) while a worker thread pushes
    // 12.8 MB to the room: more than the kernel buffers and push.writeQueueBytes hold.
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const pusher = new Worker(
      `const { workerData } = require('node:worker_threads');
       (async () => {
         const body = 'x'.repeat(65536);
         for (let i = 0; i < 200; i++) await fetch(workerData.url + i, { method: 'POST', body: i + ':' + body });
         await fetch(workerData.url + 'last', { method: 'POST', body: 'last' });
         Atomics.store(workerData.flag, 0, 1); Atomics.notify(workerData.flag, 0);
       })();`,
      { eval: true, workerData: { url: `http://127.0.0.1:${s.controlPort}/goim/push/room?operation=1000&type=gap&room=1&n=`, flag } },
    );
    assert.equal(Atomics.wait(flag, 0, 0, 30_000), 'ok', 'the pusher finished while this thread slept');
    await pusher.terminate();
    // 201 pushes: every one either arrives or is counted by the gap marker.
    await until(() => c.pushes.length + (c.gaps[0] ?? 0) >= 201, 20_000, 'every push received or announced dropped');
    assert.equal(c.gaps.length, 1, 'one gap marker');
    assert.ok(c.gaps[0]! > 0);
    assert.equal(c.pushes.length + c.gaps[0]!, 201, `the pushes received (${c.pushes.length}) and the dropped ones (${c.gaps[0]}) make up all 201`);
    const got = c.texts().filter((t) => t !== 'last').map((t) => Number(t.slice(0, t.indexOf(':'))));
    assert.deepEqual(got, [...got].sort((x, y) => x - y), 'in order');
  });

  it('a store carries the last seq across client restarts (a file in Node)', async () => {
    const mid = 3002;
    const key = 'store-1';
    for (let i = 1; i <= 4; i++) assert.equal((await control(s, '/im/send', { from: 1, to: [mid], op: 1000, body: `s${i}` })).status, 200);
    const file = path.join(tmp, 'seq.json');
    // As if a first run had handed 1..2 to the app and died before its ack went out.
    fs.writeFileSync(file, JSON.stringify({ mid, key, seq: 2 }));
    const c = await open('tcp', { mid, key }, { store: file });
    await until(() => c.messages.length >= 2, 5000, 'the messages after the stored seq');
    assert.deepEqual(c.messages.map((m) => m.seq), [3, 4], 'nothing at or below the stored seq');
    assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { mid, key, seq: 4 });
    c.client.close();
    // A store of another device is not used.
    fs.writeFileSync(file, JSON.stringify({ mid, key: 'another-device', seq: 4 }));
    const d = await open('ws', { mid, key: 'store-2' }, { store: file });
    await until(() => d.messages.length >= 4, 5000, 'the whole inbox for a new device');
    assert.deepEqual(d.messages.map((m) => m.seq), [1, 2, 3, 4]);
  });
});
