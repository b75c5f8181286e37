/**
 * Offset commits and the offsets topic under failure (issue 10, item 1), on three real brokers in
 * one process: a commit is answered only once every in-sync replica of its __consumer_offsets
 * partition has it; a commit the ISR cannot take in time fails with COORDINATOR_NOT_AVAILABLE; a
 * new coordinator returns what the old one acknowledged; __consumer_offsets is not created with
 * fewer replicas than offsets.topic.replication.factor.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '../errors.ts';
import { LocalFleet } from '../local-fleet.ts';
import { MemoryStore } from '../metadata/index.ts';
import { OFFSETS_TOPIC, partitionForGroup } from './config.ts';
import { FAST_FLEET_SETTINGS, connectTo, createTopic, startTestFleet, waitFor } from '../replication/fleet-testing.ts';
import type { TestFleet } from '../replication/fleet-testing.ts';

let t: TestFleet | null = null;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await t?.close();
  t = null;
  for (const c of cleanups.splice(0)) await c();
});

const GROUP = 'replicated-commits';

async function findCoordinator(f: LocalFleet, via: number, group: string): Promise<{ errorCode: number; nodeId: number; errorMessage: string | null }> {
  const conn = connectTo(f, via);
  try {
    return await conn.send(10, 3, { key: group, keyType: 0 });
  } finally {
    conn.close();
  }
}

async function commit(f: LocalFleet, coordinator: number, group: string, topic: string, offset: bigint): Promise<number> {
  const conn = connectTo(f, coordinator);
  try {
    const res = await conn.send(8, 8, { groupId: group, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null,
      topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: '' }] }] }, 30_000);
    return res.topics[0].partitions[0].errorCode;
  } finally {
    conn.close();
  }
}

async function fetchCommitted(f: LocalFleet, coordinator: number, group: string, topic: string): Promise<{ errorCode: number; offset: bigint }> {
  const conn = connectTo(f, coordinator);
  try {
    const res = await conn.send(9, 7, { groupId: group, topics: [{ name: topic, partitionIndexes: [0] }], requireStable: false });
    return { errorCode: res.errorCode, offset: res.topics[0]?.partitions[0]?.committedOffset };
  } finally {
    conn.close();
  }
}

/** Starts the fleet, creates the offsets topic through FindCoordinator and a topic to commit on. */
async function setUp(settings: Record<string, string>): Promise<{ f: LocalFleet; coordinator: number; followers: number[] }> {
  t = await startTestFleet({ 'offsets.topic.replication.factor': '3', ...settings });
  const f = t.fleet;
  await createTopic(f, 'orders', 1);
  await waitFor(async () => (await findCoordinator(f, 0, GROUP)).errorCode === ErrorCode.NONE, 'a coordinator');
  const index = partitionForGroup(GROUP, 3);
  await waitFor(() => f.brokers.every((b) => b.topic(OFFSETS_TOPIC)?.partitions[index]?.isr.length === 3), 'offsets partition in sync');
  const state = f.brokers[0]!.topic(OFFSETS_TOPIC)!.partitions[index]!;
  const coordinator = state.leader;
  await waitFor(async () => (await commit(f, coordinator, GROUP, 'orders', 1n)) === ErrorCode.NONE, 'the coordinator loaded');
  return { f, coordinator, followers: state.replicas.filter((r) => r !== coordinator) };
}

