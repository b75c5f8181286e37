/**
 * The aborted-transaction index per segment (`<base>.txnindex`, Kafka's layout): owned by its
 * segment (created, truncated and deleted with it), collected across segments by read_committed
 * fetches, and migrated from the old per-partition `aborted-transactions.txnindex` on open.
 * Real files in a temp directory.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PartitionLog, defaultLogConfig, type LogConfig } from './index.ts';
import { encodeRecordBatch } from './records.ts';
import { encodeAbortedTxns, ABORTED_TXN_ENTRY_SIZE, decodeAbortedTxns } from './txn-index.ts';
import { LEGACY_ABORTED_TXN_INDEX, txnIndexFile } from './log-files.ts';

let dirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'brook-txnidx-'));
  dirs.push(d);
  return path.join(d, 'topic-0');
}
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs = [];
});

const txnBatch = (producerId: bigint, seq: number, n: number) =>
  encodeRecordBatch(Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.alloc(200, seq + i) })), 1000n,
    { producerId, producerEpoch: 0, baseSequence: seq, transactional: true });
// Small segments: every transaction (3 records of 200 bytes + a marker) rolls a new segment.
const smallSegments: LogConfig = { ...defaultLogConfig, segmentBytes: 700, fileDeleteDelayMs: 0 };
const txnFiles = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith('.txnindex')).sort();
const entriesIn = (file: string) => decodeAbortedTxns(fs.readFileSync(file));

/** Producer p writes one 3-record transaction and ends it (abort or commit); returns [first, marker]. */
function transaction(log: PartitionLog, p: bigint, seq: number, abort: boolean): [bigint, bigint] {
  const first = log.append(txnBatch(p, seq, 3), { leaderEpoch: 0 }).baseOffset;
  const marker = log.appendMarker(p, 0, !abort, 0, { leaderEpoch: 0 }).baseOffset;
  return [first, marker];
}

describe('aborted-transaction index per segment', () => {
  test('each abort marker is indexed in its segment\'s <base>.txnindex (34-byte entries); segments without aborts have none', async () => {
    const dir = tmpDir();
    const log = await PartitionLog.open(dir, smallSegments);
    const aborts: Array<[bigint, bigint]> = [];
    for (let i = 0; i < 6; i++) {
      const r = transaction(log, 1n, i * 3, i % 2 === 0);
      if (i % 2 === 0) aborts.push(r);
    }
    expect(log.segmentCount).toBeGreaterThan(3);
    const bases = log.segmentBaseOffsets;
    const holding = (o: bigint) => bases.filter((b) => b <= o).at(-1)!;
    const expectedFiles = [...new Set(aborts.map(([, m]) => holding(m)))].map((b) => path.basename(txnIndexFile(dir, b))).sort();
    expect(txnFiles(dir)).toEqual(expectedFiles);
    for (const [first, marker] of aborts) {
      const file = txnIndexFile(dir, holding(marker));
      expect(fs.statSync(file).size % ABORTED_TXN_ENTRY_SIZE).toBe(0);
      expect(entriesIn(file)).toContainEqual(expect.objectContaining({ producerId: 1n, firstOffset: first, lastOffset: marker }));
    }
    expect(log.abortedTransactions(0n, log.logEndOffset).map((e) => [e.firstOffset, e.lastOffset])).toEqual(aborts);
    await log.close();
  });

  test('a read whose range holds only the data of an abort whose marker is segments later still reports it (collected onward)', async () => {
    const log = await PartitionLog.open(tmpDir(), smallSegments);
    const first = log.append(txnBatch(5n, 0, 3), { leaderEpoch: 0 }).baseOffset;       // 0-2, open
    for (let i = 0; i < 4; i++) log.append(encodeRecordBatch([{ key: null, value: Buffer.alloc(300) }], 1000n), { leaderEpoch: 0 });
    const marker = log.appendMarker(5n, 0, false, 0, { leaderEpoch: 0 }).baseOffset;
    expect(log.segmentBaseOffsets.filter((b) => b <= marker).length).toBeGreaterThan(2);
    expect(log.abortedTransactions(0n, 2n)).toEqual([{ producerId: 5n, firstOffset: first, lastOffset: marker, lastStableOffset: marker + 1n }]);
    expect(log.abortedTransactions(marker + 1n, log.logEndOffset)).toEqual([]);
    await log.close();
  });

  test('retention and DeleteRecords delete a segment\'s txnindex with it: the index stays bounded', async () => {
    const dir = tmpDir();
    const log = await PartitionLog.open(dir, smallSegments);
    for (let i = 0; i < 8; i++) transaction(log, 2n, i * 3, true);
    const before = txnFiles(dir).length;
    expect(before).toBeGreaterThan(4);
    const mid = log.segmentBaseOffsets[4]!;
    log.deleteRecordsBefore(mid);
    expect(txnFiles(dir).every((f) => BigInt(f.slice(0, 20)) >= mid)).toBe(true);
    expect(log.abortedTransactions(0n, log.logEndOffset).every((e) => e.lastOffset >= mid)).toBe(true);
    log.updateConfig({ ...smallSegments, retentionBytes: 1 });
    log.enforceRetention(Date.now());
    expect(log.segmentCount).toBe(1);
    expect(txnFiles(dir).length).toBeLessThanOrEqual(1);
    await log.close();
  });

  test('truncation cuts the txnindex of the segment it lands in and deletes those of later segments', async () => {
    const dir = tmpDir();
    const log = await PartitionLog.open(dir, smallSegments);
    const marks: bigint[] = [];
    for (let i = 0; i < 5; i++) marks.push(transaction(log, 3n, i * 3, true)[1]);
    log.truncateTo(marks[2]!);
    expect(log.abortedTransactions(0n, log.logEndOffset).map((e) => e.lastOffset)).toEqual(marks.slice(0, 2));
    const onDisk = txnFiles(dir).flatMap((f) => entriesIn(path.join(dir, f)).map((e) => e.lastOffset));
    expect(onDisk).toEqual(marks.slice(0, 2));
    await log.close();
  });

  test('migration: a directory of the old layout (one aborted-transactions.txnindex per partition) is split into its segments\' indexes on open, and the old file removed', async () => {
    const dir = tmpDir();
    const log = await PartitionLog.open(dir, smallSegments);
    const aborts: Array<[bigint, bigint]> = [];
    for (let i = 0; i < 5; i++) {
      const r = transaction(log, 4n, i * 3, i !== 2);
      if (i !== 2) aborts.push(r);
    }
    const expected = log.abortedTransactions(0n, log.logEndOffset);
    expect(expected).toHaveLength(4);
    await log.close(); // a clean shutdown: no recovery on the next open
    // What the old layout left: no per-segment files, one index with every entry.
    for (const f of txnFiles(dir)) fs.rmSync(path.join(dir, f));
    fs.writeFileSync(path.join(dir, LEGACY_ABORTED_TXN_INDEX), encodeAbortedTxns(expected));

    const again = await PartitionLog.open(dir, smallSegments);
    expect(fs.existsSync(path.join(dir, LEGACY_ABORTED_TXN_INDEX))).toBe(false);
    expect(again.abortedTransactions(0n, again.logEndOffset)).toEqual(expected);
    const bases = again.segmentBaseOffsets;
    for (const e of expected) {
      const base = bases.filter((b) => b <= e.lastOffset).at(-1)!;
      expect(entriesIn(txnIndexFile(dir, base))).toContainEqual(e);
    }
    await again.close();
    const third = await PartitionLog.open(dir, smallSegments);
    expect(third.abortedTransactions(0n, third.logEndOffset)).toEqual(expected);
    await third.close();
  });
});
