/** ListOffsets (2), OffsetForLeaderEpoch (23) and DeleteRecords (21). */
import { ErrorCode, KafkaError, errorCodeOf } from '../errors.ts';
import type { Partition } from '../partition.ts';
import { AclOperation, clusterAllowed, requireTopic } from './authz.ts';
import type { ApiHandler, BrokerServices } from './index.ts';

const LATEST = -1n;
const EARLIEST = -2n;
/** v7+ (KIP-734): the record with the largest timestamp (the first such record). */
const MAX_TIMESTAMP = -3n;
/** v8+ (KIP-405): the start of the local log — the log start offset, as Brook keeps no remote tier. */
const EARLIEST_LOCAL = -4n;
/** v9+ (KIP-1005): the last offset in remote storage — none, as Brook keeps no remote tier. */
const LATEST_TIERED = -5n;

/**
 * Finds the partition this broker leads, or throws the error Kafka would return. The client's
 * view of the leader epoch (-1: none) is checked before leadership, as Kafka does: a client that
 * missed a leader change gets FENCED_LEADER_EPOCH from the old leader too.
 */
function leaderPartition(broker: BrokerServices, topic: string, index: number, currentLeaderEpoch = -1): Partition {
  const p = broker.partition(topic, index);
  if (!p) {
    const t = broker.topic(topic);
    if (t && index < t.partitions.length) throw new KafkaError('NOT_LEADER_OR_FOLLOWER', `broker ${broker.nodeId} does not host ${topic}-${index}`);
    throw new KafkaError('UNKNOWN_TOPIC_OR_PARTITION', `unknown topic-partition ${topic}-${index}`);
  }
  p.checkLeaderEpoch(currentLeaderEpoch);
  p.requireLeader();
  return p;
}


export const listOffsetsHandler: ApiHandler<2> = {
  apiKey: 2,
  minVersion: 1,
  maxVersion: 10,
  async handle(req, ctx) {
    const { broker, apiVersion } = ctx;
    const topics = await Promise.all(req.topics.map(async (t) => ({
      name: t.name,
      partitions: await Promise.all(t.partitions.map(async (q) => {
        try {
          requireTopic(ctx, AclOperation.DESCRIBE, t.name);
          const p = leaderPartition(broker, t.name, q.partitionIndex, q.currentLeaderEpoch);
          // KIP-207: a new leader whose high watermark has not reached its log end at election might
          // answer lower than its predecessor did; the client gets a retriable error instead.
          const notAvailable = () => new KafkaError('OFFSET_NOT_AVAILABLE',
            `${p.name}: the high watermark ${p.highWatermark} has not caught up since the leader election`);
          const established = req.replicaId >= 0 || p.highWatermarkEstablished;
          if (q.timestamp === LATEST && !established) throw notAvailable();
          let found: { offset: bigint; timestamp: bigint } | null;
          // a follower (replica id ≥ 0) asks for the leader's log end; consumers see the high
          // watermark, or the last stable offset under read_committed (isolation level 1)
          const visible = req.isolationLevel === 1 ? p.lastStableOffset : p.highWatermark;
          if (q.timestamp === LATEST) found = { offset: req.replicaId >= 0 ? p.log.logEndOffset : visible, timestamp: -1n };
          else if (q.timestamp === EARLIEST || (q.timestamp === EARLIEST_LOCAL && apiVersion >= 8)) found = { offset: p.log.logStartOffset, timestamp: -1n };
          else if (q.timestamp === LATEST_TIERED && apiVersion >= 9) found = { offset: -1n, timestamp: -1n };
          else if (q.timestamp === MAX_TIMESTAMP && apiVersion >= 7) found = await p.log.offsetOfMaxTimestamp();
          else if (q.timestamp < 0n) throw new KafkaError('INVALID_REQUEST', `unsupported ListOffsets timestamp ${q.timestamp} at version ${apiVersion}`);
          else found = await p.log.offsetForTimestamp(q.timestamp);
          if (found && req.replicaId < 0 && found.offset > visible) found = null;
          if (!found && q.timestamp >= 0n && !established) throw notAvailable();
          return {
            partitionIndex: q.partitionIndex, errorCode: ErrorCode.NONE,
            timestamp: found ? found.timestamp : -1n, offset: found ? found.offset : -1n,
            leaderEpoch: found ? p.leaderEpoch : -1,
          };
        } catch (err) {
          return { partitionIndex: q.partitionIndex, errorCode: errorCodeOf(err), timestamp: -1n, offset: -1n, leaderEpoch: -1 };
        }
      })),
    })));
    return { throttleTimeMs: 0, topics };
  },
};


export const offsetForLeaderEpochHandler: ApiHandler<23> = {
  apiKey: 23,
  minVersion: 2,
  maxVersion: 4,
  handle(req, ctx) {
    const { broker } = ctx;
    // a follower (replica id ≥ 0) needs CLUSTER_ACTION on the cluster, a consumer DESCRIBE on the topic
    const followerAllowed = req.replicaId < 0 || clusterAllowed(ctx, AclOperation.CLUSTER_ACTION);
    return {
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({
        topic: t.topic,
        partitions: t.partitions.map((q) => {
          try {
            if (!followerAllowed) throw new KafkaError('CLUSTER_AUTHORIZATION_FAILED', 'Cluster authorization failed.');
            if (req.replicaId < 0) requireTopic(ctx, AclOperation.DESCRIBE, t.topic);
            const p = leaderPartition(broker, t.topic, q.partition, q.currentLeaderEpoch);
            const { leaderEpoch, endOffset } = p.log.endOffsetForEpoch(q.leaderEpoch);
            return { errorCode: ErrorCode.NONE, partition: q.partition, leaderEpoch, endOffset };
          } catch (err) {
            return { errorCode: errorCodeOf(err), partition: q.partition, leaderEpoch: -1, endOffset: -1n };
          }
        }),
      })),
    };
  },
};


export const deleteRecordsHandler: ApiHandler<21> = {
  apiKey: 21,
  minVersion: 0,
  maxVersion: 2,
  async handle(req, ctx) {
    const { broker } = ctx;
    const topics = await Promise.all(req.topics.map(async (t) => ({
      name: t.name,
      partitions: await Promise.all(t.partitions.map(async (q) => {
        try {
          requireTopic(ctx, AclOperation.DELETE, t.name);
          const p = leaderPartition(broker, t.name, q.partitionIndex);
          const offset = q.offset === -1n ? p.highWatermark : q.offset;
          if (offset < 0n || offset > p.highWatermark) {
            throw new KafkaError('OFFSET_OUT_OF_RANGE', `${p.name}: cannot delete before ${offset}; high watermark is ${p.highWatermark}`);
          }
          p.log.deleteRecordsBefore(offset);
          // answered once every ISR member moved its log start too (Kafka's DelayedDeleteRecords)
          await p.waitForLowWatermark(offset, req.timeoutMs);
          return { partitionIndex: q.partitionIndex, lowWatermark: p.lowWatermark, errorCode: ErrorCode.NONE };
        } catch (err) {
          return { partitionIndex: q.partitionIndex, lowWatermark: -1n, errorCode: errorCodeOf(err) };
        }
      })),
    })));
    return { throttleTimeMs: 0, topics };
  },
};
