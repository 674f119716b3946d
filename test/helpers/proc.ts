/** What a server process holds, from /proc: open descriptors and resident memory. */
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
