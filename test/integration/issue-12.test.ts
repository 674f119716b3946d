/**
 * Issue 12's small fixes, on a real server: a TCP/Mars client whose first packet is not auth is told
 * why (op 6 400); /goim/nodes/weighted advertises only the listeners that exist; POST /im/send
 * refuses unknown fields; a message body has one limit, im.maxMessageBytes, over HTTP and op 110 alike
 * (the request and the packet keep their own bounds, control.maxBodyBytes and protocol.maxBodyBytes).
 */
import assert from 'node:assert/strict';
import { Op } from '../../src/ops.js';
import { GoimClient } from '../helpers/goim-client.js';
import { ImClient, postJson } from '../helpers/im-client.js';
import { startServer, type RunningServer } from '../helpers/server.js';

describe('issue 12 fixes', () => {
  let s: RunningServer;
  before(async () => {
    s = await startServer({ workers: 2, mars: {}, control: { maxBodyBytes: 8192 }, im: { maxMessageBytes: 1000 } });
  });
  after(async () => {
    await s.stop('SIGKILL');
  });

  for (const kind of ['tcp', 'mars'] as const) {
    it(`${kind}: a first packet that is not auth gets op 6 {code 400, reason} before the close`, async () => {
      const c = await GoimClient.connect(kind, kind === 'tcp' ? s.tcpPort : s.marsPort);
      c.send(Op.ChangeRoom, 3, 'live://1');
      const p = await c.next();
      assert.equal(p?.op, Op.DisconnectReply);
      assert.deepEqual(JSON.parse(p!.body.toString()), { code: 400, reason: 'first packet must be auth (op 7), got op 12' });
      assert.equal(await c.next(), null, 'then closed');
    });
  }

  it('/goim/nodes/weighted advertises only the ports that listen (no wss port while TLS is off)', async () => {
    for (const platform of ['web', 'android']) {
      const r = await s.get(`/goim/nodes/weighted?platform=${platform}`);
      assert.equal(r.status, 200);
      assert.equal(r.body.data.tcp_port, s.tcpPort);
      assert.equal(r.body.data.ws_port, s.wsPort);
      assert.equal(r.body.data.wss_port, 0, 'nothing listens for wss');
    }
    const inst = await s.get('/goim/nodes/instances');
    assert.ok(!JSON.stringify(inst.body.data).includes('wss://'), 'no wss:// address either');
  });

  it('POST /im/send and /im/group/send refuse unknown fields with a 400 naming them, and store nothing', async () => {
    const r = await postJson(s.controlPort, '/im/send', { from: 1, to: [1201], body: 'x', clientMsgId: 'typo' });
    assert.equal(r.status, 400);
    assert.match(r.json.message, /unknown field "clientMsgId"/);
    assert.deepEqual((await s.get('/im/inbox?mid=1201')).body.data.messages, [], 'nothing stored');
    const g = await postJson(s.controlPort, '/im/group/send', { from: 1, group: 7, body: 'x', bdy: 'y', extra: 1 });
    assert.equal(g.status, 400);
    assert.match(g.json.message, /unknown fields "bdy", "extra"/);
    const ok = await postJson(s.controlPort, '/im/send', { from: 1, to: [1201], op: 1000, body: 'x', client_msg_id: 'right' });
    assert.equal(ok.status, 200, 'the known fields are still taken');
  });

  it('a message over HTTP is bounded by control.maxBodyBytes (413 naming it); over op 110 by protocol.maxBodyBytes (op 6 4003 naming it)', async () => {
    const big = await postJson(s.controlPort, '/im/send', { from: 1, to: [1202], body: 'x'.repeat(9000) });
    assert.equal(big.status, 413);
    assert.match(big.json.message, /control\.maxBodyBytes/);
    const c = await GoimClient.connect('tcp', s.tcpPort);
    c.send(Op.Auth, 1, JSON.stringify({ mid: 1203, key: 'big-sender' }));
    assert.equal((await c.next())?.op, Op.AuthReply);
    c.send(110, 2, Buffer.alloc(4097));
    const p = await c.next();
    assert.equal(p?.op, Op.DisconnectReply);
    const body = JSON.parse(p!.body.toString()) as { code: number; reason: string };
    assert.equal(body.code, 4003);
    assert.match(body.reason, /protocol\.maxBodyBytes/);
  });

  it('a message body has one limit on both paths: im.maxMessageBytes (413 over HTTP, op 111 code 413 over op 110), and nothing is stored', async () => {
    const http = await postJson(s.controlPort, '/im/send', { from: 1, to: [1204], body: 'x'.repeat(1001) });
    assert.equal(http.status, 413);
    assert.match(http.json.message, /im\.maxMessageBytes \(1000\)/);
    const c = await ImClient.connect(s.tcpPort, 1205, 'sized-sender');
    try {
      const over = await c.send(0, 1204, 'x'.repeat(1001));
      assert.equal(over.code, 413);
      assert.match(over.message, /im\.maxMessageBytes/);
      assert.deepEqual((await s.get('/im/inbox?mid=1204')).body.data.messages, [], 'nothing stored');
      assert.equal((await postJson(s.controlPort, '/im/send', { from: 1, to: [1204], body: 'x'.repeat(1000) })).status, 200, 'at the limit: stored');
      assert.equal((await c.send(0, 1204, 'y'.repeat(1000))).code, 0, 'at the limit over op 110: stored');
      assert.equal((await s.get('/im/inbox?mid=1204')).body.data.messages.length, 2);
    } finally {
      c.close();
    }
  });
});
