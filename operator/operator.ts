/**
 * Operator: informers → keys → work queues → reconcilers, behind leader election.
 *
 * Every replica runs the informers (a warm cache makes handover fast and /readyz meaningful);
 * only the replica holding the leader Lease runs the workers. Events map to keys:
 *   Cluster                 → its key; its Topics' keys when it appears, goes or changes spec
 *   Topic                   → its key; its Cluster's key when its partition health changed
 *   owned objects, pods     → the owning Cluster (owner reference, else the brook.dev/cluster label)
 *   broker/controller Lease → the Cluster when the holder changed; deleting Topics of that Cluster
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { ClusterReconciler, clusterKeyOf } from './cluster-controller.ts';
import { clusterLabel, defaultBrokerImage, type OperatorSettings } from './cluster-resources.ts';
import { Controller, keyOf } from './controller.ts';
import { Kube, topicPlacement } from '../broker/k8s/index.ts';
import { LeaderElector } from './leader-election.ts';
import { createLogger, type Logger } from './log.ts';
import { OperatorMetrics } from './metrics.ts';
import type { AdminFactory } from './rebalancer.ts';
import { TopicReconciler } from './topic-controller.ts';
import { SecurityMaterial } from './security-material.ts';
import { UserReconciler, type UserAdminFactory } from './user-controller.ts';
import { realClock, type Clock } from './workqueue.ts';
import { World, ownedKinds, type LeaseObject, type TopicObject } from './world.ts';

export interface OperatorOptions {
  kubeConfig: KubeConfig;
  /** Watch one namespace; all when undefined. */
  namespace?: string;
  settings?: Partial<OperatorSettings>;
  /** Leader election; false runs the workers at once (single replica, tests). */
  leaderElection?: false | { namespace: string; name?: string; identity?: string; leaseDurationMs?: number; renewDeadlineMs?: number; retryPeriodMs?: number };
  /** Called when leadership is lost (the CLI exits). */
  onLostLeadership?: () => void;
  metrics?: OperatorMetrics;
  /** How the rebalancer reaches a cluster's brokers (default: Brook's Kafka connection to the addresses in their Leases). */
  adminFactory?: AdminFactory;
  /** How the User reconciler reaches a cluster's brokers (default: Brook's Kafka connection, authenticated as the operator). */
  userAdminFactory?: UserAdminFactory;
  log?: Logger;
  clock?: Clock;
  workers?: number;
}

export class Operator {
  readonly kube: Kube;
  readonly world: World;
  readonly metrics: OperatorMetrics;
  readonly clusters: Controller;
  readonly topics: Controller;
  readonly users: Controller;
  readonly userReconciler: UserReconciler;
  readonly security: SecurityMaterial;
  readonly clusterReconciler: ClusterReconciler;
  readonly topicReconciler: TopicReconciler;
  readonly identity: string;
  private readonly elector: LeaderElector | undefined;
  private readonly log: Logger;
  private running = false;
  private monitoringTimer: NodeJS.Timeout | undefined;
  private metricsTimer: NodeJS.Timeout | undefined;
  private readonly lastGeneration = new Map<string, string | undefined>();
  private readonly lastTopicHealth = new Map<string, string>();
  private readonly lastLeaseHolder = new Map<string, string | null | undefined>();

