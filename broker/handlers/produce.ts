/** Produce (0) and InitProducerId (22); with a transactional id, InitProducerId is the transaction coordinator's. */
import { ErrorCode, KafkaError, errorCodeOf, errorInfo } from '../errors.ts';
import { AclOperation, allowed, allowedOnSome, clusterAllowed, ResourceType } from './authz.ts';
import type { ErrorName } from '../errors.ts';
import { ATTRIBUTES_OFFSET, BATCH_HEADER_SIZE, CONTROL_MASK, MAGIC_OFFSET, TRANSACTIONAL_MASK, readBatchHeader } from '../log/record-batch.ts';
import { recompressionOf, type CompressionSettings } from '../log/batch-conversion.ts';
import type { Partition } from '../partition.ts';
import type { ApiHandler, BrokerServices, Request, Response } from './index.ts';
import { joinTransaction } from './txn-join.ts';

/**
 * Produce v12 is v11 from a producer of the transaction protocol v2 (KIP-890 part 2): a
 * transactional batch to a partition not yet in the producer's transaction makes this leader add
 * it (where v3-11 only verify it is there).
 *
 * Produce v0-2 is advertised (librdkafka enables gzip/snappy only when it sees Produce v0, as
 * with Kafka 4) but answered with UNSUPPORTED_VERSION per partition: those versions carry the
 * old message formats.
 */
const MIN_SERVED_VERSION = 3;

interface Pending { response: PartitionResponse; wait: Promise<void> }

type PartitionResponse = NonNullable<NonNullable<Response<0>['responses']>[number]['partitionResponses']>[number];

export const produceHandler: ApiHandler<0> = {
  apiKey: 0,
  minVersion: 0,
  maxVersion: 12,
  handle(req, ctx) {
    const { broker, apiVersion } = ctx;
    const fail = (code: number, message: string | null = null): ((p: { index: number }) => PartitionResponse) =>
      (p) => partitionResponse(p.index, code, -1n, -1n, -1n, message);
    let reject: ((p: { index: number }) => PartitionResponse) | null = null;
    if (apiVersion < MIN_SERVED_VERSION) reject = fail(ErrorCode.UNSUPPORTED_VERSION, 'Produce v0-2 (message format v0/v1) is not supported; use v3+.');
    else if (req.acks !== 0 && req.acks !== 1 && req.acks !== -1) reject = fail(ErrorCode.INVALID_REQUIRED_ACKS);
    else if (req.transactionalId !== null && !allowed(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, req.transactionalId)) {
      reject = fail(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, 'Transactional Id authorization failed.');
    }

    const durable: Pending[] = [];
    const refusals = req.topicData.map((topic) => reject
      ?? (!allowed(ctx, AclOperation.WRITE, ResourceType.TOPIC, topic.name) ? fail(ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'Topic authorization failed.') : null));
    const turn = appendTurn(broker, req.topicData, refusals);
    const responses = req.topicData.map((topic, t) => ({
      name: topic.name,
      partitionResponses: topic.partitionData.map((p) => {
        const refuse = refusals[t];
        if (refuse) return refuse(p);
        const appendIt = (into: Pending[]): PartitionResponse =>
          append(broker, topic.name, p, req.acks, req.timeoutMs, into, req.transactionalId ?? null, apiVersion >= 12);
        return turn === null ? appendIt(durable) : appendInTurn(turn, appendIt, p.index, durable);
      }),
    }));
    if (req.acks === 0) {
      for (const d of durable) d.wait.catch(() => { /* nobody waits for an acks=0 answer */ });
      return null;
    }
    const body = { responses, throttleTimeMs: 0 };
    if (durable.length === 0) return body;
    // each partition waits for what its acks and flush policy promise; a failure fails that partition only
    return broker.delayedProduces.track(Promise.all(durable.map(({ response, wait }) => wait.catch((err: unknown) => {
      response.errorCode = errorCodeOf(err);
      response.errorMessage = (err as Error).message;
      response.baseOffset = -1n;
    }))).then(() => body));
  },
};

