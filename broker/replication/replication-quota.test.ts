import { describe, expect, test } from '@jest/globals';
import { isThrottledReplica, ReplicationQuota } from './replication-quota.ts';

describe('ReplicationQuota', () => {
  test('no rate: never exceeded, bytes still counted', () => {
    const seen: number[] = [];
    const q = new ReplicationQuota({ clock: () => 0, onRecord: (n) => seen.push(n) });
    q.record(10_000_000);
    expect(q.isExceeded()).toBe(false);
    expect(seen).toEqual([10_000_000]);
  });

  test('a rate lets one second of bytes through, then holds back until the time they take at that rate has passed', () => {
    let now = 0;
    const q = new ReplicationQuota({ clock: () => now });
    q.setRate(1000);
    expect(q.isExceeded()).toBe(false);
    q.record(600);
    expect(q.isExceeded()).toBe(false);
    q.record(900); // 500 over
    expect(q.isExceeded()).toBe(true);
    now += 499;
    expect(q.isExceeded()).toBe(true);
    now += 2;
    expect(q.isExceeded()).toBe(false);
  });

  test('over a long run the bytes let through match the rate', () => {
    let now = 0;
    const q = new ReplicationQuota({ clock: () => now });
    q.setRate(50_000);
    let sent = 0;
    for (; now < 20_000; now += 10) {
      while (!q.isExceeded()) { q.record(4096); sent += 4096; }
    }
    // 20 s at 50 kB/s, plus the first second's burst and one batch
    expect(sent).toBeGreaterThanOrEqual(20 * 50_000);
    expect(sent).toBeLessThanOrEqual(21 * 50_000 + 4096);
  });

  test('removing the rate lifts the throttle at once', () => {
    const q = new ReplicationQuota({ clock: () => 0 });
    q.setRate(10);
    q.record(100);
    expect(q.isExceeded()).toBe(true);
    q.setRate(null);
    expect(q.isExceeded()).toBe(false);
  });
});

describe('isThrottledReplica', () => {
  test.each([
    ['*', 3, 7, true],
    ['0:1,0:2,1:2', 0, 2, true],
    ['0:1,0:2,1:2', 1, 1, false],
    [' 0 : 1 ', 0, 1, true],
    ['', 0, 1, false],
    [undefined, 0, 1, false],
  ])('%j has %d:%d → %s', (list, partition, broker, expected) => {
    expect(isThrottledReplica(list, partition, broker)).toBe(expected);
  });
});
