/**
 * KubernetesStore: the MetadataStore contract with the Kubernetes API server as the source of
 * truth (etcd arbitrates every write).
 *
 * Objects, all in one namespace, all labelled brook.dev/cluster=<cluster>:
 * - Topic resources (brook.dev/v1alpha1): `spec` is the topic as asked for; `status.topicId` and
 *   `status.partitions` are the live partition state. A Topic without `status.topicId` is
 *   pending (applied with kubectl, not yet placed by the controller) and is not reported as a
 *   topic; `watchPendingTopics` reports it. A Topic with a deletionTimestamp is gone.
 * - Lease `brook-<cluster>-broker-<id>` per live broker (host, port, rack and the lease length in
 *   milliseconds as annotations), Lease `brook-<cluster>-controller` for the controller
 *   (holderIdentity = broker id, leaseTransitions = controller epoch).
 * - ConfigMap `brook-<cluster>-metadata`: the cluster id and the next free producer id.
 *
 * Concurrency: every write is a compare-and-swap on metadata.resourceVersion (HTTP 409 →
 * StaleVersionError or a re-read and retry). A topic's spec and status are separate API writes
 * (the status subresource); updateTopic with both writes spec first, then status at the version
 * the spec write returned, so a concurrent writer in between makes it fail with
 * StaleVersionError after the spec has changed — callers retry from fresh state, as they must.
 *
 * Reads and watches come from one list+watch per kind, resumed from the last resourceVersion
 * when a watch ends and relisted when the server answers 410 Gone. Each write returns only once
 * this store's watch has seen it, so listeners and reads always include the store's own writes
 * (read-your-writes; the same order as MemoryStore's synchronous listeners).
 *
 * Lease expiry is measured on the local clock from when this store *observed* a renewal, never
 * from the renewTime another machine wrote, so clock skew cannot expire a lease early. A broker
 * that fences itself must therefore stop acting `leaseMs` after it *sent* its last successful
 * renewal: that is no later than any other store can see the lease expire.
 *
 * When the API server is unreachable the store's view is stale, not empty: a lease expires only
 * after a whole lease length in which the view was known current (see CollectionWatch's
 * freshness) and showed no renewal. So an outage of the API server stops no broker from seeing
 * the others (followers keep fetching, Metadata keeps listing every broker); only writes wait.
 * What keeps that safe is the compare-and-swap on every partition-state write, not liveness.
 *
 * Controller fencing: `status.controllerEpoch` of a Topic is the epoch of the last controller
 * that wrote its partition state. updateTopic/placePendingTopic with `controllerEpoch` E refuse
 * (ControllerFencedError) when the version being replaced carries a newer epoch, and write E;
 * together with the resourceVersion compare-and-swap, a controller whose lease moved on cannot
 * land a write on a topic the newer controller has written.
 */
import { randomUUID, createHash } from 'node:crypto';
import { ApiException, CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { KafkaError } from '../errors.ts';
import { apiVersion, group, kafkaTopicName, leadersSummary, version, type Topic, type TopicPartitionStatus } from '../k8s/crds.ts';
import { CollectionWatch, httpCode, rvAtLeast, type KubeObject, type WatchEventType } from './collection-watch.ts';
import { randomClusterId } from './memory-store.ts';
import { ControllerFencedError, StaleVersionError, decodeListeners, encodeListeners } from './types.ts';
import type {
  BrokerRegistration, ControllerLease, DynamicBrokerConfigs, MetadataStore, PartitionState, TopicEvent, TopicRecord, TopicSpec, TopicUpdate,
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
}

/**
 * `kc` with a timeout on every request made through API clients it creates: client-node calls
 * the kubeconfig's applySecurityAuthentication for each request, which is where a signal can be
 * set (Watch passes its own signal to fetch, so watches are unaffected).
 */
function withRequestTimeout(kc: KubeConfig, ms: number): KubeConfig {
  const wrapped = Object.create(kc) as KubeConfig;
  wrapped.applySecurityAuthentication = async (ctx) => {
    await kc.applySecurityAuthentication(ctx);
    ctx.setSignal(AbortSignal.timeout(ms));
  };
  return wrapped;
}

const clusterLabel = 'brook.dev/cluster';
const roleLabel = 'brook.dev/role';
const leaseMsAnnotation = 'brook.dev/lease-ms';

interface Lease extends KubeObject {
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
}

const leaseGvp = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases' };

function apiMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const body = typeof err.body === 'string' ? (() => { try { return JSON.parse(err.body); } catch { return { message: err.body }; } })() : err.body;
    return (body as { message?: string } | undefined)?.message ?? err.message;
  }
  return (err as Error).message;
}

