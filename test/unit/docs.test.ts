/**
 * The reference pages say what the code does: every disconnect code of src/errors.ts stands in
 * docs/protocol.md (its Disconnect codes section) with the reconnect meaning the table gives it (the column a client SDK obeys), and
 * every route of the control port stands in docs/control-api.md. A code or route added without its
 * line in the docs fails here.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { KEYS } from '../../src/config/keys.js';
import { PACKAGE_ROOT } from '../../src/config/paths.js';
import { ADMIN_PATHS } from '../../src/control/admin-api.js';
import { BATCH_ROUTES } from '../../src/control/batch.js';
import { DASHBOARD_PATHS } from '../../src/control/dashboard/index.js';
import { GOIM_ROUTES } from '../../src/control/goim-api.js';
import { IM_ROUTES } from '../../src/control/im-api.js';
import { STREAM_PATH } from '../../src/control/stream.js';
import { DISCONNECTS, type Reconnect } from '../../src/errors.js';

const read = (page: string): string => fs.readFileSync(path.join(PACKAGE_ROOT, 'docs', page), 'utf8');

/** The last cell of the first table row of `page` whose first cell is `code`. */
function lastCell(page: string, code: number): string | undefined {
  const row = page.split('\n').find((line) => line.startsWith(`| ${code} |`));
  if (row === undefined) return undefined;
  const cells = row.split('|').map((c) => c.trim()).filter((c) => c !== '');
  return cells[cells.length - 1];
}

const MEANING: Record<Reconnect, RegExp> = {
  no: /^no\b/,
  'after-delay': /^yes, after `reconnect_after_ms`/,
  backoff: /^yes, with backoff/,
};

/** The text of one `## heading` section of a page, up to the next `## `. */
function section(page: string, heading: string): string {
  const start = page.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `no section "${heading}"`);
  const end = page.indexOf('\n## ', start + 1);
  return page.slice(start, end < 0 ? undefined : end);
}

describe('docs: reference tables match the code', () => {
  const protocol = section(read('protocol.md'), 'Disconnect codes');

  for (const d of DISCONNECTS) {
    it(`disconnect code ${d.code} (${d.name}) is in docs/protocol.md, reconnect ${d.reconnect}`, () => {
      const cell = lastCell(protocol, d.code);
      assert.ok(cell !== undefined, `no row for code ${d.code} in docs/protocol.md`);
      // 1000 is the close frame of every orderly close: its meaning is the op 6 code's.
      if (d.code === 1000) assert.match(cell, /op 6 code/);
      else assert.match(cell, MEANING[d.reconnect], `code ${d.code}: "${cell}"`);
    });
  }

  it('every control route is in docs/control-api.md', () => {
    const page = read('control-api.md');
    const paths = ['/health', '/metrics', STREAM_PATH, '/debug/router', '/debug/memory', ...[...GOIM_ROUTES, ...BATCH_ROUTES, ...IM_ROUTES].map(([p]) => p), ...ADMIN_PATHS, ...DASHBOARD_PATHS];
    const missing = paths.filter((p) => !new RegExp('`(GET |POST )?' + p.replace(/[/]/g, '\\/') + '[`?]').test(page));
    assert.deepEqual(missing, []);
  });

  it('every cluster.* key is named in docs/cluster.md', () => {
    const page = read('cluster.md');
    const missing = Object.keys(KEYS.cluster).filter((k) => !page.includes(`\`cluster.${k}\``));
    assert.deepEqual(missing, []);
  });
});
