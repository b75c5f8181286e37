/**
 * KubernetesStore: the MetadataStore contract with the Kubernetes API server as the source of
 * truth (etcd arbitrates every write).
 *
 * Objects, all in one namespace, all labelled brook.dev/cluster=<cluster>:
 * - Topic resources (brook.dev/v1alpha1): `spec` is the topic as asked for; `status.topicId` and
 *   `status.partitions` are the live partition state. createTopic writes the topic id and first
 *   partition state into the annotation `brook.dev/initial-placement` of the object it creates
 *   (../k8s/topic-placement.ts): one API write per topic, since the API server drops `status`
 *   from a create (a placement too big for an annotation, 1,500+ partitions, is written the old
 *   way: the Topic, then its status); the first status write copies it into `status`, which
 *   supersedes it. A Topic with neither is pending (applied with kubectl, not yet placed by the
 *   controller) and is not reported as a topic; `watchPendingTopics` reports it. A Topic with a
 *   deletionTimestamp is gone.
 * - Lease `brook-<cluster>-broker-<id>` per live broker and Lease `brook-<cluster>-controller`
 *   for the controller (kubernetes-leases.ts, which has their contract).
 * - Secret `brook-<cluster>-scram-credentials`: salted SCRAM credentials (kubernetes-scram-secret.ts).
 * - ConfigMap `brook-<cluster>-metadata`: the cluster id, the next free producer id, and the
 *   dynamic broker configs and the ACL bindings, re-read every `brokerConfigsPollMs` (default 2 s)
 *   (kubernetes-configmap.ts, which has its contract).
 *
 * Concurrency: every write is a compare-and-swap on metadata.resourceVersion (BROOK_ERR_KUBE_CONFLICT
 * → StaleVersionError or a re-read and retry). A topic's spec and status are separate API writes
 * (the status subresource); updateTopic with both writes spec first, then status at the version
 * the spec write returned (a status write of a Topic placed only by its annotation writes the
 * whole placement with the change), so a concurrent writer in between makes it fail with
 * StaleVersionError after the spec has changed — callers retry from fresh state, as they must.
 *
 * Reads and watches come from one list+watch per kind, resumed from the last resourceVersion
 * when a watch ends and relisted when the server answers 410 Gone. Each write returns only once
 * this store's watch has seen it, so listeners and reads always include the store's own writes
 * (read-your-writes; the same order as MemoryStore's synchronous listeners).
 *
 * Leases (kubernetes-leases.ts): expiry is measured on the local clock from when this store
 * *observed* a renewal, and when the API server is unreachable the store's view is stale, not
 * empty: no news is not expiry. So an outage of the API server stops no broker from seeing the
 * others (followers keep fetching, Metadata keeps listing every broker); only writes wait.
 * What keeps that safe is the compare-and-swap on every partition-state write, not liveness.
 *
 * API errors: every request goes through broker/k8s (Kube, KubeError); the store branches on the
 * error's code, never on message text. The API server's validation (422 Invalid) becomes the Kafka
 * error of the field its first cause names (spec.partitions → INVALID_PARTITIONS, ...).
 *
 * Controller fencing: `status.controllerEpoch` of a Topic is the epoch of the last controller
 * that wrote its partition state. updateTopic/placePendingTopic with `controllerEpoch` E refuse
 * (ControllerFencedError) when the version being replaced carries a newer epoch, and write E;
 * together with the resourceVersion compare-and-swap, a controller whose lease moved on cannot
 * land a write on a topic the newer controller has written.
 */
import { randomUUID } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { KafkaError } from '../errors.ts';
import { Kube } from '../k8s/client.ts';
import { CollectionWatch, type WatchEventType } from '../k8s/collection-watch.ts';
import { apiVersion, kafkaTopicName, leadersSummary, type Topic } from '../k8s/crds.ts';
import { KubeError, KubeErrorCode, isConflict, isNotFound } from '../k8s/errors.ts';
import { resources, rvAtLeast, type KubeObject } from '../k8s/objects.ts';
import { initialPlacementAnnotation, initialPlacementValue, topicPlacement } from '../k8s/topic-placement.ts';
import { MetadataError, MetadataErrorCode } from './errors.ts';
import { MetadataConfigMap } from './kubernetes-configmap.ts';
import { KubernetesLeases } from './kubernetes-leases.ts';
import { ScramSecret } from './kubernetes-scram-secret.ts';
import { invalidTopicError, partitionState, partitionStatus, topicObjectName } from './kubernetes-topic-object.ts';
import { ControllerFencedError, StaleVersionError } from './types.ts';
import type {
  BrokerRegistration, ControllerLease, DynamicBrokerConfigs, MetadataStore, PartitionState, TopicEvent, TopicRecord, TopicSpec, TopicUpdate,
  ScramCredentialChange, ScramCredentials, AclBinding, AclChange,
} from './types.ts';

