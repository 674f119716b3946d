/**
 * TLS listeners against the real server, with a self-signed certificate made for the test by the
 * openssl command: wss and goim TCP over TLS authenticate and receive pushes; plain text on a TLS
 * port costs that connection only; a missing or bad certificate stops start-up naming the key.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Op } from '../../src/codec.js';
import { GoimClient } from '../helpers/goim-client.js';
import { freePort, runMain, startServer, writeConfig, type RunningServer } from '../helpers/server.js';

/** A self-signed certificate for 127.0.0.1 / localhost, valid one day. */
function selfSigned(dir: string): { cert: string; key: string } {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

describe('TLS (tls.cert, tls.key)', function () {
  this.timeout(60_000);
  let dir = '';
  let files: { cert: string; key: string };
  let s: RunningServer | null = null;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringcast-tls-'));
    files = selfSigned(dir);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => {
    if (s !== null) await s.stop('SIGKILL');
    s = null;
  });

  it('serves wss and goim TCP over TLS: clients verify the certificate, authenticate and receive pushes', async () => {
    const [wsPort, tcpPort] = [await freePort(), await freePort()];
    s = await startServer({ workers: 2, tls: { ...files, host: '127.0.0.1', wsPort, tcpPort } });
    assert.equal(s.ports.wss, wsPort);
    assert.equal(s.ports.tcps, tcpPort);
    assert.ok(s.stdout.some((l) => l === `ringcast: wss listening on 127.0.0.1:${wsPort} (path /sub)`));
    const ca = fs.readFileSync(files.cert, 'utf8');
    const clients = [await GoimClient.connect('ws', wsPort, { ca }), await GoimClient.connect('tcp', tcpPort, { ca })];
    const plain = await GoimClient.connect('tcp', s.tcpPort);
    for (const [i, c] of [...clients, plain].entries()) {
      assert.equal((await c.auth({ mid: 100 + i, room_id: 'live://tls' })).op, Op.AuthReply);
      assert.ok((await c.heartbeat()) >= 0);
    }
    assert.deepEqual(clients.map((c) => c.encrypted), [true, true]);
    assert.equal(plain.encrypted, false);

    // Plain text on the TLS port fails that handshake only.
    const wrong = net.connect({ host: '127.0.0.1', port: tcpPort });
    wrong.on('error', () => undefined);
    wrong.write('GET / HTTP/1.1\r\n\r\n');
    await new Promise((resolve) => wrong.once('close', resolve));

    const res = await s.post('/goim/push/room?operation=1000&type=live&room=tls');
    assert.equal(res.body.data.connections, 3);
    for (const c of [...clients, plain]) assert.equal((await c.expect(1000)).body.length, 0);
    const nodes = await s.get('/goim/nodes/weighted');
    assert.equal(nodes.body.data.wss_port, wsPort, 'the wss port advertised is the one served');
    for (const c of [...clients, plain]) c.close();
    assert.equal((await s.get('/health')).body.workers.every((w: { restarts: number }) => w.restarts === 0), true);
  });

  const bad: Array<[string, () => object, RegExp]> = [
    ['a missing certificate file', () => ({ cert: path.join(dir, 'nope.pem'), key: files.key }), /tls\.cert = ".*nope\.pem": expected a readable PEM file \(ENOENT\)/],
    ['a certificate file that is not a certificate', () => ({ cert: files.key, key: files.key }), /tls\.cert = ".*key\.pem": expected a PEM certificate/],
    ['a key file that is not a key', () => ({ cert: files.cert, key: files.cert }), /tls\.key = ".*cert\.pem": expected a PEM private key/],
    ['a certificate without a key', () => ({ cert: files.cert }), /tls\.key = "": expected a PEM file name when tls\.cert is set/],
  ];
  for (const [what, tls, message] of bad) {
    it(`stops start-up with exit code 2 naming the key for ${what}`, async () => {
      const file = writeConfig({ workers: 1, tcp: { port: 0 }, ws: { port: 0 }, control: { port: 0 }, tls: { ...tls(), wsPort: 0, tcpPort: 0 } });
      const { code, stderr, stdout } = await runMain(['--config', file]);
      fs.rmSync(file, { force: true });
      assert.equal(code, 2);
      assert.match(stderr, message);
      assert.equal(stdout, '', 'nothing started');
    });
  }
});
