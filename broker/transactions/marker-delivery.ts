/**
 * Delivering one decided transaction's markers, the coordinator's retry loop (as Kafka's
 * TransactionMarkerChannelManager retries): the marker goes to every partition of a Prepare*
 * transaction through the TxnMarkerWriter; partitions whose leader is moving or unreachable are
 * retried with backoff (50 ms, doubling to 1 s); a deleted partition, or one whose producer moved
 * past this epoch, has nothing to mark and is dropped (as Kafka). Before each round it asks
 * `coordinatorEpoch()`, which answers null once this broker no longer completes the transaction
 * (closed, resigned, or the metadata changed): the next coordinator resumes from the Prepare*
 * state it loads.
 */
import { ErrorCode, errorInfo } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { splitTp } from './txn-metadata.ts';
import type { TxnMarkerWriter, TxnMetadata } from './txn-metadata.ts';

/** Resolves true once every partition of `m` has its marker, false if `coordinatorEpoch()` said stop first. */
export async function deliverMarkers(opts: {
  markers: TxnMarkerWriter; log: Logger; m: TxnMetadata; commit: boolean; coordinatorEpoch: () => number | null;
}): Promise<boolean> {
  const { markers, log, m, commit } = opts;
  const id = m.transactionalId;
  let remaining = [...m.partitions];
  let backoffMs = 50;
  while (remaining.length > 0) {
    const coordinatorEpoch = opts.coordinatorEpoch();
    if (coordinatorEpoch === null) return false;
    let results: Map<string, number>;
    try {
      results = await markers.write({
        producerId: m.producerId, producerEpoch: m.producerEpoch, commit, coordinatorEpoch, partitions: remaining.map(splitTp),
      });
    } catch (err) {
      log.warn(`writing ${commit ? 'commit' : 'abort'} markers for ${id} failed: ${(err as Error).message}`);
      results = new Map();
    }
    remaining = remaining.filter((k) => {
      const code = results.get(k) ?? ErrorCode.UNKNOWN_SERVER_ERROR;
      if (code === ErrorCode.NONE) return false;
      if (code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION || code === ErrorCode.INVALID_PRODUCER_EPOCH) {
        log.warn(`marker for ${id} on ${k.replace('\u0000', '-')} dropped: ${errorInfo(code).name}`);
        return false;
      }
      return true;
    });
    if (remaining.length > 0) {
      await new Promise((r) => setTimeout(r, backoffMs).unref());
      backoffMs = Math.min(backoffMs * 2, 1000);
    }
  }
  return true;
}
