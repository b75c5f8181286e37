/**
 * The transaction APIs: AddPartitionsToTxn (24), AddOffsetsToTxn (25), EndTxn (26),
 * WriteTxnMarkers (27, broker to broker) and TxnOffsetCommit (28). InitProducerId with a
 * transactional id is in produce.ts; FindCoordinator key type 1 in groups.ts. The transaction
 * logic lives in broker/transactions; these handlers translate requests and responses.
 *
 * Versions: the transaction protocol v1 (AddPartitionsToTxn v0-3, EndTxn v0-4, TxnOffsetCommit
 * v0-4, with AddOffsetsToTxn) and v2 (KIP-890 part 2, advertised as the `transaction.version` 2
 * feature in ApiVersions): EndTxn v5 bumps the epoch and answers with the next one, and a
 * TxnOffsetCommit v5 adds the group's offsets partition to the transaction itself, as a Produce
 * v12 does for its partitions (produce.ts). AddPartitionsToTxn v4-5 is the batched
 * broker-to-coordinator form: partition leaders send it with verifyOnly before a protocol-v1
 * producer's first transactional batch (partition verification, part 1), and without it to add
 * the partition of a protocol-v2 producer. The admin APIs of KIP-664 (kafka-transactions.sh list /
 * describe / describe-producers) are here too: ListTransactions (66), DescribeTransactions (65) and
 * DescribeProducers (61).
 */
import { ErrorCode, KafkaError, errorCodeOf } from '../errors.ts';
import { OFFSETS_TOPIC } from '../groups/index.ts';
import { splitTp, writeMarkersLocally } from '../transactions/index.ts';
import { AclOperation, allowed, clusterAllowed, requireTopic, ResourceType } from './authz.ts';
import type { ApiHandler, BrokerServices, Request } from './index.ts';
import { commitAuthorized } from './offset-commit-authz.ts';
import { joinTransaction } from './txn-join.ts';

export const addPartitionsToTxnHandler: ApiHandler<24> = {
  apiKey: 24,
  minVersion: 0,
  maxVersion: 5,
  async handle(req, ctx) {
    const { broker, apiVersion } = ctx;
    if (apiVersion >= 4) {
      // the broker form (KIP-890): a batch of transactions, each verified (verifyOnly) or added;
      // brokers only, so CLUSTER_ACTION on the cluster (Kafka's check)
      if (!clusterAllowed(ctx, AclOperation.CLUSTER_ACTION)) return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, resultsByTransaction: [] };
      const resultsByTransaction = await Promise.all(req.transactions.map(async (t) => {
        const partitions = t.topics.flatMap((topic) => topic.partitions.map((partition) => ({ topic: topic.name, partition })));
        const results = t.verifyOnly
          ? await broker.transactions.verifyPartitions(t.transactionalId, t.producerId, t.producerEpoch, partitions)
          : await broker.transactions.addPartitions(t.transactionalId, t.producerId, t.producerEpoch, partitions, 2);
        return { transactionalId: t.transactionalId, topicResults: topicResults(t.topics, results) };
      }));
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, resultsByTransaction };
    }
    // WRITE on the transactional id, then WRITE on each topic; one refused topic fails the request
    // (the others OPERATION_NOT_ATTEMPTED), as Kafka answers
    const txnDenied = !allowed(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, req.v3AndBelowTransactionalId);
    const topicDenied = new Set(req.v3AndBelowTopics.filter((t) => !allowed(ctx, AclOperation.WRITE, ResourceType.TOPIC, t.name)).map((t) => t.name));
    if (txnDenied || topicDenied.size > 0) {
      const codeOf = (topic: string) => (txnDenied ? ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
        : topicDenied.has(topic) ? ErrorCode.TOPIC_AUTHORIZATION_FAILED : ErrorCode.OPERATION_NOT_ATTEMPTED);
      return {
        throttleTimeMs: 0,
        resultsByTopicV3AndBelow: req.v3AndBelowTopics.map((t) => ({ name: t.name, resultsByPartition: t.partitions.map((p) => ({ partitionIndex: p, partitionErrorCode: codeOf(t.name) })) })),
      };
    }
    const partitions = req.v3AndBelowTopics.flatMap((t) => t.partitions.map((partition) => ({ topic: t.name, partition })));
    const results = await broker.transactions.addPartitions(req.v3AndBelowTransactionalId, req.v3AndBelowProducerId, req.v3AndBelowProducerEpoch, partitions);
    return { throttleTimeMs: 0, resultsByTopicV3AndBelow: topicResults(req.v3AndBelowTopics, results) };
  },
};

