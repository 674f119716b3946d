/**
 * Reliable-messaging routes of the control port (docs/reliable-messaging.md), JSON in and out with
 * goim's envelope:
 *   POST /im/send          {"from", "to": [mid...], "op", "body", "client_msg_id"} → {"seq": {"<mid>": n}}
 *   POST /im/group/send    {"from", "group", "op", "body", "client_msg_id"} → {"seq": {...}} or {"group_seq": n}
 *   GET  /im/inbox?mid=&after=&limit=        → {"messages": [{seq, from, op, body, client_msg_id, ts}]}
 *   GET  /im/devices?mid=                     → {"devices": [{"device", "read"}], "last_seq"} (read positions, newest seq)
 *   GET  /im/group/inbox?group=&after=&limit= (read fan-out groups)
 *   POST /im/group/create  {"group", "members": [...]}; /im/group/add, /im/group/remove likewise
 *   GET  /im/group/members?group=            → {"group", "members": [...]}
 * A 200 on a send means the message is durably stored (committed and flushed) in every inbox named.
 * Unknown fields are refused (400 naming them): a typo such as "clientMsgId" must not silently
 * turn off duplicate protection.
 *
 * Size: a message body is at most im.maxMessageBytes on every path (413 here, op 111 code 413 for a
 * client's op 110; checked by src/im/service.ts). The request itself is bounded by control.maxBodyBytes
 * and a client packet by protocol.maxBodyBytes, as every request and packet is.
 */
import { checkMid, MAX_PAGE, type ImService } from '../im/service.js';
import { HttpError, intParam, type ApiContext, type ApiRequest, type ApiRoute } from './goim-api.js';

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const MAX_CLIENT_MSG_ID = 256;
const MAX_GROUP_CHANGE = 100_000;

function im(ctx: ApiContext): ImService {
  if (ctx.im === null) throw new HttpError(503, 'reliable messaging not available');
  return ctx.im;
}

const SEND_FIELDS = ['from', 'to', 'op', 'body', 'client_msg_id'] as const;
const GROUP_SEND_FIELDS = ['from', 'group', 'op', 'body', 'client_msg_id'] as const;
const GROUP_FIELDS = ['group', 'members'] as const;

/** The JSON object body of a POST, with only the `fields` named (400 naming the others). */
function jsonBody(req: ApiRequest, fields: readonly string[]): Record<string, unknown> {
  const b = parseJsonObject(req);
  const unknown = Object.keys(b).filter((k) => !fields.includes(k));
  if (unknown.length > 0) throw new HttpError(400, `body: unknown field${unknown.length === 1 ? '' : 's'} ${unknown.map((k) => JSON.stringify(k)).join(', ')} (expected ${fields.join(', ')})`);
  return b;
}