  constructor(opts: OperatorOptions) {
    const clock = opts.clock ?? realClock;
    this.metrics = opts.metrics ?? new OperatorMetrics();
    this.log = opts.log ?? createLogger({ fields: { logger: 'operator' } });
    this.kube = new Kube(opts.kubeConfig, { onRequest: (verb, resource) => this.metrics.apiRequests.inc({ verb, resource }) });
    this.world = new World(this.kube, this.log, clock, opts.namespace);
    const settings: OperatorSettings = { defaultImage: defaultBrokerImage, ...opts.settings };
    this.security = new SecurityMaterial({ kube: this.kube, now: () => clock.now() });
    this.clusterReconciler = new ClusterReconciler({ kube: this.kube, world: this.world, settings, log: this.log, clock, metrics: this.metrics, adminFactory: opts.adminFactory, security: this.security });
    this.userReconciler = new UserReconciler({ kube: this.kube, world: this.world, log: this.log, clock, security: this.security, adminFactory: opts.userAdminFactory });
    this.topicReconciler = new TopicReconciler({ kube: this.kube, world: this.world, log: this.log, clock });
    this.clusters = new Controller({ kind: 'Cluster', reconcile: this.clusterReconciler.reconcile, log: this.log, metrics: this.metrics, clock, workers: opts.workers });
    this.topics = new Controller({ kind: 'Topic', reconcile: this.topicReconciler.reconcile, log: this.log, metrics: this.metrics, clock, workers: opts.workers });
    this.users = new Controller({ kind: 'User', reconcile: this.userReconciler.reconcile, log: this.log, metrics: this.metrics, clock, workers: opts.workers });
    this.identity = (opts.leaderElection && opts.leaderElection.identity) || `${hostname()}_${randomBytes(4).toString('hex')}`;
    if (opts.leaderElection) {
      const le = opts.leaderElection;
      this.elector = new LeaderElector({
        kube: this.kube, namespace: le.namespace, name: le.name ?? 'brook-operator', identity: this.identity,
        leaseDurationMs: le.leaseDurationMs, renewDeadlineMs: le.renewDeadlineMs, retryPeriodMs: le.retryPeriodMs, clock, log: this.log,
        onStartedLeading: () => this.startWorkers(),
        onStoppedLeading: () => { this.metrics.leader.set(0); void this.clusters.stop(); void this.topics.stop(); void this.users.stop(); opts.onLostLeadership?.(); },
        onNewLeader: (id) => this.log.info('leader', { leader: id ?? null }),
      });
    }
    this.wire();
  }

  get isLeader(): boolean { return this.elector ? this.elector.isLeader : this.running; }
  get ready(): boolean { return this.world.synced; }

  async start(): Promise<void> {
    const started = Date.now();
    await this.clusterReconciler.discoverMonitoring();
    await this.world.start();
    if (await this.clusterReconciler.discoverCertManager()) await this.world.watchCertificates();
    this.log.info('caches synced', { ms: Date.now() - started, clusters: this.world.clusters.list().length, topics: this.world.topics.list().length });
    this.metricsTimer = setInterval(() => this.updateManagedGauge(), 5_000);
    this.metricsTimer.unref();
    this.updateManagedGauge();
    // The Prometheus Operator may be installed later: look again every 5 minutes (one request).
    // cert-manager too: once its CRDs appear, its Certificates are watched and every Cluster looked at
    // (only Clusters that have no certificates yet, or ask for cert-manager, start using it).
    this.monitoringTimer = setInterval(() => void this.discover(), 300_000);
    this.monitoringTimer.unref();
    if (this.elector) this.elector.start();
    else this.startWorkers();
  }

  private async discover(): Promise<void> {
    await this.clusterReconciler.discoverMonitoring();
    const had = !!this.world.certificates;
    if (!(await this.clusterReconciler.discoverCertManager()) || had) return;
    try {
      await this.world.watchCertificates();
    } catch (err) {
      this.log.warn('cannot watch cert-manager Certificates', { error: (err as Error).message });
      return;
    }
    for (const c of this.world.clusters.list()) this.clusters.queue.add(keyOf(c));
  }

  async stop(): Promise<void> {
    clearInterval(this.monitoringTimer);
    clearInterval(this.metricsTimer);
    await this.elector?.stop();
    await Promise.all([this.clusters.stop(), this.topics.stop(), this.users.stop()]);
    await this.world.stop();
    this.kube.close();
    this.metrics.leader.set(0);
    this.running = false;
  }

  private startWorkers(): void {
    if (this.running) return;
    this.running = true;
    this.metrics.leader.set(1);
    this.clusters.start();
    this.topics.start();
    this.users.start();
    // Level-based: look at everything once on taking over.
    for (const c of this.world.clusters.list()) this.clusters.queue.add(keyOf(c));
    for (const t of this.world.topics.list()) this.topics.queue.add(keyOf(t));
    for (const u of this.world.users.list()) this.users.queue.add(keyOf(u));
  }

