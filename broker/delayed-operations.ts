/**
 * Delayed operations: requests whose answer waits for something to happen.
 *
 * DelayedFetchQueue: long-polling fetches park here instead of spinning. A parked fetch wakes
 * when any partition it reads gets an append, when its max wait runs out, or when the broker
 * shuts down; the fetch handler then re-reads and decides whether to answer or park again with
 * the time it has left.
 */
import type { Partition } from './partition.ts';

export class DelayedFetchQueue {
  private readonly parked = new Set<() => void>();

  get size(): number { return this.parked.size; }

  /** Resolves after an append to one of `partitions`, after `maxWaitMs`, or on `wakeAll()`. */
  wait(partitions: readonly Partition[], maxWaitMs: number): Promise<void> {
    return new Promise((resolve) => {
      // one listener for every partition (a follower's parked fetch names thousands): no closure each
      const done = (): void => {
        clearTimeout(timer);
        for (const p of partitions) p.removeAppendListener(done);
        this.parked.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, maxWaitMs));
      for (const p of partitions) p.addAppendListener(done);
      this.parked.add(done);
    });
  }

  /** Answers every parked fetch now (shutdown). */
  wakeAll(): void {
    for (const done of [...this.parked]) done();
  }
}

/**
 * DelayedProduces: produce requests answered only once their records are replicated (acks=all)
 * or flushed; counted for the delayed-operations gauge.
 */
export class DelayedProduces {
  private count = 0;

  get size(): number { return this.count; }

  /** Counts `wait` as one delayed produce until it settles. */
  track<T>(wait: Promise<T>): Promise<T> {
    this.count++;
    return wait.finally(() => { this.count--; });
  }
}
