/**
 * Broker: one Kafka-compatible broker, and the composition root of its parts: it builds them,
 * wires them to each other, starts them in order and stops them (StopMode). The parts do the
 * jobs: LocalTopics follows the store's topics and hosts the replicas (logs on disk through
 * LogManager); ReplicaManager replicates them; Membership and Controller keep the cluster;
 * GroupCoordinator and TransactionCoordinator; DynamicBrokerConfig; BrokerSecurity; ListenerSet
 * serves the Kafka protocol (handlers see the broker as BrokerServices); HealthServer exposes
 * /metrics, /healthz and /readyz. What stays here is what ready means and the facade the
 * handlers and the tests ask.
 */
import { resolve } from 'node:path';
import { BrokerSettings } from './config.ts';
import { DelayedFetchQueue, DelayedProduces } from './delayed-operations.ts';
import { FetchSessionCache } from './handlers/fetch-sessions.ts';
import { BatchWorkerPool, workerThreadsFor } from './log/batch-pool.ts';
import { DynamicBrokerConfig } from './dynamic-broker-config.ts';
import { createLogger } from './logger.ts';
import type { Logger } from './logger.ts';
import { LogCleaner } from './log/index.ts';
import { LocalTopics } from './local-topics.ts';
import type { PartitionLeaderDuties } from './local-topics.ts';
import { LogManager } from './log-manager.ts';
import type { DynamicBrokerConfigs, MetadataStore, TopicRecord, BrokerInfo } from './metadata/index.ts';
import { BrokerMetrics, partitionView } from './metrics.ts';
import type { Partition } from './partition.ts';
import { bindHost, ListenerSet } from './server/index.ts';
import { HealthServer } from './http/health-server.ts';
import { TopicAdmin } from './topic-admin.ts';
import { PendingTopics } from './pending-topics.ts';
import { ProducerIdAllocator } from './producer-ids.ts';
import { GroupCoordinator, groupCoordinatorConfig, OFFSETS_TOPIC } from './groups/index.ts';
import { TransactionCoordinator, transactionCoordinatorConfig, TRANSACTION_STATE_TOPIC, TxnMarkerChannel, writeMarkersLocally } from './transactions/index.ts';
import { KafkaConnection } from './client/kafka-connection.ts';
import { Controller } from './controller.ts';
import { Membership } from './membership.ts';
import { handOffLeadership, isReassigning, isThrottledReplica, ReplicaManager } from './replication/index.ts';
import type { ReplicationQuota } from './replication/index.ts';
import { resolveListeners } from './listeners.ts';
import { Authorizer } from './security/authorizer.ts';
import { BrokerSecurity } from './security/broker-security.ts';
import type { ClientSecurity } from './security/listener-security.ts';
import type { ScramCredential, ScramCredentials, ScramMechanism } from './security/scram.ts';
import type { Endpoint, ListenerPlan } from './listeners.ts';
import type { ListenerEndpoint } from './metadata/index.ts';
import type { BrokerEndpoint, BrokerServices } from './handlers/services.ts';
import { nativeUnavailableReason } from './native/index.ts';

export type { Endpoint } from './listeners.ts';

export interface BrokerOptions {
  nodeId: number;
  /**
   * The single-listener shorthand (a PLAINTEXT listener): the bind address, and what clients are
   * told (default: the bind address, a wildcard host replaced by this host's address, the real
   * port when the port is 0). Without it, the `listeners` settings decide (default 0.0.0.0:9092).
   */
  listen?: Endpoint;
  advertised?: Endpoint;
  /** An already resolved listener plan (the CLI resolves it to fail fast); overrides the above. */
  listeners?: ListenerPlan;
  /**
   * Listeners whose address is learnt after start (a node port's node address, a load
   * balancer's): not advertised until setAdvertisedListener gives their address.
   */
  pendingListeners?: readonly string[];
  dataDir: string;
  store: MetadataStore;
  settings?: BrokerSettings;
  /** null: no metrics HTTP server. 0: any free port. */
  metricsPort?: number | null;
  metricsHost?: string;
  logger?: Logger;
  clock?: () => number;
}

