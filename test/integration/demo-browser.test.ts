/**
 * The demo chat (GET /demo on the WebSocket port, demo/) in a real browser: headless Chromium
 * (Debian's `chromium`, test/helpers/browser.ts), two browser contexts as two users. They exchange
 * room messages (op 4 to Demo/Say, back as room pushes) and direct messages (op 110) whose delivery
 * state goes to read; each sees the room's online count. One of them goes away twice — kicked by the
 * operator (POST /admin/kick; terminal, so the page offers a reconnect button) and cut off the network
 * (context.setOffline; the page reconnects by itself) — and the direct messages sent meanwhile appear
 * after it is back, once each. Any page error or console error fails the test; screenshots of both
 * users go to test/screenshots/.
 */
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { launchBrowser, openPage, screenshot, type WatchedPage } from '../helpers/browser.js';
import { startServer, until, type RunningServer } from '../helpers/server.js';

interface Listed {
  kind: string;
  text: string;
  state: string | null;
}

async function listed(p: WatchedPage): Promise<Listed[]> {
  return p.page.$$eval('#messages li', (lis) =>
    lis.map((li) => ({ kind: li.getAttribute('data-kind') ?? '', text: li.querySelector('.text')?.textContent ?? li.textContent ?? '', state: li.getAttribute('data-state') })),
  );
}

async function say(p: WatchedPage, to: string, text: string): Promise<void> {
  await p.page.fill('#to', to);
  await p.page.fill('#message', text);
  await p.page.click('#send');
}

/** How many list items carry exactly `text`. */
async function count(p: WatchedPage, text: string): Promise<number> {
  return (await listed(p)).filter((m) => m.text === text).length;
}

async function stateOf(p: WatchedPage, text: string): Promise<string | null> {
  return (await listed(p)).find((m) => m.text === text && m.kind === 'direct')?.state ?? null;
}

