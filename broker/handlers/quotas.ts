/**
 * Client quotas (KIP-546): DescribeClientQuotas (48) and AlterClientQuotas (49), so that
 * `kafka-configs --entity-type users|clients|ips` works. Quotas are validated as Kafka validates
 * them and stored in the metadata store beside the dynamic broker configs (entity
 * `client-quota:<entity>`, which every broker watches), described back with Kafka's filters.
 *
 * Brook does not enforce them yet: no request is throttled (README, "Client quotas").
 */
import { ErrorCode, KafkaError } from '../errors.ts';
import { AclOperation, clusterAllowed } from './authz.ts';
import type { ApiHandler, BrokerServices } from './index.ts';

type Entity = Array<{ entityType: string; entityName: string | null }>;

const ENTITY_TYPES = ['user', 'client-id', 'ip'] as const;
/** Kafka's QuotaConfig keys by entity kind, and whether the value must be integral. */
const CLIENT_KEYS: Record<string, 'long' | 'double'> = {
  producer_byte_rate: 'long', consumer_byte_rate: 'long', request_percentage: 'double', controller_mutation_rate: 'double',
};
const IP_KEYS: Record<string, 'int'> = { connection_creation_rate: 'int' };

const MATCH_EXACT = 0;
const MATCH_DEFAULT = 1;
const MATCH_SPECIFIED = 2;
const STORE_PREFIX = 'client-quota:';

/** The store key of an entity: its components sorted by type. */
function storeKey(entity: Entity): string {
  return STORE_PREFIX + JSON.stringify([...entity].sort((a, b) => (a.entityType < b.entityType ? -1 : 1)).map((e) => [e.entityType, e.entityName]));
}

function entityOf(key: string): Entity {
  return (JSON.parse(key.slice(STORE_PREFIX.length)) as Array<[string, string | null]>).map(([entityType, entityName]) => ({ entityType, entityName }));
}

function validateEntity(entity: Entity): void {
  if (entity.length === 0) throw new KafkaError('INVALID_REQUEST', 'Invalid empty client quota entity');
  const types = new Set<string>();
  for (const e of entity) {
    if (!(ENTITY_TYPES as readonly string[]).includes(e.entityType)) throw new KafkaError('INVALID_REQUEST', `Unhandled client quota entity type: ${e.entityType}`);
    if (types.has(e.entityType)) throw new KafkaError('INVALID_REQUEST', `Duplicate ${e.entityType} entity in the client quota entity`);
    if (e.entityName === '') throw new KafkaError('INVALID_REQUEST', `Empty ${e.entityType} name in the client quota entity`);
    types.add(e.entityType);
  }
  if (types.has('ip') && types.size > 1) {
    throw new KafkaError('INVALID_REQUEST', 'Invalid quota entity combination, IP quota entities cannot be combined with any other entity types.');
  }
  const ip = entity.find((e) => e.entityType === 'ip');
  if (ip?.entityName && !/^[0-9.]+$|^[0-9a-fA-F:]+$/.test(ip.entityName)) {
    throw new KafkaError('INVALID_REQUEST', `${ip.entityName} is not a valid IP or resolvable host.`);
  }
}

function validateValue(entity: Entity, key: string, value: number): void {
  const keys: Record<string, string> = entity.some((e) => e.entityType === 'ip') ? IP_KEYS : CLIENT_KEYS;
  const type = keys[key];
  if (!type) throw new KafkaError('INVALID_REQUEST', `Invalid configuration key ${key}`);
  if (!Number.isFinite(value)) throw new KafkaError('INVALID_REQUEST', `Invalid value ${value} for configuration key ${key}`);
  if (type !== 'double' && !Number.isInteger(value)) {
    throw new KafkaError('INVALID_REQUEST', `Configuration ${key} must be a ${type === 'int' ? 'Integer' : 'Long'} value`);
  }
}

/** The quotas stored, entity → key → value. */
function storedQuotas(broker: BrokerServices): Array<{ entity: Entity; values: Record<string, string> }> {
  return Object.entries(broker.dynamicBrokerConfigs()).filter(([k]) => k.startsWith(STORE_PREFIX))
    .map(([k, values]) => ({ entity: entityOf(k), values: { ...values } }));
}

