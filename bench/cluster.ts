/**
 * `npm run bench -- cluster`: three boxes on one Redis against the same load on one box.
 *
 * Both setups get the same clients (TCP, spread evenly over the boxes) and the same pushes, all sent
 * to the control port of box 0 (so two thirds of the unicast targets are on other boxes):
 *   - unicast: pushes by key to a random client, paced at --rate per second;
 *   - room: pushes to one room every client is in, paced at --room-rate per second.
 * It reports push-to-arrival latency p50/p99 (the clients live in this process, so one clock),
 * server CPU per delivery (every server process, less what the setup costs idle; Redis apart), the hop's cost
 * (cluster minus one box, µs per push) and Redis commands per push (INFO commandstats).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startRingcast, track, type ServerHandle } from './load/servers.js';
import { formatNumber, parseBenchArgs, printTable, quantile, writeResult } from './report.js';

const HELP = `usage: npm run bench -- cluster [--clients N] [--seconds S] [--rate R] [--room-rate R] [--quick]
  --clients    clients in all (spread over the boxes; default 600)
  --seconds    seconds per phase (default 8)
  --rate       unicast pushes per second (default 200)
  --room-rate  room pushes per second (default 50)`;

const OP = 1000;

function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(f[11]) + Number(f[12]);
  return (ticks * 1000) / 100; // USER_HZ 100 on Linux
}

interface Redis {
  port: number;
  proc: ChildProcess;
  stop(): void;
}

async function startRedis(): Promise<Redis> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ringcast-bench-redis-'));
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const proc = spawn('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], { stdio: 'ignore' });
  track(proc);
  for (let i = 0; i < 100; i++) {
    if (await redisCommand(port, 'PING').then((r) => r.startsWith('+PONG'), () => false)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    proc,
    stop() {
      proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function redisCommand(port: number, cmd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    s.setEncoding('latin1');
    s.on('error', reject);
    s.on('data', (d: string) => {
      buf += d;
      const m = /^\$(\d+)\r\n/.exec(buf);
      if (buf.startsWith('+') || buf.startsWith('-')) {
        if (buf.includes('\r\n')) (s.destroy(), resolve(buf));
      } else if (m && buf.length >= m[0].length + Number(m[1])) {
        s.destroy();
        resolve(buf.slice(m[0].length, m[0].length + Number(m[1])));
      }
    });
    s.on('connect', () => s.write(`${cmd}\r\n`));
  });
}

async function redisCalls(port: number): Promise<number> {
  const info = await redisCommand(port, 'INFO commandstats');
  let calls = 0;
  for (const m of info.matchAll(/cmdstat_(\w+):calls=(\d+)/g)) if (m[1] !== 'info') calls += Number(m[2]);
  return calls;
}

/** A goim TCP client that records the arrival time of each push (the body carries its send time). */
class Client {
  private buf: Buffer = Buffer.alloc(0);
  latencies: number[] = [];
  received = 0;
  constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => this.onData(d));
  }
  static async connect(port: number, mid: number, key: string, room: string): Promise<Client> {
    const s = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
    const c = new Client(s);
    const body = Buffer.from(JSON.stringify({ mid, key, room_id: room, platform: 'web', accepts: [OP] }));
    s.write(packet(7, 1, body));
    await new Promise<void>((resolve) => (c.onAuth = resolve));
    return c;
  }
  onAuth: () => void = () => {};
  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    let off = 0;
    while (this.buf.length - off >= 16) {
      const len = this.buf.readUInt32BE(off);
      if (this.buf.length - off < len) break;
      this.onPacket(this.buf.readUInt32BE(off + 8), this.buf.subarray(off + 16, off + len));
      off += len;
    }
    this.buf = this.buf.subarray(off);
  }
  private onPacket(op: number, body: Buffer): void {
    if (op === 8) return this.onAuth();
    if (op === 9) {
      let off = 0;
      while (body.length - off >= 16) {
        const len = body.readUInt32BE(off);
        this.onPacket(body.readUInt32BE(off + 8), body.subarray(off + 16, off + len));
        off += len;
      }
      return;
    }
    if (op !== OP || body.length < 8) return;
    this.received++;
    this.latencies.push(Number(process.hrtime.bigint() - body.readBigUInt64BE(0)) / 1e3);
  }
}