  private updateManagedGauge(): void {
    this.metrics.managedResources.set({ kind: 'Cluster' }, this.world.clusters.list().length);
    this.metrics.managedResources.set({ kind: 'Topic' }, this.world.topics.list().length);
    this.metrics.managedResources.set({ kind: 'User' }, this.world.users.list().length);
    for (const k of ownedKinds) this.metrics.managedResources.set({ kind: k }, this.world.owned[k].list().length);
    this.metrics.managedResources.set({ kind: 'Pod' }, this.world.pods.list().length);
  }

  private enqueueTopicsOf(namespace: string, cluster: string, only?: (t: TopicObject) => boolean): void {
    for (const t of this.world.topicsOf(namespace, cluster)) if (!only || only(t)) this.topics.queue.add(keyOf(t));
  }

  private wire(): void {
    const w = this.world;
    w.clusters.on((type, c) => {
      const key = keyOf(c);
      this.clusters.queue.add(key);
      // (a deletionTimestamp counts as a change: the Cluster's Topics release their finalizers)
      const gen = type === 'delete' ? undefined : `${c.metadata.generation}${c.metadata.deletionTimestamp ? '-deleting' : ''}`;
      if (type !== 'update' || this.lastGeneration.get(key) !== gen) this.enqueueTopicsOf(c.metadata.namespace!, c.metadata.name);
      if (type === 'delete') this.lastGeneration.delete(key); else this.lastGeneration.set(key, gen);
      // Users follow their Cluster (its listeners, authorization, existence).
      for (const u of w.usersOf(c.metadata.namespace!, c.metadata.name)) this.users.queue.add(keyOf(u));
    });
    w.users.on((_type, u) => this.users.queue.add(keyOf(u)));
    w.topics.on((type, t) => {
      const key = keyOf(t);
      this.topics.queue.add(key);
      const health = type === 'delete' ? '' : JSON.stringify([t.spec?.cluster, t.metadata.deletionTimestamp ?? '', (topicPlacement(t)?.partitions ?? []).map((p) => [p.leader, p.isr.length, p.replicas.length])]);
      if (this.lastTopicHealth.get(key) !== health && t.spec?.cluster) this.clusters.queue.add(`${t.metadata.namespace}/${t.spec.cluster}`);
      if (type === 'delete') this.lastTopicHealth.delete(key); else this.lastTopicHealth.set(key, health);
    });
    for (const kind of ownedKinds) {
      w.owned[kind].on((_type, obj) => { const k = clusterKeyOf(obj); if (k) this.clusters.queue.add(k); });
    }
    w.pods.on((_type, pod) => { const k = clusterKeyOf(pod); if (k) this.clusters.queue.add(k); });
    // cert-manager issued or renewed a certificate: the Cluster composes its broker certificates again.
    w.onCertificate((_type, cert) => { const k = clusterKeyOf(cert); if (k) this.clusters.queue.add(k); });
    w.leases.on((type, lease: LeaseObject) => {
      const cluster = lease.metadata.labels?.[clusterLabel];
      if (!cluster) return;
      const leaseKey = keyOf(lease);
      const holder = type === 'delete' ? undefined : lease.spec.holderIdentity;
      // Renewals (same holder) change nothing the reconcilers compute from events; expiry is
      // caught by their requeueAfter.
      if (type === 'update' && this.lastLeaseHolder.get(leaseKey) === holder) return;
      if (type === 'delete') this.lastLeaseHolder.delete(leaseKey); else this.lastLeaseHolder.set(leaseKey, holder);
      this.clusters.queue.add(`${lease.metadata.namespace}/${cluster}`);
      this.enqueueTopicsOf(lease.metadata.namespace!, cluster, (t) => !!t.metadata.deletionTimestamp);
      // Users waiting for brokers.
      for (const u of w.usersOf(lease.metadata.namespace!, cluster)) if (u.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True') this.users.queue.add(keyOf(u));
    });
  }
}
