/**
 * The consumer-group APIs: the classic protocol's FindCoordinator (10), JoinGroup (11), Heartbeat
 * (12), LeaveGroup (13), SyncGroup (14), DescribeGroups (15); the consumer protocol's (KIP-848)
 * ConsumerGroupHeartbeat (68) and ConsumerGroupDescribe (69); and for both ListGroups (16),
 * OffsetCommit (8), OffsetFetch (9), DeleteGroups (42), OffsetDelete (47). The group logic lives
 * in broker/groups; these handlers translate requests and responses.
 */
import { ErrorCode, KafkaError, errorCodeOf } from '../errors.ts';
import { OFFSETS_TOPIC } from '../groups/index.ts';
import { TRANSACTION_STATE_TOPIC } from '../transactions/index.ts';
import { AclOperation, allowed, clusterAllowed, ResourceType } from './authz.ts';
import { commitAuthorized } from './offset-commit-authz.ts';
import type { ApiHandler, BrokerServices, RequestContext, Response } from './index.ts';

type DescribedMember = NonNullable<NonNullable<Response<15>['groups']>[number]['members']>[number];

const KEY_TYPE_GROUP = 0;
const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;

const KEY_TYPE_TRANSACTION = 1;

/** An internal topic whose partition leaders coordinate: __consumer_offsets (groups) or __transaction_state. */
interface CoordinatorTopic {
  name: string;
  partitions: number;
  replicationFactor: number;
  /** The setting that names the replication factor, for the error message. */
  rfSetting: string;
  configs: Record<string, string>;
}

function coordinatorTopic(broker: BrokerServices, keyType: number): CoordinatorTopic {
  if (keyType === KEY_TYPE_TRANSACTION) {
    return {
      name: TRANSACTION_STATE_TOPIC, partitions: broker.settings.int('transaction.state.log.num.partitions'),
      replicationFactor: broker.settings.int('transaction.state.log.replication.factor'), rfSetting: 'transaction.state.log.replication.factor',
      configs: {
        'cleanup.policy': 'compact', 'segment.bytes': String(broker.settings.int('transaction.state.log.segment.bytes')),
        'min.insync.replicas': String(broker.settings.int('transaction.state.log.min.isr')),
      },
    };
  }
  return {
    name: OFFSETS_TOPIC, partitions: broker.settings.int('offsets.topic.num.partitions'),
    replicationFactor: broker.settings.int('offsets.topic.replication.factor'), rfSetting: 'offsets.topic.replication.factor',
    configs: { 'cleanup.policy': 'compact', 'segment.bytes': String(broker.settings.int('offsets.topic.segment.bytes')) },
  };
}

/**
 * The broker that coordinates `key`: the leader of its partition of the coordinator topic
 * (__consumer_offsets for a group, __transaction_state for a transactional id). The topic is
 * created on first use, as Kafka does, with its replication factor setting — and, as in Kafka,
 * not before that many brokers are alive (COORDINATOR_NOT_AVAILABLE meanwhile), so a client
 * arriving early cannot leave an under-replicated internal topic for good.
 */
async function coordinatorNode(broker: BrokerServices, key: string, keyType: number, listener: string): Promise<{ nodeId: number; host: string; port: number } | null> {
  const topic = coordinatorTopic(broker, keyType);
  if (!broker.topic(topic.name)) {
    const rf = topic.replicationFactor;
    const alive = broker.liveBrokers().length;
    if (alive < rf) {
      throw new KafkaError('COORDINATOR_NOT_AVAILABLE', `Number of alive brokers '${alive}' does not meet the required replication factor '${rf}' `
        + `for the ${topic.name} topic (configured via '${topic.rfSetting}'). This error can be ignored if the cluster is starting up and not all brokers are up yet.`);
    }
    try {
      await broker.admin.create({ name: topic.name, numPartitions: topic.partitions, replicationFactor: rf, assignments: [], configs: topic.configs });
      broker.log.info(`created ${topic.name} (${topic.partitions} partitions, RF ${rf})`);
    } catch (err) {
      if (!(err instanceof KafkaError && err.errorName === 'TOPIC_ALREADY_EXISTS')) throw err;
    }
    await broker.settled();
  }
  const index = keyType === KEY_TYPE_TRANSACTION ? broker.transactions.partitionFor(key) : broker.groups.partitionFor(key);
  const state = broker.topic(topic.name)?.partitions[index];
  if (!state || state.leader < 0) return null;
  const endpoint = broker.brokerEndpoints(listener).find((b) => b.nodeId === state.leader);
  return endpoint ? { nodeId: endpoint.nodeId, host: endpoint.host, port: endpoint.port } : null;
}

