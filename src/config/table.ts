/**
 * Walks of the key table: the list of keys, the built-in defaults and the lookups that validation
 * and the did-you-mean hints need.
 */
import { KEYS } from './keys.js';
import { deepFreeze } from './objects.js';
import { isKey, type KeySpec, type Leaf, type Section } from './spec.js';
import type { ConfigFile } from './types.js';

function entries(section: Section, prefix: string): [string, KeySpec][] {
  return Object.entries(section).flatMap(([name, node]): [string, KeySpec][] => {
    const key = prefix === '' ? name : `${prefix}.${name}`;
    return isKey(node) ? [[key, node]] : entries(node, key);
  });
}

function defaultsOf(section: Section): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, node] of Object.entries(section)) out[name] = isKey(node) ? node.default : defaultsOf(node);
  return out;
}

/** Every key with its spec, dotted (`ring.mailboxBytes`), in table order. */
export const KEY_SPECS: ReadonlyMap<string, KeySpec> = new Map(entries(KEYS, ''));

/** Every leaf key, dotted, in table order. */
export const CONFIG_KEYS: readonly string[] = [...KEY_SPECS.keys()];

/** The built-in defaults in file form (config/default.json is written from it), deeply frozen. */
export const CONFIG_DEFAULTS: ConfigFile = deepFreeze(defaultsOf(KEYS) as unknown as ConfigFile);

/** The built-in default of a dotted key. */
export function defaultOf(key: string): Leaf | undefined {
  return KEY_SPECS.get(key)?.default;
}

/** Names of the keys and sections at the level of `parentPath` (top level when empty). */
export function knownKeysAt(parentPath: readonly PropertyKey[]): string[] {
  let node: KeySpec | Section = KEYS;
  for (const p of parentPath) {
    if (isKey(node)) return [];
    if (!Object.prototype.hasOwnProperty.call(node, p)) return [];
    node = node[String(p)]!;
  }
  return isKey(node) ? [] : Object.keys(node);
}
