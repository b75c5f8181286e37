/**
 * LogLoader: recovery of a partition directory on open (Kafka's LogLoader). Rebuilds instead of
 * trusting: the files are the truth, indexes and producer state are derived from them.
 *
 * Order, on open:
 *   1. an interrupted swap is finished first: a `<base>.log.swap` (fsynced before it got that
 *      name, so whole) replaces the segments whose base offsets lie in [its base, its end
 *      offset), then becomes a `.log`;
 *   2. leftover .tmp/.deleted/.cleaned files and indexes without a log are removed;
 *   3. segments are loaded in offset order; those at or after the recovery point (always the
 *      active one) are verified batch by batch (length + CRC-32C), their invalid tail truncated
 *      and their indexes rebuilt; others' indexes are checked and rebuilt if missing or corrupt.
 *      A segment overlapping the previous one, or anything after a corrupt batch in the middle,
 *      is deleted;
 *   4. the log start offset comes from its checkpoint (never below the first segment); a log
 *      that lost its tail below it starts over empty there;
 *   5. the leader epoch cache is loaded; from the checkpointed recovery point on, its entries are
 *      derived again from the partitionLeaderEpoch of the batches step 3 verified (the checkpoint
 *      is made durable only with the recovery point: leader-epoch-recovery.ts); then it is cut to
 *      [log start, log end];
 *   6. the old layout's per-partition `aborted-transactions.txnindex`, if any, is split into the
 *      segments' `.txnindex` files (each entry to the segment holding its marker) and removed;
 *   7. producer state = the newest valid snapshot <= log end + replay of the log after it. The
 *      txn index of every segment with data above the recovery point, or whose offset index was
 *      missing (a swap the cleaner did not finish; the active segment never has one, every open
 *      rebuilds it), is rebuilt during that replay from its abort markers (Kafka's
 *      recoverSegment), the replay then starting from a snapshot at or below the first such segment;
 *   8. what was recovered is fsynced, and the recovery point (after the leader epochs) and log start checkpointed (each
 *      only when it differs from what its file says, or would be derived without it: a new or
 *      cleanly closed partition costs no checkpoint write, which matters with thousands of them).
 *
 * A directory created empty just now (claimPartitionDir said so) skips all of it: newLog reads
 * nothing, which matters when a thousand topics are created at once.
 *
 * Single-threaded, synchronous, run once before the log is shared.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fsyncDir, readOffsetCheckpoint, writeOffsetCheckpoint } from './checkpoint-file.ts';
import type { LeaderEpochCache } from './leader-epoch-cache.ts';
import { RecoveredEpochStarts } from './leader-epoch-recovery.ts';
import type { LogConfig } from './log-config.ts';
import {
  CLEANER_OFFSET_CHECKPOINT, compareOffsets, isTransientFile, LEGACY_ABORTED_TXN_INDEX, LOG_START_OFFSET_CHECKPOINT, logFile, offsetIndexFile,
  parseOffsetFileName, parseSwapFileName, producerSnapshotFile, RECOVERY_POINT_CHECKPOINT, SWAP_SUFFIX, timeIndexFile, txnIndexFile,
} from './log-files.ts';
import { LogSegment, scanBatchesSync } from './log-segment.ts';
import { snapshotOffsets, type ProducerStateManager } from './producer-state.ts';
import { lastOffsetOf } from './record-batch.ts';
import { decodeAbortedTxns } from './txn-index.ts';

export interface LoadedLog {
  readonly segments: LogSegment[];
  readonly startOffset: bigint;
  /** The log end: everything below it is now on disk. */
  readonly recoveryPoint: bigint;
  /** First offset not yet compacted (cleaner-offset-checkpoint), at most the log end. */
  readonly firstDirty: bigint;
}

/** The log of a directory created empty just now: one empty segment at offset 0, nothing read. */
export async function newLog(dir: string, now: number): Promise<LoadedLog> {
  return { segments: [await LogSegment.createInNewDir(dir, 0n, now)], startOffset: 0n, recoveryPoint: 0n, firstDirty: 0n };
}