describe('the demo chat in a real browser (two users)', function () {
  this.timeout(120_000);
  let s: RunningServer;
  let browser: Browser;
  let alice: WatchedPage;
  let bob: WatchedPage;
  const A = 101;
  const B = 102;

  before(async () => {
    s = await startServer({ workers: 2, rooms: { countIntervalMs: 200 } });
    browser = await launchBrowser();
    alice = await openPage(browser, { width: 900, height: 700 });
    bob = await openPage(browser, { width: 900, height: 700 });
    await alice.page.goto(`http://127.0.0.1:${s.wsPort}/demo?mid=${A}&room=lobby`);
    await bob.page.goto(`http://127.0.0.1:${s.wsPort}/demo?mid=${B}&room=lobby`);
    for (const p of [alice, bob]) await p.page.waitForSelector('#banner', { state: 'hidden', timeout: 10_000 });
  });
  after(async () => {
    await browser?.close();
    await s?.stop('SIGKILL');
  });
  afterEach(function () {
    // Each test fails on any page error or console error of either user.
    alice.assertClean();
    bob.assertClean();
  });

  it('shows the room\'s online count and exchanges room messages through Demo/Say', async () => {
    // The count comes with each heartbeat reply (every 5 s in the demo), summed over the workers.
    for (const p of [alice, bob]) await until(async () => (await p.page.textContent('#online')) === '2', 15_000, 'both pages show 2 online');
    await say(alice, '', 'hello lobby from alice');
    await say(bob, '', 'and hello from bob');
    for (const p of [alice, bob]) {
      await until(async () => (await count(p, 'hello lobby from alice')) === 1 && (await count(p, 'and hello from bob')) === 1, 10_000, 'both room messages on both pages');
    }
    const kinds = (await listed(bob)).filter((m) => m.text.includes('hello')).map((m) => m.kind);
    assert.deepEqual(kinds, ['room', 'room']);
  });

  it('sends direct messages both ways, each going sent → stored → delivered → read', async () => {
    await say(alice, String(B), 'alice to bob, direct');
    await until(async () => (await count(bob, 'alice to bob, direct')) === 1, 10_000, 'bob gets the direct message');
    // Read comes with bob's SDK ack (op 113, batched within a second).
    await until(async () => (await stateOf(alice, 'alice to bob, direct')) === 'read', 10_000, 'alice sees it read');
    await say(bob, String(A), 'bob to alice, direct');
    await until(async () => (await count(alice, 'bob to alice, direct')) === 1, 10_000, 'alice gets the reply');
    await until(async () => (await stateOf(bob, 'bob to alice, direct')) === 'read', 10_000, 'bob sees it read');
    assert.equal(await count(bob, 'alice to bob, direct'), 1);
    await screenshot(alice.page, 'demo-alice');
    await screenshot(bob.page, 'demo-bob');
  });

  it('a user kicked by the operator gets a banner; what was sent meanwhile comes once after the reconnect', async () => {
    const key = await bob.page.evaluate(() => (globalThis as unknown as { ringcastDemo: { key: string } }).ringcastDemo.key);
    const kicked = await s.post(`/admin/kick?key=${encodeURIComponent(key)}`);
    assert.equal(kicked.status, 200, JSON.stringify(kicked.body));
    await bob.page.waitForSelector('#banner', { state: 'visible', timeout: 10_000 });
    assert.match((await bob.page.textContent('#banner-text')) ?? '', /4006/);
    assert.ok(await bob.page.isVisible('#reconnect'), 'a terminal close offers a reconnect button (4006: the SDK does not retry by itself)');
    const missed = ['while kicked 1', 'while kicked 2', 'while kicked 3'];
    for (const text of missed) await say(alice, String(B), text);
    for (const text of missed) await until(async () => (await stateOf(alice, text)) === 'stored', 10_000, `${text} stored`);
    assert.equal(await stateOf(alice, missed[0]!), 'stored', 'not delivered while bob is away');
    await screenshot(bob.page, 'demo-bob-kicked');
    await bob.page.click('#reconnect');
    await bob.page.waitForSelector('#banner', { state: 'hidden', timeout: 10_000 });
    for (const text of missed) {
      await until(async () => (await count(bob, text)) === 1, 10_000, `${text} reaches bob after the reconnect`);
      await until(async () => (await stateOf(alice, text)) === 'read', 10_000, `${text} read`);
    }
    for (const text of missed) assert.equal(await count(bob, text), 1, `${text} once`);
    const history = await alice.page.$$eval('#messages li[data-history]', (lis) => lis.map((li) => [li.querySelector('.text')?.textContent, li.getAttribute('data-history')]));
    for (const text of missed) assert.deepEqual(history.find(([t]) => t === text), [text, 'sent stored delivered read'], `${text}: every state, in order`);
  });

  it('a user cut off the network reconnects by itself; what was sent meanwhile comes once', async () => {
    await bob.context.setOffline(true);
    await bob.page.waitForSelector('#banner', { state: 'visible', timeout: 10_000 });
    assert.equal(await bob.page.isVisible('#reconnect'), false, 'no button: it comes back by itself');
    const missed = ['while offline 1', 'while offline 2'];
    for (const text of missed) await say(alice, String(B), text);
    for (const text of missed) await until(async () => (await stateOf(alice, text)) === 'stored', 10_000, `${text} stored`);
    await screenshot(bob.page, 'demo-bob-offline');
    await bob.context.setOffline(false);
    await bob.page.waitForSelector('#banner', { state: 'hidden', timeout: 15_000 });
    for (const text of missed) {
      await until(async () => (await count(bob, text)) === 1, 10_000, `${text} reaches bob after the network is back`);
      await until(async () => (await stateOf(alice, text)) === 'read', 10_000, `${text} read`);
    }
    // Everything bob was sent, once each, in the order alice sent it.
    const direct = (await listed(bob)).filter((m) => m.kind === 'direct' && m.text !== 'bob to alice, direct').map((m) => m.text);
    assert.deepEqual(direct, ['alice to bob, direct', 'while kicked 1', 'while kicked 2', 'while kicked 3', ...missed]);
    // Room messages still flow after the reconnects.
    await say(bob, '', 'bob is back');
    await until(async () => (await count(alice, 'bob is back')) === 1, 10_000, 'alice hears bob in the room');
    await screenshot(bob.page, 'demo-bob-back');
  });

  it('says why a message was refused: a recipient that is not a mid, a room message over the bound', async () => {
    await say(alice, 'not-a-mid', 'hi');
    await alice.page.waitForSelector('#error', { state: 'visible' });
    assert.match((await alice.page.textContent('#error')) ?? '', /not a mid/);
    await alice.page.fill('#to', '');
    await alice.page.$eval('#message', (el) => el.removeAttribute('maxlength'));
    await alice.page.fill('#message', 'x'.repeat(1001));
    await alice.page.click('#send');
    await until(async () => /413/.test((await alice.page.textContent('#error')) ?? ''), 10_000, 'the 413 of Demo/Say shown');
  });
});