/** Kubernetes MicroTime: RFC 3339 with microseconds. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** A Kubernetes object name for a Kafka topic name (Kafka allows upper case and `_`). */
export function topicObjectName(kafkaName: string): string {
  if (/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(kafkaName) && kafkaName.length <= 253 && !kafkaName.includes('..')) return kafkaName;
  const hash = createHash('sha256').update(kafkaName).digest('hex').slice(0, 10);
  const base = kafkaName.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/\.\.+/g, '.').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '').slice(0, 200);
  return base ? `${base}-${hash}` : `topic-${hash}`;
}

export class KubernetesStore implements MetadataStore {
  private readonly customObjects: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly ns: string;
  private readonly cluster: string;
  private readonly clock: () => number;
  private readonly fieldManager: string;
  private readonly topicWatch: CollectionWatch<Topic & KubeObject>;
  private readonly leaseWatch: CollectionWatch<Lease>;
  private readonly topicListeners = new Set<(event: TopicEvent) => void>();
  private readonly pendingListeners = new Set<(topic: Topic) => void>();
  private readonly brokerListeners = new Set<(brokers: readonly BrokerRegistration[]) => void>();
  private readonly controllerListeners = new Set<(lease: ControllerLease | null) => void>();
  /** Kafka name → the ready record. */
  private readonly topics = new Map<string, { record: TopicRecord; object: Topic & KubeObject }>();
  /** Topic objects this store is writing in two steps (spec, then status): their events wait for the last step. */
  private readonly inFlight = new Set<string>();
  /** Object names this store has created and is about to give their first status. */
  private readonly creating = new Set<string>();
  /** Lease name → when this store saw its current resourceVersion, and the expiry timer. */
  private readonly observed = new Map<string, { rv: string; at: number; timer: NodeJS.Timeout }>();
  private liveBrokersKey = '[]';
  private controllerKey = 'null';
  private id = '';
  private closed = false;

  private constructor(opts: KubernetesStoreOptions) {
    const kubeConfig = withRequestTimeout(opts.kubeConfig, opts.requestTimeoutMs ?? 10_000);
    this.customObjects = kubeConfig.makeApiClient(CustomObjectsApi);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.ns = opts.namespace;
    this.cluster = opts.cluster;
    this.clock = opts.clock ?? Date.now;
    this.fieldManager = opts.fieldManager ?? 'brook-broker';
    const selector = `${clusterLabel}=${opts.cluster}`;
    // Topics applied with kubectl carry no label of ours: watch them all, keep spec.cluster's.
    const common = { kubeConfig, namespace: opts.namespace, clock: this.clock, random: opts.random };
    this.topicWatch = new CollectionWatch({ ...common, gvp: { group, version, plural: 'topics' }, labelSelector: '' });
    // Lease expiry needs to know how current the lease view is: probe it when nothing arrives.
    this.leaseWatch = new CollectionWatch({ ...common, gvp: leaseGvp, labelSelector: selector, probeMs: opts.leaseProbeMs ?? 1_000 });
    this.topicWatch.onEvent((type, obj, old) => this.onTopicEvent(type, obj, old));
    this.leaseWatch.onEvent((type, obj) => this.onLeaseEvent(type, obj));
    this.leaseWatch.onFreshness(() => this.recomputeLeases());
  }

