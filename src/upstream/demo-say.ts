/**
 * The built-in `Demo` upstream service of the demo chat (demo/, served at GET /demo while
 * ws.servePages is on; docs/protocol.md#the-demo-service). A browser may not call the control
 * port, so the demo sends a room message as an upstream request (op 4) to `Demo/Say`, and this
 * service pushes it to the sender's goim room through the ordinary room push path (one PushRoom
 * record per worker; each deliverer frames it once for its members).
 *
 *   op 4 `Demo/Say`, payload: the message text, UTF-8, 1 to DEMO_SAY_MAX_BYTES bytes
 *   pushed to the room:       op DEMO_SAY_OP, JSON {"from": mid, "text", "room", "ts": ms}
 *   op 5 answer:              200 {"room"}; 400 empty or not UTF-8; 404 another method;
 *                             409 the connection is in no goim room; 413 text too long
 *
 * The connection's upstream limiter (upstream.ratePerSec, upstream.burst, upstream.maxInFlight)
 * admits the request before it gets here, as for any service.
 */
import { DEMO_SAY_OP } from '../ops.js';
import type { LocalService, UpstreamReply } from './client.js';

export const DEMO_SERVICE = 'Demo';
/** The longest text Demo/Say takes, in UTF-8 bytes. */
export const DEMO_SAY_MAX_BYTES = 1000;

/** Hands one push to every worker's deliverer for `room` (the worker's room push path). */
export type RoomPusher = (room: string, op: number, body: Uint8Array) => void;

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function reply(status: number, text: string): UpstreamReply {
  return { status, body: utf8.encode(text) };
}

export function demoService(push: RoomPusher, now: () => number = Date.now): LocalService {
  return (method, payload, who) => {
    if (method !== 'Say') return reply(404, `unknown method ${DEMO_SERVICE}/${method} (the demo service has Say)`);
    if (payload.length > DEMO_SAY_MAX_BYTES) return reply(413, `message of ${payload.length} bytes is over ${DEMO_SAY_MAX_BYTES} bytes (${DEMO_SERVICE}/Say)`);
    let text: string;
    try {
      text = strictUtf8.decode(payload);
    } catch {
      return reply(400, 'message is not UTF-8');
    }
    if (text.trim() === '') return reply(400, 'empty message');
    if (who.room === '') return reply(409, 'not in a room: join one with the auth body\'s room_id or op 12 first');
    push(who.room, DEMO_SAY_OP, utf8.encode(JSON.stringify({ from: who.mid, text, room: who.room, ts: now() })));
    return reply(200, JSON.stringify({ room: who.room }));
  };
}
