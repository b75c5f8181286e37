/**
 * Fetch (1): reads whole batches below the high watermark, partition by partition, within the
 * request's byte limits. When less than minBytes is available the request parks in the
 * broker's DelayedFetchQueue until an append to one of its partitions or until maxWaitMs.
 * Fetch sessions (KIP-227) are not kept: every response carries session id 0, so clients send
 * full fetch requests.
 *
 * Versions 4-16, as Kafka 4 (KIP-896): v0-3 answer in message formats v0/v1, which Brook does
 * not store, so they are neither served nor advertised (an answer in v4's shape would be
 * unreadable to a v0-3 decoder). librdkafka keeps every codec with this range; what it needs
 * from old versions is Produce v0 being advertised (see produce.ts).
 *
 * Record bytes are not copied in JavaScript: each partition's read lands in buffers leased from
 * the fetch read pool (one read per segment touched, usually one per partition), the response
 * carries them as they are (the encoder passes `records` parts through, the connection writes
 * the response's chunks with one writev), and the connection gives the buffers back to the pool
 * once the socket has taken them. A read this handler throws away (the minBytes wait reads
 * again) is given back here.
 */
import { ErrorCode, KafkaError, errorCodeOf } from '../errors.ts';
import type { Partition } from '../partition.ts';
import { fetchReadBuffers } from '../log/index.ts';
import { ZERO_UUID } from '../protocol/index.ts';
import { isThrottledReplica } from '../replication/index.ts';
import { AclOperation, allowed, clusterAllowed, ResourceType } from './authz.ts';
import type { ApiHandler, BrokerServices, Request, Response } from './index.ts';

type FetchRequest = Request<1>;
type FetchPartitionRequest = FetchRequest['topics'][number]['partitions'][number];
type FetchPartitionResponse = NonNullable<NonNullable<Response<1>['responses']>[number]['partitions']>[number];



interface Target {
  topicIndex: number;
  request: FetchPartitionRequest;
  partition: Partition | null;
  error: number;
}

const READ_UNCOMMITTED = 0;
const EMPTY: Buffer[] = [];

export const fetchHandler: ApiHandler<1> = {
  apiKey: 1,
  minVersion: 4,
  maxVersion: 16,
  async handle(req, ctx) {
    const { broker, apiVersion } = ctx;
    const replicaId = apiVersion >= 15 ? req.replicaState?.replicaId ?? -1 : req.replicaId;
    if (req.sessionId !== 0) return topLevelError(ErrorCode.FETCH_SESSION_ID_NOT_FOUND, req);
    const byId = apiVersion >= 13;
    const names = req.topics.map((t) => (byId ? broker.topicNameById(t.topicId) ?? null : t.topic));
    // a follower needs CLUSTER_ACTION on the cluster; a consumer READ on each topic (Kafka's checks)
    const followerAllowed = replicaId < 0 || clusterAllowed(ctx, AclOperation.CLUSTER_ACTION);
    const targets: Target[] = [];
    req.topics.forEach((t, topicIndex) => {
      const name = names[topicIndex] ?? null;
      const denied = !followerAllowed || (replicaId < 0 && name !== null && !allowed(ctx, AclOperation.READ, ResourceType.TOPIC, name));
      for (const p of t.partitions) {
        targets.push(denied ? { topicIndex, request: p, partition: null, error: ErrorCode.TOPIC_AUTHORIZATION_FAILED } : resolve(broker, name, byId, topicIndex, p));
      }
    });
    const deadline = broker.clock() + Math.max(0, req.maxWaitMs);
    const brokerMax = broker.settings.int('fetch.max.bytes');
    const maxBytes = req.maxBytes > 0 ? Math.min(req.maxBytes, brokerMax) : brokerMax;
    if (replicaId >= 0) recordFollowerFetches(broker, replicaId, targets);
    for (;;) {
      const { results, bytes, errors } = await readAll(broker, targets, maxBytes, replicaId, req.isolationLevel !== READ_UNCOMMITTED);
      const remaining = deadline - broker.clock();
      if (bytes >= req.minBytes || errors || remaining <= 0 || req.maxWaitMs <= 0) {
        return respond(broker, req, names, byId, results);
      }
      const live = targets.flatMap((t) => (t.partition ? [t.partition] : []));
      if (live.length === 0) return respond(broker, req, names, byId, results);
      releaseReads(results);
      await broker.delayedFetches.wait(live, remaining);
    }
  },
};

