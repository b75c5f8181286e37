/**
 * High-watermark checkpoint: Kafka's `replication-offset-checkpoint`, one file per data
 * directory (not per partition), in the CheckpointFile format of checkpoint-file.ts:
 *   0
 *   <entry count>
 *   <topic> <partition> <high watermark>     one line per hosted partition
 * Topic names cannot contain spaces (Kafka's legal characters: [a-zA-Z0-9._-]).
 *
 * Written atomically (tmp file, fsync, rename, fsync of the directory) periodically and on clean
 * shutdown, by one writer (the broker's LogManager, one write at a time), off the event loop: the
 * values are taken when the write starts, the system calls run in libuv's thread pool. Read once
 * on start: a partition's high watermark starts at min(checkpointed, log end) instead of at its
 * log start, so ListOffsets(latest) right after a restart does not fall back to the log start. An unreadable file is reported and ignored (the
 * safe default is the log start offset: nothing is claimed committed that was not).
 */
import path from 'node:path';
import { readCheckpoint, writeCheckpointAsync } from './checkpoint-file.ts';
import { StorageError } from './errors.ts';

export const HIGH_WATERMARK_CHECKPOINT = 'replication-offset-checkpoint';

export type HighWatermarks = Map<string, bigint>;

export function hwKey(topic: string, partition: number): string { return `${topic}\u0000${partition}`; }

/** The checkpointed high watermarks of `dataDir`; empty if there is no checkpoint yet. Throws if the file is malformed. */
export function readHighWatermarks(dataDir: string): HighWatermarks {
  const out: HighWatermarks = new Map();
  const rows = readCheckpoint(path.join(dataDir, HIGH_WATERMARK_CHECKPOINT));
  for (const row of rows ?? []) {
    const [topic, partition, offset] = row;
    if (row.length !== 3 || !/^\d+$/.test(partition!) || !/^-?\d+$/.test(offset!)) {
      throw new StorageError('BROOK_ERR_CORRUPT_CHECKPOINT', `${path.join(dataDir, HIGH_WATERMARK_CHECKPOINT)}: malformed entry '${row.join(' ')}'`);
    }
    out.set(hwKey(topic!, Number(partition)), BigInt(offset!));
  }
  return out;
}

/** Writes the checkpoint of `entries` as they are now (read before the first await); one write at a time per directory. */
export function writeHighWatermarks(dataDir: string, entries: Iterable<{ topic: string; partition: number; highWatermark: bigint }>): Promise<void> {
  const rows = [...entries].map((e) => [e.topic, e.partition, e.highWatermark] as const);
  return writeCheckpointAsync(path.join(dataDir, HIGH_WATERMARK_CHECKPOINT), rows);
}
