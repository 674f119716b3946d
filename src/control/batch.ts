/**
 * Control routes beyond goim: POST /push/batch (many pushes in one request, JSON or msgpack) and
 * GET /sessions?mid=N. Same `{code, message, data}` envelope as the goim routes.
 *
 * Batch body: {"pushes": [{"op": 1000, "keys": [...]} | {"op": 1000, "mids": [...]} |
 * {"op": 1000, "room": "live://1"}, each with "body" (UTF-8 string; bytes in msgpack) or
 * "body_base64"]}. The whole batch is validated before anything is pushed; pushes are then applied
 * in order, one after the other.
 */
import { decode } from '@msgpack/msgpack';
import { ServiceError } from '../errors.js';
import type { PushResult } from '../push/types.js';
import { HttpError, intParam, service, type ApiContext, type ApiRequest, type ApiRoute } from './goim-api.js';

interface BatchItem {
  op: number;
  keys: string[] | null;
  mids: number[] | null;
  room: string | null;
  body: Uint8Array;
}

const EMPTY = new Uint8Array(0);
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT_TEXT = /^-?\d+$/;
const BASE64 = /^[A-Za-z0-9+/\-_]*={0,2}$/;
const ITEM_FIELDS = new Set(['op', 'keys', 'mids', 'room', 'body', 'body_base64']);

