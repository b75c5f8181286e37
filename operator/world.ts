/**
 * World: the informer caches the reconcilers read (never the API server), plus what the
 * operator derives from them: broker liveness from the brokers' Leases (observed on the local
 * clock, like KubernetesStore) and partition health per Cluster from Topic statuses.
 */
import type { Cluster, Topic, User } from '../broker/k8s/index.ts';
import { clusterLabel, managedSelector, names } from './cluster-resources.ts';
import { LeaseObservations, leaseDurationMs, leaseRemainingMs, resources, topicPlacement, type Kube, type KubeObject, type LeaseObject } from '../broker/k8s/index.ts';
import { Informer } from './informer.ts';
import { certManagerResources, type CertificateObject } from './cert-manager.ts';
import type { Logger } from './log.ts';
import type { Clock } from './workqueue.ts';

export type { LeaseObject } from '../broker/k8s/index.ts';

export interface PodObject extends KubeObject {
  spec?: { nodeName?: string };
  status?: { phase?: string; hostIP?: string; conditions?: Array<{ type: string; status: string }> };
}

export interface StatefulSetObject extends KubeObject {
  spec: { replicas?: number; volumeClaimTemplates?: unknown[] };
  status?: { observedGeneration?: number; replicas?: number; readyReplicas?: number; updatedReplicas?: number; currentRevision?: string; updateRevision?: string };
}

export type ClusterObject = Cluster & KubeObject & { metadata: KubeObject['metadata'] };
export type TopicObject = Topic & KubeObject & { metadata: KubeObject['metadata'] };
export type UserObject = User & KubeObject & { metadata: KubeObject['metadata'] };

/** The kinds a Cluster owns and the operator watches (label app.kubernetes.io/managed-by=brook-operator). */
export const ownedKinds = ['StatefulSet', 'Service', 'ConfigMap', 'ServiceAccount', 'Role', 'RoleBinding', 'PodDisruptionBudget', 'NetworkPolicy'] as const;
export type OwnedKind = (typeof ownedKinds)[number];

export interface PartitionHealth { total: number; online: number; underReplicated: number; underMinIsr: number; offline: number }

export class World {
  readonly clusters: Informer<ClusterObject>;
  readonly topics: Informer<TopicObject>;
  readonly users: Informer<UserObject>;
  readonly owned: Record<OwnedKind, Informer<KubeObject>>;
  readonly pods: Informer<PodObject>;
  readonly leases: Informer<LeaseObject>;
  /** cert-manager Certificates the operator made: only once the API server serves them (watchCertificates). */
  certificates: Informer<CertificateObject> | undefined;
  private readonly certificateHandlers: Array<(type: 'add' | 'update' | 'delete', cert: CertificateObject) => void> = [];
  private readonly kube: Kube;
  private readonly log: Logger;
  private readonly namespace: string | undefined;
  private readonly clock: Clock;
  /** Lease namespace/name → resourceVersion and when this process saw it change. */
  private readonly leaseSeen: LeaseObservations;

  constructor(kube: Kube, log: Logger, clock: Clock, namespace?: string) {
    this.clock = clock;
    this.kube = kube;
    this.log = log;
    this.namespace = namespace;
    this.leaseSeen = new LeaseObservations(() => clock.now());
    const opts = { namespace };
    this.clusters = new Informer(kube, resources.Cluster, log, opts);
    this.topics = new Informer(kube, resources.Topic, log, opts);
    this.users = new Informer(kube, resources.User, log, opts);
    const owned = {} as Record<OwnedKind, Informer<KubeObject>>;
    for (const k of ownedKinds) owned[k] = new Informer(kube, resources[k], log, { ...opts, labelSelector: managedSelector });
    this.owned = owned;
    this.pods = new Informer(kube, resources.Pod, log, { ...opts, labelSelector: managedSelector });
    this.leases = new Informer(kube, resources.Lease, log, { ...opts, labelSelector: 'brook.dev/role' });
    this.leases.on((type, lease) => {
      const key = `${lease.metadata.namespace}/${lease.metadata.name}`;
      if (type === 'delete') { this.leaseSeen.forget(key); return; }
      this.leaseSeen.observe(key, lease.metadata.resourceVersion ?? '');
    });
  }

  informers(): Array<Informer<KubeObject>> {
    return [this.clusters, this.topics, this.users, ...Object.values(this.owned), this.pods, this.leases, ...(this.certificates ? [this.certificates] : [])] as Array<Informer<KubeObject>>;
  }

  /** Handlers for Certificate events (kept for an informer started later). */
  onCertificate(handler: (type: 'add' | 'update' | 'delete', cert: CertificateObject) => void): void {
    this.certificateHandlers.push(handler);
    this.certificates?.on(handler);
  }

  /** Starts watching the operator's cert-manager Certificates (call once cert-manager.io/v1 is served); resolves when the cache is synced. */
  async watchCertificates(): Promise<void> {
    if (this.certificates) return;
    const informer = new Informer<CertificateObject>(this.kube, certManagerResources.Certificate, this.log, { namespace: this.namespace, labelSelector: managedSelector });
    for (const h of this.certificateHandlers) informer.on(h);
    this.certificates = informer;
    await informer.start();
  }

  get synced(): boolean { return this.informers().every((i) => i.synced); }

