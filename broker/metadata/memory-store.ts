/**
 * MemoryStore: the MetadataStore contract in one process. Versions are a store-wide counter, so
 * every write yields a version no other write had. Watchers are called synchronously after each
 * write, in write order. The file-backed store extends this one and persists after each write.
 */
import { randomUUID } from 'node:crypto';
import { KafkaError } from '../errors.ts';
import { StaleVersionError } from './types.ts';
import type { MetadataStore, PartitionState, TopicEvent, TopicRecord, TopicSpec } from './types.ts';

export interface MemoryStoreState {
  clusterId: string;
  nextProducerId: string;
  revision: number;
  topics: TopicRecord[];
}

export class MemoryStore implements MetadataStore {
  protected readonly topics = new Map<string, TopicRecord>();
  protected readonly listeners = new Set<(event: TopicEvent) => void>();
  protected revision = 0;
  protected nextProducerId = 0n;
  protected id: string;
  private closed = false;

  constructor(opts: { clusterId?: string } = {}) {
    this.id = opts.clusterId ?? randomClusterId();
  }

  async clusterId(): Promise<string> { return this.id; }

  async listTopics(): Promise<TopicRecord[]> { return [...this.topics.values()]; }

  async getTopic(name: string): Promise<TopicRecord | undefined> { return this.topics.get(name); }

  async createTopic(spec: TopicSpec, partitions: readonly PartitionState[]): Promise<TopicRecord> {
    this.checkOpen();
    if (this.topics.has(spec.name)) throw new KafkaError('TOPIC_ALREADY_EXISTS', `Topic '${spec.name}' already exists.`);
    const topic: TopicRecord = { spec, topicId: randomUUID(), partitions, version: this.nextVersion() };
    await this.commit(() => this.topics.set(spec.name, topic));
    this.emit({ type: 'put', topic });
    return topic;
  }

  async updateTopic(name: string, expectedVersion: string,
    update: { spec?: TopicSpec; partitions?: readonly PartitionState[] }): Promise<TopicRecord> {
    this.checkOpen();
    const current = this.topics.get(name);
    if (!current) throw new KafkaError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${name}' does not exist.`);
    if (current.version !== expectedVersion) throw new StaleVersionError(`topic ${name}`, expectedVersion, current.version);
    const topic: TopicRecord = {
      ...current,
      spec: update.spec ?? current.spec,
      partitions: update.partitions ?? current.partitions,
      version: this.nextVersion(),
    };
    await this.commit(() => this.topics.set(name, topic));
    this.emit({ type: 'put', topic });
    return topic;
  }

  async deleteTopic(name: string): Promise<void> {
    this.checkOpen();
    const topic = this.topics.get(name);
    if (!topic) throw new KafkaError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${name}' does not exist.`);
    this.nextVersion();
    await this.commit(() => this.topics.delete(name));
    this.emit({ type: 'deleted', topic });
  }

  watchTopics(listener: (event: TopicEvent) => void): () => void {
    for (const topic of this.topics.values()) listener({ type: 'put', topic });
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  async allocateProducerIds(count: number): Promise<bigint> {
    this.checkOpen();
    const first = this.nextProducerId;
    await this.commit(() => { this.nextProducerId = first + BigInt(count); });
    return first;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
  }

  /** Applies a mutation; subclasses make it durable. */
  protected async commit(apply: () => void): Promise<void> { apply(); }

  protected snapshot(): MemoryStoreState {
    return {
      clusterId: this.id,
      nextProducerId: this.nextProducerId.toString(),
      revision: this.revision,
      topics: [...this.topics.values()],
    };
  }

  protected restore(state: MemoryStoreState): void {
    this.id = state.clusterId;
    this.nextProducerId = BigInt(state.nextProducerId);
    this.revision = state.revision;
    this.topics.clear();
    for (const t of state.topics) this.topics.set(t.spec.name, t);
  }

  private nextVersion(): string { return String(++this.revision); }

  private emit(event: TopicEvent): void {
    for (const l of this.listeners) l(event);
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('BROOK_ERR_STORE_CLOSED: the metadata store is closed');
  }
}

/** A Kafka-style cluster id: 16 random bytes, URL-safe base64 without padding (22 chars). */
export function randomClusterId(): string {
  const hex = randomUUID().replaceAll('-', '');
  return Buffer.from(hex, 'hex').toString('base64url');
}
