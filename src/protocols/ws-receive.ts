/**
 * The WebSocket receive fast path. ws's Receiver is a Writable stream: every message a client sends
 * costs a Writable write (and its after-write tick), three buffer views (header, mask, payload), a
 * fragment list and two event emits before our handler sees it. Almost everything an idle client
 * sends is one small complete binary frame per socket read (a heartbeat: 16 bytes), so each
 * connection's receiver gets a `write` that takes such frames itself, while the receiver is between
 * frames, and hands everything else to ws unchanged (docs/architecture.md#ws-and-socket-costs):
 *
 *   taken here:   FIN set, opcode 2 (binary), RSV bits clear, masked, length ≤ 65,535 and within the
 *                 receiver's maxPayload, the whole frame in the chunk; unmasked in place, as ws does;
 *   left to ws:   everything else (text frames and their UTF-8 check, fragments, control frames,
 *                 compressed frames, a frame split across reads, bad frames and their close codes),
 *                 and the rest of a chunk from the first frame not taken. ws only ever sees whole
 *                 frames from us, so its state is the same as if it had parsed the ones we took.
 *
 * The ws version is pinned (package.json): this reads the receiver fields named in
 * ReceiverInternals, and test/unit/ws-receive.test.ts holds it to ws's own parsing.
 */
import { Writable } from 'node:stream';
import { WebSocket } from 'ws';

/** ws's receiver state between frames (GET_INFO). */
const GET_INFO = 0;
const FIN_BINARY = 0x82;
const MASKED = 0x80;
const FAST = Symbol('fastReceive');

/** The receiver's fields read here (ws 8, lib/receiver.js). */
interface ReceiverInternals extends Writable {
  _state: number;
  _bufferedBytes: number;
  _fragmented: number;
  _errored: boolean;
  _opcode: number;
  _maxPayload: number;
  [FAST]?: FastTarget;
}

interface FastTarget {
  ws: WebSocket;
  onMessage: (this: WebSocket, data: Buffer) => void;
}

const writableWrite = Writable.prototype.write as (this: Writable, chunk: Buffer) => boolean;

/**
 * Makes `ws`'s receiver take small complete binary frames itself and call `onMessage` (with `this`
 * the WebSocket, as ws's 'message' event would) for each; one property on the receiver, no closure.
 */
export function installFastReceive(ws: WebSocket, onMessage: (this: WebSocket, data: Buffer) => void): void {
  const receiver = (ws as unknown as { _receiver?: ReceiverInternals })._receiver;
  if (receiver === undefined || typeof receiver._state !== 'number') return; // not the ws we know: ws parses everything
  receiver[FAST] = { ws, onMessage };
  receiver.write = fastWrite as Writable['write'];
}

function fastWrite(this: ReceiverInternals, chunk: Buffer): boolean {
  const target = this[FAST]!;
  // Mid-frame, mid-message, after an error or a close frame: ws's state machine goes on.
  if (this._state !== GET_INFO || this._bufferedBytes !== 0 || this._fragmented !== 0 || this._errored || this._opcode === 0x08) return writableWrite.call(this, chunk);
  const end = chunk.length;
  const max = this._maxPayload;
  let at = 0;
  while (end - at >= 6) {
    if (chunk[at] !== FIN_BINARY) break;
    const b1 = chunk[at + 1]!;
    if ((b1 & MASKED) === 0) break; // ws refuses it (1002)
    let len = b1 & 0x7f;
    let head = 6;
    if (len === 126) {
      if (end - at < 8) break;
      len = (chunk[at + 2]! << 8) | chunk[at + 3]!;
      head = 8;
    } else if (len === 127) {
      break;
    }
    if ((max > 0 && len > max) || end - at < head + len) break;
    const mask = at + head - 4;
    const payload = at + head;
    for (let i = 0; i < len; i++) chunk[payload + i]! ^= chunk[mask + (i & 3)]!;
    at = payload + len;
    target.onMessage.call(target.ws, chunk.subarray(payload, at));
    // The handler closed the connection: ws takes the rest, as it would after that message.
    if (target.ws.readyState !== WebSocket.OPEN) break;
  }
  if (at === end) return true;
  return writableWrite.call(this, at === 0 ? chunk : chunk.subarray(at));
}
