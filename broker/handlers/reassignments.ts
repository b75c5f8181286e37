/**
 * AlterPartitionReassignments (45), ListPartitionReassignments (46) and DescribeLogDirs (35):
 * what Kafka's `kafka-reassign-partitions` tool asks for.
 *
 * In KRaft any broker takes an AlterPartitionReassignments and forwards it to the controller.
 * Brook's brokers share the metadata store, so the broker that receives it writes the start (or
 * the cancellation) of the reassignment by compare-and-swap (replication/reassignment.ts), and
 * the controller's pass carries it to the end. The answer comes once the request is recorded,
 * as Kafka's does; progress is what ListPartitionReassignments shows.
 */
import { statfsSync } from 'node:fs';
import { ErrorCode, KafkaError, errorCodeOf } from '../errors.ts';
import { StaleVersionError } from '../metadata/index.ts';
import type { PartitionState } from '../metadata/index.ts';
import { cancelReassignment, isReassigning, originalReplicas, startReassignment, validateTarget } from '../replication/index.ts';
import { AclOperation, clusterAllowed } from './authz.ts';
import type { ApiHandler, BrokerServices } from './index.ts';

interface PartitionAnswer { partitionIndex: number; errorCode: number; errorMessage: string | null }

export const alterPartitionReassignmentsHandler: ApiHandler<45> = {
  apiKey: 45,
  minVersion: 0,
  maxVersion: 1,
  async handle(req, ctx) {
    const { broker } = ctx;
    if (!clusterAllowed(ctx, AclOperation.ALTER)) {
      return { throttleTimeMs: 0, allowReplicationFactorChange: req.allowReplicationFactorChange, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: 'Cluster authorization failed.', responses: [] };
    }
    const responses = [];
    for (const t of req.topics) {
      const wanted = new Map(t.partitions.map((p) => [p.partitionIndex, p.replicas]));
      responses.push({ name: t.name, partitions: await reassignTopic(broker, t.name, wanted, req.allowReplicationFactorChange) });
    }
    return { throttleTimeMs: 0, allowReplicationFactorChange: req.allowReplicationFactorChange, errorCode: ErrorCode.NONE, errorMessage: null, responses };
  },
};

async function reassignTopic(broker: BrokerServices, name: string, wanted: Map<number, number[] | null>, allowRfChange: boolean): Promise<PartitionAnswer[]> {
  for (let attempt = 0; ; attempt++) {
    const topic = await broker.store.getTopic(name);
    if (!topic) {
      return [...wanted.keys()].map((partitionIndex) => ({ partitionIndex, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `Topic '${name}' does not exist.` }));
    }
    const live = new Set(broker.liveBrokers().map((b) => b.id));
    const answers = new Map<number, PartitionAnswer>();
    let changed = false;
    const partitions = topic.partitions.map((p) => {
      if (!wanted.has(p.partition)) return p;
      try {
        const next = reassignPartition(p, wanted.get(p.partition)!, live, allowRfChange);
        answers.set(p.partition, { partitionIndex: p.partition, errorCode: ErrorCode.NONE, errorMessage: null });
        if (!next) return p;
        changed = true;
        return next;
      } catch (err) {
        answers.set(p.partition, { partitionIndex: p.partition, errorCode: errorCodeOf(err), errorMessage: (err as Error).message });
        return p;
      }
    });
    try {
      if (changed) {
        await broker.store.updateTopic(name, topic.version, { partitions });
        broker.log.info(`reassignment of ${name}: ${[...wanted].map(([i, r]) => `${i} → ${r ? `[${r.join(',')}]` : 'cancel'}`).join(', ')}`);
      }
    } catch (err) {
      if (err instanceof StaleVersionError && attempt < 10) continue;
      throw err;
    }
    return [...wanted.keys()].map((partitionIndex) => answers.get(partitionIndex)
      ?? { partitionIndex, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `Topic '${name}' has no partition ${partitionIndex}.` });
  }
}

function reassignPartition(p: PartitionState, target: number[] | null, live: ReadonlySet<number>, allowRfChange: boolean): PartitionState | null {
  if (target === null) return cancelReassignment(p, live);
  validateTarget(target, live);
  const rf = originalReplicas(p).length;
  if (!allowRfChange && target.length !== rf) {
    throw new KafkaError('INVALID_REPLICATION_FACTOR', `The replication factor is changed from ${rf} to ${target.length} but allowReplicationFactorChange is false.`);
  }
  return startReassignment(p, target, live);
}

export const listPartitionReassignmentsHandler: ApiHandler<46> = {
  apiKey: 46,
  minVersion: 0,
  maxVersion: 0,
  async handle(req, ctx) {
    const { broker } = ctx;
    if (!clusterAllowed(ctx, AclOperation.DESCRIBE)) return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: 'Cluster authorization failed.', topics: [] };
    const wanted = req.topics === null ? null : new Map(req.topics.map((t) => [t.name, new Set(t.partitionIndexes)]));
    const topics = [];
    for (const topic of await broker.store.listTopics()) {
      const only = wanted?.get(topic.spec.name);
      if (wanted && !only) continue;
      const partitions = topic.partitions.filter((p) => isReassigning(p) && (!only || only.has(p.partition))).map((p) => ({
        partitionIndex: p.partition, replicas: [...p.replicas], addingReplicas: [...(p.addingReplicas ?? [])], removingReplicas: [...(p.removingReplicas ?? [])],
      }));
      if (partitions.length > 0) topics.push({ name: topic.spec.name, partitions });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, topics };
  },
};

export const describeLogDirsHandler: ApiHandler<35> = {
  apiKey: 35,
  minVersion: 1,
  maxVersion: 4,
  handle(req, ctx) {
    const { broker } = ctx;
    if (!clusterAllowed(ctx, AclOperation.DESCRIBE)) return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, results: [] };
    const wanted = req.topics === null ? null : new Map(req.topics.map((t) => [t.topic, new Set(t.partitions)]));
    const byTopic = new Map<string, Array<{ partitionIndex: number; partitionSize: bigint; offsetLag: bigint; isFutureKey: boolean }>>();
    for (const p of broker.hostedPartitions()) {
      const only = wanted?.get(p.topic);
      if (wanted && !only?.has(p.index)) continue;
      const lag = p.highWatermark - p.log.logEndOffset;
      if (!byTopic.has(p.topic)) byTopic.set(p.topic, []);
      byTopic.get(p.topic)!.push({ partitionIndex: p.index, partitionSize: BigInt(p.log.sizeInBytes), offsetLag: lag > 0n ? lag : 0n, isFutureKey: false });
    }
    const topics = [...byTopic].sort(([a], [b]) => a.localeCompare(b))
      .map(([name, partitions]) => ({ name, partitions: partitions.sort((a, b) => a.partitionIndex - b.partitionIndex) }));
    let totalBytes = -1n;
    let usableBytes = -1n;
    try {
      const fs = statfsSync(broker.logDir, { bigint: true });
      totalBytes = fs.blocks * fs.bsize;
      usableBytes = fs.bavail * fs.bsize;
    } catch (err) {
      broker.log.warn(`statfs of ${broker.logDir} failed: ${(err as Error).message}`);
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, results: [{ errorCode: ErrorCode.NONE, logDir: broker.logDir, topics, totalBytes, usableBytes }] };
  },
};
