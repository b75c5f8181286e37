/**
 * When a partition's data is fsynced. FlushPolicy: when appends must be, over LocalLog's
 * group-commit flush (no I/O of its own). RollFlusher: the background work a segment roll leaves
 * (its own I/O, one task at a time). One event loop.
 *
 * Flush / durability contract
 *   - An append is in the page cache when append() returns: it survives a crash of the process
 *     (kill -9) but not of the machine, unless it was fsynced.
 *   - flush.messages=N: once N or more messages are unflushed, the append that crossed the
 *     threshold returns `flushRequired: true` and an fdatasync covering it starts at once
 *     (group commit: concurrent callers share one fdatasync). The caller must not acknowledge
 *     it before `await log.flushUpTo(result.lastOffset + 1n)` resolves. With flush.messages=1
 *     every append is flushRequired. Appends that did not cross the threshold are acknowledged
 *     at once (exactly Kafka's promise).
 *   - flush.ms=T: data is fdatasynced at most T ms after it was appended (a timer).
 *   - Default (both Long.MAX): no fsync on the produce path; recovery on open truncates any torn
 *     tail, like Kafka. Rolled segments are fdatasynced in the background right after the roll.
 *   - `flushedOffset` (Kafka's recovery point) is the offset below which everything is on disk;
 *     it is checkpointed, and on open every segment that may hold data at or above it is
 *     verified (LogLoader).
 */
import { KafkaError } from '../errors.ts';
import type { LocalLog } from './local-log.ts';
import type { LogConfig } from './log-config.ts';
import type { LogSegment } from './log-segment.ts';
import type { ProducerStateManager } from './producer-state.ts';

/** Producer snapshots kept after a roll or a retention pass. */
export const SNAPSHOTS_KEPT = 2;

export class FlushPolicy {
  private readonly local: LocalLog;
  private readonly name: string;
  private readonly isClosed: () => boolean;
  private unflushedMessages = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Offset (exclusive) below which flush.messages promised durability before acknowledgement. */
  private durableRequiredUpTo = 0n;

  constructor(local: LocalLog, isClosed: () => boolean) {
    this.local = local;
    this.name = local.name;
    this.isClosed = isClosed;
  }

  /**
   * Resolves once every batch below `offset` is fsynced (starting a flush if none covers it);
   * KAFKA_STORAGE_ERROR once the log is closed. Concurrent callers share fdatasync calls.
   */
  flushUpTo(offset: bigint): Promise<void> {
    if (offset <= this.local.recoveryPoint) return Promise.resolve();
    if (this.isClosed()) return Promise.reject(new KafkaError('KAFKA_STORAGE_ERROR', `${this.name}: log is closed`));
    const flushed = this.local.flushUpTo(offset);
    this.start();
    return flushed;
  }

  /**
   * Counts `recordCount` appended messages ending before `end`: starts the flush flush.messages
   * asks for (returning true: hold the acknowledgement), or arms flush.ms.
   */
  appended(recordCount: number, end: bigint, config: LogConfig): boolean {
    this.unflushedMessages += recordCount;
    if (this.unflushedMessages >= config.flushMessages) {
      this.durableRequiredUpTo = end;
      this.start();
      return true;
    }
    if (config.flushMs !== Infinity && this.timer === null) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flushUpTo(this.local.logEndOffset).catch(() => { /* surfaced to the next flush caller */ });
      }, config.flushMs);
      this.timer.unref();
    }
    return false;
  }

  /** A config change may put the log over flush.messages already. */
  configChanged(config: LogConfig): void {
    if (this.unflushedMessages >= config.flushMessages) this.start();
  }

  /** True when a duplicate of the append ending at `lastOffset` must wait for a flush too. */
  requiresFlush(lastOffset: bigint, config: LogConfig): boolean {
    return config.flushMessages !== Infinity && lastOffset >= this.local.recoveryPoint;
  }

  /**
   * A promise to await before acknowledging the append that ended at `lastOffset` when the
   * policy requires it durable first; null when it may be acknowledged at once.
   */
  flushed(lastOffset: bigint): Promise<void> | null {
    const end = lastOffset + 1n;
    if (end <= this.local.recoveryPoint || end > this.durableRequiredUpTo) return null;
    return this.flushUpTo(end);
  }

  /** A flush starts now: the counters restart and LocalLog runs it. */
  start(): void {
    this.unflushedMessages = 0;
    this.stop();
    this.local.startFlush();
  }

  /** Disarms the flush.ms timer. */
  stop(): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
  }
}

/**
 * The work a roll leaves for the background (Kafka schedules a flush after each roll): the
 * sealed segment's indexes and fdatasync, the producer snapshot at its end, the recovery point it
 * completes (checkpointed) and the removal of older snapshots. Tasks run one at a time in roll
 * order, so every earlier segment is flushed when one runs. The first failure is kept as
 * `failure` (the log is offline from then on); idle() never rejects.
 */
export class RollFlusher {
  private readonly local: LocalLog;
  private readonly producers: ProducerStateManager;
  private readonly checkpointRecoveryPoint: (offset: bigint) => void;
  /** Wraps an I/O failure with the partition and directory. */
  private readonly storageError: (what: string, err: unknown) => Error;
  private tasks: Promise<void> = Promise.resolve();
  private error: Error | null = null;

  constructor(local: LocalLog, producers: ProducerStateManager, checkpointRecoveryPoint: (offset: bigint) => void, storageError: (what: string, err: unknown) => Error) {
    this.local = local;
    this.producers = producers;
    this.checkpointRecoveryPoint = checkpointRecoveryPoint;
    this.storageError = storageError;
  }

  /** The first failure of background work (or the one fail() recorded); null while all is well. */
  get failure(): Error | null { return this.error; }

  /** Records a failure that takes the log offline (a failed cleaner swap); returns it. */
  fail(err: Error): Error {
    this.error = err;
    return err;
  }

  /** Resolves once every task started so far has finished. */
  idle(): Promise<void> { return this.tasks; }

  /** `old` was just sealed by a roll; `snapshot` is the producer state at its end (encoded before the roll). */
  rolled(old: LogSegment, snapshot: Buffer): void {
    const end = old.nextOffset;
    old.retain();
    this.tasks = this.tasks.then(async () => {
      try {
        old.writeIndexes();
        await old.flush();
        await this.producers.writeEncodedSnapshot(end, snapshot);
        const local = this.local;
        if (local.recoveryPoint < old.nextOffset && local.recoveryPoint >= old.baseOffset) {
          local.recoveryPoint = old.nextOffset;
          this.checkpointRecoveryPoint(local.recoveryPoint);
        }
        this.producers.deleteOldSnapshots(SNAPSHOTS_KEPT);
      } finally {
        old.release();
      }
    }).catch((err: unknown) => {
      this.error = this.storageError('background flush', err);
    });
  }
}
