/**
 * MemoryStore: the MetadataStore contract in one process. Versions are a store-wide counter, so
 * every write yields a version no other write had. Watchers are called synchronously after each
 * write, in write order. The file-backed store extends this one and persists after each write.
 */
import { randomUUID } from 'node:crypto';
import { KafkaError } from '../errors.ts';
import { ControllerFencedError, MetadataError, MetadataErrorCode, StaleVersionError } from './errors.ts';
import type {
  BrokerRegistration, ControllerLease, DynamicBrokerConfigs, MetadataStore, PartitionState, TopicEvent, TopicRecord, TopicSpec, TopicUpdate,
  ScramCredentialChange, ScramCredentials, AclBinding, AclChange,
} from './types.ts';
import { applyScramChanges } from './scram-credentials.ts';

export interface MemoryStoreState {
  clusterId: string;
  nextProducerId: string;
  revision: number;
  topics: TopicRecord[];
  /** (absent in files written before dynamic broker configs existed) */
  brokerConfigs?: DynamicBrokerConfigs;
  /** Salted SCRAM credentials (absent in files written before SASL existed). */
  scramCredentials?: ScramCredentials;
  /** ACL bindings (absent in files written before the authorizer existed). */
  acls?: readonly AclBinding[];
}

export class MemoryStore implements MetadataStore {
  protected readonly topics = new Map<string, TopicRecord>();
  protected readonly listeners = new Set<(event: TopicEvent) => void>();
  protected revision = 0;
  protected nextProducerId = 0n;
  protected id: string;
  private closed = false;
  private readonly clock: () => number;
  private readonly brokers = new Map<number, { reg: BrokerRegistration; timer: NodeJS.Timeout }>();
  private readonly brokerListeners = new Set<(brokers: readonly BrokerRegistration[]) => void>();
  private controller: { lease: ControllerLease; expiresAt: number; timer: NodeJS.Timeout } | null = null;
  private controllerEpoch = 0;
  private readonly controllerListeners = new Set<(lease: ControllerLease | null) => void>();
  protected brokerConfigs: DynamicBrokerConfigs = {};
  private readonly brokerConfigListeners = new Set<(configs: DynamicBrokerConfigs) => void>();
  protected scram: ScramCredentials = {};
  private readonly scramListeners = new Set<(credentials: ScramCredentials) => void>();
  protected acls: readonly AclBinding[] = [];
  private readonly aclListeners = new Set<(acls: readonly AclBinding[]) => void>();

  constructor(opts: { clusterId?: string; clock?: () => number } = {}) {
    this.id = opts.clusterId ?? randomClusterId();
    this.clock = opts.clock ?? Date.now;
  }

  // ---------------------------------------------------------------- broker leases

