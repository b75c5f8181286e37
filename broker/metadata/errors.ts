/**
 * Errors of the metadata subsystem that are not Kafka wire errors, in one table of stable codes;
 * callers branch on `code` (or the class), never on message text. Where one reaches a client it is
 * UNKNOWN_SERVER_ERROR through errorCodeOf (broker/errors.ts), like any non-Kafka error; the
 * controller and the topic admin turn StaleVersionError and ControllerFencedError into retries.
 */
import { BrookError } from '../errors.ts';

export const MetadataErrorCode = {
  /** A compare-and-swap lost: the version written against is no longer current. */
  STALE_VERSION: 'BROOK_ERR_STALE_VERSION',
  /** A controller write under an epoch older than the one that last wrote the topic. */
  CONTROLLER_FENCED: 'BROOK_ERR_CONTROLLER_FENCED',
  /** A call on a store after close(). */
  STORE_CLOSED: 'BROOK_ERR_STORE_CLOSED',
  /** The file store's metadata.json does not parse. */
  METADATA_CORRUPT: 'BROOK_ERR_METADATA_CORRUPT',
  /** Backoff options that would retry in a tight loop or never grow. */
  INVALID_BACKOFF: 'BROOK_ERR_INVALID_BACKOFF',
  /** The controller lost the compare-and-swap on one topic too many times in a row (retried on its next pass). */
  CONTROLLER_CONTENDED: 'BROOK_ERR_CONTROLLER_CONTENDED',
} as const;

export type MetadataErrorCode = (typeof MetadataErrorCode)[keyof typeof MetadataErrorCode];

export class MetadataError<C extends MetadataErrorCode = MetadataErrorCode> extends BrookError<C> {}

export class StaleVersionError extends MetadataError<'BROOK_ERR_STALE_VERSION'> {
  constructor(what: string, expected: string, actual: string) {
    super(MetadataErrorCode.STALE_VERSION, `${what}: expected version ${expected}, store has ${actual}`);
  }
}

/** A controller write under an epoch older than the one that last wrote the topic: that controller lost its lease. */
export class ControllerFencedError extends MetadataError<'BROOK_ERR_CONTROLLER_FENCED'> {
  readonly topicEpoch: number;
  readonly writerEpoch: number;
  constructor(topic: string, writerEpoch: number, topicEpoch: number) {
    super(MetadataErrorCode.CONTROLLER_FENCED, `topic ${topic}: written under controller epoch ${topicEpoch}, refusing a write under older epoch ${writerEpoch}`);
    this.topicEpoch = topicEpoch;
    this.writerEpoch = writerEpoch;
  }
}
