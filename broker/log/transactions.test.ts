/**
 * Transactions in the partition log: open transactions bound the first unstable offset (the LSO),
 * markers close them, aborts go to the aborted-transactions index; all of it survives a reopen
 * (snapshot, or replay after a crash), follows truncation, and is rebuilt on a follower from the
 * leader's batches. Real files in a temp directory.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KafkaError } from '../errors.ts';
import { PartitionLog, defaultLogConfig } from './index.ts';
import { encodeRecordBatch } from './records.ts';

let dirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'brook-txnlog-'));
  dirs.push(d);
  return path.join(d, 'topic-0');
}
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs = [];
});

const txnBatch = (producerId: bigint, epoch: number, seq: number, n: number) =>
  encodeRecordBatch(Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from(`p${producerId}-${seq + i}`) })), 1000n,
    { producerId, producerEpoch: epoch, baseSequence: seq, transactional: true });
const plainBatch = (n: number) => encodeRecordBatch(Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from(`plain-${i}`) })), 1000n);

describe('PartitionLog transactions', () => {
  test('an open transaction holds the first unstable offset; its abort marker releases it and is indexed', async () => {
    const log = await PartitionLog.open(tmpDir(), defaultLogConfig);
    expect(log.firstUnstableOffset).toBeNull();
    log.append(txnBatch(7n, 0, 0, 3), { leaderEpoch: 0 });           // 0-2
    log.append(plainBatch(2), { leaderEpoch: 0 });                     // 3-4
    log.append(txnBatch(8n, 0, 0, 1), { leaderEpoch: 0 });           // 5
    expect(log.firstUnstableOffset).toBe(0n);
    const abort = log.appendMarker(7n, 0, false, 3, { leaderEpoch: 0 }); // 6
    expect(abort.baseOffset).toBe(6n);
    expect(log.firstUnstableOffset).toBe(5n);
    log.appendMarker(8n, 0, true, 3, { leaderEpoch: 0 });              // 7
    expect(log.firstUnstableOffset).toBeNull();
    expect(log.abortedTransactions(0n, 8n)).toEqual([{ producerId: 7n, firstOffset: 0n, lastOffset: 6n, lastStableOffset: 5n }]);
    // only aborts overlapping the read are reported
    expect(log.abortedTransactions(7n, 8n)).toEqual([]);
    // the same producer continues with a new transaction after the marker
    log.append(txnBatch(7n, 0, 3, 1), { leaderEpoch: 0 });           // 8
    expect(log.firstUnstableOffset).toBe(8n);
    await log.close();
  });

  test('a marker from an older producer epoch is refused with INVALID_PRODUCER_EPOCH', async () => {
    const log = await PartitionLog.open(tmpDir(), defaultLogConfig);
    log.append(txnBatch(5n, 3, 0, 1), { leaderEpoch: 0 });
    let err: unknown;
    try { log.appendMarker(5n, 2, true, 0, { leaderEpoch: 0 }); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(KafkaError);
    expect((err as KafkaError).errorName).toBe('INVALID_PRODUCER_EPOCH');
    expect(log.logEndOffset).toBe(1n);
    expect(log.firstUnstableOffset).toBe(0n);
    // a newer epoch (the coordinator fenced the producer) closes the transaction and fences data of the old epoch
    log.appendMarker(5n, 4, false, 0, { leaderEpoch: 0 });
    expect(log.firstUnstableOffset).toBeNull();
    expect(() => log.append(txnBatch(5n, 3, 1, 1), { leaderEpoch: 0 })).toThrow(/INVALID_PRODUCER_EPOCH/);
    await log.close();
  });

  test('open transactions and the aborted index survive a clean reopen (snapshot) and a crash (replay)', async () => {
    for (const crash of [false, true]) {
      const dir = tmpDir();
      const log = await PartitionLog.open(dir, defaultLogConfig);
      log.append(txnBatch(1n, 0, 0, 2), { leaderEpoch: 0 });  // 0-1
      log.appendMarker(1n, 0, false, 0, { leaderEpoch: 0 });   // 2
      log.append(plainBatch(1), { leaderEpoch: 0 });           // 3
      log.append(txnBatch(2n, 0, 0, 2), { leaderEpoch: 0 });  // 4-5, left open
      if (crash) await log.abandon(); else await log.close();
      const again = await PartitionLog.open(dir, defaultLogConfig);
      expect(again.firstUnstableOffset).toBe(4n);
      expect(again.abortedTransactions(0n, 6n)).toEqual([{ producerId: 1n, firstOffset: 0n, lastOffset: 2n, lastStableOffset: 3n }]);
      again.appendMarker(2n, 0, true, 0, { leaderEpoch: 0 });
      expect(again.firstUnstableOffset).toBeNull();
      await again.close();
    }
  });

  test('truncation below a marker drops its index entry and reopens the transaction', async () => {
    const log = await PartitionLog.open(tmpDir(), defaultLogConfig);
    log.append(txnBatch(3n, 0, 0, 2), { leaderEpoch: 0 });   // 0-1
    log.appendMarker(3n, 0, false, 0, { leaderEpoch: 0 });    // 2
    expect(log.abortedTransactions(0n, 3n)).toHaveLength(1);
    log.truncateTo(2n);
    expect(log.abortedTransactions(0n, 3n)).toEqual([]);
    expect(log.firstUnstableOffset).toBe(0n);
    await log.close();
  });

  test('a follower rebuilds open transactions and the aborted index from the leader\'s batches', async () => {
    const leader = await PartitionLog.open(tmpDir(), defaultLogConfig);
    leader.append(txnBatch(4n, 1, 0, 2), { leaderEpoch: 5 });  // 0-1
    leader.appendMarker(4n, 1, false, 9, { leaderEpoch: 5 });   // 2
    leader.append(txnBatch(6n, 0, 0, 1), { leaderEpoch: 5 });  // 3, open
    const { records } = await leader.read(0n, 1 << 20);
    const follower = await PartitionLog.open(tmpDir(), defaultLogConfig);
    follower.appendAsFollower(records);
    expect(follower.logEndOffset).toBe(4n);
    expect(follower.firstUnstableOffset).toBe(3n);
    expect(follower.abortedTransactions(0n, 4n)).toEqual([{ producerId: 4n, firstOffset: 0n, lastOffset: 2n, lastStableOffset: 3n }]);
    await leader.close();
    await follower.close();
  });

  test('regression: a follower took no leader epoch from a marker batch, so a new leader whose first write was a marker never got it back in the ISR', async () => {
    const leader = await PartitionLog.open(tmpDir(), defaultLogConfig);
    leader.append(txnBatch(4n, 0, 0, 2), { leaderEpoch: 1 });   // 0-1 at epoch 1
    leader.appendMarker(4n, 0, true, 0, { leaderEpoch: 2 });      // 2: the new leader's first write, epoch 2
    const { records } = await leader.read(0n, 1 << 20);
    const follower = await PartitionLog.open(tmpDir(), defaultLogConfig);
    follower.appendAsFollower(records);
    expect(follower.latestEpoch).toBe(2);
    expect(follower.endOffsetForEpoch(1)).toEqual(leader.endOffsetForEpoch(1));
    await leader.close();
    await follower.close();
  });
});