/**
 * How a broker stops. controlled: hand leadership off, deregister, finish in-flight requests,
 * flush and checkpoint. crash: what a killed process leaves behind (no hand-off, the liveness
 * lease left to expire, connections dropped, logs abandoned unflushed) — `brook local`'s
 * `crash N` and the failover tests.
 */
export type StopMode = 'controlled' | 'crash';

export class Broker implements BrokerServices {
  readonly nodeId: number;
  readonly settings: BrokerSettings;
  readonly store: MetadataStore;
  readonly metrics: BrokerMetrics;
  readonly admin: TopicAdmin;
  readonly delayedFetches = new DelayedFetchQueue();
  readonly fetchSessions: FetchSessionCache;
  readonly delayedProduces = new DelayedProduces();
  readonly batchWorkers: BatchWorkerPool;
  readonly producerIds: ProducerIdAllocator;
  readonly groups: GroupCoordinator;
  readonly transactions: TransactionCoordinator;
  readonly authorizer: Authorizer | null;
  readonly log: Logger;
  readonly clock: () => number;
  clusterId = '';
  readonly membership: Membership;
  readonly controller: Controller;
  readonly replicas: ReplicaManager;
  readonly cleaner: LogCleaner | null;
  /** How this broker connects to the others' inter-broker listener (replication, transaction markers). */
  readonly clientSecurity: ClientSecurity;
  /** Replication throttles (leader/follower.replication.throttled.rate, dynamic broker configs). */
  readonly leaderQuota: ReplicationQuota;
  readonly followerQuota: ReplicationQuota;

  private readonly opts: BrokerOptions;
  private readonly logs: LogManager;
  /** The topics from the store's watch and the replicas hosted here. */
  private readonly local: LocalTopics;
  private readonly listeners: ListenerSet;
  private readonly security: BrokerSecurity;
  private readonly dynamicConfig: DynamicBrokerConfig;
  /** Connections to other brokers for WriteTxnMarkers, by broker id. */
  private readonly markers: TxnMarkerChannel;
  /** Declared topics without partition state yet (kubectl-applied Topic resources): the controller places them. */
  private readonly pendingTopics: PendingTopics;
  private unwatchPending: (() => void) | null = null;
  private rackValue: string | null;
  private health: HealthServer | null = null;
  private ready = false;
  private stopping: Promise<void> | null = null;

