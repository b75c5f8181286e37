/**
 * TopicAdmin: the topic lifecycle operations behind CreateTopics, DeleteTopics,
 * CreatePartitions, AlterConfigs and auto-creation. It validates, places replicas and writes the
 * metadata store; brokers learn the result through their store watch, like everyone else.
 * Writes are compare-and-swap and retried on a stale version.
 */
import { randomInt } from 'node:crypto';
import { KafkaError } from './errors.ts';
import { validateTopicConfigs } from './config.ts';
import type { BrokerSettings } from './config.ts';
import { topicLogConfig } from './log/index.ts';
import { StaleVersionError, placeReplicas, validateTopicName } from './metadata/index.ts';
import type { BrokerInfo, MetadataStore, PartitionState, TopicRecord, TopicSpec } from './metadata/index.ts';

export interface CreateTopicRequest {
  readonly name: string;
  /** -1: the broker's num.partitions. */
  readonly numPartitions: number;
  /** -1: the broker's default.replication.factor. */
  readonly replicationFactor: number;
  /** Explicit replica lists per partition, or empty. */
  readonly assignments: ReadonlyArray<{ partitionIndex: number; brokerIds: readonly number[] }>;
  readonly configs: Readonly<Record<string, string>>;
}

/** A validated creation: the topic's spec and its partitions' first state. */
export interface TopicPlan {
  readonly spec: TopicSpec;
  readonly partitions: PartitionState[];
}

const MAX_CAS_RETRIES = 10;
const MAX_PARTITIONS = 100_000;

export class TopicAdmin {
  private readonly store: MetadataStore;
  private readonly settings: BrokerSettings;
  private readonly liveBrokers: () => readonly BrokerInfo[];
  private readonly random: () => number;

  constructor(opts: { store: MetadataStore; settings: BrokerSettings; liveBrokers: () => readonly BrokerInfo[];
    random?: () => number }) {
    this.store = opts.store;
    this.settings = opts.settings;
    this.liveBrokers = opts.liveBrokers;
    this.random = opts.random ?? (() => randomInt(1 << 30) / (1 << 30));
  }

  /** Validates a creation and returns the spec and initial partition state, without writing. */
  plan(req: CreateTopicRequest): TopicPlan {
    validateTopicName(req.name);
    validateTopicConfigs(req.configs);
    topicLogConfig(this.settings, req.configs);
    let replicaLists: number[][];
    if (req.assignments.length > 0) {
      if (req.numPartitions !== -1 || req.replicationFactor !== -1) {
        throw new KafkaError('INVALID_REQUEST', 'Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.');
      }
      replicaLists = this.checkAssignments(req.assignments.map((a) => a.brokerIds), req.assignments.map((a) => a.partitionIndex), 0);
    } else {
      const partitions = req.numPartitions === -1 ? this.settings.int('num.partitions') : req.numPartitions;
      const rf = req.replicationFactor === -1 ? this.settings.int('default.replication.factor') : req.replicationFactor;
      if (partitions < 1) throw new KafkaError('INVALID_PARTITIONS', `Number of partitions must be larger than 0, got ${partitions}.`);
      if (partitions > MAX_PARTITIONS) throw new KafkaError('INVALID_PARTITIONS', `Number of partitions ${partitions} is more than ${MAX_PARTITIONS}.`);
      replicaLists = placeReplicas({ brokers: this.liveBrokers(), partitions, replicationFactor: rf, random: this.random });
    }
    const spec: TopicSpec = {
      name: req.name,
      partitions: replicaLists.length,
      replicationFactor: replicaLists[0]!.length,
      configs: { ...req.configs },
    };
    return { spec, partitions: replicaLists.map((replicas, i) => initialState(i, replicas)) };
  }

  /** Creates the topic `plan(req)` describes; pass the plan when the caller has made it already (CreateTopics answers with it). */
  async create(req: CreateTopicRequest, planned: TopicPlan = this.plan(req)): Promise<TopicRecord> {
    return this.store.createTopic(planned.spec, planned.partitions);
  }

  async delete(name: string): Promise<void> {
    if (!this.settings.bool('delete.topic.enable')) throw new KafkaError('TOPIC_DELETION_DISABLED', 'Topic deletion is disabled (delete.topic.enable=false).');
    await this.store.deleteTopic(name);
  }

