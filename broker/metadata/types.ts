/**
 * The cluster metadata the brokers share, and the `MetadataStore` contract every backend keeps
 * (memory, file, and later Kubernetes). Topics are the unit: a topic's `spec` is what a user or
 * a CreateTopics request asked for; its `partitions` are live partition state, written by the
 * controller. Writes are compare-and-swap on `version`, so concurrent writers never overwrite
 * each other silently: the loser gets a `StaleVersionError` and retries on fresh state.
 */
export { ControllerFencedError, StaleVersionError } from './errors.ts';
import type { ScramCredential, ScramCredentials, ScramMechanism } from '../security/scram.ts';
export type { ScramCredential, ScramCredentials, ScramMechanism } from '../security/scram.ts';
import type { AclBinding } from '../security/acls.ts';
export type { AclBinding } from '../security/acls.ts';

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
  /**
   * A reassignment in flight (Kafka's PartitionRecord fields): `replicas` is then the union of
   * the original and the target replicas; `addingReplicas` = target − original (catching up),
   * `removingReplicas` = original − target (dropped once every adding replica is in the ISR).
   * The target is `replicas` − `removingReplicas`, the original `replicas` − `addingReplicas`.
   * Absent or both empty: no reassignment.
   */
  readonly addingReplicas?: readonly number[];
  readonly removingReplicas?: readonly number[];
}

export interface TopicRecord {
  readonly spec: TopicSpec;
  /** UUID in canonical text form; a new one each time a topic of this name is created. */
  readonly topicId: string;
  readonly partitions: readonly PartitionState[];
  /**
   * Epoch of the controller lease under which the partition state was last written by a
   * controller (0: never). A write made under an older epoch is refused (ControllerFencedError).
   */
  readonly controllerEpoch: number;
  /** Opaque; changes on every write (resourceVersion in Kubernetes). */
  readonly version: string;
}

/** A broker as the cluster sees it while its liveness lease holds. */
export interface BrokerRegistration {
  readonly id: number;
  /** The advertised address of its inter-broker listener (what replication connects to). */
  readonly host: string;
  readonly port: number;
  readonly rack: string | null;
  /** Every listener's advertised address; absent: the one listener above. */
  readonly listeners?: readonly ListenerEndpoint[];
}