  private constructor(opts: BrokerOptions) {
    this.opts = opts;
    this.nodeId = opts.nodeId;
    this.settings = opts.settings ?? new BrokerSettings();
    this.batchWorkers = new BatchWorkerPool(workerThreadsFor(this.settings.int('brook.worker.threads')), (done) => this.metrics.workerBytes(done));
    this.store = opts.store;
    this.log = opts.logger ?? createLogger(`broker-${opts.nodeId}`);
    if (this.settings.bool('brook.fetch.sendfile') && nativeUnavailableReason !== null) {
      this.log.warn(`brook.fetch.sendfile: fetched records are read into memory, not sent from the page cache: ${nativeUnavailableReason}`);
    }
    this.clock = opts.clock ?? Date.now;
    this.logs = new LogManager({ dataDir: opts.dataDir, logger: this.log, clock: this.clock });
    const plan = opts.listeners ?? resolveListeners({
      listeners: this.settings.get('listeners'),
      advertisedListeners: this.settings.get('advertised.listeners'),
      protocolMap: this.settings.get('listener.security.protocol.map'),
      interBrokerListenerName: this.settings.get('inter.broker.listener.name'),
    }, { listen: opts.listen, advertised: opts.advertised });
    this.listeners = new ListenerSet(plan, opts.pendingListeners ?? [], this.log);
    this.security = new BrokerSecurity({ settings: this.settings, plan, store: this.store, log: this.log });
    this.clientSecurity = this.security.client;
    this.rackValue = this.settings.get('broker.rack');
    this.admin = new TopicAdmin({ store: this.store, settings: this.settings, liveBrokers: () => this.liveBrokers() });
    this.producerIds = new ProducerIdAllocator(this.store);
    this.fetchSessions = new FetchSessionCache({ maxSessions: this.settings.int('max.incremental.fetch.session.cache.slots'), clock: this.clock });
    this.groups = new GroupCoordinator({
      logger: this.log.child('groups'),
      clock: this.clock,
      config: groupCoordinatorConfig(this.settings),
      topics: {
        byName: (name) => {
          const t = this.local.topic(name);
          return t ? { topicId: t.topicId, partitions: t.partitions.length } : undefined;
        },
        nameById: (id) => this.topicNameById(id),
        names: () => this.local.names(),
      },
    });
    this.markers = new TxnMarkerChannel({
      nodeId: this.nodeId,
      topic: (name) => this.local.topic(name),
      liveBroker: (id) => this.membership.live.find((b) => b.id === id),
      writeLocally: (m) => writeMarkersLocally(this, m),
      timeoutMs: () => this.markerTimeoutMs,
      connect: (endpoint, clientId, timeoutMs) => this.connectTo(endpoint, clientId, timeoutMs),
      log: this.log,
    });
    this.transactions = new TransactionCoordinator({
      logger: this.log.child('transactions'),
      clock: this.clock,
      config: transactionCoordinatorConfig(this.settings),
      allocateProducerId: () => this.producerIds.allocate(),
      markers: { write: (m) => this.markers.write(m) },
      partitionExists: (topic, index) => index >= 0 && index < (this.local.topic(topic)?.partitions.length ?? 0),
    });
    this.membership = new Membership({
      store: this.store,
      self: () => ({ id: this.nodeId, host: this.advertised.host, port: this.advertised.port, rack: this.rack, listeners: this.advertisedListeners() }),
      sessionMs: this.settings.int('broker.session.timeout.ms'),
      heartbeatMs: this.settings.int('broker.heartbeat.interval.ms'),
      logger: this.log.child('membership'),
      clock: this.clock,
      onLiveBrokers: () => this.clusterChanged(),
      onControllerChange: () => this.clusterChanged(),
    });
    this.pendingTopics = new PendingTopics({
      store: this.store, admin: this.admin, log: this.log,
      controllerEpoch: () => (this.membership.isController ? this.membership.controllerLease?.epoch ?? null : null),
      stopping: () => this.stopping !== null,
    });
    this.controller = new Controller({
      store: this.store,
      logger: this.log.child('controller'),
      uncleanFor: (topic) => this.settings.topicConfigs(topic.spec.configs)['unclean.leader.election.enable'] === 'true',
      epoch: () => (this.membership.isController ? this.membership.controllerLease!.epoch : null),
      live: () => this.membership.liveIds(),
    });
    const self = this;
    this.metrics = new BrokerMetrics(opts.nodeId, {
      partitions: () => [...self.local.partitions()].map((p) => partitionView(p, self.clock())),
      groupOffsets: function* () {
        for (const o of self.groups.committedOffsets()) {
          const p = self.local.partition(o.topic, o.partition);
          yield { ...o, committed: o.offset, highWatermark: p?.isLeader ? p.highWatermark : null };
        }
      },
      groupStates: () => self.groups.groupCounts(),
      delayedFetches: () => self.delayedFetches.size,
      delayedProduces: () => self.delayedProduces.size,
      connections: () => self.listeners.connectionCount,
      transactions: () => self.transactions.counts(),
      controller: () => ({ isController: self.membership.isController, epoch: self.membership.controllerLease?.epoch ?? -1, elections: self.controller.elections }),
    });
    this.authorizer = Authorizer.fromSettings(this.settings, this.store, (d) => this.metrics.authorized(d));
    const cleanerLog = this.log.child('cleaner');
    this.cleaner = this.settings.bool('log.cleaner.enable') ? new LogCleaner({
      clock: this.clock,
      backoffMs: this.settings.int('log.cleaner.backoff.ms'),
      logger: { info: (m) => cleanerLog.info(m), warn: (m) => cleanerLog.warn(m), error: (m, e) => cleanerLog.error(`${m}${e ? `: ${(e as Error).message}` : ''}`) },
      onClean: (r) => this.metrics.cleaned(r),
    }) : null;
    this.local = new LocalTopics({
      nodeId: this.nodeId, settings: this.settings, store: this.store, logs: this.logs, cleaner: this.cleaner, clock: this.clock, log: this.log,
      leaderDuties: new Map<string, PartitionLeaderDuties>([[OFFSETS_TOPIC, this.groups], [TRANSACTION_STATE_TOPIC, this.transactions]]),
      applied: (topic, hosted) => {
        if (this.stopping) return;
        this.replicas.follow(hosted);
        // a reassignment in flight moves on when its ISR changes: the controller checks it
        if (this.membership.isController && topic.partitions.some(isReassigning)) void this.controller.reconcile(false);
      },
      dropped: (p) => this.replicas.unfollow(p),
    });
    this.dynamicConfig = new DynamicBrokerConfig({
      nodeId: this.nodeId, settings: this.settings, store: this.store, clock: this.clock,
      onThrottled: (side, bytes) => this.metrics.replicationThrottledBytes.inc({ side }, bytes),
      checkTlsFiles: () => this.security.checkTlsFiles(),
      reapplyTopicConfigs: () => this.local.reapplyConfigs(),
    });
    this.leaderQuota = this.dynamicConfig.leaderQuota;
    this.followerQuota = this.dynamicConfig.followerQuota;
    this.replicas = new ReplicaManager({
      nodeId: this.nodeId, store: this.store, logger: this.log.child('replication'), metrics: this.metrics,
      lagMaxMs: this.settings.int('replica.lag.time.max.ms'),
      fetchWaitMs: this.settings.int('replica.fetch.wait.max.ms'),
      fetchMaxBytes: this.settings.int('replica.fetch.max.bytes'),
      endpointOf: (id) => this.membership.live.find((b) => b.id === id),
      security: this.clientSecurity,
      partitions: () => this.local.partitions(),
      clock: this.clock,
      followerQuota: this.followerQuota,
      followerThrottled: (p) => isThrottledReplica(this.local.topic(p.topic)?.spec.configs['follower.replication.throttled.replicas'], p.index, this.nodeId),
    });
  }

