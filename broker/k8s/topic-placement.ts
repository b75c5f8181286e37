/**
 * Where a Topic's partition state lives, for every reader (the brokers' KubernetesStore, the
 * operator's controllers, tests).
 *
 * `status` is a subresource: the API server drops `status` from a create, so a Topic cannot be
 * created with its state in one write there. A broker creating a topic (CreateTopics) therefore
 * writes its topic id and first partition state into the annotation
 * `brook.dev/initial-placement` of the object it creates: one write, and the topic exists from
 * that moment with its placement, for every watcher. `status` supersedes the annotation as soon as
 * it has a topic id: the first partition-state write of a broker (a leader or ISR change, a
 * reassignment) and the operator's first status write copy the annotation there, each as a
 * compare-and-swap on the resourceVersion, so nothing newer is overwritten. From then on the
 * annotation is ignored.
 *
 * Only a complete, well-formed annotation counts: anything else reads as "not placed" (a pending
 * Topic, placed by the controller), never as a half-made topic.
 */
import type { Topic, TopicPartitionStatus } from './crds.ts';

export const initialPlacementAnnotation = 'brook.dev/initial-placement';

export interface TopicPlacement {
  readonly topicId: string;
  readonly partitions: readonly TopicPartitionStatus[];
  readonly controllerEpoch: number;
  /** True when this is `status`; false while only the creation annotation has it. */
  readonly inStatus: boolean;
}

/** The annotation value for a topic created with `topicId` and `partitions`. */
export function initialPlacementValue(topicId: string, partitions: readonly TopicPartitionStatus[]): string {
  return JSON.stringify({ topicId, partitions });
}

/** The Topic's placement: `status` when it has a topic id, else a valid creation annotation, else undefined (pending). */
export function topicPlacement(topic: Pick<Topic, 'metadata' | 'status'>): TopicPlacement | undefined {
  const status = topic.status;
  if (status?.topicId) {
    return { topicId: status.topicId, partitions: status.partitions ?? [], controllerEpoch: status.controllerEpoch ?? 0, inStatus: true };
  }
  const raw = topic.metadata.annotations?.[initialPlacementAnnotation];
  if (raw === undefined) return undefined;
  let parsed: unknown;
  try { parsed = JSON.parse(raw); } catch { return undefined; }
  if (!parsed || typeof parsed !== 'object') return undefined;
  const { topicId, partitions } = parsed as { topicId?: unknown; partitions?: unknown };
  if (typeof topicId !== 'string' || topicId === '' || !Array.isArray(partitions) || partitions.length === 0) return undefined;
  if (!partitions.every((p, i) => isPartitionStatus(p) && p.partition === i)) return undefined;
  return { topicId, partitions: partitions as TopicPartitionStatus[], controllerEpoch: 0, inStatus: false };
}

const isInt = (v: unknown, min: number): v is number => Number.isInteger(v) && (v as number) >= min;
const isBrokerIds = (v: unknown): v is number[] => Array.isArray(v) && v.every((b) => isInt(b, 0)) && new Set(v).size === v.length;

function isPartitionStatus(p: unknown): p is TopicPartitionStatus {
  if (!p || typeof p !== 'object') return false;
  const s = p as Record<string, unknown>;
  return isInt(s.partition, 0) && isBrokerIds(s.replicas) && (s.replicas as number[]).length > 0 && isInt(s.leader, -1)
    && isBrokerIds(s.isr) && isInt(s.leaderEpoch, 0) && isInt(s.partitionEpoch, 0);
}
