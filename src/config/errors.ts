/**
 * Config problems and the error that lists them. Every line names the key (dotted path, `--config`,
 * `argv` or a RINGCAST_* variable), the value given and what was expected.
 */
import { StartupError } from '../errors.js';

/** One problem with the configuration. */
export interface ConfigProblem {
  /** Dotted path of the key (`ring.mailboxBytes`), or `--config` / `argv` / an env variable name. */
  readonly key: string;
  /** The value given (the raw string for env variables). */
  readonly value: unknown;
  /** What is expected, starting with "expected " or "a known key". */
  readonly expected: string;
  /** The line reported for this problem. */
  readonly message: string;
}

/**
 * Every problem found (at least one); the message is their lines joined by newlines, and
 * `key`/`value`/`expected` describe the first one. A start-up error with exit code 2 (src/main.ts).
 */
export class ConfigError extends StartupError {
  /** Key of the first problem. */
  readonly key: string;
  /** Value given for the first problem. */
  readonly value: unknown;
  /** Expectation of the first problem. */
  readonly expected: string;
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    if (problems.length === 0) throw new TypeError('ConfigError needs at least one problem');
    super(problems.map((p) => p.message).join('\n'), 2);
    this.name = 'ConfigError';
    const first = problems[0]!;
    this.key = first.key;
    this.value = first.value;
    this.expected = first.expected;
    this.problems = problems;
  }
}

/** A value as it appears in a problem line: JSON, cut at 200 characters. */
export function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return String(value);
    return text.length > 200 ? `${text.slice(0, 200)}…` : text;
  } catch {
    return String(value);
  }
}

/** `config: <label> = <value>: <expected><suffix>`; `label` is the key unless an env variable set it. */
export function valueProblem(key: string, value: unknown, expected: string, label = key, suffix = ''): ConfigProblem {
  return { key, value, expected, message: `config: ${label} = ${show(value)}: ${expected}${suffix}` };
}

export function unknownKeyProblem(key: string, value: unknown, suggestion: string | undefined, suffix = '', where = ''): ConfigProblem {
  const hint = suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`;
  return { key, value, expected: 'a known key', message: `config: unknown key "${key}"${where}${hint}${suffix}` };
}
