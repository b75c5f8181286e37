/**
 * DescribeAcls (29), CreateAcls (30), DeleteAcls (31), as Kafka answers them.
 *
 * Without an authorizer (`authorizer.class.name` empty) they answer SECURITY_DISABLED with Kafka's
 * message, for the whole request (DescribeAcls) or for every creation and filter, so tools that
 * probe ACLs (MirrorMaker 2's `sync.topic.acls.enabled`, AKHQ, kafka-ui, `kafka-acls`) see "no
 * authorizer" rather than an unsupported API.
 *
 * With one: describing needs DESCRIBE on the cluster, creating and deleting ALTER on the cluster
 * (CLUSTER_AUTHORIZATION_FAILED otherwise). Bindings are kept in the metadata store (every broker
 * enforces the same ones); a creation of a binding that exists already succeeds and stores nothing
 * new; a malformed binding or filter gets INVALID_REQUEST with the reason, and the others in the
 * request still apply. DeleteAcls answers, per filter, the bindings it removed.
 */
import { ErrorCode, errorCodeOf, errorMessageOf } from '../errors.ts';
import {
  filterMatches, sameBinding, validateBinding, validateFilter, type AclBinding, type AclBindingFilter,
} from '../security/acls.ts';
import { AclOperation, clusterAllowed } from './authz.ts';
import type { ApiHandler } from './index.ts';

const NO_AUTHORIZER = 'No Authorizer is configured.';

export const describeAclsHandler: ApiHandler<29> = {
  apiKey: 29,
  minVersion: 1,
  maxVersion: 3,
  handle(req, ctx) {
    const authorizer = ctx.broker.authorizer;
    if (!authorizer) return { throttleTimeMs: 0, errorCode: ErrorCode.SECURITY_DISABLED, errorMessage: NO_AUTHORIZER, resources: [] };
    if (!clusterAllowed(ctx, AclOperation.DESCRIBE)) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: 'Cluster authorization failed.', resources: [] };
    }
    const filter: AclBindingFilter = {
      resourceType: req.resourceTypeFilter, resourceName: req.resourceNameFilter, patternType: req.patternTypeFilter,
      principal: req.principalFilter, host: req.hostFilter, operation: req.operation, permission: req.permissionType,
    };
    try {
      validateFilter(filter);
    } catch (err) {
      return { throttleTimeMs: 0, errorCode: errorCodeOf(err), errorMessage: errorMessageOf(err), resources: [] };
    }
    const byResource = new Map<string, { resourceType: number; resourceName: string; patternType: number; acls: Array<{ principal: string; host: string; operation: number; permissionType: number }> }>();
    for (const b of authorizer.bindings().filter((a) => filterMatches(filter, a))) {
      const key = `${b.resourceType}\u0000${b.patternType}\u0000${b.resourceName}`;
      let entry = byResource.get(key);
      if (!entry) byResource.set(key, entry = { resourceType: b.resourceType, resourceName: b.resourceName, patternType: b.patternType, acls: [] });
      entry.acls.push({ principal: b.principal, host: b.host, operation: b.operation, permissionType: b.permission });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, resources: [...byResource.values()] };
  },
};

export const createAclsHandler: ApiHandler<30> = {
  apiKey: 30,
  minVersion: 1,
  maxVersion: 3,
  async handle(req, ctx) {
    const fail = (errorCode: number, errorMessage: string) => ({ throttleTimeMs: 0, results: req.creations.map(() => ({ errorCode, errorMessage })) });
    if (!ctx.broker.authorizer) return fail(ErrorCode.SECURITY_DISABLED, NO_AUTHORIZER);
    if (!clusterAllowed(ctx, AclOperation.ALTER)) return fail(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.');
    const results: Array<{ errorCode: number; errorMessage: string | null }> = [];
    const valid: AclBinding[] = [];
    for (const c of req.creations) {
      const binding: AclBinding = {
        resourceType: c.resourceType, resourceName: c.resourceName, patternType: c.resourcePatternType,
        principal: c.principal, host: c.host, operation: c.operation, permission: c.permissionType,
      };
      try {
        validateBinding(binding);
        valid.push(binding);
        results.push({ errorCode: ErrorCode.NONE, errorMessage: null });
      } catch (err) {
        results.push({ errorCode: errorCodeOf(err), errorMessage: errorMessageOf(err) });
      }
    }
    if (valid.length > 0) {
      try {
        await ctx.broker.store.updateAcls((current) => {
          const added = valid.filter((b, i) => !current.some((a) => sameBinding(a, b)) && !valid.slice(0, i).some((a) => sameBinding(a, b)));
          return { acls: [...current, ...added], result: added.length };
        });
      } catch (err) {
        for (const r of results) if (r.errorCode === ErrorCode.NONE) Object.assign(r, { errorCode: errorCodeOf(err), errorMessage: errorMessageOf(err) });
      }
    }
    return { throttleTimeMs: 0, results };
  },
};

export const deleteAclsHandler: ApiHandler<31> = {
  apiKey: 31,
  minVersion: 1,
  maxVersion: 3,
  async handle(req, ctx) {
    const fail = (errorCode: number, errorMessage: string) => ({
      throttleTimeMs: 0, filterResults: req.filters.map(() => ({ errorCode, errorMessage, matchingAcls: [] })),
    });
    if (!ctx.broker.authorizer) return fail(ErrorCode.SECURITY_DISABLED, NO_AUTHORIZER);
    if (!clusterAllowed(ctx, AclOperation.ALTER)) return fail(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.');
    const filters: Array<AclBindingFilter | Error> = req.filters.map((f) => {
      const filter: AclBindingFilter = {
        resourceType: f.resourceTypeFilter, resourceName: f.resourceNameFilter, patternType: f.patternTypeFilter,
        principal: f.principalFilter, host: f.hostFilter, operation: f.operation, permission: f.permissionType,
      };
      try { validateFilter(filter); return filter; } catch (err) { return err as Error; }
    });
    let removed: AclBinding[][];
    try {
      removed = await ctx.broker.store.updateAcls((current) => {
        const perFilter = filters.map((f) => (f instanceof Error ? [] : current.filter((b) => filterMatches(f, b))));
        const gone = perFilter.flat();
        return { acls: current.filter((b) => !gone.includes(b)), result: perFilter };
      });
    } catch (err) {
      return fail(errorCodeOf(err), errorMessageOf(err) ?? 'ACL deletion failed.');
    }
    return {
      throttleTimeMs: 0,
      filterResults: filters.map((f, i) => (f instanceof Error
        ? { errorCode: errorCodeOf(f), errorMessage: errorMessageOf(f), matchingAcls: [] }
        : {
          errorCode: ErrorCode.NONE, errorMessage: null,
          matchingAcls: removed[i]!.map((b) => ({
            errorCode: ErrorCode.NONE, errorMessage: null, resourceType: b.resourceType, resourceName: b.resourceName, patternType: b.patternType,
            principal: b.principal, host: b.host, operation: b.operation, permissionType: b.permission,
          })),
        })),
    };
  },
};
