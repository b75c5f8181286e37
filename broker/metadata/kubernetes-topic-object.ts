/**
 * A Kafka topic as a Topic resource, for the Kubernetes store: the object name a Kafka topic
 * name gets, partition state ↔ `status.partitions[]`, and the Kafka error for the API server's
 * refusal of a Topic write as invalid (by the structured cause's field, never by message text).
 */
import { createHash } from 'node:crypto';
import type { ErrorName } from '../errors.ts';
import type { TopicPartitionStatus } from '../k8s/crds.ts';
import type { KubeError } from '../k8s/errors.ts';
import type { PartitionState } from './types.ts';

/** A Kubernetes object name for a Kafka topic name (Kafka allows upper case and `_`). */
export function topicObjectName(kafkaName: string): string {
  if (/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(kafkaName) && kafkaName.length <= 253 && !kafkaName.includes('..')) return kafkaName;
  const hash = createHash('sha256').update(kafkaName).digest('hex').slice(0, 10);
  const base = kafkaName.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/\.\.+/g, '.').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '').slice(0, 200);
  return base ? `${base}-${hash}` : `topic-${hash}`;
}

/** Field of the first cause that names a topic field → the Kafka error. */
const invalidFieldErrors: ReadonlyArray<readonly [string, ErrorName]> = [
  ['spec.partitions', 'INVALID_PARTITIONS'],
  ['spec.replicationFactor', 'INVALID_REPLICATION_FACTOR'],
  ['spec.topicName', 'INVALID_TOPIC_EXCEPTION'],
  ['metadata.name', 'INVALID_TOPIC_EXCEPTION'],
  ['spec.config', 'INVALID_CONFIG'],
];

/** The Kafka error for a 422 Invalid answer to a Topic write. */
export function invalidTopicError(err: KubeError): ErrorName {
  for (const cause of err.causes) {
    const field = cause.field ?? '';
    const hit = invalidFieldErrors.find(([prefix]) => field === prefix || field.startsWith(`${prefix}.`) || field.startsWith(`${prefix}[`));
    if (hit) return hit[1];
  }
  return 'INVALID_REQUEST';
}

/**
 * A partition's state as the Topic's `status.partitions[]` holds it: a reassignment in flight
 * is `reassignment` (target, adding, removing), absent when none is.
 */
export function partitionStatus(p: PartitionState): TopicPartitionStatus {
  const { addingReplicas = [], removingReplicas = [], ...rest } = p;
  const status: TopicPartitionStatus = { ...rest, replicas: [...p.replicas], isr: [...p.isr] };
  if (addingReplicas.length === 0 && removingReplicas.length === 0) return status;
  const reassignment = {
    targetReplicas: p.replicas.filter((r) => !removingReplicas.includes(r)),
    addingReplicas: [...addingReplicas],
    removingReplicas: [...removingReplicas],
  };
  return { ...status, reassignment };
}

/** The inverse of partitionStatus. */
export function partitionState(p: TopicPartitionStatus): PartitionState {
  const state = { partition: p.partition, replicas: p.replicas, leader: p.leader, isr: p.isr, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch };
  const adding = p.reassignment?.addingReplicas ?? [];
  const removing = p.reassignment?.removingReplicas ?? [];
  return adding.length === 0 && removing.length === 0 ? state : { ...state, addingReplicas: adding, removingReplicas: removing };
}
