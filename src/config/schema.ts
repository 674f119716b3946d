/**
 * The zod schema of the whole config, assembled from the key table: each section a strict object
 * (unknown keys are errors), each key its own schema. Cross-field rules are in rules.ts.
 */
import { z } from 'zod';
import { KEYS } from './keys.js';
import { isKey, type Section } from './spec.js';
import type { Config, ConfigFile } from './types.js';

export const OBJECT_EXPECTED = 'expected an object';

function sectionSchema(section: Section): z.ZodType {
  const shape: Record<string, z.ZodType> = {};
  for (const [name, node] of Object.entries(section)) shape[name] = isKey(node) ? node.schema : sectionSchema(node);
  return z.strictObject(shape, { error: OBJECT_EXPECTED });
}

/**
 * Per-key validation and parsing. The cast only names what the walk builds: each key's schema
 * and its type in `Config` come from the same table entry.
 */
export const ConfigSchema = sectionSchema(KEYS) as z.ZodType<Config, ConfigFile>;
