/**
 * Cluster reconcile: makes the owned objects match desiredObjects(cluster), deletes owned
 * objects no longer desired, rolls outdated broker pods one at a time, annotates pods with their
 * rack, and writes status. Level-based: every run starts from the caches, so running it twice,
 * or after a crash half-way, converges to the same state. It writes only differences: in the
 * steady state a run makes no API request at all.
 *
 * Rolling restarts (StatefulSet updateStrategy OnDelete): a pod whose controller-revision-hash
 * differs from the StatefulSet's updateRevision is outdated. One outdated pod is deleted (the
 * StatefulSet controller recreates it from the new template) only when every broker pod exists
 * and is Ready, no partition of the cluster is under-replicated (Topic statuses), and the pod
 * deleted last time has come back Ready as a new pod. The controller broker goes last. So at
 * most one broker is ever down because of the operator.
 */
import type { Cluster } from '../broker/k8s/index.ts';
import {
  advertisedListenersAnnotation, clusterLabel, contains, desiredObjects, externalAdvertisedListeners, overlay, monitoringObjects, names, rackAnnotation,
  selectorString, sha256, withAdoption, type Desired, type OperatorSettings, type ServiceLike,
} from './cluster-resources.ts';
import { findCondition, jsonEqual, setConditions, type ConditionInput } from './conditions.ts';
import { splitKey, type Result } from './controller.ts';
import { KubeErrorCode, isNotFound, kubeCodeOf, resources, type Kube, type KubeObject } from '../broker/k8s/index.ts';
import type { Logger } from './log.ts';
import type { OperatorMetrics } from './metrics.ts';
import { Rebalancer, type AdminFactory, type RebalanceStep } from './rebalancer.ts';
import type { CertManagerView, SecurityMaterial } from './security-material.ts';
import type { CertificatesStatus } from './cert-manager.ts';
import type { Clock } from './workqueue.ts';
import { isPodReady, ownedKinds, underReplicatedWaitable, type ClusterObject, type OwnedKind, type PodObject, type StatefulSetObject, type World } from './world.ts';

