/**
 * The config's types, derived from the key table so that a key's type is written once (in keys.ts).
 * `Config` is the validated, parsed form every module reads; `ConfigFile` is what a JSON file holds.
 */
import type { KEYS } from './keys.js';
import type { KeySpec, Leaf } from './spec.js';

/** The parsed value of every key (list-valued keys as arrays), all read-only. */
export type Parsed<S> = { readonly [K in keyof S]: S[K] extends KeySpec<Leaf, infer Out> ? Out : Parsed<S[K]> };

/** The file form of every key, as written in JSON or a RINGCAST_* variable. */
export type FileForm<S> = { readonly [K in keyof S]: S[K] extends KeySpec<infer In, unknown> ? In : FileForm<S[K]> };

type DeepPartial<T> = { -readonly [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** The validated config (deeply frozen at load). */
export type Config = Parsed<typeof KEYS>;

/** A complete config file: every key in its file form (config/default.json is one). */
export type ConfigFile = FileForm<typeof KEYS>;

/** What `resolveConfig` accepts: any subset of the keys; missing ones take their defaults. */
export type ConfigInput = DeepPartial<ConfigFile>;

export type AuthConfig = Config['auth'];
export type ImConfig = Config['im'];
export type MultiLoginConfig = Config['multiLogin'];
export type PushConfig = Config['push'];