function topicResults(topics: ReadonlyArray<{ name: string; partitions: readonly number[] }>, results: Map<string, number>) {
  return topics.map((t) => ({
    name: t.name,
    resultsByPartition: t.partitions.map((p) => ({ partitionIndex: p, partitionErrorCode: results.get(`${t.name}\u0000${p}`) ?? ErrorCode.UNKNOWN_SERVER_ERROR })),
  }));
}

export const addOffsetsToTxnHandler: ApiHandler<25> = {
  apiKey: 25,
  minVersion: 0,
  maxVersion: 4,
  async handle(req, ctx) {
    const { broker } = ctx;
    if (!allowed(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, req.transactionalId)) return { throttleTimeMs: 0, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED };
    if (!req.groupId) return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_GROUP_ID };
    if (!allowed(ctx, AclOperation.READ, ResourceType.GROUP, req.groupId)) return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED };
    const errorCode = await broker.transactions.addOffsets(req.transactionalId, req.producerId, req.producerEpoch, OFFSETS_TOPIC, broker.groups.partitionFor(req.groupId));
    return { throttleTimeMs: 0, errorCode };
  },
};

export const endTxnHandler: ApiHandler<26> = {
  apiKey: 26,
  minVersion: 0,
  maxVersion: 5,
  async handle(req, ctx) {
    const { broker, apiVersion } = ctx;
    if (!allowed(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, req.transactionalId)) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, producerId: -1n, producerEpoch: -1 };
    }
    const r = await broker.transactions.endTxn(req.transactionalId, req.producerId, req.producerEpoch, req.committed, apiVersion >= 5 ? 2 : 0);
    return { throttleTimeMs: 0, errorCode: r.errorCode, producerId: r.producerId, producerEpoch: r.producerEpoch };
  },
};

export const writeTxnMarkersHandler: ApiHandler<27> = {
  apiKey: 27,
  minVersion: 1,
  maxVersion: 1,
  async handle(req, ctx) {
    const { broker } = ctx;
    // broker to broker: CLUSTER_ACTION on the cluster
    const denied = !clusterAllowed(ctx, AclOperation.CLUSTER_ACTION);
    const markers = await Promise.all(req.markers.map(async (m) => {
      const partitions = m.topics.flatMap((t) => t.partitionIndexes.map((partition) => ({ topic: t.name, partition })));
      let results: Map<string, number>;
      try {
        if (denied) throw new KafkaError('CLUSTER_AUTHORIZATION_FAILED', 'Cluster authorization failed.');
        results = await writeMarkersLocally(broker, {
          producerId: m.producerId, producerEpoch: m.producerEpoch, commit: m.transactionResult, coordinatorEpoch: m.coordinatorEpoch, partitions,
        });
      } catch (err) {
        results = new Map(partitions.map((p) => [`${p.topic}\u0000${p.partition}`, errorCodeOf(err)]));
      }
      return {
        producerId: m.producerId,
        topics: m.topics.map((t) => ({
          name: t.name,
          partitions: t.partitionIndexes.map((p) => ({ partitionIndex: p, errorCode: results.get(`${t.name}\u0000${p}`) ?? ErrorCode.UNKNOWN_SERVER_ERROR })),
        })),
      };
    }));
    return { markers };
  },
};

export const txnOffsetCommitHandler: ApiHandler<28> = {
  apiKey: 28,
  minVersion: 0,
  maxVersion: 5,
  async handle(req, ctx) {
    const { broker, apiVersion } = ctx;
    const topics = await commitAuthorized(ctx, req.groupId, req.topics, async (allowedTopics) => {
      // v5 (transaction protocol v2): the group's offsets partition joins the transaction here, as AddOffsetsToTxn did
      const joinError = apiVersion >= 5 ? await joinOffsetsPartition(broker, req) : ErrorCode.NONE;
      if (joinError !== ErrorCode.NONE) return joinError;
      return broker.groups.txnCommitOffsets({
        groupId: req.groupId, producerId: req.producerId, producerEpoch: req.producerEpoch, generationId: req.generationId,
        memberId: req.memberId, groupInstanceId: req.groupInstanceId, topics: allowedTopics,
      });
    });
    return { throttleTimeMs: 0, topics };
  },
};

/**
 * Adds the group's __consumer_offsets partition to the producer's transaction (TxnOffsetCommit
 * v5); NONE, or the error as the Java client's TxnOffsetCommit handler takes it: what it should
 * retry with this group coordinator is COORDINATOR_LOAD_IN_PROGRESS, a fenced or unknown producer
 * INVALID_PRODUCER_EPOCH.
 */
