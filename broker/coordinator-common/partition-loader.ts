/**
 * Loading a coordinator's state from its internal topic (Kafka's CoordinatorLoader). When this
 * broker becomes the leader of a __consumer_offsets or __transaction_state partition, the group
 * or transaction coordinator replays that partition's log from its log start offset to its log
 * end: whole batches in offset order, read a megabyte at a time (at least one batch per read),
 * each handed to the coordinator with the header fields it needs (producer id, transactional,
 * commit or abort marker) and its records decoded on demand. The topics are compacted, so the
 * coordinator keeps the latest value per key and a null value deletes. Reads only: the log is
 * not changed; one that grows meanwhile is read on to its new end.
 */
import type { PartitionLog } from '../log/index.ts';
import { CONTROL_MASK, TRANSACTIONAL_MASK } from '../log/record-batch.ts';
import { CONTROL_COMMIT, controlTypeOf, decodeBatchRecords, forEachBatch } from '../log/records.ts';
import type { Record } from '../log/records.ts';

/** One batch of an internal partition, as a loading coordinator sees it. */
export interface LoadedBatch {
  readonly producerId: bigint;
  readonly transactional: boolean;
  /** A control batch's marker (a transaction's commit or abort); null for a batch of data records. */
  readonly control: 'commit' | 'abort' | null;
  /** The batch's records, decoded. */
  records(): Record[];
}

const READ_BYTES = 1 << 20;

/** Replays `log` from its start to its end, batch after batch (see above). */
export async function replayPartitionLog(log: Pick<PartitionLog, 'logStartOffset' | 'logEndOffset' | 'read'>, onBatch: (batch: LoadedBatch) => void): Promise<void> {
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const { records: bytes } = await log.read(offset, READ_BYTES, { minOneBatch: true });
    if (bytes.length === 0) break;
    forEachBatch(bytes, (pos) => {
      const attributes = bytes.readInt16BE(pos + 21);
      onBatch({
        producerId: bytes.readBigInt64BE(pos + 43),
        transactional: (attributes & TRANSACTIONAL_MASK) !== 0,
        control: attributes & CONTROL_MASK ? (controlTypeOf(bytes, pos) === CONTROL_COMMIT ? 'commit' : 'abort') : null,
        records: () => decodeBatchRecords(bytes, pos),
      });
      offset = bytes.readBigInt64BE(pos) + BigInt(bytes.readInt32BE(pos + 23)) + 1n;
    });
  }
}