function packet(op: number, seq: number, body: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32BE(16 + body.length, 0);
  h.writeUInt16BE(16, 4);
  h.writeUInt16BE(1, 6);
  h.writeUInt32BE(op, 8);
  h.writeUInt32BE(seq, 12);
  return Buffer.concat([h, body]);
}

function stampBody(): Buffer {
  const b = Buffer.alloc(64);
  b.writeBigUInt64BE(process.hrtime.bigint(), 0);
  return b;
}

interface PhaseResult {
  pushes: number;
  deliveries: number;
  expected: number;
  p50Us: number;
  p99Us: number;
  serverCpuMs: number;
  redisCpuMs: number;
  redisCalls: number;
}

/** What the setup costs with no push at all over `seconds` (lease renewals, counts, probes): subtracted from each phase. */
interface Idle {
  serverCpuMsPerSec: number;
  redisCpuMsPerSec: number;
  redisCallsPerSec: number;
}

async function idle(boxes: ServerHandle[], redis: Redis | null, seconds: number): Promise<Idle> {
  const cpu0 = boxes.reduce((n, b) => n + cpuMs(b.pid), 0);
  const rcpu0 = redis ? cpuMs(redis.proc.pid!) : 0;
  const calls0 = redis ? await redisCalls(redis.port) : 0;
  await new Promise((r) => setTimeout(r, seconds * 1000)); // the idle cost is what is measured: nothing to await
  return {
    serverCpuMsPerSec: (boxes.reduce((n, b) => n + cpuMs(b.pid), 0) - cpu0) / seconds,
    redisCpuMsPerSec: redis ? (cpuMs(redis.proc.pid!) - rcpu0) / seconds : 0,
    redisCallsPerSec: redis ? ((await redisCalls(redis.port)) - calls0 - 1) / seconds : 0,
  };
}

async function phase(boxes: ServerHandle[], redis: Redis | null, clients: Client[], kind: 'unicast' | 'room', rate: number, seconds: number, base: Idle): Promise<PhaseResult> {
  for (const c of clients) (c.latencies = []), (c.received = 0);
  const began = performance.now();
  const cpu0 = boxes.map((b) => cpuMs(b.pid));
  const rcpu0 = redis ? cpuMs(redis.proc.pid!) : 0;
  const calls0 = redis ? await redisCalls(redis.port) : 0;
  const control = boxes[0]!.ports.control;
  const interval = 1000 / rate;
  const end = performance.now() + seconds * 1000;
  let pushes = 0;
  let next = performance.now();
  const inflight = new Set<Promise<unknown>>();
  while (performance.now() < end) {
    const target = Math.floor(Math.random() * clients.length);
    const url = kind === 'unicast' ? `http://127.0.0.1:${control}/goim/push/keys?operation=${OP}&keys=k${target}` : `http://127.0.0.1:${control}/goim/push/room?operation=${OP}&type=live&room=all`;
    const p = fetch(url, { method: 'POST', body: stampBody() }).then((r) => r.arrayBuffer());
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
    pushes++;
    next += interval;
    const wait = next - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  await Promise.all(inflight);
  const expected = kind === 'unicast' ? pushes : pushes * clients.length;
  const t0 = Date.now();
  while (clients.reduce((n, c) => n + c.received, 0) < expected && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50));
  const took = (performance.now() - began) / 1000;
  const serverCpuMs = boxes.reduce((n, b, i) => n + cpuMs(b.pid) - cpu0[i]!, 0) - base.serverCpuMsPerSec * took;
  const lat = clients.flatMap((c) => c.latencies).sort((a, b) => a - b);
  return {
    pushes,
    deliveries: lat.length,
    expected,
    p50Us: quantile(lat, 0.5),
    p99Us: quantile(lat, 0.99),
    serverCpuMs,
    redisCpuMs: redis ? cpuMs(redis.proc.pid!) - rcpu0 - base.redisCpuMsPerSec * took : 0,
    redisCalls: redis ? (await redisCalls(redis.port)) - calls0 - 1 - base.redisCallsPerSec * took : 0,
  };
}