function bad(path: string, expected: string): HttpError {
  return new HttpError(400, `${path}: ${expected}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function mediaType(req: ApiRequest): string {
  const ct = req.headers['content-type'];
  if (ct === undefined) return '';
  const semi = ct.indexOf(';');
  return (semi < 0 ? ct : ct.slice(0, semi)).trim().toLowerCase();
}

function decodeBody(req: ApiRequest): unknown {
  const type = mediaType(req);
  const body = req.apiBody;
  if (type === 'application/json') {
    if (body.length === 0) throw new HttpError(400, 'body: empty (expected a JSON object {"pushes": [...]})');
    try {
      return JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw new HttpError(400, `body: invalid JSON (${(err as Error).message})`);
    }
  }
  if (type === 'application/msgpack' || type === 'application/x-msgpack') {
    if (body.length === 0) throw new HttpError(400, 'body: empty (expected a msgpack map {"pushes": [...]})');
    try {
      return decode(body);
    } catch (err) {
      throw new HttpError(400, `body: invalid msgpack (${(err as Error).message})`);
    }
  }
  throw new HttpError(415, `content-type must be application/json, application/msgpack or application/x-msgpack, got ${type === '' ? 'none' : `"${type}"`}`);
}

/** Validates the decoded batch; `maxTargets` bounds keys+mids over all items. */
export function parseBatch(input: unknown, maxTargets: number): BatchItem[] {
  if (!isObject(input)) throw bad('body', 'expected an object {"pushes": [...]}');
  const pushes = input['pushes'];
  if (!Array.isArray(pushes) || pushes.length === 0) throw bad('pushes', 'expected a non-empty array');
  const items = new Array<BatchItem>(pushes.length);
  let targets = 0;
  for (let i = 0; i < pushes.length; i++) {
    const item = parseItem(pushes[i], `pushes[${i}]`);
    targets += item.keys !== null ? item.keys.length : item.mids !== null ? item.mids.length : 0;
    if (targets > maxTargets) {
      throw new HttpError(400, `pushes[${i}]: more than ${maxTargets} keys+mids in the batch (the limit is control.batchMaxTargets)`, 'control.batchMaxTargets');
    }
    items[i] = item;
  }
  return items;
}

function parseItem(v: unknown, path: string): BatchItem {
  if (!isObject(v)) throw bad(path, 'expected an object {"op", "keys" | "mids" | "room", "body" | "body_base64"}');
  for (const k of Object.keys(v)) {
    if (!ITEM_FIELDS.has(k)) throw bad(`${path}.${k}`, 'unknown field (expected op, keys, mids, room, body or body_base64)');
  }
  const op = v['op'];
  if (typeof op !== 'number' || !Number.isInteger(op) || op < INT32_MIN || op > INT32_MAX) throw bad(`${path}.op`, 'expected an int32');
  const targets = (v['keys'] !== undefined ? 1 : 0) + (v['mids'] !== undefined ? 1 : 0) + (v['room'] !== undefined ? 1 : 0);
  if (targets !== 1) throw bad(path, 'expected exactly one of "keys", "mids" or "room"');
  const item: BatchItem = { op, keys: null, mids: null, room: null, body: EMPTY };
  if (v['keys'] !== undefined) item.keys = parseKeys(v['keys'], `${path}.keys`);
  else if (v['mids'] !== undefined) item.mids = parseMids(v['mids'], `${path}.mids`);
  else {
    const room = v['room'];
    if (typeof room !== 'string' || room === '') throw bad(`${path}.room`, 'expected a non-empty string (the room key, "type://id")');
    item.room = room;
  }
  const body = v['body'];
  const b64 = v['body_base64'];
  if (body !== undefined && b64 !== undefined) throw bad(path, 'expected "body" or "body_base64", not both');
  if (typeof body === 'string') item.body = Buffer.from(body, 'utf8');
  else if (body instanceof Uint8Array) item.body = body;
  else if (body !== undefined) throw bad(`${path}.body`, 'expected a string (UTF-8), or bytes in msgpack');
  else if (b64 !== undefined) {
    if (typeof b64 !== 'string' || !BASE64.test(b64)) throw bad(`${path}.body_base64`, 'expected a base64 string');
    item.body = Buffer.from(b64, 'base64');
  }
  return item;
}

function parseKeys(v: unknown, path: string): string[] {
  if (!Array.isArray(v) || v.length === 0) throw bad(path, 'expected a non-empty array of strings');
  for (let j = 0; j < v.length; j++) {
    const k: unknown = v[j];
    if (typeof k !== 'string' || k === '') throw bad(`${path}[${j}]`, 'expected a non-empty string');
  }
  return v as string[];
}

function parseMids(v: unknown, path: string): number[] {
  if (!Array.isArray(v) || v.length === 0) throw bad(path, 'expected a non-empty array of integers');
  const out = new Array<number>(v.length);
  for (let j = 0; j < v.length; j++) {
    const m: unknown = v[j];
    let n = NaN;
    if (typeof m === 'number') n = m;
    else if (typeof m === 'bigint') n = Number(m);
    else if (typeof m === 'string' && INT_TEXT.test(m)) n = Number(m);
    if (!Number.isSafeInteger(n)) throw bad(`${path}[${j}]`, 'expected an integer (up to 2^53-1)');
    out[j] = n;
  }
  return out;
}

async function pushBatch(ctx: ApiContext, req: ApiRequest): Promise<unknown> {
  const push = service(ctx);
  const items = parseBatch(decodeBody(req), ctx.batchMaxTargets);
  // Every push is issued at once, in order (the rings keep per-destination order), and then awaited:
  // awaiting each before issuing the next made a batch of room pushes cost one merge window each.
  const issued = items.map((it): Promise<PushResult> => {
    try {
      return it.keys !== null ? push.pushKeys(it.op, it.keys, it.body) : it.mids !== null ? push.pushMids(it.op, it.mids, it.body) : push.pushRoom(it.op, it.room!, it.body);
    } catch (err) {
      return Promise.reject(err as Error); // a refusal may be thrown before any promise exists
    }
  });
  const settled = await Promise.allSettled(issued);
  const results = new Array<{ connections: number }>(items.length);
  let total = 0;
  let queued = 0;
  let firstFailure = -1;
  for (let i = 0; i < settled.length; i++) {
    const s = settled[i]!;
    if (s.status === 'rejected') {
      if (firstFailure < 0) firstFailure = i;
      continue;
    }
    queued++;
    ctx.metrics.countPush('batch', s.value.connections, items[i]!.body.length);
    results[i] = { connections: s.value.connections };
    total += s.value.connections;
  }
  if (firstFailure >= 0) {
    const err = (settled[firstFailure] as PromiseRejectedResult).reason as unknown;
    const others = `${queued} of the ${items.length} pushes were queued`;
    if (err instanceof ServiceError) throw new HttpError(err.status, `pushes[${firstFailure}]: ${err.message} (${others})`);
    ctx.log.error({ err, index: firstFailure }, 'batch push failed');
    throw new HttpError(500, `pushes[${firstFailure}]: push failed (${others})`);
  }
  return { results, connections: total };
}

async function sessions(ctx: ApiContext, req: ApiRequest): Promise<unknown> {
  const mid = intParam(req.apiQuery, 'mid', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 'an integer');
  return { mid, sessions: await service(ctx).sessions(mid) };
}

export const BATCH_ROUTES: ReadonlyArray<readonly [string, ApiRoute]> = [
  ['/push/batch', { label: '/push/batch', methods: ['POST'], body: true, handle: pushBatch }],
  ['/sessions', { label: '/sessions', methods: ['GET'], body: false, handle: sessions }],
];
