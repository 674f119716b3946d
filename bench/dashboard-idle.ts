/**
 * The dashboard's idle cost: CPU of an idle server (2 workers) over 30 s with no page open, over 30 s
 * with one dashboard page open in headless chromium, and over 30 s after it closed (the baseline is
 * the mean of the two without), sampled from
 * /proc/<pid>/stat (all threads) and /proc/<pid>/task/* (per thread). Prints a table and writes
 * JSON to bench/results/.
 *
 *   npm run build && node dist/bench/dashboard-idle.js [--seconds 30] [--picture docs/dashboard.png]
 *
 * With --picture, it then drives some traffic (clients coming and going, room and key pushes) for
 * 40 s with the page open and writes a screenshot of the Overview there: the README's picture.
 */
import fs from 'node:fs';
import path from 'node:path';
import { launchBrowser, openPage } from '../test/helpers/browser.js';
import { GoimClient } from '../test/helpers/goim-client.js';
import { sleep } from '../test/helpers/wait.js';
import { ROOT, startServer, type RunningServer } from '../test/helpers/server.js';

const CLK_TCK = 100; // Linux USER_HZ

/** utime + stime (clock ticks) of a /proc stat line; the name is in parentheses and may hold spaces. */
function ticks(statLine: string): { name: string; ticks: number } {
  const open = statLine.indexOf('(');
  const close = statLine.lastIndexOf(')');
  const rest = statLine.slice(close + 2).split(' ');
  // fields after the name start at field 3 (state); utime is field 14, stime 15
  return { name: statLine.slice(open + 1, close), ticks: Number(rest[11]) + Number(rest[12]) };
}

function threads(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const t = ticks(fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
      out.set(`${t.name} (${tid})`, t.ticks);
    } catch {
      // a thread that ended meanwhile
    }
  }
  return out;
}

interface Phase {
  phase: string;
  seconds: number;
  cpuPercentOfOneCore: number;
  busiestThreads: Array<{ thread: string; percent: number }>;
}

async function sample(pid: number, label: string, seconds: number): Promise<Phase> {
  const t0 = process.hrtime.bigint();
  const p0 = ticks(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')).ticks;
  const th0 = threads(pid);
  await sleep(seconds * 1000); // the measured interval itself
  const p1 = ticks(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')).ticks;
  const th1 = threads(pid);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const pct = (dt: number): number => Math.round(((dt / CLK_TCK) / wall) * 10000) / 100;
  const busiest = [...th1]
    .map(([thread, t]) => ({ thread, percent: pct(t - (th0.get(thread) ?? 0)) }))
    .sort((a, b) => b.percent - a.percent)
    .slice(0, 4);
  return { phase: label, seconds: Math.round(wall * 10) / 10, cpuPercentOfOneCore: pct(p1 - p0), busiestThreads: busiest };
}

async function traffic(s: RunningServer, seconds: number): Promise<void> {
  const clients: GoimClient[] = [];
  const join = async (i: number): Promise<void> => {
    const c = await GoimClient.connect(i % 2 === 0 ? 'ws' : 'tcp', i % 2 === 0 ? s.wsPort : s.tcpPort);
    await c.auth({ mid: 1000 + i, key: `pic-${i}`, room_id: `live://${i % 5}`, accepts: [1000] });
    clients.push(c);
  };
  for (let i = 0; i < 60; i++) await join(i);
  const base = `http://127.0.0.1:${s.controlPort}`;
  let n = 60;
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    const wave = Math.round(8 + 6 * Math.sin(Date.now() / 4000));
    for (let k = 0; k < wave; k++) void fetch(`${base}/goim/push/room?operation=1000&type=live&room=${k % 5}`, { method: 'POST', body: `tick ${k}` });
    void fetch(`${base}/goim/push/keys?operation=1000&keys=pic-${n % 60}`, { method: 'POST', body: 'direct' });
    if (Math.random() < 0.6) clients.shift()?.close();
    if (Math.random() < 0.6) await join(n++);
    await sleep(250); // the traffic's pace
  }
  for (const c of clients) c.close();
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const seconds = Number(args[args.indexOf('--seconds') + 1] ?? 30) || 30;
  const picture = args.includes('--picture') ? args[args.indexOf('--picture') + 1]! : null;
  const s = await startServer({ workers: 2, log: { level: 'warn' } });
  const pid = s.proc.pid!;
  const results: Phase[] = [];
  try {
    await sleep(10_000); // let start-up settle before the baseline
    results.push(await sample(pid, 'idle, no page open', seconds));
    const browser = await launchBrowser();
    try {
      const w = await openPage(browser);
      await w.page.goto(`http://127.0.0.1:${s.controlPort}/dashboard`);
      await w.page.waitForSelector('#stat-connections');
      await sleep(3000); // the stream's first seconds
      results.push(await sample(pid, 'idle, one dashboard page open', seconds));
      w.assertClean();
      await w.close();
      results.push(await sample(pid, 'idle, page closed again', seconds));
      if (picture !== null) {
        const p = await openPage(browser, { width: 1280, height: 900 });
        await p.page.goto(`http://127.0.0.1:${s.controlPort}/dashboard`);
        await traffic(s, 40);
        await p.page.screenshot({ path: path.resolve(ROOT, picture) });
        p.assertClean();
        await p.close();
      }
    } finally {
      await browser.close();
    }
  } finally {
    await s.stop();
  }
  const [before, open, after] = results;
  const base = (before!.cpuPercentOfOneCore + after!.cpuPercentOfOneCore) / 2;
  console.log('| phase | seconds | CPU (% of one core) | busiest threads |');
  console.log('|---|---|---|---|');
  for (const r of results) console.log(`| ${r.phase} | ${r.seconds} | ${r.cpuPercentOfOneCore} | ${r.busiestThreads.map((t) => `${t.thread} ${t.percent}`).join(', ')} |`);
  console.log(`with the page open: ${open!.cpuPercentOfOneCore} % of one core; without (mean of before and after): ${Math.round(base * 100) / 100} %`);
  const dir = path.join(ROOT, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `dashboard-idle-${Date.now()}.json`), JSON.stringify({ date: new Date().toISOString(), results }, null, 2));
}

await main();
