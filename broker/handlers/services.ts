/**
 * What a request handler may ask of the broker, and nothing more: the handlers see this
 * interface, never the concrete Broker (which implements it). Grouped by owner:
 *
 * - identity and settings: nodeId, clusterId, settings, clock, log;
 * - the cluster as this broker sees it: topics (from the metadata store's watch), live brokers
 *   and their addresses per listener, the controller;
 * - the replicas it hosts: partition(), and proposeIsr() for the leader's ISR changes;
 * - subsystems it composes: topic admin, group coordinator, producer ids, the delayed-fetch and
 *   delayed-produce queues, the request-path metrics, and the store's topic compare-and-swap
 *   (ElectLeaders, AlterPartitionReassignments).
 */
import type { FetchSessionCache } from './fetch-sessions.ts';
import type { BatchWorkerPool } from '../log/batch-pool.ts';
import type { Authorizer } from '../security/authorizer.ts';
import type { BrokerSettings } from '../config.ts';
import type { DelayedFetchQueue, DelayedProduces } from '../delayed-operations.ts';
import type { GroupCoordinator } from '../groups/index.ts';
import type { TransactionCoordinator } from '../transactions/index.ts';
import type { Logger } from '../logger.ts';
import type { BrokerInfo, DynamicBrokerConfigs, MetadataStore, TopicRecord } from '../metadata/index.ts';
import type { ReplicationQuota } from '../replication/index.ts';
import type { BrokerMetrics } from '../metrics.ts';
import type { Partition } from '../partition.ts';
import type { ProducerIdAllocator } from '../producer-ids.ts';
import type { TopicAdmin } from '../topic-admin.ts';
import type { ScramCredential, ScramCredentials, ScramMechanism } from '../security/scram.ts';

/** A live broker's address on one listener, as Metadata and DescribeCluster list it. */
export interface BrokerEndpoint { nodeId: number; host: string; port: number; rack: string | null }

/** The counters the request path bumps. */
export type RequestMetrics = Pick<BrokerMetrics, 'bytesIn' | 'bytesOut' | 'fetchBytesSent' | 'recordsIn' | 'produceErrors'>;

export interface BrokerServices {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly settings: BrokerSettings;
  readonly clock: () => number;
  readonly log: Logger;

  topic(name: string): TopicRecord | undefined;
  topicNameById(id: string): string | undefined;
  allTopics(): Iterable<TopicRecord>;
  /** Resolves once every store change seen so far has been applied locally. */
  settled(): Promise<void>;
  /** The live brokers (holding their liveness lease), this one included while it starts. */
  liveBrokers(): BrokerInfo[];
  /** The live brokers' addresses on `listener`. */
  brokerEndpoints(listener: string): BrokerEndpoint[];
  /** The broker holding the controller lease, or -1. */
  controllerId(): number;

  partition(topic: string, index: number): Partition | undefined;
  /** Proposes an ISR change for a partition this broker leads (see ReplicaManager). */
  proposeIsr(p: Partition, isr: number[]): void;

  readonly admin: TopicAdmin;
  readonly groups: GroupCoordinator;
  readonly transactions: TransactionCoordinator;
  /** Asks the coordinator of `transactionalId` whether these partitions are in the producer's ongoing transaction (KIP-890 part 1). */
  verifyTxnPartitions(transactionalId: string, producerId: bigint, epoch: number, partitions: Array<{ topic: string; partition: number }>, add?: boolean): Promise<Map<string, number>>;
  /** How long a transaction marker waits for its partition's ISR. */
  readonly markerTimeoutMs: number;
  readonly producerIds: ProducerIdAllocator;
  readonly delayedFetches: DelayedFetchQueue;
  /** Incremental fetch sessions (KIP-227) of consumers and followers. */
  readonly fetchSessions: FetchSessionCache;
  readonly delayedProduces: DelayedProduces;
  /** Verifies produced batches' CRC-32C and re-compresses them on worker threads (brook.worker.threads); absent or disabled: the event loop does. */
  readonly batchWorkers?: BatchWorkerPool;
  readonly metrics: RequestMetrics;
  readonly store: Pick<MetadataStore, 'getTopic' | 'updateTopic' | 'listTopics' | 'setBrokerConfigs' | 'alterScramCredentials' | 'updateAcls'>;
  /** The authorizer (authorizer.class.name), or null: every request allowed. */
  readonly authorizer: Authorizer | null;
  /** A user's SCRAM credential as the metadata store has it (SASL listeners check proofs against it). */
  scramCredential(user: string, mechanism: ScramMechanism): ScramCredential | undefined;
  /** Every SCRAM credential the store has (DescribeUserScramCredentials). */
  scramCredentials(): ScramCredentials;
  /** The leader side's replication throttle (leader.replication.throttled.rate). */
  readonly leaderQuota: ReplicationQuota;
  /** Dynamic broker configs as the store has them (entity '' = cluster default). */
  dynamicBrokerConfigs(): DynamicBrokerConfigs;
  /** The replicas this broker hosts (DescribeLogDirs). */
  hostedPartitions(): Iterable<Partition>;
  /** The absolute path of the log directory (log.dirs: one per broker). */
  readonly logDir: string;
}
