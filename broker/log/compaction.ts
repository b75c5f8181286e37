/**
 * Compaction of one log, the byte-level steps LogCleaner (log-cleaner.ts, which has the
 * algorithm's GOALS / CONSTRAINTS / ALGORITHM) schedules: planning a clean (step 1: dirty
 * section, dirty ratio, lag and tombstone deadlines), reading a segment's stored batches in
 * chunks while yielding to the event loop, deciding what each batch keeps (step 3: latest
 * offset per key, tombstones until their delete horizon, empty headers kept for their producer,
 * aborted transactional data never, transaction markers until their transaction's data is gone
 * and then for delete.retention.ms) and grouping segments so each group fits one new segment.
 *
 * Transaction markers (Kafka's CleanedTransactionMetadata, KIP-534): a clean walks the log in
 * offset order and notes, per producer, whether it met a batch of the transaction a marker ends
 * (a transaction's batches all precede its marker, and every clean re-reads the log from its
 * start). A marker whose transaction had no batch left is removable: it gets a delete horizon
 * (now + delete.retention.ms, like a tombstone, so a consumer that read the data has time to read
 * the marker) and a later clean past that horizon drops it, with its aborted-transaction index
 * entry. A marker whose transaction still has data is kept, and so is a producer's last batch.
 * Data of an open transaction is never cleaned: nothing from the first unstable offset on is.
 *
 * Batch format: magic v2 batches exactly as stored (record-batch.ts); a kept batch is its own
 * bytes, a changed one is re-encoded by records.ts rebuildBatch. No state of its own: the
 * cleaner passes in the offset map, the clock's `now` and the stats it counts.
 */
import fs from 'node:fs';
import type { PartitionLog, CleanerView } from './partition-log.ts';
import type { LogSegment } from './log-segment.ts';
import { type BatchHeader, BATCH_HEADER_SIZE, LENGTH_OFFSET, LOG_OVERHEAD, readBatchHeader, lastOffsetOf, isControl, isTransactional } from './record-batch.ts';
import { CONTROL_ABORT, controlTypeOf, readRawRecords, rebuildBatch, deleteHorizonOf, type RawRecord } from './records.ts';
import { KafkaError } from '../errors.ts';

/** A log's cleanable state at some time: what the cleaner chooses by. */
export interface CleanablePlan {
  readonly view: CleanerView;
  readonly firstDirtyOffset: bigint;
  readonly firstUncleanableOffset: bigint;
  /** Whole segments between the two, oldest first. */
  readonly dirtySegments: readonly LogSegment[];
  readonly cleanBytes: number;
  readonly dirtyBytes: number;
  readonly dirtyRatio: number;
  /** max.compaction.lag.ms has passed for the oldest dirty batch. */
  readonly compactionLagExceeded: boolean;
  /** Tombstones kept by the last clean have reached their delete horizon. */
  readonly tombstonesDue: boolean;
}

const INT32_MAX = 0x7fffffff;
/** Longest stretch of synchronous work between yields to the event loop. */
export const MAX_SLICE_MS = 5;

export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function largestTimestampOf(seg: LogSegment): number {
  if (seg.maxTimestamp >= 0n) return Number(seg.maxTimestamp);
  try { return fs.statSync(seg.logPath).mtimeMs; } catch { return Date.now(); }
}

