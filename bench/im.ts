/**
 * `npm run bench -- im`: reliable messaging.
 *   1. persisted messages per second through POST /im/send, one recipient per request and 100
 *      recipients per request (each recipient is one message: own seq, own inbox row), with
 *      `--concurrency` requests in flight; every 200 means committed and flushed (fsync'd) to disk;
 *   2. the same through client sends (op 110 → 111), 16 connections with 64 sends in flight each;
 *   3. send-to-deliver latency for an online user (TCP client synced, acking): HTTP request start →
 *      op 112 received, at `--rate` sends per second for `--seconds` (the first second not measured).
 * Server: ringcast with 2 workers on a temp data dir (bench/load/servers.ts removes it afterwards).
 * `--engines lmdb,redis` runs every phase once per store in the same run: the single-box LMDB store,
 * then cluster mode on a redis-server started for the run (appendonly yes, appendfsync always: a 200
 * means fsync'd there too; test/helpers/redis.ts), and adds the ratio redis / lmdb.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ImClient } from '../test/helpers/im-client.js';
import { procCpuSeconds } from '../test/helpers/proc.js';
import { startRedis, type RunningRedis } from '../test/helpers/redis.js';
import { parseBenchArgs, printTable, quantile, UsageError, writeResult } from './report.js';
import { PipeConn } from './load/pusher.js';
import { startRingcast } from './load/servers.js';

const HELP = `usage: npm run bench -- im [--seconds N] [--concurrency N] [--rate N] [--engines lmdb,redis] [--against DIR] [--quick]
  --engines      stores to measure, in this order (default lmdb; redis = cluster mode on a local redis-server)
  --seconds      length of each throughput phase and of the latency phase (default 5; --quick 2)
  --concurrency  HTTP requests in flight in the throughput phases (default 256)
  --rate         sends per second in the latency phase (default 500)
  --against DIR  then the POST /im/send phases against the ringcast tree in DIR (its dist/src/main.js), same client`;

/** Server CPU seconds, and its main thread's (the acceptor: thread id = process id). */
function cpu(pid: number): { all: number; acceptor: number } {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { all: procCpuSeconds(pid), acceptor: (Number(f[11]) + Number(f[12])) / 100 };
}

/** What a throughput phase cost the server: µs of CPU per message and the acceptor's share. */
function costText(before: { all: number; acceptor: number }, after: { all: number; acceptor: number }, messages: number): string {
  const all = after.all - before.all;
  return `${((all * 1e6) / Math.max(1, messages)).toFixed(1)} µs server CPU/msg, acceptor ${all > 0 ? (((after.acceptor - before.acceptor) / all) * 100).toFixed(0) : 0} %`;
}

/**
 * Closed loop: `concurrency` keep-alive connections (bench/load's minimal HTTP client, no fetch: its
 * client-side CPU was the limit here), one request in flight on each, a new one as soon as one answers.
 */
async function throughput(port: number, seconds: number, concurrency: number, perRequest: number, midBase: number): Promise<{ messages: number; requests: number; rate: number; errors: number }> {
  let messages = 0;
  let requests = 0;
  let errors = 0;
  let n = 0;
  let stopAt = 0;
  let open = concurrency;
  let finished!: () => void;
  const done = new Promise<void>((r) => (finished = r));
  const conns: PipeConn[] = [];
  const issue = (conn: PipeConn): void => {
    if (performance.now() >= stopAt) {
      if (--open === 0) finished();
      return;
    }
    const base = midBase + ((n++ * perRequest) % 100_000);
    const body = Buffer.from(JSON.stringify({ from: 1, to: Array.from({ length: perRequest }, (_, i) => base + i), op: 1000, body: 'a message of about sixty bytes, typical of a chat line.' }));
    conn.send(`POST /im/send HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`, body);
  };
  for (let i = 0; i < concurrency; i++) {
    const conn: PipeConn = new PipeConn('127.0.0.1', port, (ok) => {
      if (ok) {
        messages += perRequest;
        requests++;
      } else errors++;
      issue(conn);
    });
    conns.push(conn);
  }
  const t0 = performance.now();
  stopAt = t0 + seconds * 1000;
  for (const c of conns) issue(c);
  await done;
  const secs = (performance.now() - t0) / 1000;
  for (const c of conns) c.close();
  return { messages, requests, rate: messages / secs, errors };
}