export const describeClientQuotasHandler: ApiHandler<48> = {
  apiKey: 48,
  minVersion: 0,
  maxVersion: 1,
  handle(req, ctx) {
    const { broker } = ctx;
    const fail = (e: KafkaError) => ({ throttleTimeMs: 0, errorCode: e.errorCode, errorMessage: e.detail, entries: null });
    // DESCRIBE_CONFIGS on the cluster (Kafka's check)
    if (!clusterAllowed(ctx, AclOperation.DESCRIBE_CONFIGS)) return fail(new KafkaError('CLUSTER_AUTHORIZATION_FAILED', 'Cluster authorization failed.'));
    const types = new Set<string>();
    for (const c of req.components) {
      if (types.has(c.entityType)) return fail(new KafkaError('INVALID_REQUEST', `Duplicate ${c.entityType} filter component entity type`));
      types.add(c.entityType);
      if (c.matchType !== MATCH_EXACT && c.matchType !== MATCH_DEFAULT && c.matchType !== MATCH_SPECIFIED) {
        return fail(new KafkaError('INVALID_REQUEST', `Unknown match type ${c.matchType}`));
      }
      if (c.matchType === MATCH_EXACT && c.match === null) return fail(new KafkaError('INVALID_REQUEST', `Exact match on ${c.entityType} needs a name`));
    }
    if (types.has('ip') && types.size > 1) {
      return fail(new KafkaError('INVALID_REQUEST', 'Invalid entity filter component combination, IP filter component should not be used with user or clientId filter component.'));
    }
    const matches = (entity: Entity) => req.components.every((c) => {
      const e = entity.find((x) => x.entityType === c.entityType);
      if (!e) return false;
      if (c.matchType === MATCH_EXACT) return e.entityName === c.match;
      if (c.matchType === MATCH_DEFAULT) return e.entityName === null;
      return e.entityName !== null;
    }) && (!req.strict || entity.every((e) => types.has(e.entityType)));
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      entries: storedQuotas(broker).filter((q) => matches(q.entity)).map((q) => ({
        entity: q.entity,
        values: Object.entries(q.values).sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, value]) => ({ key, value: Number(value) })),
      })),
    };
  },
};

export const alterClientQuotasHandler: ApiHandler<49> = {
  apiKey: 49,
  minVersion: 0,
  maxVersion: 1,
  async handle(req, ctx) {
    const { broker } = ctx;
    const entries = [];
    // ALTER_CONFIGS on the cluster (Kafka's check)
    const denied = !clusterAllowed(ctx, AclOperation.ALTER_CONFIGS);
    for (const entry of req.entries) {
      try {
        if (denied) throw new KafkaError('CLUSTER_AUTHORIZATION_FAILED', 'Cluster authorization failed.');
        validateEntity(entry.entity);
        const key = storeKey(entry.entity);
        const next: Record<string, string> = { ...(broker.dynamicBrokerConfigs()[key] ?? {}) };
        for (const op of entry.ops) {
          if (op.remove) {
            if (!(op.key in (entry.entity.some((e) => e.entityType === 'ip') ? IP_KEYS : CLIENT_KEYS))) throw new KafkaError('INVALID_REQUEST', `Invalid configuration key ${op.key}`);
            delete next[op.key];
          } else {
            validateValue(entry.entity, op.key, op.value);
            next[op.key] = String(op.value);
          }
        }
        if (!req.validateOnly) await broker.store.setBrokerConfigs(key, next);
        entries.push({ errorCode: ErrorCode.NONE, errorMessage: null, entity: entry.entity });
      } catch (err) {
        const e = err instanceof KafkaError ? err : new KafkaError('UNKNOWN_SERVER_ERROR', (err as Error).message);
        entries.push({ errorCode: e.errorCode, errorMessage: e.detail, entity: entry.entity });
      }
    }
    return { throttleTimeMs: 0, entries };
  },
};