/** Plans a clean of `log` at `now` (step 1 of the algorithm). Synchronous. */
export function planClean(log: PartitionLog, now: number, uncleanableFrom?: () => bigint): CleanablePlan {
  const view = log.cleanerView();
  const config = view.config;
  let firstUncleanable = view.activeBaseOffset;
  const hw = uncleanableFrom?.();
  if (hw !== undefined && hw < firstUncleanable) firstUncleanable = hw;
  // Kafka cleans only below the last stable offset: an open transaction's data stays as written.
  const unstable = log.firstUnstableOffset;
  if (unstable !== null && unstable < firstUncleanable) firstUncleanable = unstable;
  const firstDirty = view.firstDirtyOffset;
  const dirty: LogSegment[] = [];
  let cleanBytes = 0;
  let dirtyBytes = 0;
  for (const seg of view.segments) {
    if (seg.baseOffset < firstDirty) { cleanBytes += seg.size; continue; }
    if (seg.nextOffset > firstUncleanable) break;
    if (config.minCompactionLagMs > 0 && now - largestTimestampOf(seg) < config.minCompactionLagMs) {
      firstUncleanable = seg.baseOffset;
      break;
    }
    dirty.push(seg);
    dirtyBytes += seg.size;
  }
  const total = cleanBytes + dirtyBytes;
  const dirtyRatio = total === 0 ? 0 : dirtyBytes / total;
  const firstTs = dirty[0]?.rollingBaseTimestamp;
  const compactionLagExceeded = dirty.length > 0 && config.maxCompactionLagMs !== Infinity
    && firstTs !== null && firstTs !== undefined && firstTs >= 0n && now - Number(firstTs) > config.maxCompactionLagMs;
  const horizon = log.earliestTombstoneHorizon;
  const tombstonesDue = horizon !== null && now >= horizon && cleanBytes > 0;
  return {
    view, firstDirtyOffset: firstDirty, firstUncleanableOffset: firstUncleanable, dirtySegments: dirty,
    cleanBytes, dirtyBytes, dirtyRatio, compactionLagExceeded, tombstonesDue,
  };
}


/** Calls `visit` for every batch of `seg` (async chunked reads), yielding after each chunk. */
export async function forEachStoredBatch(
  seg: LogSegment, chunkBytes: number, shouldStop: () => boolean,
  visit: (buf: Buffer, position: number, h: BatchHeader) => void,
): Promise<void> {
  const end = seg.size;
  let position = 0;
  while (position < end) {
    if (shouldStop()) return;
    let chunk = await seg.readRange(position, Math.min(chunkBytes, end - position));
    let p = 0;
    let sliceStart = performance.now();
    while (p + BATCH_HEADER_SIZE <= chunk.length) {
      const size = chunk.readInt32BE(p + LENGTH_OFFSET) + LOG_OVERHEAD;
      if (size < BATCH_HEADER_SIZE) throw new KafkaError('CORRUPT_MESSAGE', `bad batch size ${size} at ${position + p} in ${seg.logPath}`);
      if (p + size > chunk.length) break;
      visit(chunk, p, readBatchHeader(chunk, p));
      p += size;
      // Compressed chunks can hold many records: bound each slice of work in time too.
      if (performance.now() - sliceStart > MAX_SLICE_MS) {
        await yieldToEventLoop();
        if (shouldStop()) return;
        sliceStart = performance.now();
      }
    }
    if (p === 0) {
      // One batch larger than the chunk: read it whole.
      if (chunk.length < BATCH_HEADER_SIZE) throw new KafkaError('CORRUPT_MESSAGE', `truncated batch at ${position} in ${seg.logPath}`);
      const size = chunk.readInt32BE(LENGTH_OFFSET) + LOG_OVERHEAD;
      chunk = await seg.readRange(position, size);
      if (chunk.length < size) throw new KafkaError('CORRUPT_MESSAGE', `truncated batch at ${position} in ${seg.logPath}`);
      visit(chunk, 0, readBatchHeader(chunk, 0));
      p = size;
    }
    position += p;
    await yieldToEventLoop();
  }
}

/** What one clean counted (CleanResult reports it). */
export interface CleanStats {
  segmentsRead: number; segmentsWritten: number; bytesRead: number; bytesWritten: number; mapBytesRead: number;
  recordsRead: number; recordsKept: number; recordsRemoved: number; tombstonesRemoved: number; keylessRemoved: number;
  batchesCopied: number; batchesRebuilt: number; batchesRemoved: number;
  /** Transaction markers dropped (their transaction's data gone and their delete horizon passed). */
  markersRemoved: number;
}