  /** Opens the logs this broker hosts, then starts serving. Resolves once ready. */
  static async start(opts: BrokerOptions): Promise<Broker> {
    const broker = new Broker(opts);
    try {
      await broker.startup();
    } catch (err) {
      await broker.stop().catch(() => undefined);
      throw err;
    }
    return broker;
  }

  private async startup(): Promise<void> {
    await this.logs.start();
    this.clusterId = this.settings.get('cluster.id') ?? await this.store.clusterId();
    if (this.opts.metricsPort !== null && this.opts.metricsPort !== undefined) {
      this.health = await HealthServer.start({
        host: this.opts.metricsHost ?? bindHost(this.listeners.plan.listeners[0]!.bind.host), port: this.opts.metricsPort,
        registry: this.metrics.registry, readinessProblem: () => this.readinessProblem(),
      });
    }
    this.dynamicConfig.start();
    await this.security.start();
    this.local.start();
    await this.local.settled();
    await this.logs.removeStray(this.local.partitions());
    await this.listeners.start(this, this.metrics, this.security.listeners);
    this.security.watchTlsFiles(this.settings.int('ssl.reload.check.interval.ms'), (listener) => this.metrics.tlsReloads.inc({ listener }));
    this.logs.startPeriodicTasks(() => this.local.partitions(), {
      retentionCheckMs: this.settings.int('log.retention.check.interval.ms'),
      checkpointMs: this.settings.int('replica.high.watermark.checkpoint.interval.ms'),
    });
    this.unwatchPending = this.store.watchPendingTopics((spec) => this.pendingTopics.add(spec));
    await this.membership.start();
    this.replicas.start();
    this.cleaner?.start();
    this.replicas.sync();
    if (this.settings.bool('auto.leader.rebalance.enable')) this.controller.checkPreferredLeadersEvery(this.settings.int('leader.imbalance.check.interval.seconds') * 1000);
    this.ready = true;
  }

