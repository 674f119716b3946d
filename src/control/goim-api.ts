/**
 * goim logic's HTTP API (docs/control-api.md), same paths, parameters and `{code, message, data}`
 * envelope, served under /goim. Differences from goim: errors also set the HTTP status (4xx/5xx,
 * with `code` = -status), push routes answer `{"connections": n}`, and array parameters may be
 * given comma-separated in one parameter as well as repeated.
 *
 * Also the request-side primitives shared by the control routes (HttpError, query helpers).
 */
import type { IncomingHttpHeaders } from 'node:http';
import os from 'node:os';
import { CONFIG_DEFAULTS } from '../config/index.js';
import { errorCodeOf, ServiceError } from '../errors.js';
import type { LimitName } from '../limits.js';
import type { Logger } from '../logger.js';
import type { ImService } from '../im/service.js';
import type { CrashMode, NodesOptions } from '../messages.js';
import type { PushService } from '../push/types.js';
import type { ControlCounters } from './metrics.js';

export type { NodesOptions } from '../messages.js';

/** A request the control API refuses: answered with `status` (a ServiceError, see src/errors.ts). */
export class HttpError extends ServiceError {
  constructor(status: number, message: string, limit: LimitName | null = null) {
    super(status, message, errorCodeOf(status), limit);
  }
}

/** Parsed query string (node:querystring): repeated parameters are arrays. */
export type Query = Record<string, string | string[] | undefined>;

/** What a route handler sees of a request. */
export interface ApiRequest {
  readonly method?: string | undefined;
  readonly headers: IncomingHttpHeaders;
  apiPath: string;
  apiQuery: Query;
  apiBody: Buffer;
  /** A request handed over by a worker: the worker that took it (see AcceptorControl). */
  apiFrom?: number;
  /** Set by the crash test command when the worker that took the request is the one to crash. */
  apiCrashAfter?: CrashMode;
}

/**
 * What /goim/nodes/* report when the server is built without `nodes` (tests of the control port
 * alone): the config defaults (goim's values), with no wss port since TLS is off by default.
 */
const n = CONFIG_DEFAULTS.nodes;
export const DEFAULT_NODES: NodesOptions = {
  domain: n.domain,
  tcpPort: CONFIG_DEFAULTS.tcp.port,
  wsPort: CONFIG_DEFAULTS.ws.port,
  wssPort: 0,
  heartbeatSec: n.heartbeatSec,
  heartbeatMax: n.heartbeatMax,
  backoff: { maxDelay: n.backoffMaxDelay, baseDelay: n.backoffBaseDelay, factor: n.backoffFactor, jitter: n.backoffJitter },
  addrs: [],
};

/** Per-server state the route handlers use. */
export interface ApiContext {
  push: PushService | null;
  /** Reliable messaging (/im/* routes); null = those answer 503. */
  im: ImService | null;
  metrics: ControlCounters;
  batchMaxTargets: number;
  log: Logger;
  nodes: NodesReplies;
  /** Cluster mode: the live boxes (null on one box). */
  liveNodes: LiveNodesSource | null;
  /** True once the server is shutting down: it stops advertising itself in /goim/nodes. */
  draining(): boolean;
}

export interface ApiRoute {
  /** Label of the route in ringcast_http_requests_total. */
  label: string;
  /** Accepted methods (HEAD is accepted wherever GET is); null = the handler checks. */
  methods: readonly string[] | null;
  /** Whether the request body is read (bounded by maxBodyBytes) into `apiBody`. */
  body: boolean;
  /**
   * Answered by the acceptor when the workers serve the port (health, metrics, test commands, group
   * administration): the worker hands it over after the token, rate and body checks.
   */
  hop?: boolean;
  /** Returns `data` of the `{code: 0, message: "", data}` reply, or a RawReply. */
  handle(ctx: ApiContext, req: ApiRequest): Promise<unknown>;
}

/** A reply sent as is instead of the envelope (/health, /metrics). */
export class RawReply {
  constructor(
    readonly status: number,
    readonly contentType: string,
    readonly text: string,
  ) {}
}

// ---------------------------------------------------------------------------------------------
// Query parameters

