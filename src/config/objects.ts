/**
 * Helpers over the raw, untrusted input (parsed JSON): own keys only, so that a "__proto__" key in
 * a file stays an unknown key instead of reaching a prototype.
 */

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The value at `keys` below `root`, own properties only; undefined when a step is missing. */
export function getAt(root: unknown, keys: readonly PropertyKey[]): unknown {
  let node = root;
  for (const k of keys) {
    if (!isPlainObject(node)) return undefined;
    node = Object.prototype.hasOwnProperty.call(node, k) ? node[String(k)] : undefined;
  }
  return node;
}

export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  // defineProperty so that a "__proto__" key from JSON stays an (unknown) own key.
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** `input` over `base`; sections that are not objects on either side are taken from `input` as given. */
export function deepMerge(base: Record<string, unknown>, input: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(base)) setOwn(out, k, isPlainObject(v) ? deepMerge(v, {}) : v);
  for (const [k, v] of Object.entries(input)) {
    const b = Object.prototype.hasOwnProperty.call(base, k) ? base[k] : undefined;
    setOwn(out, k, isPlainObject(b) && isPlainObject(v) ? deepMerge(b, v) : v);
  }
  return out;
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
