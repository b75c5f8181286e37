/**
 * The chaos checker catches what it claims to: a lost record, a record at another offset, a
 * duplicate, a replica that lacks a batch, and replicas whose bytes differ — and passes on
 * replicas that agree. Pure logic over real RecordBatch v2 bytes.
 */
import { describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeBatch } from '../../broker/log/testing/record-batch-builder.ts';
import { checkAcknowledged, replicaFromDirectory } from './chaos-checker.ts';
import type { AckedRecord, ReplicaBytes } from './chaos-checker.ts';

/** Batches of one record each, `values[i]` at offset i, leader epoch `epoch`. */
function log(values: string[], epoch = 0): Buffer {
  return Buffer.concat(values.map((value, i) => encodeBatch([{ value }], { baseOffset: BigInt(i), partitionLeaderEpoch: epoch, baseTimestamp: 1_700_000_000_000 })));
}

const replica = (name: string, batches: Buffer): ReplicaBytes => ({ replica: name, logStartOffset: 0n, batches });
const acks = (values: string[]): AckedRecord[] => values.map((value, i) => ({ client: 'test', partition: 0, offset: BigInt(i), value }));

describe('checkAcknowledged', () => {
  test('identical replicas holding every acknowledged record at its offset: no problem, each verified on each', () => {
    const bytes = log(['a', 'b', 'c']);
    const report = checkAcknowledged(acks(['a', 'b', 'c']), [{ partition: 0, highWatermark: 3n, inSync: [replica('r0', bytes), replica('r1', Buffer.from(bytes))] }]);
    expect(report).toEqual({ problems: [], verified: 6, bytesCompared: bytes.length * 2 });
  });

  test('a lost acknowledged record is reported', () => {
    const report = checkAcknowledged(acks(['a', 'b', 'c']), [{ partition: 0, highWatermark: 2n, inSync: [replica('r0', log(['a', 'b']))] }]);
    expect(report.problems).toEqual([
      'partition 0: test record c acknowledged at offset 2, at or above the high watermark 2',
      'partition 0 on r0: test record c acknowledged at offset 2; found nothing',
    ]);
  });

  test('a record at another offset than its acknowledgement named is reported', () => {
    const report = checkAcknowledged(acks(['a', 'b']), [{ partition: 0, highWatermark: 2n, inSync: [replica('r0', log(['b', 'a']))] }]);
    expect(report.problems).toEqual([
      'partition 0 on r0: test record a acknowledged at offset 0; found b',
      'partition 0 on r0: test record b acknowledged at offset 1; found a',
    ]);
  });

  test('a duplicate is reported', () => {
    const report = checkAcknowledged(acks(['a', 'b']), [{ partition: 0, highWatermark: 3n, inSync: [replica('r0', log(['a', 'b', 'a']))] }]);
    expect(report.problems).toEqual(['partition 0 on r0: value a at offsets 0 and 2']);
  });

  test('a follower that lacks a batch below the high watermark is reported', () => {
    const report = checkAcknowledged(acks(['a']), [{ partition: 0, highWatermark: 2n, inSync: [replica('r0', log(['a', 'b'])), replica('r1', log(['a']))] }]);
    expect(report.problems).toEqual(['partition 0: r1 lacks the batch at offsets 1..1 that r0 has']);
  });

  test('replicas whose bytes differ (here only the leader epoch) are reported, even with the same values', () => {
    const report = checkAcknowledged(acks(['a']), [{ partition: 0, highWatermark: 1n, inSync: [replica('r0', log(['a'], 1)), replica('r1', log(['a'], 2))] }]);
    expect(report.problems).toEqual(['partition 0: r0 and r1 differ at batch #0 (offsets 0..0 vs 0..0, 69 vs 69 bytes)']);
  });

  test('acknowledged records of a partition without evidence are reported', () => {
    expect(checkAcknowledged(acks(['a']), []).problems).toEqual(['partition 0: acknowledged records but no replica evidence']);
  });
});

test('replicaFromDirectory reads the segment files in offset order, up to the high watermark', () => {
  const dir = mkdtempSync(join(tmpdir(), 'brook-checker-'));
  try {
    const partition = join(dir, 't-0');
    mkdirSync(partition);
    const all = log(['a', 'b', 'c', 'd']);
    const size = all.length / 4;
    writeFileSync(join(partition, '00000000000000000000.log'), all.subarray(0, 2 * size));
    writeFileSync(join(partition, '00000000000000000002.log'), Buffer.concat([all.subarray(2 * size), Buffer.from([1, 2, 3])])); // a torn tail
    writeFileSync(join(partition, '00000000000000000000.index'), Buffer.alloc(8));
    const r = replicaFromDirectory('r0', partition, 3n);
    expect(r).toEqual({ replica: 'r0', logStartOffset: 0n, batches: all.subarray(0, 3 * size) });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