function append(broker: BrokerServices, topic: string, p: Request<0>['topicData'][number]['partitionData'][number], acks: number, timeoutMs: number,
  durable: Pending[], transactionalId: string | null, addToTxn: boolean): PartitionResponse {
  try {
    const partition = leaderReplica(broker, topic, p.index);
    if (!p.records || p.records.length === 0) throw new KafkaError('CORRUPT_MESSAGE', 'produce request without record batches');
    const txn = transactionalProducer(p.records);
    // (only transactional batches look up the verification chains: the common path does no more)
    const chains = txn && broker.settings.bool('transaction.partition.verification.enable') ? verificationChains(broker) : null;
    const chainKey = txn ? `${topic}\u0000${p.index}\u0000${txn.producerId}` : '';
    if (!txn || !chains || (!chains.has(chainKey) && !needsVerification(partition, txn))) {
      const response = partitionResponse(p.index, ErrorCode.NONE, -1n, -1n, -1n, null);
      for (const wait of appendNow(broker, partition, topic, p.records, acks, timeoutMs, response)) durable.push({ response, wait });
      return response;
    }
    // the producer's first transactional batch here: the coordinator confirms the partition is in
    // its transaction (protocol v2: adds it) first; its later batches wait behind it, so they keep their order
    if (transactionalId === null) throw new KafkaError('INVALID_TXN_STATE', 'transactional records in a produce request without a transactional id');
    const response = partitionResponse(p.index, ErrorCode.NONE, -1n, -1n, -1n, null);
    const appended = (chains.get(chainKey) ?? Promise.resolve()).then(async () => {
      const current = leaderReplica(broker, topic, p.index);
      if (needsVerification(current, txn)) {
        const codes = await joinTransaction(broker, transactionalId, txn.producerId, txn.producerEpoch, [{ topic, partition: p.index }], addToTxn);
        const code = codes.get(`${topic}\u0000${p.index}`) ?? ErrorCode.UNKNOWN_SERVER_ERROR;
        if (code !== ErrorCode.NONE) throw verificationError(code, topic, p.index);
      }
      return appendNow(broker, leaderReplica(broker, topic, p.index), topic, p.records!, acks, timeoutMs, response);
    });
    const settled = appended.then(() => undefined, () => undefined);
    chains.set(chainKey, settled);
    void settled.then(() => { if (chains.get(chainKey) === settled) chains.delete(chainKey); });
    durable.push({ response, wait: appended.then((waits) => Promise.all(waits)).then(() => undefined, (err: unknown) => {
      countError(broker, topic, p.index, err);
      throw err;
    }) });
    return response;
  } catch (err) {
    const code = countError(broker, topic, p.index, err);
    return partitionResponse(p.index, code, -1n, -1n, -1n, (err as Error).message);
  }
}

// ------------------------------------------------------------ byte work on worker threads (brook.worker.threads)

/**
 * With a BatchWorkerPool, a produce request's record sets go to a worker first (their CRC-32C,
 * and their re-compression where the topic's compression.type asks for it), and its appends run
 * once that answer is in and every earlier request's appends have run: appends keep the order in
 * which requests arrived (so each partition's, and each producer's sequence, order), whatever
 * order the workers answer in. Returns the request's turn, or null (no pool: append now, as always).
 */
function appendTurn(broker: BrokerServices, topics: Request<0>['topicData'], refusals: ReadonlyArray<unknown>): Promise<void> | null {
  const pool = broker.batchWorkers;
  let prepared: Promise<void> | undefined;
  if (pool?.enabled) {
    const sets: Buffer[] = [];
    const convert: Array<CompressionSettings | null> = [];
    let bytes = 0;
    topics.forEach((topic, t) => {
      if (refusals[t]) return;
      for (const p of topic.partitionData) {
        if (p.records && p.records.length > 0) {
          sets.push(p.records);
          const config = broker.partition(topic.name, p.index)?.log.currentConfig;
          convert.push(config ? recompressionOf(config) : null);
          bytes += p.records.length;
        }
      }
    });
    // a few KiB are verified faster here than a message to a worker and back (such a request
    // still waits its turn); re-compressing is worth a worker at any size
    if (bytes >= MIN_WORKER_BYTES || convert.some((c) => c !== null)) prepared = pool.prepare(sets, convert);
  }
  // an earlier turn still pending (also after the pool closed, at shutdown) keeps this request behind it
  const previous = appendTurns.get(broker);
  if (previous === undefined && prepared === undefined) return null;
  const turn = Promise.all([previous, prepared]).then(() => undefined);
  appendTurns.set(broker, turn);
  void turn.then(() => { if (appendTurns.get(broker) === turn) appendTurns.delete(broker); });
  return turn;
}

