import { describe, expect, test } from '@jest/globals';
import { LeaseObservations, claimLease, heldLeaseSpec, leaseDurationMs, leaseRemainingMs, type LeaseObject } from './lease.ts';

const lease = (spec: LeaseObject['spec'], annotations?: Record<string, string>, rv = '1'): LeaseObject =>
  ({ metadata: { name: 'l', resourceVersion: rv, ...(annotations ? { annotations } : {}) }, spec });

describe('lease rules shared by the brokers\' store and the operator', () => {
  test('duration: brook.dev/lease-ms when present, else leaseDurationSeconds, else 15 s', () => {
    expect(leaseDurationMs(lease({ leaseDurationSeconds: 4 }, { 'brook.dev/lease-ms': '3500' }))).toBe(3500);
    expect(leaseDurationMs(lease({ leaseDurationSeconds: 4 }))).toBe(4000);
    expect(leaseDurationMs(lease({}))).toBe(15_000);
  });

  test('expiry runs from when the renewal was observed, on the local clock', () => {
    expect(leaseRemainingMs(10_000, 9_000, 4_000)).toBe(3_000);
    expect(leaseRemainingMs(13_000, 9_000, 4_000)).toBe(0);
  });

  test('a stale view is not expiry: only time the view was current counts', () => {
    // Renewal seen at 1 s; the view has been current only up to 2 s: at 100 s it is not expired.
    expect(leaseRemainingMs(100_000, 1_000, 4_000, { freshAt: 2_000, freshSince: 0 })).toBeGreaterThan(0);
    // The view came back at 50 s and has been current since: a whole lease length from then.
    expect(leaseRemainingMs(53_000, 1_000, 4_000, { freshAt: 53_000, freshSince: 50_000 })).toBe(1_000);
    expect(leaseRemainingMs(54_000, 1_000, 4_000, { freshAt: 54_000, freshSince: 50_000 })).toBe(0);
  });

  test('observations keep the time a version was first seen, and forget a deleted lease', () => {
    let now = 100;
    const seen = new LeaseObservations(() => now);
    expect(seen.observe('a', '1')).toBe(100);
    now = 200;
    expect(seen.observe('a', '1')).toBe(100);
    expect(seen.observedAt('a', '1')).toBe(100);
    expect(seen.observedAt('a', '2')).toBeUndefined();
    expect(seen.observe('a', '2')).toBe(200);
    seen.forget('a');
    expect(seen.observedAt('a', '2')).toBeUndefined();
  });

  test('claim: the holder renews keeping acquireTime and transitions; others wait for expiry, then take it with one more transition', () => {
    const held = lease({ holderIdentity: 'a', acquireTime: 'T0', leaseTransitions: 3 });
    expect(claimLease(held, 'a', false, 1)).toEqual({ take: true, renewal: true, transitions: 3, acquireTime: 'T0' });
    expect(claimLease(held, 'b', false, 1)).toEqual({ take: false, holder: 'a' });
    expect(claimLease(held, 'b', true, 1)).toEqual({ take: true, renewal: false, transitions: 4 });
    expect(claimLease(lease({ leaseTransitions: 3 }), 'b', false, 1)).toEqual({ take: true, renewal: false, transitions: 4 });
    expect(claimLease(undefined, 'b', false, 1)).toEqual({ take: true, renewal: false, transitions: 1 });
    expect(claimLease(undefined, 'b', false, 0)).toEqual({ take: true, renewal: false, transitions: 0 });
  });

  test('a held lease\'s spec: whole seconds rounded up, MicroTime stamps', () => {
    expect(heldLeaseSpec('7', 3_500, Date.UTC(2026, 0, 1), 2)).toEqual({
      holderIdentity: '7', leaseDurationSeconds: 4, acquireTime: '2026-01-01T00:00:00.000000Z', renewTime: '2026-01-01T00:00:00.000000Z', leaseTransitions: 2,
    });
  });
});
