/**
 * Storage errors that are not Kafka wire errors: files and records the log cannot use. One table
 * of stable codes for the log subsystem; callers branch on `code` (or `instanceof StorageError`),
 * never on message text. Where one reaches a client it is KAFKA_STORAGE_ERROR / UNKNOWN_SERVER_ERROR
 * through errorCodeOf (broker/errors.ts), like any non-Kafka error.
 */
import { BrookError, KafkaError } from '../errors.ts';

export const StorageErrorCode = {
  /** Encoding a record batch without records. */
  EMPTY_BATCH: 'BROOK_ERR_EMPTY_BATCH',
  /** A checkpoint file (leader epochs, high watermarks, ...) that does not parse. */
  CORRUPT_CHECKPOINT: 'BROOK_ERR_CORRUPT_CHECKPOINT',
  /** A producer-state snapshot that is short, of an unknown version, fails its CRC or has trailing bytes. */
  CORRUPT_SNAPSHOT: 'BROOK_ERR_CORRUPT_SNAPSHOT',
  /** Compressed record data that does not decompress. */
  CORRUPT_COMPRESSED_DATA: 'BROOK_ERR_CORRUPT_COMPRESSED_DATA',
} as const;

export type StorageErrorCode = (typeof StorageErrorCode)[keyof typeof StorageErrorCode];

export class StorageError extends BrookError<StorageErrorCode> {}

/**
 * An I/O failure of partition `name`'s log in `dir`, as the wire sees it: KAFKA_STORAGE_ERROR
 * naming the partition, directory and operation (the original error is its cause). KafkaErrors
 * pass through unchanged.
 */
export function storageFailure(name: string, dir: string, what: string, err: unknown): Error {
  if (err instanceof KafkaError) return err;
  const e = new KafkaError('KAFKA_STORAGE_ERROR', `${name} (${dir}): ${what} failed: ${(err as Error).message}`);
  (e as Error & { cause?: unknown }).cause = err;
  return e;
}
