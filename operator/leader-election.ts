/**
 * LeaderElector: one coordination.k8s.io/v1 Lease decides which operator replica reconciles,
 * with client-go's leaderelection semantics:
 * - a candidate takes the lease when it is free or its holder has not renewed for
 *   leaseDuration, measured on the local clock from when this candidate *observed* the last
 *   change (never from the renewTime another machine wrote, so clock skew cannot cut a lease short);
 * - the leader renews every retryPeriod; if it cannot renew for renewDeadline (< leaseDuration)
 *   it stops leading (`onStoppedLeading`; the CLI exits so a restarted pod rejoins cleanly);
 * - every write is a compare-and-swap on resourceVersion, so two candidates never both win;
 * - `release` (graceful shutdown) deletes the Lease (if it is still the one this leader wrote) so a
 *   standby takes over at once by creating it, and an operator that goes away for good (`helm
 *   uninstall`) leaves no Lease behind (nothing else would delete it: it has no owner).
 * Requests: the leader does one PUT per retryPeriod (a GET only after a conflict); a standby one GET.
 * The lease rules themselves (expiry from the observed change, acquire or renew) are
 * broker/k8s/lease.ts's, shared with the brokers' KubernetesStore.
 */
import {
  LeaseObservations, claimLease, heldLeaseSpec, isConflict, isNotFound, leaseDurationMs, leaseRemainingMs, resources,
  type Kube, type LeaseObject,
} from '../broker/k8s/index.ts';
import { realClock, type Clock } from './workqueue.ts';
import type { Logger } from './log.ts';

export type { LeaseObject } from '../broker/k8s/index.ts';

export interface LeaderElectionOptions {
  kube: Kube;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  clock?: Clock;
  log: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  onNewLeader?: (identity: string | undefined) => void;
}

export class LeaderElector {
  private readonly o: Required<Omit<LeaderElectionOptions, 'onNewLeader'>> & Pick<LeaderElectionOptions, 'onNewLeader'>;
  private lease: LeaseObject | undefined;
  /** When the lease's resourceVersion last changed, as this candidate saw it. */
  private readonly observations: LeaseObservations;
  private lastRenew = 0;
  private leading = false;
  private stopped = false;
  private timer: unknown;
  private lastLeader: string | undefined = '\u0000';

  constructor(opts: LeaderElectionOptions) {
    this.o = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, clock: realClock, ...opts };
    this.observations = new LeaseObservations(() => this.o.clock.now());
  }

  get isLeader(): boolean { return this.leading; }

  start(): void {
    this.stopped = false;
    void this.tick();
  }

  /** Stops trying; if leading, gives the lease up so another replica takes over at once. */
  async stop(release = true): Promise<void> {
    this.stopped = true;
    this.o.clock.clearTimeout(this.timer);
    if (this.leading && release) await this.release().catch((err: unknown) => this.o.log.warn('could not release the leader lease', { error: (err as Error).message }));
    this.leading = false;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.o.clock.setTimeout(() => void this.tick(), ms);
  }

  private observe(lease: LeaseObject | undefined): void {
    this.lease = lease;
    this.observations.observe(this.o.name, lease?.metadata.resourceVersion ?? '');
    const holder = lease?.spec.holderIdentity || undefined;
    if (holder !== this.lastLeader) {
      this.lastLeader = holder;
      this.o.onNewLeader?.(holder);
    }
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const now = this.o.clock.now();
    try {
      if (await this.tryAcquireOrRenew(now)) {
        this.lastRenew = now;
        if (!this.leading) {
          this.leading = true;
          this.o.log.info('became the leader', { lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity });
          this.o.onStartedLeading();
        }
      }
    } catch (err) {
      this.o.log.warn('leader election request failed', { error: (err as Error).message });
    }
    if (this.leading && this.o.clock.now() - this.lastRenew > this.o.renewDeadlineMs) {
      this.leading = false;
      this.stopped = true;
      this.o.log.error('lost the leader lease (could not renew within the renew deadline)', { renewDeadlineMs: this.o.renewDeadlineMs });
      this.o.onStoppedLeading();
      return;
    }
    this.schedule(this.o.retryPeriodMs);
  }

  private desired(now: number, transitions: number, acquireTime: string | null | undefined): LeaseObject['spec'] {
    return heldLeaseSpec(this.o.identity, this.o.leaseDurationMs, now, transitions, acquireTime);
  }

  /** One round; true when this candidate holds the lease afterwards. */
  private async tryAcquireOrRenew(now: number): Promise<boolean> {
    const { kube, namespace, name } = this.o;
    // The leader renews from its last write without a GET; others (and a leader after a conflict) read first.
    if (!this.leading || !this.lease) {
      let current: LeaseObject | undefined;
      try { current = await kube.get<LeaseObject>(resources.Lease, namespace, name); } catch (err) { if (!isNotFound(err)) throw err; }
      this.observe(current);
    }
    const current = this.lease;
    if (!current) {
      try {
        const created = await kube.create<LeaseObject>(resources.Lease, {
          metadata: { name, namespace, labels: { 'app.kubernetes.io/name': 'brook-operator' } },
          spec: this.desired(now, 0, undefined),
        });
        this.observe(created);
        return true;
      } catch (err) {
        if (isConflict(err)) return false;
        throw err;
      }
    }
    const observedAt = this.observations.observedAt(this.o.name, current.metadata.resourceVersion ?? '') ?? now;
    const claim = claimLease(current, this.o.identity, leaseRemainingMs(now, observedAt, leaseDurationMs(current)) <= 0, 0);
    if (!claim.take) return false;
    const body: LeaseObject = {
      ...current,
      metadata: { ...current.metadata },
      spec: this.desired(now, claim.transitions, claim.renewal ? claim.acquireTime : undefined),
    };
    try {
      const written = await kube.replace<LeaseObject>(resources.Lease, body);
      this.observe(written);
      return true;
    } catch (err) {
      if (isConflict(err)) { this.lease = undefined; return false; }
      throw err;
    }
  }

  private async release(): Promise<void> {
    if (!this.lease) return;
    // Preconditions: only the Lease as this leader last wrote it (a conflict means someone else holds it now).
    await this.o.kube.delete(resources.Lease, this.o.namespace, this.o.name, { uid: this.lease.metadata.uid, resourceVersion: this.lease.metadata.resourceVersion });
    this.lease = undefined;
    this.o.log.info('released the leader lease (deleted it)', { lease: `${this.o.namespace}/${this.o.name}` });
  }
}