/** Client sends (op 110): `conns` connections, `depth` sends in flight on each, random recipients. */
async function clientSends(tcpPort: number, seconds: number, conns: number, depth: number): Promise<{ messages: number; rate: number; errors: number }> {
  const clients = await Promise.all(Array.from({ length: conns }, (_, i) => ImClient.connect(tcpPort, 5_000_000 + i, `sender-${i}`)));
  let messages = 0;
  let errors = 0;
  const t0 = performance.now();
  const stopAt = t0 + seconds * 1000;
  let n = 0;
  const lane = async (c: ImClient): Promise<void> => {
    while (performance.now() < stopAt) {
      const r = await c.send(0, 3_000_000 + (n++ % 10_000), 'a message of about sixty bytes, typical of a chat line.');
      if (r.code === 0) messages++;
      else errors++;
    }
  };
  await Promise.all(clients.flatMap((c) => Array.from({ length: depth }, () => lane(c))));
  const secs = (performance.now() - t0) / 1000;
  for (const c of clients) c.close();
  return { messages, rate: messages / secs, errors };
}

async function latency(s: { tcp: number; control: number }, seconds: number, rate: number): Promise<{ sent: number; delivered: number; p50: number; p99: number; max: number }> {
  const mid = 9_999_999;
  const c = await ImClient.connect(s.tcp, mid, 'bench-device');
  c.sync(0);
  // Open loop over 8 keep-alive connections (the light client of the throughput phases, not fetch).
  let answered = 0;
  let allAnswered: () => void = () => undefined;
  const conns = Array.from({ length: 8 }, () => new PipeConn('127.0.0.1', s.control, () => {
    if (++answered === total) allAnswered();
  }));
  const sentAt = new Map<string, number>();
  const lat: number[] = [];
  let seen = 0;
  const total = Math.round(seconds * rate);
  // The first second (or fifth) warms the server up (JIT, the store's first pages) and is not measured.
  const warm = Math.min(rate, Math.floor(total / 5));
  const interval = 1000 / rate;
  const t0 = performance.now();
  const answeredAll = new Promise<void>((r) => (allAnswered = r));
  for (let i = 0; i < total; i++) {
    const due = t0 + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const id = `L${i}`;
    if (i >= warm) sentAt.set(id, performance.now());
    const body = Buffer.from(JSON.stringify({ from: 1, to: [mid], op: 1000, body: id }));
    conns[i % conns.length]!.send(`POST /im/send HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`, body);
    // Collect what arrived meanwhile and ack it (the window stays open).
    for (; seen < c.received.length; seen++) {
      const m = c.received[seen]!;
      const at = sentAt.get(Buffer.from(m.body).toString());
      if (at !== undefined) lat.push(c.arrivals[seen]! - at);
    }
    if (c.contiguous() > 0) c.ack(c.contiguous());
  }
  await answeredAll;
  for (const conn of conns) conn.close();
  const deadline = Date.now() + 5000;
  while (c.contiguous() < total && Date.now() < deadline) {
    c.ack(c.contiguous());
    await new Promise((r) => setTimeout(r, 20));
  }
  for (; seen < c.received.length; seen++) {
    const m = c.received[seen]!;
    const at = sentAt.get(Buffer.from(m.body).toString());
    if (at !== undefined) lat.push(c.arrivals[seen]! - at);
  }
  c.close();
  lat.sort((a, b) => a - b);
  return { sent: total - warm, delivered: lat.length, p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), max: lat[lat.length - 1] ?? NaN };
}

interface Row {
  case: string;
  value: number;
  unit: string;
  detail: string;
}

