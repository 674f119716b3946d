/**
 * Servers under test, started as child processes on 127.0.0.1 with free ports: ringcast
 * (`dist/src/main.js --config <temp json>`) and the baseline (`dist/bench/baseline/server.js`).
 * Both are read from their stdout ready lines; both are stopped with SIGTERM (SIGKILL after 8 s).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type ServerName = 'ringcast' | 'baseline';

export interface ServerHandle {
  name: ServerName;
  pid: number;
  ports: { ws?: number; tcp?: number; control: number };
  stderrTail: string[];
  stop(): Promise<number | null>;
}

/** Every process this benchmark started and has not seen exit: killed on SIGINT. */
export const liveProcesses = new Set<ChildProcess>();

let sigintInstalled = false;
function installSigint(): void {
  if (sigintInstalled) return;
  sigintInstalled = true;
  process.once('SIGINT', () => {
    process.stderr.write('\ninterrupted: stopping every process started by this benchmark\n');
    for (const p of liveProcesses) p.kill('SIGKILL');
    process.exit(130);
  });
}

export function track(p: ChildProcess): void {
  installSigint();
  liveProcesses.add(p);
  p.once('exit', () => liveProcesses.delete(p));
}

export interface RingcastOptions {
  workers: number;
  /** push.batchWindowMs; null: ringcast's default. */
  batchWindowMs: number | null;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeArgs?: string[];
  /** The ringcast entry to run: another tree's dist/src/main.js (a baseline of that tree in the same run); default this tree's. */
  main?: string;
  extraConfig?: Record<string, unknown>;
}

export async function startRingcast(o: RingcastOptions): Promise<ServerHandle> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ringcast-bench-'));
  const file = path.join(dir, 'config.json');
  // The reliable-messaging store of this run: a temp dir, removed when the server stops.
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'ringcast-bench-im-'));
  writeFileSync(
    file,
    JSON.stringify({
      workers: o.workers,
      tcp: { enabled: true, host: '127.0.0.1', port: 0 },
      ws: { enabled: true, host: '127.0.0.1', port: 0 },
      control: { host: '127.0.0.1', port: 0 },
      log: { level: 'warn' },
      ...(o.batchWindowMs !== null ? { push: { batchWindowMs: o.batchWindowMs } } : {}),
      ...o.extraConfig,
      im: { dataDir, ...(o.extraConfig?.im as object | undefined) },
    }),
  );
  const main = o.main ?? fileURLToPath(new URL('../../src/main.js', import.meta.url));
  try {
    const handle = await startProcess('ringcast', [...(o.nodeArgs ?? []), main, '--config', file], /^ringcast: control listening on /);
    const stop = handle.stop;
    handle.stop = async () => {
      const code = await stop();
      rmSync(dataDir, { recursive: true, force: true });
      return code;
    };
    return handle;
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function startBaseline(nodeArgs: string[] = []): Promise<ServerHandle> {
  const script = fileURLToPath(new URL('../baseline/server.js', import.meta.url));
  return startProcess('baseline', [...nodeArgs, script, '--ws', '0', '--http', '0', '--host', '127.0.0.1'], /^baseline: control listening on /);
}

async function startProcess(name: ServerName, args: string[], lastLine: RegExp): Promise<ServerHandle> {
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  track(proc);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const stderrTail: string[] = [];
  proc.stderr!.setEncoding('utf8');
  let errBuf = '';
  proc.stderr!.on('data', (d: string) => {
    errBuf += d;
    let nl;
    while ((nl = errBuf.indexOf('\n')) >= 0) {
      stderrTail.push(errBuf.slice(0, nl));
      if (stderrTail.length > 20) stderrTail.shift();
      errBuf = errBuf.slice(nl + 1);
    }
  });
  const ports: ServerHandle['ports'] = { control: 0 };
  proc.stdout!.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not print its ready lines within 20 s`)), 20_000);
    const onData = (d: string): void => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = /^\w+: (\w+) listening on [^:]+:(\d+)/.exec(line);
        if (m !== null) ports[m[1] as 'ws' | 'tcp' | 'control'] = Number(m[2]);
        if (lastLine.test(line)) {
          clearTimeout(timer);
          proc.stdout!.off('data', onData);
          proc.stdout!.resume();
          resolve();
          return;
        }
      }
    };
    proc.stdout!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (code ${code}) before it was ready:\n${stderrTail.join('\n')}`));
    });
  });
  return {
    name,
    pid: proc.pid!,
    ports,
    stderrTail,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      let t: NodeJS.Timeout | undefined;
      const r = await Promise.race([exited, new Promise<'t'>((res) => (t = setTimeout(() => res('t'), 8000)))]);
      clearTimeout(t);
      if (r === 't') {
        proc.kill('SIGKILL');
        return exited;
      }
      return r;
    },
  };
}
