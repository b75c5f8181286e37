/**
 * The handler table: one handler per implemented API, with the version range it implements.
 * ApiVersions advertises exactly this table, so adding an API here is what makes clients use it.
 */
import type { Broker } from '../broker.ts';
import { apiVersionsHandler } from './api-versions.ts';
import { createPartitionsHandler, createTopicsHandler, deleteTopicsHandler } from './topics.ts';
import { alterConfigsHandler, describeConfigsHandler, incrementalAlterConfigsHandler } from './configs.ts';
import { describeClusterHandler, metadataHandler } from './metadata.ts';
import { deleteRecordsHandler, listOffsetsHandler, offsetForLeaderEpochHandler } from './offsets.ts';
import { fetchHandler } from './fetch.ts';
import { initProducerIdHandler, produceHandler } from './produce.ts';
import { electLeadersHandler } from './elect-leaders.ts';
import {
  deleteGroupsHandler, describeGroupsHandler, findCoordinatorHandler, heartbeatHandler, joinGroupHandler, leaveGroupHandler,
  listGroupsHandler, offsetCommitHandler, offsetDeleteHandler, offsetFetchHandler, syncGroupHandler,
} from './groups.ts';

export interface RequestContext {
  readonly broker: Broker;
  readonly apiVersion: number;
  readonly clientId: string | null;
  readonly correlationId: number;
  readonly remote: string;
  /** The listener the request arrived on (Metadata answers with its advertised addresses). */
  readonly listener: string;
}

export interface ApiHandler {
  readonly apiKey: number;
  /** Lowest version served. */
  readonly minVersion: number;
  readonly maxVersion: number;
  /** Returns the response body, or null for requests that get no response (acks=0). */
  handle(request: any, ctx: RequestContext): unknown;
}

export const handlers: readonly ApiHandler[] = [
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
];

const byKey = new Map(handlers.map((h) => [h.apiKey, h]));

export function handlerFor(apiKey: number): ApiHandler | undefined { return byKey.get(apiKey); }
