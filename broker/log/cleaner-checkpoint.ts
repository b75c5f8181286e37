/**
 * CleanerCheckpoint: what the log cleaner has done to one log — the first offset not yet
 * compacted (file cleaner-offset-checkpoint, one offset), the truncation generation (a clean
 * planned before a truncation must not be committed) and the earliest delete horizon of the
 * tombstones the last clean kept. One writer (the log, on the event loop).
 */
import { writeOffsetCheckpoint } from './checkpoint-file.ts';
import { CLEANER_OFFSET_CHECKPOINT } from './log-files.ts';

export class CleanerCheckpoint {
  private readonly dir: string;
  private offset: bigint;
  private gen = 0;
  private horizon: number | null = null;

  constructor(dir: string, firstDirty: bigint) {
    this.dir = dir;
    this.offset = firstDirty;
  }

  /** Bumped by every truncation. */
  get generation(): number { return this.gen; }
  /** Earliest delete horizon (ms) among the tombstones the last clean kept; null if none. */
  get earliestTombstoneHorizon(): number | null { return this.horizon; }

  /** The first dirty offset, within [logStart, logEnd]. */
  firstDirty(logStart: bigint, logEnd: bigint): bigint {
    const o = this.offset < logStart ? logStart : this.offset;
    return o > logEnd ? logEnd : o;
  }

  /** The log was truncated; it now ends at `logEnd`. */
  truncated(logEnd: bigint): void {
    this.gen++;
    if (this.offset > logEnd) this.set(logEnd);
  }

  /** The log was emptied and restarted at `offset`. */
  restartedAt(offset: bigint): void {
    this.gen++;
    this.set(offset);
  }

  /** Records a clean planned at `generation` (ignored if the log was truncated since). */
  cleaned(firstDirty: bigint, generation: number, tombstoneHorizon: number | null, logEnd: bigint): void {
    if (generation !== this.gen) return;
    this.horizon = tombstoneHorizon;
    this.set(firstDirty > logEnd ? logEnd : firstDirty);
  }

  private set(offset: bigint): void {
    this.offset = offset;
    writeOffsetCheckpoint(this.dir, CLEANER_OFFSET_CHECKPOINT, offset);
  }
}