const INT_TEXT = /^-?\d+$/;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** First value of `name` (gin's c.Query), or undefined when absent or empty. */
export function first(q: Query, name: string): string | undefined {
  const v = q[name];
  const s = typeof v === 'string' ? v : v === undefined ? undefined : v[0];
  return s === undefined || s === '' ? undefined : s;
}

export function required(q: Query, name: string): string {
  const s = first(q, name);
  if (s === undefined) throw new HttpError(400, `missing query parameter "${name}"`);
  return s;
}

/** All values of `name`: repeated parameters and/or comma-separated values; empty items dropped. */
export function list(q: Query, name: string): string[] {
  const v = q[name];
  if (v === undefined) return [];
  const out: string[] = [];
  if (typeof v === 'string') splitInto(v, out);
  else for (const s of v) splitInto(s, out);
  return out;
}

function splitInto(s: string, out: string[]): void {
  if (s.indexOf(',') < 0) {
    if (s !== '') out.push(s);
    return;
  }
  for (const part of s.split(',')) {
    const t = part.trim();
    if (t !== '') out.push(t);
  }
}

export function requiredList(q: Query, name: string): string[] {
  const values = list(q, name);
  if (values.length === 0) throw new HttpError(400, `missing query parameter "${name}"`);
  return values;
}

/** An integer parameter in [min, max]; `what` names the type in the message ("an int32"). */
export function intParam(q: Query, name: string, min: number, max: number, what?: string, dflt?: number): number {
  const raw = first(q, name);
  if (raw === undefined) {
    if (dflt !== undefined) return dflt;
    throw new HttpError(400, `missing query parameter "${name}"`);
  }
  const n = INT_TEXT.test(raw) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) {
    const expected = what ?? `an integer between ${min} and ${max}`;
    throw new HttpError(400, `query parameter "${name}" must be ${expected}, got "${raw}"`);
  }
  return n;
}

export function operation(q: Query): number {
  return intParam(q, 'operation', INT32_MIN, INT32_MAX, 'an int32');
}

function mids(q: Query): number[] {
  const values = requiredList(q, 'mids');
  const out = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) {
    const s = values[i]!;
    const n = INT_TEXT.test(s) ? Number(s) : NaN;
    if (!Number.isSafeInteger(n)) throw new HttpError(400, `query parameter "mids" must be integers (up to 2^53-1), got "${s}"`);
    out[i] = n;
  }
  return out;
}

export function service(ctx: ApiContext): PushService {
  if (ctx.push === null) throw new HttpError(503, 'push service not available');
  return ctx.push;
}

// ---------------------------------------------------------------------------------------------
// /goim/nodes replies (computed once per server)

export interface NodesWeighted {
  domain: string;
  tcp_port: number;
  ws_port: number;
  wss_port: number;
  heartbeat: number;
  heartbeat_max: number;
  nodes: string[];
  backoff: { max_delay: number; base_delay: number; factor: number; jitter: number };
}

/** A live box as /goim/nodes/weighted lists it in cluster mode: its id and advertised addresses (host, tcp, ws, wss). */
export interface LiveNodeInfo {
  node_id: string;
  addrs: Readonly<Record<string, string>>;
  weight: number;
}
export type LiveNodesSource = () => Promise<LiveNodeInfo[]>;

export interface NodesReplies {
  web: NodesWeighted;
  other: NodesWeighted;
  instanceAddrs: string[];
}

const MAX_NODES = 5;

export function nodesReplies(n: NodesOptions): NodesReplies {
  const base = {
    domain: n.domain,
    tcp_port: n.tcpPort,
    ws_port: n.wsPort,
    wss_port: n.wssPort,
    heartbeat: n.heartbeatSec,
    heartbeat_max: n.heartbeatMax,
    backoff: { max_delay: n.backoff.maxDelay, base_delay: n.backoff.baseDelay, factor: n.backoff.factor, jitter: n.backoff.jitter },
  };
  const addrs = n.addrs.filter((a) => a !== '').slice(0, MAX_NODES);
  const hosts = addrs.length > 0 ? addrs : [n.domain !== '' ? n.domain : os.hostname()];
  const instanceAddrs: string[] = [];
  for (const h of hosts) {
    const host = h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
    if (n.tcpPort > 0) instanceAddrs.push(`tcp://${host}:${n.tcpPort}`);
    if (n.wsPort > 0) instanceAddrs.push(`ws://${host}:${n.wsPort}`);
    if (n.wssPort > 0) instanceAddrs.push(`wss://${host}:${n.wssPort}`);
  }
  return {
    web: { ...base, nodes: n.domain !== '' ? [n.domain] : addrs },
    other: { ...base, nodes: addrs },
    instanceAddrs,
  };
}

// ---------------------------------------------------------------------------------------------
// Handlers

async function pushKeys(ctx: ApiContext, req: ApiRequest): Promise<unknown> {
  const q = req.apiQuery;
  const op = operation(q);
  const keys = requiredList(q, 'keys');
  const r = await service(ctx).pushKeys(op, keys, req.apiBody);
  ctx.metrics.countPush('keys', r.connections, req.apiBody.length);
  return { connections: r.connections };
}

