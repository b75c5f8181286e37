/** ConsumerGroupHeartbeat (key 68): the KIP-848 consumer group protocol's one request. v1: the member id is the client's. */
import type { ApiSpec } from '../schema.ts';

const topicPartitions = [
  { name: 'topicId', type: 'uuid', versions: '0+' },
  { name: 'partitions', type: '[]int32', versions: '0+' },
] as const;

export const consumerGroupHeartbeat = {
  apiKey: 68,
  name: 'ConsumerGroupHeartbeat',
  validVersions: '0-1',
  flexibleVersions: '0+',
  request: [
    { name: 'groupId', type: 'string', versions: '0+' },
    { name: 'memberId', type: 'string', versions: '0+' },
    /** 0 joins, -1 leaves, -2 leaves for now (a static member coming back). */
    { name: 'memberEpoch', type: 'int32', versions: '0+' },
    { name: 'instanceId', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
    { name: 'rackId', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
    { name: 'rebalanceTimeoutMs', type: 'int32', versions: '0+', default: -1 },
    { name: 'subscribedTopicNames', type: '[]string', versions: '0+', nullableVersions: '0+', default: null },
    { name: 'subscribedTopicRegex', type: 'string', versions: '1+', nullableVersions: '1+', default: null },
    { name: 'serverAssignor', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
    { name: 'topicPartitions', type: '[]TopicPartitions', versions: '0+', nullableVersions: '0+', default: null, fields: topicPartitions },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
    { name: 'memberId', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
    { name: 'memberEpoch', type: 'int32', versions: '0+' },
    { name: 'heartbeatIntervalMs', type: 'int32', versions: '0+' },
    { name: 'assignment', type: 'Assignment', versions: '0+', nullableVersions: '0+', default: null, fields: [
      { name: 'topicPartitions', type: '[]TopicPartitions', versions: '0+', fields: topicPartitions },
    ] },
  ],
} as const satisfies ApiSpec;