/**
 * Per clean, in offset order: the producers whose current transaction had a batch in this clean
 * (committed or undecided / aborted). A marker ends its producer's transaction.
 */
export class CleanedTransactions {
  private readonly withData = new Set<bigint>();
  private readonly withAbortedData = new Set<bigint>();

  onDataBatch(h: BatchHeader, aborted: boolean): void {
    if (!isTransactional(h) || h.producerId < 0n) return;
    (aborted ? this.withAbortedData : this.withData).add(h.producerId);
  }

  /** Whether the transaction this marker ends had no batch left in this clean (the marker may go). */
  onMarker(h: BatchHeader, abort: boolean): boolean {
    const hadAborted = this.withAbortedData.delete(h.producerId);
    const hadData = this.withData.delete(h.producerId);
    return abort ? !hadAborted : !hadData;
  }
}

export interface FilterContext {
  readonly map: ReadonlyMap<string, number>;
  readonly now: number;
  readonly deleteRetentionMs: number;
  readonly producerLastOffsets: ReadonlyMap<bigint, bigint>;
  /** Whether a data batch belongs to an aborted transaction (abortedBatches). */
  readonly isAborted: (h: BatchHeader) => boolean;
  readonly txns: CleanedTransactions;
  readonly stats: CleanStats;
  readonly noteHorizon: (horizonMs: number) => void;
}

/**
 * The aborted-transaction test for the cleaner, from the partition's aborted-transactions index:
 * a transactional data batch of producer P at offset o is aborted when an abort of P spans it
 * (firstOffset <= o < marker offset) — a producer has one transaction open at a time.
 */
export function abortedBatches(aborted: ReadonlyArray<{ producerId: bigint; firstOffset: bigint; lastOffset: bigint }>): (h: BatchHeader) => boolean {
  const byProducer = new Map<bigint, Array<{ firstOffset: bigint; lastOffset: bigint }>>();
  for (const a of aborted) byProducer.set(a.producerId, [...(byProducer.get(a.producerId) ?? []), a]);
  return (h) => {
    if (!isTransactional(h) || isControl(h)) return false;
    const spans = byProducer.get(h.producerId);
    return spans !== undefined && spans.some((a) => a.firstOffset <= h.baseOffset && h.baseOffset < a.lastOffset);
  };
}

export function safeOffset(offset: bigint): number {
  if (offset > BigInt(Number.MAX_SAFE_INTEGER)) throw new KafkaError('KAFKA_STORAGE_ERROR', `offset ${offset} is beyond what the cleaner's offset map holds`);
  return Number(offset);
}

/**
 * Step 3 for one batch: `buf` itself when the batch is kept as it is, a re-encoded batch, or
 * null when it goes.
 */