/** Recovers `dir` (see the top of this file), filling `producers` and `epochs`. Closes what it opened if it fails. */
export function loadLog(dir: string, config: LogConfig, now: number, producers: ProducerStateManager, epochs: LeaderEpochCache): LoadedLog {
  let segments: LogSegment[] = [];
  try {
    finishInterruptedSwaps(dir);
    const logBases = cleanDirectory(dir);
    const startCp = readOffsetCheckpoint(dir, LOG_START_OFFSET_CHECKPOINT);
    const recoveryCp = readOffsetCheckpoint(dir, RECOVERY_POINT_CHECKPOINT) ?? 0n;
    const indexMissing = new Set<bigint>();
    const recoveredEpochs = new RecoveredEpochStarts(recoveryCp);
    for (let i = 0; i < logBases.length; i++) {
      const base = logBases[i]!;
      const last = i === logBases.length - 1;
      const prevEnd = segments.at(-1)?.nextOffset;
      const recover = last || logBases[i + 1]! > recoveryCp || (prevEnd !== undefined && base < prevEnd);
      // (the active segment's indexes are never written: every open rebuilds them)
      if (!last && !fs.existsSync(offsetIndexFile(dir, base))) indexMissing.add(base);
      const { segment, truncated } = LogSegment.load(dir, base, {
        indexIntervalBytes: config.indexIntervalBytes, recover, now, onRecoveredBatch: recover ? recoveredEpochs.visitor(base) : undefined,
      });
      if (prevEnd !== undefined && base < prevEnd) {
        // Overlapping segments cannot be served consistently; keep the earlier data.
        segment.close();
        deleteSegmentFiles(dir, base);
        for (const b of logBases.slice(i + 1)) deleteSegmentFiles(dir, b);
        break;
      }
      segments.push(segment);
      if (truncated > 0 && !last) {
        // A corrupt batch in the middle: everything after it is unreachable.
        for (const b of logBases.slice(i + 1)) deleteSegmentFiles(dir, b);
        break;
      }
    }
    if (segments.length === 0) segments.push(LogSegment.create(dir, startCp ?? 0n, now));
    let startOffset = startCp ?? segments[0]!.baseOffset;
    if (startOffset < segments[0]!.baseOffset) startOffset = segments[0]!.baseOffset;
    if (startOffset > segments.at(-1)!.nextOffset) {
      // The log lost its tail below a DeleteRecords point: start over at the log start offset.
      for (const s of segments) s.delete();
      segments = [LogSegment.create(dir, startOffset, now)];
    }
    const logEndOffset = segments.at(-1)!.nextOffset;
    epochs.load();
    recoveredEpochs.rebuild(epochs, segments, logEndOffset);
    epochs.truncateFromEnd(logEndOffset);
    epochs.truncateFromStart(startOffset);
    migrateLegacyTxnIndex(dir, segments);
    const rebuildTxnIndex = new Set(segments.filter((s) => s.nextOffset > recoveryCp || indexMissing.has(s.baseOffset)));
    rebuildProducerState(dir, producers, segments, startOffset, rebuildTxnIndex);
    // Everything recovered is now made durable, so the next open only verifies new data.
    for (const s of segments) if (s.nextOffset > recoveryCp || rebuildTxnIndex.has(s)) s.flushSync();
    if (logEndOffset !== recoveryCp) {
      // the epochs starting below the recovery point must be on disk first (leader-epoch-recovery.ts)
      epochs.flush();
      writeOffsetCheckpoint(dir, RECOVERY_POINT_CHECKPOINT, logEndOffset);
    }
    // absent, the log start is the first segment's base, which is what it is now unless it was clamped
    if (startCp === null ? startOffset !== segments[0]!.baseOffset : startCp !== startOffset) writeOffsetCheckpoint(dir, LOG_START_OFFSET_CHECKPOINT, startOffset);
    const dirty = readOffsetCheckpoint(dir, CLEANER_OFFSET_CHECKPOINT) ?? startOffset;
    return { segments, startOffset, recoveryPoint: logEndOffset, firstDirty: dirty > logEndOffset ? logEndOffset : dirty };
  } catch (err) {
    for (const s of segments) s.close();
    throw err;
  }
}

/** Removes transient files and indexes without a log; returns the segments' base offsets, sorted. */
function cleanDirectory(dir: string): bigint[] {
  const logBases: bigint[] = [];
  const others: { name: string; offset: bigint; kind: string }[] = [];
  for (const name of fs.readdirSync(dir)) {
    if (isTransientFile(name)) { fs.rmSync(path.join(dir, name), { force: true }); continue; }
    const parsed = parseOffsetFileName(name);
    if (!parsed) continue;
    if (parsed.kind === 'log') logBases.push(parsed.offset);
    else others.push({ name, ...parsed });
  }
  logBases.sort(compareOffsets);
  const bases = new Set(logBases);
  for (const f of others) {
    if ((f.kind === 'index' || f.kind === 'timeindex' || f.kind === 'txnindex') && !bases.has(f.offset)) fs.rmSync(path.join(dir, f.name), { force: true });
  }
  return logBases;
}