function parseJsonObject(req: ApiRequest): Record<string, unknown> {
  if (req.apiBody.length === 0) throw new HttpError(400, 'body: empty (expected a JSON object)');
  let v: unknown;
  try {
    v = JSON.parse(req.apiBody.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, `body: invalid JSON (${(err as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, 'body: expected a JSON object');
  return v as Record<string, unknown>;
}

function mid(v: unknown, what: string): number {
  try {
    return checkMid(v, what);
  } catch (err) {
    throw new HttpError(400, (err as Error).message);
  }
}

function midList(v: unknown, what: string, max: number): number[] {
  if (!Array.isArray(v)) throw new HttpError(400, `${what}: expected an array of user ids`);
  if (v.length > max) throw new HttpError(400, `${what}: more than ${max} ids`);
  return v.map((x, i) => mid(x, `${what}[${i}]`));
}

interface Message {
  from: number;
  op: number;
  body: Buffer;
  clientMsgId: string;
}

function message(b: Record<string, unknown>): Message {
  const from = mid(b['from'], '"from"');
  const op = b['op'] ?? 1000;
  if (typeof op !== 'number' || !Number.isInteger(op) || op < INT32_MIN || op > INT32_MAX) throw new HttpError(400, `"op" must be an int32, got ${JSON.stringify(op)}`);
  const body = b['body'];
  if (typeof body !== 'string') throw new HttpError(400, '"body" must be a string');
  const cmid = b['client_msg_id'] ?? '';
  if (typeof cmid !== 'string' || Buffer.byteLength(cmid) > MAX_CLIENT_MSG_ID) throw new HttpError(400, `"client_msg_id" must be a string of at most ${MAX_CLIENT_MSG_ID} bytes`);
  return { from, op, body: Buffer.from(body, 'utf8'), clientMsgId: cmid };
}

async function send(ctx: ApiContext, req: ApiRequest): Promise<unknown> {
  const b = jsonBody(req, SEND_FIELDS);
  const m = message(b);
  const to = midList(b['to'], '"to"', 10_000);
  return { seq: await im(ctx).sendToUsers(m.from, to, m.op, m.body, m.clientMsgId) };
}

async function groupSend(ctx: ApiContext, req: ApiRequest): Promise<unknown> {
  const b = jsonBody(req, GROUP_SEND_FIELDS);
  const m = message(b);
  const gid = mid(b['group'], '"group"');
  return im(ctx).sendToGroup(m.from, gid, m.op, m.body, m.clientMsgId);
}

function page(req: ApiRequest): { after: number; limit: number } {
  return { after: intParam(req.apiQuery, 'after', 0, Number.MAX_SAFE_INTEGER, undefined, 0), limit: intParam(req.apiQuery, 'limit', 1, MAX_PAGE, undefined, 100) };
}

async function inbox(ctx: ApiContext, req: ApiRequest): Promise<unknown> {
  const m = intParam(req.apiQuery, 'mid', 1, Number.MAX_SAFE_INTEGER);
  const { after, limit } = page(req);
  return { messages: await im(ctx).inbox(m, after, limit) };
}

async function devices(ctx: ApiContext, req: ApiRequest): Promise<unknown> {
  const m = intParam(req.apiQuery, 'mid', 1, Number.MAX_SAFE_INTEGER);
  // last_seq: the newest message's seq, so that a reader (the dashboard) can ask for the inbox's tail.
  return { devices: await im(ctx).store.readPositions(m), last_seq: await im(ctx).store.lastSeq(m) };
}

async function groupInbox(ctx: ApiContext, req: ApiRequest): Promise<unknown> {
  const gid = intParam(req.apiQuery, 'group', 1, Number.MAX_SAFE_INTEGER);
  const { after, limit } = page(req);
  return { messages: await im(ctx).groupInbox(gid, after, limit) };
}

async function groupCreate(ctx: ApiContext, req: ApiRequest): Promise<unknown> {
  const b = jsonBody(req, GROUP_FIELDS);
  const gid = mid(b['group'], '"group"');
  const members = midList(b['members'] ?? [], '"members"', MAX_GROUP_CHANGE);
  if (!(await im(ctx).store.createGroup(gid, members))) throw new HttpError(409, `group ${gid} exists`);
  return { group: gid, member_count: (await im(ctx).store.group(gid))![1] };
}

function groupChange(kind: 'add' | 'remove') {
  return async (ctx: ApiContext, req: ApiRequest): Promise<unknown> => {
    const b = jsonBody(req, GROUP_FIELDS);
    const gid = mid(b['group'], '"group"');
    const members = midList(b['members'], '"members"', MAX_GROUP_CHANGE);
    const ok = await im(ctx).changeMembers(gid, kind === 'add' ? members : [], kind === 'remove' ? members : []);
    if (!ok) throw new HttpError(404, `unknown group ${gid}`);
    return { group: gid, member_count: (await im(ctx).store.group(gid))![1] };
  };
}

async function groupMembers(ctx: ApiContext, req: ApiRequest): Promise<unknown> {
  const gid = intParam(req.apiQuery, 'group', 1, Number.MAX_SAFE_INTEGER);
  if ((await im(ctx).store.group(gid)) === undefined) throw new HttpError(404, `unknown group ${gid}`);
  return { group: gid, members: await im(ctx).store.groupMembers(gid) };
}

const GET = ['GET'] as const;
const POST = ['POST'] as const;

export const IM_ROUTES: ReadonlyArray<readonly [string, ApiRoute]> = [
  ['/im/send', { label: '/im/send', methods: POST, body: true, handle: send }],
  ['/im/group/send', { label: '/im/group/send', methods: POST, body: true, handle: groupSend }],
  ['/im/inbox', { label: '/im/inbox', methods: GET, body: false, handle: inbox }],
  ['/im/devices', { label: '/im/devices', methods: GET, body: false, handle: devices }],
  ['/im/group/inbox', { label: '/im/group/inbox', methods: GET, body: false, handle: groupInbox }],
  // Group administration is rare and evicts removed members' connections from the group's room on
  // every worker: the acceptor does it (hop) when the workers serve the port.
  ['/im/group/create', { label: '/im/group/create', methods: POST, body: true, hop: true, handle: groupCreate }],
  ['/im/group/add', { label: '/im/group/add', methods: POST, body: true, hop: true, handle: groupChange('add') }],
  ['/im/group/remove', { label: '/im/group/remove', methods: POST, body: true, hop: true, handle: groupChange('remove') }],
  ['/im/group/members', { label: '/im/group/members', methods: GET, body: false, handle: groupMembers }],
];
