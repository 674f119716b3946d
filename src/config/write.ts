/**
 * `npm run config:write`: writes config/default.json and docs/configuration.md from the key table.
 * With `--check`, writes nothing and exits 1 naming each file that is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_DOCS_FILE, DEFAULT_CONFIG_FILE, PACKAGE_ROOT } from './paths.js';
import { renderConfigDocs, renderDefaultJson } from './render.js';

function current(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

const check = process.argv.includes('--check');
let stale = 0;
for (const [file, text] of [
  [DEFAULT_CONFIG_FILE, renderDefaultJson()],
  [CONFIG_DOCS_FILE, renderConfigDocs()],
] as const) {
  const name = path.relative(PACKAGE_ROOT, file);
  if (current(file) === text) continue;
  if (check) {
    process.stderr.write(`${name} is stale: run npm run config:write\n`);
    stale++;
  } else {
    writeFileSync(file, text);
    process.stdout.write(`wrote ${name}\n`);
  }
}
process.exitCode = stale > 0 ? 1 : 0;
