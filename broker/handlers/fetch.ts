/**
 * Fetch (1): reads whole batches below the high watermark, partition by partition, within the
 * request's byte limits. When less than minBytes is available the request parks in the
 * broker's DelayedFetchQueue until an append to one of its partitions or until maxWaitMs.
 * Fetch sessions (KIP-227, v7+): a fetcher that asks for one gets a session (fetch-sessions.ts),
 * after which its fetches name only the partitions whose fetch state changed and the responses
 * carry only the partitions with something new.
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
 *
 * On a connection that sends files (plain TCP with the native add-on, `brook.fetch.sendfile`),
 * consumers' and followers' records are not read at all where their bounds are known without
 * reading (LogSegment.locate): the response carries FileRegions of the segment files, which the
 * connection sends from the page cache with sendfile(2), and releases (their segments) once sent.
 */
import { ErrorCode, KafkaError, errorCodeOf } from '../errors.ts';
import type { Partition } from '../partition.ts';
import { fetchReadBuffers } from '../log/index.ts';
import { FileRegion, ZERO_UUID, type Chunk } from '../protocol/index.ts';
import { isThrottledReplica } from '../replication/index.ts';
import { AclOperation, allowed, clusterAllowed, ResourceType } from './authz.ts';
import { FINAL_EPOCH, INITIAL_EPOCH, type FetchPartitionRequest, type FetchSession, type SessionPartition } from './fetch-sessions.ts';
import type { ApiHandler, BrokerServices, Request, Response } from './index.ts';

type FetchRequest = Request<1>;
type FetchPartitionResponse = NonNullable<NonNullable<Response<1>['responses']>[number]['partitions']>[number];



export interface Target {
  /** Groups the response: the topic's name, or its id (v13+). */
  readonly key: string;
  name: string | null;
  /** The topic's id as the request named it (v13+), else the zero uuid. */
  readonly topicId: string;
  request: FetchPartitionRequest;
  partition: Partition | null;
  error: number;
  /** The session's entry for this partition, when the fetch is in a session. */
  readonly cached?: SessionPartition;
}

/** One partition a fetch reads, before its topic is resolved. */
interface Wanted { topic: string; topicId: string; request: FetchPartitionRequest; cached?: SessionPartition }

const READ_UNCOMMITTED = 0;
const EMPTY: Chunk[] = [];

export const fetchHandler: ApiHandler<1> = {
  apiKey: 1,
  minVersion: 4,
  maxVersion: 16,
  async handle(req, ctx) {
    const { broker, apiVersion } = ctx;
    const replicaId = apiVersion >= 15 ? req.replicaState?.replicaId ?? -1 : req.replicaId;
    const byId = apiVersion >= 13;
    const opened = openSession(broker, req, byId);
    if (typeof opened === 'number') return topLevelError(opened, req);
    const { session, wanted, incremental } = opened;
    // a follower needs CLUSTER_ACTION on the cluster; a consumer READ on each topic (Kafka's checks)
    const followerAllowed = replicaId < 0 || clusterAllowed(ctx, AclOperation.CLUSTER_ACTION);
    const topics = new Map<string, { name: string | null; denied: boolean }>();
    const targets: Target[] = [];
    for (const w of wanted) {
      const key = byId ? w.topicId : w.topic;
      let topic = topics.get(key);
      if (!topic) {
        const name = byId ? broker.topicNameById(w.topicId) ?? null : w.topic;
        topic = { name, denied: !followerAllowed || (replicaId < 0 && name !== null && !allowed(ctx, AclOperation.READ, ResourceType.TOPIC, name)) };
        topics.set(key, topic);
      }
      // a session partition keeps its target from one fetch to the next (resolved again each time)
      const cached = incremental ? w as SessionPartition : w.cached;
      const target = cached?.target ?? { key, name: null, topicId: w.topicId, request: w.request, partition: null, error: ErrorCode.NONE, cached };
      if (cached) cached.target = target;
      target.name = topic.name;
      target.request = w.request;
      if (topic.denied) Object.assign(target, { partition: null, error: ErrorCode.TOPIC_AUTHORIZATION_FAILED });
      else resolve(broker, target, byId);
      targets.push(target);
    }
    const deadline = broker.clock() + Math.max(0, req.maxWaitMs);
    const brokerMax = broker.settings.int('fetch.max.bytes');
    const maxBytes = req.maxBytes > 0 ? Math.min(req.maxBytes, brokerMax) : brokerMax;
    if (replicaId >= 0) recordFollowerFetches(broker, replicaId, targets);
    for (;;) {
      const { results, bytes, errors } = await readAll(broker, targets, maxBytes, replicaId, req.isolationLevel !== READ_UNCOMMITTED, incremental, ctx.sendsFiles === true);
      const remaining = deadline - broker.clock();
      if (bytes >= req.minBytes || errors || remaining <= 0 || req.maxWaitMs <= 0) {
        return respond(broker, req, byId, results, session?.id ?? 0, incremental);
      }
      const live: Partition[] = [];
      for (const t of targets) if (t.partition) live.push(t.partition);
      if (live.length === 0) return respond(broker, req, byId, results, session?.id ?? 0, incremental);
      releaseReads(results);
      await broker.delayedFetches.wait(live, remaining);
    }
  },
};

