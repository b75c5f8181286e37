/**
 * ReplicaManager's placement of followed partitions in fetchers: follow() (a topic just applied)
 * and unfollow() (a replica dropped) must leave the fetchers as sync() over every partition
 * would, stopping a fetcher left with nothing. The leaders' addresses are closed ports: the
 * fetchers' fetches fail and back off, which placement does not depend on.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { createLogger } from '../logger.ts';
import type { BrokerMetrics } from '../metrics.ts';
import { MemoryStore } from '../metadata/index.ts';
import type { Partition } from '../partition.ts';
import type { ReplicaFetcher } from './replica-fetcher.ts';
import { ReplicaManager } from './replica-manager.ts';

const NODE = 0;

/** The part of a Partition that placement and a fetch loop read; `leader` may be changed by the test. */
interface FakePartition { topic: string; index: number; name: string; leader: number }

function partition(topic: string, index: number, leader: number): FakePartition & Partition {
  const p = {
    topic, index, name: `${topic}-${index}`, leader, leaderEpoch: 1,
    get state() { return { partition: index, leader: p.leader, replicas: [0, 1, 2], isr: [0, 1, 2], leaderEpoch: 1, partitionEpoch: 1 }; },
    get isLeader() { return p.leader === NODE; },
    log: { logEndOffset: 0n, latestEpoch: -1, logStartOffset: 0n },
  };
  return p as unknown as FakePartition & Partition;
}

let managers: ReplicaManager[] = [];
afterEach(async () => {
  await Promise.all(managers.map((m) => m.stop()));
  managers = [];
});

function manager(all: () => Iterable<Partition>): ReplicaManager {
  const m = new ReplicaManager({
    nodeId: NODE, store: new MemoryStore(), logger: createLogger('replica-manager-test', 'error'), metrics: {} as BrokerMetrics,
    lagMaxMs: 30_000, fetchWaitMs: 500, fetchMaxBytes: 1 << 20, clock: Date.now, partitions: all,
    // port 1 on loopback: nothing listens, every fetch fails at once and backs off
    endpointOf: (id) => (id >= 1 && id <= 3 ? { host: '127.0.0.1', port: 1 } : undefined),
  });
  managers.push(m);
  return m;
}

/** Leader id → names of the partitions its fetcher follows, sorted. */
function placement(m: ReplicaManager): Record<number, string[]> {
  const fetchers = (m as unknown as { fetchers: Map<number, ReplicaFetcher> }).fetchers;
  return Object.fromEntries([...fetchers].map(([id, f]) => [id, f.partitions.map((p) => p.name).sort()]));
}

describe('ReplicaManager placement', () => {
  test('follow() moves a partition to its new leader\'s fetcher, and stops a fetcher left with nothing', () => {
    const p0 = partition('a', 0, 1);
    const p1 = partition('a', 1, 1);
    const m = manager(() => [p0, p1]);
    m.follow([p0, p1]);
    expect(placement(m)).toEqual({ 1: ['a-0', 'a-1'] });
    p0.leader = 2;
    m.follow([p0]);
    expect(placement(m)).toEqual({ 1: ['a-1'], 2: ['a-0'] });
    p1.leader = NODE;
    m.follow([p1]);
    expect(placement(m)).toEqual({ 2: ['a-0'] });
    p0.leader = -1;
    m.follow([p0]);
    expect(placement(m)).toEqual({});
  });

  test('unfollow() takes a dropped replica out of its fetcher', () => {
    const p0 = partition('a', 0, 1);
    const p1 = partition('b', 0, 1);
    const m = manager(() => [p0, p1]);
    m.follow([p0]);
    m.follow([p1]);
    m.unfollow(p0);
    expect(placement(m)).toEqual({ 1: ['b-0'] });
    m.unfollow(p1);
    expect(placement(m)).toEqual({});
  });

  test('a leader with no known address is not followed until it has one', () => {
    const p0 = partition('a', 0, 7);
    const m = manager(() => [p0]);
    m.follow([p0]);
    expect(placement(m)).toEqual({});
  });

  test('after 200 random leadership changes, each applied with follow(), the fetchers are what sync() makes of them', () => {
    const all = Array.from({ length: 40 }, (_, i) => partition(`t${i % 8}`, Math.floor(i / 8), 1 + (i % 3)));
    const incremental = manager(() => all);
    const full = manager(() => all);
    for (let topic = 0; topic < 8; topic++) incremental.follow(all.filter((p) => p.topic === `t${topic}`));
    let seed = 42;
    const random = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
    for (let change = 0; change < 200; change++) {
      const topic = `t${random(8)}`;
      const ofTopic = all.filter((p) => p.topic === topic);
      for (const p of ofTopic) if (random(2) === 0) p.leader = random(5) - 1; // -1 (none), 0 (here), 1..3
      incremental.follow(ofTopic);
    }
    full.sync();
    expect(placement(incremental)).toEqual(placement(full));
    expect(Object.values(placement(full)).flat().length).toBe(all.filter((p) => p.leader >= 1).length);
  });
});
