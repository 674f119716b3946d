/**
 * The command line and the config file: `--config FILE` / `--config=FILE` (default
 * config/default.json), read as JSON, then resolved with the environment (resolve.ts).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, show, valueProblem } from './errors.js';
import { DEFAULT_CONFIG_FILE } from './paths.js';
import { resolveConfig } from './resolve.js';
import type { Config } from './types.js';

/** The file named by `--config` in `argv`, if any; any other argument is an error. */
function configArgument(argv: readonly string[]): string | undefined {
  let file: string | undefined;
  const given = (value: string | undefined): void => {
    if (file !== undefined) throw new ConfigError([valueProblem('--config', value, 'expected --config only once')]);
    if (value === undefined || value === '') throw new ConfigError([valueProblem('--config', value, 'expected a file name after --config')]);
    file = value;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--config') given(argv[++i]);
    else if (arg.startsWith('--config=')) given(arg.slice('--config='.length));
    else {
      throw new ConfigError([
        { key: 'argv', value: arg, expected: 'expected --config FILE or --config=FILE', message: `config: unknown argument ${show(arg)}: expected --config FILE or --config=FILE` },
      ]);
    }
  }
  return file;
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigError([valueProblem('--config', file, `expected a readable JSON file (${reason})`)]);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError([valueProblem('--config', file, `expected a file containing valid JSON (${(err as Error).message})`)]);
  }
}

/**
 * Reads the config file named by `--config FILE` / `--config=FILE` in `argv` (process.argv.slice(2);
 * default config/default.json in the package root), then resolves it with `env`.
 */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): Config {
  const file = configArgument(argv);
  const resolved = file === undefined ? DEFAULT_CONFIG_FILE : path.resolve(file);
  return resolveConfig(readJson(resolved), env, resolved);
}
