/**
 * `npm run bench -- sdk`: the client SDK's own cost. One client process holds `--clients` (5,000)
 * connections to one room of ringcast (2 workers) and receives room pushes at `--rate` per second
 * for `--seconds`; the same run does it twice, once with @ringcast/client instances and once with
 * bare `ws` sockets that only auth, heartbeat and walk each op-9 batch (bench/sdk-clients.ts).
 * Reported per variant: the client process's CPU per received push (user + system, one thread),
 * its memory per connection (RSS and JS heap + buffers, after a full GC, over the process before it
 * connected), and, for context, the server's CPU per delivery; then the SDK/bare ratios. The
 * variants run one after the other, the order alternating per round (so that neither always gets the
 * warmer machine); the figures are the sums over the rounds.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { procCpuSeconds } from '../test/helpers/proc.js';
import { parseBenchArgs, printTable, writeResult } from './report.js';
import { startRingcast, track } from './load/servers.js';

const HELP = `usage: npm run bench -- sdk [--clients N] [--rate N] [--seconds N] [--rounds N] [--quick]
  --clients  connections held by the one client process (default 5000; --quick 1000)
  --rate     room pushes per second (default 10)
  --seconds  length of each push phase (default 10; --quick 4)
  --rounds   rounds of both variants, the order alternating (sdk, bare, then bare, sdk, ...; default 2; --quick 1)`;

interface Variant {
  name: 'sdk' | 'bare';
  connected: { ok: number; errors: number; rssPerClient: number; heapPerClient: number };
  received: number;
  expected: number;
  cpuUs: number;
  serverCpuUs: number;
}

function once<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: { type: string }): void => {
      if (m.type !== type) return;
      child.off('message', onMsg);
      child.off('exit', onExit);
      resolve(m as T);
    };
    const onExit = (code: number | null): void => reject(new Error(`client process exited (${code}) while waiting for ${type}`));
    child.on('message', onMsg);
    child.once('exit', onExit);
  });
}

async function runVariant(name: 'sdk' | 'bare', wsUrl: string, controlPort: number, serverPid: number, o: { clients: number; rate: number; seconds: number }, room: string): Promise<Variant> {
  const script = fileURLToPath(new URL('./sdk-clients.js', import.meta.url));
  const child = fork(script, [name, wsUrl, String(o.clients), `live://${room}`], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  track(child);
  const connected = await once<Variant['connected']>(child, 'connected');
  if (connected.errors > 0) process.stderr.write(`${name}: ${connected.errors} connections failed\n`);
  child.send({ type: 'start' });
  await once(child, 'started');
  const server0 = procCpuSeconds(serverPid);
  const pushes = Math.round(o.rate * o.seconds);
  const url = `http://127.0.0.1:${controlPort}/goim/push/room?operation=1000&type=live&room=${room}`;
  const body = 'a room push of about sixty bytes, like a line of chat or a score';
  const t0 = performance.now();
  const inFlight: Promise<unknown>[] = [];
  for (let i = 0; i < pushes; i++) {
    const due = t0 + (i * 1000) / o.rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inFlight.push(fetch(url, { method: 'POST', body }).then((r) => r.arrayBuffer()));
  }
  await Promise.all(inFlight);
  const expected = pushes * connected.ok;
  const deadline = performance.now() + 30_000;
  for (;;) {
    child.send({ type: 'count' });
    const { received } = await once<{ received: number }>(child, 'count');
    if (received >= expected || performance.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100)); // polling the child's count
  }
  const serverCpuUs = (procCpuSeconds(serverPid) - server0) * 1e6;
  child.send({ type: 'stop' });
  const result = await once<{ cpuUs: number; received: number }>(child, 'result');
  await new Promise((r) => child.once('exit', r));
  return { name, connected, received: result.received, expected, cpuUs: result.cpuUs, serverCpuUs };
}

export async function run(args: string[]): Promise<void> {
  const a = parseBenchArgs(args, ['clients', 'rate', 'seconds'], HELP);
  if (a === null) return;
  const o = { clients: a.num('clients', a.quick ? 1000 : 5000, 1, 15_000), rate: a.num('rate', 10, 1, 1000), seconds: a.num('seconds', a.quick ? 4 : 10, 1, 600) };
  const rounds = a.num('rounds', a.quick ? 1 : 2, 1, 20);
  const server = await startRingcast({ workers: 2, batchWindowMs: 0 });
  const runs: Variant[] = [];
  try {
    const wsUrl = `ws://127.0.0.1:${server.ports.ws}/sub`;
    for (let r = 0; r < rounds; r++) {
      const order: Array<'sdk' | 'bare'> = r % 2 === 0 ? ['sdk', 'bare'] : ['bare', 'sdk'];
      // Each variant in its own process and room.
      for (const name of order) runs.push(await runVariant(name, wsUrl, server.ports.control, server.pid, o, `${name}${r}`));
    }
  } finally {
    await server.stop();
  }
  const rows = (['sdk', 'bare'] as const).map((name) => {
    const v = runs.filter((x) => x.name === name);
    const sum = (f: (x: Variant) => number): number => v.reduce((acc, x) => acc + f(x), 0);
    const received = sum((x) => x.received);
    return {
      variant: name === 'sdk' ? '@ringcast/client' : 'bare ws client',
      connections: v[0]!.connected.ok,
      delivered: `${received} / ${sum((x) => x.expected)}`,
      clientCpuPerPushUs: sum((x) => x.cpuUs) / Math.max(1, received),
      rssPerClientKB: sum((x) => x.connected.rssPerClient) / v.length / 1024,
      heapPerClientKB: sum((x) => x.connected.heapPerClient) / v.length / 1024,
      serverCpuPerDeliveryUs: sum((x) => x.serverCpuUs) / Math.max(1, received),
      perRound: v.map((x) => ({ cpuPerPushUs: x.cpuUs / Math.max(1, x.received), rssPerClientKB: x.connected.rssPerClient / 1024, heapPerClientKB: x.connected.heapPerClient / 1024 })),
    };
  });
  const [s, b] = rows;
  printTable(
    ['client', 'connections', 'delivered', 'client CPU/push (µs)', 'RSS/conn (KB)', 'heap+buffers/conn (KB)', 'server CPU/delivery (µs)'],
    rows.map((r) => [r.variant, r.connections, r.delivered, r.clientCpuPerPushUs, r.rssPerClientKB, r.heapPerClientKB, r.serverCpuPerDeliveryUs]),
  );
  if (rounds > 1) {
    printTable(
      ['round', 'client', 'client CPU/push (µs)', 'RSS/conn (KB)', 'heap+buffers/conn (KB)'],
      rows.flatMap((r) => r.perRound.map((p, i) => [String(i + 1), r.variant, p.cpuPerPushUs, p.rssPerClientKB, p.heapPerClientKB])),
    );
  }
  const ratios = { cpuPerPush: s!.clientCpuPerPushUs / b!.clientCpuPerPushUs, rssPerClient: s!.rssPerClientKB / b!.rssPerClientKB, heapPerClient: s!.heapPerClientKB / b!.heapPerClientKB };
  printTable(['SDK / bare', 'ratio'], [['client CPU per push', `${ratios.cpuPerPush.toFixed(2)}×`], ['RSS per connection', `${ratios.rssPerClient.toFixed(2)}×`], ['heap + buffers per connection', `${ratios.heapPerClient.toFixed(2)}×`]]);
  writeResult('sdk', { ...o, rounds }, rows, { ratios });
}
