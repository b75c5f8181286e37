/**
 * ReplicaManager's ISR proposals against a real MemoryStore (versions, compare-and-swap): a
 * topic's proposals are batched into few writes, each written partition's ISR is the one
 * proposed, and a proposal that is no longer this leader's to make is dropped.
 */
import { describe, expect, test } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryStore, type PartitionState, type TopicUpdate } from '../metadata/index.ts';
import { createLogger } from '../logger.ts';
import { Counter } from 'prom-client';
import type { BrokerMetrics } from '../metrics.ts';
import type { Partition } from '../partition.ts';
import { ReplicaManager } from './replica-manager.ts';

const NODE = 0;

/** A MemoryStore that counts its topic writes and can lose a race on purpose. */
class CountingStore extends MemoryStore {
  writes = 0;
  /** Runs (once) between a proposer's read and its write: another writer's update. */
  beforeNextWrite: (() => Promise<void>) | null = null;
  override async updateTopic(name: string, expectedVersion: string, update: TopicUpdate) {
    const racer = this.beforeNextWrite;
    if (racer) {
      this.beforeNextWrite = null;
      await racer();
    }
    this.writes++;
    return super.updateTopic(name, expectedVersion, update);
  }
}

/** The part of a Partition that proposals use: which topic and index, the epoch, and the drop callback. */
function leaderOf(topic: string, index: number, leaderEpoch: number, dropped: Array<[number, number[]]>): Partition {
  return {
    topic, index, leaderEpoch, name: `${topic}-${index}`,
    isrProposalDropped: (isr: number[]) => { dropped.push([index, isr]); },
  } as unknown as Partition;
}

async function setup(partitions: number) {
  const store = new CountingStore();
  const states: PartitionState[] = Array.from({ length: partitions }, (_, i) => ({
    partition: i, replicas: [0, 1, 2], leader: NODE, isr: [0], leaderEpoch: 1, partitionEpoch: 1,
  }));
  await store.createTopic({ name: 't', partitions, replicationFactor: 3, configs: {} }, states);
  store.writes = 0;
  const metrics = {
    isrExpands: new Counter({ name: 'isr_expands', help: 'expands', registers: [] }),
    isrShrinks: new Counter({ name: 'isr_shrinks', help: 'shrinks', registers: [] }),
  };
  const manager = new ReplicaManager({
    nodeId: NODE, store, logger: createLogger('isr-test', 'error'), metrics: metrics as unknown as BrokerMetrics, lagMaxMs: 30_000,
    fetchWaitMs: 500, fetchMaxBytes: 1 << 20, endpointOf: () => undefined, partitions: () => [], clock: Date.now,
  });
  return { store, manager, metrics };
}

async function settle(store: MemoryStore, check: (isrs: ReadonlyArray<readonly number[]>) => boolean): Promise<ReadonlyArray<readonly number[]>> {
  for (let i = 0; i < 500; i++) {
    const isrs = (await store.getTopic('t'))!.partitions.map((p) => p.isr);
    if (check(isrs)) return isrs;
    await sleep(2);
  }
  throw new Error('proposals not written within 1 s');
}

describe('ISR proposals', () => {
  test('1,000 partitions of one topic proposing at once are written in at most two writes, each with its own ISR', async () => {
    const { store, manager, metrics } = await setup(1000);
    const dropped: Array<[number, number[]]> = [];
    for (let i = 0; i < 1000; i++) manager.proposeIsr(leaderOf('t', i, 1, dropped), i % 2 === 0 ? [0, 1] : [0, 2]);
    const isrs = await settle(store, (all) => all.every((isr) => isr.length === 2));
    isrs.forEach((isr, i) => expect(isr).toEqual(i % 2 === 0 ? [0, 1] : [0, 2]));
    expect(dropped).toEqual([]);
    expect(store.writes).toBeLessThanOrEqual(2);
    const topic = (await store.getTopic('t'))!;
    expect(topic.partitions.every((p) => p.partitionEpoch === 2)).toBe(true);
    expect((await metrics.isrExpands.get()).values[0]!.value).toBe(1000);
    expect((await metrics.isrShrinks.get()).values[0]!.value).toBe(0);
  });

  test('proposals arriving while a write is in flight go out together in the next write', async () => {
    const { store, manager } = await setup(100);
    const dropped: Array<[number, number[]]> = [];
    manager.proposeIsr(leaderOf('t', 0, 1, dropped), [0, 1]);
    await sleep(0); // the first write starts
    for (let i = 1; i < 100; i++) manager.proposeIsr(leaderOf('t', i, 1, dropped), [0, 1]);
    await settle(store, (all) => all.every((isr) => isr.length === 2));
    expect(store.writes).toBeLessThanOrEqual(2);
    expect(dropped).toEqual([]);
  });

  test('a proposal made at an older leader epoch is dropped; the rest of its batch is written', async () => {
    const { store, manager } = await setup(3);
    const t = (await store.getTopic('t'))!;
    // partition 1 got a new leader epoch (a leader election) after this broker proposed at epoch 1
    await store.updateTopic('t', t.version, { partitions: t.partitions.map((p) => (p.partition === 1 ? { ...p, leaderEpoch: 2 } : p)) });
    const dropped: Array<[number, number[]]> = [];
    for (let i = 0; i < 3; i++) manager.proposeIsr(leaderOf('t', i, 1, dropped), [0, 2]);
    const isrs = await settle(store, (all) => all[0]!.length === 2 && all[2]!.length === 2);
    expect(isrs[1]).toEqual([0]);
    expect(dropped).toEqual([[1, [0, 2]]]);
  });

  test('a lost compare-and-swap is retried on the topic read again, keeping the other writer\'s change', async () => {
    const { store, manager } = await setup(2);
    store.beforeNextWrite = async () => {
      const t = (await store.getTopic('t'))!;
      await store.updateTopic('t', t.version, { spec: { ...t.spec, configs: { 'retention.ms': '1000' } } });
    };
    const dropped: Array<[number, number[]]> = [];
    manager.proposeIsr(leaderOf('t', 0, 1, dropped), [0, 1, 2]);
    manager.proposeIsr(leaderOf('t', 1, 1, dropped), [0, 1]);
    const isrs = await settle(store, (all) => all[0]!.length === 3 && all[1]!.length === 2);
    expect(isrs).toEqual([[0, 1, 2], [0, 1]]);
    expect((await store.getTopic('t'))!.spec.configs).toEqual({ 'retention.ms': '1000' });
    expect(dropped).toEqual([]);
  });

  test('a second proposal for a partition whose first is still queued is dropped (only the members it would add)', async () => {
    const { store, manager } = await setup(1);
    const dropped: Array<[number, number[]]> = [];
    const p = leaderOf('t', 0, 1, dropped);
    manager.proposeIsr(p, [0, 1]);
    manager.proposeIsr(p, [0, 1, 2]);
    await settle(store, (all) => all[0]!.length === 2);
    expect(dropped).toEqual([[0, [2]]]);
    expect((await store.getTopic('t'))!.partitions[0]!.isr).toEqual([0, 1]);
  });
});
