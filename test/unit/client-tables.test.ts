/**
 * The SDK keeps its own copies of the server's op numbers and disconnect table (it has no runtime
 * dependency, and the server none on it): these tests hold the copies to the originals
 * (src/ops.ts, src/errors.ts), check the backoff formula, and check that the browser build is one
 * self-contained ES module with nothing of Node in it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { backoffCeiling, backoffDelay, ClientCode, reconnectPolicy } from '@ringcast/client';
import { DISCONNECTS } from '../../src/errors.js';
import { ExtOp, ImOp, Op } from '../../src/ops.js';
import { ROOT } from '../helpers/server.js';

describe('client SDK: tables, backoff, browser build', () => {
  it('obeys every code of the server disconnect table as the table says', () => {
    for (const d of DISCONNECTS) {
      if (d.code === 1000) continue; // with op 6 the op 6 code decides; without it the SDK backs off
      assert.equal(reconnectPolicy(d.code), d.reconnect, `code ${d.code} (${d.name})`);
    }
    assert.equal(reconnectPolicy(1000), 'backoff');
    for (const code of Object.values(ClientCode)) {
      assert.equal(reconnectPolicy(code), 'backoff', `SDK code ${code}`);
      assert.ok(!DISCONNECTS.some((d) => d.code === code), `SDK code ${code} is not a server code`);
    }
  });

  it('uses the server op numbers', async () => {
    // Internal to the package (not exported): loaded from its build output.
    const sdk = ((await import(pathToFileURL(path.join(ROOT, 'client/dist/ops.js')).href)) as { Op: Record<string, number> }).Op;
    const server: Record<string, number> = {
      Heartbeat: Op.Heartbeat, HeartbeatReply: Op.HeartbeatReply, SendMsg: Op.SendMsg, SendMsgReply: Op.SendMsgReply,
      Disconnect: Op.DisconnectReply, Auth: Op.Auth, AuthReply: Op.AuthReply, Batch: Op.Raw, ChangeRoom: Op.ChangeRoom,
      ChangeRoomReply: Op.ChangeRoomReply, Sub: Op.Sub, SubReply: Op.SubReply, Unsub: Op.Unsub, UnsubReply: Op.UnsubReply,
      JoinRooms: ExtOp.JoinRooms, JoinRoomsReply: ExtOp.JoinRoomsReply, LeaveRooms: ExtOp.LeaveRooms, LeaveRoomsReply: ExtOp.LeaveRoomsReply,
      Gap: ExtOp.Gap, ImSend: ImOp.Send, ImSendReply: ImOp.SendReply, ImMessage: ImOp.Message, ImAck: ImOp.Ack, ImSync: ImOp.Sync,
      ImSyncReply: ImOp.SyncReply, ErrorReply: ExtOp.ErrorReply,
    };
    assert.deepEqual(sdk, server);
  });

  it('draws retry n uniformly from [min, min(max, min·2^n)], jittered at the cap too', () => {
    const o = { minDelayMs: 500, maxDelayMs: 20_000 };
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((n) => backoffCeiling(n, o)), [1000, 2000, 4000, 8000, 16_000, 20_000, 20_000]);
    assert.equal(backoffDelay(1, o, () => 0), 500);
    assert.equal(backoffDelay(9, o, () => 0), 500, 'at the cap the range still starts at min');
    assert.equal(backoffDelay(9, o, () => 0.5), 10_250);
    assert.equal(backoffDelay(9, o, () => 0.999999), 20_000);
    // With a real random source: the draws at the cap spread over [min, max] (socket.io clamps
    // after jittering: there most draws land exactly on max), and below it over [min, ceiling].
    for (const n of [1, 3, 10]) {
      const ceiling = backoffCeiling(n, o);
      const draws = Array.from({ length: 20_000 }, () => backoffDelay(n, o, Math.random));
      assert.ok(draws.every((d) => d >= 500 && d <= ceiling), `retry ${n} within [500, ${ceiling}]`);
      const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
      assert.ok(Math.abs(mean - (500 + ceiling) / 2) < 0.02 * ceiling, `retry ${n}: mean ${mean} ≈ ${(500 + ceiling) / 2}`);
      const buckets = new Array<number>(10).fill(0);
      for (const d of draws) buckets[Math.min(9, Math.floor(((d - 500) / (ceiling - 500)) * 10))]!++;
      for (const b of buckets) assert.ok(b > 1600 && b < 2400, `retry ${n}: every tenth of the range gets about 2,000 draws (${buckets.join(' ')})`);
      assert.ok(draws.filter((d) => d === ceiling).length < draws.length / 100, `retry ${n}: no pile-up at the ceiling`);
    }
  });

  it('the browser build is one ES module with nothing of Node in it', () => {
    const file = path.join(ROOT, 'client/dist/ringcast-client.js');
    const text = fs.readFileSync(file, 'utf8');
    assert.ok(/export\s*\{[^}]*RingcastClient/.test(text), 'exports RingcastClient');
    assert.ok(!/^\s*import\s/m.test(text) && !/\bimport\(/.test(text), 'imports nothing');
    for (const node of [/["']node:/, /\brequire\(/, /\bprocess\./, /\bBuffer\b/, /__dirname/]) assert.ok(!node.test(text), `no ${node}`);
  });
});