/** Record bytes of a request below which the event loop checks CRCs itself (unless a topic re-compresses). */
const MIN_WORKER_BYTES = 8 * 1024;

/** Per broker: the turn of the last produce request whose appends wait for a worker. */
const appendTurns = new WeakMap<BrokerServices, Promise<void>>();

/** A partition's append once `turn` comes; its answer is filled in then, its waits become one. */
function appendInTurn(turn: Promise<void>, appendIt: (into: Pending[]) => PartitionResponse, index: number, durable: Pending[]): PartitionResponse {
  const response = partitionResponse(index, ErrorCode.NONE, -1n, -1n, -1n, null);
  const wait = turn.then(async () => {
    const waits: Pending[] = [];
    Object.assign(response, appendIt(waits));
    const settled = await Promise.allSettled(waits.map((w) => w.wait));
    const failed = settled.filter((r) => r.status === 'rejected').at(-1);
    if (failed) throw failed.reason;
  });
  durable.push({ response, wait });
  return response;
}

function leaderReplica(broker: BrokerServices, topic: string, index: number): Partition {
  const partition = broker.partition(topic, index);
  if (partition) return partition;
  throw broker.topic(topic)
    ? new KafkaError('NOT_LEADER_OR_FOLLOWER', `broker ${broker.nodeId} hosts no replica of ${topic}-${index}`)
    : new KafkaError('UNKNOWN_TOPIC_OR_PARTITION', `unknown topic-partition ${topic}-${index}`);
}

/** Appends as leader, fills in `response`; what the acknowledgement waits for (flush, ISR). */
function appendNow(broker: BrokerServices, partition: Partition, topic: string, records: Buffer, acks: number, timeoutMs: number,
  response: PartitionResponse): Array<Promise<void>> {
  const result = partition.appendAsLeader(records, acks);
  if (!result.duplicate) {
    broker.metrics.bytesIn.inc(topic, records.length);
    broker.metrics.recordsIn.inc(topic, result.recordCount);
  }
  response.baseOffset = result.baseOffset;
  response.logAppendTimeMs = result.logAppendTime;
  response.logStartOffset = partition.log.logStartOffset;
  const waits: Array<Promise<void>> = [];
  const flushed = partition.log.flushed(result.lastOffset);
  if (flushed) waits.push(flushed);
  if (acks === -1) waits.push(partition.replicated(result.lastOffset + 1n, timeoutMs));
  return waits;
}

function countError(broker: BrokerServices, topic: string, index: number, err: unknown): number {
  const code = errorCodeOf(err);
  broker.metrics.produceErrors.inc({ topic, error: errorInfo(code).name });
  if (code === ErrorCode.UNKNOWN_SERVER_ERROR || code === ErrorCode.KAFKA_STORAGE_ERROR) {
    broker.log.error(`produce to ${topic}-${index} failed: ${(err as Error).stack}`);
  }
  return code;
}

// ------------------------------------------------------------ partition verification (KIP-890 part 1)

interface TxnProducer { producerId: bigint; producerEpoch: number }

/** The producer of a transactional data batch (the first batch's header speaks for the request), or null. */
function transactionalProducer(records: Buffer): TxnProducer | null {
  if (records.length < BATCH_HEADER_SIZE || records[MAGIC_OFFSET] !== 2) return null;
  // (the attributes first: most batches are not transactional, and the whole header costs BigInts)
  const attributes = records.readInt16BE(ATTRIBUTES_OFFSET);
  if ((attributes & TRANSACTIONAL_MASK) === 0 || (attributes & CONTROL_MASK) !== 0) return null;
  const h = readBatchHeader(records, 0);
  if (h.producerId < 0n) return null;
  return { producerId: h.producerId, producerEpoch: h.producerEpoch };
}

