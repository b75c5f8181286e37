/**
 * DescribeAcls (29), CreateAcls (30), DeleteAcls (31) on a cluster without an authorizer: Brook
 * answers as Apache Kafka does when no `authorizer.class.name` is set — SECURITY_DISABLED with
 * Kafka's message, for the whole request (DescribeAcls) or for every creation and filter — so tools
 * that probe ACLs (MirrorMaker 2's `sync.topic.acls.enabled`, AKHQ, kafka-ui, `kafka-acls`) see
 * "no authorizer" rather than an unsupported API. The authorizer (issue 15) replaces these answers.
 */
import { ErrorCode } from '../errors.ts';
import type { ApiHandler } from './index.ts';

const NO_AUTHORIZER = 'No Authorizer is configured.';

export const describeAclsHandler: ApiHandler<29> = {
  apiKey: 29,
  minVersion: 1,
  maxVersion: 3,
  handle() {
    return { throttleTimeMs: 0, errorCode: ErrorCode.SECURITY_DISABLED, errorMessage: NO_AUTHORIZER, resources: [] };
  },
};

export const createAclsHandler: ApiHandler<30> = {
  apiKey: 30,
  minVersion: 1,
  maxVersion: 3,
  handle(req) {
    return { throttleTimeMs: 0, results: req.creations.map(() => ({ errorCode: ErrorCode.SECURITY_DISABLED, errorMessage: NO_AUTHORIZER })) };
  },
};

export const deleteAclsHandler: ApiHandler<31> = {
  apiKey: 31,
  minVersion: 1,
  maxVersion: 3,
  handle(req) {
    return {
      throttleTimeMs: 0,
      filterResults: req.filters.map(() => ({ errorCode: ErrorCode.SECURITY_DISABLED, errorMessage: NO_AUTHORIZER, matchingAcls: [] })),
    };
  },
};