function resolve(broker: BrokerServices, name: string | null, byId: boolean, topicIndex: number, request: FetchPartitionRequest): Target {
  if (name === null) return { topicIndex, request, partition: null, error: byId ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
  const partition = broker.partition(name, request.partition);
  if (!partition) {
    const known = broker.topic(name) && request.partition < broker.topic(name)!.partitions.length;
    return { topicIndex, request, partition: null, error: known ? ErrorCode.NOT_LEADER_OR_FOLLOWER : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
  }
  return { topicIndex, request, partition, error: ErrorCode.NONE };
}

interface PartitionResult {
  target: Target;
  errorCode: number;
  /** The record bytes read, one part per segment touched (leased from fetchReadBuffers). */
  records: Buffer[] | null;
  /** read_committed: the aborted transactions within what was read (null otherwise). */
  aborted?: Array<{ producerId: bigint; firstOffset: bigint }>;
  divergingEpoch?: { epoch: number; endOffset: bigint };
}

/**
 * A follower's fetch offset is its log end: the leader records it (high watermark, ISR) and
 * proposes adding a follower that caught up to the ISR. Its log start offset (v5+) feeds the low
 * watermark that DeleteRecords waits for.
 */
function recordFollowerFetches(broker: BrokerServices, replicaId: number, targets: Target[]): void {
  for (const t of targets) {
    const p = t.partition;
    if (!p || !p.isLeader || t.request.currentLeaderEpoch !== p.leaderEpoch) continue;
    if (divergence(p, t.request)) continue;
    const expanded = p.recordFollowerFetch(replicaId, t.request.fetchOffset, t.request.logStartOffset);
    if (expanded) broker.proposeIsr(p, expanded);
  }
}

/** Fetch v12+: where a follower's log parts from the leader's, if it does. */
function divergence(p: Partition, q: FetchPartitionRequest): { epoch: number; endOffset: bigint } | null {
  if (q.lastFetchedEpoch < 0) return null;
  const end = p.log.endOffsetForEpoch(q.lastFetchedEpoch);
  if (end.leaderEpoch !== q.lastFetchedEpoch || q.fetchOffset > end.endOffset) return { epoch: end.leaderEpoch, endOffset: end.endOffset };
  return null;
}

async function readAll(broker: BrokerServices, targets: Target[], maxBytes: number, replicaId: number, readCommitted: boolean) {
  let bytes = 0;
  let errors = false;
  const results: PartitionResult[] = [];
  for (const target of targets) {
    if (!target.partition) {
      errors = true;
      results.push({ target, errorCode: target.error, records: null });
      continue;
    }
    const p = target.partition;
    try {
      // the client's epoch first, as Kafka: a client behind a leader change is FENCED wherever it asks
      p.checkLeaderEpoch(target.request.currentLeaderEpoch);
      p.requireLeader();
      const offset = target.request.fetchOffset;
      if (replicaId >= 0) {
        const diverging = divergence(p, target.request);
        if (diverging) {
          errors = true;
          results.push({ target, errorCode: ErrorCode.NONE, records: [], divergingEpoch: diverging });
          continue;
        }
      }
      if (offset < p.log.logStartOffset || offset > p.log.logEndOffset) {
        throw new KafkaError('OFFSET_OUT_OF_RANGE',
          `${p.name}: fetch offset ${offset} outside [${p.log.logStartOffset}, ${p.log.logEndOffset}]`);
      }
      const budget = Math.min(target.request.partitionMaxBytes, maxBytes - bytes);
      let records: Buffer[] | null = null;
      // a throttled follower out of the ISR gets nothing while the leader's quota is used up
      const throttled = replicaId >= 0 && !p.state.isr.includes(replicaId)
        && isThrottledReplica(broker.topic(p.topic)?.spec.configs['leader.replication.throttled.replicas'], p.index, broker.nodeId);
      if (throttled && broker.leaderQuota.isExceeded()) {
        results.push({ target, errorCode: ErrorCode.NONE, records: [] });
        continue;
      }
      // consumers read below the high watermark (read_committed: below the last stable offset);
      // followers read everything the leader has
      const upTo = replicaId >= 0 ? p.log.logEndOffset : readCommitted ? p.lastStableOffset : p.highWatermark;
      let aborted: PartitionResult['aborted'];
      if (offset < upTo && (budget > 0 || bytes === 0)) {
        const read = await p.log.readParts(offset, Math.max(0, budget), { maxOffset: upTo, minOneBatch: bytes === 0, pool: fetchReadBuffers });
        records = read.parts;
        bytes += read.size;
        if (throttled) broker.leaderQuota.record(read.size);
        if (readCommitted && replicaId < 0 && read.size > 0) {
          aborted = p.log.abortedTransactions(offset, read.nextOffset).map((a) => ({ producerId: a.producerId, firstOffset: a.firstOffset }));
        }
      }
      results.push({ target, errorCode: ErrorCode.NONE, records, aborted });
    } catch (err) {
      errors = true;
      results.push({ target, errorCode: errorCodeOf(err), records: null });
    }
  }
  return { results, bytes, errors };
}

function respond(broker: BrokerServices, req: FetchRequest, names: Array<string | null>, byId: boolean, results: PartitionResult[]) {
  const readCommitted = req.isolationLevel !== READ_UNCOMMITTED;
  const responses = req.topics.map((t, i) => ({
    topic: byId ? '' : t.topic,
    topicId: byId ? t.topicId : (names[i] ? broker.topic(names[i]!)?.topicId ?? ZERO_UUID : ZERO_UUID),
    partitions: [] as FetchPartitionResponse[],
  }));
  for (const r of results) {
    const p = r.target.partition;
    const hw = p && r.errorCode !== ErrorCode.NOT_LEADER_OR_FOLLOWER ? p.highWatermark : -1n;
    if (r.records && p) broker.metrics.bytesOut.inc({ topic: p.topic }, sizeOf(r.records));
    responses[r.target.topicIndex]!.partitions.push({
      partitionIndex: r.target.request.partition,
      errorCode: r.errorCode,
      highWatermark: hw,
      lastStableOffset: p && hw >= 0n ? p.lastStableOffset : -1n,
      logStartOffset: p ? p.log.logStartOffset : -1n,
      abortedTransactions: readCommitted ? r.aborted ?? [] : null,
      preferredReadReplica: -1,
      records: r.records ?? (r.errorCode === ErrorCode.NONE ? EMPTY : null),
      divergingEpoch: r.divergingEpoch ?? { epoch: -1, endOffset: -1n },
    });
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses };
}

function sizeOf(parts: readonly Buffer[]): number {
  let n = 0;
  for (const part of parts) n += part.length;
  return n;
}

/** Gives the buffers of reads that will not be sent back to the pool. */
function releaseReads(results: readonly PartitionResult[]): void {
  for (const r of results) for (const part of r.records ?? []) fetchReadBuffers.release(part);
}

function topLevelError(errorCode: number, req: FetchRequest) {
  return { throttleTimeMs: 0, errorCode, sessionId: 0, responses: req.topics.map((t) => ({ topic: t.topic, topicId: t.topicId, partitions: [] })) };
}
