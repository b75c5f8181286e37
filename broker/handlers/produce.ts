/** Produce (0) and InitProducerId (22); with a transactional id, InitProducerId is the transaction coordinator's. */
import { ErrorCode, KafkaError, errorCodeOf, errorInfo } from '../errors.ts';
import { AclOperation, allowed, allowedOnSome, clusterAllowed, ResourceType } from './authz.ts';
import type { ApiHandler, BrokerServices, Request, Response } from './index.ts';

/**
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
  maxVersion: 11,
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
    const responses = req.topicData.map((topic) => {
      const denied = !reject && !allowed(ctx, AclOperation.WRITE, ResourceType.TOPIC, topic.name) ? fail(ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'Topic authorization failed.') : null;
      return {
        name: topic.name,
        partitionResponses: topic.partitionData.map((p) => {
          const refuse = reject ?? denied;
          return refuse ? refuse(p) : append(broker, topic.name, p, req.acks, req.timeoutMs, durable);
        }),
      };
    });
    if (req.acks === 0) return null;
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
  durable: Pending[]): PartitionResponse {
  const partition = broker.partition(topic, p.index);
  try {
    if (!partition) {
      throw broker.topic(topic)
        ? new KafkaError('NOT_LEADER_OR_FOLLOWER', `broker ${broker.nodeId} hosts no replica of ${topic}-${p.index}`)
        : new KafkaError('UNKNOWN_TOPIC_OR_PARTITION', `unknown topic-partition ${topic}-${p.index}`);
    }
    if (!p.records || p.records.length === 0) throw new KafkaError('CORRUPT_MESSAGE', 'produce request without record batches');
    const result = partition.appendAsLeader(p.records, acks);
    if (!result.duplicate) {
      broker.metrics.bytesIn.inc({ topic }, p.records.length);
      broker.metrics.recordsIn.inc({ topic }, result.recordCount);
    }
    const response = partitionResponse(p.index, ErrorCode.NONE, result.baseOffset, result.logAppendTime, partition.log.logStartOffset, null);
    const flushed = partition.log.flushed(result.lastOffset);
    if (flushed) durable.push({ response, wait: flushed });
    if (acks === -1) durable.push({ response, wait: partition.replicated(result.lastOffset + 1n, timeoutMs) });
    return response;
  } catch (err) {
    const code = errorCodeOf(err);
    broker.metrics.produceErrors.inc({ topic, error: errorInfo(code).name });
    if (code === ErrorCode.UNKNOWN_SERVER_ERROR || code === ErrorCode.KAFKA_STORAGE_ERROR) {
      broker.log.error(`produce to ${topic}-${p.index} failed: ${(err as Error).stack}`);
    }
    return partitionResponse(p.index, code, -1n, -1n, -1n, (err as Error).message);
  }
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

