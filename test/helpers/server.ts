/**
 * Starts the real server (`node dist/src/main.js`) as a child process on free ports, with a config
 * file written for the test, and talks to it over real sockets.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Most tests wait on a server's state: `until` is in wait.ts, also offered here beside startServer. */
export { until } from './wait.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const MAIN = path.join(ROOT, 'dist/src/main.js');

export interface RunningServer {
  proc: ChildProcess;
  tcpPort: number;
  wsPort: number;
  marsPort: number;
  controlPort: number;
  /** Every listener's port by the name it printed (tcp, ws, mars, tcps, wss, control). */
  ports: Record<string, number>;
  stdout: string[];
  stderr: string[];
  /** The reliable-messaging store directory: a fresh temp dir, removed when the server exits, unless the config named one. */
  dataDir: string;
  get(pathname: string): Promise<{ status: number; body: any }>;
  post(pathname: string): Promise<{ status: number; body: any }>;
  /**
   * GET /health's body (whatever its status). Every worker serves the control port, and a worker
   * that dies takes the control connections it holds: a request cut that way (a test that kills a
   * worker, then waits for its replacement) is asked again on a new connection, a few times.
   */
  health(): Promise<any>;
  /** SIGTERM and wait for the exit; resolves with the exit code and how long it took. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
}

let seq = 0;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
export function writeConfig(config: object): string {
  const file = path.join(os.tmpdir(), `ringcast-test-${process.pid}-${seq++}.json`);
  fs.writeFileSync(file, JSON.stringify(config));
  return file;
}

export async function startServer(config: Record<string, unknown> = {}): Promise<RunningServer> {
  const given = (config.im as { dataDir?: string } | undefined)?.dataDir;
  const dataDir = given ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ringcast-im-'));
  const file = writeConfig({
    workers: 2,
    ...config,
    im: { ...(config.im as object), dataDir },
    tcp: { host: '127.0.0.1', port: 0, ...(config.tcp as object) },
    ws: { host: '127.0.0.1', port: 0, ...(config.ws as object) },
    // mars.port 0 means "off", so a Mars test gets a port that was free a moment ago.
    ...(config.mars !== undefined ? { mars: { host: '127.0.0.1', ...(config.mars as object), port: (config.mars as { port?: number }).port || (await freePort()) } } : {}),
    control: { host: '127.0.0.1', port: 0, ...(config.control as object) },
    debug: { testCommands: true, ...(config.debug as object) },
    log: { level: 'warn', ...(config.log as object) },
  });
  const proc = spawn(process.execPath, [MAIN, '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  // The temp data dir goes when the process does, however it ends (stop(), a test's own kill, a
  // crash, a failed start); a dir the config named is the test's to keep or remove.
  if (given === undefined) proc.once('exit', () => fs.rmSync(dataDir, { recursive: true, force: true }));
  const stdout: string[] = [];
  const stderr: string[] = [];
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
  const ports: Record<string, number> = {};
  const ready = new Promise<void>((resolve, reject) => {
    let buf = '';
    const onExit = (code: number | null): void => reject(new Error(`server exited with ${code} before it was ready: ${stderr.join('')}`));
    proc.once('exit', onExit);
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        stdout.push(line);
        const m = /^ringcast: (\w+) listening on [^ ]+:(\d+)/.exec(line);
        if (m !== null) ports[m[1]!] = Number(m[2]);
        if (m !== null && m[1] === 'control') {
          proc.off('exit', onExit);
          resolve();
        }
      }
    });
  });
  try {
    await ready;
  } finally {
    fs.rmSync(file, { force: true });
  }
  const request = async (method: string, pathname: string): Promise<{ status: number; body: any }> => {
    const res = await controlRequest(ports.control!, method, pathname);
    return { status: res.status, body: JSON.parse(res.text) };
  };
  return {
    proc,
    tcpPort: ports.tcp ?? 0,
    wsPort: ports.ws ?? 0,
    marsPort: ports.mars ?? 0,
    controlPort: ports.control!,
    ports,
    stdout,
    stderr,
    dataDir,
    get: (p) => request('GET', p),
    post: (p) => request('POST', p),
    async health() {
      for (let attempt = 1; ; attempt++) {
        try {
          return (await request('GET', '/health')).body;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (attempt >= 5 || (code !== 'ECONNRESET' && (err as Error).message !== 'socket hang up')) throw err;
        }
      }
    },
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return { code: proc.exitCode, ms: 0 };
      const t0 = Date.now();
      const exited = once(proc, 'exit');
      proc.kill(signal);
      const [code] = (await exited) as [number | null];
      return { code, ms: Date.now() - t0 };
    },
  };
}

/** Runs `node dist/src/main.js ARGS` to its exit (for start-up failures). */
export async function runMain(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const proc = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  let stdout = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  const [code] = (await once(proc, 'exit')) as [number | null];
  return { code, stderr, stdout };
}

/**
 * One request to the control port on a connection of its own (closed after the answer). Every worker
 * serves the control port and a connection lives on the worker that took it: a keep-alive connection
 * pooled by fetch may belong to a worker a test has just killed, while a new one goes to a live worker.
 */
export function controlRequest(port: number, method: string, pathname: string, body?: string | Uint8Array, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; text: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const h = body === undefined ? headers : { 'content-length': Buffer.byteLength(body), ...headers };
    const req = http.request({ host: '127.0.0.1', port, method, path: pathname, agent: false, headers: h }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString(), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The /metrics page (Prometheus text format). */
export async function metricsText(controlPort: number): Promise<string> {
  const res = await controlRequest(controlPort, 'GET', '/metrics');
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text;
}

/** The ringcast_limit_refusals_total counters from /metrics, by limit. */
export async function limitRefusals(controlPort: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of (await metricsText(controlPort)).matchAll(/^ringcast_limit_refusals_total\{limit="([^"]+)"\} (\d+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** Opens a TCP connection and resolves once it is established. */
export function connectTcp(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.off('error', reject);
      s.resume(); // discard what the server sends, so that its FIN is seen and 'close' follows
      resolve(s);
    });
    s.once('error', reject);
  });
}
