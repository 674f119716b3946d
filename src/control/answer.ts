/**
 * What every control server shares, whoever parsed the request: the route table, running a
 * route's handler into an answer (data in goim's envelope, a RawReply, or a refusal as
 * {code: -status, message}) and the query parsing. Used where the port is served
 * (src/control/http.ts) and where the acceptor answers the routes handed to it
 * (src/control/acceptor-control.ts).
 */
import querystring from 'node:querystring';
import type { LimitName } from '../limits.js';
import type { Logger } from '../logger.js';
import { ServiceError } from '../errors.js';
import { BATCH_ROUTES } from './batch.js';
import { IM_ROUTES } from './im-api.js';
import { GOIM_ROUTES, RawReply, type ApiContext, type ApiRequest, type ApiRoute, type Query } from './goim-api.js';

export const JSON_TYPE = 'application/json; charset=utf-8';
export const EMPTY_QUERY: Query = Object.freeze(Object.create(null) as Query);

/** The query of a URL after its `?` (repeated keys as arrays, no bound on their number). */
export function parseQuery(text: string): Query {
  return querystring.parse(text, '&', '=', { maxKeys: 0 }) as Query;
}

export interface Answer {
  status: number;
  contentType: string;
  text: string;
  limit: LimitName | null;
}

/** Runs a route's handler: its data in the envelope, its RawReply, or its refusal. */
export async function answer(api: ApiContext, route: ApiRoute, req: ApiRequest, log: Logger, url: string | undefined): Promise<Answer> {
  try {
    const data = await route.handle(api, req);
    if (data instanceof RawReply) return { status: data.status, contentType: data.contentType, text: data.text, limit: null };
    return { status: 200, contentType: JSON_TYPE, text: JSON.stringify({ code: 0, message: '', data }), limit: null };
  } catch (err) {
    // Every refusal (HttpError, PushRefused, ImError) is a ServiceError: its status, its message.
    if (err instanceof ServiceError) return { status: err.status, contentType: JSON_TYPE, text: JSON.stringify({ code: -err.status, message: err.message }), limit: err.limit };
    log.error({ err, url }, 'control request failed');
    return errorAnswer(500, 'internal error');
  }
}

/** A refusal in goim's envelope. */
export function errorAnswer(status: number, message: string): Answer {
  return { status, contentType: JSON_TYPE, text: JSON.stringify({ code: -status, message }), limit: null };
}

/** The routes every control server has, with the acceptor's own as given (and POST /admin/kick where requests are parsed). */
export function routeTable(own: { byPath: Array<[string, ApiRoute]>; debug: ApiRoute }, kick: Array<[string, ApiRoute]> = []): { routes: Map<string, ApiRoute>; debug: ApiRoute } {
  return { routes: new Map<string, ApiRoute>([...own.byPath, ...GOIM_ROUTES, ...BATCH_ROUTES, ...IM_ROUTES, ...kick]), debug: own.debug };
}

