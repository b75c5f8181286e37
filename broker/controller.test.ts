import { describe, expect, test } from '@jest/globals';
import { Controller, planPartition } from './controller.ts';
import { createLogger } from './logger.ts';
import { MemoryStore } from './metadata/index.ts';
import type { TopicRecord, TopicUpdate } from './metadata/index.ts';

const p = (leader: number, isr: number[], replicas = [0, 1, 2]) => ({ partition: 0, replicas, leader, isr, leaderEpoch: 5, partitionEpoch: 9 });
const live = (...ids: number[]) => new Set(ids);

describe('planPartition', () => {
  test('a healthy partition needs nothing', () => {
    expect(planPartition(p(0, [0, 1, 2]), { live: live(0, 1, 2), unclean: false, preferred: true })).toBeNull();
  });
  test('a dead leader is replaced by the first live ISR member in replica order; epochs bump', () => {
    expect(planPartition(p(0, [2, 1, 0]), { live: live(1, 2), unclean: false, preferred: false }))
      .toEqual({ partition: 0, replicas: [0, 1, 2], leader: 1, isr: [2, 1], leaderEpoch: 6, partitionEpoch: 10 });
  });
  test('a dead follower leaves the ISR without a leader change', () => {
    expect(planPartition(p(0, [0, 1, 2]), { live: live(0, 1), unclean: false, preferred: false }))
      .toMatchObject({ leader: 0, isr: [0, 1], leaderEpoch: 5, partitionEpoch: 10 });
  });
  test('no live ISR member: offline, the ISR kept, unless unclean election is allowed', () => {
    expect(planPartition(p(0, [0]), { live: live(1, 2), unclean: false, preferred: false })).toMatchObject({ leader: -1, isr: [0] });
    expect(planPartition(p(0, [0]), { live: live(1, 2), unclean: true, preferred: false })).toMatchObject({ leader: 1, isr: [1], leaderEpoch: 6 });
  });
  test('the last in-sync replica returning leads again', () => {
    expect(planPartition(p(-1, [0]), { live: live(0, 1), unclean: false, preferred: false })).toMatchObject({ leader: 0, isr: [0] });
  });
  test('preferred leader: only when the first replica is live and in sync', () => {
    expect(planPartition(p(1, [0, 1, 2]), { live: live(0, 1, 2), unclean: false, preferred: true })).toMatchObject({ leader: 0, leaderEpoch: 6 });
    expect(planPartition(p(1, [1, 2]), { live: live(0, 1, 2), unclean: false, preferred: true })).toBeNull();
  });
});

/**
 * The Controller against a MemoryStore whose writes can be made to fail or wait — the transport
 * between a controller and its store, which is what breaks in production.
 */
class FlakyStore extends MemoryStore {
  /** Topic name → how many more writes to it fail with a transport error. */
  readonly failures = new Map<string, number>();
  /** While set, writes wait for it (a controller paused mid-pass, or a slow network). */
  gate: Promise<void> | null = null;
  writes = 0;

  override async updateTopic(name: string, expectedVersion: string, update: TopicUpdate): Promise<TopicRecord> {
    if (this.gate) await this.gate;
    const left = this.failures.get(name) ?? 0;
    if (left > 0) {
      this.failures.set(name, left - 1);
      throw Object.assign(new Error(`connect ECONNREFUSED (injected, writing ${name})`), { code: 'ECONNREFUSED' });
    }
    this.writes++;
    return super.updateTopic(name, expectedVersion, update);
  }
}

const quiet = createLogger('controller-test', 'error');
const replicated = (name: string) => ({ name, partitions: 1, replicationFactor: 3, configs: {} });
const ledBy1 = [{ partition: 0, replicas: [1, 0, 2], leader: 1, isr: [1, 0, 2], leaderEpoch: 0, partitionEpoch: 0 }];

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('Controller', () => {
  test('controller gives up after one transient error: the pass goes on to the other topics and is retried with backoff until it completes', async () => {
    const store = new FlakyStore();
    for (const name of ['a', 'b', 'c']) await store.createTopic(replicated(name), ledBy1);
    store.failures.set('a', 3); // the API server refuses the first three writes to topic a
    const controller = new Controller({
      store, logger: quiet, uncleanFor: () => false, epoch: () => 1, live: () => live(0, 2), backoff: { initialMs: 20, maxMs: 200 },
    });
    try {
      await controller.reconcile(false);
      // the same pass moved b and c although a failed
      for (const name of ['b', 'c']) expect((await store.getTopic(name))!.partitions[0]).toMatchObject({ leader: 0, isr: [0, 2], leaderEpoch: 1 });
      // nothing else happens in the cluster (no membership change, no timer): the retries finish a
      await eventually(async () => (await store.getTopic('a'))!.partitions[0]!.leader === 0, 'topic a to get a live leader by retries');
      expect((await store.getTopic('a'))!.partitions[0]).toMatchObject({ leader: 0, isr: [0, 2], leaderEpoch: 1 });
      expect(controller.failedPasses).toBe(3);
      expect(controller.elections).toBe(3);
    } finally {
      controller.stop();
      await store.close();
    }
  });

  test('a controller whose writes are held mid-pass cannot land them after a newer controller took the lease', async () => {
    const store = new FlakyStore();
    await store.createTopic(replicated('t'), ledBy1);
    let oldEpoch: number | null = 1;
    // the old controller believes broker 1 is dead (its view went stale); broker 1 is in fact live
    const old = new Controller({ store, logger: quiet, uncleanFor: () => false, epoch: () => oldEpoch, live: () => live(0, 2) });
    const newer = new Controller({ store, logger: quiet, uncleanFor: () => false, epoch: () => 2, live: () => live(0, 1, 2) });
    let release!: () => void;
    store.gate = new Promise((r) => { release = r; });
    const oldPass = old.reconcile(false); // reads, plans "leader 1 → 0", and its write is held
    await new Promise((r) => setTimeout(r, 20));
    // the old controller's lease lapses without it noticing (it is paused); a newer one takes over
    store.gate = null;
    await newer.reconcile(false);
    expect((await store.getTopic('t'))!.controllerEpoch).toBe(2);
    release(); // the held write goes out now, as after a SIGCONT
    await oldPass;
    oldEpoch = 1; // even a controller that still believes it holds epoch 1 lands nothing
    await old.reconcile(false);
    const t = (await store.getTopic('t'))!;
    expect(t.partitions).toEqual(ledBy1);
    expect(t.controllerEpoch).toBe(2);
    expect(old.elections).toBe(0);
    old.stop();
    newer.stop();
    await store.close();
  });

  test('a controller that is not the lease holder writes nothing; one that loses the lease mid-pass stops', async () => {
    const store = new FlakyStore();
    for (const name of ['a', 'b']) await store.createTopic(replicated(name), ledBy1);
    let epoch: number | null = null;
    const controller = new Controller({ store, logger: quiet, uncleanFor: () => false, epoch: () => epoch, live: () => live(0, 2) });
    await controller.reconcile(false);
    expect(store.writes).toBe(0);
    epoch = 3;
    let release!: () => void;
    store.gate = new Promise((r) => { release = r; });
    const pass = controller.reconcile(false);
    await new Promise((r) => setTimeout(r, 20));
    epoch = null; // the lease lapsed while the first write was in flight
    release();
    await pass;
    expect(store.writes).toBe(1);
    controller.stop();
    await store.close();
  });
});
