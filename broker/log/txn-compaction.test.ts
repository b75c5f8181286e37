/**
 * Compaction of transactional logs (Kafka's CleanedTransactionMetadata / KIP-534): aborted data
 * goes, a marker stays while its transaction has data in the log, then for delete.retention.ms
 * (its delete horizon), then goes with its aborted-transaction index entry; nothing from the
 * first unstable offset on is cleaned. Real files, injected clock.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PartitionLog, LogCleaner, defaultLogConfig, type LogConfig } from './index.ts';
import { decodeBatchRecords, encodeRecordBatch } from './records.ts';
import { isControl, readBatchHeader } from './record-batch.ts';
import { CONTROL_ABORT, controlTypeOf } from './records.ts';
import { splitBatches } from './testing/record-batch-builder.ts';
import { readCommittedView, txnRecords } from './testing/txn-log-check.ts';
import { decodeAbortedTxns } from './txn-index.ts';

let roots: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'brook-txncompact-'));
  roots.push(d);
  return path.join(d, 'p-0');
}
afterAll(() => {
  for (const d of roots) fs.rmSync(d, { recursive: true, force: true });
  roots = [];
});

const T0 = 1_700_000_000_000;
const config: LogConfig = { ...defaultLogConfig, cleanupPolicy: 'compact', segmentBytes: 4096, deleteRetentionMs: 1000, fileDeleteDelayMs: 0 };

/** Latest value per key of `key=value` strings, as a sorted list. */
function latest(values: readonly string[]): string[] {
  const m = new Map<string, string>();
  for (const v of values) m.set(v.slice(0, v.indexOf('=')), v);
  return [...m.values()].sort();
}

async function markers(log: PartitionLog): Promise<bigint[]> {
  const out: bigint[] = [];
  for (let o = log.logStartOffset; o < log.logEndOffset;) {
    const r = await log.read(o, 1 << 20);
    if (r.records.length === 0) break;
    for (const b of splitBatches(r.records)) if (isControl(readBatchHeader(b, 0))) out.push(readBatchHeader(b, 0).baseOffset);
    o = r.nextOffset;
  }
  return out;
}

/** Offsets of the abort markers in the log, and of the index entries: they must name the same markers. */
async function abortMarkersAndEntries(log: PartitionLog): Promise<{ markers: bigint[]; entries: bigint[] }> {
  const found: bigint[] = [];
  for (let o = log.logStartOffset; o < log.logEndOffset;) {
    const r = await log.read(o, 1 << 20);
    if (r.records.length === 0) break;
    for (const b of splitBatches(r.records)) {
      const h = readBatchHeader(b, 0);
      if (isControl(h) && controlTypeOf(b, 0) === CONTROL_ABORT) found.push(h.baseOffset);
    }
    o = r.nextOffset;
  }
  return { markers: found, entries: log.abortedTransactions(log.logStartOffset, log.logEndOffset).map((e) => e.lastOffset) };
}

const txnIndexEntries = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith('.txnindex'))
  .flatMap((f) => decodeAbortedTxns(fs.readFileSync(path.join(dir, f))));