/**
 * The fetch's session (KIP-227; see fetch-sessions.ts) and the partitions it reads: a full fetch
 * reads what it names (and, at epoch 0, opens a session with them); an incremental one updates
 * and forgets what it names, then reads every partition of its session. A number: the error.
 */
function openSession(broker: BrokerServices, req: FetchRequest, byId: boolean):
  { session: FetchSession | null; wanted: Iterable<Wanted>; incremental: boolean } | number {
  const named = (t: FetchRequest['topics'][number]) => ({ topic: byId ? '' : t.topic, topicId: byId ? t.topicId : ZERO_UUID });
  if (req.sessionEpoch === FINAL_EPOCH || req.sessionEpoch === INITIAL_EPOCH) {
    if (req.sessionId !== 0) broker.fetchSessions.remove(req.sessionId);
    const session = req.sessionEpoch === INITIAL_EPOCH ? broker.fetchSessions.create() : null;
    const wanted: Wanted[] = [];
    for (const t of req.topics) {
      const { topic, topicId } = named(t);
      for (const p of t.partitions) wanted.push({ topic, topicId, request: p, cached: session?.upsert(topic, topicId, p) });
    }
    return { session, wanted, incremental: false };
  }
  const session = req.sessionId === 0 ? undefined : broker.fetchSessions.get(req.sessionId);
  if (!session) return ErrorCode.FETCH_SESSION_ID_NOT_FOUND;
  if (req.sessionEpoch !== session.epoch) return ErrorCode.INVALID_FETCH_SESSION_EPOCH;
  session.advance();
  for (const t of req.topics) {
    const { topic, topicId } = named(t);
    for (const p of t.partitions) session.upsert(topic, topicId, p);
  }
  for (const f of req.forgottenTopicsData) {
    for (const index of f.partitions) session.forget(byId ? '' : f.topic, byId ? f.topicId : ZERO_UUID, index);
  }
  return { session, wanted: session.partitions.values(), incremental: true };
}

/** Sets the target's partition, or the error that names why there is none here. */
function resolve(broker: BrokerServices, target: Target, byId: boolean): void {
  const { name, request } = target;
  target.partition = name === null ? null : broker.partition(name, request.partition) ?? null;
  if (target.partition) target.error = ErrorCode.NONE;
  else if (name === null) target.error = byId ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
  else {
    const known = broker.topic(name) && request.partition < broker.topic(name)!.partitions.length;
    target.error = known ? ErrorCode.NOT_LEADER_OR_FOLLOWER : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
  }
}

