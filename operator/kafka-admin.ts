/**
 * The operator as a Kafka admin client of one Cluster: the few requests its rebalancer sends
 * (AlterPartitionReassignments to start moves, DescribeLogDirs for partition sizes,
 * IncrementalAlterConfigs for the replication throttles), over Brook's own connection and the
 * protocol codec. Brokers are reached at the addresses they registered in their Leases (the
 * inter-broker listener: pod DNS names inside the cluster), which the operator already watches.
 *
 * The User reconciler's requests (SecurityAdmin): AlterUserScramCredentials with a salted
 * password (as kafka-configs sends it: the password never leaves the operator), and
 * DescribeAcls/CreateAcls/DeleteAcls. On a Cluster with authentication the connection
 * authenticates on the replication listener with the operator's own credential (`security`).
 *
 * `ClusterAdmin` is the seam: the rebalancer sees only it. A request that fails as a whole
 * (connection refused, timeout) throws KafkaAdminError BROOK_ERR_ADMIN_REQUEST; per-partition
 * answers carry their Kafka error code and message back to the caller.
 */
import { randomBytes } from 'node:crypto';
import { ApiKey, KafkaConnection } from '../broker/client/index.ts';
import type { AclBinding } from '../broker/security/acls.ts';
import type { ClientSecurity } from '../broker/security/listener-security.ts';
import { MIN_ITERATIONS, saltedPassword, scramMechanismIds } from '../broker/security/scram.ts';

export interface BrokerAddress { readonly id: number; readonly host: string; readonly port: number }

export interface ReassignmentAnswer { readonly topic: string; readonly partition: number; readonly errorCode: number; readonly errorMessage: string | null }

export interface ClusterAdmin {
  /** Starts (or, with null replicas, cancels) reassignments; answers per partition. */
  alterPartitionReassignments(moves: ReadonlyArray<{ topic: string; partition: number; replicas: number[] | null }>): Promise<ReassignmentAnswer[]>;
  /** Size in bytes of each partition's largest replica, keyed `topic/partition` (brokers that do not answer are left out). */
  partitionSizes(): Promise<Map<string, bigint>>;
  /** Sets (a number) or clears (null) leader/follower.replication.throttled.rate on the cluster default. */
  setReplicationThrottle(bytesPerSecond: number | null): Promise<void>;
  /** Sets or clears leader/follower.replication.throttled.replicas (`*`) on these topics. */
  setThrottledReplicas(topics: readonly string[], on: boolean): Promise<void>;
  close(): void;
}

/** What the User reconciler asks of a cluster's brokers. */
export interface SecurityAdmin {
  /** Sets the SCRAM-SHA-512 credential of `user` (salted here; the password is not sent). */
  upsertScramCredential(user: string, password: string): Promise<void>;
  /** Removes the SCRAM-SHA-512 credential of `user` (none is not an error). */
  deleteScramCredential(user: string): Promise<void>;
  /** Every ACL binding of `principal`. */
  describeAcls(principal: string): Promise<AclBinding[]>;
  createAcls(bindings: readonly AclBinding[]): Promise<void>;
  /** Deletes exactly these bindings. */
  deleteAcls(bindings: readonly AclBinding[]): Promise<void>;
  /**
   * Brokers whose own view (DescribeUserScramCredentials and DescribeAcls answered by each broker)
   * does not yet show `user`'s SCRAM credential (when `scram`) and exactly `acls` for `principal`:
   * the store is shared, but each broker loads changes on its own schedule.
   */
  brokersNotYetShowing(user: string, scram: boolean, principal: string, acls: readonly AclBinding[]): Promise<number[]>;
  close(): void;
}

export type KafkaAdminErrorCode = 'BROOK_ERR_ADMIN_REQUEST' | 'BROOK_ERR_ADMIN_NO_BROKER';