async function joinOffsetsPartition(broker: BrokerServices, req: Request<28>): Promise<number> {
  const partition = { topic: OFFSETS_TOPIC, partition: broker.groups.partitionFor(req.groupId) };
  const codes = await joinTransaction(broker, req.transactionalId, req.producerId, req.producerEpoch, [partition], true);
  const code = codes.get(`${partition.topic}\u0000${partition.partition}`) ?? ErrorCode.UNKNOWN_SERVER_ERROR;
  switch (code) {
    case ErrorCode.CONCURRENT_TRANSACTIONS: case ErrorCode.COORDINATOR_NOT_AVAILABLE: case ErrorCode.NOT_COORDINATOR: case ErrorCode.COORDINATOR_LOAD_IN_PROGRESS:
      return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    case ErrorCode.PRODUCER_FENCED: case ErrorCode.INVALID_PRODUCER_ID_MAPPING:
      return ErrorCode.INVALID_PRODUCER_EPOCH;
    default:
      return code;
  }
}

export const listTransactionsHandler: ApiHandler<66> = {
  apiKey: 66,
  minVersion: 0,
  maxVersion: 2,
  handle(req, ctx) {
    const { broker } = ctx;
    let pattern: RegExp | null = null;
    if (req.transactionalIdPattern !== null && req.transactionalIdPattern !== '') {
      try {
        pattern = new RegExp(`^(?:${req.transactionalIdPattern})$`);
      } catch {
        return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, unknownStateFilters: [], transactionStates: [] };
      }
    }
    const r = broker.transactions.list({ states: req.stateFilters, producerIds: req.producerIdFilters, minDurationMs: req.durationFilter, pattern });
    return {
      throttleTimeMs: 0, errorCode: r.errorCode, unknownStateFilters: r.unknownStates,
      // only the transactional ids the principal may DESCRIBE
      transactionStates: r.transactions.filter((m) => allowed(ctx, AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, m.transactionalId)).map((m) => ({ transactionalId: m.transactionalId, producerId: m.producerId, transactionState: m.state })),
    };
  },
};

export const describeTransactionsHandler: ApiHandler<65> = {
  apiKey: 65,
  minVersion: 0,
  maxVersion: 0,
  handle(req, ctx) {
    const { broker } = ctx;
    return {
      throttleTimeMs: 0,
      transactionStates: req.transactionalIds.map((transactionalId) => {
        const denied = !allowed(ctx, AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, transactionalId);
        const { errorCode, txn } = denied ? { errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, txn: undefined } : broker.transactions.describe(transactionalId);
        if (!txn) {
          return { errorCode, transactionalId, transactionState: '', transactionTimeoutMs: 0, transactionStartTimeMs: -1n, producerId: -1n, producerEpoch: -1, topics: [] };
        }
        const topics = new Map<string, number[]>();
        for (const k of txn.partitions) {
          const { topic, partition } = splitTp(k);
          topics.set(topic, [...(topics.get(topic) ?? []), partition]);
        }
        return {
          errorCode, transactionalId, transactionState: txn.state, transactionTimeoutMs: txn.timeoutMs,
          transactionStartTimeMs: txn.startTimestamp,
          producerId: txn.producerId, producerEpoch: txn.producerEpoch,
          topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
        };
      }),
    };
  },
};

export const describeProducersHandler: ApiHandler<61> = {
  apiKey: 61,
  minVersion: 0,
  maxVersion: 0,
  handle(req, ctx) {
    const { broker } = ctx;
    return {
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((index) => {
          try {
            requireTopic(ctx, AclOperation.READ, t.name);
            const p = broker.partition(t.name, index);
            if (!p) {
              const topic = broker.topic(t.name);
              throw topic && index >= 0 && index < topic.partitions.length
                ? new KafkaError('NOT_LEADER_OR_FOLLOWER', `broker ${broker.nodeId} hosts no replica of ${t.name}-${index}`)
                : new KafkaError('UNKNOWN_TOPIC_OR_PARTITION', `unknown topic-partition ${t.name}-${index}`);
            }
            p.requireLeader();
            const activeProducers = [...p.log.producerState.entries()].map((e) => ({
              producerId: e.producerId, producerEpoch: e.epoch, lastSequence: e.batches.at(-1)?.lastSeq ?? -1,
              lastTimestamp: e.lastTimestamp, coordinatorEpoch: -1, currentTxnStartOffset: e.currentTxnFirstOffset,
            }));
            return { partitionIndex: index, errorCode: ErrorCode.NONE, errorMessage: null, activeProducers };
          } catch (err) {
            return { partitionIndex: index, errorCode: errorCodeOf(err), errorMessage: (err as Error).message, activeProducers: [] };
          }
        }),
      })),
    };
  },
};
