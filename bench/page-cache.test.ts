/**
 * bench/page-cache.ts on real files: which files are a topic's segments, how much of them the
 * page cache holds (fincore), and that reading them through puts them back after the cache was
 * dropped (GNU dd's iflag=nocache: posix_fadvise DONTNEED on clean pages).
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeResidency, readThrough, residency, topicSegmentFiles } from './page-cache.ts';

let dataDir: string;
const SEGMENT = 3 * 1024 * 1024 + 5;

beforeAll(() => {
  // tmpfs pages cannot be dropped: use the disk the build runs on
  dataDir = mkdtempSync(join(process.cwd(), '.page-cache-test-'));
  for (const dir of ['bench-acks-1-0', 'bench-acks-1-7', 'bench-acks-10-0', 'bench-acks-all-0', 'other']) mkdirSync(join(dataDir, dir));
  writeFileSync(join(dataDir, 'bench-acks-1-0', '00000000000000000000.log'), Buffer.alloc(SEGMENT, 1));
  writeFileSync(join(dataDir, 'bench-acks-1-0', '00000000000000000000.index'), Buffer.alloc(4096));
  writeFileSync(join(dataDir, 'bench-acks-1-7', '00000000000000000000.log'), Buffer.alloc(SEGMENT, 7));
  writeFileSync(join(dataDir, 'bench-acks-1-7', '00000000000000001234.log'), Buffer.alloc(SEGMENT, 8));
  writeFileSync(join(dataDir, 'bench-acks-10-0', '00000000000000000000.log'), Buffer.alloc(10));
  writeFileSync(join(dataDir, 'bench-acks-all-0', '00000000000000000000.log'), Buffer.alloc(10));
  writeFileSync(join(dataDir, 'other', 'bench-acks-1-0.log'), Buffer.alloc(10));
});

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

test('a topic\'s segments are the *.log files of its partition directories only (not bench-acks-10\'s, not indexes)', () => {
  expect(topicSegmentFiles(dataDir, 'bench-acks-1').map((f) => f.slice(dataDir.length + 1))).toEqual([
    'bench-acks-1-0/00000000000000000000.log',
    'bench-acks-1-7/00000000000000000000.log',
    'bench-acks-1-7/00000000000000001234.log',
  ]);
  expect(topicSegmentFiles(dataDir, 'no-such-topic')).toEqual([]);
});

test('residency sees the cache dropped, and reading the segments through brings every byte back', () => {
  const files = topicSegmentFiles(dataDir, 'bench-acks-1');
  expect(spawnSync('sync').status).toBe(0);
  for (const f of files) {
    const dd = spawnSync('dd', [`if=${f}`, 'iflag=nocache', 'count=0', 'status=none']);
    expect(dd.status).toBe(0);
  }
  const dropped = residency(files);
  expect(dropped?.totalBytes).toBe(3 * SEGMENT);
  expect(dropped!.residentBytes).toBeLessThan(SEGMENT);

  expect(readThrough(files)).toBe(3 * SEGMENT);
  const warm = residency(files);
  // fincore counts whole pages: the last page of each file counts in full
  expect(warm!.residentBytes).toBeGreaterThanOrEqual(3 * SEGMENT - 3 * 4096);
  expect(describeResidency(warm)).toBe('100 % of 9 MiB');
  expect(describeResidency({ residentBytes: 0, totalBytes: 0 })).toBe('no data');
  expect(describeResidency(undefined)).toBe('unknown (no fincore)');
});