export class KafkaAdminError extends Error {
  readonly code: KafkaAdminErrorCode;
  constructor(code: KafkaAdminErrorCode, message: string) {
    super(message);
    this.name = 'KafkaAdminError';
    this.code = code;
  }
}

/** IncrementalAlterConfigs resource types and operations (Kafka's ConfigResource.Type, AlterConfigOp.OpType). */
const resourceType = { TOPIC: 2, BROKER: 4 } as const;
const op = { SET: 0, DELETE: 1 } as const;

/** Kafka's RESOURCE_NOT_FOUND: deleting a SCRAM credential that does not exist. */
const RESOURCE_NOT_FOUND = 91;

export class KafkaClusterAdmin implements ClusterAdmin, SecurityAdmin {
  private readonly brokers: readonly BrokerAddress[];
  private readonly connections = new Map<number, KafkaConnection>();
  private readonly requestTimeoutMs: number;
  private readonly security: ClientSecurity | undefined;

  constructor(opts: { brokers: readonly BrokerAddress[]; requestTimeoutMs?: number; security?: ClientSecurity }) {
    if (opts.brokers.length === 0) throw new KafkaAdminError('BROOK_ERR_ADMIN_NO_BROKER', 'no live broker to send admin requests to');
    this.brokers = [...opts.brokers].sort((a, b) => a.id - b.id);
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 15_000;
    this.security = opts.security;
  }

  private connection(b: BrokerAddress): KafkaConnection {
    let c = this.connections.get(b.id);
    if (!c) {
      c = new KafkaConnection({ host: b.host, port: b.port, clientId: 'brook-operator', requestTimeoutMs: this.requestTimeoutMs, security: this.security });
      this.connections.set(b.id, c);
    }
    return c;
  }