interface PartitionResult {
  target: Target;
  errorCode: number;
  /** The record bytes read, one part per segment touched (leased from fetchReadBuffers), or file regions of them. */
  records: Chunk[] | null;
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

/**
 * Reads every target. For an incremental fetch, a partition with nothing to read and offsets the
 * session already sent gets no result at all (it would be left out of the response): an idle
 * follower's fetch over thousands of partitions allocates nothing per partition.
 */
async function readAll(broker: BrokerServices, targets: Target[], maxBytes: number, replicaId: number, readCommitted: boolean, incremental: boolean, files: boolean) {
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
      let records: Chunk[] | null = null;
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
      if (incremental && offset >= upTo && target.cached && unchanged(target.cached, p)) continue;
      let aborted: PartitionResult['aborted'];
      if (offset < upTo && (budget > 0 || bytes === 0)) {
        const read = await p.log.readParts(offset, Math.max(0, budget), { maxOffset: upTo, minOneBatch: bytes === 0, pool: fetchReadBuffers, files });
        // without `files` every part is bytes: no per-read copy of the list on that path
        records = files ? read.parts.map((part) => Buffer.isBuffer(part) ? part : new FileRegion(part.fd, part.position, part.length, part.release)) : read.parts as Buffer[];
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

/**
 * The response: every partition read, or, for an incremental fetch, those with records, an error,
 * a diverging epoch, or a high watermark, last stable offset or log start offset other than the
 * session last sent (the rest are left out; their reads, all empty, are given back).
 */
function respond(broker: BrokerServices, req: FetchRequest, byId: boolean, results: PartitionResult[], sessionId: number, incremental: boolean) {
  const readCommitted = req.isolationLevel !== READ_UNCOMMITTED;
  const responses = new Map<string, { topic: string; topicId: string; partitions: FetchPartitionResponse[] }>();
  for (const r of results) {
    const { target } = r;
    const p = target.partition;
    const hw = p && r.errorCode !== ErrorCode.NOT_LEADER_OR_FOLLOWER ? p.highWatermark : -1n;
    const lso = p && hw >= 0n ? p.lastStableOffset : -1n;
    const logStart = p ? p.log.logStartOffset : -1n;
    const size = r.records ? sizeOf(r.records) : 0;
    const c = target.cached;
    if (c) {
      if (incremental && size === 0 && r.errorCode === ErrorCode.NONE && !r.divergingEpoch && p && unchanged(c, p)) {
        releaseParts(r.records);
        continue;
      }
      c.sentHighWatermark = hw;
      c.sentLastStableOffset = lso;
      c.sentLogStartOffset = logStart;
    }
    let topic = responses.get(target.key);
    if (!topic) {
      topic = {
        topic: byId ? '' : target.key,
        topicId: byId ? target.topicId : (target.name ? broker.topic(target.name)?.topicId ?? ZERO_UUID : ZERO_UUID),
        partitions: [],
      };
      responses.set(target.key, topic);
    }
    if (r.records && p) {
      broker.metrics.bytesOut.inc(p.topic, size);
      let sent = 0;
      for (const part of r.records) if (part instanceof FileRegion) sent += part.length;
      if (sent > 0) broker.metrics.fetchBytesSent.inc({ path: 'sendfile' }, sent);
      if (size > sent) broker.metrics.fetchBytesSent.inc({ path: 'read' }, size - sent);
    }
    topic.partitions.push({
      partitionIndex: target.request.partition,
      errorCode: r.errorCode,
      highWatermark: hw,
      lastStableOffset: lso,
      logStartOffset: logStart,
      abortedTransactions: readCommitted ? r.aborted ?? [] : null,
      preferredReadReplica: -1,
      records: r.records ?? (r.errorCode === ErrorCode.NONE ? EMPTY : null),
      divergingEpoch: r.divergingEpoch ?? { epoch: -1, endOffset: -1n },
    });
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId, responses: [...responses.values()] };
}

/** Whether the session last sent the partition's current high watermark, last stable offset and log start. */
function unchanged(c: SessionPartition, p: Partition): boolean {
  const hw = p.highWatermark;
  return c.sentHighWatermark === hw && c.sentLastStableOffset === (hw >= 0n ? p.lastStableOffset : -1n) && c.sentLogStartOffset === p.log.logStartOffset;
}

function sizeOf(parts: readonly Chunk[]): number {
  let n = 0;
  for (const part of parts) n += part.length;
  return n;
}

/** Gives the buffers of reads that will not be sent back to the pool, and file regions their segments. */
function releaseReads(results: readonly PartitionResult[]): void {
  for (const r of results) releaseParts(r.records);
}

function releaseParts(parts: readonly Chunk[] | null): void {
  for (const part of parts ?? []) {
    if (part instanceof FileRegion) part.release();
    else fetchReadBuffers.release(part);
  }
}

function topLevelError(errorCode: number, req: FetchRequest) {
  return { throttleTimeMs: 0, errorCode, sessionId: 0, responses: req.topics.map((t) => ({ topic: t.topic, topicId: t.topicId, partitions: [] })) };
}
