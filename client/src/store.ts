/**
 * Where the client keeps the last reliable-message seq it handed to the app, so that a page reload
 * or a process restart resumes exactly there (options.store). The record names the user and device
 * it belongs to; a record of another mid or key is ignored.
 */

export interface SeqRecord {
  mid: number;
  key: string;
  seq: number;
}

export interface SeqStore {
  /** The saved record, or null (may be async: it is read once, before the first sync). */
  load(): SeqRecord | null | Promise<SeqRecord | null>;
  /** Saves the record; called after each message handed to the app, so keep it cheap and synchronous. */
  save(record: SeqRecord): void;
}

export function parseRecord(text: string | null | undefined): SeqRecord | null {
  if (text === null || text === undefined || text === '') return null;
  try {
    const r = JSON.parse(text) as Partial<SeqRecord>;
    if (typeof r.mid === 'number' && typeof r.key === 'string' && Number.isSafeInteger(r.seq) && (r.seq as number) >= 0) return { mid: r.mid, key: r.key, seq: r.seq as number };
  } catch {
    // a torn or foreign value: start from the server's read position
  }
  return null;
}

interface StorageLike {
  getItem(name: string): string | null;
  setItem(name: string, value: string): void;
}

/** A store in localStorage under `name` (browsers). */
export function localStorageStore(name: string): SeqStore {
  const storage = (globalThis as unknown as { localStorage?: StorageLike }).localStorage;
  if (storage === undefined) throw new TypeError('options.store: no localStorage here (in Node, the store is a file path)');
  return {
    load: () => parseRecord(storage.getItem(name)),
    save: (r) => {
      try {
        storage.setItem(name, JSON.stringify(r));
      } catch {
        // quota or privacy mode: the seq is still kept in memory
      }
    },
  };
}