/** FindCoordinator: the coordinator of a group or transactional id is the leader of its internal-topic partition. */
async function coordinatorFor(ctx: RequestContext, key: string, keyType: number) {
  const { broker, listener } = ctx;
  const none = { nodeId: -1, host: '', port: -1 };
  if (keyType !== KEY_TYPE_GROUP && keyType !== KEY_TYPE_TRANSACTION) {
    return { ...none, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unknown coordinator key type ${keyType}.` };
  }
  if (!key) {
    return keyType === KEY_TYPE_GROUP
      ? { ...none, errorCode: ErrorCode.INVALID_GROUP_ID, errorMessage: 'The group id is empty.' }
      : { ...none, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'The transactional id is empty.' };
  }
  // finding a coordinator needs DESCRIBE on the group or transactional id
  if (keyType === KEY_TYPE_GROUP && !allowed(ctx, AclOperation.DESCRIBE, ResourceType.GROUP, key)) {
    return { ...none, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, errorMessage: null };
  }
  if (keyType === KEY_TYPE_TRANSACTION && !allowed(ctx, AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, key)) {
    return { ...none, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, errorMessage: null };
  }
  try {
    const leader = await coordinatorNode(broker, key, keyType, listener);
    if (!leader) return { ...none, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: 'The coordinator partition has no leader yet.' };
    return { ...leader, errorCode: ErrorCode.NONE, errorMessage: null };
  } catch (err) {
    return { ...none, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: (err as Error).message };
  }
}

export const findCoordinatorHandler: ApiHandler<10> = {
  apiKey: 10,
  minVersion: 0,
  maxVersion: 4,
  async handle(req, ctx) {
    if (ctx.apiVersion >= 4) {
      const coordinators = await Promise.all(req.coordinatorKeys.map(async (key) => ({ key, ...await coordinatorFor(ctx, key, req.keyType) })));
      return { throttleTimeMs: 0, coordinators };
    }
    return { throttleTimeMs: 0, ...await coordinatorFor(ctx, req.key, req.keyType) };
  },
};


export const joinGroupHandler: ApiHandler<11> = {
  apiKey: 11,
  minVersion: 0,
  maxVersion: 9,
  async handle(req, ctx) {
    const { broker, apiVersion, clientId, remote } = ctx;
    if (!allowed(ctx, AclOperation.READ, ResourceType.GROUP, req.groupId)) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, generationId: -1, protocolName: apiVersion >= 7 ? null : '', leader: '', memberId: req.memberId, members: [] };
    }
    const result = await broker.groups.join({
      groupId: req.groupId, memberId: req.memberId, groupInstanceId: req.groupInstanceId, protocolType: req.protocolType,
      protocols: req.protocols, sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: apiVersion >= 1 ? req.rebalanceTimeoutMs : req.sessionTimeoutMs,
      clientId: clientId ?? '', clientHost: `/${remote.replace(/:\d+$/, '')}`, requireKnownMemberId: apiVersion >= 4,
    });
    return { throttleTimeMs: 0, skipAssignment: false, ...result, protocolName: result.protocolName ?? (apiVersion >= 7 ? null : '') };
  },
};

export const syncGroupHandler: ApiHandler<14> = {
  apiKey: 14,
  minVersion: 0,
  maxVersion: 5,
  async handle(req, ctx) {
    if (!allowed(ctx, AclOperation.READ, ResourceType.GROUP, req.groupId)) return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, assignment: Buffer.alloc(0) };
    const result = await ctx.broker.groups.sync(req);
    return { throttleTimeMs: 0, ...result };
  },
};

export const heartbeatHandler: ApiHandler<12> = {
  apiKey: 12,
  minVersion: 0,
  maxVersion: 4,
  handle(req, ctx) {
    if (!allowed(ctx, AclOperation.READ, ResourceType.GROUP, req.groupId)) return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED };
    return { throttleTimeMs: 0, errorCode: ctx.broker.groups.heartbeat(req) };
  },
};

export const leaveGroupHandler: ApiHandler<13> = {
  apiKey: 13,
  minVersion: 0,
  maxVersion: 5,
  handle(req, ctx) {
    const { broker, apiVersion } = ctx;
    if (!allowed(ctx, AclOperation.READ, ResourceType.GROUP, req.groupId)) return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, members: [] };
    const members = apiVersion >= 3 ? req.members : [{ memberId: req.memberId, groupInstanceId: null }];
    const result = broker.groups.leave(req.groupId, members);
    // v0-2 carry one member and report its error at the top level.
    const errorCode = apiVersion >= 3 || result.errorCode !== ErrorCode.NONE ? result.errorCode : result.members[0]!.errorCode;
    return { throttleTimeMs: 0, errorCode, members: result.members };
  },
};


export const offsetCommitHandler: ApiHandler<8> = {
  apiKey: 8,
  minVersion: 2,
  maxVersion: 9,
  async handle(req, ctx) {
    const { broker, apiVersion } = ctx;
    const exists = (topic: string, partition: number) => partition >= 0 && partition < (broker.topic(topic)?.partitions.length ?? 0);
    const topics = await commitAuthorized(ctx, req.groupId, req.topics, (allowedTopics) => broker.groups.commitOffsets({
      groupId: req.groupId, generationId: req.generationIdOrMemberEpoch, memberId: req.memberId,
      groupInstanceId: req.groupInstanceId, apiVersion, topics: allowedTopics,
    }), exists);
    return { throttleTimeMs: 0, topics };
  },
};


/** requireStable (v7+, KIP-447): a partition with an offset pending in an open transaction answers UNSTABLE_OFFSET_COMMIT (retriable). */
function fetchGroupOffsets(ctx: RequestContext, groupId: string, topics: Array<{ name: string; partitionIndexes: number[] }> | null, requireStable: boolean,
  member: { memberId: string | null; memberEpoch: number } = { memberId: null, memberEpoch: -1 }) {
  const { broker } = ctx;
  // DESCRIBE on the group; topics the principal may not DESCRIBE are TOPIC_AUTHORIZATION_FAILED
  // when named, left out of an all-topics fetch (Kafka's checks)
  if (!allowed(ctx, AclOperation.DESCRIBE, ResourceType.GROUP, groupId)) {
    return {
      errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED,
      topics: (topics ?? []).map((t) => ({ name: t.name, partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, committedOffset: -1n, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED })) })),
    };
  }
  const invalid = broker.groups.validateOffsetFetch(groupId, member.memberId, member.memberEpoch);
  if (invalid !== ErrorCode.NONE) return { errorCode: invalid, topics: [] };
  const describable = (topic: string) => allowed(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, topic);
  const r = broker.groups.fetchOffsets(groupId, topics);
  return {
    errorCode: r.errorCode,
    topics: r.topics.filter((t) => topics !== null || describable(t.name)).map((t) => topics !== null && !describable(t.name) ? {
      name: t.name,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, committedOffset: -1n, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED })),
    } : ({
      name: t.name,
      partitions: t.partitions.map((p) => ({
        partitionIndex: p.partitionIndex,
        committedOffset: p.offset?.offset ?? -1n,
        committedLeaderEpoch: p.offset?.leaderEpoch ?? -1,
        metadata: p.offset?.metadata ?? '',
        errorCode: requireStable && broker.groups.hasPendingOffset(groupId, t.name, p.partitionIndex) ? ErrorCode.UNSTABLE_OFFSET_COMMIT : ErrorCode.NONE,
      })),
    })),
  };
}

export const offsetFetchHandler: ApiHandler<9> = {
  apiKey: 9,
  minVersion: 1,
  maxVersion: 9,
  handle(req, ctx) {
    const { apiVersion } = ctx;
    if (apiVersion >= 8) {
      return { throttleTimeMs: 0, groups: req.groups.map((g) => ({ groupId: g.groupId, ...fetchGroupOffsets(ctx, g.groupId, g.topics, req.requireStable, g) })) };
    }
    const r = fetchGroupOffsets(ctx, req.groupId, req.topics, req.requireStable);
    if (apiVersion < 2 && r.errorCode !== ErrorCode.NONE) {
      // v1 has no top-level error: report it on every requested partition.
      for (const t of r.topics) for (const p of t.partitions) p.errorCode = r.errorCode;
    }
    return { throttleTimeMs: 0, ...r };
  },
};

export const listGroupsHandler: ApiHandler<16> = {
  apiKey: 16,
  minVersion: 0,
  maxVersion: 5,
  handle(req, ctx) {
    // DESCRIBE on the cluster lists every group; else the groups the principal may DESCRIBE
    const all = clusterAllowed(ctx, AclOperation.DESCRIBE);
    const groups = ctx.broker.groups.listGroups(req.statesFilter ?? [], req.typesFilter ?? [])
      .filter((g) => all || allowed(ctx, AclOperation.DESCRIBE, ResourceType.GROUP, g.groupId))
      .map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, groupState: g.state, groupType: g.type }));
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, groups };
  },
};

export const describeGroupsHandler: ApiHandler<15> = {
  apiKey: 15,
  minVersion: 0,
  maxVersion: 6,
  handle(req, ctx) {
    return {
      throttleTimeMs: 0,
      groups: req.groups.map((groupId) => {
        const denied = !allowed(ctx, AclOperation.DESCRIBE, ResourceType.GROUP, groupId);
        const { errorCode, group } = denied ? { errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, group: undefined } : ctx.broker.groups.describe(groupId);
        const base = { errorCode, errorMessage: null as string | null, groupId, groupState: 'Dead', protocolType: '', protocolData: '', members: [] as DescribedMember[], authorizedOperations: AUTHORIZED_OPERATIONS_OMITTED };
        if (!group) return base;
        if (group.type === 'consumer') return { ...base, errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: `Group ${groupId} is not a classic group.` };
        const stable = group.is('Stable');
        return {
          ...base,
          groupState: group.state,
          protocolType: group.protocolType ?? '',
          protocolData: stable ? group.protocolName ?? '' : '',
          members: [...group.members.values()].map((m) => ({
            memberId: m.memberId, groupInstanceId: m.groupInstanceId, clientId: m.clientId, clientHost: m.clientHost,
            memberMetadata: stable ? group.metadataOf(m) : Buffer.alloc(0), memberAssignment: stable ? m.assignment : Buffer.alloc(0),
          })),
        };
      }),
    };
  },
};

export const deleteGroupsHandler: ApiHandler<42> = {
  apiKey: 42,
  minVersion: 0,
  maxVersion: 2,
  async handle(req, ctx) {
    const results = [];
    for (const groupId of req.groupsNames) {
      let errorCode: number;
      try {
        errorCode = allowed(ctx, AclOperation.DELETE, ResourceType.GROUP, groupId) ? await ctx.broker.groups.deleteGroup(groupId) : ErrorCode.GROUP_AUTHORIZATION_FAILED;
      } catch (err) {
        errorCode = errorCodeOf(err);
      }
      results.push({ groupId, errorCode });
    }
    return { throttleTimeMs: 0, results };
  },
};

export const offsetDeleteHandler: ApiHandler<47> = {
  apiKey: 47,
  minVersion: 0,
  maxVersion: 0,
  async handle(req, ctx) {
    // DELETE on the group, READ on each topic (Kafka's checks)
    if (!allowed(ctx, AclOperation.DELETE, ResourceType.GROUP, req.groupId)) return { errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, throttleTimeMs: 0, topics: [] };
    const readable = req.topics.filter((t) => allowed(ctx, AclOperation.READ, ResourceType.TOPIC, t.name));
    const { errorCode, results } = await ctx.broker.groups.deleteOffsets(req.groupId,
      readable.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => p.partitionIndex) })),
      (group, topic) => (group.type === 'consumer'
        ? [...group.consumer.members.values()].some((m) => m.subscribedTopicNames.includes(topic))
        : subscribedTopics(group.metadataOf.bind(group), [...group.members.values()]).has(topic)));
    return {
      errorCode,
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: readable.includes(t) ? results.get(`${t.name}\u0000${p.partitionIndex}`) ?? errorCode : ErrorCode.TOPIC_AUTHORIZATION_FAILED,
        })),
      })),
    };
  },
};

/**
 * Topics in consumer-protocol subscriptions (ConsumerProtocolSubscription: int16 version,
 * int32 topic count, int16-length topic names, ...). Unparseable metadata subscribes to nothing.
 */
export function subscribedTopics<M>(metadataOf: (m: M) => Buffer, members: M[]): Set<string> {
  const topics = new Set<string>();
  for (const m of members) {
    const buf = metadataOf(m);
    try {
      let pos = 2;
      const n = buf.readInt32BE(pos);
      pos += 4;
      for (let i = 0; i < n; i++) {
        const len = buf.readInt16BE(pos);
        pos += 2;
        topics.add(buf.toString('utf8', pos, pos + len));
        pos += len;
      }
    } catch {
      // not the consumer protocol's layout
    }
  }
  return topics;
}

/** ConsumerGroupHeartbeat (KIP-848): join, heartbeat, reconcile and leave in one request. */
export const consumerGroupHeartbeatHandler: ApiHandler<68> = {
  apiKey: 68,
  minVersion: 0,
  maxVersion: 1,
  async handle(req, ctx) {
    const { broker, apiVersion, clientId, remote } = ctx;
    // READ on the group (Kafka's check)
    if (!allowed(ctx, AclOperation.READ, ResourceType.GROUP, req.groupId)) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, errorMessage: null, memberId: req.memberId, memberEpoch: -1, heartbeatIntervalMs: 0, assignment: null };
    }
    const r = await broker.groups.consumerHeartbeat({
      apiVersion, groupId: req.groupId, memberId: req.memberId, memberEpoch: req.memberEpoch, instanceId: req.instanceId, rackId: req.rackId,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs, subscribedTopicNames: req.subscribedTopicNames, subscribedTopicRegex: req.subscribedTopicRegex,
      serverAssignor: req.serverAssignor, topicPartitions: req.topicPartitions, clientId: clientId ?? '', clientHost: `/${remote.replace(/:\d+$/, '')}`,
    });
    return { throttleTimeMs: 0, ...r };
  },
};

/** ConsumerGroupDescribe (KIP-848): a consumer-protocol group with its epochs, members, assignments and targets. */
export const consumerGroupDescribeHandler: ApiHandler<69> = {
  apiKey: 69,
  minVersion: 0,
  maxVersion: 1,
  handle(req, ctx) {
    const { broker } = ctx;
    const withNames = (a: Map<string, Set<number>>) => ({
      topicPartitions: [...a].filter(([, s]) => s.size > 0).map(([topicId, s]) => ({
        topicId, topicName: broker.topicNameById(topicId) ?? '', partitions: [...s].sort((x, y) => x - y),
      })),
    });
    return {
      throttleTimeMs: 0,
      groups: req.groupIds.map((groupId) => {
        const base = { errorCode: ErrorCode.NONE, errorMessage: null as string | null, groupId, groupState: 'Dead', groupEpoch: -1, assignmentEpoch: -1,
          assignorName: '', members: [], authorizedOperations: AUTHORIZED_OPERATIONS_OMITTED };
        if (!allowed(ctx, AclOperation.DESCRIBE, ResourceType.GROUP, groupId)) return { ...base, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED };
        const { errorCode, group } = broker.groups.describe(groupId);
        if (errorCode !== ErrorCode.NONE) return { ...base, errorCode };
        if (!group) return { ...base, errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: `Group ${groupId} not found.` };
        if (group.type !== 'consumer') return { ...base, errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: `Group ${groupId} is not a consumer group.` };
        const c = group.consumer;
        return {
          ...base,
          groupState: c.stateName(),
          groupEpoch: c.groupEpoch,
          assignmentEpoch: c.assignmentEpoch,
          assignorName: c.assignorName,
          members: [...c.members.values()].map((m) => ({
            memberId: m.memberId, instanceId: m.instanceId, rackId: m.rackId, memberEpoch: m.memberEpoch, clientId: m.clientId, clientHost: m.clientHost,
            subscribedTopicNames: m.subscribedTopicNames, subscribedTopicRegex: m.subscribedTopicRegex,
            assignment: withNames(m.assigned), targetAssignment: withNames(c.target.get(m.memberId) ?? new Map()),
            memberType: 1,
          })),
        };
      }),
    };
  },
};