export interface KubernetesStoreOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** Name of the Cluster resource these brokers form (Topics with this spec.cluster). */
  cluster: string;
  clock?: () => number;
  /** fieldManager of this store's writes. */
  fieldManager?: string;
  /** Jitter of the watches' reconnect backoff; returns [0, 1). */
  random?: () => number;
  /** List the leases to prove the view current when no lease event arrived for this long (default 1 s). */
  leaseProbeMs?: number;
  /**
   * Every API request (not watches) gives up after this long (default 10 s): a request sent into
   * a network partition must not hold up the heartbeat that follows the partition's end.
   */
  requestTimeoutMs?: number;
  /** How often the dynamic broker configs are re-read from the metadata ConfigMap (default 2 s). */
  brokerConfigsPollMs?: number;
}

const clusterLabel = 'brook.dev/cluster';
/**
 * Largest creation annotation written (bytes). The API server refuses more than 256 KiB of
 * annotations per object; a placement above this (some 1,500+ partitions) is written the old
 * way: the Topic, then its status.
 */
const MAX_PLACEMENT_ANNOTATION = 128 * 1024;
/** Attempts at a big Topic's first status write when its metadata changes under it (finalizer, owner reference). */
const CREATE_STATUS_ATTEMPTS = 5;

type TopicObject = Topic & KubeObject;

export { topicObjectName };

export class KubernetesStore implements MetadataStore {
  private readonly kube: Kube;
  private readonly ns: string;
  private readonly cluster: string;
  private readonly clock: () => number;
  private readonly fieldManager: string;
  private readonly topicWatch: CollectionWatch<TopicObject>;
  private readonly leases: KubernetesLeases;
  private readonly topicListeners = new Set<(event: TopicEvent) => void>();
  private readonly pendingListeners = new Set<(topic: Topic) => void>();
  /** Kafka name → the ready record. */
  private readonly topics = new Map<string, { record: TopicRecord; object: TopicObject }>();
  /** Topic objects this store is writing in two steps (spec, then status): their events wait for the last step. */
  private readonly inFlight = new Set<string>();
  /** Object names this store has created without a placement and is about to give their first status. */
  private readonly creating = new Set<string>();
  private readonly metadata: MetadataConfigMap;
  private readonly scram: ScramSecret;
  private readonly watchKube: Kube;
  private id = '';
  private closed = false;

  private constructor(opts: KubernetesStoreOptions) {
    this.fieldManager = opts.fieldManager ?? 'brook-broker';
    this.kube = new Kube(opts.kubeConfig, { fieldManager: this.fieldManager, requestTimeoutMs: opts.requestTimeoutMs ?? 10_000 });
    this.ns = opts.namespace;
    this.cluster = opts.cluster;
    this.clock = opts.clock ?? Date.now;
    this.metadata = new MetadataConfigMap({
      kube: this.kube, namespace: opts.namespace, cluster: opts.cluster, labels: { [clusterLabel]: opts.cluster }, pollMs: opts.brokerConfigsPollMs ?? 2_000,
    });
    this.scram = new ScramSecret({
      kube: this.kube, namespace: opts.namespace, cluster: opts.cluster, labels: { [clusterLabel]: opts.cluster }, pollMs: opts.brokerConfigsPollMs ?? 2_000,
    });
    // Watches bound their own lists and connections; requestTimeoutMs is for the other requests.
    const watchKube = this.watchKube = new Kube(opts.kubeConfig, { fieldManager: this.fieldManager });
    // Topics applied with kubectl carry no label of ours: watch them all, keep spec.cluster's.
    this.topicWatch = new CollectionWatch<TopicObject>({
      kube: watchKube, namespace: opts.namespace, clock: this.clock, random: opts.random, resource: resources.Topic, labelSelector: '',
    });
    this.topicWatch.onEvent((type, obj, old) => this.onTopicEvent(type, obj, old));
    this.leases = new KubernetesLeases({
      kube: this.kube, watchKube, namespace: opts.namespace, cluster: opts.cluster, clock: this.clock, random: opts.random,
      leaseProbeMs: opts.leaseProbeMs ?? 1_000,
    });
  }