async function pushMids(ctx: ApiContext, req: ApiRequest): Promise<unknown> {
  const q = req.apiQuery;
  const op = operation(q);
  const m = mids(q);
  const r = await service(ctx).pushMids(op, m, req.apiBody);
  ctx.metrics.countPush('mids', r.connections, req.apiBody.length);
  return { connections: r.connections };
}

async function pushRoom(ctx: ApiContext, req: ApiRequest): Promise<unknown> {
  const q = req.apiQuery;
  const op = operation(q);
  const type = required(q, 'type');
  const room = required(q, 'room');
  const r = await service(ctx).pushRoom(op, `${type}://${room}`, req.apiBody);
  ctx.metrics.countPush('room', r.connections, req.apiBody.length);
  return { connections: r.connections };
}

async function pushAll(ctx: ApiContext, req: ApiRequest): Promise<unknown> {
  const q = req.apiQuery;
  const op = operation(q);
  const speed = intParam(q, 'speed', 0, INT32_MAX, 'a non-negative int32', 0);
  const r = await service(ctx).pushAll(op, speed, req.apiBody);
  ctx.metrics.countPush('all', r.connections, req.apiBody.length);
  return { connections: r.connections };
}

async function onlineTop(ctx: ApiContext, req: ApiRequest): Promise<unknown> {
  const q = req.apiQuery;
  const type = required(q, 'type');
  const limit = intParam(q, 'limit', 1, INT32_MAX, 'a positive int32');
  return service(ctx).onlineTop(type, limit);
}

async function onlineRoom(ctx: ApiContext, req: ApiRequest): Promise<unknown> {
  const q = req.apiQuery;
  const type = required(q, 'type');
  const rooms = requiredList(q, 'rooms');
  return service(ctx).onlineRooms(type, rooms);
}

async function onlineTotal(ctx: ApiContext): Promise<unknown> {
  return service(ctx).onlineTotal();
}

async function nodesWeighted(ctx: ApiContext, req: ApiRequest): Promise<unknown> {
  const web = first(req.apiQuery, 'platform') === 'web';
  const reply = web ? ctx.nodes.web : ctx.nodes.other;
  // A draining node sends clients elsewhere: it lists no node (itself included) any more.
  if (ctx.draining()) return { ...reply, nodes: [] };
  if (ctx.liveNodes === null) return reply;
  // Cluster mode: every live box. `nodes` keeps goim's shape (hosts; the ports are the fields
  // beside it), `ringcast_nodes` has each box's own addresses, for boxes that differ in ports.
  const live = await ctx.liveNodes();
  const hosts: string[] = [];
  for (const n of live) {
    const h = (web && ctx.nodes.web.domain !== '' ? ctx.nodes.web.domain : n.addrs.host) ?? '';
    if (h !== '' && !hosts.includes(h)) hosts.push(h);
  }
  return { ...reply, nodes: hosts.length > 0 ? hosts : reply.nodes, ringcast_nodes: live };
}

async function nodesInstances(ctx: ApiContext): Promise<unknown> {
  return [
    {
      region: '',
      zone: '',
      env: '',
      appid: 'goim.comet',
      hostname: os.hostname(),
      addrs: ctx.draining() ? [] : ctx.nodes.instanceAddrs,
      version: '',
      latest_timestamp: Date.now() * 1e6,
      metadata: {},
    },
  ];
}

const GET = ['GET'] as const;
const POST = ['POST'] as const;

/** The goim routes, by path. */
export const GOIM_ROUTES: ReadonlyArray<readonly [string, ApiRoute]> = [
  ['/goim/push/keys', { label: '/goim/push/keys', methods: POST, body: true, handle: pushKeys }],
  ['/goim/push/mids', { label: '/goim/push/mids', methods: POST, body: true, handle: pushMids }],
  ['/goim/push/room', { label: '/goim/push/room', methods: POST, body: true, handle: pushRoom }],
  ['/goim/push/all', { label: '/goim/push/all', methods: POST, body: true, handle: pushAll }],
  ['/goim/online/top', { label: '/goim/online/top', methods: GET, body: false, handle: onlineTop }],
  ['/goim/online/room', { label: '/goim/online/room', methods: GET, body: false, handle: onlineRoom }],
  ['/goim/online/total', { label: '/goim/online/total', methods: GET, body: false, handle: onlineTotal }],
  ['/goim/nodes/weighted', { label: '/goim/nodes/weighted', methods: GET, body: false, handle: nodesWeighted }],
  ['/goim/nodes/instances', { label: '/goim/nodes/instances', methods: GET, body: false, handle: nodesInstances }],
];
