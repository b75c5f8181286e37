/**
 * Writing transaction markers on a partition leader (Kafka's WriteTxnMarkers handling in
 * ReplicaManager + GroupCoordinator.onTransactionCompleted): each marker is appended as a control
 * batch and acknowledged once the ISR has it (acks=all, as Kafka writes markers); on an offsets
 * partition the group coordinator then applies or drops the producer's pending offsets.
 *
 * Used by the WriteTxnMarkers handler (markers from another broker's coordinator) and directly by
 * the broker when the coordinator and the leader are the same broker.
 */
import { ErrorCode, KafkaError, errorCodeOf } from '../errors.ts';
import { OFFSETS_TOPIC } from '../groups/index.ts';
import type { GroupCoordinator } from '../groups/index.ts';
import type { Partition } from '../partition.ts';
import type { TxnMarker } from './txn-metadata.ts';

export interface MarkerHost {
  partition(topic: string, index: number): Partition | undefined;
  readonly groups: Pick<GroupCoordinator, 'completeTransaction'>;
  /** How long a marker waits for the ISR. */
  readonly markerTimeoutMs: number;
}

/** Writes one marker to the partitions this broker leads; an error code per `topic\0partition`. */
export async function writeMarkersLocally(host: MarkerHost, marker: TxnMarker): Promise<Map<string, number>> {
  const results = new Map<string, number>();
  await Promise.all(marker.partitions.map(async ({ topic, partition: index }) => {
    const key = `${topic}\u0000${index}`;
    try {
      const p = host.partition(topic, index);
      if (!p) throw new KafkaError('NOT_LEADER_OR_FOLLOWER', `no replica of ${topic}-${index} here`);
      const result = p.appendMarker(marker.producerId, marker.producerEpoch, marker.commit, marker.coordinatorEpoch);
      await Promise.all([p.log.flushed(result.lastOffset), p.replicated(result.lastOffset + 1n, host.markerTimeoutMs)]);
      if (topic === OFFSETS_TOPIC) host.groups.completeTransaction(index, marker.producerId, marker.commit);
      results.set(key, ErrorCode.NONE);
    } catch (err) {
      results.set(key, errorCodeOf(err));
    }
  }));
  return results;
}