  /** Connects, creates the cluster's metadata ConfigMap if missing, and syncs the caches. */
  static async open(opts: KubernetesStoreOptions): Promise<KubernetesStore> {
    const store = new KubernetesStore(opts);
    try {
      store.id = await store.ensureMetadataConfigMap();
      await Promise.all([store.topicWatch.start(), store.leaseWatch.start()]);
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
      watchStats: () => ({ topics: { ...this.topicWatch.stats }, leases: { ...this.leaseWatch.stats } }),
      leaseFreshness: () => ({ freshAt: this.leaseWatch.freshAt, freshSince: this.leaseWatch.freshSince }),
    };
  }

  // ---------------------------------------------------------------- cluster id, producer ids

  private get metadataName(): string { return `brook-${this.cluster}-metadata`; }

  private async ensureMetadataConfigMap(): Promise<string> {
    for (;;) {
      try {
        const cm = await this.core.readNamespacedConfigMap({ name: this.metadataName, namespace: this.ns });
        return cm.data?.clusterId ?? '';
      } catch (err) {
        if (httpCode(err) !== 404) throw err;
      }
      try {
        const cm = await this.core.createNamespacedConfigMap({
          namespace: this.ns, fieldManager: this.fieldManager,
          body: { metadata: { name: this.metadataName, labels: { [clusterLabel]: this.cluster } }, data: { clusterId: randomClusterId(), nextProducerId: '0' } },
        });
        return cm.data!.clusterId;
      } catch (err) {
        if (httpCode(err) !== 409) throw err;
      }
    }
  }

  async clusterId(): Promise<string> { return this.id; }

  async allocateProducerIds(count: number): Promise<bigint> {
    this.checkOpen();
    for (;;) {
      const cm = await this.core.readNamespacedConfigMap({ name: this.metadataName, namespace: this.ns });
      const first = BigInt(cm.data?.nextProducerId ?? '0');
      cm.data = { ...cm.data, nextProducerId: (first + BigInt(count)).toString() };
      try {
        await this.core.replaceNamespacedConfigMap({ name: this.metadataName, namespace: this.ns, body: cm, fieldManager: this.fieldManager });
        return first;
      } catch (err) {
        if (httpCode(err) !== 409) throw err;
      }
    }
  }

  // ---------------------------------------------------------------- topics

  private toRecord(obj: Topic & KubeObject): TopicRecord {
    return {
      spec: {
        name: kafkaTopicName(obj),
        partitions: obj.spec.partitions ?? 1,
        replicationFactor: obj.spec.replicationFactor ?? 1,
        configs: { ...obj.spec.config },
      },
      topicId: obj.status!.topicId!,
      partitions: (obj.status?.partitions ?? []).map(partitionState).sort((a, b) => a.partition - b.partition),
      controllerEpoch: obj.status?.controllerEpoch ?? 0,
      version: obj.metadata.resourceVersion!,
    };
  }

  private isOurs(obj: Topic): boolean { return obj.spec.cluster === this.cluster; }
  private isReady(obj: Topic): boolean { return this.isOurs(obj) && !obj.metadata.deletionTimestamp && !!obj.status?.topicId; }

