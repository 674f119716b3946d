/**
 * Parsers of the list-valued keys. Each list is one string in the file and the environment (so
 * that one RINGCAST_* variable can set it) and is parsed once, at load, into plain arrays and
 * objects: the parsed config crosses to the worker threads by structured clone (workerData).
 *
 * A parser returns the typed value, or what is wrong as an "expected ..." text naming the bad item.
 */
import { SLOW_CONSUMER_POLICIES, type SlowConsumerPolicy } from './values.js';

/** The items of a comma-separated list, trimmed; empty items (`""`, `"a,,b"`) name nothing. */
export function parseCommaList(text: string): readonly string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** One `upstream.services` entry: op-4 requests to `name/Method` are POSTed to `url/Method`. */
export interface UpstreamService {
  readonly name: string;
  readonly url: string;
}

/**
 * `upstream.services` is "Service=baseURL,Other=baseURL". A service named twice keeps its first
 * position and its last URL, as an object's key would (the call site builds a map from it).
 */
export function parseServices(text: string): readonly UpstreamService[] | string {
  const urls = new Map<string, string>();
  for (const item of parseCommaList(text)) {
    const eq = item.indexOf('=');
    const name = item.slice(0, eq).trim();
    const url = item.slice(eq + 1).trim();
    if (eq <= 0 || !/^[A-Za-z0-9_.-]+$/.test(name) || !/^https?:\/\/./.test(url)) {
      return `expected comma-separated Service=http://host/path pairs (bad item "${item}")`;
    }
    urls.set(name, url);
  }
  return [...urls].map(([name, url]) => ({ name, url }));
}

/** One `push.roomPolicies` item: a room key, or a prefix when `prefix` is set (the text before `*`). */
export interface RoomPolicyRule {
  readonly room: string;
  readonly prefix: boolean;
  readonly policy: SlowConsumerPolicy;
}

/** `push.roomPolicies` is "room=policy,prefix*=policy"; the rules keep the order they were given in. */
export function parseRoomPolicies(text: string): readonly RoomPolicyRule[] | string {
  const out: RoomPolicyRule[] = [];
  for (const item of parseCommaList(text)) {
    // The last "=": a room key may itself contain one.
    const eq = item.lastIndexOf('=');
    const room = item.slice(0, eq).trim();
    const policy = item.slice(eq + 1).trim();
    const star = room.indexOf('*');
    if (eq <= 0 || room === '' || (star >= 0 && star !== room.length - 1) || !(SLOW_CONSUMER_POLICIES as readonly string[]).includes(policy)) {
      return `expected comma-separated room=policy items, room a room key or a prefix ending in *, policy one of ${SLOW_CONSUMER_POLICIES.join(', ')} (bad item "${item}")`;
    }
    out.push({ room: star >= 0 ? room.slice(0, -1) : room, prefix: star >= 0, policy: policy as SlowConsumerPolicy });
  }
  return out;
}
