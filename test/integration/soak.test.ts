/**
 * Soak: 10 rounds of connecting clients (new keys and mids each round), pushing to them by room, key
 * and mid, and disconnecting them all. After every round the server must be back where it was: no
 * connection, router entry or timer-wheel entry left, the same descriptors and event-loop timers;
 * and after round 10 its RSS and its heap (every thread, after a full GC) within 10 % of round 1.
 * RSS is compared without the growth of V8's young generation in memory: V8 sizes each thread's new
 * space up once under allocation load (16 → 32 MiB) and keeps it, and its pages come into memory as
 * it is used, over several rounds (with 1,000 clients a round the growth happens in rounds 1–5, with
 * 5,000 already in round 1; the full run then passes on raw RSS too).
 * CI size: 1,000 clients a round; full size: SOAK_CLIENTS=5000 (see README).
 */
import assert from 'node:assert/strict';
import { openFds, procRssBytes } from '../helpers/proc.js';
import { startServer, until, type RunningServer } from '../helpers/server.js';
import { closeSwarm, connectSwarm, type SwarmClient } from '../helpers/swarm.js';

const CLIENTS = Number(process.env.SOAK_CLIENTS ?? 1000);
const ROUNDS = 10;
const TOLERANCE = 0.1;

interface Level {
  rss: number;
  heap: number;
  /** Young-generation pages in memory, all threads. */
  newSpace: number;
  fds: number;
  timerEntries: number;
  /** setTimeout/setInterval handles keeping an event loop alive (unref'd ones are not listed), all threads. */
  timeouts: number;
  connections: number;
  routerEntries: number;
}

interface ThreadMem {
  heapUsedBytes: number;
  newSpacePhysicalBytes: number;
  resources: Record<string, number>;
}

async function level(s: RunningServer): Promise<Level> {
  const mem = (await s.get('/debug/memory?gc=1')).body.data as { acceptor: ThreadMem; workers: Array<ThreadMem & { timerEntries: number; connections: number }> };
  const threads: ThreadMem[] = [mem.acceptor, ...mem.workers];
  const health = (await s.get('/health')).body;
  return {
    rss: procRssBytes(s.proc.pid!),
    heap: threads.reduce((n, t) => n + t.heapUsedBytes, 0),
    newSpace: threads.reduce((n, t) => n + t.newSpacePhysicalBytes, 0),
    fds: openFds(s.proc.pid!, [s.controlPort]),
    timerEntries: mem.workers.reduce((n, w) => n + w.timerEntries, 0),
    timeouts: threads.reduce((n, t) => n + (t.resources.Timeout ?? 0), 0),
    connections: mem.workers.reduce((n, w) => n + w.connections, 0),
    routerEntries: health.workers.reduce((n: number, w: { routerEntries: number }) => n + w.routerEntries, 0),
  };
}

const mib = (b: number): string => (b / 2 ** 20).toFixed(1);

describe(`soak: ${ROUNDS} rounds of connect ${CLIENTS} clients, push, disconnect`, function () {
  this.timeout(300_000);
  it('returns to the same level after every round: no connection, router, timer or descriptor left; RSS and heap within 10 % of round 1', async () => {
    const s = await startServer({ workers: 2 });
    const levels: Level[] = [];
    let clients: SwarmClient[] = [];
    try {
      const half = Math.ceil(CLIENTS / 2);
      for (let round = 1; round <= ROUNDS; round++) {
        const base = round * 10_000_000;
        clients = [
          ...(await connectSwarm({ kind: 'tcp', port: s.tcpPort, count: half, room: 'live://1', midBase: base, keyPrefix: `r${round}-tcp-` })),
          ...(await connectSwarm({ kind: 'ws', port: s.wsPort, count: CLIENTS - half, room: 'live://2', midBase: base + half, keyPrefix: `r${round}-ws-` })),
        ];
        const batch = {
          pushes: [
            { op: 1000, room: 'live://1', body: 'room' },
            { op: 1000, room: 'live://2', body: 'room' },
            { op: 1000, keys: clients.map((c) => c.key), body: 'key' },
            { op: 1000, mids: clients.map((c) => c.mid), body: 'mid' },
          ],
        };
        const res = await fetch(`http://127.0.0.1:${s.controlPort}/push/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch) });
        assert.equal(((await res.json()) as { data: { connections: number } }).data.connections, 3 * CLIENTS, `round ${round}: pushes reached every client`);
        await until(() => clients.every((c) => c.pushes === 3), 10_000, `round ${round}: every client to get its three pushes`);
        await closeSwarm(clients);
        clients = [];
        await until(async () => (await s.get('/health')).body.connections === 0, 10_000, `round ${round}: every connection released`);
        const l = await level(s);
        levels.push(l);
        assert.deepEqual([l.connections, l.routerEntries, l.timerEntries], [0, 0, 0], `round ${round}: connections, router entries and timer-wheel entries left`);
        if (round > 1) {
          assert.equal(l.fds, levels[0]!.fds, `round ${round}: descriptors`);
          assert.equal(l.timeouts, levels[0]!.timeouts, `round ${round}: event-loop timers`);
        }
      }
      const first = levels[0]!;
      const last = levels[levels.length - 1]!;
      const youngGrowth = Math.max(0, last.newSpace - first.newSpace);
      console.log(`      RSS MiB by round: ${levels.map((l) => mib(l.rss)).join(' ')} (young generation grew ${mib(youngGrowth)} MiB)`);
      console.log(`      heap MiB (all threads, after GC) by round: ${levels.map((l) => mib(l.heap)).join(' ')}`);
      console.log(`      descriptors ${first.fds}, ref'd event-loop timers ${first.timeouts}, timer-wheel entries 0 after every round`);
      assert.ok(last.rss - youngGrowth <= first.rss * (1 + TOLERANCE), `RSS after round ${ROUNDS} ${mib(last.rss)} MiB (${mib(youngGrowth)} of it young-generation growth) vs ${mib(first.rss)} MiB after round 1`);
      assert.ok(last.heap <= first.heap * (1 + TOLERANCE), `heap after round ${ROUNDS} ${mib(last.heap)} MiB vs ${mib(first.heap)} MiB after round 1`);
    } finally {
      await closeSwarm(clients);
      await s.stop('SIGKILL');
    }
  });
});
