/**
 * The generated files: config/default.json (every key at its default) and docs/configuration.md
 * (src/config/intro.md, on how config is given, then every key). Both are written by
 * `npm run config:write` (write.ts), and a test fails when either differs from what this renders.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { envName } from './env.js';
import { KEYS } from './keys.js';
import { PACKAGE_ROOT } from './paths.js';
import { isKey, type KeySpec, type Section } from './spec.js';
import { CONFIG_DEFAULTS, KEY_SPECS } from './table.js';

/** config/default.json: the built-in defaults, two-space indented. */
export function renderDefaultJson(): string {
  return `${JSON.stringify(CONFIG_DEFAULTS, null, 2)}\n`;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function rows(section: Section, prefix: string): string[] {
  return Object.entries(section).flatMap(([name, node]) => {
    const key = prefix === '' ? name : `${prefix}.${name}`;
    if (!isKey(node)) return rows(node, key);
    const spec: KeySpec = node;
    return [`| \`${key}\` | ${cell(spec.type)} | \`${cell(JSON.stringify(spec.default))}\` | \`${envName(key)}\` | ${cell(spec.doc)} |`];
  });
}

const HEADER = ['| Key | Type / range | Default | Environment variable | Meaning |', '| --- | --- | --- | --- | --- |'];

/** The intro: prose, so it is kept as Markdown in the source tree, with the list keys filled in. */
function intro(): string {
  const lists = [...KEY_SPECS].filter(([, spec]) => spec.list).map(([key, spec]) => `\`${key}\` (${spec.type})`);
  const text = readFileSync(path.join(PACKAGE_ROOT, 'src', 'config', 'intro.md'), 'utf8');
  return text.replace('{{lists}}', `${lists.slice(0, -1).join(', ')} and ${lists[lists.length - 1]!}`);
}

/** docs/configuration.md: the intro, then one table per top-level section (top-level keys first). */
export function renderConfigDocs(): string {
  const top: Record<string, KeySpec> = {};
  const sections: [string, Section][] = [];
  for (const [name, node] of Object.entries(KEYS as Section)) {
    if (isKey(node)) top[name] = node;
    else sections.push([name, node]);
  }
  const parts = [intro(), '### Top level\n', [...HEADER, ...rows(top, '')].join('\n') + '\n'];
  for (const [name, section] of sections) parts.push(`### \`${name}\`\n`, [...HEADER, ...rows(section, name)].join('\n') + '\n');
  return parts.join('\n');
}
