import { describe, expect, test, afterAll } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LeaderEpochCache } from './leader-epoch-cache.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'brook-epochs-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): LeaderEpochCache => {
  const dir = path.join(root, String(n++));
  fs.mkdirSync(dir);
  return new LeaderEpochCache(dir);
};

describe('LeaderEpochCache (Kafka LeaderEpochFileCache semantics)', () => {
  test('endOffsetFor', () => {
    const c = fresh();
    expect(c.endOffsetFor(0, 10n)).toEqual({ leaderEpoch: -1, endOffset: -1n });
    c.assign(2, 5n);
    c.assign(4, 20n);
    c.assign(7, 30n);
    const leo = 45n;
    expect(c.endOffsetFor(-1, leo)).toEqual({ leaderEpoch: -1, endOffset: -1n });
    expect(c.endOffsetFor(1, leo)).toEqual({ leaderEpoch: 1, endOffset: 5n });
    expect(c.endOffsetFor(2, leo)).toEqual({ leaderEpoch: 2, endOffset: 20n });
    expect(c.endOffsetFor(3, leo)).toEqual({ leaderEpoch: 2, endOffset: 20n });
    expect(c.endOffsetFor(6, leo)).toEqual({ leaderEpoch: 4, endOffset: 30n });
    expect(c.endOffsetFor(7, leo)).toEqual({ leaderEpoch: 7, endOffset: 45n });
    expect(c.endOffsetFor(8, leo)).toEqual({ leaderEpoch: -1, endOffset: -1n });
  });

  test('assign ignores a repeat, replaces conflicting entries; a flushed checkpoint survives reload', () => {
    const c = fresh();
    c.assign(1, 0n);
    c.assign(1, 10n);
    expect(c.entries).toEqual([{ epoch: 1, startOffset: 0n }]);
    c.assign(3, 10n);
    c.assign(5, 20n);
    c.assign(4, 15n); // older epoch, new start below the latest: entries >= it go
    expect(c.entries).toEqual([{ epoch: 1, startOffset: 0n }, { epoch: 3, startOffset: 10n }, { epoch: 4, startOffset: 15n }]);
    c.truncateFromEnd(15n);
    c.truncateFromStart(12n);
    expect(c.entries).toEqual([{ epoch: 3, startOffset: 12n }]);
    const dir = path.join(root, String(n - 1));
    c.flush();
    const reloaded = new LeaderEpochCache(dir);
    expect(reloaded.load()).toBe(true);
    expect(reloaded.entries).toEqual([{ epoch: 3, startOffset: 12n }]);
    expect(fs.readFileSync(path.join(dir, 'leader-epoch-checkpoint'), 'utf8')).toBe('0\n1\n3 12\n');
  });

  test('changes stay in memory until flush, which writes the file once', () => {
    const c = fresh();
    const file = path.join(root, String(n - 1), 'leader-epoch-checkpoint');
    c.assign(0, 0n);
    c.assign(1, 10n);
    expect(c.unflushed).toBe(true);
    expect(fs.existsSync(file)).toBe(false);
    c.flush();
    expect(c.unflushed).toBe(false);
    expect(fs.readFileSync(file, 'utf8')).toBe('0\n2\n0 0\n1 10\n');
    fs.utimesSync(file, 0, 0);
    c.flush(); // nothing changed: not rewritten
    expect(fs.statSync(file).mtimeMs).toBe(0);
    c.assign(1, 12n); // a repeat of the latest epoch: no change
    expect(c.unflushed).toBe(false);
    c.truncateFromEnd(10n);
    expect(c.unflushed).toBe(true);
    c.flush();
    expect(fs.readFileSync(file, 'utf8')).toBe('0\n1\n0 0\n');
  });

  test('a malformed checkpoint is dropped', () => {
    const c = fresh();
    const dir = path.join(root, String(n - 1));
    fs.writeFileSync(path.join(dir, 'leader-epoch-checkpoint'), '0\n2\n1 5\n');
    expect(c.load()).toBe(false);
    expect(c.entries).toEqual([]);
  });
});