/** Every phase against one server; rows named by `engine` when there are several. */
async function phases(engine: string, extraConfig: Record<string, unknown>, seconds: number, concurrency: number, rate: number): Promise<Row[]> {
  const server = await startRingcast({ workers: 2, batchWindowMs: 5, extraConfig: { ...extraConfig, im: { sendRatePerSec: 1_000_000, sendBurst: 1_000_000 } } });
  try {
    // Latency first, on a quiet server: the throughput phases leave flushes and caches behind them.
    const lat = await latency({ tcp: server.ports.tcp!, control: server.ports.control }, seconds, rate);
    let c0 = cpu(server.pid);
    const single = await throughput(server.ports.control, seconds, concurrency, 1, 1_000_000);
    const singleCost = costText(c0, (c0 = cpu(server.pid)), single.messages);
    const batched = await throughput(server.ports.control, seconds, concurrency, 100, 2_000_000);
    const batchedCost = costText(c0, cpu(server.pid), batched.messages);
    const op110 = await clientSends(server.ports.tcp!, seconds, 16, 64);
    return [
      { case: `${engine}persisted msgs/s, 1 recipient per POST /im/send`, value: single.rate, unit: 'msg/s', detail: `${single.messages} msgs, ${single.errors} errors; ${singleCost}` },
      { case: `${engine}persisted msgs/s, 100 recipients per POST /im/send`, value: batched.rate, unit: 'msg/s', detail: `${batched.messages} msgs, ${batched.errors} errors; ${batchedCost}` },
      { case: `${engine}persisted msgs/s, client op 110 (16 connections × 64 in flight)`, value: op110.rate, unit: 'msg/s', detail: `${op110.messages} msgs, ${op110.errors} errors` },
      { case: `${engine}send→deliver latency p50, online user, ${rate}/s`, value: lat.p50, unit: 'ms', detail: `${lat.delivered}/${lat.sent} delivered` },
      { case: `${engine}send→deliver latency p99, online user, ${rate}/s`, value: lat.p99, unit: 'ms', detail: `max ${lat.max.toFixed(1)} ms` },
    ];
  } finally {
    await server.stop();
  }
}

export async function run(args: string[]): Promise<void> {
  const a = parseBenchArgs(args, ['seconds', 'concurrency', 'rate', 'against', 'engines'], HELP);
  if (a === null) return;
  const seconds = a.num('seconds', a.quick ? 2 : 5, 1, 3600);
  const concurrency = a.num('concurrency', 256, 1, 10_000);
  const rate = a.num('rate', 500, 1, 100_000);
  const engines = (a.values['engines'] ?? 'lmdb').split(',');
  for (const e of engines) if (e !== 'lmdb' && e !== 'redis') throw new UsageError(`--engines: unknown store ${JSON.stringify(e)} (lmdb, redis)\n\n${HELP}`);
  const rows: Row[] = [];
  const perEngine = new Map<string, Row[]>();
  for (const engine of engines) {
    let redis: RunningRedis | null = null;
    try {
      if (engine === 'redis') redis = await startRedis({ appendfsync: 'always' });
      const r = await phases(engines.length > 1 ? `${engine}: ` : '', redis === null ? {} : { cluster: { redisUrl: redis.url, nodeId: 'bench' } }, seconds, concurrency, rate);
      perEngine.set(engine, r);
      rows.push(...r);
    } finally {
      await redis?.stop();
    }
  }
  const lmdb = perEngine.get('lmdb');
  const red = perEngine.get('redis');
  if (lmdb !== undefined && red !== undefined) {
    for (let i = 0; i < lmdb.length; i++) rows.push({ case: `redis / lmdb: ${lmdb[i]!.case.slice('lmdb: '.length)}`, value: red[i]!.value / lmdb[i]!.value, unit: '×', detail: '' });
  }
  const against = a.values.against;
  if (against !== undefined) rows.push(...(await baseline(against, seconds, concurrency)));
  printTable(['case', 'value', 'unit', 'detail'], rows.map((r) => [r.case, r.value, r.unit, r.detail]));
  writeResult('im', { seconds, concurrency, rate, workers: 2, engines, against: against ?? null }, rows);
}

/** The POST /im/send phases against another ringcast tree, with this tree's client, for the ratio. */
async function baseline(dir: string, seconds: number, concurrency: number): Promise<Array<{ case: string; value: number; unit: string; detail: string }>> {
  const name = path.basename(path.resolve(dir));
  const server = await startRingcast({ workers: 2, batchWindowMs: 5, main: path.resolve(dir, 'dist/src/main.js'), extraConfig: { im: { sendRatePerSec: 1_000_000, sendBurst: 1_000_000 } } });
  try {
    let c0 = cpu(server.pid);
    const single = await throughput(server.ports.control, seconds, concurrency, 1, 1_000_000);
    const singleCost = costText(c0, (c0 = cpu(server.pid)), single.messages);
    const batched = await throughput(server.ports.control, seconds, concurrency, 100, 2_000_000);
    return [
      { case: `${name}: persisted msgs/s, 1 recipient per POST /im/send`, value: single.rate, unit: 'msg/s', detail: `${single.messages} msgs, ${single.errors} errors; ${singleCost}` },
      { case: `${name}: persisted msgs/s, 100 recipients per POST /im/send`, value: batched.rate, unit: 'msg/s', detail: `${batched.messages} msgs, ${batched.errors} errors; ${costText(c0, cpu(server.pid), batched.messages)}` },
    ];
  } finally {
    await server.stop();
  }
}
