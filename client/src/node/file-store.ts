/** A SeqStore in a small JSON file (Node): written in place after each message, read once at start. */
import fs from 'node:fs';
import path from 'node:path';
import { parseRecord, type SeqStore } from '../store.js';

export function fileStore(file: string): SeqStore {
  const target = path.resolve(file);
  let fd: number | null = null;
  return {
    load() {
      try {
        return parseRecord(fs.readFileSync(target, 'utf8'));
      } catch {
        return null; // no file yet
      }
    },
    save(r) {
      // One open descriptor, rewritten from offset 0: a few µs per message. The record is padded to
      // a fixed width so that a shorter one never leaves a tail of the longer one behind.
      const text = JSON.stringify(r).padEnd(256, ' ');
      try {
        if (fd === null) {
          fs.mkdirSync(path.dirname(target), { recursive: true });
          fd = fs.openSync(target, 'w');
        }
        fs.writeSync(fd, text, 0, 'utf8');
      } catch {
        fd = null; // the seq is still kept in memory; the next save tries again
      }
    },
  };
}
