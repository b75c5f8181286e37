/**
 * A partition leader (Produce) or group coordinator (TxnOffsetCommit) asking a producer's
 * transaction coordinator about partitions: whether they are in its ongoing transaction (the
 * transaction protocol v1's partition verification, KIP-890 part 1) or, for a producer of
 * protocol v2 (Produce v12, TxnOffsetCommit v5), to add them. An add that meets the producer's
 * previous transaction still writing its markers (CONCURRENT_TRANSACTIONS: a few milliseconds)
 * is asked again every 20 ms for up to 100 ms before the error goes back (Kafka's
 * add.partitions.to.txn.retry.backoff.ms and .max.ms), so the producer's first write of a
 * transaction rarely waits out its own retry backoff.
 */
import { ErrorCode } from '../errors.ts';
import type { BrokerServices } from './services.ts';

const RETRY_BACKOFF_MS = 20;
const RETRY_MAX_MS = 100;

/** An error code per `topic\0partition` (NONE: in the transaction). */
export async function joinTransaction(broker: BrokerServices, transactionalId: string, producerId: bigint, epoch: number,
  partitions: Array<{ topic: string; partition: number }>, add: boolean): Promise<Map<string, number>> {
  const deadline = broker.clock() + RETRY_MAX_MS;
  for (;;) {
    const codes = await broker.verifyTxnPartitions(transactionalId, producerId, epoch, partitions, add);
    const busy = add && [...codes.values()].some((c) => c === ErrorCode.CONCURRENT_TRANSACTIONS);
    if (!busy || broker.clock() + RETRY_BACKOFF_MS > deadline) return codes;
    await new Promise((resolve) => setTimeout(resolve, RETRY_BACKOFF_MS));
  }
}
