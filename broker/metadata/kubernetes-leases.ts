/**
 * The KubernetesStore's leases (coordination.k8s.io/v1, in the store's namespace, labelled
 * brook.dev/cluster=<cluster> and brook.dev/role): Lease `brook-<cluster>-broker-<id>` per live
 * broker (host, port, rack, listeners and the lease length in milliseconds as annotations), and
 * Lease `brook-<cluster>-controller` for the controller (holderIdentity = broker id,
 * leaseTransitions = controller epoch).
 *
 * Liveness follows broker/k8s/lease.ts's rules, shared with the operator: expiry is measured on
 * the local clock from when this store *observed* a renewal, never from the renewTime another
 * machine wrote, so clock skew cannot expire a lease early. A broker that fences itself must
 * therefore stop acting `leaseMs` after it *sent* its last successful renewal: that is no later
 * than any other store can see the lease expire. A stale view is not expiry: a lease expires only
 * after a whole lease length in which the view was known current (the lease watch's freshness,
 * probed every `leaseProbeMs` when nothing arrives) and showed no renewal, so an outage of the
 * API server stops no broker from seeing the others; only writes wait.
 *
 * Every write is a compare-and-swap on resourceVersion (a lost one is re-read and retried a few
 * times) and returns once this store's lease watch has seen it (read-your-writes). Listeners are
 * told of changes to the live brokers and the controller, including expiries (timers).
 */
import type { Kube } from '../k8s/client.ts';
import { CollectionWatch, type WatchEventType } from '../k8s/collection-watch.ts';
import { isConflict, isNotFound } from '../k8s/errors.ts';
import {
  LeaseObservations, claimLease, heldLeaseSpec, leaseDurationMs, leaseMsAnnotation, leaseRemainingMs, type LeaseObject,
} from '../k8s/lease.ts';
import { resources, rvAtLeast } from '../k8s/objects.ts';
import { decodeListeners, encodeListeners } from './types.ts';
import type { BrokerRegistration, ControllerLease } from './types.ts';

const clusterLabel = 'brook.dev/cluster';
const roleLabel = 'brook.dev/role';

type Lease = LeaseObject;

export interface KubernetesLeasesOptions {
  /** For writes (with the store's request timeout). */
  kube: Kube;
  /** For the lease watch (no request timeout: the watch bounds its own requests). */
  watchKube: Kube;
  namespace: string;
  cluster: string;
  clock: () => number;
  random?: () => number;
  /** List the leases to prove the view current when no lease event arrived for this long. */
  leaseProbeMs: number;
}

export class KubernetesLeases {
  /** The lease watch (its stats and freshness are the store's test hooks). */
  readonly watch: CollectionWatch<Lease>;
  private readonly kube: Kube;
  private readonly ns: string;
  private readonly cluster: string;
  private readonly clock: () => number;
  private readonly brokerListeners = new Set<(brokers: readonly BrokerRegistration[]) => void>();
  private readonly controllerListeners = new Set<(lease: ControllerLease | null) => void>();
  /** Lease name → when this store saw its current resourceVersion. */
  private readonly observed: LeaseObservations;
  /** Lease name → the timer that re-evaluates liveness when it would expire. */
  private readonly expiryTimers = new Map<string, NodeJS.Timeout>();
  private liveBrokersKey = '[]';
  private controllerKey = 'null';
  private closed = false;

  constructor(opts: KubernetesLeasesOptions) {
    this.kube = opts.kube;
    this.ns = opts.namespace;
    this.cluster = opts.cluster;
    this.clock = opts.clock;
    this.observed = new LeaseObservations(this.clock);
    // Lease expiry needs to know how current the lease view is: probe it when nothing arrives.
    this.watch = new CollectionWatch<Lease>({
      kube: opts.watchKube, namespace: opts.namespace, clock: this.clock, random: opts.random,
      resource: resources.Lease, labelSelector: `${clusterLabel}=${opts.cluster}`, probeMs: opts.leaseProbeMs,
    });
    this.watch.onEvent((type, obj) => this.onLeaseEvent(type, obj));
    this.watch.onFreshness(() => this.recomputeLeases());
  }

  start(): Promise<void> { return this.watch.start(); }

  close(): void {
    this.closed = true;
    this.watch.close();
    for (const timer of this.expiryTimers.values()) clearTimeout(timer);
    this.brokerListeners.clear();
    this.controllerListeners.clear();
  }

  private brokerLeaseName(id: number): string { return `brook-${this.cluster}-broker-${id}`; }
  private get controllerLeaseName(): string { return `brook-${this.cluster}-controller`; }

  /**
   * Whether `lease` has run out: a whole lease length passed, on the local clock, during which
   * this store's view of the leases was known current and showed no renewal. Time in which the
   * view was not current (watch broken, API server unreachable) proves nothing — no news is not
   * expiry — and each holder gets a whole lease length again once the view is current again.
   */
  private expired(lease: Lease): boolean {
    const now = this.clock();
    const renewedAt = this.observed.observedAt(lease.metadata.name, lease.metadata.resourceVersion) ?? now;
    return leaseRemainingMs(now, renewedAt, leaseDurationMs(lease), this.watch) <= 0;
  }