  /**
   * Ready means: serving, registered in the cluster (holding its liveness lease), and in the ISR
   * of every hosted partition that has a live leader — so a restarted broker is ready only once it
   * caught up, which is what a rolling restart waits for. Replicas a reassignment is adding here
   * do not count: they may catch up for long at a throttle while the broker serves the rest.
   */
  readinessProblem(): string | null {
    if (this.stopping) return 'stopping';
    if (!this.ready) return 'starting';
    if (!this.membership.live.some((b) => b.id === this.nodeId)) return 'not registered in the cluster yet';
    const live = this.membership.liveIds();
    // (a replica a reassignment is adding may catch up for long, throttled: the broker serves meanwhile)
    const behind = [...this.local.partitions()].filter((p) => p.state.leader >= 0 && live.has(p.state.leader) && !p.state.isr.includes(this.nodeId)
      && !p.state.addingReplicas?.includes(this.nodeId));
    if (behind.length > 0) return `catching up: not in the ISR of ${behind.length} partition(s), e.g. ${behind[0]!.name}`;
    return null;
  }

  /** Live brokers or the controller lease changed. */
  private clusterChanged(): void {
    if (this.stopping) return;
    if (this.membership.isController) {
      void this.controller.reconcile(false);
      void this.pendingTopics.place();
    }
    this.replicas.sync();
  }

  /** Proposes an ISR change for a partition this broker leads (see ReplicaManager). */
  proposeIsr(p: Partition, isr: number[]): void { this.replicas.proposeIsr(p, isr); }

  scramCredential(user: string, mechanism: ScramMechanism): ScramCredential | undefined { return this.security.scramCredential(user, mechanism); }
  scramCredentials(): ScramCredentials { return this.security.scramCredentials(); }
  dynamicBrokerConfigs(): DynamicBrokerConfigs { return this.dynamicConfig.current(); }

  /** A connection to another broker's inter-broker listener, with this broker's TLS and SASL. */
  connectTo(endpoint: { host: string; port: number }, clientId: string, requestTimeoutMs: number): KafkaConnection {
    return new KafkaConnection({ host: endpoint.host, port: endpoint.port, clientId, requestTimeoutMs, security: this.clientSecurity });
  }

  /** The inter-broker listener's advertised address (what this broker registers as host:port). */
  get advertised(): Endpoint { return this.listeners.interBrokerAdvertised; }
  get interBrokerListener(): string { return this.listeners.plan.interBroker; }
  /** Every advertised listener's address, in the order of the listeners setting (pending ones left out). */
  advertisedListeners(): ListenerEndpoint[] { return this.listeners.advertisedListeners(); }

  /**
   * A listener's advertised address learnt after start (or changed: a node port's pod moved to
   * another node); renews the registration at once so Metadata answers with it.
   */
  setAdvertisedListener(name: string, endpoint: Endpoint): void {
    if (this.listeners.setAdvertised(name, endpoint) && this.ready && !this.stopping) void this.membership.renew();
  }
  /** The bound port of the inter-broker listener. */
  get listenPort(): number { return this.listeners.ports().get(this.listeners.plan.interBroker) ?? 0; }
  /** Bound port per listener name. */
  listenPorts(): Map<string, number> { return this.listeners.ports(); }
  get metricsAddress(): Endpoint | null { return this.health?.address ?? null; }
  get rack(): string | null { return this.rackValue; }

  /**
   * The rack can arrive after start (a file the kubelet fills in later): take it, and renew the
   * registration at once so Metadata and replica placement see it without waiting a heartbeat.
   */
  setRack(rack: string | null): void {
    if (rack === this.rackValue) return;
    this.log.info(rack === null ? 'rack removed' : `rack ${rack}`);
    this.rackValue = rack;
    if (this.ready && !this.stopping) void this.membership.renew();
  }

