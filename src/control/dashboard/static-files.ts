/**
 * The dashboard's static files: a fixed table built once at start-up from the files of `dashboard/`
 * (the page, its modules and styles) and the few library files it uses from node_modules. A request
 * is answered by looking its raw URL path up in the table, so no part of a URL ever becomes a
 * file-system path: `..`, `%2e%2e`, double encoding and backslashes simply are not keys (404).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../config/paths.js';
import { StartupError } from '../../errors.js';

export interface StaticFile {
  readonly body: Buffer;
  readonly contentType: string;
  /** Strong validator of the body, quoted (If-None-Match → 304). */
  readonly etag: string;
}

/** URL of the page itself. */
export const PAGE_PATH = '/dashboard';
/** URL prefix of every other file. */
export const STATIC_PREFIX = '/dashboard/static/';

/** Libraries served to the page, URL under STATIC_PREFIX → file under the package root (exact versions in package.json). */
export const VENDOR_FILES: ReadonlyArray<readonly [string, string]> = [
  ['vendor/preact.mjs', 'node_modules/preact/dist/preact.mjs'],
  ['vendor/htm.mjs', 'node_modules/htm/dist/htm.mjs'],
  ['vendor/uPlot.esm.js', 'node_modules/uplot/dist/uPlot.esm.js'],
  ['vendor/uPlot.min.css', 'node_modules/uplot/dist/uPlot.min.css'],
];

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** File and folder names taken from dashboard/: plain names only (nothing to escape, nothing hidden). */
const PLAIN_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

function file(absolute: string, rel: string): StaticFile {
  let body: Buffer;
  try {
    body = fs.readFileSync(absolute);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new StartupError(`control.dashboard: cannot read ${rel} (${code}); run \`npm ci\`, or turn the dashboard off with control.dashboard false`);
  }
  const contentType = CONTENT_TYPES[path.extname(absolute)];
  if (contentType === undefined) throw new Error(`no content type for ${rel}`);
  return { body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

/** Relative paths (with `/`) of the servable files under `dir`, recursively. */
function listDir(dir: string, rel: string, out: string[]): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!PLAIN_NAME.test(entry.name)) continue;
    const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
    if (entry.isDirectory()) listDir(path.join(dir, entry.name), childRel, out);
    else if (entry.isFile() && CONTENT_TYPES[path.extname(entry.name)] !== undefined) out.push(childRel);
  }
}

const cache = new Map<string, ReadonlyMap<string, StaticFile>>();

/**
 * The table: URL path → file. `/dashboard` is dashboard/index.html; every other file of dashboard/
 * and each of VENDOR_FILES is under `/dashboard/static/`. Read once per process (files are small);
 * a file that cannot be read stops start-up with a message naming it.
 */
export function staticFiles(root: string = PACKAGE_ROOT): ReadonlyMap<string, StaticFile> {
  const cached = cache.get(root);
  if (cached !== undefined) return cached;
  const dir = path.join(root, 'dashboard');
  const table = new Map<string, StaticFile>();
  table.set(PAGE_PATH, file(path.join(dir, 'index.html'), 'dashboard/index.html'));
  const own: string[] = [];
  try {
    listDir(dir, '', own);
  } catch (err) {
    throw new StartupError(`control.dashboard: cannot list dashboard/ (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  for (const rel of own) if (rel !== 'index.html') table.set(STATIC_PREFIX + rel, file(path.join(dir, ...rel.split('/')), `dashboard/${rel}`));
  for (const [url, rel] of VENDOR_FILES) table.set(STATIC_PREFIX + url, file(path.join(root, ...rel.split('/')), rel));
  cache.set(root, table);
  return table;
}
