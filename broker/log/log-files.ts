/**
 * Every file name in a partition directory, in one place (Kafka's LogFileUtils).
 *
 * Layout of a partition directory:
 *   00000000000000000000.log        segment data: record batches exactly as stored
 *   00000000000000000000.index      sparse offset index of that segment
 *   00000000000000000000.timeindex  sparse time index of that segment
 *   00000000000000000000.txnindex   aborted transactions whose abort marker is in that segment
 *                                   (txn-index.ts; absent while there is none)
 *   00000000000000001234.snapshot   producer-state snapshot taken at offset 1234
 *   *.deleted                       a segment file being removed (ignored and finished on open)
 *   *.tmp                           a checkpoint being written (ignored and removed on open)
 *   00000000000000000000.log.cleaned  a segment being written by the log cleaner (removed on open)
 *   00000000000000000000.log.swap     a cleaned segment committed to replace the segments in its
 *                                   offset range (the swap is finished on open: see PartitionLog)
 *   aborted-transactions.txnindex   the old layout's one aborted-transaction index per partition:
 *                                   split into the segments' .txnindex files and removed on open
 *   cleaner-offset-checkpoint       first dirty offset: the log below it has been compacted
 *   leader-epoch-checkpoint         leader epoch cache
 *   log-start-offset-checkpoint     log start offset (advanced by DeleteRecords / retention)
 *   recovery-point-checkpoint       offset below which all data is known to be fsynced
 *
 * Offsets are zero-padded to 20 digits so that `ls` sorts files by offset.
 */
import path from 'node:path';

export const LOG_SUFFIX = '.log';
export const INDEX_SUFFIX = '.index';
export const TIME_INDEX_SUFFIX = '.timeindex';
export const SNAPSHOT_SUFFIX = '.snapshot';
export const DELETED_SUFFIX = '.deleted';
export const TMP_SUFFIX = '.tmp';
export const CLEANED_SUFFIX = '.cleaned';
export const SWAP_SUFFIX = '.swap';
export const LEADER_EPOCH_CHECKPOINT = 'leader-epoch-checkpoint';
export const LOG_START_OFFSET_CHECKPOINT = 'log-start-offset-checkpoint';
export const RECOVERY_POINT_CHECKPOINT = 'recovery-point-checkpoint';
export const CLEANER_OFFSET_CHECKPOINT = 'cleaner-offset-checkpoint';
export const TXN_INDEX_SUFFIX = '.txnindex';
/** The old layout's per-partition aborted-transaction index (migrated on open, log-loader.ts). */
export const LEGACY_ABORTED_TXN_INDEX = 'aborted-transactions.txnindex';

/** `1234n` → `"00000000000000001234"`. */
export function filenamePrefixFromOffset(offset: bigint): string {
  if (offset < 0n) throw new RangeError(`negative offset ${offset}`);
  return offset.toString().padStart(20, '0');
}

export function logFile(dir: string, baseOffset: bigint): string {
  return path.join(dir, filenamePrefixFromOffset(baseOffset) + LOG_SUFFIX);
}
export function offsetIndexFile(dir: string, baseOffset: bigint): string {
  return path.join(dir, filenamePrefixFromOffset(baseOffset) + INDEX_SUFFIX);
}
export function timeIndexFile(dir: string, baseOffset: bigint): string {
  return path.join(dir, filenamePrefixFromOffset(baseOffset) + TIME_INDEX_SUFFIX);
}
export function txnIndexFile(dir: string, baseOffset: bigint): string {
  return path.join(dir, filenamePrefixFromOffset(baseOffset) + TXN_INDEX_SUFFIX);
}
export function producerSnapshotFile(dir: string, offset: bigint): string {
  return path.join(dir, filenamePrefixFromOffset(offset) + SNAPSHOT_SUFFIX);
}

const OFFSET_FILE = /^(\d{20})\.(log|index|timeindex|txnindex|snapshot)$/;

/** Parses `00000000000000001234.log` etc.; null for any other name. */
export type OffsetFileKind = 'log' | 'index' | 'timeindex' | 'txnindex' | 'snapshot';

export function parseOffsetFileName(name: string): { offset: bigint; kind: OffsetFileKind } | null {
  const m = OFFSET_FILE.exec(name);
  if (!m) return null;
  return { offset: BigInt(m[1]!), kind: m[2] as OffsetFileKind };
}

/** A leftover `.deleted` / `.tmp` / `.cleaned` file of ours (not someone else's file in the directory). */
export function isTransientFile(name: string): boolean {
  for (const suffix of [DELETED_SUFFIX, TMP_SUFFIX, CLEANED_SUFFIX]) {
    if (!name.endsWith(suffix)) continue;
    const stem = name.slice(0, -suffix.length);
    if (parseOffsetFileName(stem) || stem === LEADER_EPOCH_CHECKPOINT || stem === LOG_START_OFFSET_CHECKPOINT
      || stem === RECOVERY_POINT_CHECKPOINT || stem === CLEANER_OFFSET_CHECKPOINT) return true;
  }
  return false;
}

/** `00000000000000001234.log.swap` → 1234n; null for any other name. */
export function parseSwapFileName(name: string): bigint | null {
  if (!name.endsWith(SWAP_SUFFIX)) return null;
  const parsed = parseOffsetFileName(name.slice(0, -SWAP_SUFFIX.length));
  return parsed?.kind === 'log' ? parsed.offset : null;
}

/** Sort order of offsets (bigint), ascending: `offsets.sort(compareOffsets)`. */
export function compareOffsets(a: bigint, b: bigint): number { return a < b ? -1 : a > b ? 1 : 0; }
