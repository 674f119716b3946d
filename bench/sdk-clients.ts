/**
 * The client process of `npm run bench -- sdk` (bench/sdk.ts forks it, with --expose-gc): holds N
 * connections to one ringcast room, either as @ringcast/client instances or as bare `ws` sockets
 * that do the least a goim client must (auth, a heartbeat timer, walking each op-9 batch), and
 * reports its own CPU per received push and its memory per connection.
 *
 * argv: kind (sdk | bare), WebSocket URL, connections, room.
 * IPC: ← {type:'start'} → {type:'started'}; ← {type:'count'} → {type:'count', received};
 *      ← {type:'stop'} → {type:'result', cpuUs, received}; then it closes everything and exits.
 */
import { WebSocket } from 'ws';
import { RingcastClient, type WebSocketConstructor } from '@ringcast/client';
import { encodePacket } from '../src/codec.js';

const [kind, url, countArg, room] = process.argv.slice(2) as ['sdk' | 'bare', string, string, string];
const N = Number(countArg);
const CONCURRENCY = 200;
const HEARTBEAT_MS = 30_000;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

let received = 0;
const closers: Array<() => void> = [];

/** A bare goim client over `ws`: auth, heartbeat, and a walk over every op-9 batch. */
function bare(i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    let timer: NodeJS.Timeout | null = null;
    ws.on('open', () => {
      ws.send(encodePacket(7, 1, Buffer.from(JSON.stringify({ mid: 900_000 + i, key: `bare-${i}`, room_id: room, platform: 'web', accepts: [1000] }))));
      timer = setInterval(() => ws.send(encodePacket(2, 2, null)), HEARTBEAT_MS);
    });
    ws.on('message', (m: Buffer) => {
      const op = m.readInt32BE(8);
      if (op === 8) resolve();
      else if (op === 9) {
        for (let at = 16; at < m.length; at += m.readInt32BE(at)) {
          if (m.readInt32BE(at + 8) >= 1000) received++;
        }
      }
    });
    ws.on('error', reject);
    closers.push(() => {
      if (timer !== null) clearInterval(timer);
      ws.terminate();
    });
  });
}

async function sdk(i: number): Promise<void> {
  const c = new RingcastClient({
    url,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    auth: { mid: 800_000 + i, key: `sdk-${i}`, room_id: room, platform: 'web', accepts: [1000] },
    heartbeatMs: HEARTBEAT_MS,
  });
  c.on('push', () => received++);
  closers.push(() => c.close());
  await c.connect();
}

function memory(): { rss: number; heap: number } {
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed + m.external + m.arrayBuffers };
}

async function main(): Promise<void> {
  // The modules are loaded and warm before the baseline is taken.
  const before = memory();
  const open = kind === 'sdk' ? sdk : bare;
  let next = 0;
  let errors = 0;
  const worker = async (): Promise<void> => {
    while (next < N) {
      const i = next++;
      try {
        await open(i);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  await new Promise((r) => setTimeout(r, 2000)); // let the first heartbeats, syncs and their garbage settle
  const after = memory();
  process.send!({ type: 'connected', ok: N - errors, errors, rssPerClient: (after.rss - before.rss) / N, heapPerClient: (after.heap - before.heap) / N });
  let cpu0: NodeJS.CpuUsage = process.cpuUsage();
  let count0 = 0;
  process.on('message', (msg: { type: string }) => {
    if (msg.type === 'start') {
      cpu0 = process.cpuUsage();
      count0 = received;
      process.send!({ type: 'started' });
    } else if (msg.type === 'count') {
      process.send!({ type: 'count', received: received - count0 });
    } else if (msg.type === 'stop') {
      const d = process.cpuUsage(cpu0);
      process.send!({ type: 'result', cpuUs: d.user + d.system, received: received - count0 });
      for (const close of closers) close();
      process.disconnect();
    }
  });
}

void main();
