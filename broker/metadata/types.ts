/**
 * The cluster metadata the brokers share, and the `MetadataStore` contract every backend keeps
 * (memory, file, and later Kubernetes). Topics are the unit: a topic's `spec` is what a user or
 * a CreateTopics request asked for; its `partitions` are live partition state, written by the
 * controller. Writes are compare-and-swap on `version`, so concurrent writers never overwrite
 * each other silently: the loser gets a `StaleVersionError` and retries on fresh state.
 */

export interface TopicSpec {
  /** The Kafka topic name. */
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  /** Topic-level overrides, Kafka names (`retention.ms`...), values as strings. */
  readonly configs: Readonly<Record<string, string>>;
}

export interface PartitionState {
  readonly partition: number;
  readonly replicas: readonly number[];
  /** -1 when no replica can lead. */
  readonly leader: number;
  readonly isr: readonly number[];
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
}

export interface TopicRecord {
  readonly spec: TopicSpec;
  /** UUID in canonical text form; a new one each time a topic of this name is created. */
  readonly topicId: string;
  readonly partitions: readonly PartitionState[];
  /** Opaque; changes on every write (resourceVersion in Kubernetes). */
  readonly version: string;
}

export type TopicEvent =
  | { readonly type: 'put'; readonly topic: TopicRecord }
  | { readonly type: 'deleted'; readonly topic: TopicRecord };

export interface MetadataStore {
  /** The stable id of the cluster this store describes. */
  clusterId(): Promise<string>;
  listTopics(): Promise<TopicRecord[]>;
  getTopic(name: string): Promise<TopicRecord | undefined>;
  /** Fails with TOPIC_ALREADY_EXISTS if the name is taken. */
  createTopic(spec: TopicSpec, partitions: readonly PartitionState[]): Promise<TopicRecord>;
  /** Compare-and-swap: fails with StaleVersionError when `expectedVersion` is not current. */
  updateTopic(name: string, expectedVersion: string,
    update: { spec?: TopicSpec; partitions?: readonly PartitionState[] }): Promise<TopicRecord>;
  /** Fails with UNKNOWN_TOPIC_OR_PARTITION if there is no such topic. */
  deleteTopic(name: string): Promise<void>;
  /**
   * Calls `listener` with a `put` for every existing topic, then with every change, in order.
   * Returns a function that stops the watch.
   */
  watchTopics(listener: (event: TopicEvent) => void): () => void;
  /** Reserves `count` producer ids and returns the first; never hands out an id twice. */
  allocateProducerIds(count: number): Promise<bigint>;
  close(): Promise<void>;
}

export class StaleVersionError extends Error {
  readonly code = 'BROOK_ERR_STALE_VERSION';
  constructor(what: string, expected: string, actual: string) {
    super(`${what}: expected version ${expected}, store has ${actual}`);
    this.name = 'StaleVersionError';
  }
}
