/**
 * ACLs and the authorizer, Kafka's way (StandardAuthorizer's rules), as pure functions over a
 * list of bindings; the broker keeps the list in the metadata store so every broker agrees.
 *
 * A binding: a resource pattern (type; name; LITERAL or PREFIXED), a principal (`User:alice`,
 * `User:*` for everyone), a host (`*` for any), an operation and ALLOW or DENY.
 *
 * authorize(principal, host, operation, resource):
 * 1. A super user (`super.users=User:admin;User:broker`) is allowed everything.
 * 2. The bindings that match the resource: same type (or none), and LITERAL with the resource's
 *    name or `*`, or PREFIXED with a prefix of the name. Of those, the ones that match the
 *    principal (its own or `User:*`) and the host (its own or `*`).
 * 3. A matching DENY for the operation (or ALL) denies: deny wins over any allow.
 * 4. A matching ALLOW for the operation, for ALL, or for an operation that implies it allows:
 *    DESCRIBE is implied by READ, WRITE, DELETE and ALTER; DESCRIBE_CONFIGS by ALTER_CONFIGS.
 * 5. Otherwise: allowed only when no binding at all matches the resource (whoever it names) and
 *    `allow.everyone.if.no.acl.found=true`; else denied.
 *
 * Filters (DescribeAcls, DeleteAcls): ANY matches every type, pattern, operation and permission; a
 * null name, principal or host matches any; the MATCH pattern type matches what would apply to a
 * resource of that name (LITERAL with the name or `*`, PREFIXED with a prefix of it).
 *
 * The numeric codes are Kafka's wire codes (AclResourceType, PatternType, AclOperation,
 * AclPermissionType).
 */
import { KafkaError } from '../errors.ts';

export const ResourceType = { UNKNOWN: 0, ANY: 1, TOPIC: 2, GROUP: 3, CLUSTER: 4, TRANSACTIONAL_ID: 5, DELEGATION_TOKEN: 6, USER: 7 } as const;
export const PatternType = { UNKNOWN: 0, ANY: 1, MATCH: 2, LITERAL: 3, PREFIXED: 4 } as const;
export const AclOperation = {
  UNKNOWN: 0, ANY: 1, ALL: 2, READ: 3, WRITE: 4, CREATE: 5, DELETE: 6, ALTER: 7, DESCRIBE: 8, CLUSTER_ACTION: 9,
  DESCRIBE_CONFIGS: 10, ALTER_CONFIGS: 11, IDEMPOTENT_WRITE: 12, CREATE_TOKENS: 13, DESCRIBE_TOKENS: 14, TWO_PHASE_COMMIT: 15,
} as const;
export const Permission = { UNKNOWN: 0, ANY: 1, DENY: 2, ALLOW: 3 } as const;

export type ResourceTypeCode = (typeof ResourceType)[keyof typeof ResourceType];
export type OperationCode = (typeof AclOperation)[keyof typeof AclOperation];

const nameOf = (table: Readonly<Record<string, number>>, code: number) => Object.keys(table).find((k) => table[k] === code) ?? String(code);
/** READ, WRITE, ... (metrics, logs). */
export const aclOperationName = (code: number): string => nameOf(AclOperation, code);
/** TOPIC, GROUP, ... */
export const resourceTypeName = (code: number): string => nameOf(ResourceType, code);

/** The one cluster resource's name. */
export const CLUSTER_NAME = 'kafka-cluster';
/** LITERAL `*`: every resource of the type. */
export const WILDCARD = '*';
export const WILDCARD_PRINCIPAL = 'User:*';

export interface AclBinding {
  readonly resourceType: number;
  readonly resourceName: string;
  readonly patternType: number;
  /** `User:alice` */
  readonly principal: string;
  readonly host: string;
  readonly operation: number;
  readonly permission: number;
}

/** null name, principal or host: any. */
export interface AclBindingFilter {
  readonly resourceType: number;
  readonly resourceName: string | null;
  readonly patternType: number;
  readonly principal: string | null;
  readonly host: string | null;
  readonly operation: number;
  readonly permission: number;
}

export interface AuthorizerConfig {
  /** `super.users`: principals allowed everything. */
  readonly superUsers: ReadonlySet<string>;
  /** `allow.everyone.if.no.acl.found` */
  readonly allowIfNoAcl: boolean;
}

export interface Resource {
  readonly type: number;
  readonly name: string;
}

/** Operations an ALLOW of the key also allows. */
const implied = new Map<number, readonly number[]>([
  [AclOperation.DESCRIBE, [AclOperation.READ, AclOperation.WRITE, AclOperation.DELETE, AclOperation.ALTER]],
  [AclOperation.DESCRIBE_CONFIGS, [AclOperation.ALTER_CONFIGS]],
]);

function patternMatches(b: AclBinding, resource: Resource): boolean {
  if (b.resourceType !== resource.type) return false;
  if (b.patternType === PatternType.LITERAL) return b.resourceName === resource.name || b.resourceName === WILDCARD;
  if (b.patternType === PatternType.PREFIXED) return resource.name.startsWith(b.resourceName);
  return false;
}

export function authorize(
  acls: readonly AclBinding[], config: AuthorizerConfig, principal: string, host: string, operation: number, resource: Resource,
): boolean {
  if (config.superUsers.has(principal)) return true;
  const onResource = acls.filter((b) => patternMatches(b, resource));
  if (onResource.length === 0) return config.allowIfNoAcl;
  const mine = onResource.filter((b) => (b.principal === principal || b.principal === WILDCARD_PRINCIPAL) && (b.host === host || b.host === WILDCARD));
  if (mine.some((b) => b.permission === Permission.DENY && (b.operation === operation || b.operation === AclOperation.ALL))) return false;
  const allowing = [operation, AclOperation.ALL, ...(implied.get(operation) ?? [])];
  return mine.some((b) => b.permission === Permission.ALLOW && allowing.includes(b.operation));
}

