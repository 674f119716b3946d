/**
 * src/protocols/frames.ts: the WebSocket frames ringcast builds itself (pushes, and replies written
 * in one socket write) are byte for byte what ws's own Sender would put on the wire for the same
 * message, at every header size.
 */
import assert from 'node:assert/strict';
import * as ws from 'ws';
import { encodePacket } from '../../src/codec.js';
import { encodeWsPacket, PushFrames, wsFrameHeader } from '../../src/protocols/frames.js';

/** What ws.send(payload, { binary: true }) writes on a server connection without extensions. */
function wsWire(payload: Buffer): Buffer {
  const sender = (ws as unknown as { Sender: { frame(data: Buffer, o: object): Buffer[] } }).Sender;
  const parts = sender.frame(payload, { fin: true, opcode: 2, mask: false, readOnly: false, rsv1: false });
  return Buffer.concat(parts);
}

describe('unit: WebSocket frames', () => {
  for (const bodyLen of [0, 4, 109, 110, 200, 65519, 65520, 70000]) {
    it(`a reply with a ${bodyLen}-byte body is what ws.send writes`, () => {
      const body = bodyLen === 0 ? null : Buffer.alloc(bodyLen, 7);
      assert.deepEqual(encodeWsPacket(3, 42, body, 1), wsWire(encodePacket(3, 42, body, 1)));
    });
  }

  it('a push frame is the op-9 payload behind the header ws would write', () => {
    const frames = new PushFrames([{ op: 1000, body: Buffer.from('hello') }, { op: 1001, body: Buffer.alloc(300) }]);
    assert.deepEqual(Buffer.from(frames.ws()), wsWire(Buffer.from(frames.wsPayload())));
    assert.deepEqual(Buffer.from(wsFrameHeader(70000)), wsWire(Buffer.alloc(70000)).subarray(0, 10));
  });
});