describe('compaction of transaction markers', () => {
  test('a compacted topic of many small transactions stays bounded across cleanings; read_committed sees exactly the latest committed values before and after', async () => {
    let now = T0;
    const clock = () => now;
    const dir = tmpDir();
    const log = await PartitionLog.open(dir, config, { clock });
    const cleaner = new LogCleaner({ clock });
    const seqs = [0, 0, 0];
    const committedModel = new Map<string, string>();
    const sizes: number[] = [];
    const markerCounts: number[] = [];
    let i = 0;
    for (let round = 0; round < 12; round++) {
      for (let t = 0; t < 40; t++, i++) {
        const p = i % 3;
        const abort = i % 4 === 0;
        log.append(txnRecords(BigInt(p + 1), 0, seqs[p]!, i, 2, i % 6), { leaderEpoch: 0 });
        seqs[p]! += 2;
        log.appendMarker(BigInt(p + 1), 0, !abort, 0, { leaderEpoch: 0 });
        if (!abort) for (let j = 0; j < 2; j++) committedModel.set(`k${(i % 6) + j}`, `k${(i % 6) + j}=t${i}-${j}`);
      }
      const before = await readCommittedView(log);
      expect(before.unindexedAborts).toEqual([]);
      expect(before.delivered).toEqual(before.committed);
      expect(latest(before.delivered)).toEqual([...committedModel.values()].sort());
      // Two cleanings a delete horizon apart: the first gives removable markers their horizon, the second drops them.
      for (let c = 0; c < 2; c++) {
        const r = await cleaner.cleanNow(log);
        expect(r.aborted).toBe(false);
        now += 2000;
      }
      const after = await readCommittedView(log);
      expect(after.unindexedAborts).toEqual([]);
      expect(latest(after.delivered)).toEqual([...committedModel.values()].sort());
      // Aborted data never comes back, and every index entry still names a marker in the log.
      expect(after.delivered.filter((v) => before.aborted.includes(v))).toEqual([]);
      const markerOffsets = new Set(await markers(log));
      const indexed = log.abortedTransactions(log.logStartOffset, log.logEndOffset);
      expect(indexed.every((e) => markerOffsets.has(e.lastOffset))).toBe(true);
      expect(txnIndexEntries(dir).map((e) => e.lastOffset).sort()).toEqual(indexed.map((e) => e.lastOffset).sort());
      sizes.push(log.sizeInBytes);
      markerCounts.push(markerOffsets.size);
    }
    // 480 transactions written; what is left is bounded by the keys, not by the history.
    expect(i).toBe(480);
    expect(Math.max(...markerCounts.slice(4))).toBeLessThanOrEqual(Math.max(...markerCounts.slice(0, 4)) + 10);
    expect(sizes.at(-1)!).toBeLessThan(sizes[3]! * 1.5);
    expect(markerCounts.at(-1)!).toBeLessThan(80);
    await log.close();
  });

  test('an open transaction\'s data is not cleaned; a marker stays while its transaction has data, then for its delete horizon; an abort\'s index entry goes with its marker', async () => {
    let now = T0;
    const clock = () => now;
    const dir = tmpDir();
    const log = await PartitionLog.open(dir, config, { clock });
    const cleaner = new LogCleaner({ clock });
    const plain = (key: string, value: string) => encodeRecordBatch([{ key: Buffer.from(key), value: Buffer.from(value) }], 1000n);
    // Producer 1 commits c (never overwritten); producer 2 aborts a; producer 3 opens a transaction on b.
    log.append(txnRecords(1n, 0, 0, 1, 1, 100), { leaderEpoch: 0 });                        // 0  k100=t1-0
    const commitC = log.appendMarker(1n, 0, true, 0, { leaderEpoch: 0 }).baseOffset;       // 1
    log.append(txnRecords(2n, 0, 0, 2, 1, 200), { leaderEpoch: 0 });                        // 2  k200=t2-0
    const abortA = log.appendMarker(2n, 0, false, 0, { leaderEpoch: 0 }).baseOffset;       // 3
    // Producer 2 goes on (a producer's last batch stays as an empty header, which keeps its marker).
    log.append(txnRecords(2n, 0, 1, 4, 1, 600), { leaderEpoch: 0 });                        // 4  k600=t4-0
    const commitD = log.appendMarker(2n, 0, true, 0, { leaderEpoch: 0 }).baseOffset;       // 5
    for (let n = 0; n < 60; n++) log.append(plain('k500', `filler-${n}`), { leaderEpoch: 0 });
    const openAt = log.append(txnRecords(3n, 0, 0, 3, 1, 300), { leaderEpoch: 0 }).baseOffset; // k300=t3-0, open
    for (let n = 0; n < 120; n++) log.append(plain('k300', `plain-${n}`), { leaderEpoch: 0 }); // supersedes k300
    expect(log.segmentBaseOffsets.filter((b) => b > openAt).length).toBeGreaterThan(1); // the open record is not in the active segment
    expect(log.firstUnstableOffset).toBe(openAt);

    // Clean 1 drops the aborted data (its marker stays: the clean met its data), clean 2 gives
    // the marker its horizon, clean 3 (past it) drops it.
    for (let c = 0; c < 3; c++) {
      await cleaner.cleanNow(log);
      now += 2000;
    }
    let view = await readCommittedView(log);
    // Nothing at or past the open transaction was cleaned: its record is still there.
    const openRead = await log.read(openAt, 1 << 20);
    expect(decodeBatchRecords(openRead.records, 0).map((r) => `${r.offset} ${r.value?.toString()}`)).toEqual([`${openAt} t3-0`]);
    expect(await markers(log)).toEqual([commitC, commitD]);
    expect(abortA).toBe(3n);
    expect(log.abortedTransactions(0n, log.logEndOffset)).toEqual([]);
    expect(txnIndexEntries(dir)).toEqual([]);
    expect(latest(view.delivered)).toEqual(['k100=t1-0', 'k500=filler-59', 'k600=t4-0']); // below the LSO

    const commitOpen = log.appendMarker(3n, 0, true, 0, { leaderEpoch: 0 }).baseOffset;
    log.append(txnRecords(3n, 0, 1, 5, 1, 700), { leaderEpoch: 0 });                          // k700=t5-0
    const commitE = log.appendMarker(3n, 0, true, 0, { leaderEpoch: 0 }).baseOffset;
    for (let n = 0; n < 120; n++) log.append(plain('k400', `filler-${n}`), { leaderEpoch: 0 });
    for (let c = 0; c < 4; c++) {
      await cleaner.cleanNow(log);
      now += 2000;
    }
    // Producer 3's first record was superseded, so its marker went after its horizon; producer 1's data is still there: its marker stays.
    expect(await markers(log)).toEqual([commitC, commitD, commitE]);
    expect(commitOpen).toBeGreaterThan(commitC);
    view = await readCommittedView(log);
    expect(latest(view.delivered)).toEqual(['k100=t1-0', 'k300=plain-119', 'k400=filler-119', 'k500=filler-59', 'k600=t4-0', 'k700=t5-0']);
    await log.close();
    // ...and all of it survives a reopen.
    const again = await PartitionLog.open(dir, config, { clock });
    expect(await markers(again)).toEqual([commitC, commitD, commitE]);
    expect(again.firstUnstableOffset).toBeNull();
    await again.close();
  });

  test('a crash in the middle of the cleaner\'s swap (.swap left, or the .log renamed before its indexes were written) recovers a consistent txn index: no entry for a marker that is gone, read_committed unchanged', async () => {
    const clock = () => T0;
    const original = tmpDir();
    const small: LogConfig = { ...config, segmentBytes: 2048, deleteRetentionMs: Infinity };
    const log = await PartitionLog.open(original, small, { clock });
    for (let i = 0; i < 60; i++) {
      const p = BigInt(1 + (i % 3));
      log.append(txnRecords(p, 0, Math.floor(i / 3), i, 1, i % 4), { leaderEpoch: 0 });
      log.appendMarker(p, 0, i % 3 !== 1, 0, { leaderEpoch: 0 });
    }
    for (let n = 0; n < 40; n++) log.append(encodeRecordBatch([{ key: Buffer.from('filler'), value: Buffer.alloc(100) }], 1000n), { leaderEpoch: 0 });
    expect(log.segmentCount).toBeGreaterThan(4);
    await log.close();

    // The outcome of a clean that finished, for reference: one cleaned segment at base 0.
    const reference = copyDir(original);
    const refLog = await PartitionLog.open(reference, { ...small, segmentBytes: 1 << 20 }, { clock });
    const res = await new LogCleaner({ clock }).cleanNow(refLog);
    expect(res.segmentsWritten).toBe(1);
    const expected = await abortMarkersAndEntries(refLog);
    expect(expected.markers.length).toBe(20);
    expect(expected.entries).toEqual(expected.markers);
    const expectedView = await readCommittedView(refLog);
    await refLog.close();
    const cleanedSegment = fs.readFileSync(path.join(reference, '00000000000000000000.log'));

    const check = async (dir: string) => {
      const again = await PartitionLog.open(dir, small, { clock });
      // The cleaned segment holds no aborted data any more: recovery, which indexes aborts from
      // the data it replays (as the live log does), may leave their markers unindexed; it must
      // never keep an entry for a marker the swap removed.
      const got = await abortMarkersAndEntries(again);
      expect(got.markers).toEqual(expected.markers);
      expect(got.entries.every((e) => got.markers.includes(e))).toBe(true);
      const view = await readCommittedView(again);
      expect(view.unindexedAborts).toEqual([]);
      expect(view.delivered).toEqual(expectedView.delivered);
      await again.close();
    };
    // 1. Crash right after the commit point: the .swap and every old segment (with its txn index) exist.
    const b = copyDir(original);
    fs.writeFileSync(path.join(b, '00000000000000000000.log.swap'), cleanedSegment);
    await check(b);
    // 2. Crash after the .swap became the .log, before its indexes were written.
    const c = copyDir(reference);
    for (const ext of ['index', 'timeindex', 'txnindex']) fs.rmSync(path.join(c, `00000000000000000000.${ext}`));
    await check(c);
  });
});

function copyDir(src: string): string {
  const dst = tmpDir();
  fs.cpSync(src, dst, { recursive: true });
  return dst;
}
