/**
 * Metadata (3), DescribeTopicPartitions (75) and DescribeCluster (60): brokers, controller, topics
 * and their partition state. Brokers are listed with their advertised addresses on the listener the
 * request came in on.
 */
import { ErrorCode, KafkaError, errorCodeOf } from '../errors.ts';
import { validateTopicName } from '../metadata/index.ts';
import type { TopicRecord } from '../metadata/index.ts';
import { ZERO_UUID } from '../protocol/index.ts';
import { AclOperation, allowed, clusterAllowed, ResourceType } from './authz.ts';
import type { ApiHandler, BrokerServices, RequestContext } from './index.ts';
import type { BrokerEndpoint } from './services.ts';

const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;
/** Kafka's max.request.partition.size.limit default: the most partitions one DescribeTopicPartitions response holds. */
const MAX_PARTITIONS_PER_RESPONSE = 2000;


export const metadataHandler: ApiHandler<3> = {
  apiKey: 3,
  minVersion: 0,
  maxVersion: 12,
  async handle(req, ctx) {
    const { broker, apiVersion, listener } = ctx;
    // v0: an empty list means all topics; v1+: null means all topics.
    const all = req.topics === null || (apiVersion === 0 && req.topics.length === 0);
    const view = listenerView(broker, listener);
    // with an authorizer, topics the principal may not DESCRIBE are left out of "all topics" and
    // answered TOPIC_AUTHORIZATION_FAILED when named, whether they exist or not (Kafka's rule)
    const describable = (name: string) => allowed(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, name);
    const topics = all
      ? [...broker.allTopics()].filter((t) => describable(t.spec.name)).map((t) => describeTopic(view, t))
      : await Promise.all(req.topics!.map((t) => lookup(ctx, view, t, req.allowAutoTopicCreation || apiVersion < 4)));
    return {
      throttleTimeMs: 0,
      brokers: view.endpoints,
      clusterId: broker.clusterId,
      controllerId: broker.controllerId(),
      topics,
      clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
    };
  },
};

/** The brokers as a client on `listener` sees them: live ones, and those with an address there. */
interface ListenerView { endpoints: BrokerEndpoint[]; live: Set<number>; reachable: Set<number> }

function listenerView(broker: BrokerServices, listener: string): ListenerView {
  const endpoints = broker.brokerEndpoints(listener);
  return { endpoints, live: new Set(broker.liveBrokers().map((b) => b.id)), reachable: new Set(endpoints.map((b) => b.nodeId)) };
}