  /** Connects, creates the cluster's metadata ConfigMap if missing, and syncs the caches. */
  static async open(opts: KubernetesStoreOptions): Promise<KubernetesStore> {
    const store = new KubernetesStore(opts);
    try {
      store.id = await store.metadata.open();
      await Promise.all([store.topicWatch.start(), store.leases.start()]);
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  /** Watch internals for tests: restart the topic watch from a stale resourceVersion. */
  get testing() {
    return {
      restartTopicWatchFrom: (rv: string) => this.topicWatch.restartFrom(rv),
      topicRelists: () => this.topicWatch.stats.relists,
      watchStats: () => ({ topics: { ...this.topicWatch.stats }, leases: { ...this.leases.watch.stats } }),
      leaseFreshness: () => ({ freshAt: this.leases.watch.freshAt, freshSince: this.leases.watch.freshSince }),
    };
  }

  // ---------------------------------------------------------------- the metadata ConfigMap (kubernetes-configmap.ts)

  async clusterId(): Promise<string> { return this.id; }

  async allocateProducerIds(count: number): Promise<bigint> {
    this.checkOpen();
    return await this.metadata.allocateProducerIds(count);
  }

  watchBrokerConfigs(listener: (configs: DynamicBrokerConfigs) => void): () => void {
    return this.metadata.watchBrokerConfigs(listener);
  }

  async setBrokerConfigs(entity: string, configs: Readonly<Record<string, string>>): Promise<void> {
    this.checkOpen();
    await this.metadata.setBrokerConfigs(entity, configs);
  }

  watchAcls(listener: (acls: readonly AclBinding[]) => void): () => void { return this.metadata.watchAcls(listener); }

  async updateAcls<T>(change: (current: readonly AclBinding[]) => AclChange<T>): Promise<T> {
    this.checkOpen();
    return await this.metadata.updateAcls(change);
  }

  // ---------------------------------------------------------------- SCRAM credentials (kubernetes-scram-secret.ts)

  watchScramCredentials(listener: (credentials: ScramCredentials) => void): () => void { return this.scram.watch(listener); }

  async alterScramCredentials(changes: readonly ScramCredentialChange[]): Promise<void> {
    this.checkOpen();
    await this.scram.alter(changes);
  }

  // ---------------------------------------------------------------- topics

  /** A placed Topic (topicPlacement is defined) as the store's record. */
  private toRecord(obj: TopicObject): TopicRecord {
    const placement = topicPlacement(obj)!;
    return {
      spec: {
        name: kafkaTopicName(obj),
        partitions: obj.spec.partitions ?? 1,
        replicationFactor: obj.spec.replicationFactor ?? 1,
        configs: { ...obj.spec.config },
      },
      topicId: placement.topicId,
      partitions: placement.partitions.map(partitionState).sort((a, b) => a.partition - b.partition),
      controllerEpoch: placement.controllerEpoch,
      version: obj.metadata.resourceVersion!,
    };
  }

  private isOurs(obj: Topic): boolean { return obj.spec.cluster === this.cluster; }
  private isReady(obj: Topic): boolean { return this.isOurs(obj) && !obj.metadata.deletionTimestamp && topicPlacement(obj) !== undefined; }

  private onTopicEvent(type: WatchEventType, obj: TopicObject, old: TopicObject | undefined): void {
    const wasReady = old !== undefined && this.isReady(old);
    const ready = type !== 'DELETED' && this.isReady(obj);
    if (wasReady && (!ready || kafkaTopicName(old) !== kafkaTopicName(obj))) {
      const gone = this.topics.get(kafkaTopicName(old));
      if (gone && gone.object.metadata.name === old.metadata.name) {
        this.topics.delete(kafkaTopicName(old));
        this.emitTopic({ type: 'deleted', topic: gone.record });
      }
    }
    if (ready) {
      const record = this.toRecord(obj);
      const existing = this.topics.get(record.spec.name);
      // Two resources claiming one Kafka name: the first one keeps it.
      if (existing && existing.object.metadata.name !== obj.metadata.name) return;
      this.topics.set(record.spec.name, { record, object: obj });
      if (!this.inFlight.has(obj.metadata.name)) this.emitTopic({ type: 'put', topic: record });
    } else if (type !== 'DELETED' && this.isOurs(obj) && !obj.metadata.deletionTimestamp && !this.creating.has(obj.metadata.name)) {
      // (a big Topic this store is creating gets its status in a moment: not pending)
      for (const l of this.pendingListeners) l(obj);
    }
  }

  private emitTopic(event: TopicEvent): void { for (const l of this.topicListeners) l(event); }

  async listTopics(): Promise<TopicRecord[]> { return [...this.topics.values()].map((t) => t.record); }

  async getTopic(name: string): Promise<TopicRecord | undefined> { return this.topics.get(name)?.record; }

  /**
   * One API write: the Topic with its topic id and first partition state in its creation
   * annotation (see the header), returned once this store's watch has it. A placement too big for
   * an annotation takes two: the Topic, then its status.
   */
  async createTopic(spec: TopicSpec, partitions: readonly PartitionState[]): Promise<TopicRecord> {
    this.checkOpen();
    if (this.topics.has(spec.name)) throw new KafkaError('TOPIC_ALREADY_EXISTS', `Topic '${spec.name}' already exists.`);
    const name = topicObjectName(spec.name);
    const topicId = randomUUID();
    const statuses = [...partitions].map(partitionStatus);
    const placement = initialPlacementValue(topicId, statuses);
    const annotated = Buffer.byteLength(placement) <= MAX_PLACEMENT_ANNOTATION;
    const body: TopicObject = {
      apiVersion, kind: 'Topic',
      metadata: { name, namespace: this.ns, labels: { [clusterLabel]: this.cluster }, ...(annotated ? { annotations: { [initialPlacementAnnotation]: placement } } : {}) },
      spec: {
        cluster: this.cluster,
        ...(name === spec.name ? {} : { topicName: spec.name }),
        partitions: spec.partitions, replicationFactor: spec.replicationFactor, config: { ...spec.configs },
      },
    };
    let created: TopicObject;
    if (!annotated) this.creating.add(name);
    try {
      created = await this.kube.create<TopicObject>(resources.Topic, body);
    } catch (err) {
      this.creating.delete(name);
      if (isConflict(err)) throw new KafkaError('TOPIC_ALREADY_EXISTS', `Topic '${spec.name}' already exists (Topic ${this.ns}/${name}).`);
      throw this.translate(err, spec.name);
    }
    if (!annotated) return await this.writeFirstStatus(spec, created, { topicId, partitions: statuses, leaders: leadersSummary(partitions) });
    await this.topicWatch.waitUntil(() => rvAtLeast(this.topicWatch.get(name)?.metadata.resourceVersion, created.metadata.resourceVersion!));
    return this.toRecord(created);
  }

  /**
   * The second write of a Topic created without its placement: its status, a compare-and-swap on
   * the version `create` returned. A 409 means the Topic changed in between: either the controller
   * placed it (it looked pending), or only its metadata changed (the operator adds its finalizer
   * and owner reference right after creation); in the second case write again on the current
   * version. A crash before this write leaves a pending Topic, which the controller places.
   */
  private async writeFirstStatus(spec: TopicSpec, created: TopicObject, status: NonNullable<Topic['status']>): Promise<TopicRecord> {
    const name = created.metadata.name!;
    let current: TopicObject = created;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          const placed = await this.kube.replace<TopicObject>(resources.Topic, { ...current, status }, 'status');
          await this.topicWatch.waitUntil(() => rvAtLeast(this.topicWatch.get(name)?.metadata.resourceVersion, placed.metadata.resourceVersion!));
          return this.toRecord(placed);
        } catch (err) {
          if (!isConflict(err) || attempt >= CREATE_STATUS_ATTEMPTS) throw isConflict(err) ? err : this.translate(err, spec.name);
        }
        current = await this.kube.get<TopicObject>(resources.Topic, this.ns, name);
        if (current.metadata.deletionTimestamp) throw new KafkaError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${spec.name}' was deleted while it was being created.`);
        if (topicPlacement(current)) {
          // placed by the controller meanwhile: the topic exists as asked, with its placement
          await this.topicWatch.waitUntil(() => rvAtLeast(this.topicWatch.get(name)?.metadata.resourceVersion, current.metadata.resourceVersion!));
          return this.toRecord(current);
        }
      }
    } finally {
      this.creating.delete(name);
      // Pending events for this Topic were held back while it was being created; if it is still
      // pending now (the status write failed), the controller must hear of it or it stays pending.
      const cached = this.topicWatch.get(name);
      if (cached && this.isOurs(cached) && !cached.metadata.deletionTimestamp && !topicPlacement(cached)) {
        for (const l of this.pendingListeners) l(cached);
      }
    }
  }

  async updateTopic(name: string, expectedVersion: string, update: TopicUpdate): Promise<TopicRecord> {
    this.checkOpen();
    const current = this.topics.get(name);
    if (!current) throw new KafkaError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${name}' does not exist.`);
    const objectName = current.object.metadata.name;
    const stale = (err: unknown): Error => (isConflict(err)
      ? new StaleVersionError(`topic ${name}`, expectedVersion, this.topics.get(name)?.record.version ?? '?')
      : this.translate(err, name));
    if (update.controllerEpoch !== undefined) {
      // The fence is checked on the version being replaced; the compare-and-swap makes sure it is
      // still that version when the write lands.
      if (current.record.version !== expectedVersion) throw new StaleVersionError(`topic ${name}`, expectedVersion, current.record.version);
      if (current.record.controllerEpoch > update.controllerEpoch) throw new ControllerFencedError(name, update.controllerEpoch, current.record.controllerEpoch);
    }
    let obj: TopicObject = structuredClone(current.object);
    obj.metadata.resourceVersion = expectedVersion;
    const twoSteps = update.spec !== undefined && (update.partitions !== undefined || update.controllerEpoch !== undefined);
    if (twoSteps) this.inFlight.add(objectName);
    try {
      return await this.writeTopic(name, objectName, obj, update, stale);
    } finally {
      if (twoSteps) {
        this.inFlight.delete(objectName);
        const now = this.topics.get(name);
        // Listeners get the state the writes ended in once, not the half-way state between them.
        if (now && now.object.metadata.name === objectName && now.record.version !== current.record.version) this.emitTopic({ type: 'put', topic: now.record });
      }
    }
  }

  private async writeTopic(name: string, objectName: string, obj: TopicObject, update: TopicUpdate, stale: (err: unknown) => Error): Promise<TopicRecord> {
    if (update.spec) {
      obj.spec = { ...obj.spec, partitions: update.spec.partitions, replicationFactor: update.spec.replicationFactor, config: { ...update.spec.configs } };
      obj = await this.kube.replace(resources.Topic, obj).catch((err: unknown) => { throw stale(err); });
    }
    if (update.partitions || update.controllerEpoch !== undefined) {
      const placement = topicPlacement(obj);
      obj.status = { ...obj.status };
      if (placement && !placement.inStatus) {
        // the first status write: the whole placement moves from the creation annotation to status
        obj.status.topicId = placement.topicId;
        obj.status.partitions = [...placement.partitions];
        obj.status.leaders = leadersSummary(placement.partitions);
      }
      if (update.partitions) {
        obj.status.partitions = update.partitions.map(partitionStatus);
        obj.status.leaders = leadersSummary(update.partitions);
      }
      if (update.controllerEpoch !== undefined) obj.status.controllerEpoch = update.controllerEpoch;
      obj = await this.kube.replace(resources.Topic, obj, 'status').catch((err: unknown) => { throw stale(err); });
    }
    await this.topicWatch.waitUntil(() => rvAtLeast(this.topicWatch.get(objectName)?.metadata.resourceVersion, obj.metadata.resourceVersion!));
    return this.toRecord(obj);
  }

  async deleteTopic(name: string): Promise<void> {
    this.checkOpen();
    const current = this.topics.get(name);
    if (!current) throw new KafkaError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${name}' does not exist.`);
    try {
      await this.kube.deleteOrFail(resources.Topic, this.ns, current.object.metadata.name);
    } catch (err) {
      if (isNotFound(err)) throw new KafkaError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${name}' does not exist.`);
      throw err;
    }
    await this.topicWatch.waitUntil(() => this.topics.get(name)?.object.metadata.name !== current.object.metadata.name);
  }

  watchTopics(listener: (event: TopicEvent) => void): () => void {
    for (const t of this.topics.values()) listener({ type: 'put', topic: t.record });
    this.topicListeners.add(listener);
    return () => { this.topicListeners.delete(listener); };
  }

  /**
   * Topics of this cluster that nobody has placed yet (no status.topicId: applied with kubectl):
   * the controller places them. Called for each now and on each change.
   */
  watchPendingTopics(listener: (spec: TopicSpec) => void): () => void {
    const toSpec = (obj: Topic): TopicSpec => ({
      name: kafkaTopicName(obj), partitions: obj.spec.partitions ?? 1, replicationFactor: obj.spec.replicationFactor ?? 1, configs: { ...obj.spec.config },
    });
    const wrapped = (obj: Topic): void => listener(toSpec(obj));
    for (const obj of this.topicWatch.list()) {
      if (this.isOurs(obj) && !obj.metadata.deletionTimestamp && !topicPlacement(obj)) wrapped(obj);
    }
    this.pendingListeners.add(wrapped);
    return () => { this.pendingListeners.delete(wrapped); };
  }

  /**
   * Annotates a Topic being deleted with `data-removed.brook.dev/broker-<id>: <topicId>`: the
   * operator's finalizer waits for every live broker with a replica to say its data is gone.
   */
  async acknowledgeTopicDataRemoved(name: string, topicId: string, brokerId: number): Promise<void> {
    const obj = this.topicWatch.list().find((o) => this.isOurs(o) && kafkaTopicName(o) === name && topicPlacement(o)?.topicId === topicId);
    if (!obj) return; // already gone
    try {
      await this.kube.mergePatch(resources.Topic, this.ns, obj.metadata.name, {
        metadata: { annotations: { [`data-removed.brook.dev/broker-${brokerId}`]: topicId } },
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** Writes the first partition state of a pending Topic (status subresource, compare-and-swap). */
  async placePendingTopic(spec: TopicSpec, partitions: readonly PartitionState[], controllerEpoch?: number): Promise<TopicRecord> {
    this.checkOpen();
    const obj = this.topicWatch.list().find((o) => this.isOurs(o) && kafkaTopicName(o) === spec.name);
    if (!obj || obj.metadata.deletionTimestamp) throw new KafkaError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${spec.name}' does not exist.`);
    if (topicPlacement(obj)) throw new KafkaError('TOPIC_ALREADY_EXISTS', `Topic '${spec.name}' is already placed.`);
    const body = {
      ...obj,
      status: {
        ...obj.status, topicId: randomUUID(), partitions: [...partitions].map(partitionStatus), leaders: leadersSummary(partitions),
        ...(controllerEpoch === undefined ? {} : { controllerEpoch }),
      },
    };
    const placed = await this.kube.replace<TopicObject>(resources.Topic, body, 'status')
      .catch((err: unknown) => { throw isConflict(err) ? new StaleVersionError(`topic ${spec.name}`, obj.metadata.resourceVersion!, '?') : this.translate(err, spec.name); });
    await this.topicWatch.waitUntil(() => rvAtLeast(this.topicWatch.get(obj.metadata.name)?.metadata.resourceVersion, placed.metadata.resourceVersion!));
    return this.toRecord(placed);
  }

  /** API server refusals (422 Invalid: the CRD's validation) as Kafka errors; others as they are. */
  private translate(err: unknown, topic: string): Error {
    if (err instanceof KubeError && err.code === KubeErrorCode.INVALID) {
      const e = new KafkaError(invalidTopicError(err), `Topic '${topic}': ${err.message}`);
      (e as Error & { cause?: unknown }).cause = err;
      return e;
    }
    return err instanceof Error ? err : new Error(String(err));
  }

  // ---------------------------------------------------------------- leases (kubernetes-leases.ts)

  async heartbeatBroker(reg: BrokerRegistration, leaseMs: number): Promise<void> {
    this.checkOpen();
    await this.leases.heartbeatBroker(reg, leaseMs);
  }

  unregisterBroker(id: number): Promise<void> { return this.leases.unregisterBroker(id); }

  watchBrokers(listener: (brokers: readonly BrokerRegistration[]) => void): () => void { return this.leases.watchBrokers(listener); }

  async claimController(id: number, leaseMs: number): Promise<ControllerLease> {
    this.checkOpen();
    return await this.leases.claimController(id, leaseMs);
  }

  releaseController(id: number): Promise<void> { return this.leases.releaseController(id); }

  watchController(listener: (lease: ControllerLease | null) => void): () => void { return this.leases.watchController(listener); }

  async close(): Promise<void> {
    this.closed = true;
    this.topicWatch.close();
    this.leases.close();
    this.topicListeners.clear();
    this.pendingListeners.clear();
    this.metadata.close();
    this.scram.close();
    this.kube.close();
    this.watchKube.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new MetadataError(MetadataErrorCode.STORE_CLOSED, 'the metadata store is closed');
  }
}
