/**
 * Broker: one Kafka-compatible broker, and the composition root of its parts. It owns the
 * partition replicas assigned to it (their logs on disk through LogManager), follows the
 * metadata store's topic watch to open, update and delete them, serves the Kafka protocol on its
 * listeners (ListenerSet; handlers see it as BrokerServices), and exposes /metrics, /healthz and
 * /readyz (HealthServer). Everything runs on one event loop; changes from the store are applied
 * one at a time, in order, through a single promise chain.
 */
import { resolve } from 'node:path';
import { BrokerSettings } from './config.ts';
import { DelayedFetchQueue, DelayedProduces } from './delayed-operations.ts';
import { createLogger } from './logger.ts';
import type { Logger } from './logger.ts';
import { LogCleaner, logConfigFromTopicConfigs } from './log/index.ts';
import type { LogConfig } from './log/index.ts';
import { LogManager } from './log-manager.ts';
import type { DynamicBrokerConfigs, MetadataStore, TopicEvent, TopicRecord, BrokerInfo } from './metadata/index.ts';
import { BrokerMetrics, partitionView } from './metrics.ts';
import { Partition } from './partition.ts';
import { bindHost, ListenerSet } from './server/index.ts';
import { HealthServer } from './http/health-server.ts';
import { TopicAdmin } from './topic-admin.ts';
import { PendingTopics } from './pending-topics.ts';
import { ProducerIdAllocator } from './producer-ids.ts';
import { GroupCoordinator, groupCoordinatorConfig, OFFSETS_TOPIC } from './groups/index.ts';
import { TransactionCoordinator, TRANSACTION_STATE_TOPIC, TxnMarkerChannel, writeMarkersLocally } from './transactions/index.ts';
import { KafkaConnection } from './client/kafka-connection.ts';
import { Controller } from './controller.ts';
import { Membership } from './membership.ts';
import { handOffLeadership, isReassigning, isThrottledReplica, ReplicaManager, ReplicationQuota } from './replication/index.ts';
import { resolveListeners } from './listeners.ts';
import { Authorizer } from './security/authorizer.ts';
import { aclOperationName, resourceTypeName } from './security/acls.ts';
import { interBrokerClientSecurity, resolveListenerSecurity } from './security/listener-security.ts';
import type { ClientSecurity, ListenerSecurity } from './security/listener-security.ts';
import { isScramMechanism, makeCredential } from './security/scram.ts';
import type { ScramCredential, ScramCredentials, ScramMechanism } from './security/scram.ts';
import type { Endpoint, ListenerPlan } from './listeners.ts';
import type { ListenerEndpoint } from './metadata/index.ts';
import type { BrokerEndpoint, BrokerServices } from './handlers/services.ts';

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
  readonly producerIds: ProducerIdAllocator;
  readonly groups: GroupCoordinator;
  readonly transactions: TransactionCoordinator;
  readonly authorizer: Authorizer | null;
  /** Connections to other brokers for WriteTxnMarkers, by broker id. */
  private readonly markers: TxnMarkerChannel;
  readonly log: Logger;
  readonly clock: () => number;
  readonly delayedProduces = new DelayedProduces();
  clusterId = '';

  private readonly opts: BrokerOptions;
  private readonly partitions = new Map<string, Partition>();
  private readonly topics = new Map<string, TopicRecord>();
  private readonly topicNamesById = new Map<string, string>();
  private readonly listeners: ListenerSet;
  /** Each listener's security (TLS material, SASL mechanisms), resolved at construction. */
  private readonly security = new Map<string, ListenerSecurity>();
  /** How this broker connects to the others' inter-broker listener (replication, transaction markers). */
  readonly clientSecurity: ClientSecurity;
  private scram: ScramCredentials = {};
  private unwatchScram: (() => void) | null = null;
  private rackValue: string | null;
  private health: HealthServer | null = null;
  private unwatch: (() => void) | null = null;
  private applying: Promise<void> = Promise.resolve();
  private retentionTimer: NodeJS.Timeout | null = null;
  private hwCheckpointTimer: NodeJS.Timeout | null = null;
  private readonly logs: LogManager;
  private ready = false;
  private stopping: Promise<void> | null = null;
  readonly membership: Membership;
  readonly controller: Controller;
  readonly replicas: ReplicaManager;
  readonly cleaner: LogCleaner | null;
  private preferredLeaderTimer: NodeJS.Timeout | null = null;
  /** Replication throttles (leader/follower.replication.throttled.rate, dynamic broker configs). */
  readonly leaderQuota: ReplicationQuota;
  readonly followerQuota: ReplicationQuota;
  private brokerConfigs: DynamicBrokerConfigs = {};
  private unwatchBrokerConfigs: (() => void) | null = null;
  /** Declared topics without partition state yet (kubectl-applied Topic resources): the controller places them. */
  private readonly pendingTopics: PendingTopics;
  private unwatchPending: (() => void) | null = null;

  private constructor(opts: BrokerOptions) {
    this.opts = opts;
    this.nodeId = opts.nodeId;
    this.settings = opts.settings ?? new BrokerSettings();
    this.store = opts.store;
    this.log = opts.logger ?? createLogger(`broker-${opts.nodeId}`);
    this.clock = opts.clock ?? Date.now;
    this.logs = new LogManager({ dataDir: opts.dataDir, logger: this.log, clock: this.clock });
    const plan = opts.listeners ?? resolveListeners({
      listeners: this.settings.get('listeners'),
      advertisedListeners: this.settings.get('advertised.listeners'),
      protocolMap: this.settings.get('listener.security.protocol.map'),
      interBrokerListenerName: this.settings.get('inter.broker.listener.name'),
    }, { listen: opts.listen, advertised: opts.advertised });
    this.listeners = new ListenerSet(plan, opts.pendingListeners ?? [], this.log);
    for (const l of plan.listeners) {
      this.security.set(l.name, resolveListenerSecurity(this.settings, l, (err) => this.log.warn(`listener ${l.name}: reloading its TLS files failed (the previous certificate stays in use): ${err.message}`)));
    }
    this.clientSecurity = interBrokerClientSecurity(this.settings, this.security.get(plan.interBroker)!);
    this.rackValue = this.settings.get('broker.rack');
    this.admin = new TopicAdmin({ store: this.store, settings: this.settings, liveBrokers: () => this.liveBrokers() });
    this.producerIds = new ProducerIdAllocator(this.store);
    this.groups = new GroupCoordinator({
      logger: this.log.child('groups'),
      clock: this.clock,
      config: groupCoordinatorConfig(this.settings),
      topics: {
        byName: (name) => {
          const t = this.topics.get(name);
          return t ? { topicId: t.topicId, partitions: t.partitions.length } : undefined;
        },
        nameById: (id) => this.topicNameById(id),
        names: () => this.topics.keys(),
      },
    });
    this.markers = new TxnMarkerChannel({
      nodeId: this.nodeId,
      topic: (name) => this.topics.get(name),
      liveBroker: (id) => this.membership.live.find((b) => b.id === id),
      writeLocally: (m) => writeMarkersLocally(this, m),
      timeoutMs: () => this.markerTimeoutMs,
      connect: (endpoint, clientId, timeoutMs) => this.connectTo(endpoint, clientId, timeoutMs),
      log: this.log,
    });
    this.transactions = new TransactionCoordinator({
      logger: this.log.child('transactions'),
      clock: this.clock,
      config: {
        partitions: this.settings.int('transaction.state.log.num.partitions'),
        maxTimeoutMs: this.settings.int('transaction.max.timeout.ms'),
        abortIntervalMs: this.settings.int('transaction.abort.timed.out.transaction.cleanup.interval.ms'),
        writeTimeoutMs: this.settings.int('transaction.state.log.write.timeout.ms'),
      },
      allocateProducerId: () => this.producerIds.allocate(),
      markers: { write: (m) => this.markers.write(m) },
      partitionExists: (topic, index) => index >= 0 && index < (this.topics.get(topic)?.partitions.length ?? 0),
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
      live: () => this.liveIds(),
    });
    const self = this;
    this.metrics = new BrokerMetrics(opts.nodeId, {
      partitions: () => [...self.partitions.values()].map((p) => partitionView(p, self.clock())),
      groupOffsets: function* () {
        for (const o of self.groups.committedOffsets()) {
          const p = self.partitions.get(key(o.topic, o.partition));
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
    this.authorizer = Authorizer.fromSettings(this.settings, this.store, (d) => this.metrics.authorizerDecisions.inc({
      operation: aclOperationName(d.operation), resource_type: resourceTypeName(d.resourceType), result: d.allowed ? 'allowed' : 'denied',
    }));
    const cleanerLog = this.log.child('cleaner');
    this.cleaner = this.settings.bool('log.cleaner.enable') ? new LogCleaner({
      clock: this.clock,
      backoffMs: this.settings.int('log.cleaner.backoff.ms'),
      logger: { info: (m) => cleanerLog.info(m), warn: (m) => cleanerLog.warn(m), error: (m, e) => cleanerLog.error(`${m}${e ? `: ${(e as Error).message}` : ''}`) },
      onClean: (r) => this.metrics.cleaned(r),
    }) : null;
    this.leaderQuota = new ReplicationQuota({ clock: this.clock, onRecord: (n) => this.metrics.replicationThrottledBytes.inc({ side: 'leader' }, n) });
    this.followerQuota = new ReplicationQuota({ clock: this.clock, onRecord: (n) => this.metrics.replicationThrottledBytes.inc({ side: 'follower' }, n) });
    this.replicas = new ReplicaManager({
      nodeId: this.nodeId, store: this.store, logger: this.log.child('replication'), metrics: this.metrics,
      lagMaxMs: this.settings.int('replica.lag.time.max.ms'),
      fetchWaitMs: this.settings.int('replica.fetch.wait.max.ms'),
      fetchMaxBytes: this.settings.int('replica.fetch.max.bytes'),
      endpointOf: (id) => this.membership.live.find((b) => b.id === id),
      security: this.clientSecurity,
      partitions: () => this.partitions.values(),
      clock: this.clock,
      followerQuota: this.followerQuota,
      followerThrottled: (p) => isThrottledReplica(this.topics.get(p.topic)?.spec.configs['follower.replication.throttled.replicas'], p.index, this.nodeId),
    });
  }

  /**
   * Dynamic broker configs changed in the store: this broker's own over the cluster default over
   * the static settings. Throttle rates apply at once; topic defaults (log.retention.ms,
   * compression.type, min.insync.replicas, ...) are re-applied to every hosted partition whose
   * topic does not override them, without a restart, as Kafka applies them.
   */
  private brokerConfigsChanged(configs: DynamicBrokerConfigs): void {
    this.brokerConfigs = configs;
    this.settings.setDynamic(configs[String(this.nodeId)] ?? {}, configs[''] ?? {});
    for (const sec of this.security.values()) sec.ssl?.check(); // listener.name.X.ssl.keystore.location and friends
    this.reapplyTopicConfigs();
    const rate = (name: string) => {
      const value = Number(configs[String(this.nodeId)]?.[name] ?? configs['']?.[name] ?? this.settings.get(name));
      return Number.isSafeInteger(value) ? value : null; // Kafka's default, Long.MAX_VALUE: no throttle
    };
    this.leaderQuota.setRate(rate('leader.replication.throttled.rate'));
    this.followerQuota.setRate(rate('follower.replication.throttled.rate'));
  }

  dynamicBrokerConfigs(): DynamicBrokerConfigs { return this.brokerConfigs; }

  private reapplyTopicConfigs(): void {
    for (const [name, topic] of this.topics) {
      let effective: Record<string, string>;
      let logConfig: LogConfig;
      try {
        effective = this.settings.topicConfigs(topic.spec.configs);
        logConfig = logConfigFromTopicConfigs(effective);
      } catch (err) {
        this.log.warn(`topic ${name}: dynamic broker configs not applied: ${(err as Error).message}`);
        continue;
      }
      const minIsr = Number(effective['min.insync.replicas']);
      for (const state of topic.partitions) this.partitions.get(key(name, state.partition))?.updateConfig(logConfig, minIsr);
    }
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
    this.unwatchBrokerConfigs = this.store.watchBrokerConfigs((configs) => this.brokerConfigsChanged(configs));
    this.unwatchScram = this.store.watchScramCredentials((credentials) => { this.scram = credentials; });
    await this.ensureOwnScramCredential();
    this.unwatch = this.store.watchTopics((event) => this.enqueue(event));
    await this.applying;
    await this.logs.removeStray(this.partitions.values());
    await this.listeners.start(this, this.metrics, this.security);
    for (const sec of this.security.values()) {
      if (!sec.ssl) continue;
      sec.ssl.onChange(() => {
        this.metrics.tlsReloads.inc({ listener: sec.listener });
        this.log.info(`listener ${sec.listener}: key store / trust store changed, new TLS handshakes use the new files`);
      });
      sec.ssl.watch(this.settings.int('ssl.reload.check.interval.ms'));
    }
    const interval = this.settings.int('log.retention.check.interval.ms');
    this.retentionTimer = setInterval(() => { void this.logs.enforceRetention(this.partitions.values()); }, interval);
    this.retentionTimer.unref();
    this.hwCheckpointTimer = setInterval(() => this.logs.checkpointHighWatermarks(this.partitions.values()), this.settings.int('replica.high.watermark.checkpoint.interval.ms'));
    this.hwCheckpointTimer.unref();
    this.unwatchPending = this.store.watchPendingTopics((spec) => this.pendingTopics.add(spec));
    await this.membership.start();
    this.replicas.start();
    this.cleaner?.start();
    this.replicas.sync();
    if (this.settings.bool('auto.leader.rebalance.enable')) {
      this.preferredLeaderTimer = setInterval(() => {
        if (this.membership.isController) void this.controller.reconcile(true);
      }, this.settings.int('leader.imbalance.check.interval.seconds') * 1000);
      this.preferredLeaderTimer.unref();
    }
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
    const live = this.liveIds();
    // (a replica a reassignment is adding may catch up for long, throttled: the broker serves meanwhile)
    const behind = [...this.partitions.values()].filter((p) => p.state.leader >= 0 && live.has(p.state.leader) && !p.state.isr.includes(this.nodeId)
      && !p.state.addingReplicas?.includes(this.nodeId));
    if (behind.length > 0) return `catching up: not in the ISR of ${behind.length} partition(s), e.g. ${behind[0]!.name}`;
    return null;
  }

  private liveIds(): Set<number> { return new Set(this.membership.live.map((b) => b.id)); }

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

  scramCredential(user: string, mechanism: ScramMechanism): ScramCredential | undefined { return this.scram[user]?.[mechanism]; }
  scramCredentials(): ScramCredentials { return this.scram; }

  /**
   * A SCRAM inter-broker mechanism needs the broker's own user in the store (Kafka bootstraps it
   * with `kafka-storage format --add-scram`): Brook adds it from the broker's JAAS username and
   * password when the store has no credential of that mechanism for the user. An existing one is
   * never overwritten.
   */
  private async ensureOwnScramCredential(): Promise<void> {
    const own = this.clientSecurity.sasl;
    if (!own || !isScramMechanism(own.mechanism) || this.scram[own.username]?.[own.mechanism]) return;
    await this.store.alterScramCredentials([{ user: own.username, mechanism: own.mechanism, credential: makeCredential(own.mechanism, own.password) }]);
    this.log.info(`added the ${own.mechanism} credential of the inter-broker user ${own.username} to the metadata store`);
  }

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
  liveBrokers(): BrokerInfo[] {
    const live = this.membership.live.map((b) => ({ id: b.id, rack: b.rack }));
    return live.some((b) => b.id === this.nodeId) ? live : [...live, { id: this.nodeId, rack: this.rack }].sort((a, b) => a.id - b.id);
  }

  /**
   * The live brokers' addresses on `listener` (a client's Metadata: the listener it connected
   * on). A broker without that listener is left out, as Kafka does; one registered without a
   * listener list has the single address it registered.
   */
  brokerEndpoints(listener: string = this.listeners.plan.interBroker): BrokerEndpoint[] {
    const out: BrokerEndpoint[] = [];
    for (const b of this.membership.live) {
      const e = b.listeners ? b.listeners.find((l) => l.name === listener) : b;
      if (e) out.push({ nodeId: b.id, host: e.host, port: e.port, rack: b.rack });
    }
    const own = this.listeners.advertised(listener);
    if (own && !this.membership.live.some((b) => b.id === this.nodeId)) out.push({ nodeId: this.nodeId, host: own.host, port: own.port, rack: this.rack });
    return out;
  }

  /** The broker holding the controller lease, or -1. */
  controllerId(): number { return this.membership.controllerLease?.holder ?? -1; }

  topic(name: string): TopicRecord | undefined { return this.topics.get(name); }
  topicNameById(id: string): string | undefined { return this.topicNamesById.get(id); }
  allTopics(): IterableIterator<TopicRecord> { return this.topics.values(); }
  partition(topic: string, index: number): Partition | undefined { return this.partitions.get(key(topic, index)); }
  hostedPartitions(): Iterable<Partition> { return this.partitions.values(); }
  get logDir(): string { return resolve(this.logs.dataDir); }

  /** Resolves once every store change seen so far has been applied locally. */
  async settled(): Promise<void> { await this.applying; }

  private enqueue(event: TopicEvent): void {
    this.applying = this.applying.then(() => this.apply(event)).catch((err: Error) => {
      this.log.error(`applying ${event.type} of topic ${event.topic.spec.name} failed: ${err.stack ?? err.message}`);
    });
  }

  private async apply(event: TopicEvent): Promise<void> {
    const topic = event.topic;
    const name = topic.spec.name;
    const previous = this.topics.get(name);
    if (event.type === 'deleted' || (previous && previous.topicId !== topic.topicId)) {
      this.topics.delete(name);
      if (previous) this.topicNamesById.delete(previous.topicId);
      await this.dropPartitions(name);
      if (event.type === 'deleted') {
        this.store.acknowledgeTopicDataRemoved(name, topic.topicId, this.nodeId).catch((err: Error) => {
          this.log.warn(`could not record that the data of deleted topic ${name} is gone: ${err.message}`);
        });
        return;
      }
    }
    this.topics.set(name, topic);
    this.topicNamesById.set(topic.topicId, name);
    const effective = this.settings.topicConfigs(topic.spec.configs);
    const logConfig = logConfigFromTopicConfigs(effective);
    const minIsr = Number(effective['min.insync.replicas']);
    for (const state of topic.partitions) {
      const existing = this.partitions.get(key(name, state.partition));
      const hosted = state.replicas.includes(this.nodeId);
      if (existing && !hosted) {
        await this.dropPartition(existing);
      } else if (existing) {
        const wasLeader = existing.isLeader;
        existing.updateState(state, minIsr);
        existing.updateConfig(logConfig, minIsr);
        if (wasLeader !== existing.isLeader) this.leadershipChanged(existing);
      } else if (hosted) {
        const log = await this.logs.open(name, state.partition, topic.topicId, logConfig);
        const partition = new Partition({
          topic: name, index: state.partition, topicId: topic.topicId, log, nodeId: this.nodeId, state, minInsyncReplicas: minIsr, clock: this.clock,
          checkpointedHighWatermark: this.logs.checkpointedHighWatermark(name, state.partition),
        });
        this.partitions.set(key(name, state.partition), partition);
        // compaction stops at the last stable offset (at most the high watermark), as Kafka's: data of open transactions stays as written
        this.cleaner?.register(log, { uncleanableFrom: () => partition.lastStableOffset });
        if (partition.isLeader) this.leadershipChanged(partition);
      }
    }
    if (!this.stopping) this.replicas.sync();
    // a reassignment in flight moves on when its ISR changes: the controller checks it
    if (this.membership.isController && !this.stopping && topic.partitions.some(isReassigning)) void this.controller.reconcile(false);
  }

  private async dropPartitions(topic: string): Promise<void> {
    for (const p of [...this.partitions.values()]) if (p.topic === topic) await this.dropPartition(p);
  }

  /**
   * Internal topics whose leaders have duties: the group coordinator follows __consumer_offsets,
   * the transaction coordinator __transaction_state.
   */
  private leadershipChanged(p: Partition): void {
    if (p.topic === OFFSETS_TOPIC) {
      if (p.isLeader) this.groups.becameLeader(p);
      else this.groups.resigned(p.index);
    } else if (p.topic === TRANSACTION_STATE_TOPIC) {
      if (p.isLeader) this.transactions.becameLeader(p);
      else this.transactions.resigned(p.index);
    }
  }

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
    const leader = this.topics.get(TRANSACTION_STATE_TOPIC)?.partitions[index]?.leader ?? -1;
    if (leader === this.nodeId) {
      return add ? this.transactions.addPartitions(transactionalId, producerId, epoch, partitions, 2) : this.transactions.verifyPartitions(transactionalId, producerId, epoch, partitions);
    }
    return this.markers.verify(leader, transactionalId, producerId, epoch, partitions, add);
  }

  private async dropPartition(p: Partition): Promise<void> {
    if (p.topic === OFFSETS_TOPIC && p.isLeader) this.groups.resigned(p.index);
    if (p.topic === TRANSACTION_STATE_TOPIC && p.isLeader) this.transactions.resigned(p.index);
    this.partitions.delete(key(p.topic, p.index));
    await this.cleaner?.unregister(p.log);
    await p.log.delete();
    this.log.info(`deleted partition ${p.name}`);
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
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    if (this.hwCheckpointTimer) clearInterval(this.hwCheckpointTimer);
    if (this.preferredLeaderTimer) clearInterval(this.preferredLeaderTimer);
    this.controller.stop();
    if (controlled && this.settings.bool('controlled.shutdown.enable')) {
      await handOffLeadership({
        store: this.store, nodeId: this.nodeId, log: this.log,
        others: new Set(this.membership.live.map((b) => b.id).filter((id) => id !== this.nodeId)),
        topics: new Set([...this.partitions.values()].filter((p) => p.isLeader).map((p) => p.topic)),
      });
      await this.applying;
    }
    await this.membership.stop({ unregister: controlled });
    await this.replicas.stop();
    this.unwatch?.();
    this.unwatchPending?.();
    this.unwatchBrokerConfigs?.();
    this.unwatchScram?.();
    for (const sec of this.security.values()) sec.ssl?.close();
    this.delayedFetches.wakeAll();
    this.groups.close();
    this.transactions.close();
    this.authorizer?.close();
    this.markers.close();
    await this.listeners.close(controlled ? undefined : 0);
    await this.applying;
    await this.cleaner?.stop();
    if (controlled) this.logs.checkpointHighWatermarks(this.partitions.values());
    for (const p of this.partitions.values()) {
      if (!controlled) {
        // A crash lets go of the logs without flushing or writing indexes, producer snapshots or
        // checkpoints (PartitionLog.abandon), so a restart runs recovery; test/harness/power-loss.ts
        // also drops what was never fsynced, as a power failure would.
        await p.log.abandon();
        continue;
      }
      try {
        await p.log.close();
      } catch (err) {
        this.log.error(`closing ${p.name} failed: ${(err as Error).message}`);
      }
    }
    this.partitions.clear();
    await this.health?.close();
  }
}

function key(topic: string, index: number): string { return `${topic}\u0000${index}`; }

