/**
 * The records Brook writes to `__consumer_offsets`, in Kafka's own layout so the topic reads
 * the same to Kafka's tools: the key starts with an int16 version that says what the record is,
 * the value with an int16 version of its own schema. A null value is a tombstone (the offset or
 * group was deleted); compaction keeps the latest record per key.
 *
 *   key v1  OffsetCommitKey   group string, topic string, partition int32
 *   key v2  GroupMetadataKey  group string
 *   value (offset) v3         offset int64, leaderEpoch int32, metadata string, commitTimestamp int64
 *   value (group)  v3         protocolType string, generation int32, protocol string?, leader string?,
 *                             currentStateTimestamp int64, members [memberId, groupInstanceId?,
 *                             clientId, clientHost, rebalanceTimeout int32, sessionTimeout int32,
 *                             subscription bytes, assignment bytes]
 *   key v1000 BrookConsumerGroupKey  group string
 *   value (consumer group) v0  Brook's own record (Kafka splits the same state over its key
 *                             versions 3-8): groupEpoch int32, assignmentEpoch int32, assignor
 *                             string, subscriptionSignature string (the subscribed topics'
 *                             names, ids and partition counts at the last epoch bump), members [memberId, instanceId?, rackId?, clientId, clientHost,
 *                             memberEpoch int32, previousMemberEpoch int32, state int8,
 *                             rebalanceTimeoutMs int32, subscribedTopicNames [string],
 *                             subscribedTopicRegex?, serverAssignor?, assigned, pendingRevocation,
 *                             target: each [topicId uuid, partitions [int32]]]
 *                             One record per consumer-protocol group holds the whole group, so
 *                             compaction keeps exactly its latest state.
 *
 * The schemas are data, encoded by the coordinators' record codec (coordinator-common).
 */
import { RecordSchema, recordVersion } from '../coordinator-common/index.ts';
import type { FieldSpec } from '../protocol/index.ts';

const offsetCommitKey: readonly FieldSpec[] = [
  { name: 'group', type: 'string', versions: '0+' },
  { name: 'topic', type: 'string', versions: '0+' },
  { name: 'partition', type: 'int32', versions: '0+' },
];
const groupMetadataKey: readonly FieldSpec[] = [{ name: 'group', type: 'string', versions: '0+' }];
const offsetCommitValue: readonly FieldSpec[] = [
  { name: 'offset', type: 'int64', versions: '0+' },
  { name: 'leaderEpoch', type: 'int32', versions: '3+', default: -1 },
  { name: 'metadata', type: 'string', versions: '0+' },
  { name: 'commitTimestamp', type: 'int64', versions: '0+' },
  { name: 'expireTimestamp', type: 'int64', versions: '1', default: -1n },
];
const groupMetadataValue: readonly FieldSpec[] = [
  { name: 'protocolType', type: 'string', versions: '0+' },
  { name: 'generation', type: 'int32', versions: '0+' },
  { name: 'protocol', type: 'string', versions: '0+', nullableVersions: '0+' },
  { name: 'leader', type: 'string', versions: '0+', nullableVersions: '0+' },
  { name: 'currentStateTimestamp', type: 'int64', versions: '2+', default: -1n },
  { name: 'members', type: '[]MemberMetadata', versions: '0+', fields: [
    { name: 'memberId', type: 'string', versions: '0+' },
    { name: 'groupInstanceId', type: 'string', versions: '3+', nullableVersions: '3+', default: null },
    { name: 'clientId', type: 'string', versions: '0+' },
    { name: 'clientHost', type: 'string', versions: '0+' },
    { name: 'rebalanceTimeout', type: 'int32', versions: '1+' },
    { name: 'sessionTimeout', type: 'int32', versions: '0+' },
    { name: 'subscription', type: 'bytes', versions: '0+' },
    { name: 'assignment', type: 'bytes', versions: '0+' },
  ] },
];

const topicPartitions: readonly FieldSpec[] = [
  { name: 'topicId', type: 'uuid', versions: '0+' },
  { name: 'partitions', type: '[]int32', versions: '0+' },
];
const consumerGroupKey: readonly FieldSpec[] = [{ name: 'group', type: 'string', versions: '0+' }];
const consumerGroupValue: readonly FieldSpec[] = [
  { name: 'groupEpoch', type: 'int32', versions: '0+' },
  { name: 'assignmentEpoch', type: 'int32', versions: '0+' },
  { name: 'assignor', type: 'string', versions: '0+' },
  { name: 'subscriptionSignature', type: 'string', versions: '0+' },
  { name: 'members', type: '[]ConsumerMember', versions: '0+', fields: [
    { name: 'memberId', type: 'string', versions: '0+' },
    { name: 'instanceId', type: 'string', versions: '0+', nullableVersions: '0+' },
    { name: 'rackId', type: 'string', versions: '0+', nullableVersions: '0+' },
    { name: 'clientId', type: 'string', versions: '0+' },
    { name: 'clientHost', type: 'string', versions: '0+' },
    { name: 'memberEpoch', type: 'int32', versions: '0+' },
    { name: 'previousMemberEpoch', type: 'int32', versions: '0+' },
    { name: 'state', type: 'int8', versions: '0+' },
    { name: 'rebalanceTimeoutMs', type: 'int32', versions: '0+' },
    { name: 'subscribedTopicNames', type: '[]string', versions: '0+' },
    { name: 'subscribedTopicRegex', type: 'string', versions: '0+', nullableVersions: '0+' },
    { name: 'serverAssignor', type: 'string', versions: '0+', nullableVersions: '0+' },
    { name: 'assigned', type: '[]TopicPartitions', versions: '0+', fields: topicPartitions },
    { name: 'pendingRevocation', type: '[]TopicPartitions', versions: '0+', fields: topicPartitions },
    { name: 'target', type: '[]TopicPartitions', versions: '0+', fields: topicPartitions },
  ] },
];