async function lookup(ctx: RequestContext, view: ListenerView, wanted: { topicId: string; name: string | null }, allowAutoCreate: boolean) {
  const { broker } = ctx;
  let name = wanted.name;
  if (name === null) {
    name = wanted.topicId && wanted.topicId !== ZERO_UUID ? broker.topicNameById(wanted.topicId) ?? null : null;
    if (name === null) return topicError(null, wanted.topicId, ErrorCode.UNKNOWN_TOPIC_ID);
  }
  if (!allowed(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, name)) return topicError(name, ZERO_UUID, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  const existing = broker.topic(name);
  if (existing) return describeTopic(view, existing);
  try {
    validateTopicName(name);
  } catch (err) {
    return topicError(name, ZERO_UUID, errorCodeOf(err));
  }
  if (!allowAutoCreate || !broker.settings.bool('auto.create.topics.enable')) {
    return topicError(name, ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  }
  if (!clusterAllowed(ctx, AclOperation.CREATE) && !allowed(ctx, AclOperation.CREATE, ResourceType.TOPIC, name)) {
    return topicError(name, ZERO_UUID, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  }
  try {
    await broker.admin.create({ name, numPartitions: -1, replicationFactor: -1, assignments: [], configs: {} });
    await broker.settled();
    broker.log.info(`auto-created topic ${name}`);
  } catch (err) {
    if (!(err instanceof KafkaError && err.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS)) {
      return topicError(name, ZERO_UUID, errorCodeOf(err));
    }
  }
  const created = broker.topic(name);
  return created ? describeTopic(view, created) : topicError(name, ZERO_UUID, ErrorCode.LEADER_NOT_AVAILABLE);
}

function topicError(name: string | null, topicId: string, errorCode: number) {
  return { errorCode, name, topicId, isInternal: false, partitions: [], topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED };
}

/**
 * A partition whose leader is live but has no address on the client's listener (a listener it
 * lacks, or whose address it does not know yet) is LISTENER_NOT_FOUND with no leader, as Kafka
 * answers: clients retry instead of looking for a broker the response does not list.
 */
function describeTopic({ live, reachable }: ListenerView, topic: TopicRecord) {
  return {
    errorCode: ErrorCode.NONE,
    name: topic.spec.name,
    topicId: topic.topicId,
    isInternal: topic.spec.name.startsWith('__'),
    partitions: topic.partitions.map((p) => ({
      errorCode: p.leader < 0 ? ErrorCode.LEADER_NOT_AVAILABLE : live.has(p.leader) && !reachable.has(p.leader) ? ErrorCode.LISTENER_NOT_FOUND : ErrorCode.NONE,
      partitionIndex: p.partition,
      leaderId: live.has(p.leader) && !reachable.has(p.leader) ? -1 : p.leader,
      leaderEpoch: p.leaderEpoch,
      replicaNodes: p.replicas,
      isrNodes: p.isr,
      offlineReplicas: p.replicas.filter((r) => !live.has(r)),
    })),
    topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  };
}

/**
 * DescribeTopicPartitions (75), as Kafka's handler pages it: the requested topics (all topics when
 * the list is empty) in name order, from the cursor's topic and partition on, at most
 * min(ResponsePartitionLimit, 2000) partitions; NextCursor names where the next page starts. An
 * unknown topic is listed with UNKNOWN_TOPIC_OR_PARTITION (no auto-creation here); a cursor on a
 * topic the request does not name makes every requested topic INVALID_REQUEST.
 */
export const describeTopicPartitionsHandler: ApiHandler<75> = {
  apiKey: 75,
  minVersion: 0,
  maxVersion: 0,
  handle(req, ctx) {
    const { broker, listener } = ctx;
    const view = listenerView(broker, listener);
    const all = req.topics.length === 0;
    const describable = (name: string) => allowed(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, name);
    // (all topics: those the principal may DESCRIBE; named ones it may not: TOPIC_AUTHORIZATION_FAILED)
    const names = [...new Set(all ? [...broker.allTopics()].map((t) => t.spec.name).filter(describable) : req.topics.map((t) => t.name))].sort();
    const cursor = req.cursor;
    if (cursor && ((!all && !names.includes(cursor.topicName)) || cursor.partitionIndex < 0)) {
      return { throttleTimeMs: 0, topics: names.map((n) => topicError(n, ZERO_UUID, ErrorCode.INVALID_REQUEST)), nextCursor: null };
    }
    let budget = Math.max(1, Math.min(req.responsePartitionLimit, MAX_PARTITIONS_PER_RESPONSE));
    const topics = [];
    let nextCursor: { topicName: string; partitionIndex: number } | null = null;
    for (const name of cursor ? names.filter((n) => n >= cursor.topicName) : names) {
      if (budget === 0) {
        nextCursor = { topicName: name, partitionIndex: 0 };
        break;
      }
      if (!all && !describable(name)) {
        topics.push(topicError(name, ZERO_UUID, ErrorCode.TOPIC_AUTHORIZATION_FAILED));
        continue;
      }
      const topic = broker.topic(name);
      if (!topic) {
        topics.push(topicError(name, ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
        continue;
      }
      const described = describeTopic(view, topic);
      const first = cursor && name === cursor.topicName ? cursor.partitionIndex : 0;
      // Eligible leader replicas (KIP-966) are not kept: empty lists, as Kafka sends with ELR off
      // (the Java client dereferences them, so never null).
      const partitions = described.partitions.slice(first, first + budget).map((p) => ({ ...p, eligibleLeaderReplicas: [], lastKnownElr: [] }));
      budget -= partitions.length;
      topics.push({ ...described, partitions });
      if (first + partitions.length < described.partitions.length) {
        nextCursor = { topicName: name, partitionIndex: first + partitions.length };
        break;
      }
    }
    return { throttleTimeMs: 0, topics, nextCursor };
  },
};

/**
 * DescribeCluster (60): the cluster id, the controller and the brokers on the listener the request
 * came in on. Brook's brokers are the only endpoints (no separate controller quorum), so a request
 * for controller endpoints (endpointType 2) gets MISMATCHED_ENDPOINT_TYPE, as a Kafka broker answers.
 * Every listed broker holds its liveness lease: none is fenced (v2's isFenced).
 */
export const describeClusterHandler: ApiHandler<60> = {
  apiKey: 60,
  minVersion: 0,
  maxVersion: 2,
  handle(req, { broker, listener }) {
    const endpointType = req.endpointType ?? 1;
    if (endpointType !== 1) {
      return { errorCode: ErrorCode.MISMATCHED_ENDPOINT_TYPE, errorMessage: `The request was sent to an endpoint of type BROKER, but endpoint type ${endpointType} was asked for.`,
        endpointType: 1, clusterId: broker.clusterId, controllerId: -1, brokers: [], clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED };
    }
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      endpointType,
      clusterId: broker.clusterId,
      controllerId: broker.controllerId(),
      brokers: broker.brokerEndpoints(listener).map((b) => ({ brokerId: b.nodeId, host: b.host, port: b.port, rack: b.rack, isFenced: false })),
      clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
    };
  },
};
