/**
 * @ringcast/client in a real browser: headless Chromium (Debian's `chromium` package, which
 * .ci/run installs) driven by playwright-core. A page on the server's origin imports
 * /ringcast-client.js from the ringcast server (ws.servePages), connects, joins a room, receives
 * pushes and reliable messages, survives a kill -9 and restart of the server (every message once,
 * in order, the room joined again) and a page reload (the localStorage store: no message twice).
 * Any page error or console error fails the test.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { control } from '../helpers/sdk.js';
import { startServer, until, type RunningServer } from '../helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
const MID = 8001;

/** The page: the browser example of client/README.md, recording what it gets in window.log. */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>ringcast SDK in a browser</title>
<script type="module">
  import { RingcastClient } from '/ringcast-client.js';
  const log = (window.log = { states: [], pushes: [], messages: [], counts: [], ready: false });
  const text = (b) => new TextDecoder().decode(b);
  const client = new RingcastClient({
    url: 'ws://' + location.host + '/sub',
    auth: { mid: ${MID}, key: 'browser-1', room_id: 'live://browser', platform: 'web', accepts: [1000] },
    reconnect: { minDelayMs: 3000, maxDelayMs: 3000 },
    store: 'ringcast-seq',
  });
  client.on('state', (state, info) => log.states.push(state + ':' + info.code));
  client.on('push', (p) => log.pushes.push(text(p.body)));
  client.on('message', (m) => log.messages.push(m.seq + ':' + text(m.body)));
  client.on('count', (n) => log.counts.push(n));
  window.client = client;
  await client.connect();
  log.lastSeqAtConnect = client.lastSeq; // from the store, before the sync reply
  await client.joinRooms(['chat://browser']);
  log.ready = true;
</script>`;

interface PageLog {
  states: string[];
  pushes: string[];
  messages: string[];
  counts: number[];
  ready: boolean;
  lastSeqAtConnect: number | null;
}

describe('client SDK in a real browser (headless Chromium)', function () {
  this.timeout(90_000);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringcast-sdk-browser-'));
  let s: RunningServer;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  let sent = 0;

  before(async () => {
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium; .ci/run does it)`);
    s = await startServer({ workers: 2, im: { dataDir, redeliverMs: 600_000 } });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    page = await browser.newPage();
    // The browser asks every origin for /favicon.ico (426 on the WebSocket port): not the page's doing.
    await page.route('**/favicon.ico', (route) => route.fulfill({ status: 204 }));
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
    });
  });
  after(async () => {
    await browser?.close();
    await s?.stop('SIGKILL');
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  afterEach(() => {
    assert.deepEqual(problems, [], 'no page error and no console error');
  });

  // The test compiles without the DOM lib: what runs in the page is given as text.
  const log = (): Promise<PageLog> => page.evaluate('window.log') as Promise<PageLog>;
  /**
   * Opens the page on the server's origin: first a document from the server itself (the script, shown
   * as text), then the page's HTML in its place, so that the page and its WebSocket are same-origin
   * and on the local network, as a page the server hosted would be.
   */
  async function openPage(): Promise<void> {
    await page.goto(`http://127.0.0.1:${s.wsPort}/ringcast-client.js`);
    await page.setContent(PAGE);
  }
  const waitLog = (check: string, ms = 15_000): Promise<unknown> => page.waitForFunction(check, undefined, { timeout: ms });
  async function send(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const r = await control(s, '/im/send', { from: 1, to: [MID], op: 1000, body: `m${++sent}`, client_msg_id: `b-${sent}` });
      assert.equal(r.status, 200);
    }
  }

  it('imports the client from the server, connects, joins a room, gets pushes and reliable messages', async () => {
    await openPage();
    await waitLog('window.log && window.log.ready && window.log.counts.length > 0');
    await control(s, '/goim/push/room?operation=1000&type=chat&room=browser', 'to the room');
    await control(s, '/goim/push/room?operation=1000&type=live&room=browser', 'to the goim room');
    await send(3);
    await waitLog('window.log.pushes.length >= 2 && window.log.messages.length >= 3');
    const l = await log();
    assert.deepEqual(l.states, ['connecting:0', 'connected:0']);
    assert.deepEqual(l.pushes, ['to the room', 'to the goim room']);
    assert.deepEqual(l.messages, ['1:m1', '2:m2', '3:m3']);
    assert.equal(l.counts[0], 1);
    assert.equal(l.lastSeqAtConnect, null, 'nothing stored yet');
  });

  it('survives a kill -9 and restart of the server: every message once, in order, the room joined again', async () => {
    await s.stop('SIGKILL');
    await waitLog(`window.log.states.at(-1) === 'disconnected:3001'`);
    s = await startServer({ workers: 2, im: { dataDir, redeliverMs: 600_000 }, tcp: { port: s.tcpPort }, ws: { port: s.wsPort }, control: { port: s.controlPort } });
    // The page retries 3 s after the kill: these arrive while it is offline.
    await send(3);
    await waitLog(`window.log.states.at(-1) === 'connected:0'`);
    await send(2);
    await waitLog('window.log.messages.length >= 8');
    await control(s, '/goim/push/room?operation=1000&type=chat&room=browser', 'after the restart');
    await waitLog(`window.log.pushes.includes('after the restart')`);
    const l = await log();
    assert.deepEqual(l.messages, Array.from({ length: 8 }, (_, i) => `${i + 1}:m${i + 1}`));
    assert.deepEqual(l.states, ['connecting:0', 'connected:0', 'disconnected:3001', 'connecting:0', 'connected:0']);
  });

  it('a reload resumes after the last seq kept in localStorage: no message twice', async () => {
    await openPage();
    await waitLog('window.log && window.log.ready');
    await send(1);
    await waitLog('window.log.messages.length >= 1');
    await until(async () => (await s.get(`/im/devices?mid=${MID}`)).body.data.devices.some((d: { read: number }) => d.read === 9), 10_000, 'the ack of seq 9');
    assert.equal((await log()).lastSeqAtConnect, 8, 'the seq kept in localStorage');
    assert.deepEqual((await log()).messages, ['9:m9']);
    assert.equal(await page.evaluate(`JSON.parse(localStorage.getItem('ringcast-seq')).seq`), 9);
    await page.evaluate('window.client.close()');
  });
});
