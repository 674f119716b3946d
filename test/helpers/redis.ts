/**
 * A real redis-server (Debian's package, installed by .ci/run) for the cluster tests: its own free
 * port on loopback, its own temp directory, append-only file on with fsync on every write (the
 * setting docs/cluster.md names for durable reliable messages), killed and removed when the test is done.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './server.js';
import { until } from './wait.js';

export const REDIS_SERVER = process.env.REDIS_SERVER_PATH ?? '/usr/bin/redis-server';

export interface RunningRedis {
  port: number;
  url: string;
  dir: string;
  proc: ChildProcess;
  /** SIGKILL (nothing flushed beyond what fsync already wrote) and wait for the exit. */
  kill(): Promise<void>;
  /** Start again on the same port and directory (after kill): the append-only file is replayed. */
  restart(): Promise<void>;
  /** Kill and remove the directory. */
  stop(): Promise<void>;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    s.setEncoding('latin1');
    s.once('error', () => resolve(false));
    s.on('data', (d: string) => {
      buf += d;
      if (buf.includes('\r\n')) {
        s.destroy();
        resolve(buf.startsWith('+PONG'));
      }
    });
    s.once('connect', () => s.write('PING\r\n'));
  });
}

export async function startRedis(opts: { appendfsync?: 'always' | 'everysec' } = {}): Promise<RunningRedis> {
  if (!fs.existsSync(REDIS_SERVER)) throw new Error(`${REDIS_SERVER} is missing: install Debian's redis-server (.ci/run does it with apt-get)`);
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringcast-redis-'));
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
    '--appendonly', 'yes', '--appendfsync', opts.appendfsync ?? 'always', '--daemonize', 'no', '--loglevel', 'warning',
  ];
  const state: { proc: ChildProcess } = { proc: undefined as unknown as ChildProcess };
  const launch = async (): Promise<void> => {
    const proc = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const stderr: string[] = [];
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
    state.proc = proc;
    let exited = false;
    proc.once('exit', () => (exited = true));
    await until(async () => {
      if (exited) throw new Error(`redis-server exited before it answered: ${stderr.join('')}`);
      return ping(port);
    }, 10_000, 'redis-server to answer PING');
  };
  const kill = async (): Promise<void> => {
    const p = state.proc;
    if (p.exitCode !== null || p.signalCode !== null) return;
    const exited = once(p, 'exit');
    p.kill('SIGKILL');
    await exited;
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get proc() {
      return state.proc;
    },
    kill,
    restart: launch,
    async stop() {
      await kill();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
