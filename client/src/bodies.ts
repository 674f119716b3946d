/**
 * The bodies of the calls (docs/protocol.md): room lists (ops 12, 100, 102), accept lists (14, 16),
 * reliable sends (110 → 111) and upstream requests (4 → 5). Arguments are checked here, before
 * anything is sent.
 */
import { bodyBytes, dataView, setU64 } from './codec.js';
import { RingcastError } from './errors.js';
import { fromUtf8, utf8 } from './platform.js';
import type { SendInput, SendResult } from './types.js';

export function roomList(rooms: readonly string[], what: string): string {
  if (!Array.isArray(rooms) || rooms.length === 0) throw new RingcastError('invalid', `${what}: expected a non-empty array of room keys`);
  for (const r of rooms) {
    if (typeof r !== 'string' || r === '' || r.includes(',')) throw new RingcastError('invalid', `${what}: bad room key ${JSON.stringify(r)} (a non-empty string without commas)`);
  }
  return rooms.join(',');
}

/** Rooms in a reply (101, 103): comma-separated. */
export function parseRooms(body: Uint8Array): string[] {
  const text = fromUtf8(body);
  return text === '' ? [] : text.split(',');
}

export function opList(ops: readonly number[], what: string): string {
  if (!Array.isArray(ops) || ops.length === 0) throw new RingcastError('invalid', `${what}: expected a non-empty array of ops`);
  for (const op of ops) if (!Number.isInteger(op) || op < -0x80000000 || op > 0x7fffffff) throw new RingcastError('invalid', `${what}: bad op ${String(op)} (an int32)`);
  return ops.join(',');
}

function safeId(n: unknown, what: string): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) throw new RingcastError('invalid', `send: ${what} must be a positive safe integer, got ${String(n)}`);
  return n;
}

/** Op 110: [u8 kind][u64 target][i32 op][u16 n][client_msg_id][body]. */
export function sendBody(input: SendInput, clientMsgId: string): Uint8Array {
  if (input === null || typeof input !== 'object') throw new RingcastError('invalid', 'send: expected { to | group, op?, body, clientMsgId? }');
  if ((input.to === undefined) === (input.group === undefined)) throw new RingcastError('invalid', 'send: give exactly one of `to` (a mid) and `group`');
  const kind = input.to !== undefined ? 0 : 1;
  const target = safeId(input.to ?? input.group, kind === 0 ? '`to`' : '`group`');
  const op = input.op ?? 1000;
  if (!Number.isInteger(op) || op < -0x80000000 || op > 0x7fffffff) throw new RingcastError('invalid', `send: op must be an int32, got ${String(op)}`);
  const cmid = utf8(clientMsgId);
  if (cmid.length > 256) throw new RingcastError('invalid', 'send: clientMsgId is longer than 256 bytes');
  const body = bodyBytes(input.body);
  const out = new Uint8Array(15 + cmid.length + body.length);
  const dv = dataView(out);
  out[0] = kind;
  setU64(dv, 1, target);
  dv.setInt32(9, op);
  dv.setUint16(13, cmid.length);
  out.set(cmid, 15);
  out.set(body, 15 + cmid.length);
  return out;
}

export interface SendReply {
  code: number;
  message: string;
  result?: SendResult;
}

/** Op 111: JSON {"code", "message", "seq": {...}} or {"group_seq"}. */
export function parseSendReply(body: Uint8Array, input: SendInput, selfMid: number, clientMsgId: string): SendReply {
  let j: { code?: unknown; message?: unknown; seq?: unknown; group_seq?: unknown };
  try {
    j = JSON.parse(fromUtf8(body)) as typeof j;
  } catch {
    return { code: 502, message: 'unreadable op 111' };
  }
  const code = typeof j.code === 'number' ? j.code : 502;
  const message = typeof j.message === 'string' ? j.message : '';
  if (code !== 0) return { code, message };
  const seqs: Record<string, number> = {};
  if (j.seq !== null && typeof j.seq === 'object') for (const [k, v] of Object.entries(j.seq as Record<string, unknown>)) if (typeof v === 'number') seqs[k] = v;
  const result: SendResult = { seq: 0, seqs, clientMsgId };
  if (typeof j.group_seq === 'number') result.seq = result.groupSeq = j.group_seq;
  else if (input.to !== undefined) result.seq = seqs[String(input.to)] ?? 0;
  else result.seq = seqs[String(selfMid)] ?? 0;
  return { code, message, result };
}

const URI = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;

/** Op 4: [u16 uriLength][uri][payload]. */
export function requestBody(uri: string, payload: Uint8Array | string | undefined): Uint8Array {
  if (typeof uri !== 'string' || uri.length > 255 || !URI.test(uri) || uri.split('/').some((p) => p === '.' || p === '..')) {
    throw new RingcastError('invalid', `request: bad uri ${JSON.stringify(uri)} (Service/Method: [A-Za-z0-9_.-], one "/", at most 255 bytes)`);
  }
  const u = utf8(uri);
  const p = bodyBytes(payload);
  const out = new Uint8Array(2 + u.length + p.length);
  dataView(out).setUint16(0, u.length);
  out.set(u, 2);
  out.set(p, 2 + u.length);
  return out;
}

/** Op 5: [u16 status][payload]. */
export function parseRequestReply(body: Uint8Array): { status: number; body: Uint8Array } {
  if (body.length < 2) return { status: 502, body: new Uint8Array(0) };
  return { status: dataView(body).getUint16(0), body: body.subarray(2) };
}
