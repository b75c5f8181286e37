import { afterAll, afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore, MemoryStore } from './index.ts';
import { describeStoreConformance, partitionsOf, specOf } from './store-conformance.ts';

describeStoreConformance('memory', { create: async () => new MemoryStore() });

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
function freshDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'brook-store-'));
  dirs.push(d);
  return d;
}
const fileDirs = new WeakMap<object, string>();

describeStoreConformance('file', {
  create: async () => {
    const dir = freshDir();
    const s = FileStore.open(dir);
    fileDirs.set(s, dir);
    return s;
  },
  reopen: async (old) => {
    const dir = fileDirs.get(old)!;
    await old.close();
    const s = FileStore.open(dir);
    fileDirs.set(s, dir);
    return s;
  },
});

describe('FileStore', () => {
  test('a corrupt metadata file is a clear error, not an empty cluster', () => {
    const dir = freshDir();
    FileStore.open(dir);
    writeFileSync(join(dir, 'metadata.json'), '{"clusterId": "x", "topi');
    expect(() => FileStore.open(dir)).toThrow(expect.objectContaining({ code: 'BROOK_ERR_METADATA_CORRUPT' }));
  });

  test('a leftover temp file from a crash mid-write does not affect the committed state', async () => {
    const dir = freshDir();
    const s = FileStore.open(dir);
    await s.createTopic(specOf('kept'), partitionsOf(1));
    writeFileSync(join(dir, 'metadata.json.tmp'), '{ torn');
    const again = FileStore.open(dir);
    expect((await again.getTopic('kept'))?.spec.name).toBe('kept');
    expect(JSON.parse(readFileSync(join(dir, 'metadata.json'), 'utf8')).topics).toHaveLength(1);
  });
});