/** Brook's own key version for a consumer-protocol group, far from the versions Kafka uses. */
const CONSUMER_GROUP_KEY_VERSION = 1000;
const CONSUMER_GROUP_VALUE_VERSION = 0;
const OFFSET_KEY_VERSION = 1;
const GROUP_KEY_VERSION = 2;
const OFFSET_VALUE_VERSION = 3;
const GROUP_VALUE_VERSION = 3;

export interface OffsetValue { offset: bigint; leaderEpoch: number; metadata: string; commitTimestamp: bigint }
export interface GroupMemberValue {
  memberId: string; groupInstanceId: string | null; clientId: string; clientHost: string;
  rebalanceTimeout: number; sessionTimeout: number; subscription: Buffer; assignment: Buffer;
}
export interface GroupValue {
  protocolType: string; generation: number; protocol: string | null; leader: string | null;
  currentStateTimestamp: bigint; members: GroupMemberValue[];
}

export interface TopicPartitionsValue { topicId: string; partitions: number[] }
export interface ConsumerMemberValue {
  memberId: string; instanceId: string | null; rackId: string | null; clientId: string; clientHost: string;
  memberEpoch: number; previousMemberEpoch: number; state: number; rebalanceTimeoutMs: number;
  subscribedTopicNames: string[]; subscribedTopicRegex: string | null; serverAssignor: string | null;
  assigned: TopicPartitionsValue[]; pendingRevocation: TopicPartitionsValue[]; target: TopicPartitionsValue[];
}
export interface ConsumerGroupValue { groupEpoch: number; assignmentEpoch: number; assignor: string; subscriptionSignature: string; members: ConsumerMemberValue[] }

const OffsetCommitKey = new RecordSchema<{ group: string; topic: string; partition: number }>('OffsetCommitKey', offsetCommitKey);
const GroupMetadataKey = new RecordSchema<{ group: string }>('GroupMetadataKey', groupMetadataKey);
const OffsetCommitValue = new RecordSchema<OffsetValue>('OffsetCommitValue', offsetCommitValue);
const GroupMetadataValue = new RecordSchema<GroupValue>('GroupMetadataValue', groupMetadataValue);
const BrookConsumerGroupKey = new RecordSchema<{ group: string }>('BrookConsumerGroupKey', consumerGroupKey);
const BrookConsumerGroupValue = new RecordSchema<ConsumerGroupValue>('BrookConsumerGroupValue', consumerGroupValue);

export function offsetKey(group: string, topic: string, partition: number): Buffer {
  return OffsetCommitKey.encode(OFFSET_KEY_VERSION, { group, topic, partition });
}
export function groupKey(group: string): Buffer { return GroupMetadataKey.encode(GROUP_KEY_VERSION, { group }); }
export function offsetValue(v: OffsetValue): Buffer { return OffsetCommitValue.encode(OFFSET_VALUE_VERSION, v); }
export function groupValue(v: GroupValue): Buffer { return GroupMetadataValue.encode(GROUP_VALUE_VERSION, v); }

/** The key of a consumer-protocol group's record: Brook's key version, its schema at version 0. */
export function consumerGroupRecordKey(group: string): Buffer { return BrookConsumerGroupKey.encode(CONSUMER_GROUP_KEY_VERSION, { group }, 0); }
export function consumerGroupRecordValue(v: ConsumerGroupValue): Buffer { return BrookConsumerGroupValue.encode(CONSUMER_GROUP_VALUE_VERSION, v); }
export function decodeConsumerGroupValue(value: Buffer): ConsumerGroupValue { return BrookConsumerGroupValue.decode(value); }

export type DecodedKey =
  | { kind: 'offset'; group: string; topic: string; partition: number }
  | { kind: 'group'; group: string }
  | { kind: 'consumer-group'; group: string };

/** Decodes a record key; null for record kinds Brook does not write (e.g. Kafka's newer ones). */
export function decodeKey(key: Buffer): DecodedKey | null {
  const version = recordVersion(key);
  if (version === 0 || version === 1) return { kind: 'offset', ...OffsetCommitKey.decode(key) };
  if (version === GROUP_KEY_VERSION) return { kind: 'group', group: GroupMetadataKey.decode(key).group };
  if (version === CONSUMER_GROUP_KEY_VERSION) return { kind: 'consumer-group', group: BrookConsumerGroupKey.decode(key, 0).group };
  return null;
}

export function decodeOffsetValue(value: Buffer): OffsetValue { return OffsetCommitValue.decode(value); }
export function decodeGroupValue(value: Buffer): GroupValue { return GroupMetadataValue.decode(value); }
