/**
 * From an input object to a Config: built-in defaults < the input (a config file) < RINGCAST_*
 * variables; then per-key validation (schema.ts) and cross-field rules (rules.ts). Every problem
 * is collected and thrown as one ConfigError.
 */
import type { z } from 'zod';
import { ConfigError, unknownKeyProblem, valueProblem, type ConfigProblem } from './errors.js';
import { ENV_BOOLEAN_EXPECTED, applyEnv, envName, type EnvOverride } from './env.js';
import { deepFreeze, deepMerge, getAt, isPlainObject } from './objects.js';
import { crossFieldProblems } from './rules.js';
import { ConfigSchema, OBJECT_EXPECTED } from './schema.js';
import { closest } from './suggest.js';
import { CONFIG_DEFAULTS, KEY_SPECS, defaultOf, knownKeysAt } from './table.js';
import type { Config } from './types.js';

/**
 * Where a value came from, for the end of its problem line: the variable that set it, the built-in
 * default (the user gave nothing, so no file is blamed: say where the key can be given), or `source`.
 */
function problemLine(key: string, value: unknown, expected: string, override: EnvOverride | undefined, fileSuffix: string): ConfigProblem {
  if (override !== undefined) {
    // A boolean variable that did not parse: say what the environment accepts.
    const exp = KEY_SPECS.get(key)?.env === 'boolean' && typeof value === 'string' ? ENV_BOOLEAN_EXPECTED : expected;
    return valueProblem(override.variable, override.raw, exp, `${override.variable} (${key})`);
  }
  if (KEY_SPECS.has(key) && Object.is(value, defaultOf(key))) {
    return valueProblem(key, value, expected, key, ` (left at its default: set it in a --config file or with ${envName(key)})`);
  }
  return valueProblem(key, value, expected, key, fileSuffix);
}

/** One line per unknown key (with a did-you-mean hint) and per bad key (zod may report several checks of one value). */
function schemaProblems(
  merged: Record<string, unknown>,
  issues: readonly z.core.$ZodIssue[],
  line: (key: string, value: unknown, expected: string) => ConfigProblem,
  suffix: string,
): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const seen = new Set<string>();
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(issue.path);
      for (const k of issue.keys) {
        const full = [...issue.path.map(String), k].join('.');
        if (seen.has(full)) continue;
        seen.add(full);
        const near = closest(k, known);
        const suggestion = near === undefined ? undefined : [...issue.path.map(String), near].join('.');
        out.push(unknownKeyProblem(full, getAt(merged, [...issue.path, k]), suggestion, suffix));
      }
      continue;
    }
    const key = issue.path.length === 0 ? '(root)' : issue.path.map(String).join('.');
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(line(key, getAt(merged, issue.path), issue.message));
  }
  return out;
}

/**
 * Deep-merges `input` over the defaults, applies RINGCAST_* overrides from `env` (omitted = none;
 * pass process.env explicitly), validates, parses the list-valued keys, and returns a deeply frozen
 * Config. `source` (e.g. the file name) is appended to problems about values that came from `input`.
 * Throws ConfigError listing every problem.
 */
export function resolveConfig(input: unknown, env: NodeJS.ProcessEnv = {}, source?: string): Config {
  const suffix = source === undefined ? '' : ` (in ${source})`;
  if (input === undefined) input = {};
  if (!isPlainObject(input)) throw new ConfigError([valueProblem('(root)', input, OBJECT_EXPECTED, '(root)', suffix)]);

  const merged = deepMerge(CONFIG_DEFAULTS as unknown as Record<string, unknown>, input);
  const { overrides, problems } = applyEnv(merged, env);
  const line = (key: string, value: unknown, expected: string): ConfigProblem => problemLine(key, value, expected, overrides.get(key), suffix);

  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) {
    problems.push(...schemaProblems(merged, parsed.error.issues, line, suffix));
    throw new ConfigError(problems);
  }
  for (const p of crossFieldProblems(parsed.data)) problems.push(line(p.key, p.value, p.expected));
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(parsed.data);
}