  async heartbeatBroker(reg: BrokerRegistration, leaseMs: number): Promise<void> {
    this.checkOpen();
    const existing = this.brokers.get(reg.id);
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      if (this.brokers.get(reg.id)?.timer !== timer) return;
      this.brokers.delete(reg.id);
      this.emitBrokers();
    }, leaseMs);
    timer.unref();
    this.brokers.set(reg.id, { reg, timer });
    const changed = !existing || JSON.stringify(existing.reg) !== JSON.stringify(reg);
    if (changed) this.emitBrokers();
  }

  async unregisterBroker(id: number): Promise<void> {
    const existing = this.brokers.get(id);
    if (!existing) return;
    clearTimeout(existing.timer);
    this.brokers.delete(id);
    this.emitBrokers();
  }

  watchBrokers(listener: (brokers: readonly BrokerRegistration[]) => void): () => void {
    listener(this.liveBrokers());
    this.brokerListeners.add(listener);
    return () => { this.brokerListeners.delete(listener); };
  }

  private liveBrokers(): BrokerRegistration[] {
    return [...this.brokers.values()].map((b) => b.reg).sort((a, b) => a.id - b.id);
  }

  private emitBrokers(): void {
    const live = this.liveBrokers();
    for (const l of this.brokerListeners) l(live);
  }

  // ---------------------------------------------------------------- controller lease

  async claimController(id: number, leaseMs: number): Promise<ControllerLease> {
    this.checkOpen();
    const now = this.clock();
    const current = this.controller;
    if (current && current.lease.holder !== id && current.expiresAt > now) return current.lease;
    const changed = !current || current.lease.holder !== id;
    const lease = changed ? { holder: id, epoch: ++this.controllerEpoch } : current.lease;
    if (current) clearTimeout(current.timer);
    const timer = setTimeout(() => {
      if (this.controller?.timer !== timer) return;
      this.controller = null;
      this.emitController();
    }, leaseMs);
    timer.unref();
    this.controller = { lease, expiresAt: now + leaseMs, timer };
    if (changed) this.emitController();
    return lease;
  }

  async releaseController(id: number): Promise<void> {
    if (this.controller?.lease.holder !== id) return;
    clearTimeout(this.controller.timer);
    this.controller = null;
    this.emitController();
  }

  watchController(listener: (lease: ControllerLease | null) => void): () => void {
    listener(this.controller?.lease ?? null);
    this.controllerListeners.add(listener);
    return () => { this.controllerListeners.delete(listener); };
  }

  private emitController(): void {
    const lease = this.controller?.lease ?? null;
    for (const l of this.controllerListeners) l(lease);
  }

  async clusterId(): Promise<string> { return this.id; }

  async listTopics(): Promise<TopicRecord[]> { return [...this.topics.values()]; }

  async getTopic(name: string): Promise<TopicRecord | undefined> { return this.topics.get(name); }

  async createTopic(spec: TopicSpec, partitions: readonly PartitionState[]): Promise<TopicRecord> {
    this.checkOpen();
    if (this.topics.has(spec.name)) throw new KafkaError('TOPIC_ALREADY_EXISTS', `Topic '${spec.name}' already exists.`);
    const topic: TopicRecord = { spec, topicId: randomUUID(), partitions, controllerEpoch: 0, version: this.nextVersion() };
    await this.commit(() => this.topics.set(spec.name, topic));
    this.emit({ type: 'put', topic });
    return topic;
  }

  async updateTopic(name: string, expectedVersion: string, update: TopicUpdate): Promise<TopicRecord> {
    this.checkOpen();
    const current = this.topics.get(name);
    if (!current) throw new KafkaError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${name}' does not exist.`);
    if (current.version !== expectedVersion) throw new StaleVersionError(`topic ${name}`, expectedVersion, current.version);
    if (update.controllerEpoch !== undefined && current.controllerEpoch > update.controllerEpoch) {
      throw new ControllerFencedError(name, update.controllerEpoch, current.controllerEpoch);
    }
    const topic: TopicRecord = {
      ...current,
      spec: update.spec ?? current.spec,
      partitions: update.partitions ?? current.partitions,
      controllerEpoch: update.controllerEpoch ?? current.controllerEpoch,
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

  /** Topics here are created placed: there is never a pending one. */
  watchPendingTopics(_listener: (spec: TopicSpec) => void): () => void {
    return () => undefined;
  }

  async placePendingTopic(spec: TopicSpec): Promise<TopicRecord> {
    throw new KafkaError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${spec.name}' is not pending.`);
  }

  async acknowledgeTopicDataRemoved(): Promise<void> { /* nothing waits for it here */ }

  watchTopics(listener: (event: TopicEvent) => void): () => void {
    for (const topic of this.topics.values()) listener({ type: 'put', topic });
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  watchBrokerConfigs(listener: (configs: DynamicBrokerConfigs) => void): () => void {
    listener(this.brokerConfigs);
    this.brokerConfigListeners.add(listener);
    return () => { this.brokerConfigListeners.delete(listener); };
  }

  async setBrokerConfigs(entity: string, configs: Readonly<Record<string, string>>): Promise<void> {
    this.checkOpen();
    const next: Record<string, Readonly<Record<string, string>>> = { ...this.brokerConfigs };
    if (Object.keys(configs).length === 0) delete next[entity];
    else next[entity] = { ...configs };
    await this.commit(() => { this.brokerConfigs = next; });
    for (const l of this.brokerConfigListeners) l(next);
  }

  watchScramCredentials(listener: (credentials: ScramCredentials) => void): () => void {
    listener(this.scram);
    this.scramListeners.add(listener);
    return () => { this.scramListeners.delete(listener); };
  }

  async alterScramCredentials(changes: readonly ScramCredentialChange[]): Promise<void> {
    this.checkOpen();
    const next = applyScramChanges(this.scram, changes);
    await this.commit(() => { this.scram = next; });
    for (const l of this.scramListeners) l(next);
  }

  watchAcls(listener: (acls: readonly AclBinding[]) => void): () => void {
    listener(this.acls);
    this.aclListeners.add(listener);
    return () => { this.aclListeners.delete(listener); };
  }

  async updateAcls<T>(change: (current: readonly AclBinding[]) => AclChange<T>): Promise<T> {
    this.checkOpen();
    const { acls, result } = change(this.acls);
    await this.commit(() => { this.acls = acls; });
    for (const l of this.aclListeners) l(acls);
    return result;
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
    this.brokerListeners.clear();
    this.controllerListeners.clear();
    this.brokerConfigListeners.clear();
    this.scramListeners.clear();
    this.aclListeners.clear();
    for (const b of this.brokers.values()) clearTimeout(b.timer);
    if (this.controller) clearTimeout(this.controller.timer);
  }

  /** Applies a mutation; subclasses make it durable. */
  protected async commit(apply: () => void): Promise<void> { apply(); }

  protected snapshot(): MemoryStoreState {
    return {
      clusterId: this.id,
      nextProducerId: this.nextProducerId.toString(),
      revision: this.revision,
      topics: [...this.topics.values()],
      brokerConfigs: this.brokerConfigs,
      scramCredentials: this.scram,
      acls: this.acls,
    };
  }

  protected restore(state: MemoryStoreState): void {
    this.id = state.clusterId;
    this.nextProducerId = BigInt(state.nextProducerId);
    this.revision = state.revision;
    this.brokerConfigs = state.brokerConfigs ?? {};
    this.scram = state.scramCredentials ?? {};
    this.acls = state.acls ?? [];
    this.topics.clear();
    // (files written before controller epochs existed lack the field)
    for (const t of state.topics) this.topics.set(t.spec.name, { ...t, controllerEpoch: t.controllerEpoch ?? 0 });
  }

  private nextVersion(): string { return String(++this.revision); }

  private emit(event: TopicEvent): void {
    for (const l of this.listeners) l(event);
  }

  private checkOpen(): void {
    if (this.closed) throw new MetadataError(MetadataErrorCode.STORE_CLOSED, 'the metadata store is closed');
  }
}

/** A Kafka-style cluster id: 16 random bytes, URL-safe base64 without padding (22 chars). */
export function randomClusterId(): string {
  const hex = randomUUID().replaceAll('-', '');
  return Buffer.from(hex, 'hex').toString('base64url');
}