  private onLeaseEvent(type: WatchEventType, obj: Lease): void {
    const name = obj.metadata.name;
    clearTimeout(this.expiryTimers.get(name));
    if (type === 'DELETED') {
      this.observed.forget(name);
      this.expiryTimers.delete(name);
    } else {
      const timer = setTimeout(() => this.recomputeLeases(), leaseDurationMs(obj) + 1);
      timer.unref();
      this.expiryTimers.set(name, timer);
      this.observed.observe(name, obj.metadata.resourceVersion!);
    }
    this.recomputeLeases();
  }

  private liveBrokers(): BrokerRegistration[] {
    const out: BrokerRegistration[] = [];
    for (const lease of this.watch.list()) {
      if (lease.metadata.labels?.[roleLabel] !== 'broker' || !lease.spec.holderIdentity || this.expired(lease)) continue;
      const a = lease.metadata.annotations ?? {};
      out.push({ id: Number(lease.spec.holderIdentity), host: a['brook.dev/host'] ?? '', port: Number(a['brook.dev/port'] ?? 0), rack: a['brook.dev/rack'] ?? null, listeners: decodeListeners(a['brook.dev/listeners']) });
    }
    return out.sort((x, y) => x.id - y.id);
  }

  private currentController(): ControllerLease | null {
    const lease = this.watch.get(this.controllerLeaseName);
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
    const written = create ? await this.kube.create(resources.Lease, lease) : await this.kube.replace(resources.Lease, lease);
    await this.watch.waitUntil(() => rvAtLeast(this.watch.get(lease.metadata.name)?.metadata.resourceVersion, written.metadata.resourceVersion!));
    return written;
  }

  private readLease(name: string): Promise<Lease | undefined> {
    return this.kube.getOrUndefined<Lease>(resources.Lease, this.ns, name);
  }

  private newLease(name: string, role: string, holder: number, leaseMs: number, annotations: Record<string, string>, transitions?: number, acquireTime?: string | null): Lease {
    return {
      apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
      metadata: { name, namespace: this.ns, labels: { [clusterLabel]: this.cluster, [roleLabel]: role }, annotations: { ...annotations, [leaseMsAnnotation]: String(leaseMs) } },
      spec: heldLeaseSpec(String(holder), leaseMs, this.clock(), transitions, acquireTime),
    };
  }

  async heartbeatBroker(reg: BrokerRegistration, leaseMs: number): Promise<void> {
    const name = this.brokerLeaseName(reg.id);
    const annotations: Record<string, string> = { 'brook.dev/host': reg.host, 'brook.dev/port': String(reg.port), ...(reg.rack === null ? {} : { 'brook.dev/rack': reg.rack }), ...(reg.listeners ? { 'brook.dev/listeners': encodeListeners(reg.listeners) } : {}) };
    for (let attempt = 0; ; attempt++) {
      const current = this.watch.get(name) ?? await this.readLease(name);
      const lease = this.newLease(name, 'broker', reg.id, leaseMs, annotations, undefined, current?.spec.acquireTime);
      if (current) {
        lease.metadata.resourceVersion = current.metadata.resourceVersion;
        lease.metadata.ownerReferences = current.metadata.ownerReferences; // the operator's (Cluster garbage collection)
      }
      try {
        await this.writeLease(lease, !current);
        return;
      } catch (err) {
        if (!isConflict(err) || attempt >= 5) throw err;
      }
    }
  }

  async unregisterBroker(id: number): Promise<void> {
    const name = this.brokerLeaseName(id);
    try {
      await this.kube.deleteOrFail(resources.Lease, this.ns, name);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    await this.watch.waitUntil(() => !this.watch.get(name));
  }

  watchBrokers(listener: (brokers: readonly BrokerRegistration[]) => void): () => void {
    listener(this.liveBrokers());
    this.brokerListeners.add(listener);
    return () => { this.brokerListeners.delete(listener); };
  }

  async claimController(id: number, leaseMs: number): Promise<ControllerLease> {
    const name = this.controllerLeaseName;
    for (let attempt = 0; ; attempt++) {
      const current = await this.readLease(name);
      // The controller epoch is the lease's transition count: 1 for the first controller.
      const claim = claimLease(current, String(id), current !== undefined && this.expired(current), 1);
      if (!claim.take) return { holder: Number(claim.holder), epoch: current?.spec.leaseTransitions ?? 0 };
      const lease = this.newLease(name, 'controller', id, leaseMs, {}, claim.transitions, claim.renewal ? claim.acquireTime : undefined);
      if (current) lease.metadata.resourceVersion = current.metadata.resourceVersion;
      if (current) lease.metadata.ownerReferences = current.metadata.ownerReferences;
      try {
        await this.writeLease(lease, !current);
        return { holder: id, epoch: claim.transitions };
      } catch (err) {
        if (!isConflict(err) || attempt >= 5) throw err;
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
        if (!isConflict(err) || attempt >= 5) throw err;
      }
    }
  }

  watchController(listener: (lease: ControllerLease | null) => void): () => void {
    listener(this.currentController());
    this.controllerListeners.add(listener);
    return () => { this.controllerListeners.delete(listener); };
  }
}
