/**
 * Leases (coordination.k8s.io/v1), one implementation of their rules for the broker's
 * KubernetesStore (broker liveness, the controller lease) and the operator (leader election,
 * broker liveness as the operator sees it):
 *
 * - Expiry is measured on the local clock from when this process *observed* the lease's current
 *   resourceVersion, never from the renewTime another machine wrote, so clock skew cannot cut a
 *   lease short (client-go's leaderelection rule). `LeaseObservations` keeps those times.
 * - A stale view is not expiry: when the caller's view of the leases is not known current (a
 *   broken watch, an unreachable API server), only time during which it was current counts
 *   (`view`: freshAt / freshSince, from CollectionWatch). A caller that reads leases by GET has an
 *   always-current view (the default).
 * - Acquire-or-renew: the holder renews keeping acquireTime and leaseTransitions; anyone else
 *   takes a lease only when it is free or expired, counting one more transition. Every write is a
 *   compare-and-swap on resourceVersion (the caller's), so two candidates never both win.
 * - Duration: `brook.dev/lease-ms` (milliseconds, Brook's brokers) when present, else
 *   spec.leaseDurationSeconds (default 15 s).
 */
import { microTime, type KubeObject } from './objects.ts';

export interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}

export interface LeaseObject extends KubeObject {
  spec: LeaseSpec;
}

/** Annotation carrying a lease's length in milliseconds (leaseDurationSeconds is whole seconds). */
export const leaseMsAnnotation = 'brook.dev/lease-ms';

export function leaseDurationMs(lease: LeaseObject): number {
  return Number(lease.metadata.annotations?.[leaseMsAnnotation] ?? (lease.spec.leaseDurationSeconds ?? 15) * 1000);
}

/** The spec of a lease held by `holder` for `durationMs`, renewed at `now`. */
export function heldLeaseSpec(holder: string, durationMs: number, now: number, transitions?: number, acquireTime?: string | null): LeaseSpec {
  const renewTime = microTime(now);
  return {
    holderIdentity: holder,
    leaseDurationSeconds: Math.max(1, Math.ceil(durationMs / 1000)),
    acquireTime: acquireTime ?? renewTime,
    renewTime,
    ...(transitions === undefined ? {} : { leaseTransitions: transitions }),
  };
}

/** How current the caller's view of the leases is (CollectionWatch's freshAt / freshSince). */
export interface LeaseView {
  /** Local time up to which the view is known to hold every change. */
  readonly freshAt: number;
  /** Start of the current unbroken stretch of freshness. */
  readonly freshSince: number;
}

/**
 * Milliseconds the lease stays live (≤ 0: expired): a whole lease length must pass, on the local
 * clock, during which the view was current and showed no renewal since `observedAt`.
 */
export function leaseRemainingMs(now: number, observedAt: number, durationMs: number, view: LeaseView = { freshAt: now, freshSince: 0 }): number {
  return Math.max(observedAt, view.freshSince) + durationMs - Math.min(now, view.freshAt);
}

/** When this process saw each lease's current resourceVersion (keyed as the caller likes). */
export class LeaseObservations {
  private readonly seen = new Map<string, { rv: string; at: number }>();
  private readonly clock: () => number;

  constructor(clock: () => number) { this.clock = clock; }

  /** Records `rv` as seen now unless it is the one already seen; returns when it was first seen. */
  observe(key: string, rv: string): number {
    const prev = this.seen.get(key);
    if (prev?.rv === rv) return prev.at;
    const at = this.clock();
    this.seen.set(key, { rv, at });
    return at;
  }

  forget(key: string): void { this.seen.delete(key); }

  /** When `rv` of `key` was first seen; undefined when `rv` is not the version last observed. */
  observedAt(key: string, rv: string | undefined): number | undefined {
    const prev = this.seen.get(key);
    return prev && prev.rv === rv ? prev.at : undefined;
  }
}

export type LeaseClaim =
  | { readonly take: false; readonly holder: string }
  | { readonly take: true; readonly renewal: boolean; readonly transitions: number; readonly acquireTime?: string | null };

/**
 * What `identity` may do with `current`: renew it (its holder), take it (free, expired or absent:
 * `firstTransitions` for a lease that does not exist yet), or leave it to its live holder.
 */
export function claimLease(current: LeaseObject | undefined, identity: string, expired: boolean, firstTransitions: number): LeaseClaim {
  if (!current) return { take: true, renewal: false, transitions: firstTransitions };
  const holder = current.spec.holderIdentity || undefined;
  const transitions = current.spec.leaseTransitions ?? 0;
  if (holder === identity) return { take: true, renewal: true, transitions, acquireTime: current.spec.acquireTime };
  if (holder && !expired) return { take: false, holder };
  return { take: true, renewal: false, transitions: transitions + 1 };
}
