/**
 * The frames of the streaming push API (`/push/stream`, docs/control-api.md): binary, big-endian,
 * several requests (or answers) back to back in one WebSocket message.
 *
 * Request (service → server):
 *   [u8 target][u32 id][i32 op][u32 n][u32 bodyLen] then the n targets, then bodyLen bytes of body
 *     target 1 keys:  n × [u16 len][key, UTF-8]
 *     target 2 mids:  n × [u32 high][u32 low]   (an unsigned 64-bit integer, at most 2^53−1)
 *     target 3 room:  n = 1, [u16 len][room key "type://id", UTF-8]
 *     target 4 all:   n = 0
 * Answer (server → service), one per request, in the order the pushes complete:
 *   [u8 1][u32 id][u32 connections]                       queued to that many connections
 *   [u8 2][u32 id][u16 status][u16 len][message, UTF-8]   refused: the HTTP status and message
 *
 * The server reads requests in place (src/control/stream.ts); this module is what both sides share.
 */
import { stringListBytes, writeStringList } from '../string-list.js';

export const enum StreamTarget {
  Keys = 1,
  Mids = 2,
  Room = 3,
  All = 4,
}

export const enum StreamAnswerType {
  Ok = 1,
  Error = 2,
}

/** Bytes of a request before its targets. */
export const REQUEST_HEAD = 17;
/** Bytes of an ok answer. */
export const OK_ANSWER = 9;

export type StreamPush =
  | { keys: readonly string[]; op: number; body?: Uint8Array | string }
  | { mids: readonly number[]; op: number; body?: Uint8Array | string }
  | { room: string; op: number; body?: Uint8Array | string }
  | { all: true; op: number; body?: Uint8Array | string };

const enc = new TextEncoder();
const dec = new TextDecoder();

/** One request's bytes. */
export function encodeStreamRequest(id: number, push: StreamPush): Uint8Array {
  const body = push.body === undefined ? new Uint8Array(0) : typeof push.body === 'string' ? enc.encode(push.body) : push.body;
  let target: StreamTarget;
  let n: number;
  let strings: Uint8Array[] = [];
  let mids: readonly number[] = [];
  if ('keys' in push) {
    target = StreamTarget.Keys;
    strings = push.keys.map((k) => enc.encode(k));
    n = strings.length;
  } else if ('mids' in push) {
    target = StreamTarget.Mids;
    mids = push.mids;
    n = mids.length;
  } else if ('room' in push) {
    target = StreamTarget.Room;
    strings = [enc.encode(push.room)];
    n = 1;
  } else {
    target = StreamTarget.All;
    n = 0;
  }
  const out = new Uint8Array(REQUEST_HEAD + stringListBytes(strings) + mids.length * 8 + body.length);
  const dv = new DataView(out.buffer);
  out[0] = target;
  dv.setUint32(1, id);
  dv.setInt32(5, push.op);
  dv.setUint32(9, n);
  dv.setUint32(13, body.length);
  let at = writeStringList(out, dv, REQUEST_HEAD, strings);
  for (const m of mids) {
    dv.setUint32(at, Math.floor(m / 0x100000000));
    dv.setUint32(at + 4, m >>> 0);
    at += 8;
  }
  out.set(body, at);
  return out;
}

export interface StreamAnswer {
  id: number;
  /** Connections queued to (ok), or -1 for a refusal. */
  connections: number;
  /** 0 for ok, else the HTTP status of the refusal. */
  status: number;
  message: string;
}

/** The answers in one message; throws on a message that is not a sequence of answers. */
export function decodeStreamAnswers(buf: Uint8Array): StreamAnswer[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: StreamAnswer[] = [];
  let at = 0;
  while (at < buf.length) {
    const type = buf[at]!;
    if (type === StreamAnswerType.Ok && at + OK_ANSWER <= buf.length) {
      out.push({ id: dv.getUint32(at + 1), connections: dv.getUint32(at + 5), status: 0, message: '' });
      at += OK_ANSWER;
    } else if (type === StreamAnswerType.Error && at + 9 <= buf.length) {
      const len = dv.getUint16(at + 7);
      if (at + 9 + len > buf.length) throw new Error(`truncated answer at byte ${at}`);
      out.push({ id: dv.getUint32(at + 1), connections: -1, status: dv.getUint16(at + 5), message: dec.decode(buf.subarray(at + 9, at + 9 + len)) });
      at += 9 + len;
    } else {
      throw new Error(`bad answer at byte ${at} (type ${type})`);
    }
  }
  return out;
}
