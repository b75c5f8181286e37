/**
 * The handler table: one handler per implemented API, with the version range it implements.
 * ApiVersions advertises exactly this table, so adding an API here is what makes clients use it.
 *
 * A handler is typed from its API's schema data: it receives `RequestOf<ApiByKey[K]>` (every
 * field of every version present, absent ones at their defaults) and returns what the encoder
 * accepts, `ResponseInput<ApiByKey[K]>` (fields left out take the schema default), or null for
 * no response (acks=0). It sees the broker only through BrokerServices.
 */
import type { ApiByKey, RequestOf, ResponseInput } from '../protocol/index.ts';
import type { BrokerServices } from './services.ts';
import type { KafkaPrincipal } from '../security/principal.ts';
import { alterUserScramCredentialsHandler, describeUserScramCredentialsHandler, saslAuthenticateHandler, saslHandshakeHandler } from './security.ts';
import { apiVersionsHandler } from './api-versions.ts';
import { createPartitionsHandler, createTopicsHandler, deleteTopicsHandler } from './topics.ts';
import { alterConfigsHandler, describeConfigsHandler, incrementalAlterConfigsHandler } from './configs.ts';
import { describeClusterHandler, describeTopicPartitionsHandler, metadataHandler } from './metadata.ts';
import { deleteRecordsHandler, listOffsetsHandler, offsetForLeaderEpochHandler } from './offsets.ts';
import { fetchHandler } from './fetch.ts';
import { initProducerIdHandler, produceHandler } from './produce.ts';
import { electLeadersHandler } from './elect-leaders.ts';
import {
  addOffsetsToTxnHandler, addPartitionsToTxnHandler, describeProducersHandler, describeTransactionsHandler, endTxnHandler, listTransactionsHandler,
  txnOffsetCommitHandler, writeTxnMarkersHandler,
} from './transactions.ts';
import { createAclsHandler, deleteAclsHandler, describeAclsHandler } from './acls.ts';
import { alterClientQuotasHandler, describeClientQuotasHandler } from './quotas.ts';
import { alterPartitionReassignmentsHandler, describeLogDirsHandler, listPartitionReassignmentsHandler } from './reassignments.ts';
import {
  consumerGroupDescribeHandler, consumerGroupHeartbeatHandler, deleteGroupsHandler, describeGroupsHandler, findCoordinatorHandler, heartbeatHandler, joinGroupHandler, leaveGroupHandler,
  listGroupsHandler, offsetCommitHandler, offsetDeleteHandler, offsetFetchHandler, syncGroupHandler,
} from './groups.ts';

export type { BrokerServices } from './services.ts';

export interface RequestContext {
  readonly broker: BrokerServices;
  readonly apiVersion: number;
  readonly clientId: string | null;
  readonly correlationId: number;
  readonly remote: string;
  /** The listener the request arrived on (Metadata answers with its advertised addresses). */
  readonly listener: string;
  /**
   * Who sent it: User:ANONYMOUS without authentication, the SASL user, or the TLS client
   * certificate's subject (broker/security/principal.ts). What the authorizer checks.
   */
  readonly principal: KafkaPrincipal;
  /** The connection sends files (broker/server/connection.ts): Fetch may answer with FileRegions. Absent: it does not. */
  readonly sendsFiles?: boolean;
}

/** An implemented API key. */
export type ApiKeyOf = keyof ApiByKey;
export type Request<K extends ApiKeyOf> = RequestOf<ApiByKey[K]>;
export type Response<K extends ApiKeyOf> = ResponseInput<ApiByKey[K]>;
type Answer<R> = R | null | Promise<R | null>;

export interface ApiHandler<K extends ApiKeyOf> {
  readonly apiKey: K;
  /** Lowest version served. */
  readonly minVersion: number;
  readonly maxVersion: number;
  /** Returns the response body, or null for requests that get no response (acks=0). */
  handle(request: Request<K>, ctx: RequestContext): Answer<Response<K>>;
}

/** A table entry: the server decodes the body by apiKey, so the request has that API's shape. */
export interface RegisteredHandler {
  readonly apiKey: number;
  readonly minVersion: number;
  readonly maxVersion: number;
  handle(request: unknown, ctx: RequestContext): Answer<unknown>;
}

function register<K extends ApiKeyOf>(h: ApiHandler<K>): RegisteredHandler {
  return { apiKey: h.apiKey, minVersion: h.minVersion, maxVersion: h.maxVersion, handle: (request, ctx) => h.handle(request as Request<K>, ctx) };
}

export const handlers: readonly RegisteredHandler[] = [
  produceHandler,
  fetchHandler,
  listOffsetsHandler,
  metadataHandler,
  offsetCommitHandler,
  offsetFetchHandler,
  findCoordinatorHandler,
  joinGroupHandler,
  heartbeatHandler,
  leaveGroupHandler,
  syncGroupHandler,
  describeGroupsHandler,
  listGroupsHandler,
  offsetForLeaderEpochHandler,
  addPartitionsToTxnHandler,
  addOffsetsToTxnHandler,
  endTxnHandler,
  writeTxnMarkersHandler,
  txnOffsetCommitHandler,
  describeProducersHandler,
  describeTransactionsHandler,
  listTransactionsHandler,
  apiVersionsHandler,
  createTopicsHandler,
  deleteTopicsHandler,
  deleteRecordsHandler,
  initProducerIdHandler,
  describeConfigsHandler,
  alterConfigsHandler,
  createPartitionsHandler,
  deleteGroupsHandler,
  electLeadersHandler,
  incrementalAlterConfigsHandler,
  offsetDeleteHandler,
  describeClusterHandler,
  describeTopicPartitionsHandler,
  describeAclsHandler,
  createAclsHandler,
  deleteAclsHandler,
  describeLogDirsHandler,
  alterPartitionReassignmentsHandler,
  listPartitionReassignmentsHandler,
  saslHandshakeHandler,
  saslAuthenticateHandler,
  describeUserScramCredentialsHandler,
  alterUserScramCredentialsHandler,
  consumerGroupHeartbeatHandler,
  consumerGroupDescribeHandler,
  describeClientQuotasHandler,
  alterClientQuotasHandler,
].map(register);

const byKey = new Map(handlers.map((h) => [h.apiKey, h]));

export function handlerFor(apiKey: number): RegisteredHandler | undefined { return byKey.get(apiKey); }
