/**
 * Leader epoch cache (Kafka's LeaderEpochFileCache): the start offset of every leader epoch
 * seen in this log, for OffsetForLeaderEpoch and follower truncation (KIP-101/279).
 *
 * File `leader-epoch-checkpoint`, Kafka's checkpoint text format (checkpoint-file.ts) with one
 * `<epoch> <startOffset>` line per entry, epochs and start offsets strictly increasing.
 *
 * Durability contract: changes (assign, truncation) are made in memory only and mark the cache
 * dirty; flush() rewrites the file atomically (tmp + fsync + rename + directory fsync) when it is
 * dirty. The PartitionLog flushes it before every write of its recovery-point checkpoint, so
 * every entry starting below the checkpointed recovery point is on disk; entries at or above it
 * are derived again on open from the partitionLeaderEpoch of the batches recovery scans there
 * (log-loader.ts), as Kafka's segment recovery does. A new leader therefore costs no I/O here
 * (it used to cost two fsyncs per partition, most of creating a topic), and a crash loses only
 * entries that recovery rebuilds, or an epoch with no batch yet, which the leader assigns again
 * when it takes over again.
 * One writer (the PartitionLog), synchronous.
 */
import path from 'node:path';
import { readCheckpoint, writeCheckpoint } from './checkpoint-file.ts';
import { LEADER_EPOCH_CHECKPOINT } from './log-files.ts';
import { StorageError } from './errors.ts';

export interface EpochEntry {
  readonly epoch: number;
  readonly startOffset: bigint;
}

export const UNDEFINED_EPOCH = -1;
export const UNDEFINED_EPOCH_OFFSET = -1n;

export class LeaderEpochCache {
  private readonly file: string;
  private epochs: EpochEntry[] = [];
  /** The entries differ from what the file holds (or would hold: it may be absent). */
  private dirty = false;

  constructor(dir: string) {
    this.file = path.join(dir, LEADER_EPOCH_CHECKPOINT);
  }

  /** Loads the checkpoint; a malformed file is dropped (returns false) and rebuilt later. */
  load(): boolean {
    try {
      const rows = readCheckpoint(this.file) ?? [];
      const epochs = rows.map(([e, o]) => ({ epoch: Number(e), startOffset: BigInt(o!) }));
      for (let i = 1; i < epochs.length; i++) {
        if (epochs[i]!.epoch <= epochs[i - 1]!.epoch || epochs[i]!.startOffset < epochs[i - 1]!.startOffset) throw new StorageError('BROOK_ERR_CORRUPT_CHECKPOINT', `${this.file}: epochs not increasing`);
      }
      this.epochs = epochs;
      this.dirty = false;
      return true;
    } catch {
      this.epochs = [];
      this.dirty = true;
      return false;
    }
  }

  get entries(): readonly EpochEntry[] { return this.epochs; }
  get latestEpoch(): number { return this.epochs.at(-1)?.epoch ?? UNDEFINED_EPOCH; }

  /**
   * Records that `epoch` starts at `startOffset`. No-op if it is already the latest epoch with
   * an earlier or equal start; otherwise entries with epoch >= `epoch` or start >= `startOffset`
   * are replaced (Kafka's assign).
   */
  assign(epoch: number, startOffset: bigint): void {
    if (epoch < 0) return;
    const latest = this.epochs.at(-1);
    if (latest && latest.epoch === epoch && latest.startOffset <= startOffset) return;
    this.epochs = this.epochs.filter((e) => e.epoch < epoch && e.startOffset < startOffset);
    this.epochs.push({ epoch, startOffset });
    this.dirty = true;
  }

  /**
   * OffsetForLeaderEpoch (Kafka's LeaderEpochFileCache.endOffsetFor): the largest epoch <=
   * `requested` that this log knows, and the start offset of the next epoch (the log end offset
   * when `requested` is the latest epoch). (-1, -1) when `requested` is -1, newer than the
   * latest epoch, or the cache is empty; (requested, first start offset) when it is older than
   * every known epoch.
   */
  endOffsetFor(requested: number, logEndOffset: bigint): { leaderEpoch: number; endOffset: bigint } {
    const undefinedAnswer = { leaderEpoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
    if (requested === UNDEFINED_EPOCH || this.epochs.length === 0) return undefinedAnswer;
    const latest = this.epochs.at(-1)!;
    if (requested === latest.epoch) return { leaderEpoch: requested, endOffset: logEndOffset };
    const higherIdx = this.epochs.findIndex((e) => e.epoch > requested);
    if (higherIdx < 0) return undefinedAnswer;
    const higher = this.epochs[higherIdx]!;
    if (higherIdx === 0) return { leaderEpoch: requested, endOffset: higher.startOffset };
    return { leaderEpoch: this.epochs[higherIdx - 1]!.epoch, endOffset: higher.startOffset };
  }

  /** Removes entries starting at or after `endOffset` (log truncated to it). */
  truncateFromEnd(endOffset: bigint): void {
    const kept = this.epochs.filter((e) => e.startOffset < endOffset);
    if (kept.length !== this.epochs.length) {
      this.epochs = kept;
      this.dirty = true;
    }
  }

  /** Log start moved to `startOffset`: drop older entries, keeping the one that covers it. */
  truncateFromStart(startOffset: bigint): void {
    let lastBelow = -1;
    for (let i = 0; i < this.epochs.length; i++) if (this.epochs[i]!.startOffset <= startOffset) lastBelow = i;
    if (lastBelow < 0) return;
    const covering = this.epochs[lastBelow]!;
    if (lastBelow === 0 && covering.startOffset === startOffset) return;
    this.epochs = [{ epoch: covering.epoch, startOffset }, ...this.epochs.slice(lastBelow + 1)];
    this.dirty = true;
  }

  clear(): void {
    if (this.epochs.length > 0) this.dirty = true;
    this.epochs = [];
  }

  /** True when the file does not hold the current entries (flush() would write). */
  get unflushed(): boolean { return this.dirty; }

  /** Writes the entries to the file and makes them durable, if they changed since the last flush or load. */
  flush(): void {
    if (!this.dirty) return;
    writeCheckpoint(this.file, this.epochs.map((e) => [e.epoch, e.startOffset]));
    this.dirty = false;
  }
}