/** StorageClasses (cluster-scoped): storage growth reads allowVolumeExpansion. */
const storageClassResource = { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', plural: 'storageclasses', namespaced: false } as const;

/** How often a Cluster is looked at without events (from the caches: no API requests). */
export const clusterResyncMs = 30_000;

export class ClusterReconciler {
  private readonly kube: Kube;
  private readonly world: World;
  private readonly settings: OperatorSettings;
  private readonly log: Logger;
  private readonly clock: Clock;
  /** Pod deleted by the last rolling step, per cluster key: the next step waits until it is back Ready. */
  private readonly rolling = new Map<string, { pod: string; uid: string; since: number }>();
  /** Hash of the monitoring objects last applied, per cluster key (they have no informer). */
  private readonly monitoringApplied = new Map<string, string>();
  /** Storage size the claims were last expanded to, per cluster key (patched once per process). */
  private readonly expanded = new Map<string, string>();
  /** The StorageExpanded condition per cluster key, once a storage growth was asked for. */
  private readonly storage = new Map<string, ConditionInput>();
  private readonly nodeZones = new Map<string, { labels: Record<string, string>; at: number }>();
  /** uid of each cluster's metadata ConfigMap once it carries the owner reference (one GET until then). */
  private readonly adoptedMetadata = new Map<string, string>();
  /** Clusters this process reconciled (kept after deletion): when one disappears, its leftovers are swept (sweepLeftovers). */
  private readonly seen = new Set<string>();
  /** Problems annotating pods already logged (node labels unreadable...), so each is logged once. */
  private readonly warned = new Set<string>();
  monitoring = { serviceMonitor: false, prometheusRule: false };
  readonly rebalancer: Rebalancer;
  readonly security: SecurityMaterial;
  /** ms until a secured cluster's next certificate renewal, per cluster key. */
  private readonly securityRenewalMs = new Map<string, number | undefined>();
  /** Where a TLS cluster's certificates come from, and their readiness (status.certificates), per cluster key. */
  private readonly certificates = new Map<string, CertificatesStatus>();
  /** Whether the API server serves cert-manager.io/v1 Certificates and Issuers (discoverCertManager). */
  certManagerServed = false;

  constructor(opts: { kube: Kube; world: World; settings: OperatorSettings; log: Logger; clock: Clock; metrics?: OperatorMetrics; adminFactory?: AdminFactory; security: SecurityMaterial }) {
    this.security = opts.security;
    this.kube = opts.kube;
    this.world = opts.world;
    this.settings = opts.settings;
    this.log = opts.log.child({ controller: 'Cluster' });
    this.clock = opts.clock;
    this.rebalancer = new Rebalancer({ kube: opts.kube, world: opts.world, log: opts.log, clock: opts.clock, metrics: opts.metrics, adminFactory: opts.adminFactory, security: opts.security });
  }

  /** Checks (discovery) whether the Prometheus Operator's CRDs exist. */
  async discoverMonitoring(): Promise<void> {
    const served = await this.kube.serves('monitoring.coreos.com/v1').catch(() => undefined);
    this.monitoring = { serviceMonitor: !!served?.has('servicemonitors'), prometheusRule: !!served?.has('prometheusrules') };
  }

  /** Checks (discovery) whether cert-manager's CRDs exist. */
  async discoverCertManager(): Promise<boolean> {
    const served = await this.kube.serves('cert-manager.io/v1').catch(() => undefined);
    this.certManagerServed = !!served?.has('certificates') && served.has('issuers');
    return this.certManagerServed;
  }

  /** cert-manager as the security material sees it: served once discovery found it and its Certificates are cached. */
  private certManagerView(): CertManagerView {
    const informer = this.world.certificates;
    return {
      served: this.certManagerServed && !!informer?.synced,
      certificate: (ns, name) => informer?.get(ns, name),
      ownedBy: (ns, uid) => (informer?.list(ns) ?? []).filter((c) => c.metadata.ownerReferences?.some((r) => r.uid === uid)),
    };
  }

  readonly reconcile = async (key: string): Promise<Result> => {
    const { namespace, name } = splitKey(key);
    const cluster = this.world.clusters.get(namespace, name);
    if (!cluster) {
      this.rolling.delete(key);
      this.monitoringApplied.delete(key);
      this.adoptedMetadata.delete(key);
      this.rebalancer.forget(key);
      this.security.forget(key);
      this.securityRenewalMs.delete(key);
      this.certificates.delete(key);
      return this.seen.has(key) ? this.sweepLeftovers(key) : {};
    }
    this.seen.add(key);
    if (cluster.metadata.deletionTimestamp) return {};
    const log = this.log.child({ cluster: key });

    let applyError: Error | undefined;
    try {
      await this.ensureOwned(key, cluster, log);
      await this.ensureMonitoring(key, cluster);
      await this.adoptStoreObjects(key, cluster);
    } catch (err) {
      applyError = err as Error;
    }
    // Pod annotations (rack, external addresses) are best effort: a broker never waits for them.
    if (!applyError) await this.annotatePods(cluster, log);
    const roll = applyError ? { state: 'Blocked' as const, message: '' } : await this.rollStep(key, cluster, log);
    const rebalance = applyError ? undefined : await this.rebalanceStep(key, cluster, log);
    await this.writeStatus(cluster, roll, applyError, rebalance);
    if (applyError) throw applyError;
    const controller = this.world.controller(namespace, name);
    const next = Math.min(clusterResyncMs, this.securityRenewalMs.get(key) ?? clusterResyncMs, roll.state === 'Rolling' ? 5_000 : clusterResyncMs, controller.id >= 0 ? controller.remainingMs + 100 : clusterResyncMs, rebalance?.requeueMs ?? clusterResyncMs);
    return { requeueAfter: Math.max(100, next) };
  };

  /** The rebalancer's step (rebalancer.ts); a failure is reported in the Rebalancing condition and retried. */
  private async rebalanceStep(key: string, cluster: ClusterObject, log: Logger): Promise<RebalanceStep> {
    const ns = cluster.metadata.namespace!;
    const sts = this.world.owned.StatefulSet.get(ns, names.statefulSet(cluster.metadata.name)) as StatefulSetObject | undefined;
    try {
      const step = await this.rebalancer.step(key, cluster, sts);
      if (sts?.spec.replicas !== undefined && sts.spec.replicas === (cluster.spec.replicas ?? 3)) await this.rebalancer.forgetRemovedBrokers(cluster, sts.spec.replicas);
      return step;
    } catch (err) {
      log.warn('rebalance step failed', { error: (err as Error).message });
      return {
        status: this.rebalancer.current(key, cluster),
        condition: { type: 'Rebalancing', status: 'Unknown', reason: 'RebalanceError', message: (err as Error).message.slice(0, 1000) },
        requeueMs: 5_000,
      };
    }
  }

  /** Addresses broker `ordinal` is reached at from outside (its certificate names them): its node's address, its load balancer's. */
  private externalHosts(cluster: ClusterObject, ordinal: number): string[] {
    const ns = cluster.metadata.namespace!;
    const pod = this.world.pods.get(ns, names.pod(cluster.metadata.name, ordinal));
    const advertised = externalAdvertisedListeners(cluster as Cluster, ordinal, pod?.status?.hostIP, (n) => this.world.owned.Service.get(ns, n) as ServiceLike | undefined);
    const hosts = (advertised ?? '').split(',').filter(Boolean).map((l) => l.replace(/^[^:]+:\/\//, '').replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1'));
    return [...new Set(hosts)].sort();
  }

  private async ensureOwned(key: string, cluster: ClusterObject, log: Logger): Promise<void> {
    const ns = cluster.metadata.namespace!;
    const sts = this.world.owned.StatefulSet.get(ns, names.statefulSet(cluster.metadata.name)) as StatefulSetObject | undefined;
    // The objects of the size the StatefulSet gets: a scale-down shrinks it only once the brokers
    // that go are drained, and never when it is refused (rebalancer.ts). Until then nothing else
    // follows the smaller spec.replicas either: not the size-dependent broker config (its hash is
    // in the pod template, so it would roll every broker), not the brokers' external Services.
    const size = sts ? this.rebalancer.statefulSetReplicas(cluster, sts) : cluster.spec.replicas ?? 3;
    const desired = desiredObjects({ ...cluster, spec: { ...cluster.spec, replicas: size } } as Cluster, this.settings);
    for (const d of desired) {
      if (d.kind === 'StatefulSet' && sts) {
        // volumeClaimTemplates are immutable: keep the existing ones (storage growth expands the claims instead).
        (d.object.spec as { volumeClaimTemplates?: unknown }).volumeClaimTemplates = sts.spec.volumeClaimTemplates;
      }
    }
    // RBAC first (a Role must exist before pods use it), the StatefulSet last.
    const order: Record<Desired['kind'], number> = { ServiceAccount: 0, Role: 0, RoleBinding: 1, ConfigMap: 1, Service: 1, PodDisruptionBudget: 1, NetworkPolicy: 1, StatefulSet: 2 };
    // A secured cluster's Secrets (credentials, certificates) before the pods that mount them.
    const security = await this.security.ensure(cluster as Cluster, size, (i) => this.externalHosts(cluster, i), this.certManagerView());
    this.securityRenewalMs.set(key, security?.renewInMs);
    if (security?.certificates) this.certificates.set(key, security.certificates);
    else this.certificates.delete(key);
    for (const stage of [0, 1, 2]) {
      await Promise.all(desired.filter((d) => order[d.kind] === stage).map((d) => this.ensure(d, cluster, log)));
    }
    if (sts) await this.expandClaims(cluster, sts);
    // Owned objects no longer desired (external Services of removed brokers or listeners...).
    const wanted = new Set(desired.map((d) => `${d.kind}/${d.object.metadata.name}`));
    for (const kind of ownedKinds) {
      for (const obj of this.world.owned[kind].list(ns)) {
        if (!obj.metadata.ownerReferences?.some((r) => r.uid === cluster.metadata.uid)) continue;
        if (wanted.has(`${kind}/${obj.metadata.name}`) || obj.metadata.deletionTimestamp) continue;
        log.info('deleting an object the cluster no longer needs', { kind, name: obj.metadata.name });
        await this.kube.delete(resources[kind], ns, obj.metadata.name, { uid: obj.metadata.uid });
      }
    }
  }

  private async ensure(d: Desired, cluster: ClusterObject, log: Logger): Promise<void> {
    const cached = this.world.owned[d.kind as OwnedKind].get(d.object.metadata.namespace, d.object.metadata.name);
    if (cached && contains(cached, d.object)) return;
    if (cached && !cached.metadata.ownerReferences?.some((r) => r.uid === cluster.metadata.uid)) {
      log.warn('taking over an existing object', { kind: d.kind, name: d.object.metadata.name });
    }
    log.info(cached ? 'updating' : 'creating', { kind: d.kind, name: d.object.metadata.name });
    try {
      await this.kube.apply(resources[d.kind], d.object);
    } catch (err) {
      // Server-side apply merges list entries other managers added (a port someone edited in by
      // hand) and the result can be invalid (two ports named alike): then write the whole object.
      if (kubeCodeOf(err) !== KubeErrorCode.INVALID || !cached) throw err;
      log.warn('apply was refused; replacing the object instead', { kind: d.kind, name: d.object.metadata.name, error: (err as Error).message });
      const body = overlay(cached, d.object) as KubeObject;
      await this.kube.replace(resources[d.kind], body);
    }
  }

  /**
   * spec.storage.size grew: expand each broker's claim in place, where its StorageClass allows
   * expansion (allowVolumeExpansion); otherwise, or when the API server refuses, the claims stay
   * as they are and the StorageExpanded condition says why.
   */
  private async expandClaims(cluster: ClusterObject, sts: StatefulSetObject): Promise<void> {
    const want = cluster.spec.storage?.size;
    const vct = sts.spec.volumeClaimTemplates?.[0] as { spec?: { resources?: { requests?: { storage?: string } } } } | undefined;
    const key = `${cluster.metadata.namespace}/${cluster.metadata.name}`;
    if (!want || vct?.spec?.resources?.requests?.storage === want) { this.storage.delete(key); return; }
    if (this.expanded.get(key) === want) return;
    const ns = cluster.metadata.namespace!;
    const refused = (reason: string, message: string) => {
      this.storage.set(key, { type: 'StorageExpanded', status: 'False', reason, message });
      this.expanded.set(key, want);
    };
    for (let i = 0; i < (sts.spec.replicas ?? cluster.spec.replicas ?? 3); i++) {
      const claim = `data-${names.pod(cluster.metadata.name, i)}`;
      const pvc = await this.kube.getOrUndefined<KubeObject & { spec?: { storageClassName?: string } }>(resources.PersistentVolumeClaim, ns, claim);
      if (!pvc) continue;
      const className = pvc.spec?.storageClassName ?? cluster.spec.storage?.class;
      const sc = className ? await this.kube.getOrUndefined<KubeObject & { allowVolumeExpansion?: boolean }>(storageClassResource, undefined, className) : undefined;
      if (!sc?.allowVolumeExpansion) {
        return refused('ExpansionNotSupported', `storage.size ${want} is not applied: ${className ? `StorageClass ${className} ${sc ? 'does not allow volume expansion (allowVolumeExpansion is not true)' : 'does not exist'}` : `claim ${claim} has no StorageClass`}; `
          + `the claims keep ${vct?.spec?.resources?.requests?.storage ?? 'their size'}`);
      }
      try {
        await this.kube.mergePatch(resources.PersistentVolumeClaim, ns, claim, { spec: { resources: { requests: { storage: want } } } });
      } catch (err) {
        if (isNotFound(err)) continue;
        const code = kubeCodeOf(err);
        if (code === KubeErrorCode.INVALID || code === KubeErrorCode.FORBIDDEN) return refused('ExpansionRefused', `the API server refused to grow ${claim} to ${want}: ${(err as Error).message}`.slice(0, 1000));
        throw err;
      }
    }
    this.storage.set(key, { type: 'StorageExpanded', status: 'True', reason: 'Requested', message: `the brokers' claims are requested at ${want}; the storage driver grows the volumes` });
    this.expanded.set(key, want);
  }

  private async ensureMonitoring(key: string, cluster: ClusterObject): Promise<void> {
    const objs = monitoringObjects(cluster as Cluster, this.monitoring);
    const hash = sha256(JSON.stringify(objs));
    if (this.monitoringApplied.get(key) === hash) return;
    for (const o of objs) await this.kube.apply(resources[o.kind], o.object);
    this.monitoringApplied.set(key, hash);
  }

  /**
   * The pod annotations each broker reads through its downward API volume:
   * - spec.rackLabel: the label of the broker's node (none while the node has no such label:
   *   the broker runs without a rack);
   * - external listeners: the broker's advertised addresses (externalAdvertisedListeners).
   * Failures (e.g. no permission to read nodes) are logged once and never fail the reconcile.
   */
  private async annotatePods(cluster: ClusterObject, log: Logger): Promise<void> {
    const ns = cluster.metadata.namespace!;
    const label = cluster.spec.rackLabel;
    const service = (name: string) => this.world.owned.Service.get(ns, name) as ServiceLike | undefined;
    for (const pod of this.world.podsOf(ns, cluster.metadata.name)) {
      const ordinal = /-(\d+)$/.exec(pod.metadata.name)?.[1];
      if (ordinal === undefined || pod.metadata.deletionTimestamp) continue;
      const want: Record<string, string> = {};
      try {
        const node = pod.spec?.nodeName;
        const rack = label && node ? (await this.nodeLabels(node))[label] : undefined;
        if (rack !== undefined) want[rackAnnotation] = rack;
      } catch (err) {
        this.warnOnce(log, `rack:${cluster.metadata.uid}`, 'cannot read the node labels for the brokers\' rack; brokers run without one', err);
      }
      const advertised = externalAdvertisedListeners(cluster as Cluster, Number(ordinal), pod.status?.hostIP, service);
      if (advertised !== undefined) want[advertisedListenersAnnotation] = advertised;
      const have = pod.metadata.annotations ?? {};
      const patch = Object.fromEntries(Object.entries(want).filter(([k, v]) => have[k] !== v));
      if (Object.keys(patch).length === 0) continue;
      try {
        await this.kube.mergePatch(resources.Pod, ns, pod.metadata.name, { metadata: { annotations: patch } });
      } catch (err) {
        if (!isNotFound(err)) this.warnOnce(log, `annotate:${pod.metadata.uid}`, 'cannot annotate a broker pod', err);
      }
    }
  }

  private warnOnce(log: Logger, key: string, message: string, err: unknown): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    log.warn(message, { error: (err as Error).message });
  }

  /** Whether this Cluster (this uid) still exists and is not being deleted, as the API server says now. */
  private async stillExists(cluster: ClusterObject): Promise<boolean> {
    const now = await this.kube.getOrUndefined(resources.Cluster, cluster.metadata.namespace!, cluster.metadata.name);
    return !!now && now.metadata.uid === cluster.metadata.uid && !now.metadata.deletionTimestamp;
  }

  /**
   * Owner references (to the Cluster) on what the brokers create in the API server, so that
   * deleting the Cluster garbage-collects them: the brokers' Leases and the controller Lease
   * (renewals keep the reference), and the metadata ConfigMap. Topics get theirs from the Topic
   * reconciler. Only what lacks the reference is patched: the steady state makes no request.
   */
  private async adoptStoreObjects(key: string, cluster: ClusterObject): Promise<void> {
    const ns = cluster.metadata.namespace!;
    const c = cluster.metadata.name;
    const orphans = this.world.leases.list(ns).filter((l) => l.metadata.labels?.[clusterLabel] === c && withAdoption(l.metadata.ownerReferences, cluster as Cluster));
    // A reconcile that started before the Cluster was deleted still holds it: never point a
    // Lease a stopping broker re-created at a Cluster that is gone (read it, not the cache).
    if (orphans.length > 0 && !(await this.stillExists(cluster))) return;
    for (const lease of orphans) {
      const refs = withAdoption(lease.metadata.ownerReferences, cluster as Cluster);
      if (!refs) continue;
      try {
        await this.kube.mergePatch(resources.Lease, ns, lease.metadata.name, { metadata: { ownerReferences: refs } });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    if (this.adoptedMetadata.has(key)) return;
    const cm = await this.kube.getOrUndefined(resources.ConfigMap, ns, names.storeMetadata(c));
    if (!cm) return; // the brokers create it when they first start; the next reconcile adopts it
    const refs = withAdoption(cm.metadata.ownerReferences, cluster as Cluster);
    if (refs) await this.kube.mergePatch(resources.ConfigMap, ns, cm.metadata.name, { metadata: { resourceVersion: cm.metadata.resourceVersion, ownerReferences: refs } });
    this.adoptedMetadata.set(key, cm.metadata.uid!);
  }

  /**
   * A Cluster this process knew is gone. Garbage collection deletes what carries its owner
   * reference, but a broker still shutting down may re-create its Lease (or claim the
   * controller Lease) after the collector deleted it, without the reference. So once no broker
   * of the cluster is live any more, the Leases and the metadata ConfigMap of that cluster are
   * deleted here. (Its Topics are released by the Topic reconciler: their finalizer completes
   * at once when the Cluster is gone.)
   */
  private async sweepLeftovers(key: string): Promise<Result> {
    const { namespace: ns, name: c } = splitKey(key);
    const leases = this.world.leases.list(ns).filter((l) => l.metadata.labels?.[clusterLabel] === c);
    const live = this.world.liveBrokers(ns, c);
    const controller = this.world.controller(ns, c);
    if (live.size > 0 || controller.id >= 0) {
      // brokers are still stopping: look again when their leases have run out
      const remaining = Math.max(controller.remainingMs, ...leases.map((l) => this.world.leaseRemainingMs(l)));
      return { requeueAfter: Math.max(500, Math.min(remaining + 100, 30_000)) };
    }
    for (const l of leases) await this.kube.delete(resources.Lease, ns, l.metadata.name, { uid: l.metadata.uid });
    await this.kube.delete(resources.ConfigMap, ns, names.storeMetadata(c));
    if (leases.length) this.log.info('deleted the Leases and metadata ConfigMap of a deleted Cluster', { cluster: key, leases: leases.length });
    // The key stays known: a Lease re-created later (its broker was still stopping) brings it back here.
    return {};
  }

  private async nodeLabels(node: string): Promise<Record<string, string>> {
    const cached = this.nodeZones.get(node);
    if (cached && this.clock.now() - cached.at < 600_000) return cached.labels;
    const obj = await this.kube.getOrUndefined(resources.Node, undefined, node);
    const labels = obj?.metadata.labels ?? {};
    this.nodeZones.set(node, { labels, at: this.clock.now() });
    return labels;
  }

  private async rollStep(key: string, cluster: ClusterObject, log: Logger): Promise<{ state: 'UpToDate' | 'Rolling' | 'Blocked' | 'Waiting' | 'Stuck'; message: string }> {
    const ns = cluster.metadata.namespace!;
    const c = cluster.metadata.name;
    const sts = this.world.owned.StatefulSet.get(ns, names.statefulSet(c)) as StatefulSetObject | undefined;
    const replicas = cluster.spec.replicas ?? 3;
    if (!sts?.status || (sts.status.observedGeneration ?? 0) < (sts.metadata.generation ?? 0) || !sts.status.updateRevision) {
      return { state: 'Waiting', message: 'waiting for the StatefulSet controller to observe the new template' };
    }
    const pods = this.world.podsOf(ns, c).filter((p) => /-(\d+)$/.test(p.metadata.name));
    const outdated = pods.filter((p) => p.metadata.labels?.['controller-revision-hash'] !== sts.status!.updateRevision);
    if (outdated.length === 0) {
      this.rolling.delete(key);
      return { state: 'UpToDate', message: '' };
    }
    const pending = this.rolling.get(key);
    if (pending) {
      const back = pods.find((p) => p.metadata.name === pending.pod);
      if (!back || back.metadata.uid === pending.uid || !isPodReady(back)) {
        const waited = this.clock.now() - pending.since;
        if (waited > (this.settings.rollStuckAfterMs ?? 600_000)) {
          return { state: 'Stuck', message: `rolling restart stopped: ${pending.pod} has not come back ready in ${Math.round(waited / 1000)} s; no other broker is restarted until it is` };
        }
        return { state: 'Rolling', message: `waiting for ${pending.pod} to come back ready` };
      }
      this.rolling.delete(key);
    }
    const notReady = pods.filter((p) => !isPodReady(p)).map((p) => p.metadata.name);
    if (pods.length < replicas || notReady.length) {
      return { state: 'Blocked', message: `rolling restart waits for every broker to be ready (${notReady.join(', ') || `${pods.length}/${replicas} pods exist`})` };
    }
    const underReplicated = underReplicatedWaitable(this.world, cluster, sts.spec.replicas ?? replicas);
    if (underReplicated > 0) {
      return { state: 'Blocked', message: `rolling restart waits: ${underReplicated} partitions are under-replicated` };
    }
    const controller = this.world.controller(ns, c).id;
    const ordinal = (p: PodObject) => Number(/-(\d+)$/.exec(p.metadata.name)![1]);
    const next = [...outdated].sort((a, b) => Number(ordinal(a) === controller) - Number(ordinal(b) === controller) || ordinal(b) - ordinal(a))[0]!;
    log.info('rolling restart: deleting an outdated broker pod', { pod: next.metadata.name, revision: sts.status.updateRevision, remaining: outdated.length });
    await this.kube.delete(resources.Pod, ns, next.metadata.name, { uid: next.metadata.uid });
    this.rolling.set(key, { pod: next.metadata.name, uid: next.metadata.uid!, since: this.clock.now() });
    return { state: 'Rolling', message: `restarting ${next.metadata.name} (${outdated.length} of ${pods.length} brokers to restart)` };
  }

  private async writeStatus(cluster: ClusterObject, roll: { state: string; message: string }, applyError: Error | undefined, rebalance: RebalanceStep | undefined): Promise<void> {
    const ns = cluster.metadata.namespace!;
    const c = cluster.metadata.name;
    const replicas = cluster.spec.replicas ?? 3;
    const sts = this.world.owned.StatefulSet.get(ns, names.statefulSet(c)) as StatefulSetObject | undefined;
    const readyBrokers = sts?.status?.readyReplicas ?? 0;
    const health = this.world.partitionHealth(cluster);
    const controller = this.world.controller(ns, c).id;
    const generation = cluster.metadata.generation ?? 0;

    const progressing: ConditionInput = !sts
      ? { type: 'Progressing', status: 'True', reason: 'Creating', message: 'creating the brokers\' StatefulSet' }
      : roll.state === 'Rolling' || roll.state === 'Stuck' || roll.state === 'Blocked' && roll.message
        ? { type: 'Progressing', status: 'True', reason: 'RollingRestart', message: roll.message }
        : readyBrokers < replicas || (sts.status?.replicas ?? 0) !== replicas
          ? { type: 'Progressing', status: 'True', reason: (sts.status?.replicas ?? 0) > replicas ? 'ScalingDown' : 'BrokersStarting', message: `${readyBrokers} of ${replicas} brokers ready` }
          : { type: 'Progressing', status: 'False', reason: 'UpToDate', message: 'every broker runs the current configuration' };
    const degraded: ConditionInput = applyError
      ? { type: 'Degraded', status: 'True', reason: 'ReconcileFailed', message: applyError.message.slice(0, 1000) }
      : roll.state === 'Stuck'
        ? { type: 'Degraded', status: 'True', reason: 'RollingRestartStuck', message: roll.message }
      : health.offline > 0
        ? { type: 'Degraded', status: 'True', reason: 'OfflinePartitions', message: `${health.offline} partitions have no leader` }
        : health.underMinIsr > 0
          ? { type: 'Degraded', status: 'True', reason: 'UnderMinIsrPartitions', message: `${health.underMinIsr} partitions are under min.insync.replicas` }
          : health.underReplicated > 0
            ? { type: 'Degraded', status: 'True', reason: 'UnderReplicatedPartitions', message: `${health.underReplicated} partitions are under-replicated` }
            : { type: 'Degraded', status: 'False', reason: 'AsExpected', message: 'all partitions fully replicated' };
    const ready: ConditionInput = applyError
      ? { type: 'Ready', status: 'False', reason: 'ReconcileFailed', message: 'the operator could not apply the cluster\'s objects (see Degraded)' }
      : readyBrokers < replicas
        ? { type: 'Ready', status: 'False', reason: 'BrokersNotReady', message: `${readyBrokers} of ${replicas} brokers ready` }
        : health.offline > 0
          ? { type: 'Ready', status: 'False', reason: 'OfflinePartitions', message: `${health.offline} partitions have no leader` }
          : { type: 'Ready', status: 'True', reason: replicas === 0 ? 'ScaledToZero' : 'BrokersReady', message: `${readyBrokers} of ${replicas} brokers ready` };

    const status = {
      observedGeneration: generation,
      conditions: setConditions(cluster.status?.conditions, [ready, progressing, degraded, ...(rebalance ? [rebalance.condition] : []),
        ...(this.storage.has(`${ns}/${c}`) ? [this.storage.get(`${ns}/${c}`)!] : [])], generation, new Date(this.clock.now())),
      replicas: sts?.status?.replicas ?? 0,
      selector: selectorString(c),
      readyBrokers,
      controller,
      partitions: health,
      ...(rebalance?.status ?? cluster.status?.rebalance ? { rebalance: replacing(cluster.status?.rebalance, (rebalance?.status ?? cluster.status?.rebalance)!) } : {}),
      ...(this.certificates.has(`${ns}/${c}`) ? { certificates: replacing(cluster.status?.certificates, this.certificates.get(`${ns}/${c}`)!) } : {}),
    };
    if (jsonEqual(status, cluster.status)) return;
    const wasReady = findCondition(cluster.status?.conditions, 'Ready')?.status;
    if (wasReady !== ready.status) this.log.info('cluster readiness changed', { cluster: `${ns}/${c}`, ready: ready.status, reason: ready.reason });
    try {
      await this.kube.mergePatch(resources.Cluster, ns, c, { status }, 'status');
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

/**
 * `next` as a merge patch over `prev` that leaves nothing of `prev` behind: its keys that `next`
 * lacks are set to null (a new plan must not keep the last plan's completedAt or estimate).
 */
function replacing<T extends object>(prev: T | undefined, next: T): T {
  const out = { ...next } as Record<string, unknown>;
  for (const k of Object.keys(prev ?? {})) if (!(k in out)) out[k] = null;
  return out as unknown as T;
}

/** The Cluster key an owned object, pod or lease belongs to. */
export function clusterKeyOf(obj: KubeObject): string | undefined {
  const owner = obj.metadata.ownerReferences?.find((r) => r.kind === 'Cluster' && r.apiVersion.startsWith('brook.dev/'))?.name
    ?? obj.metadata.labels?.[clusterLabel];
  return owner ? `${obj.metadata.namespace}/${owner}` : undefined;
}
