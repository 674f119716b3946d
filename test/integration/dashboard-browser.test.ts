/**
 * The dashboard in a real browser (Debian's headless chromium through playwright-core, see
 * test/helpers/browser.ts) against the real server with real clients. Every test fails on any page
 * error or console error it did not provoke on purpose. Screenshots of every page go to
 * test/screenshots/ (git-ignored) on every run (the README's picture is made by bench/dashboard.ts).
 */
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { Op } from '../../src/ops.js';
import { launchBrowser, openPage, screenshot, type WatchedPage } from '../helpers/browser.js';
import { GoimClient } from '../helpers/goim-client.js';
import { startServer, until, type RunningServer } from '../helpers/server.js';

/** What the functions run inside the page use of its DOM (the tests compile without the DOM types). */
type PageGlobal = { document: { querySelector(selector: string): { textContent: string | null } | null } };

describe('dashboard in a browser', function () {
  this.timeout(90_000);
  let browser: Browser;
  let s: RunningServer;
  let w: WatchedPage | null = null;
  const clients: GoimClient[] = [];

  const url = (server: RunningServer, hash = ''): string => `http://127.0.0.1:${server.controlPort}/dashboard${hash}`;
  const connect = async (mid: number, key: string, room = 'live://lobby'): Promise<GoimClient> => {
    const c = await GoimClient.connect(mid % 2 === 0 ? 'ws' : 'tcp', mid % 2 === 0 ? s.wsPort : s.tcpPort);
    const reply = await c.auth({ mid, key, room_id: room, platform: 'web', accepts: [1000] });
    assert.equal(reply.op, Op.AuthReply);
    clients.push(c);
    return c;
  };
  const closeClients = async (): Promise<void> => {
    for (const c of clients.splice(0)) c.close();
    await until(async () => (await s.health()).connections === 0, 5000, 'every client gone');
  };
  /** Waits until the element's text is `text`, within `ms`; resolves with the ms it took. */
  const textIs = async (selector: string, text: string, ms: number): Promise<number> => {
    const t0 = Date.now();
    await w!.page.waitForFunction(([sel, want]) => (globalThis as unknown as PageGlobal).document.querySelector(sel!)?.textContent === want, [selector, text], { timeout: ms, polling: 50 });
    return Date.now() - t0;
  };

  /** Goes to a page through its navigation link and waits for `selector` on it. */
  const visit = async (page: string, selector: string): Promise<void> => {
    await w!.page.click(`#nav-${page}`);
    await w!.page.waitForSelector(selector);
  };

  before(async () => {
    browser = await launchBrowser();
    // A replacement worker starts 2.5 s after a death, so that the dead row stays red long enough to see.
    s = await startServer({ workers: 2, rooms: { countIntervalMs: 100 }, supervisor: { restartDelayMs: 2500 } });
  });
  afterEach(async () => {
    // The page goes before any server stops: a stream cut under it would be a (real) console error.
    const page = w;
    w = null;
    await page?.close();
    await closeClients();
  });
  after(async () => {
    await browser?.close();
    await s?.stop();
  });

  it('Overview shows N connected clients within 2 s, and follows when they leave', async () => {
    w = await openPage(browser);
    await w.page.goto(url(s));
    await textIs('#stat-connections', '0', 5000);
    const N = 6;
    for (let i = 0; i < N; i++) await connect(100 + i, `ov-${i}`);
    const up = await textIs('#stat-connections', String(N), 2000);
    for (const c of clients.splice(0, 2)) c.close();
    const down = await textIs('#stat-connections', String(N - 2), 2000);
    assert.equal(await w.page.textContent('#stat-workers'), '2 / 2');
    assert.equal(await w.page.textContent('#server-status'), 'ok');
    // one box: no Cluster page in the navigation, and its address says so
    assert.equal(await w.page.$('#nav-cluster'), null);
    await w.page.goto(url(s, '#cluster'));
    assert.match((await w.page.textContent('#cluster-single', { timeout: 5000 })) ?? '', /Single box/);
    console.log(`      (overview: ${N} shown after ${up} ms, ${N - 2} after ${down} ms)`);
    w.assertClean();
  });

  it('a push from the Actions form reaches a real client; a refused push shows the API message; a kick closes the key', async () => {
    const c = await connect(201, 'act-201');
    w = await openPage(browser);
    await w.page.goto(url(s, '#actions'));
    await w.page.fill('#push-to', 'act-201');
    await w.page.fill('#push-body', 'hello from the dashboard');
    await w.page.click('#push-send');
    const got = await c.expect(1000);
    assert.equal(got.body.toString(), 'hello from the dashboard');
    await textIs('#push-outcome', 'Queued to 1 connection.', 5000);

    // to a room, by the select
    await w.page.selectOption('#push-target', 'room');
    await w.page.fill('#push-to', 'live://lobby');
    await w.page.fill('#push-body', 'to the room');
    await w.page.click('#push-send');
    assert.equal((await c.expect(1000)).body.toString(), 'to the room');

    // a push the API refuses: its message, on the page
    w.expectError(/status of 400 .*\/goim\/push\/room/);
    await w.page.fill('#push-op', 'x');
    await w.page.click('#push-send');
    await textIs('#push-outcome', 'Push failed: HTTP 400: query parameter "operation" must be an int32, got "x"', 5000);
    assert.equal(await w.page.getAttribute('#push-outcome', 'class'), 'error');

    await w.page.fill('#kick-key', 'act-201');
    await w.page.click('#kick-send');
    const op6 = await c.expect(Op.DisconnectReply);
    assert.equal(JSON.parse(op6.body.toString()).code, 4006);
    await textIs('#kick-outcome', 'Closed 1 connection with key act-201 (op 6 4006).', 5000);

    // the drain asks first; cancelled here (the HTTP tests drain for real)
    await w.page.click('#drain-start');
    await w.page.waitForSelector('#drain-confirmation');
    await w.page.click('#drain-cancel');
    await w.page.waitForSelector('#drain-start');
    w.assertClean();
  });

  it('every page, with data: screenshots under test/screenshots/', async () => {
    await connect(601, 'tour-601');
    await connect(602, 'tour-602');
    await connect(603, 'tour-603');
    await connect(604, 'tour-604', 'live://stage');
    for (let i = 1; i <= 3; i++) {
      const r = await fetch(`http://127.0.0.1:${s.controlPort}/im/send`, { method: 'POST', body: JSON.stringify({ from: 7, to: [601], op: 1000, body: `message ${i}`, client_msg_id: `tour-${i}` }) });
      assert.equal(r.status, 200);
    }
    await fetch(`http://127.0.0.1:${s.controlPort}/goim/push/room?operation=1000&type=live&room=lobby`, { method: 'POST', body: 'hello lobby' });
    w = await openPage(browser);
    await w.page.goto(url(s));
    await textIs('#stat-connections', '4', 5000);
    // two snapshots with rates, so that the charts have lines
    await w.page.waitForFunction(() => (globalThis as unknown as PageGlobal).document.querySelector('#stat-connects')?.textContent !== '–', undefined, { timeout: 5000 });
    // The push-to-write latency of the pushes written in the last second (the workers' histograms).
    assert.ok(await w.page.isVisible('#chart-latency'));
    await fetch(`http://127.0.0.1:${s.controlPort}/goim/push/room?operation=1000&type=live&room=lobby`, { method: 'POST', body: 'hello again' });
    await w.page.waitForFunction(() => /µs|ms/.test((globalThis as unknown as PageGlobal).document.querySelector('#stat-latency')?.textContent ?? ''), undefined, { timeout: 5000 });
    await screenshot(w.page, 'dashboard-overview');

    await visit('workers', '#worker-0.state-ok');
    await screenshot(w.page, 'dashboard-workers');

    await visit('rooms', '#rooms-table tr[data-room="lobby"]');
    assert.equal(await w.page.textContent('#rooms-table tr[data-room="lobby"] td.num'), '3');
    await w.page.fill('#rooms-search', 'sta');
    await w.page.click('#rooms-refresh');
    await w.page.waitForSelector('#rooms-table tr[data-room="lobby"]', { state: 'detached' });
    assert.equal(await w.page.textContent('#rooms-table tr[data-room="stage"] td.num'), '1');
    await screenshot(w.page, 'dashboard-rooms');

    await visit('users', '#user-mid');
    await w.page.fill('#user-mid', '601');
    await w.page.click('#user-lookup');
    await w.page.waitForSelector('#user-sessions tr[data-key="tour-601"]');
    await w.page.waitForSelector('#user-inbox tr[data-seq="3"]');
    assert.match((await w.page.textContent('#user-sessions tr[data-key="tour-601"]'))!, /live:\/\/lobby/);
    assert.match((await w.page.textContent('#user-inbox'))!, /message 1[\s\S]*message 3/);
    await screenshot(w.page, 'dashboard-users');

    await visit('slow', '#limits-table tr[data-limit="limits.maxConnections"]');
    assert.ok(await w.page.isVisible('#deep-queues-none'), 'every client reads: no deep queue');
    await screenshot(w.page, 'dashboard-slow');

    await visit('actions', '#push-form');
    await screenshot(w.page, 'dashboard-actions');
    w.assertClean();
  });

  /** The worker serving the page's next /dashboard/stream (every worker serves the control port; test servers name it). */
  const nextStreamWorker = (page: Page): Promise<number> =>
    page.waitForResponse((r) => new URL(r.url()).pathname === '/dashboard/stream', { timeout: 10_000 }).then((r) => Number(r.headers()['x-ringcast-worker']));

  it('a worker killed by the test command shows red, then green after its replacement', async () => {
    w = await openPage(browser);
    const served = nextStreamWorker(w.page);
    await w.page.goto(url(s, '#workers'));
    // The worker that dies is not the one serving the stream (that case is the next test's).
    const victim = 1 - (await served);
    await w.page.waitForSelector(`#worker-${victim}.state-ok`);
    const restarts = Number((await s.health()).workers[victim].restarts);
    const crash = await fetch(`http://127.0.0.1:${s.controlPort}/debug/workers/${victim}/crash?mode=exit`, { method: 'POST' });
    assert.equal(crash.status, 200);
    await w.page.waitForSelector(`#worker-${victim}.state-bad`, { timeout: 3000 });
    assert.equal(await w.page.getAttribute(`#worker-${victim}`, 'data-state'), 'dead');
    await w.page.waitForSelector('#nav-workers .badge');
    await screenshot(w.page, 'dashboard-workers-dead');
    await w.page.waitForSelector(`#worker-${victim}.state-ok`, { timeout: 15_000 });
    assert.equal(await w.page.textContent(`#worker-${victim} td:nth-child(10)`), String(restarts + 1), 'the restart is counted');
    w.assertClean();
  });

  it("a page whose stream's worker dies opens a new stream and goes on showing the server", async () => {
    w = await openPage(browser);
    const served = nextStreamWorker(w.page);
    await w.page.goto(url(s, '#workers'));
    const victim = await served;
    await w.page.waitForSelector(`#worker-${victim}.state-ok`);
    const restarts = Number((await s.health()).workers[victim].restarts);
    const again = nextStreamWorker(w.page);
    const crash = await fetch(`http://127.0.0.1:${s.controlPort}/debug/workers/${victim}/crash?mode=exit`, { method: 'POST' });
    assert.equal(crash.status, 200);
    // The stream died with its worker (Chromium logs the cut response); the page's EventSource
    // opens another, on a live worker, and the figures go on.
    assert.ok((await again) >= 0, 'a new stream');
    await w.page.waitForSelector(`#worker-${victim}.state-ok`, { timeout: 15_000 });
    await until(async () => (await w!.page.textContent(`#worker-${victim} td:nth-child(10)`)) === String(restarts + 1), 10_000, 'the restart shown');
    w.problems.splice(0, w.problems.length, ...w.problems.filter((p) => !/\/dashboard\/stream/.test(p)));
    w.assertClean();
  });

  it('with a token set, the page is unusable without it', async () => {
    const t = await startServer({ workers: 1, control: { token: 'open-sesame' } });
    try {
      w = await openPage(browser);
      await w.page.goto(url(t));
      await w.page.waitForSelector('#token-prompt');
      await screenshot(w.page, 'dashboard-token');
      // nothing but the prompt: no navigation, no figures
      for (const sel of ['nav', '#stat-connections', '#nav-actions', '#server-status']) assert.equal(await w.page.$(sel), null, sel);
      await w.page.fill('#token', 'wrong');
      await w.page.click('#token-submit');
      await textIs('#token-error', 'Wrong token: the server refused it.', 5000);
      assert.equal(await w.page.$('nav'), null);
      await w.page.fill('#token', 'open-sesame');
      await w.page.click('#token-submit');
      await textIs('#stat-connections', '0', 5000);
      // kept for the tab: a reload goes straight in
      await w.page.reload();
      await textIs('#stat-workers', '1 / 1', 5000);
      w.assertClean();
      await w.close();
      // a new tab (session storage is per tab) asks again
      w = await openPage(browser);
      await w.page.goto(url(t));
      await w.page.waitForSelector('#token-prompt');
      w.assertClean();
    } finally {
      await w?.close();
      w = null;
      await t.stop();
    }
  });
});
