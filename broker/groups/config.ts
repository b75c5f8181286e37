/**
 * The group coordinator's settings and the group → offsets-partition mapping Kafka uses
 * (partition = abs(javaHashCode(groupId)) % offsets.topic.num.partitions).
 */
import type { BrokerSettings } from '../config.ts';

export const OFFSETS_TOPIC = '__consumer_offsets';

export interface GroupCoordinatorConfig {
  offsetsTopicPartitions: number;
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  initialRebalanceDelayMs: number;
  maxGroupSize: number;
  offsetMetadataMaxBytes: number;
  offsetsRetentionMs: number;
  offsetsRetentionCheckIntervalMs: number;
  /** offsets.commit.timeout.ms: how long a write waits for the ISR before failing. */
  commitTimeoutMs: number;
}

/** The group coordinator's settings from the broker's. */
export function groupCoordinatorConfig(settings: BrokerSettings): GroupCoordinatorConfig {
  return {
    offsetsTopicPartitions: settings.int('offsets.topic.num.partitions'),
    minSessionTimeoutMs: settings.int('group.min.session.timeout.ms'),
    maxSessionTimeoutMs: settings.int('group.max.session.timeout.ms'),
    initialRebalanceDelayMs: settings.int('group.initial.rebalance.delay.ms'),
    maxGroupSize: settings.int('group.max.size'),
    offsetMetadataMaxBytes: settings.int('offset.metadata.max.bytes'),
    offsetsRetentionMs: settings.int('offsets.retention.minutes') * 60_000,
    offsetsRetentionCheckIntervalMs: settings.int('offsets.retention.check.interval.ms'),
    commitTimeoutMs: settings.int('offsets.commit.timeout.ms'),
  };
}

/** Java's String.hashCode, which Kafka uses to map a group to its offsets partition. */
export function javaHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

export function partitionForGroup(groupId: string, partitions: number): number {
  return (javaHashCode(groupId) & 0x7fffffff) % partitions;
}