/**
 * Whether the principal may do `operation` on some resource of a type (Kafka's
 * authorizeByResourceType, used for an idempotent producer's "WRITE on any topic"): a super user,
 * or an ALLOW for it (or ALL) on some pattern of the type not denied for every resource by a
 * DENY on the LITERAL wildcard; or, with allow.everyone.if.no.acl.found, no binding of the type at all.
 */
export function authorizeAny(
  acls: readonly AclBinding[], config: AuthorizerConfig, principal: string, host: string, operation: number, resourceType: number,
): boolean {
  if (config.superUsers.has(principal)) return true;
  const ofType = acls.filter((b) => b.resourceType === resourceType);
  if (ofType.length === 0) return config.allowIfNoAcl;
  const mine = ofType.filter((b) => (b.principal === principal || b.principal === WILDCARD_PRINCIPAL) && (b.host === host || b.host === WILDCARD)
    && (b.operation === operation || b.operation === AclOperation.ALL));
  const deniedEverywhere = mine.some((b) => b.permission === Permission.DENY && b.patternType === PatternType.LITERAL && b.resourceName === WILDCARD);
  return !deniedEverywhere && mine.some((b) => b.permission === Permission.ALLOW);
}

export function filterMatches(f: AclBindingFilter, b: AclBinding): boolean {
  if (f.resourceType !== ResourceType.ANY && f.resourceType !== b.resourceType) return false;
  if (f.operation !== AclOperation.ANY && f.operation !== b.operation) return false;
  if (f.permission !== Permission.ANY && f.permission !== b.permission) return false;
  if (f.principal !== null && f.principal !== b.principal) return false;
  if (f.host !== null && f.host !== b.host) return false;
  if (f.patternType === PatternType.MATCH) {
    if (f.resourceName === null) return true;
    return (b.patternType === PatternType.LITERAL && (b.resourceName === f.resourceName || b.resourceName === WILDCARD))
      || (b.patternType === PatternType.PREFIXED && f.resourceName.startsWith(b.resourceName));
  }
  if (f.patternType !== PatternType.ANY && f.patternType !== b.patternType) return false;
  return f.resourceName === null || f.resourceName === b.resourceName;
}

/** Whether a filter is well formed (Kafka refuses UNKNOWN codes in filters with INVALID_REQUEST). */
export function validateFilter(f: AclBindingFilter): void {
  if (f.resourceType === ResourceType.UNKNOWN || f.patternType === PatternType.UNKNOWN || f.operation === AclOperation.UNKNOWN || f.permission === Permission.UNKNOWN) {
    throw new KafkaError('INVALID_REQUEST', 'The ACL filter contains an UNKNOWN element.');
  }
  if (!known(ResourceType, f.resourceType) || !known(PatternType, f.patternType) || !known(AclOperation, f.operation) || !known(Permission, f.permission)) {
    throw new KafkaError('INVALID_REQUEST', 'The ACL filter contains an unknown code.');
  }
}

/** A binding CreateAcls may store, or the error Kafka answers for it. */
export function validateBinding(b: AclBinding): void {
  const bad = (why: string) => new KafkaError('INVALID_REQUEST', `Invalid ACL creation: ${why}`);
  if (!known(ResourceType, b.resourceType) || b.resourceType === ResourceType.ANY || b.resourceType === ResourceType.UNKNOWN) throw bad('the resource type must be a specific type.');
  if (b.patternType !== PatternType.LITERAL && b.patternType !== PatternType.PREFIXED) throw bad('the pattern type must be LITERAL or PREFIXED.');
  if (!known(AclOperation, b.operation) || b.operation === AclOperation.ANY || b.operation === AclOperation.UNKNOWN) throw bad('the operation must be a specific operation.');
  if (b.permission !== Permission.ALLOW && b.permission !== Permission.DENY) throw bad('the permission type must be ALLOW or DENY.');
  if (b.resourceName === '') throw bad('the resource name must not be empty.');
  if (b.resourceType === ResourceType.CLUSTER && (b.patternType !== PatternType.LITERAL || b.resourceName !== CLUSTER_NAME)) {
    throw bad(`the cluster resource is LITERAL ${CLUSTER_NAME}.`);
  }
  if (b.patternType === PatternType.PREFIXED && b.resourceName === WILDCARD) throw bad('a PREFIXED pattern cannot be the wildcard.');
  const colon = b.principal.indexOf(':');
  if (colon <= 0 || colon === b.principal.length - 1) throw bad(`could not parse principal from \`${b.principal}\` (no colon is present separating the principal type from the principal name)`);
  if (b.host === '') throw bad('the host must not be empty (use * for any host).');
}

/** Bindings are values: equal fields, one binding. */
export function sameBinding(a: AclBinding, b: AclBinding): boolean {
  return a.resourceType === b.resourceType && a.resourceName === b.resourceName && a.patternType === b.patternType
    && a.principal === b.principal && a.host === b.host && a.operation === b.operation && a.permission === b.permission;
}

/** `super.users` as Kafka writes it: principals separated by `;`. */
export function parseSuperUsers(value: string | null | undefined): Set<string> {
  return new Set((value ?? '').split(';').map((s) => s.trim()).filter((s) => s !== ''));
}

function known(table: Readonly<Record<string, number>>, code: number): boolean {
  return Object.values(table).includes(code);
}
