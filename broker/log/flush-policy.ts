/**
 * FlushPolicy: when a partition's appends must be fsynced, over LocalLog's group-commit flush.
 * One event loop; no I/O of its own.
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
import type { LocalLog } from './local-log.ts';
import type { LogConfig } from './log-config.ts';

export class FlushPolicy {
  private readonly local: LocalLog;
  /** PartitionLog.flushUpTo: refuses once the log is closed. */
  private readonly flushUpTo: (offset: bigint) => Promise<void>;
  private unflushedMessages = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Offset (exclusive) below which flush.messages promised durability before acknowledgement. */
  private durableRequiredUpTo = 0n;

  constructor(local: LocalLog, flushUpTo: (offset: bigint) => Promise<void>) {
    this.local = local;
    this.flushUpTo = flushUpTo;
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