export function filterBatch(buf: Buffer, pos: number, h: BatchHeader, ctx: FilterContext): Buffer | null {
  const { stats } = ctx;
  const lastOfProducer = h.producerId >= 0n && ctx.producerLastOffsets.get(h.producerId) === lastOffsetOf(h);
  if (isControl(h)) return filterMarker(buf, pos, h, ctx, lastOfProducer);
  const aborted = ctx.isAborted(h);
  ctx.txns.onDataBatch(h, aborted);
  if (h.recordsCount > 0 && aborted) {
    // aborted transactional data goes (as Kafka's cleaner discards it); the abort marker stays
    stats.recordsRead += h.recordsCount;
    stats.recordsRemoved += h.recordsCount;
    if (lastOfProducer) {
      stats.batchesRebuilt++;
      return rebuildBatch(buf, pos, h, { records: [], framing: readRawRecords(buf, pos, h).framing });
    }
    stats.batchesRemoved++;
    return null;
  }
  if (h.recordsCount === 0) {
    // An empty header kept for its producer: only while it is still that producer's last batch.
    if (lastOfProducer) { stats.batchesCopied++; return buf; }
    stats.batchesRemoved++;
    return null;
  }
  const { records, framing } = readRawRecords(buf, pos, h);
  const horizon = deleteHorizonOf(h);
  const horizonPassed = horizon !== null && BigInt(ctx.now) >= horizon;
  const base = safeOffset(h.baseOffset);
  const kept: RawRecord[] = [];
  let tombstoneKept = false;
  for (const r of records) {
    stats.recordsRead++;
    if (r.key === null) { stats.keylessRemoved++; continue; }
    const latest = ctx.map.get(r.key.toString('latin1'));
    if (latest !== undefined && base + r.offsetDelta < latest) continue;
    if (r.valueIsNull) {
      if (horizonPassed) { stats.tombstonesRemoved++; continue; }
      tombstoneKept = true;
    }
    kept.push(r);
  }
  stats.recordsKept += kept.length;
  stats.recordsRemoved += records.length - kept.length;
  const setHorizon = tombstoneKept && horizon === null && ctx.deleteRetentionMs !== Infinity;
  if (tombstoneKept) {
    if (setHorizon) ctx.noteHorizon(ctx.now + ctx.deleteRetentionMs);
    else if (horizon !== null) ctx.noteHorizon(Number(horizon));
  }
  if (kept.length === records.length && !setHorizon) { stats.batchesCopied++; return buf; }
  if (kept.length === 0 && !lastOfProducer) { stats.batchesRemoved++; return null; }
  stats.batchesRebuilt++;
  return rebuildBatch(buf, pos, h, {
    records: kept, framing, ...(setHorizon ? { deleteHorizonMs: BigInt(ctx.now + ctx.deleteRetentionMs) } : {}),
  });
}

/** Step 3 for a control batch (a transaction marker): see the top of this file. */
function filterMarker(buf: Buffer, pos: number, h: BatchHeader, ctx: FilterContext, lastOfProducer: boolean): Buffer | null {
  const { stats } = ctx;
  const abort = h.recordsCount > 0 && controlTypeOf(buf, pos) === CONTROL_ABORT;
  // An empty control batch was cleaned before: nothing left to end.
  const removable = ctx.txns.onMarker(h, abort) || h.recordsCount === 0;
  const horizon = deleteHorizonOf(h);
  if (!removable || lastOfProducer) {
    if (horizon !== null) ctx.noteHorizon(Number(horizon));
    stats.batchesCopied++;
    return buf;
  }
  if (horizon !== null) {
    if (BigInt(ctx.now) >= horizon) {
      stats.markersRemoved++;
      stats.batchesRemoved++;
      return null;
    }
    ctx.noteHorizon(Number(horizon));
    stats.batchesCopied++;
    return buf;
  }
  if (ctx.deleteRetentionMs === Infinity) { stats.batchesCopied++; return buf; }
  const deleteHorizonMs = ctx.now + ctx.deleteRetentionMs;
  ctx.noteHorizon(deleteHorizonMs);
  stats.batchesRebuilt++;
  const { records, framing } = readRawRecords(buf, pos, h);
  return rebuildBatch(buf, pos, h, { records, framing, deleteHorizonMs: BigInt(deleteHorizonMs) });
}

/**
 * Kafka's groupSegmentsBySize: consecutive segments whose total size fits segment.bytes, whose
 * offset indexes fit segment.index.bytes, and whose offsets span at most an int32.
 */
export function groupSegments(segments: readonly LogSegment[], maxSize: number, maxIndexSize: number): LogSegment[][] {
  const groups: LogSegment[][] = [];
  let cur: LogSegment[] = [];
  let size = 0;
  let indexSize = 0;
  for (const seg of segments) {
    const first = cur[0];
    if (first && (size + seg.size > maxSize || indexSize + seg.offsetIndex.sizeInBytes > maxIndexSize
      || seg.nextOffset - first.baseOffset - 1n > BigInt(INT32_MAX))) {
      groups.push(cur);
      cur = [];
      size = 0;
      indexSize = 0;
    }
    cur.push(seg);
    size += seg.size;
    indexSize += seg.offsetIndex.sizeInBytes;
  }
  if (cur.length > 0) groups.push(cur);
  return groups;
}