  private onTopicEvent(type: WatchEventType, obj: Topic & KubeObject, old: (Topic & KubeObject) | undefined): void {
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
      // (a Topic this store is creating gets its status in a moment: not pending)
      for (const l of this.pendingListeners) l(obj);
    }
  }

  private emitTopic(event: TopicEvent): void { for (const l of this.topicListeners) l(event); }

  async listTopics(): Promise<TopicRecord[]> { return [...this.topics.values()].map((t) => t.record); }

  async getTopic(name: string): Promise<TopicRecord | undefined> { return this.topics.get(name)?.record; }

  async createTopic(spec: TopicSpec, partitions: readonly PartitionState[]): Promise<TopicRecord> {
    this.checkOpen();
    if (this.topics.has(spec.name)) throw new KafkaError('TOPIC_ALREADY_EXISTS', `Topic '${spec.name}' already exists.`);
    const name = topicObjectName(spec.name);
    const body: Topic = {
      apiVersion, kind: 'Topic',
      metadata: { name, labels: { [clusterLabel]: this.cluster } },
      spec: {
        cluster: this.cluster,
        ...(name === spec.name ? {} : { topicName: spec.name }),
        partitions: spec.partitions, replicationFactor: spec.replicationFactor, config: { ...spec.configs },
      },
    };
    let created: Topic & KubeObject;
    this.creating.add(name);
    try {
      created = await this.customObjects.createNamespacedCustomObject({
        group, version, namespace: this.ns, plural: 'topics', body, fieldManager: this.fieldManager,
      }) as Topic & KubeObject;
    } catch (err) {
      this.creating.delete(name);
      if (httpCode(err) === 409) throw new KafkaError('TOPIC_ALREADY_EXISTS', `Topic '${spec.name}' already exists (Topic ${this.ns}/${name}).`);
      throw this.translate(err, spec.name);
    }
    created.status = { topicId: randomUUID(), partitions: [...partitions].map(partitionStatus), leaders: leadersSummary(partitions) };
    let placed: Topic & KubeObject;
    try {
      placed = await this.customObjects.replaceNamespacedCustomObjectStatus({
        group, version, namespace: this.ns, plural: 'topics', name, body: created, fieldManager: this.fieldManager,
      }) as Topic & KubeObject;
    } catch (err) {
      this.creating.delete(name);
      if (httpCode(err) !== 409) throw this.translate(err, spec.name);
      // Between the two writes the new Topic looked pending and the controller placed it: the
      // topic exists as asked, with the controller's placement.
      await this.topicWatch.waitUntil(() => Boolean(this.topicWatch.cache.get(name)?.status?.topicId), 10_000);
      return this.toRecord(this.topicWatch.cache.get(name) as Topic & KubeObject);
    }
    this.creating.delete(name);
    await this.topicWatch.waitUntil(() => rvAtLeast(this.topicWatch.cache.get(name)?.metadata.resourceVersion, placed.metadata.resourceVersion!));
    return this.toRecord(placed);
  }

  async updateTopic(name: string, expectedVersion: string, update: TopicUpdate): Promise<TopicRecord> {
    this.checkOpen();
    const current = this.topics.get(name);
    if (!current) throw new KafkaError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${name}' does not exist.`);
    const objectName = current.object.metadata.name;
    const stale = (err: unknown): Error => (httpCode(err) === 409
      ? new StaleVersionError(`topic ${name}`, expectedVersion, this.topics.get(name)?.record.version ?? '?')
      : this.translate(err, name));
    if (update.controllerEpoch !== undefined) {
      // The fence is checked on the version being replaced; the compare-and-swap makes sure it is
      // still that version when the write lands.
      if (current.record.version !== expectedVersion) throw new StaleVersionError(`topic ${name}`, expectedVersion, current.record.version);
      if (current.record.controllerEpoch > update.controllerEpoch) throw new ControllerFencedError(name, update.controllerEpoch, current.record.controllerEpoch);
    }
    let obj: Topic & KubeObject = structuredClone(current.object);
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

  private async writeTopic(name: string, objectName: string, obj: Topic & KubeObject, update: TopicUpdate, stale: (err: unknown) => Error): Promise<TopicRecord> {
    if (update.spec) {
      obj.spec = { ...obj.spec, partitions: update.spec.partitions, replicationFactor: update.spec.replicationFactor, config: { ...update.spec.configs } };
      obj = await this.customObjects.replaceNamespacedCustomObject({
        group, version, namespace: this.ns, plural: 'topics', name: objectName, body: obj, fieldManager: this.fieldManager,
      }).catch((err: unknown) => { throw stale(err); }) as Topic & KubeObject;
    }
    if (update.partitions || update.controllerEpoch !== undefined) {
      obj.status = { ...obj.status };
      if (update.partitions) {
        obj.status.partitions = update.partitions.map(partitionStatus);
        obj.status.leaders = leadersSummary(update.partitions);
      }
      if (update.controllerEpoch !== undefined) obj.status.controllerEpoch = update.controllerEpoch;
      obj = await this.customObjects.replaceNamespacedCustomObjectStatus({
        group, version, namespace: this.ns, plural: 'topics', name: objectName, body: obj, fieldManager: this.fieldManager,
      }).catch((err: unknown) => { throw stale(err); }) as Topic & KubeObject;
    }
    await this.topicWatch.waitUntil(() => rvAtLeast(this.topicWatch.cache.get(objectName)?.metadata.resourceVersion, obj.metadata.resourceVersion!));
    return this.toRecord(obj);
  }

  async deleteTopic(name: string): Promise<void> {
    this.checkOpen();
    const current = this.topics.get(name);
    if (!current) throw new KafkaError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${name}' does not exist.`);
    try {
      await this.customObjects.deleteNamespacedCustomObject({ group, version, namespace: this.ns, plural: 'topics', name: current.object.metadata.name });
    } catch (err) {
      if (httpCode(err) === 404) throw new KafkaError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${name}' does not exist.`);
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
    for (const obj of this.topicWatch.cache.values()) {
      if (this.isOurs(obj) && !obj.metadata.deletionTimestamp && !obj.status?.topicId) wrapped(obj);
    }
    this.pendingListeners.add(wrapped);
    return () => { this.pendingListeners.delete(wrapped); };
  }

  /**
   * Annotates a Topic being deleted with `data-removed.brook.dev/broker-<id>: <topicId>`: the
   * operator's finalizer waits for every live broker with a replica to say its data is gone.
   */
  async acknowledgeTopicDataRemoved(name: string, topicId: string, brokerId: number): Promise<void> {
    const obj = [...this.topicWatch.cache.values()].find((o) => this.isOurs(o) && kafkaTopicName(o) === name && o.status?.topicId === topicId);
    if (!obj) return; // already gone
    try {
      await this.customObjects.patchNamespacedCustomObject({
        group, version, namespace: this.ns, plural: 'topics', name: obj.metadata.name, fieldManager: this.fieldManager,
        body: { metadata: { annotations: { [`data-removed.brook.dev/broker-${brokerId}`]: topicId } } },
      }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    } catch (err) {
      if (httpCode(err) !== 404) throw err;
    }
  }

  /** Writes the first partition state of a pending Topic (status subresource, compare-and-swap). */
  async placePendingTopic(spec: TopicSpec, partitions: readonly PartitionState[], controllerEpoch?: number): Promise<TopicRecord> {
    this.checkOpen();
    const obj = [...this.topicWatch.cache.values()].find((o) => this.isOurs(o) && kafkaTopicName(o) === spec.name) as (Topic & KubeObject) | undefined;
    if (!obj || obj.metadata.deletionTimestamp) throw new KafkaError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${spec.name}' does not exist.`);
    if (obj.status?.topicId) throw new KafkaError('TOPIC_ALREADY_EXISTS', `Topic '${spec.name}' is already placed.`);
    const body = {
      ...obj,
      status: {
        ...obj.status, topicId: randomUUID(), partitions: [...partitions].map(partitionStatus), leaders: leadersSummary(partitions),
        ...(controllerEpoch === undefined ? {} : { controllerEpoch }),
      },
    };
    const placed = await this.customObjects.replaceNamespacedCustomObjectStatus({
      group, version, namespace: this.ns, plural: 'topics', name: obj.metadata.name, body, fieldManager: this.fieldManager,
    }).catch((err: unknown) => { throw httpCode(err) === 409 ? new StaleVersionError(`topic ${spec.name}`, obj.metadata.resourceVersion!, '?') : this.translate(err, spec.name); }) as Topic & KubeObject;
    await this.topicWatch.waitUntil(() => rvAtLeast(this.topicWatch.cache.get(obj.metadata.name)?.metadata.resourceVersion, placed.metadata.resourceVersion!));
    return this.toRecord(placed);
  }

  /** API server refusals (422: the CRD's validation) as Kafka errors. */
  private translate(err: unknown, topic: string): Error {
    const code = httpCode(err);
    if (code === 422) {
      const msg = apiMessage(err);
      const name = /partitions/.test(msg) ? 'INVALID_PARTITIONS'
        : /replicationFactor/.test(msg) ? 'INVALID_REPLICATION_FACTOR'
          : /topicName|metadata\.name/.test(msg) ? 'INVALID_TOPIC_EXCEPTION'
            : /config/.test(msg) ? 'INVALID_CONFIG' : 'INVALID_REQUEST';
      return new KafkaError(name, `Topic '${topic}': ${msg}`);
    }
    return err instanceof Error ? err : new Error(String(err));
  }

  // ---------------------------------------------------------------- leases

  private brokerLeaseName(id: number): string { return `brook-${this.cluster}-broker-${id}`; }
  private get controllerLeaseName(): string { return `brook-${this.cluster}-controller`; }

  private leaseMs(lease: Lease): number {
    return Number(lease.metadata.annotations?.[leaseMsAnnotation] ?? (lease.spec.leaseDurationSeconds ?? 15) * 1000);
  }

  /**
   * Whether `lease` has run out: a whole lease length passed, on the local clock, during which
   * this store's view of the leases was known current and showed no renewal. Time in which the
   * view was not current (watch broken, API server unreachable) proves nothing — no news is not
   * expiry — and each holder gets a whole lease length again once the view is current again.
   */
  private expired(lease: Lease): boolean {
    const now = this.clock();
    const seen = this.observed.get(lease.metadata.name);
    const renewedAt = seen && seen.rv === lease.metadata.resourceVersion ? seen.at : now;
    const watchedSince = Math.max(renewedAt, this.leaseWatch.freshSince);
    return Math.min(now, this.leaseWatch.freshAt) >= watchedSince + this.leaseMs(lease);
  }

  private onLeaseEvent(type: WatchEventType, obj: Lease): void {
    const name = obj.metadata.name;
    const prev = this.observed.get(name);
    if (prev) clearTimeout(prev.timer);
    if (type === 'DELETED') {
      this.observed.delete(name);
    } else {
      const timer = setTimeout(() => this.recomputeLeases(), this.leaseMs(obj) + 1);
      timer.unref();
      this.observed.set(name, { rv: obj.metadata.resourceVersion!, at: this.clock(), timer });
    }
    this.recomputeLeases();
  }

  private liveBrokers(): BrokerRegistration[] {
    const out: BrokerRegistration[] = [];
    for (const lease of this.leaseWatch.cache.values()) {
      if (lease.metadata.labels?.[roleLabel] !== 'broker' || !lease.spec.holderIdentity || this.expired(lease)) continue;
      const a = lease.metadata.annotations ?? {};
      out.push({ id: Number(lease.spec.holderIdentity), host: a['brook.dev/host'] ?? '', port: Number(a['brook.dev/port'] ?? 0), rack: a['brook.dev/rack'] ?? null, listeners: decodeListeners(a['brook.dev/listeners']) });
    }
    return out.sort((x, y) => x.id - y.id);
  }

  private currentController(): ControllerLease | null {
    const lease = this.leaseWatch.cache.get(this.controllerLeaseName);
    if (!lease?.spec.holderIdentity || this.expired(lease)) return null;
    return { holder: Number(lease.spec.holderIdentity), epoch: lease.spec.leaseTransitions ?? 0 };
  }

  private recomputeLeases(): void {
    if (this.closed) return;
    const brokers = this.liveBrokers();
    const bKey = JSON.stringify(brokers);
    if (bKey !== this.liveBrokersKey) {
      this.liveBrokersKey = bKey;
      for (const l of this.brokerListeners) l(brokers);
    }
    const controller = this.currentController();
    const cKey = JSON.stringify(controller);
    if (cKey !== this.controllerKey) {
      this.controllerKey = cKey;
      for (const l of this.controllerListeners) l(controller);
    }
  }

  private async writeLease(lease: Lease, create: boolean): Promise<Lease> {
    const args = { ...leaseGvp, namespace: this.ns, body: lease, fieldManager: this.fieldManager };
    const written = (create
      ? await this.customObjects.createNamespacedCustomObject(args)
      : await this.customObjects.replaceNamespacedCustomObject({ ...args, name: lease.metadata.name })) as Lease;
    await this.leaseWatch.waitUntil(() => rvAtLeast(this.leaseWatch.cache.get(lease.metadata.name)?.metadata.resourceVersion, written.metadata.resourceVersion!));
    return written;
  }

  private async readLease(name: string): Promise<Lease | undefined> {
    try {
      return await this.customObjects.getNamespacedCustomObject({ ...leaseGvp, namespace: this.ns, name }) as Lease;
    } catch (err) {
      if (httpCode(err) === 404) return undefined;
      throw err;
    }
  }

  private newLease(name: string, role: string, holder: number, leaseMs: number, annotations: Record<string, string>, transitions?: number): Lease {
    const now = microTime(this.clock());
    return {
      apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
      metadata: { name, labels: { [clusterLabel]: this.cluster, [roleLabel]: role }, annotations: { ...annotations, [leaseMsAnnotation]: String(leaseMs) } },
      spec: { holderIdentity: String(holder), leaseDurationSeconds: Math.max(1, Math.ceil(leaseMs / 1000)), acquireTime: now, renewTime: now, ...(transitions === undefined ? {} : { leaseTransitions: transitions }) },
    };
  }

  async heartbeatBroker(reg: BrokerRegistration, leaseMs: number): Promise<void> {
    this.checkOpen();
    const name = this.brokerLeaseName(reg.id);
    const annotations: Record<string, string> = { 'brook.dev/host': reg.host, 'brook.dev/port': String(reg.port), ...(reg.rack === null ? {} : { 'brook.dev/rack': reg.rack }), ...(reg.listeners ? { 'brook.dev/listeners': encodeListeners(reg.listeners) } : {}) };
    for (let attempt = 0; ; attempt++) {
      const current = this.leaseWatch.cache.get(name) ?? await this.readLease(name);
      const lease = this.newLease(name, 'broker', reg.id, leaseMs, annotations);
      if (current) {
        lease.metadata.resourceVersion = current.metadata.resourceVersion;
        lease.metadata.ownerReferences = current.metadata.ownerReferences; // the operator's (Cluster garbage collection)
        lease.spec.acquireTime = current.spec.acquireTime;
      }
      try {
        await this.writeLease(lease, !current);
        return;
      } catch (err) {
        if (httpCode(err) !== 409 || attempt >= 5) throw err;
      }
    }
  }

  async unregisterBroker(id: number): Promise<void> {
    const name = this.brokerLeaseName(id);
    try {
      await this.customObjects.deleteNamespacedCustomObject({ ...leaseGvp, namespace: this.ns, name });
    } catch (err) {
      if (httpCode(err) === 404) return;
      throw err;
    }
    await this.leaseWatch.waitUntil(() => !this.leaseWatch.cache.has(name));
  }

  watchBrokers(listener: (brokers: readonly BrokerRegistration[]) => void): () => void {
    listener(this.liveBrokers());
    this.brokerListeners.add(listener);
    return () => { this.brokerListeners.delete(listener); };
  }

  async claimController(id: number, leaseMs: number): Promise<ControllerLease> {
    this.checkOpen();
    const name = this.controllerLeaseName;
    for (let attempt = 0; ; attempt++) {
      const current = await this.readLease(name);
      const holder = current?.spec.holderIdentity;
      const epoch = current?.spec.leaseTransitions ?? 0;
      let lease: Lease;
      let result: ControllerLease;
      if (current && holder === String(id)) {
        lease = this.newLease(name, 'controller', id, leaseMs, {}, epoch);
        lease.spec.acquireTime = current.spec.acquireTime;
        result = { holder: id, epoch };
      } else if (current && holder && !this.expired(current)) {
        return { holder: Number(holder), epoch };
      } else {
        lease = this.newLease(name, 'controller', id, leaseMs, {}, epoch + 1);
        result = { holder: id, epoch: epoch + 1 };
      }
      if (current) lease.metadata.resourceVersion = current.metadata.resourceVersion;
      if (current) lease.metadata.ownerReferences = current.metadata.ownerReferences;
      try {
        await this.writeLease(lease, !current);
        return result;
      } catch (err) {
        if (httpCode(err) !== 409 || attempt >= 5) throw err;
      }
    }
  }

  async releaseController(id: number): Promise<void> {
    const name = this.controllerLeaseName;
    for (let attempt = 0; ; attempt++) {
      const current = await this.readLease(name);
      if (!current || current.spec.holderIdentity !== String(id)) return;
      const { holderIdentity: _, ...spec } = current.spec;
      try {
        await this.writeLease({ ...current, spec }, false);
        return;
      } catch (err) {
        if (httpCode(err) !== 409 || attempt >= 5) throw err;
      }
    }
  }

  /**
   * Dynamic broker configs have no home on Kubernetes yet (the brokers' Role allows Topics and
   * Leases only): none are set, and setting one is refused with a clear error.
   */
  watchBrokerConfigs(listener: (configs: DynamicBrokerConfigs) => void): () => void {
    listener({});
    return () => undefined;
  }

  async setBrokerConfigs(entity: string): Promise<void> {
    throw new KafkaError('INVALID_REQUEST', `Dynamic broker configs (broker '${entity}') are not supported on the Kubernetes metadata store yet; set them in the Cluster's broker config.`);
  }

  watchController(listener: (lease: ControllerLease | null) => void): () => void {
    listener(this.currentController());
    this.controllerListeners.add(listener);
    return () => { this.controllerListeners.delete(listener); };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.topicWatch.close();
    this.leaseWatch.close();
    for (const o of this.observed.values()) clearTimeout(o.timer);
    this.topicListeners.clear();
    this.pendingListeners.clear();
    this.brokerListeners.clear();
    this.controllerListeners.clear();
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('BROOK_ERR_STORE_CLOSED: the metadata store is closed');
  }
}

/**
 * A partition's state as the Topic's `status.partitions[]` holds it: a reassignment in flight
 * is `reassignment` (target, adding, removing), absent when none is.
 */
function partitionStatus(p: PartitionState): TopicPartitionStatus {
  const { addingReplicas = [], removingReplicas = [], ...rest } = p;
  const status: TopicPartitionStatus = { ...rest, replicas: [...p.replicas], isr: [...p.isr] };
  if (addingReplicas.length === 0 && removingReplicas.length === 0) return status;
  const reassignment = {
    targetReplicas: p.replicas.filter((r) => !removingReplicas.includes(r)),
    addingReplicas: [...addingReplicas],
    removingReplicas: [...removingReplicas],
  };
  return { ...status, reassignment };
}

/** The inverse of partitionStatus. */
function partitionState(p: TopicPartitionStatus): PartitionState {
  const state = { partition: p.partition, replicas: p.replicas, leader: p.leader, isr: p.isr, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch };
  const adding = p.reassignment?.addingReplicas ?? [];
  const removing = p.reassignment?.removingReplicas ?? [];
  return adding.length === 0 && removing.length === 0 ? state : { ...state, addingReplicas: adding, removingReplicas: removing };
}