  /** Sends to the first broker that answers (any broker takes these requests). */
  private async toAny(apiKey: number, version: number, body: unknown): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const failures: string[] = [];
    for (const b of this.brokers) {
      try {
        return await this.connection(b).send(apiKey, version, body);
      } catch (err) {
        failures.push(`broker ${b.id} (${b.host}:${b.port}): ${(err as Error).message}`);
        this.connections.get(b.id)?.close();
        this.connections.delete(b.id);
      }
    }
    throw new KafkaAdminError('BROOK_ERR_ADMIN_REQUEST', `no broker answered API ${apiKey}: ${failures.join('; ')}`);
  }

  async alterPartitionReassignments(moves: ReadonlyArray<{ topic: string; partition: number; replicas: number[] | null }>): Promise<ReassignmentAnswer[]> {
    const byTopic = new Map<string, Array<{ partitionIndex: number; replicas: number[] | null }>>();
    for (const m of moves) {
      const list = byTopic.get(m.topic) ?? [];
      list.push({ partitionIndex: m.partition, replicas: m.replicas });
      byTopic.set(m.topic, list);
    }
    const res = await this.toAny(ApiKey.AlterPartitionReassignments, 0, {
      timeoutMs: this.requestTimeoutMs,
      topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
    });
    if (res.errorCode !== 0) {
      return moves.map((m) => ({ topic: m.topic, partition: m.partition, errorCode: res.errorCode, errorMessage: res.errorMessage }));
    }
    const out: ReassignmentAnswer[] = [];
    for (const t of res.responses) {
      for (const p of t.partitions) out.push({ topic: t.name, partition: p.partitionIndex, errorCode: p.errorCode, errorMessage: p.errorMessage });
    }
    return out;
  }

  async partitionSizes(): Promise<Map<string, bigint>> {
    const sizes = new Map<string, bigint>();
    await Promise.all(this.brokers.map(async (b) => {
      let res;
      try {
        res = await this.connection(b).send(ApiKey.DescribeLogDirs, 1, { topics: null });
      } catch {
        return; // sizes are an estimate: a broker that does not answer leaves its replicas out
      }
      for (const dir of res.results) {
        if (dir.errorCode !== 0) continue;
        for (const t of dir.topics) {
          for (const p of t.partitions) {
            const key = `${t.name}/${p.partitionIndex}`;
            const size = BigInt(p.partitionSize);
            if (size > (sizes.get(key) ?? -1n)) sizes.set(key, size);
          }
        }
      }
    }));
    return sizes;
  }

  async setReplicationThrottle(bytesPerSecond: number | null): Promise<void> {
    const configs = ['leader.replication.throttled.rate', 'follower.replication.throttled.rate'].map((name) => (
      bytesPerSecond === null ? { name, configOperation: op.DELETE, value: null } : { name, configOperation: op.SET, value: String(bytesPerSecond) }));
    await this.alterConfigs([{ resourceType: resourceType.BROKER, resourceName: '', configs }]);
  }

  async setThrottledReplicas(topics: readonly string[], on: boolean): Promise<void> {
    if (topics.length === 0) return;
    const configs = ['leader.replication.throttled.replicas', 'follower.replication.throttled.replicas'].map((name) => (
      on ? { name, configOperation: op.SET, value: '*' } : { name, configOperation: op.DELETE, value: null }));
    await this.alterConfigs(topics.map((t) => ({ resourceType: resourceType.TOPIC, resourceName: t, configs })));
  }

  private async alterConfigs(resources: Array<{ resourceType: number; resourceName: string; configs: Array<{ name: string; configOperation: number; value: string | null }> }>): Promise<void> {
    const res = await this.toAny(ApiKey.IncrementalAlterConfigs, 0, { resources, validateOnly: false });
    const failed = (res.responses as Array<{ errorCode: number; errorMessage: string | null; resourceName: string }>).filter((r) => r.errorCode !== 0);
    if (failed.length) {
      throw new KafkaAdminError('BROOK_ERR_ADMIN_REQUEST', `IncrementalAlterConfigs failed: ${failed.map((f) => `${f.resourceName || '<default>'}: ${f.errorMessage ?? `error ${f.errorCode}`}`).join('; ')}`);
    }
  }

  async upsertScramCredential(user: string, password: string): Promise<void> {
    const salt = randomBytes(32);
    const mechanism = scramMechanismIds['SCRAM-SHA-512'];
    await this.alterScram({ deletions: [], upsertions: [{ name: user, mechanism, iterations: MIN_ITERATIONS, salt, saltedPassword: saltedPassword('SCRAM-SHA-512', password, salt, MIN_ITERATIONS) }] });
  }

  async deleteScramCredential(user: string): Promise<void> {
    await this.alterScram({ deletions: [{ name: user, mechanism: scramMechanismIds['SCRAM-SHA-512'] }], upsertions: [] });
  }

  private async alterScram(body: { deletions: unknown[]; upsertions: unknown[] }): Promise<void> {
    const res = await this.toAny(ApiKey.AlterUserScramCredentials, 0, body);
    const failed = (res.results as Array<{ user: string; errorCode: number; errorMessage: string | null }>).filter((r) => r.errorCode !== 0 && r.errorCode !== RESOURCE_NOT_FOUND);
    if (failed.length) throw new KafkaAdminError('BROOK_ERR_ADMIN_REQUEST', `AlterUserScramCredentials failed: ${failed.map((f) => `${f.user}: ${f.errorMessage ?? `error ${f.errorCode}`}`).join('; ')}`);
  }

  async describeAcls(principal: string): Promise<AclBinding[]> {
    // ANY resource type, pattern, operation and permission (1); this principal, any host.
    const res = await this.toAny(ApiKey.DescribeAcls, 3, { resourceTypeFilter: 1, resourceNameFilter: null, patternTypeFilter: 1, principalFilter: principal, hostFilter: null, operation: 1, permissionType: 1 });
    if (res.errorCode !== 0) throw new KafkaAdminError('BROOK_ERR_ADMIN_REQUEST', `DescribeAcls failed: ${res.errorMessage ?? `error ${res.errorCode}`}`);
    const out: AclBinding[] = [];
    for (const r of res.resources as Array<{ resourceType: number; resourceName: string; patternType: number; acls: Array<{ principal: string; host: string; operation: number; permissionType: number }> }>) {
      for (const a of r.acls) out.push({ resourceType: r.resourceType, resourceName: r.resourceName, patternType: r.patternType, principal: a.principal, host: a.host, operation: a.operation, permission: a.permissionType });
    }
    return out;
  }

  async brokersNotYetShowing(user: string, scram: boolean, principal: string, acls: readonly AclBinding[]): Promise<number[]> {
    const key = (b: AclBinding) => JSON.stringify([b.resourceType, b.resourceName, b.patternType, b.principal, b.host, b.operation, b.permission]);
    const want = acls.map(key).sort().join('\n');
    const lagging: number[] = [];
    await Promise.all(this.brokers.map(async (b) => {
      try {
        const c = this.connection(b);
        if (scram) {
          const r = await c.send(ApiKey.DescribeUserScramCredentials, 0, { users: [{ name: user }] });
          if (r.errorCode !== 0 || r.results[0]?.errorCode !== 0) { lagging.push(b.id); return; }
        }
        const res = await c.send(ApiKey.DescribeAcls, 3, { resourceTypeFilter: 1, resourceNameFilter: null, patternTypeFilter: 1, principalFilter: principal, hostFilter: null, operation: 1, permissionType: 1 });
        const have = (res.resources as Array<{ resourceType: number; resourceName: string; patternType: number; acls: Array<{ principal: string; host: string; operation: number; permissionType: number }> }>)
          .flatMap((r) => r.acls.map((a) => key({ resourceType: r.resourceType, resourceName: r.resourceName, patternType: r.patternType, principal: a.principal, host: a.host, operation: a.operation, permission: a.permissionType })));
        if (res.errorCode !== 0 || have.sort().join('\n') !== want) lagging.push(b.id);
      } catch {
        this.connections.get(b.id)?.close();
        this.connections.delete(b.id);
        lagging.push(b.id);
      }
    }));
    return lagging.sort((a, b) => a - b);
  }

  async createAcls(bindings: readonly AclBinding[]): Promise<void> {
    if (bindings.length === 0) return;
    const res = await this.toAny(ApiKey.CreateAcls, 3, {
      creations: bindings.map((b) => ({ resourceType: b.resourceType, resourceName: b.resourceName, resourcePatternType: b.patternType, principal: b.principal, host: b.host, operation: b.operation, permissionType: b.permission })),
    });
    const failed = (res.results as Array<{ errorCode: number; errorMessage: string | null }>).filter((r) => r.errorCode !== 0);
    if (failed.length) throw new KafkaAdminError('BROOK_ERR_ADMIN_REQUEST', `CreateAcls failed: ${failed.map((f) => f.errorMessage ?? `error ${f.errorCode}`).join('; ')}`);
  }

  async deleteAcls(bindings: readonly AclBinding[]): Promise<void> {
    if (bindings.length === 0) return;
    const res = await this.toAny(ApiKey.DeleteAcls, 3, {
      filters: bindings.map((b) => ({ resourceTypeFilter: b.resourceType, resourceNameFilter: b.resourceName, patternTypeFilter: b.patternType, principalFilter: b.principal, hostFilter: b.host, operation: b.operation, permissionType: b.permission })),
    });
    const failed = (res.filterResults as Array<{ errorCode: number; errorMessage: string | null }>).filter((r) => r.errorCode !== 0);
    if (failed.length) throw new KafkaAdminError('BROOK_ERR_ADMIN_REQUEST', `DeleteAcls failed: ${failed.map((f) => f.errorMessage ?? `error ${f.errorCode}`).join('; ')}`);
  }

  close(): void {
    for (const c of this.connections.values()) c.close();
    this.connections.clear();
  }
}
