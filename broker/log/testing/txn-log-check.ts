/**
 * Test helpers for transactional logs: the transactions a test writes (keyed values `t<i>-<k>`),
 * and what a read_committed consumer of a PartitionLog would see, computed the way the Java
 * consumer's CompletedFetch does (before each batch with a producer id, data or marker, the
 * fetch's aborted transactions whose first offset is at or below the batch's last offset mark
 * their producer aborted; an abort marker clears it; a transactional batch of a marked producer
 * is skipped), next to what the log's own markers say was committed and aborted.
 */
import type { PartitionLog } from '../partition-log.ts';
import { isControl, isTransactional, lastOffsetOf, readBatchHeader } from '../record-batch.ts';
import { CONTROL_ABORT, controlTypeOf, decodeBatchRecords, encodeRecordBatch } from '../records.ts';
import { splitBatches } from './record-batch-builder.ts';

/** Transaction `i` of producer `producerId`: `n` records keyed `k<key + j>`, valued `t<i>-<j>`. */
export function txnRecords(producerId: bigint, epoch: number, seq: number, i: number, n: number, key = 0): Buffer {
  return encodeRecordBatch(
    Array.from({ length: n }, (_, j) => ({ key: Buffer.from(`k${key + j}`), value: Buffer.from(`t${i}-${j}`) })), 1000n,
    { producerId, producerEpoch: epoch, baseSequence: seq, transactional: true });
}

export interface TxnLogView {
  /** Values a read_committed consumer receives below the LSO, in offset order (key=value). */
  readonly delivered: string[];
  /** Values of transactions whose commit marker is in the log, below the LSO (key=value). */
  readonly committed: string[];
  /** Values of transactions whose abort marker is in the log. */
  readonly aborted: string[];
  /** Abort markers (producer, first offset of its data, marker offset) with no index entry. */
  readonly unindexedAborts: string[];
}

export async function readCommittedView(log: PartitionLog): Promise<TxnLogView> {
  const lso = log.firstUnstableOffset ?? log.logEndOffset;
  const batches: Buffer[] = [];
  for (let offset = log.logStartOffset; offset < log.logEndOffset;) {
    const r = await log.read(offset, 1 << 20);
    if (r.records.length === 0) break;
    batches.push(...splitBatches(r.records));
    offset = r.nextOffset;
  }
  const index = log.abortedTransactions(log.logStartOffset, log.logEndOffset);
  const indexed = new Set(index.map((e) => `${e.producerId}@${e.lastOffset}`));
  const forConsumer = log.abortedTransactions(log.logStartOffset, lso).sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : 1));
  const abortedProducers = new Set<bigint>();
  const open = new Map<bigint, { first: bigint; values: string[] }>();
  const delivered: string[] = [];
  const committed: string[] = [];
  const aborted: string[] = [];
  const unindexedAborts: string[] = [];
  for (const b of batches) {
    const h = readBatchHeader(b, 0);
    const values = isControl(h) ? [] : decodeBatchRecords(b, 0).map((r) => `${r.key?.toString()}=${r.value?.toString()}`);
    if (h.producerId >= 0n && lastOffsetOf(h) < lso) {
      while (forConsumer.length > 0 && forConsumer[0]!.firstOffset <= lastOffsetOf(h)) abortedProducers.add(forConsumer.shift()!.producerId);
    }
    if (isControl(h)) {
      const txn = open.get(h.producerId);
      open.delete(h.producerId);
      const abort = controlTypeOf(b, 0) === CONTROL_ABORT;
      if (abort) {
        aborted.push(...(txn?.values ?? []));
        if (txn && !indexed.has(`${h.producerId}@${h.baseOffset}`)) unindexedAborts.push(`${h.producerId}:${txn.first}..${h.baseOffset}`);
        if (h.baseOffset < lso) abortedProducers.delete(h.producerId);
      } else if (h.baseOffset < lso) {
        committed.push(...(txn?.values ?? []));
      }
      continue;
    }
    if (isTransactional(h)) {
      const txn = open.get(h.producerId) ?? { first: h.baseOffset, values: [] };
      txn.values.push(...values);
      open.set(h.producerId, txn);
    }
    if (lastOffsetOf(h) >= lso) continue;
    if (isTransactional(h) && abortedProducers.has(h.producerId)) continue;
    delivered.push(...values);
  }
  return { delivered, committed, aborted, unindexedAborts };
}
