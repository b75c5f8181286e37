/**
 * Leader epochs from the batches recovery scans (Kafka's LogSegment.recover assigning each
 * batch's partitionLeaderEpoch to the LeaderEpochFileCache).
 *
 * The leader-epoch checkpoint is made durable only when the recovery-point checkpoint is written
 * (leader-epoch-cache.ts), so on open it is trusted below the checkpointed recovery point and
 * nothing at or above it: there, every batch carries the epoch of the leader that wrote it, and
 * recovery verifies each of those batches anyway (log-loader.ts). The entries starting at or
 * after the cut (min(recovery point, log end)) are dropped and derived again from the epoch of
 * the first batch at or after the cut and every change of epoch after it, in the segments that
 * recovery kept (a segment deleted for overlapping or following a corrupt batch tells nothing).
 * An epoch without a batch (a leader that had not written yet) is not derived: it has nothing to
 * answer for, and a leader assigns its epoch again when it takes over again.
 *
 * Memory: one entry per change of epoch among the scanned batches.
 */
import type { EpochEntry, LeaderEpochCache } from './leader-epoch-cache.ts';
import type { BatchHeader } from './record-batch.ts';

export class RecoveredEpochStarts {
  /** Checkpointed recovery point: batches below it are not collected (their epochs are on disk). */
  private readonly from: bigint;
  private readonly bySegment = new Map<bigint, EpochEntry[]>();

  constructor(recoveryPoint: bigint) { this.from = recoveryPoint; }

  /** The visitor of one segment's recovery scan (LogSegment.load's onRecoveredBatch). */
  visitor(segmentBase: bigint): (h: BatchHeader) => void {
    const starts: EpochEntry[] = [];
    this.bySegment.set(segmentBase, starts);
    return (h) => {
      if (h.baseOffset < this.from || h.partitionLeaderEpoch < 0) return;
      if (starts.at(-1)?.epoch === h.partitionLeaderEpoch) return;
      starts.push({ epoch: h.partitionLeaderEpoch, startOffset: h.baseOffset });
    };
  }

  /**
   * Replaces what `epochs` (just loaded from its checkpoint) says from the cut on by what the
   * batches of `kept` (the segments recovery kept, oldest first) say.
   */
  rebuild(epochs: LeaderEpochCache, kept: ReadonlyArray<{ baseOffset: bigint }>, logEndOffset: bigint): void {
    epochs.truncateFromEnd(this.from < logEndOffset ? this.from : logEndOffset);
    for (const seg of kept) {
      for (const e of this.bySegment.get(seg.baseOffset) ?? []) if (e.startOffset < logEndOffset) epochs.assign(e.epoch, e.startOffset);
    }
  }
}