  /** The live brokers (holding their liveness lease); this broker counts itself live while starting. */
  liveBrokers(): BrokerInfo[] { return this.membership.liveBrokers(); }
  /** The live brokers' addresses on `listener` (default: the inter-broker listener); see Membership.endpoints. */
  brokerEndpoints(listener: string = this.listeners.plan.interBroker): BrokerEndpoint[] { return this.membership.endpoints(listener); }
  /** The broker holding the controller lease, or -1. */
  controllerId(): number { return this.membership.controllerLease?.holder ?? -1; }

  topic(name: string): TopicRecord | undefined { return this.local.topic(name); }
  topicNameById(id: string): string | undefined { return this.local.topicNameById(id); }
  allTopics(): IterableIterator<TopicRecord> { return this.local.all(); }
  partition(topic: string, index: number): Partition | undefined { return this.local.partition(topic, index); }
  hostedPartitions(): Iterable<Partition> { return this.local.partitions(); }
  get logDir(): string { return resolve(this.logs.dataDir); }

  /** Resolves once every store change seen so far has been applied locally. */
  settled(): Promise<void> { return this.local.settled(); }

  /** How long a transaction marker waits for its partition's ISR (Kafka: request.timeout.ms of the marker channel). */
  get markerTimeoutMs(): number { return this.settings.int('transaction.state.log.write.timeout.ms'); }

  /**
   * Partition verification (KIP-890 part 1), asked by this broker as a partition leader before it
   * appends a producer's first transactional batch to a partition: the coordinator of
   * `transactionalId` (this broker, or the leader of its __transaction_state partition, asked
   * over the transaction channel) answers NONE per partition that is in the producer's ongoing
   * transaction. Coordinator-level failures come back as their error code for every partition.
   */
  /** Asks the producer's transaction coordinator whether the partitions are in its transaction, or (`add`: protocol v2) to add them. */
  async verifyTxnPartitions(transactionalId: string, producerId: bigint, epoch: number, partitions: Array<{ topic: string; partition: number }>, add = false): Promise<Map<string, number>> {
    const index = this.transactions.partitionFor(transactionalId);
    const leader = this.local.topic(TRANSACTION_STATE_TOPIC)?.partitions[index]?.leader ?? -1;
    if (leader === this.nodeId) {
      return add ? this.transactions.addPartitions(transactionalId, producerId, epoch, partitions, 2) : this.transactions.verifyPartitions(transactionalId, producerId, epoch, partitions);
    }
    return this.markers.verify(leader, transactionalId, producerId, epoch, partitions, add);
  }

  /**
   * Stops the broker (see StopMode). controlled: stop accepting, answer parked fetches, let
   * in-flight requests finish, then flush and close every log and the store's watch.
   */
  stop(mode: StopMode = 'controlled'): Promise<void> {
    this.stopping ??= this.shutdown(mode);
    return this.stopping;
  }

  private async shutdown(mode: StopMode): Promise<void> {
    const controlled = mode === 'controlled';
    this.ready = false;
    const periodicTasksStopped = this.logs.stopPeriodicTasks();
    this.controller.stop();
    if (controlled && this.settings.bool('controlled.shutdown.enable')) {
      await handOffLeadership({
        store: this.store, nodeId: this.nodeId, log: this.log,
        others: new Set(this.membership.live.map((b) => b.id).filter((id) => id !== this.nodeId)),
        topics: new Set([...this.local.partitions()].filter((p) => p.isLeader).map((p) => p.topic)),
      });
      await this.local.settled();
    }
    await this.membership.stop({ unregister: controlled });
    await this.replicas.stop();
    this.local.stop();
    this.unwatchPending?.();
    this.dynamicConfig.stop();
    this.security.close();
    this.delayedFetches.wakeAll();
    this.groups.close();
    this.transactions.close();
    this.authorizer?.close();
    this.markers.close();
    await this.listeners.close(controlled ? undefined : 0);
    await this.batchWorkers.close();
    await this.local.settled();
    await this.cleaner?.stop();
    await periodicTasksStopped; // a checkpoint write it started, which must not race the next one (or a restart's)
    await this.local.close(controlled);
    await this.health?.close();
  }
}
