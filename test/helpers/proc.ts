/** What a process holds and costs, from /proc: open descriptors, resident memory, CPU time (also used by bench/load/). */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Socket inodes of TCP connections whose local port is one of `ports` (any state but LISTEN). */
function connectionInodes(pid: number, ports: ReadonlySet<number>): Set<string> {
  const out = new Set<string>();
  for (const table of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const port = parseInt(f[1]!.split(':')[1]!, 16);
      if (ports.has(port) && f[3] !== '0A') out.add(f[9]!);
    }
  }
  return out;
}

/**
 * Open file descriptors of a process (/proc/<pid>/fd), leaving out its connections on `exceptPorts`
 * (the control port: the test's own HTTP keep-alive connections come and go with its requests).
 */
export function openFds(pid: number, exceptPorts: number[] = []): number {
  const skip = exceptPorts.length === 0 ? new Set<string>() : connectionInodes(pid, new Set(exceptPorts));
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let link = '';
    try {
      link = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m !== null && skip.has(m[1]!)) continue;
    n++;
  }
  return n;
}

const CLK_TCK = 100;

/** user + system CPU seconds of a process, all its threads included. */
export function procCpuSeconds(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  // fields after ")": state(3) ppid ... utime is field 14, stime 15 (1-based over the whole line)
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/** Resident set size in bytes. */
export function procRssBytes(pid: number): number {
  const s = readFileSync(`/proc/${pid}/status`, 'latin1');
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(s);
  return m === null ? NaN : Number(m[1]) * 1024;
}
