/**
 * Crash test: `kill -9` the server during a burst of 10,000 messages to 100 users, restart it on the
 * same data directory, reconnect every user and sync: every message that got a 200 before the kill
 * is delivered, with the seq it was given, none twice, in seq order.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ImClient } from '../helpers/im-client.js';
import { startServer, until, type RunningServer } from '../helpers/server.js';

const MESSAGES = 10_000;
const USERS = 100;
const CONCURRENCY = 64;
const BASE_MID = 50_000;

describe('reliable messaging: kill -9 during a burst, restart, sync', function () {
  this.timeout(180_000);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringcast-im-crash-'));
  let s: RunningServer | null = null;
  const clients: ImClient[] = [];

  after(async () => {
    for (const c of clients) c.close();
    if (s !== null) await s.stop('SIGKILL');
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('delivers every message that got a 200 before the kill, once, in seq order', async () => {
    // Redelivery off in practice: any duplicate seen would be a real one.
    const config = { workers: 2, im: { dataDir, redeliverMs: 600_000, ackWindow: 1000 } };
    s = await startServer(config);
    const url = `http://127.0.0.1:${s.controlPort}/im/send`;
    /** user → seq → body, for each message answered 200. */
    const confirmed = new Map<number, Map<number, string>>();
    let next = 0;
    let ok = 0;
    let failed = 0;
    let killed = false;
    const killAt = MESSAGES / 2 + Math.floor(Math.random() * (MESSAGES / 4));
    const server = s;
    const sender = async (): Promise<void> => {
      while (next < MESSAGES) {
        const i = next++;
        const mid = BASE_MID + (i % USERS);
        const body = `m${i}`;
        try {
          const res = await fetch(url, { method: 'POST', body: JSON.stringify({ from: 1, to: [mid], op: 1000, body, client_msg_id: `c${i}` }) });
          const json = (await res.json()) as { data: { seq: Record<string, number> } };
          if (res.status !== 200) {
            failed++;
            continue;
          }
          let m = confirmed.get(mid);
          if (m === undefined) confirmed.set(mid, (m = new Map()));
          m.set(json.data.seq[String(mid)]!, body);
          if (++ok === killAt && !killed) {
            killed = true;
            server.proc.kill('SIGKILL');
          }
        } catch {
          failed++; // the connection died with the server: not confirmed
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, sender));
    assert.ok(killed, `the server was killed during the burst (${ok} confirmed)`);
    await s.stop('SIGKILL');
    assert.ok(failed > 0, 'some sends were cut off by the kill');

    s = await startServer(config);
    for (let u = 0; u < USERS; u++) {
      const c = await ImClient.connect(s.tcpPort, BASE_MID + u, `dev-${u}`);
      clients.push(c);
      c.sync(0);
    }
    await until(() => clients.every((c) => c.syncReplies.length === 1), 20_000, 'every sync reply');
    // Ack as pages arrive until every client holds everything its inbox has.
    await until(
      () => {
        let done = true;
        for (const c of clients) {
          const have = c.contiguous();
          if (have > 0) c.ack(have);
          if (have < c.syncReplies[0]!.latest) done = false;
        }
        return done;
      },
      60_000,
      'every client caught up',
    );
    let delivered = 0;
    for (const c of clients) {
      const mine = confirmed.get(c.mid) ?? new Map<number, string>();
      for (const [seq, body] of mine) {
        const got = c.bySeq.get(seq);
        assert.ok(got !== undefined, `user ${c.mid}: confirmed seq ${seq} delivered`);
        assert.equal(Buffer.from(got.body).toString(), body, `user ${c.mid} seq ${seq}: the confirmed body`);
      }
      const seqs = c.received.map((m) => m.seq);
      for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!, `user ${c.mid}: in seq order, none twice (${seqs[i - 1]} then ${seqs[i]})`);
      delivered += mine.size;
    }
    assert.equal(delivered, ok);
  });
});
