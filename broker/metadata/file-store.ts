/**
 * FileStore: the single-node MetadataStore that keeps `npm start`'s topics across restarts.
 * Format: one JSON document (`metadata.json`) holding the whole MemoryStore state. Each write
 * goes to `metadata.json.tmp`, is fsynced, and renamed over the old file, so a crash leaves
 * either the old or the new state, never a torn one. One process owns the file.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { MetadataError, MetadataErrorCode } from './errors.ts';
import { MemoryStore } from './memory-store.ts';
import type { MemoryStoreState } from './memory-store.ts';

export class FileStore extends MemoryStore {
  private readonly file: string;

  private constructor(file: string) {
    super();
    this.file = file;
  }

  /** Opens (or creates) the store kept in `dir`. */
  static open(dir: string): FileStore {
    mkdirSync(dir, { recursive: true });
    const store = new FileStore(join(dir, 'metadata.json'));
    if (existsSync(store.file)) {
      let state: MemoryStoreState;
      try {
        state = JSON.parse(readFileSync(store.file, 'utf8')) as MemoryStoreState;
      } catch (err) {
        throw new MetadataError(MetadataErrorCode.METADATA_CORRUPT, `cannot read ${store.file}: ${(err as Error).message}`, { cause: err });
      }
      store.restore(state);
    } else {
      store.persist();
    }
    return store;
  }

  protected override async commit(apply: () => void): Promise<void> {
    const before = this.snapshot();
    apply();
    try {
      this.persist();
    } catch (err) {
      this.restore(before);
      throw err;
    }
  }

  private persist(): void {
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, JSON.stringify(this.snapshot(), null, 1));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
  }
}
