/**
 * The group coordinator's settings and the group → offsets-partition mapping Kafka uses
 * (partition = abs(javaHashCode(groupId)) % offsets.topic.num.partitions).
 */
import type { BrokerSettings } from '../config.ts';
import { KafkaError } from '../errors.ts';
import { ASSIGNOR_NAMES } from './assignors.ts';
import type { AssignorName } from './assignors.ts';

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
  /** The consumer group protocol (KIP-848): heartbeat interval and session timeout of its members. */
  consumerHeartbeatIntervalMs: number;
  consumerSessionTimeoutMs: number;
  consumerMaxSize: number;
  /** group.consumer.assignors by short name, the first the default. */
  consumerAssignors: AssignorName[];
}

/** group.consumer.assignors: Kafka's class names or the short names, unknown ones refused at start-up. */
export function parseAssignors(value: string): AssignorName[] {
  const out: AssignorName[] = [];
  for (const item of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const short = item.replace(/^org\.apache\.kafka\.coordinator\.group\.assignor\./, '').replace(/Assignor$/, '').toLowerCase();
    if (!(ASSIGNOR_NAMES as readonly string[]).includes(short)) {
      throw new KafkaError('INVALID_CONFIG', `group.consumer.assignors: unknown assignor ${item} (Brook has ${ASSIGNOR_NAMES.join(', ')})`);
    }
    out.push(short as AssignorName);
  }
  if (out.length === 0) throw new KafkaError('INVALID_CONFIG', 'group.consumer.assignors: at least one assignor is needed');
  return out;
}

function inRange(settings: BrokerSettings, name: string, min: string, max: string): number {
  const v = settings.int(name);
  if (v < settings.int(min) || v > settings.int(max)) {
    throw new KafkaError('INVALID_CONFIG', `${name}=${v} must be between ${min} (${settings.int(min)}) and ${max} (${settings.int(max)})`);
  }
  return v;
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
    consumerHeartbeatIntervalMs: inRange(settings, 'group.consumer.heartbeat.interval.ms', 'group.consumer.min.heartbeat.interval.ms', 'group.consumer.max.heartbeat.interval.ms'),
    consumerSessionTimeoutMs: inRange(settings, 'group.consumer.session.timeout.ms', 'group.consumer.min.session.timeout.ms', 'group.consumer.max.session.timeout.ms'),
    consumerMaxSize: settings.int('group.consumer.max.size'),
    consumerAssignors: parseAssignors(settings.get('group.consumer.assignors') ?? 'uniform'),
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