  /** CreatePartitions: grows `name` to `count` partitions. */
  async createPartitions(name: string, count: number, assignments: ReadonlyArray<readonly number[]> | null,
    validateOnly: boolean): Promise<void> {
    await this.casTopic(name, (topic) => {
      const current = topic.partitions.length;
      if (count < current) throw new KafkaError('INVALID_PARTITIONS', `Topic currently has ${current} partitions, which is higher than the requested ${count}.`);
      if (count === current) throw new KafkaError('INVALID_PARTITIONS', `Topic already has ${current} partitions.`);
      if (count > MAX_PARTITIONS) throw new KafkaError('INVALID_PARTITIONS', `Number of partitions ${count} is more than ${MAX_PARTITIONS}.`);
      const added = count - current;
      let lists: number[][];
      if (assignments && assignments.length > 0) {
        if (assignments.length !== added) {
          throw new KafkaError('INVALID_REPLICA_ASSIGNMENT', `Increasing the number of partitions by ${added} but ${assignments.length} assignments provided.`);
        }
        lists = this.checkAssignments(assignments, assignments.map((_, i) => current + i), current, topic.spec.replicationFactor);
      } else {
        lists = placeReplicas({ brokers: this.liveBrokers(), partitions: added, replicationFactor: topic.spec.replicationFactor,
          firstPartition: current, random: this.random });
      }
      if (validateOnly) return null;
      return {
        spec: { ...topic.spec, partitions: count },
        partitions: [...topic.partitions, ...lists.map((replicas, i) => initialState(current + i, replicas))],
      };
    });
  }

  /** Replaces (AlterConfigs) or edits (IncrementalAlterConfigs) a topic's config overrides. */
  async alterConfigs(name: string, edit: (current: Readonly<Record<string, string>>) => Record<string, string>,
    validateOnly: boolean): Promise<void> {
    await this.casTopic(name, (topic) => {
      const configs = edit(topic.spec.configs);
      validateTopicConfigs(configs);
      topicLogConfig(this.settings, configs);
      return validateOnly ? null : { spec: { ...topic.spec, configs } };
    });
  }

  private async casTopic(name: string,
    change: (topic: TopicRecord) => { spec?: TopicSpec; partitions?: PartitionState[] } | null): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const topic = await this.store.getTopic(name);
      if (!topic) throw new KafkaError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${name}' does not exist.`);
      const update = change(topic);
      if (!update) return;
      try {
        await this.store.updateTopic(name, topic.version, update);
        return;
      } catch (err) {
        if (!(err instanceof StaleVersionError) || attempt >= MAX_CAS_RETRIES) throw err;
      }
    }
  }

  private checkAssignments(lists: ReadonlyArray<readonly number[]>, indexes: readonly number[], first: number,
    expectedRf?: number): number[][] {
    const live = new Set(this.liveBrokers().map((b) => b.id));
    const rf = expectedRf ?? lists[0]?.length ?? 0;
    indexes.forEach((p, i) => {
      if (p !== first + i) throw new KafkaError('INVALID_REPLICA_ASSIGNMENT', `Partitions must be numbered consecutively from ${first}; got ${p}.`);
    });
    return lists.map((replicas, i) => {
      if (replicas.length === 0 || replicas.length !== rf) {
        throw new KafkaError('INVALID_REPLICA_ASSIGNMENT', `Partition ${indexes[i]} has ${replicas.length} replicas; every partition needs ${rf}.`);
      }
      if (new Set(replicas).size !== replicas.length) throw new KafkaError('INVALID_REPLICA_ASSIGNMENT', `Partition ${indexes[i]} lists a broker twice.`);
      for (const b of replicas) if (!live.has(b)) throw new KafkaError('INVALID_REPLICA_ASSIGNMENT', `Broker ${b} in the assignment of partition ${indexes[i]} is not alive.`);
      return [...replicas];
    });
  }
}

function initialState(partition: number, replicas: readonly number[]): PartitionState {
  return { partition, replicas, leader: replicas[0]!, isr: replicas, leaderEpoch: 0, partitionEpoch: 0 };
}
