/**
 * RINGCAST_* environment variables: one per key, over the config file. A value that does not
 * parse is kept as the raw string, so that validation reports it with the variable's name.
 */
import { unknownKeyProblem, type ConfigProblem } from './errors.js';
import { getAt, isPlainObject, setOwn } from './objects.js';
import type { EnvKind } from './spec.js';
import { KEY_SPECS } from './table.js';
import { closest } from './suggest.js';

/** Prefix of every environment variable that overrides a key. */
export const ENV_PREFIX = 'RINGCAST_';

/** The environment variable that overrides `key`: `ring.mailboxBytes` → `RINGCAST_RING_MAILBOX_BYTES`. */
export function envName(key: string): string {
  return (
    ENV_PREFIX +
    key
      .split('.')
      .map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())
      .join('_')
  );
}

/** The variable that set a key, and its text as given. */
export interface EnvOverride {
  readonly variable: string;
  readonly raw: string;
}

const INTEGER_TEXT = /^-?[0-9]+$/;
const DECIMAL_TEXT = /^-?\d+(\.\d+)?$/;
const ENV_BOOLEANS: Readonly<Record<string, boolean>> = { true: true, false: false, '1': true, '0': false };

/** What a boolean variable accepts, said instead of the schema's text when its value did not parse. */
export const ENV_BOOLEAN_EXPECTED = 'expected true, false, 1 or 0';

function fromText(kind: EnvKind, raw: string): unknown {
  switch (kind) {
    case 'integer':
      return INTEGER_TEXT.test(raw) ? Number(raw) : raw;
    case 'number':
      return DECIMAL_TEXT.test(raw) ? Number(raw) : raw;
    case 'boolean':
      return Object.prototype.hasOwnProperty.call(ENV_BOOLEANS, raw) ? ENV_BOOLEANS[raw] : raw;
    case 'string':
      return raw;
  }
}

const KEY_BY_VARIABLE: ReadonlyMap<string, string> = new Map([...KEY_SPECS.keys()].map((key) => [envName(key), key]));

/**
 * Applies RINGCAST_* overrides to `merged` in place; returns the overrides by dotted key, plus a
 * problem for each unknown RINGCAST_* variable (probably a misspelling).
 */
export function applyEnv(merged: Record<string, unknown>, env: NodeJS.ProcessEnv): { overrides: Map<string, EnvOverride>; problems: ConfigProblem[] } {
  const overrides = new Map<string, EnvOverride>();
  const problems: ConfigProblem[] = [];
  for (const variable of Object.keys(env).sort()) {
    if (!variable.startsWith(ENV_PREFIX)) continue;
    const raw = env[variable];
    if (raw === undefined) continue;
    const key = KEY_BY_VARIABLE.get(variable);
    if (key === undefined) {
      problems.push(unknownKeyProblem(variable, raw, closest(variable, KEY_BY_VARIABLE.keys()), '', ' in the environment'));
      continue;
    }
    const parts = key.split('.');
    const parent = getAt(merged, parts.slice(0, -1));
    // If the file made the section a non-object, that is reported for the section; skip the override.
    if (!isPlainObject(parent)) continue;
    setOwn(parent, parts[parts.length - 1]!, fromText(KEY_SPECS.get(key)!.env, raw));
    overrides.set(key, { variable, raw });
  }
  return { overrides, problems };
}
