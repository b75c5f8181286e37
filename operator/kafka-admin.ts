/**
 * The operator as a Kafka admin client of one Cluster: the few requests its rebalancer sends
 * (AlterPartitionReassignments to start moves, DescribeLogDirs for partition sizes,
 * IncrementalAlterConfigs for the replication throttles), over Brook's own connection and the
 * protocol codec. Brokers are reached at the addresses they registered in their Leases (the
 * inter-broker listener: pod DNS names inside the cluster), which the operator already watches.
 *
 * `ClusterAdmin` is the seam: the rebalancer sees only it. A request that fails as a whole
 * (connection refused, timeout) throws KafkaAdminError BROOK_ERR_ADMIN_REQUEST; per-partition
 * answers carry their Kafka error code and message back to the caller.
 */
import { ApiKey, KafkaConnection } from '../broker/client/index.ts';

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

export class KafkaClusterAdmin implements ClusterAdmin {
  private readonly brokers: readonly BrokerAddress[];
  private readonly connections = new Map<number, KafkaConnection>();
  private readonly requestTimeoutMs: number;

  constructor(opts: { brokers: readonly BrokerAddress[]; requestTimeoutMs?: number }) {
    if (opts.brokers.length === 0) throw new KafkaAdminError('BROOK_ERR_ADMIN_NO_BROKER', 'no live broker to send admin requests to');
    this.brokers = [...opts.brokers].sort((a, b) => a.id - b.id);
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 15_000;
  }

  private connection(b: BrokerAddress): KafkaConnection {
    let c = this.connections.get(b.id);
    if (!c) {
      c = new KafkaConnection({ host: b.host, port: b.port, clientId: 'brook-operator', requestTimeoutMs: this.requestTimeoutMs });
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

  close(): void {
    for (const c of this.connections.values()) c.close();
    this.connections.clear();
  }
}
