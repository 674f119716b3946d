/**
 * The dashboard's Cluster page in a real browser (test/helpers/browser.ts) on two real boxes and a
 * real Redis: it lists the boxes with their leases and counts, a box killed -9 leaves the list within
 * its lease, and the engine's state follows Redis going away and coming back. Screenshots go to
 * test/screenshots/.
 */
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { Op } from '../../src/ops.js';
import { launchBrowser, openPage, screenshot, type WatchedPage } from '../helpers/browser.js';
import { GoimClient } from '../helpers/goim-client.js';
import { startRedis, type RunningRedis } from '../helpers/redis.js';
import { startServer, type RunningServer } from '../helpers/server.js';

type PageGlobal = { document: { querySelector(selector: string): { textContent: string | null } | null } };

describe('dashboard: the Cluster page on two boxes', function () {
  this.timeout(120_000);
  const LEASE_MS = 1500;
  let browser: Browser;
  let redis: RunningRedis;
  let a: RunningServer;
  let b: RunningServer;
  let w: WatchedPage | null = null;
  const clients: GoimClient[] = [];

  const config = (nodeId: string): Record<string, unknown> => ({
    workers: 2,
    cluster: { redisUrl: redis.url, nodeId, leaseMs: LEASE_MS, keyPrefix: 'dash', countIntervalMs: 200, probeIntervalMs: 300, probeTimeoutMs: 800, commandTimeoutMs: 800, roomGraceMs: 300 },
    log: { level: 'warn' },
  });
  const textIs = async (selector: string, text: string, ms: number): Promise<number> => {
    const t0 = Date.now();
    await w!.page.waitForFunction(([sel, want]) => (globalThis as unknown as PageGlobal).document.querySelector(sel!)?.textContent === want, [selector, text], { timeout: ms, polling: 50 });
    return Date.now() - t0;
  };

  before(async () => {
    browser = await launchBrowser();
    redis = await startRedis();
    [a, b] = await Promise.all([startServer(config('box-a')), startServer(config('box-b'))]);
  });
  after(async () => {
    await w?.close();
    for (const c of clients) c.close();
    await Promise.all([a?.stop('SIGKILL'), b?.stop('SIGKILL')]);
    await redis?.stop();
    await browser?.close();
  });

  it('lists both boxes; a killed box leaves within its lease; the engine state follows Redis down and back', async () => {
    for (let i = 0; i < 3; i++) {
      const c = await GoimClient.connect('tcp', b.tcpPort);
      assert.equal((await c.auth({ mid: 10 + i, key: `dash-${i}`, room_id: '', platform: 'web', accepts: [1000] })).op, Op.AuthReply);
      clients.push(c);
    }
    w = await openPage(browser);
    await w.page.goto(`http://127.0.0.1:${a.controlPort}/dashboard`);
    await w.page.click('#nav-cluster');
    await w.page.waitForSelector('#page-cluster');
    await w.page.waitForSelector('#box-box-a');
    await w.page.waitForSelector('#box-box-b');
    await textIs('#cluster-engine-state', 'up', 5000);
    await textIs('#cluster-box-count', '2', 5000);
    await textIs('#box-box-b td:nth-child(4)', '3', 5000);
    assert.equal(await w.page.textContent('#cluster-lease'), 'held');
    assert.match((await w.page.textContent('#cluster-probe')) ?? '', /ms$/);
    await screenshot(w.page, 'dashboard-cluster');

    // box b killed -9: it leaves the list once its lease has run out
    b.proc.kill('SIGKILL');
    for (const c of clients.splice(0)) c.close();
    const t0 = Date.now();
    await w.page.waitForSelector('#box-box-b', { state: 'detached', timeout: LEASE_MS + 3000 });
    const gone = Date.now() - t0;
    assert.ok(gone <= LEASE_MS + 2000, `box b left the list after ${gone} ms (lease ${LEASE_MS} ms)`);
    assert.equal(await w.page.textContent('#cluster-box-count'), '1');

    // Redis killed: the engine is down (and the box degraded); Redis back: up again by itself
    await redis.kill();
    await textIs('#cluster-engine-state', 'down', 5000);
    await w.page.waitForSelector('#cluster-badge');
    assert.equal(await w.page.textContent('#server-status'), 'degraded');
    await screenshot(w.page, 'dashboard-cluster-down');
    await redis.restart();
    await textIs('#cluster-engine-state', 'up', 10_000);
    await textIs('#server-status', 'ok', 5000);
    await w.page.waitForSelector('#box-box-a');
    w.assertClean();
    console.log(`      (cluster page: box b gone after ${gone} ms)`);
  });
});
