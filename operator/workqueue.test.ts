import { describe, expect, test } from '@jest/globals';
import { FakeClock, WorkQueue } from './workqueue.ts';

/** The next key, or 'none' if get() would wait (without leaving a waiting getter behind). */
async function next(q: WorkQueue): Promise<string> {
  if (q.len() === 0) return 'none';
  return (await q.get()) ?? 'undefined';
}

describe('WorkQueue', () => {
  test('de-duplicates keys that are waiting', async () => {
    const q = new WorkQueue();
    q.add('a'); q.add('b'); q.add('a'); q.add('a');
    expect(q.len()).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    expect(q.len()).toBe(0);
  });

  test('never hands out a key that is processing; an add while processing runs it again after done', async () => {
    const q = new WorkQueue();
    q.add('a');
    expect(await q.get()).toBe('a');
    q.add('a');
    q.add('a');
    expect(q.len()).toBe(0);
    q.add('b');
    expect(await next(q)).toBe('b');
    expect(await next(q)).toBe('none');
    q.done('a');
    expect(await next(q)).toBe('a');
    q.done('a');
    q.done('b');
    expect(await next(q)).toBe('none');
  });

  test('a waiting get() receives the next added key', async () => {
    const q = new WorkQueue();
    const got = q.get();
    q.add('x');
    expect(await got).toBe('x');
  });

  test('per-key exponential backoff, reset by forget', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock, baseDelayMs: 10, maxDelayMs: 50 });
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const start = clock.now();
      q.addRateLimited('a');
      expect(q.len()).toBe(0);
      while (q.len() === 0) clock.advance(1);
      delays.push(clock.now() - start);
      expect(await q.get()).toBe('a');
      q.done('a');
    }
    expect(delays).toEqual([10, 20, 40, 50, 50]);
    expect(q.numRequeues('a')).toBe(5);
    q.forget('a');
    expect(q.numRequeues('a')).toBe(0);
    q.addRateLimited('a');
    clock.advance(9);
    expect(q.len()).toBe(0);
    clock.advance(1);
    expect(q.len()).toBe(1);
  });

  test('backoff is per key', () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock, baseDelayMs: 10 });
    q.addRateLimited('a'); q.addRateLimited('a'); q.addRateLimited('a');
    q.addRateLimited('b');
    expect(q.numRequeues('a')).toBe(3);
    expect(q.numRequeues('b')).toBe(1);
  });

  test('addAfter: the earliest pending time wins, and the key is added once', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock });
    q.addAfter('a', 1000);
    q.addAfter('a', 300);
    q.addAfter('a', 2000);
    expect(q.waitingCount()).toBe(1);
    clock.advance(299);
    expect(q.len()).toBe(0);
    clock.advance(1);
    expect(q.len()).toBe(1);
    clock.advance(5000);
    expect(q.len()).toBe(1);
    expect(clock.pending()).toBe(0);
  });

  test('addAfter of a key already queued still de-duplicates when it fires', () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock });
    q.add('a');
    q.addAfter('a', 10);
    clock.advance(10);
    expect(q.len()).toBe(1);
  });

  test('depth and latency are reported', async () => {
    const clock = new FakeClock();
    const depths: number[] = [];
    const latencies: number[] = [];
    const q = new WorkQueue({ clock, onDepth: (d) => depths.push(d), onLatency: (s) => latencies.push(s) });
    q.add('a'); q.add('b');
    clock.advance(250);
    await q.get();
    expect(depths).toEqual([1, 2, 1]);
    expect(latencies).toEqual([0.25]);
  });

  test('shutDown: get() drains then returns undefined; waiting getters are released', async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.shutDown();
    expect(await waiting).toBeUndefined();
    const q2 = new WorkQueue();
    q2.add('a');
    q2.shutDown();
    q2.add('b');
    expect(await q2.get()).toBe('a');
    expect(await q2.get()).toBeUndefined();
  });

  test('concurrent workers never process one key at once (randomised)', async () => {
    const q = new WorkQueue();
    const running = new Set<string>();
    let overlaps = 0;
    let processed = 0;
    const worker = async () => {
      for (;;) {
        const key = await q.get();
        if (key === undefined) return;
        if (running.has(key)) overlaps++;
        running.add(key);
        await new Promise((r) => setImmediate(r));
        if (Math.random() < 0.5) q.add(key);
        running.delete(key);
        processed++;
        q.done(key);
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    for (let i = 0; i < 500; i++) {
      q.add(`k${i % 7}`);
      if (i % 10 === 0) await new Promise((r) => setImmediate(r));
    }
    while (q.len() > 0 || running.size > 0) await new Promise((r) => setImmediate(r));
    q.shutDown();
    await Promise.all(workers);
    expect(overlaps).toBe(0);
    expect(processed).toBeGreaterThan(7);
  });
});