/**
 * Finishes a swap the log cleaner committed but did not complete (Kafka's LogLoader rule): it
 * replaces every segment whose base offset is in [base, its end offset). Segments of the cleaned
 * group past its end (their records were all removed) survive unchanged, which is consistent:
 * they hold only the original, uncompacted data after every offset the swap holds.
 */
function finishInterruptedSwaps(dir: string): void {
  const swaps: bigint[] = [];
  for (const name of fs.readdirSync(dir)) {
    const base = parseSwapFileName(name);
    if (base !== null) swaps.push(base);
  }
  if (swaps.length === 0) return;
  swaps.sort(compareOffsets);
  for (const base of swaps) {
    const swapFile = logFile(dir, base) + SWAP_SUFFIX;
    let end = base;
    const fd = fs.openSync(swapFile, 'r+');
    try {
      const size = fs.fstatSync(fd).size;
      const r = scanBatchesSync(fd, 0, size, true, base, (h) => { end = lastOffsetOf(h) + 1n; });
      if (r.validEnd < size) fs.ftruncateSync(fd, r.validEnd);
    } finally {
      fs.closeSync(fd);
    }
    for (const name of fs.readdirSync(dir)) {
      const p = parseOffsetFileName(name);
      if (!p || p.kind === 'snapshot') continue;
      if (p.offset === base || (p.offset > base && p.offset < end)) fs.rmSync(path.join(dir, name), { force: true });
    }
    fs.renameSync(swapFile, logFile(dir, base));
  }
  fsyncDir(dir);
}

function deleteSegmentFiles(dir: string, base: bigint): void {
  for (const file of [logFile(dir, base), offsetIndexFile(dir, base), timeIndexFile(dir, base), txnIndexFile(dir, base)]) fs.rmSync(file, { force: true });
}

/**
 * The old layout kept one `aborted-transactions.txnindex` per partition: its entries go to the
 * txn index of the segment holding their marker (entries of markers no segment holds any more are
 * dropped), which is fsynced before the old file is removed. Idempotent if interrupted: a
 * segment's index ignores an entry for a marker it has already.
 */
function migrateLegacyTxnIndex(dir: string, segments: readonly LogSegment[]): void {
  const legacy = path.join(dir, LEGACY_ABORTED_TXN_INDEX);
  let buf: Buffer;
  try {
    buf = fs.readFileSync(legacy);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const touched = new Set<LogSegment>();
  for (const e of decodeAbortedTxns(buf)) {
    const seg = segments.find((s) => s.baseOffset <= e.lastOffset && e.lastOffset < s.nextOffset);
    if (!seg) continue;
    seg.txnIndex.append(e);
    touched.add(seg);
  }
  for (const s of touched) s.flushSync();
  fs.rmSync(legacy);
  fsyncDir(dir);
}

/**
 * Producer state = newest valid snapshot <= log end + replay of the log after it (on open, and
 * after a truncation). Snapshots past the log end and unreadable ones are deleted.
 */
export function rebuildProducerState(
  dir: string, producers: ProducerStateManager, segments: readonly LogSegment[], startOffset: bigint,
  rebuildTxnIndex: ReadonlySet<LogSegment> = new Set(),
): void {
  const leo = segments.at(-1)!.nextOffset;
  producers.clear();
  let from = startOffset;
  let snapshotLimit = leo;
  for (const s of rebuildTxnIndex) if (s.baseOffset < snapshotLimit) snapshotLimit = s.baseOffset;
  const snapshots = snapshotOffsets(dir);
  for (const s of snapshots) if (s > leo) fs.rmSync(producerSnapshotFile(dir, s), { force: true });
  for (const s of snapshots.filter((o) => o <= snapshotLimit).reverse()) {
    try {
      producers.loadSnapshot(fs.readFileSync(producerSnapshotFile(dir, s)));
      from = s;
      break;
    } catch {
      fs.rmSync(producerSnapshotFile(dir, s), { force: true });
    }
  }
  for (const seg of segments) {
    if (seg.nextOffset <= from) continue;
    if (!rebuildTxnIndex.has(seg)) {
      seg.forEachBatchFrom(from, (h) => producers.replay(h));
      continue;
    }
    seg.txnIndex.reset();
    seg.forEachBatchFrom(from, (h) => {
      const aborted = producers.replayCompletingTxn(h, () => seg.controlTypeSync(h));
      if (aborted) seg.txnIndex.append(aborted);
    });
  }
  producers.truncateHead(startOffset);
}
