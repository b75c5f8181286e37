import { afterAll, expect, test } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { claimPartitionDir, listPartitionDirs, PARTITION_METADATA } from './partition-metadata.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'brook-claim-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

test('claimPartitionDir creates a new directory, keeps its own, and empties one left by an earlier topic of the same name', async () => {
  const dir = path.join(root, 'orders-0');
  const stale: string[] = [];
  expect(await claimPartitionDir(dir, 'id-1', (d) => stale.push(d))).toBe(true); // new: nothing to recover
  expect(fs.readFileSync(path.join(dir, PARTITION_METADATA), 'utf8')).toBe('version: 0\ntopic_id: id-1\n');
  fs.writeFileSync(path.join(dir, '00000000000000000000.log'), 'data');

  expect(await claimPartitionDir(dir, 'id-1', (d) => stale.push(d))).toBe(false); // the same topic: the data stays
  expect(fs.existsSync(path.join(dir, '00000000000000000000.log'))).toBe(true);
  expect(stale).toEqual([]);

  expect(await claimPartitionDir(dir, 'id-2', (d) => stale.push(d))).toBe(true); // re-created topic: the old data goes
  expect(stale).toEqual(['version: 0, topic_id: id-1']);
  expect(fs.readdirSync(dir)).toEqual([PARTITION_METADATA]);
  expect(await listPartitionDirs(root)).toEqual([{ name: 'orders-0', topicId: 'id-2' }]);
});

test('claimPartitionDir keeps the files of a directory whose claim was interrupted before partition.metadata was written, and reports it as not new', async () => {
  const dir = path.join(root, 'payments-0');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, '00000000000000000000.log'), 'data');
  expect(await claimPartitionDir(dir, 'id-3', () => { throw new Error('not stale'); })).toBe(false);
  expect(fs.readdirSync(dir).sort()).toEqual(['00000000000000000000.log', PARTITION_METADATA]);
});
