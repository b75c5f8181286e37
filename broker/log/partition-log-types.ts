/**
 * The PartitionLog's API types: what append, retention and the cleaner's view return, and the
 * options it takes (Kafka's LogAppendInfo & co.). Reads: ReadOptions/ReadResult in local-log.ts.
 */
import type { LogConfig } from './log-config.ts';
import type { LogSegment } from './log-segment.ts';

export interface AppendOptions {
  /** The leader epoch stamped into every batch (partitionLeaderEpoch). */
  readonly leaderEpoch: number;
  /** Append time in ms (LogAppendTime, segment.ms); defaults to the log's clock. */
  readonly now?: number;
  /** Written by a coordinator of this broker, not a client (see ValidateOptions.coordinator). */
  readonly coordinator?: boolean;
}

export interface AppendResult {
  readonly baseOffset: bigint;
  readonly lastOffset: bigint;
  /** The broker's append time under LogAppendTime, -1n under CreateTime. */
  readonly logAppendTime: bigint;
  /** True when the batch repeated one of its producer's last 5: nothing was written. */
  readonly duplicate: boolean;
  readonly recordCount: number;
  /**
   * True when flush.messages requires this append to be fsynced before it is acknowledged:
   * hold the response until `log.flushUpTo(lastOffset + 1n)` resolves.
   */
  readonly flushRequired: boolean;
}

export interface RetentionResult {
  /** Base offsets of the segments deleted. */
  readonly deletedSegments: bigint[];
  readonly deletedBytes: number;
  readonly logStartOffset: bigint;
}

export interface PartitionLogOptions {
  readonly clock?: () => number;
  /** Runs `fn` after `ms` (file.delete.delay.ms); returns a cancel. Default: setTimeout, unref'd. */
  readonly schedule?: (fn: () => void, ms: number) => () => void;
  /** For messages, e.g. `orders-3`. */
  readonly name?: string;
  /** The directory was created empty just now (claimPartitionDir): a new log, with nothing to read or recover. */
  readonly fresh?: boolean;
}

/** What the log cleaner plans a clean from (see log-cleaner.ts); a snapshot, not live state. */
export interface CleanerView {
  /** Every segment but the active one, oldest first. */
  readonly segments: readonly LogSegment[];
  readonly activeBaseOffset: bigint;
  readonly logStartOffset: bigint;
  /** The log below this offset has been compacted (cleaner-offset-checkpoint). */
  readonly firstDirtyOffset: bigint;
  readonly config: LogConfig;
  /** Per producer id, the last offset of its last batch: such batches are kept, if only as an empty header. */
  readonly producerLastOffsets: ReadonlyMap<bigint, bigint>;
  /** Changes whenever the log is truncated: a clean planned before must not be committed. */
  readonly generation: number;
}