/** Whether the partition has no transaction of this producer and epoch open yet. */
function needsVerification(partition: Partition, txn: TxnProducer): boolean {
  const e = partition.log.producerState.entry(txn.producerId);
  return !(e && e.epoch === txn.producerEpoch && e.currentTxnFirstOffset >= 0n);
}

/**
 * The coordinator's answer as the producer gets it, as Kafka answers: failures it should retry
 * become NOT_ENOUGH_REPLICAS (every client retries it); a producer the coordinator fenced or does
 * not know gets INVALID_PRODUCER_EPOCH (the client aborts the transaction).
 */
function verificationError(code: number, topic: string, index: number): KafkaError {
  const retriable = code === ErrorCode.NOT_COORDINATOR || code === ErrorCode.COORDINATOR_NOT_AVAILABLE
    || code === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS || code === ErrorCode.CONCURRENT_TRANSACTIONS;
  if (retriable) return new KafkaError('NOT_ENOUGH_REPLICAS', `the transaction coordinator could not verify ${topic}-${index} yet (${errorInfo(code).name})`);
  if (code === ErrorCode.INVALID_TXN_STATE) return new KafkaError('INVALID_TXN_STATE', `${topic}-${index} is not in the producer's ongoing transaction`);
  if (code === ErrorCode.PRODUCER_FENCED || code === ErrorCode.INVALID_PRODUCER_ID_MAPPING) {
    return new KafkaError('INVALID_PRODUCER_EPOCH', `${topic}-${index}: the transaction coordinator refused the producer (${errorInfo(code).name})`);
  }
  return new KafkaError(errorInfo(code).name as ErrorName, `partition verification of ${topic}-${index}`);
}

/** Per broker: the tail of each producer's verified appends to a partition (`topic\0partition\0producerId`). */
const chainsByBroker = new WeakMap<BrokerServices, Map<string, Promise<void>>>();
function verificationChains(broker: BrokerServices): Map<string, Promise<void>> {
  let chains = chainsByBroker.get(broker);
  if (!chains) chainsByBroker.set(broker, chains = new Map());
  return chains;
}

function partitionResponse(index: number, errorCode: number, baseOffset: bigint, logAppendTimeMs: bigint,
  logStartOffset: bigint, errorMessage: string | null): PartitionResponse {
  return { index, errorCode, baseOffset, logAppendTimeMs, logStartOffset, recordErrors: [], errorMessage };
}

const MAX_EPOCH = 32767;

export const initProducerIdHandler: ApiHandler<22> = {
  apiKey: 22,
  minVersion: 0,
  maxVersion: 5,
  async handle(req, ctx) {
    const { broker } = ctx;
    const reply = (errorCode: number, producerId = -1n, producerEpoch = -1) => ({ throttleTimeMs: 0, errorCode, producerId, producerEpoch });
    if (req.transactionalId !== null && req.transactionalId !== '') {
      if (!allowed(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, req.transactionalId)) return reply(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
      const r = await broker.transactions.initProducerId(req.transactionalId, req.transactionTimeoutMs, req.producerId, req.producerEpoch);
      return reply(r.errorCode, r.producerId, r.producerEpoch);
    }
    // An idempotent producer needs IDEMPOTENT_WRITE on the cluster or WRITE on some topic (KIP-679).
    if (!clusterAllowed(ctx, AclOperation.IDEMPOTENT_WRITE) && !allowedOnSome(ctx, AclOperation.WRITE, ResourceType.TOPIC)) return reply(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    // KIP-360: an idempotent producer may ask to bump its own epoch after an error.
    if (req.producerId >= 0n && req.producerEpoch >= 0 && req.producerEpoch < MAX_EPOCH) {
      return reply(ErrorCode.NONE, req.producerId, req.producerEpoch + 1);
    }
    return reply(ErrorCode.NONE, await broker.producerIds.allocate(), 0);
  },
};

