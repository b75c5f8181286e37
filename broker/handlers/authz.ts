/**
 * What handlers ask of the authorizer: may this request's principal, from its host, do an
 * operation on a resource? Always yes without an authorizer (`authorizer.class.name` empty).
 * The host is the client's IP address as Kafka gives it to ACLs (an IPv4 address, not its
 * IPv4-mapped IPv6 form).
 */
import { KafkaError } from '../errors.ts';
import { AclOperation, CLUSTER_NAME, ResourceType } from '../security/acls.ts';
import { principalString } from '../security/principal.ts';
import type { RequestContext } from './index.ts';

export { AclOperation, ResourceType };

export function clientHost(remote: string): string {
  const host = remote.slice(0, remote.lastIndexOf(':'));
  return host.startsWith('::ffff:') && host.includes('.') ? host.slice('::ffff:'.length) : host;
}

export function allowed(ctx: RequestContext, operation: number, resourceType: number, resourceName: string): boolean {
  const authorizer = ctx.broker.authorizer;
  if (!authorizer) return true;
  return authorizer.authorize(principalString(ctx.principal), clientHost(ctx.remote), operation, { type: resourceType, name: resourceName });
}

export function clusterAllowed(ctx: RequestContext, operation: number): boolean {
  return allowed(ctx, operation, ResourceType.CLUSTER, CLUSTER_NAME);
}

/** May the principal do `operation` on some resource of the type (an idempotent producer: WRITE on any topic)? */
export function allowedOnSome(ctx: RequestContext, operation: number, resourceType: number): boolean {
  const authorizer = ctx.broker.authorizer;
  return !authorizer || authorizer.authorizeAny(principalString(ctx.principal), clientHost(ctx.remote), operation, resourceType);
}

/** Throws TOPIC_AUTHORIZATION_FAILED unless the principal may do `operation` on the topic. */
export function requireTopic(ctx: RequestContext, operation: number, topic: string): void {
  if (!allowed(ctx, operation, ResourceType.TOPIC, topic)) throw new KafkaError('TOPIC_AUTHORIZATION_FAILED', `Not authorized to access topics: [${topic}]`);
}

/** Throws GROUP_AUTHORIZATION_FAILED unless the principal may do `operation` on the group. */
export function requireGroup(ctx: RequestContext, operation: number, group: string): void {
  if (!allowed(ctx, operation, ResourceType.GROUP, group)) throw new KafkaError('GROUP_AUTHORIZATION_FAILED', `Not authorized to access group: ${group}`);
}

/** Throws CLUSTER_AUTHORIZATION_FAILED unless the principal may do `operation` on the cluster. */
export function requireCluster(ctx: RequestContext, operation: number): void {
  if (!clusterAllowed(ctx, operation)) throw new KafkaError('CLUSTER_AUTHORIZATION_FAILED', 'Cluster authorization failed.');
}

/** Throws TRANSACTIONAL_ID_AUTHORIZATION_FAILED unless the principal may do `operation` on the transactional id. */
export function requireTransactionalId(ctx: RequestContext, operation: number, id: string): void {
  if (!allowed(ctx, operation, ResourceType.TRANSACTIONAL_ID, id)) throw new KafkaError('TRANSACTIONAL_ID_AUTHORIZATION_FAILED', 'Transactional Id authorization failed.');
}