async function setup(boxes: ServerHandle[], n: number): Promise<Client[]> {
  const clients: Client[] = [];
  for (let i = 0; i < n; i++) clients.push(await Client.connect(boxes[i % boxes.length]!.ports.tcp!, 1000 + i, `k${i}`, 'live://all'));
  return clients;
}

export async function run(args: string[]): Promise<void> {
  const a = parseBenchArgs(args, ['clients', 'seconds', 'rate', 'room-rate'], HELP);
  if (a === null) return;
  const n = a.num('clients', a.quick ? 150 : 600, 3);
  const seconds = a.num('seconds', a.quick ? 3 : 8, 1);
  const rate = a.num('rate', 200, 1);
  const roomRate = a.num('room-rate', 50, 1);
  const results: Record<string, Record<string, PhaseResult>> = {};

  // one box
  {
    const box = await startRingcast({ workers: 2, batchWindowMs: null });
    const clients = await setup([box], n);
    const base = await idle([box], null, 3);
    results['one box'] = { unicast: await phase([box], null, clients, 'unicast', rate, seconds, base), room: await phase([box], null, clients, 'room', roomRate, seconds, base) };
    for (const c of clients) c.socket.destroy();
    await box.stop();
  }
  // three boxes + Redis
  {
    const redis = await startRedis();
    const boxes: ServerHandle[] = [];
    try {
      for (const id of ['a', 'b', 'c']) {
        boxes.push(await startRingcast({ workers: 2, batchWindowMs: null, extraConfig: { cluster: { redisUrl: `redis://127.0.0.1:${redis.port}`, nodeId: id } } }));
      }
      const clients = await setup(boxes, n);
      // (the idle phase also lets the directory writes and room subscriptions that follow auth settle)
      const base = await idle(boxes, redis, 3);
      results['3 boxes + Redis'] = { unicast: await phase(boxes, redis, clients, 'unicast', rate, seconds, base), room: await phase(boxes, redis, clients, 'room', roomRate, seconds, base) };
      for (const c of clients) c.socket.destroy();
    } finally {
      for (const b of boxes) await b.stop();
      redis.stop();
    }
  }

  const headers = ['setup', 'push', 'pushes', 'delivered', 'p50 ms', 'p99 ms', 'server CPU µs/delivery', 'Redis CPU µs/push', 'Redis cmds/push'];
  const rows: Array<Array<string | number>> = [];
  for (const [setupName, phases] of Object.entries(results)) {
    for (const [kind, r] of Object.entries(phases)) {
      rows.push([
        setupName,
        kind,
        r.pushes,
        `${r.deliveries}/${r.expected}`,
        formatNumber(r.p50Us / 1000),
        formatNumber(r.p99Us / 1000),
        formatNumber((r.serverCpuMs * 1000) / Math.max(1, r.deliveries)),
        formatNumber((r.redisCpuMs * 1000) / Math.max(1, r.pushes)),
        formatNumber(r.redisCalls / Math.max(1, r.pushes)),
      ]);
    }
  }
  printTable(headers, rows);
  const one = results['one box']!.unicast;
  const three = results['3 boxes + Redis']!.unicast;
  const hopCpu = (three.serverCpuMs * 1000) / Math.max(1, three.pushes) - (one.serverCpuMs * 1000) / Math.max(1, one.pushes);
  const hopLatency = three.p50Us - one.p50Us;
  process.stdout.write(
    `the hop through Redis (unicast, cluster − one box): +${formatNumber(hopCpu)} µs of server CPU per push (Redis itself apart: +${formatNumber((three.redisCpuMs * 1000) / Math.max(1, three.pushes))} µs), +${formatNumber(hopLatency / 1000)} ms at p50; ${formatNumber(three.redisCalls / Math.max(1, three.pushes))} Redis commands per push\n`,
  );
  writeResult('cluster', { clients: n, seconds, rate, roomRate }, rows.map((r) => Object.fromEntries(headers.map((h, i) => [h, r[i]]))), { results, hopCpuUsPerPush: hopCpu, hopP50Us: hopLatency });
}