  async start(): Promise<void> { await Promise.all(this.informers().map((i) => i.start())); }

  async stop(): Promise<void> { await Promise.all(this.informers().map((i) => i.stop())); }

  /** Milliseconds `lease` stays live from now (≤ 0: expired), measured from when it was observed. */
  leaseRemainingMs(lease: LeaseObject): number {
    if (!lease.spec.holderIdentity) return 0;
    const now = this.clock.now();
    const seenAt = this.leaseSeen.observedAt(`${lease.metadata.namespace}/${lease.metadata.name}`, lease.metadata.resourceVersion ?? '');
    return leaseRemainingMs(now, seenAt ?? now, leaseDurationMs(lease));
  }

  /** Broker ids of `cluster` whose Lease is live. */
  liveBrokers(namespace: string, cluster: string): Set<number> {
    const out = new Set<number>();
    for (const l of this.leases.list(namespace)) {
      if (l.metadata.labels?.[clusterLabel] !== cluster || l.metadata.labels?.['brook.dev/role'] !== 'broker') continue;
      if (this.leaseRemainingMs(l) > 0) out.add(Number(l.spec.holderIdentity));
    }
    return out;
  }

  /**
   * Brokers of `cluster` as they registered in their Leases: id, address (inter-broker listener),
   * rack. Live ones only, or with `graceMs`, also those whose Lease ran out less than `graceMs` ago.
   */
  brokerRegistrations(namespace: string, cluster: string, graceMs = 0): Map<number, { id: number; host: string; port: number; rack: string | null }> {
    const out = new Map<number, { id: number; host: string; port: number; rack: string | null }>();
    for (const l of this.leases.list(namespace)) {
      if (l.metadata.labels?.[clusterLabel] !== cluster || l.metadata.labels?.['brook.dev/role'] !== 'broker') continue;
      if (this.leaseRemainingMs(l) <= -graceMs) continue;
      const a = l.metadata.annotations ?? {};
      const id = Number(l.spec.holderIdentity);
      out.set(id, { id, host: a['brook.dev/host'] ?? '', port: Number(a['brook.dev/port'] ?? 0), rack: a['brook.dev/rack'] ?? null });
    }
    return out;
  }

  /** The controller broker of `cluster` (-1 when none) and how long its lease is good for. */
  controller(namespace: string, cluster: string): { id: number; remainingMs: number } {
    const l = this.leases.get(namespace, names.controllerLease(cluster));
    if (!l?.spec.holderIdentity) return { id: -1, remainingMs: 0 };
    const remainingMs = this.leaseRemainingMs(l);
    return remainingMs > 0 ? { id: Number(l.spec.holderIdentity), remainingMs } : { id: -1, remainingMs: 0 };
  }

  topicsOf(namespace: string, cluster: string): TopicObject[] {
    return this.topics.list(namespace).filter((t) => t.spec?.cluster === cluster);
  }

  usersOf(namespace: string, cluster: string): UserObject[] {
    return this.users.list(namespace).filter((u) => u.spec?.cluster === cluster);
  }

  podsOf(namespace: string, cluster: string): PodObject[] {
    return this.pods.list(namespace).filter((p) => p.metadata.labels?.[clusterLabel] === cluster);
  }

  partitionHealth(cluster: ClusterObject): PartitionHealth {
    const h: PartitionHealth = { total: 0, online: 0, underReplicated: 0, underMinIsr: 0, offline: 0 };
    const clusterMinIsr = Number(cluster.spec.config?.['min.insync.replicas'] ?? 1);
    for (const t of this.topicsOf(cluster.metadata.namespace!, cluster.metadata.name)) {
      if (t.metadata.deletionTimestamp) continue;
      const minIsr = Number(t.spec.config?.['min.insync.replicas'] ?? clusterMinIsr);
      for (const p of topicPlacement(t)?.partitions ?? []) {
        h.total++;
        if (p.leader < 0) h.offline++; else h.online++;
        if (p.isr.length < p.replicas.length) h.underReplicated++;
        if (p.isr.length < Math.min(minIsr, p.replicas.length)) h.underMinIsr++;
      }
    }
    return h;
  }
}

/**
 * Under-replicated partitions a rolling restart must wait for: those missing an in-sync replica
 * on a broker that exists (id below `brokers`). A replica on a broker id that no longer exists
 * can never catch up (strimzi#2964: a roll must not wait for what cannot happen); the drain
 * removes such replicas instead. Partitions whose replication factor is below
 * min.insync.replicas are under-replicated only if their ISR is short, like any other.
 */
export function underReplicatedWaitable(world: World, cluster: ClusterObject, brokers: number): number {
  let n = 0;
  for (const t of world.topicsOf(cluster.metadata.namespace!, cluster.metadata.name)) {
    if (t.metadata.deletionTimestamp) continue;
    for (const p of topicPlacement(t)?.partitions ?? []) {
      if (p.replicas.some((r) => r < brokers && !p.isr.includes(r))) n++;
    }
  }
  return n;
}

export function isPodReady(p: PodObject): boolean {
  return !p.metadata.deletionTimestamp && (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

export function ownerClusterName(obj: KubeObject): string | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.kind === 'Cluster' && r.apiVersion.startsWith('brook.dev/'))?.name;
}
