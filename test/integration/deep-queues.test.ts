/**
 * The deepest outbound queues per worker (src/deepest-queues.ts), as /health and the dashboard's
 * stream show them: a real client that stops reading while pushes keep coming shows up with its mid
 * and a growing queue, and goes away once it reads again.
 */
import assert from 'node:assert/strict';
import { GoimClient } from '../helpers/goim-client.js';
import { startServer, until, type RunningServer } from '../helpers/server.js';

interface DeepQueue {
  conn: number;
  mid: number;
  bytes: number;
}

describe('deepest outbound queues in the status words', function () {
  this.timeout(60_000);
  let s: RunningServer;

  before(async () => {
    // A bound far above what the test queues: the slow client stays connected.
    s = await startServer({ workers: 1, push: { writeQueueBytes: 256 * 1024 * 1024 } });
  });
  after(async () => {
    await s?.stop('SIGKILL');
  });

  it('shows a client that stopped reading, with its mid and queue, until it reads again', async () => {
    const slow = await GoimClient.connect('tcp', s.tcpPort);
    const fast = await GoimClient.connect('ws', s.wsPort);
    assert.equal((await slow.auth({ mid: 9_007_199_254_740_991, key: 'deep-slow', room_id: 'live://deep' })).op, 8);
    assert.equal((await fast.auth({ mid: 2, key: 'deep-fast', room_id: 'live://deep' })).op, 8);
    const queues = async (): Promise<DeepQueue[]> => (await s.get('/health')).body.workers[0].deepestQueues;
    assert.deepEqual(await queues(), []);
    (slow as unknown as { socket: { pause(): void } }).socket.pause(); // the kernel buffers fill, then ours
    const body = Buffer.alloc(64 * 1024, 0x61);
    const url = `http://127.0.0.1:${s.controlPort}/goim/push/room?operation=1000&type=live&room=deep`;
    let seen: DeepQueue[] = [];
    for (let pushes = 0; seen.length === 0 && pushes < 2000; pushes++) {
      const r = await fetch(url, { method: 'POST', body });
      assert.equal(r.status, 200);
      await r.arrayBuffer();
      await fast.expect(1000);
      // The worker re-reads the queues it watches once a second; the pushes go on meanwhile.
      if (pushes % 20 === 19) seen = await queues();
    }
    assert.equal(seen.length, 1, 'only the client that stopped reading (the fast one reads)');
    assert.equal(seen[0]!.mid, 9_007_199_254_740_991);
    assert.ok(seen[0]!.bytes > 0);
    (slow as unknown as { socket: { resume(): void } }).socket.resume();
    await until(async () => (await queues()).length === 0, 10_000, 'the queue drained and is forgotten');
    slow.close();
    fast.close();
  });
});