/** One advertised listener of a broker (Kafka's advertised.listeners entry). */
export interface ListenerEndpoint {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

/** The controller lease: who holds it, and an epoch that grows with every change of holder. */
export interface ControllerLease {
  readonly holder: number;
  readonly epoch: number;
}

/** Dynamic broker configs by entity: a broker id as text, or '' for the cluster-wide default. */
export type DynamicBrokerConfigs = Readonly<Record<string, Readonly<Record<string, string>>>>;

/** One SCRAM credential set (credential) or removed (null) for a user and mechanism. */
export interface ScramCredentialChange {
  readonly user: string;
  readonly mechanism: ScramMechanism;
  readonly credential: ScramCredential | null;
}

/** What updateAcls's change makes: the new bindings and what to tell the caller. */
export interface AclChange<T> {
  readonly acls: readonly AclBinding[];
  readonly result: T;
}

export interface TopicUpdate {
  readonly spec?: TopicSpec;
  readonly partitions?: readonly PartitionState[];
  readonly controllerEpoch?: number;
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
  /**
   * Topics declared but not yet placed (a Topic resource applied with kubectl has a spec but no
   * partition state): `listener` gets each now and each new one; the controller places them with
   * placePendingTopic. Stores where every topic is created placed never call it.
   */
  watchPendingTopics(listener: (spec: TopicSpec) => void): () => void;
  /**
   * Gives a pending topic its first partition state (and topic id); `controllerEpoch` as in
   * updateTopic.
   */
  placePendingTopic(spec: TopicSpec, partitions: readonly PartitionState[], controllerEpoch?: number): Promise<TopicRecord>;
  /**
   * Records that broker `brokerId` deleted its copies of a deleted topic (the Kubernetes store
   * annotates the Topic so the operator's finalizer can complete); a no-op where nothing waits.
   */
  acknowledgeTopicDataRemoved(name: string, topicId: string, brokerId: number): Promise<void>;
  /**
   * Compare-and-swap: fails with StaleVersionError when `expectedVersion` is not current.
   * A controller's write passes the epoch of the controller lease it holds as `controllerEpoch`:
   * the write fails with ControllerFencedError if the topic was written under a newer epoch, and
   * otherwise records this one (a write with only `controllerEpoch` just fences older
   * controllers off the topic). Writes without it (leaders' ISR changes, CreatePartitions...)
   * keep the topic's epoch.
   */
  updateTopic(name: string, expectedVersion: string, update: TopicUpdate): Promise<TopicRecord>;
  /** Fails with UNKNOWN_TOPIC_OR_PARTITION if there is no such topic. */
  deleteTopic(name: string): Promise<void>;
  /**
   * Calls `listener` with a `put` for every existing topic, then with every change, in order.
   * Returns a function that stops the watch.
   */
  watchTopics(listener: (event: TopicEvent) => void): () => void;
  /**
   * Creates or renews `reg.id`'s liveness lease, which expires `leaseMs` after this call unless
   * renewed again. A broker whose lease expired is no longer live.
   */
  heartbeatBroker(reg: BrokerRegistration, leaseMs: number): Promise<void>;
  /** Ends a broker's lease now (controlled shutdown). */
  unregisterBroker(id: number): Promise<void>;
  /** Calls `listener` with the live brokers now and after every change. Returns the unsubscribe. */
  watchBrokers(listener: (brokers: readonly BrokerRegistration[]) => void): () => void;
  /**
   * Takes the controller lease for `id` if it is free or expired, or renews it if `id` holds
   * it; returns the lease as it stands after the call. The epoch grows with each new holder.
   */
  claimController(id: number, leaseMs: number): Promise<ControllerLease>;
  /** Gives the controller lease up if `id` holds it. */
  releaseController(id: number): Promise<void>;
  /** Calls `listener` with the controller lease now (null when nobody holds it) and after every change. */
  watchController(listener: (lease: ControllerLease | null) => void): () => void;
  /**
   * Dynamic broker configs (Kafka's IncrementalAlterConfigs on a BROKER resource, e.g. the
   * replication throttle rates): by entity, a broker id as text or '' for the cluster-wide
   * default. `listener` gets them all now and after every change. Returns the unsubscribe.
   */
  watchBrokerConfigs(listener: (configs: DynamicBrokerConfigs) => void): () => void;
  /** Replaces one entity's dynamic configs (an empty record removes the entity); last writer wins. */
  setBrokerConfigs(entity: string, configs: Readonly<Record<string, string>>): Promise<void>;
  /** Reserves `count` producer ids and returns the first; never hands out an id twice. */
  allocateProducerIds(count: number): Promise<bigint>;
  /**
   * SCRAM credentials (salted: salt, iterations, StoredKey, ServerKey; never a password), user →
   * mechanism → credential. `listener` gets them all now and after every change. Returns the unsubscribe.
   */
  watchScramCredentials(listener: (credentials: ScramCredentials) => void): () => void;
  /** Applies the changes together (a user left with no mechanism disappears); last writer wins per credential. */
  alterScramCredentials(changes: readonly ScramCredentialChange[]): Promise<void>;
  /** The ACL bindings the authorizer enforces: `listener` gets them all now and after every change. Returns the unsubscribe. */
  watchAcls(listener: (acls: readonly AclBinding[]) => void): () => void;
  /**
   * Replaces the ACL bindings with what `change` makes of the current ones, atomically: `change`
   * is pure and may run again on fresh bindings after a concurrent write. Returns its result.
   */
  updateAcls<T>(change: (current: readonly AclBinding[]) => AclChange<T>): Promise<T>;
  close(): Promise<void>;
}

/** Listeners in Kafka's advertised.listeners form, `NAME://host:port,...` (how a Lease annotation carries them). */
export function encodeListeners(listeners: readonly ListenerEndpoint[]): string {
  return listeners.map((l) => `${l.name}://${l.host.includes(':') ? `[${l.host}]` : l.host}:${l.port}`).join(',');
}

/** The inverse of encodeListeners; undefined when absent or malformed (the registration then has one listener). */
export function decodeListeners(text: string | undefined): ListenerEndpoint[] | undefined {
  if (!text) return undefined;
  const out: ListenerEndpoint[] = [];
  for (const item of text.split(',')) {
    const m = /^([^:/]+):\/\/\[?([^\]]*?)\]?:(\d+)$/.exec(item.trim());
    if (!m) return undefined;
    out.push({ name: m[1]!, host: m[2]!, port: Number(m[3]) });
  }
  return out;
}
