/**
 * What one config key is: its default (as written in a config file), its description, the type
 * and range shown in the docs, how its RINGCAST_* variable is read, and the zod schema that
 * validates it (and, for list-valued keys, parses it). The builders below derive the docs text and
 * the error message from the same range, so a range is written once.
 *
 * Each schema carries one "expected ..." text used for every way the value can fail.
 */
import { z } from 'zod';

/** A value a config file (and so a RINGCAST_* variable) can give a key. */
export type Leaf = boolean | number | string;

/** How a RINGCAST_* variable's text is turned into a value before validation. */
export type EnvKind = 'integer' | 'number' | 'boolean' | 'string';

export class KeySpec<In extends Leaf = Leaf, Out = unknown> {
  /** The built-in default, in file form. */
  readonly default: In;
  /** What the key means, one or two sentences of Markdown (the docs table's last column). */
  readonly doc: string;
  /** Type and range as shown in the docs ("integer 0..256"). */
  readonly type: string;
  readonly env: EnvKind;
  /** Bounds of a numeric key, both allowed. */
  readonly range: Range | undefined;
  /** The values a key that takes one of a set allows. */
  readonly values: readonly string[] | undefined;
  /** A list in one string, parsed at load (its parsed form is not its file form). */
  readonly list: boolean;
  /** Validates the file form and gives the parsed value. */
  readonly schema: z.ZodType<Out, In>;

  constructor(spec: { default: In; doc: string; type: string; env: EnvKind; schema: z.ZodType<Out, In>; range?: Range; values?: readonly string[]; list?: boolean }) {
    this.default = spec.default;
    this.doc = spec.doc;
    this.type = spec.type;
    this.env = spec.env;
    this.schema = spec.schema;
    this.range = spec.range;
    this.values = spec.values;
    this.list = spec.list ?? false;
  }
}

/** A group of keys (`tcp`, `auth.jwt`, …); the whole config is the top section. */
export interface Section {
  readonly [name: string]: KeySpec<Leaf, unknown> | Section;
}

export function isKey(node: KeySpec<Leaf, unknown> | Section): node is KeySpec<Leaf, unknown> {
  return node instanceof KeySpec;
}

export type Range = readonly [min: number, max: number];

/** Large powers of two read better as 2^n in the docs (im.retainMs: 1000..2^52). */
function showBound(n: number): string {
  return n > 2 ** 32 && Number.isInteger(Math.log2(n)) ? `2^${Math.log2(n)}` : String(n);
}

function intSchema([min, max]: Range, error: string) {
  return z.int({ error }).min(min, { error }).max(max, { error });
}

export function int(dflt: number, range: Range, doc: string): KeySpec<number, number> {
  const [min, max] = range;
  const schema = intSchema(range, `expected an integer between ${min} and ${max}`);
  return new KeySpec({ default: dflt, doc, type: `integer ${showBound(min)}..${showBound(max)}`, env: 'integer', schema, range });
}

export function port(dflt: number, doc: string): KeySpec<number, number> {
  return int(dflt, [0, 65535], doc);
}

/** A number that may have decimals (its RINGCAST_* variable may too). */
export function num(dflt: number, range: Range, doc: string): KeySpec<number, number> {
  const [min, max] = range;
  const error = `expected a number between ${min} and ${max}`;
  const schema = z.number({ error }).min(min, { error }).max(max, { error });
  return new KeySpec({ default: dflt, doc, type: `number ${showBound(min)}..${showBound(max)}`, env: 'number', schema, range });
}

export function powerOfTwo(dflt: number, range: Range, doc: string): KeySpec<number, number> {
  const [min, max] = range;
  const error = `expected a power of two between ${min} and ${max}`;
  const schema = intSchema(range, error).refine((n) => Number.isInteger(Math.log2(n)), { error });
  return new KeySpec({ default: dflt, doc, type: `power of two, ${showBound(min)}..${showBound(max)}`, env: 'integer', schema, range });
}

export function bool(dflt: boolean, doc: string): KeySpec<boolean, boolean> {
  return new KeySpec({ default: dflt, doc, type: 'boolean', env: 'boolean', schema: z.boolean({ error: 'expected a boolean (true or false)' }) });
}

/** Any string; `type` says what it holds in the docs ("string (file)"). */
export function text(dflt: string, doc: string, type = 'string'): KeySpec<string, string> {
  return new KeySpec({ default: dflt, doc, type, env: 'string', schema: z.string({ error: 'expected a string' }) });
}

export function nonEmpty(dflt: string, doc: string, type = 'non-empty string'): KeySpec<string, string> {
  const error = 'expected a non-empty string';
  return new KeySpec({ default: dflt, doc, type, env: 'string', schema: z.string({ error }).min(1, { error }) });
}

/** Empty, or a URL whose scheme is one of `schemes` ("redis:" …). */
export function urlOrEmpty(dflt: string, schemes: readonly string[], doc: string): KeySpec<string, string> {
  const error = `expected empty or a URL starting with ${schemes.map((s) => `${s}//`).join(' or ')}`;
  const ok = (v: string): boolean => {
    if (v === '') return true;
    try {
      return schemes.includes(new URL(v).protocol);
    } catch {
      return false;
    }
  };
  return new KeySpec({ default: dflt, doc, type: `empty or ${schemes.map((s) => `\`${s}//…\``).join(' / ')} URL`, env: 'string', schema: z.string({ error }).refine(ok, { error }) });
}

export function absolutePath(dflt: string, doc: string): KeySpec<string, string> {
  const error = 'expected a string starting with "/"';
  return new KeySpec({ default: dflt, doc, type: 'string starting with `/`', env: 'string', schema: z.string({ error }).startsWith('/', { error }) });
}

export function oneOf<const T extends readonly [string, ...string[]]>(values: T, dflt: T[number], doc: string): KeySpec<T[number], T[number]> {
  const schema = z.enum(values, { error: `expected one of ${values.join(', ')}` }) as unknown as z.ZodType<T[number], T[number]>;
  return new KeySpec({ default: dflt, doc, type: `one of ${values.map((v) => `\`${v}\``).join(', ')}`, env: 'string', schema, values });
}

/**
 * A list in one string (so that one RINGCAST_* variable can set it), parsed into a typed value at
 * load. `parse` returns the value or an "expected ..." text, which becomes the key's problem.
 */
export function list<Out>(dflt: string, doc: string, type: string, parse: (text: string) => Out | string): KeySpec<string, Out> {
  const schema = z.string({ error: 'expected a string' }).transform((value, ctx): Out => {
    const result = parse(value);
    if (typeof result !== 'string') return result;
    ctx.issues.push({ code: 'custom', message: result, input: value });
    return z.NEVER;
  });
  return new KeySpec({ default: dflt, doc, type, env: 'string', schema, list: true });
}
