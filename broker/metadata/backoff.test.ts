import { describe, expect, test } from '@jest/globals';
import { Backoff } from './backoff.ts';

describe('Backoff', () => {
  test('doubles from the initial delay up to the cap, with jitter in [base/2, base]; reset starts again', () => {
    const low = new Backoff({ initialMs: 100, maxMs: 1_000, random: () => 0 });
    const high = new Backoff({ initialMs: 100, maxMs: 1_000, random: () => 0.999999 });
    expect(Array.from({ length: 6 }, () => low.next())).toEqual([50, 100, 200, 400, 500, 500]);
    expect(Array.from({ length: 6 }, () => high.next())).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect(low.failures).toBe(6);
    low.reset();
    expect(low.next()).toBe(50);
  });

  test('never zero, so a failing peer is never retried in a tight loop; bad settings are a clear error', () => {
    const b = new Backoff({ initialMs: 1, maxMs: 1, random: () => 0 });
    for (let i = 0; i < 100; i++) expect(b.next()).toBeGreaterThan(0);
    expect(() => new Backoff({ initialMs: 0 })).toThrow(expect.objectContaining({ code: 'BROOK_ERR_INVALID_BACKOFF' }));
    expect(() => new Backoff({ initialMs: 10, maxMs: 5 })).toThrow(expect.objectContaining({ code: 'BROOK_ERR_INVALID_BACKOFF' }));
  });
});
