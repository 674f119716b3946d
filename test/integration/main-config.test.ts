import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { runMain as run, writeConfig } from '../helpers/server.js';

describe('start-up with a bad config (node dist/src/main.js)', function () {
  this.timeout(20_000);
  const cases: Array<[string, object, RegExp]> = [
    ['an unknown key', { worker: 2 }, /unknown key "worker" \(did you mean "workers"\?\)/],
    ['a wrong type', { workers: '4' }, /workers = "4": expected an integer between 0 and 256/],
    ['workers below zero', { workers: -1 }, /workers = -1: expected an integer between 0 and 256/],
    ['a ring size that is not a power of two', { ring: { mailboxBytes: 5000 } }, /ring\.mailboxBytes = 5000: expected a power of two/],
    ['a port out of range', { tcp: { port: 70000 } }, /tcp\.port = 70000: expected an integer between 0 and 65535/],
  ];
  for (const [what, config, message] of cases) {
    it(`exits 2 naming the key for ${what}`, async () => {
      const file = writeConfig(config);
      const { code, stderr, stdout } = await run(['--config', file]);
      fs.rmSync(file, { force: true });
      assert.equal(code, 2);
      assert.match(stderr, message);
      assert.equal(stdout, '', 'nothing started');
    });
  }

  it('exits 2 naming the variable for a bad RINGCAST_* value', async () => {
    const { code, stderr } = await run([], { RINGCAST_WORKERS: 'many' });
    assert.equal(code, 2);
    assert.match(stderr, /RINGCAST_WORKERS \(workers\) = "many"/);
  });

  it('exits 2 with every line of several problems prefixed "ringcast:"', async () => {
    const file = writeConfig({ workers: -1, tcp: { port: 'x' }, bogus: true });
    const { code, stderr, stdout } = await run(['--config', file]);
    fs.rmSync(file, { force: true });
    assert.equal(code, 2);
    assert.equal(stdout, '', 'nothing started');
    const lines = stderr.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 3, stderr);
    for (const line of lines) assert.ok(line.startsWith('ringcast: config: '), `line without the prefix: ${JSON.stringify(line)}`);
  });

  it('exits 2 in jwt mode without a secret, naming the key and where to set it, not config/default.json', async () => {
    const { code, stderr } = await run([], { RINGCAST_AUTH_MODE: 'jwt' });
    assert.equal(code, 2);
    assert.match(stderr, /^ringcast: config: auth\.jwt\.secret = "": expected a secret when auth\.mode is "jwt" with HS256/);
    assert.match(stderr, /set it in a --config file or with RINGCAST_AUTH_JWT_SECRET/);
    assert.doesNotMatch(stderr, /default\.json/);
  });

  it('exits 2 for a missing config file, naming it', async () => {
    const { code, stderr } = await run(['--config', '/nonexistent/ringcast.json']);
    assert.equal(code, 2);
    assert.match(stderr, /\/nonexistent\/ringcast\.json/);
  });

  it('exits 1 with a message when a port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    const file = writeConfig({ workers: 1, tcp: { host: '127.0.0.1', port }, ws: { port: 0 }, control: { port: 0 } });
    const { code, stderr } = await run(['--config', file]);
    fs.rmSync(file, { force: true });
    blocker.close();
    assert.equal(code, 1);
    assert.match(stderr, new RegExp(`cannot listen for tcp on 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
  });

  it('exits 1 with a message when im.dataDir cannot be opened', async () => {
    const notADir = writeConfig({}); // a regular file: no directory can be made under it
    const file = writeConfig({ workers: 1, tcp: { host: '127.0.0.1', port: 0 }, ws: { port: 0 }, control: { port: 0 }, im: { dataDir: `${notADir}/im` } });
    const { code, stderr } = await run(['--config', file]);
    fs.rmSync(file, { force: true });
    fs.rmSync(notADir, { force: true });
    assert.equal(code, 1);
    assert.match(stderr, /cannot open the message store in im\.dataDir ".*\/im": .*ENOTDIR/);
  });
});
