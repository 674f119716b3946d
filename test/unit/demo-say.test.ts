/**
 * The demo chat's built-in upstream service Demo/Say (src/upstream/demo-say.ts) and how the
 * UpstreamClient answers built-in services: a room push for a good message, a clear status and
 * reason for everything else, and no push then.
 */
import assert from 'node:assert/strict';
import { DEMO_SAY_OP } from '../../src/ops.js';
import { DEMO_SAY_MAX_BYTES, DEMO_SERVICE, demoService, UpstreamClient } from '../../src/upstream/index.js';

const text = new TextDecoder();
const utf8 = new TextEncoder();
const who = { mid: 7, key: 'k-7', platform: 'web', room: 'lobby' };

function harness(): { client: UpstreamClient; pushes: Array<{ room: string; op: number; body: unknown }> } {
  const pushes: Array<{ room: string; op: number; body: unknown }> = [];
  const say = demoService((room, op, body) => pushes.push({ room, op, body: JSON.parse(text.decode(body)) }), () => 1234);
  const client = new UpstreamClient({ services: {}, maxInFlight: 4, ratePerSec: 10, burst: 10 }, undefined, new Map([[DEMO_SERVICE, say]]));
  return { client, pushes };
}

describe('Demo/Say (the demo chat\'s built-in upstream service)', () => {
  it('pushes a message once to the sender\'s room, as op DEMO_SAY_OP with who said it, and answers 200', async () => {
    const { client, pushes } = harness();
    const r = await client.call('Demo', 'Say', utf8.encode('hello, room ✓'), who);
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(text.decode(r.body)), { room: 'lobby' });
    assert.deepEqual(pushes, [{ room: 'lobby', op: DEMO_SAY_OP, body: { from: 7, text: 'hello, room ✓', room: 'lobby', ts: 1234 } }]);
  });

  it('answers every bad request with a status and a reason, and pushes nothing', async () => {
    const { client, pushes } = harness();
    const cases: Array<[string, Uint8Array, typeof who, number, RegExp]> = [
      ['Shout', utf8.encode('hi'), who, 404, /unknown method Demo\/Shout/],
      ['Say', new Uint8Array(0), who, 400, /empty message/],
      ['Say', utf8.encode('   '), who, 400, /empty message/],
      ['Say', new Uint8Array([0xff, 0xfe]), who, 400, /not UTF-8/],
      ['Say', new Uint8Array(DEMO_SAY_MAX_BYTES + 1).fill(0x61), who, 413, new RegExp(`over ${DEMO_SAY_MAX_BYTES} bytes`)],
      ['Say', utf8.encode('hi'), { ...who, room: '' }, 409, /not in a room/],
    ];
    for (const [method, payload, w, status, reason] of cases) {
      const r = await client.call('Demo', method, payload, w);
      assert.equal(r.status, status, method);
      assert.match(text.decode(r.body), reason);
    }
    assert.equal((await client.call('Demo', 'Say', new Uint8Array(DEMO_SAY_MAX_BYTES).fill(0x61), who)).status, 200, 'exactly the bound is taken');
    assert.equal(pushes.length, 1);
  });

  it('exists only where it is given: otherwise Demo is an unknown service (404)', async () => {
    const plain = new UpstreamClient({ services: {}, maxInFlight: 4, ratePerSec: 10, burst: 10 });
    const r = await plain.call('Demo', 'Say', utf8.encode('hi'), who);
    assert.equal(r.status, 404);
    assert.match(text.decode(r.body), /unknown service Demo/);
  });

  it('refuses a configured backend of the same name', () => {
    assert.throws(
      () => new UpstreamClient({ services: { Demo: { url: 'http://127.0.0.1:1', timeoutMs: 100 } }, maxInFlight: 1, ratePerSec: 1, burst: 1 }, undefined, new Map([[DEMO_SERVICE, demoService(() => {})]])),
      /taken by a built-in service/,
    );
  });
});