describe('offset commits are replicated before they are acknowledged', () => {
  test('offset_commit_acknowledged_before_replicated: a commit is answered only once every ISR member has it', async () => {
    const { f, coordinator, followers } = await setUp({ 'broker.session.timeout.ms': '1500', 'replica.lag.time.max.ms': '60000',
      'offsets.commit.timeout.ms': '20000' });
    const index = partitionForGroup(GROUP, 3);
    const leaderPartition = f.broker(coordinator)!.partition(OFFSETS_TOPIC, index)!;
    // A follower dies: until the controller takes it out of the ISR (its lease expires), the
    // high watermark cannot pass anything appended from now on.
    const [stopped] = followers;
    await f.crash(stopped!);
    const appendedAt = leaderPartition.log.logEndOffset;
    const errorCode = await commit(f, coordinator, GROUP, 'orders', 42n);
    const isrAtAnswer = f.broker(coordinator)!.topic(OFFSETS_TOPIC)!.partitions[index]!.isr;
    expect(errorCode).toBe(ErrorCode.NONE);
    // answered: the record is below the high watermark, i.e. on every replica still in the ISR —
    // which no longer holds the dead follower
    expect(leaderPartition.highWatermark).toBeGreaterThan(appendedAt);
    expect(isrAtAnswer).not.toContain(stopped);
    expect(await fetchCommitted(f, coordinator, GROUP, 'orders')).toEqual({ errorCode: 0, offset: 42n });
  });

  test('offset_commit_acknowledged_before_replicated: a commit the ISR cannot take within offsets.commit.timeout.ms fails with COORDINATOR_NOT_AVAILABLE and is not served', async () => {
    const { f, coordinator, followers } = await setUp({ 'broker.session.timeout.ms': '20000', 'broker.heartbeat.interval.ms': '500',
      'replica.lag.time.max.ms': '60000', 'offsets.commit.timeout.ms': '500' });
    await f.crash(followers[0]!);
    const started = Date.now();
    expect(await commit(f, coordinator, GROUP, 'orders', 77n)).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(await fetchCommitted(f, coordinator, GROUP, 'orders')).toEqual({ errorCode: 0, offset: 1n });
  });

  test('a new coordinator returns the offsets the crashed one acknowledged', async () => {
    const { f, coordinator } = await setUp({});
    expect(await commit(f, coordinator, GROUP, 'orders', 1234n)).toBe(ErrorCode.NONE);
    await f.crash(coordinator);
    let next = -1;
    await waitFor(async () => {
      const found = await findCoordinator(f, f.brokers[0]!.nodeId, GROUP);
      next = found.nodeId;
      return found.errorCode === ErrorCode.NONE && next !== coordinator && next >= 0;
    }, 'a new coordinator');
    await waitFor(async () => (await fetchCommitted(f, next, GROUP, 'orders')).errorCode === ErrorCode.NONE, 'the new coordinator loaded');
    expect(await fetchCommitted(f, next, GROUP, 'orders')).toEqual({ errorCode: 0, offset: 1234n });
  });
});

describe('offsets.topic.replication.factor', () => {
  test('offsets_topic_created_under_replicated: FindCoordinator with 1 live broker of 3 and RF 3 answers COORDINATOR_NOT_AVAILABLE, then creates RF 3 once all are up', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'brook-offsets-rf-'));
    const f = new LocalFleet({ brokers: 3, host: '127.0.0.1', basePort: 0, metricsBasePort: null, dataDir, store: new MemoryStore(),
      settings: { ...FAST_FLEET_SETTINGS, 'offsets.topic.replication.factor': '3' }, logLevel: 'warn' });
    cleanups.push(async () => { await f.stopAll(); rmSync(dataDir, { recursive: true, force: true }); });
    await f.start(0);
    await waitFor(() => f.broker(0)!.liveBrokers().length === 1, 'broker 0 live');
    const early = await findCoordinator(f, 0, GROUP);
    expect(early.errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect(early.errorMessage).toContain('offsets.topic.replication.factor');
    expect(f.broker(0)!.topic(OFFSETS_TOPIC)).toBeUndefined();
    await f.start(1);
    await f.start(2);
    await waitFor(() => f.brokers.every((b) => b.liveBrokers().length === 3), 'all brokers live');
    await waitFor(async () => (await findCoordinator(f, 0, GROUP)).errorCode === ErrorCode.NONE, 'a coordinator');
    expect(f.broker(0)!.topic(OFFSETS_TOPIC)!.partitions.every((p) => p.replicas.length === 3)).toBe(true);
  });
});
