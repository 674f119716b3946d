/** Where the package's config files are. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (three levels up from dist/src/config/). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The config file read when no `--config` is given. */
export const DEFAULT_CONFIG_FILE = path.join(PACKAGE_ROOT, 'config', 'default.json');

/** The generated key reference (render.ts). */
export const CONFIG_DOCS_FILE = path.join(PACKAGE_ROOT, 'docs', 'configuration.md');
