import { afterAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DelayedFetchQueue } from './delayed-operations.ts';
import { Partition } from './partition.ts';
import { PartitionLog, defaultLogConfig } from './log/index.ts';
import { encodeRecordBatch } from './log/records.ts';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

async function leaderPartition(clock: () => number): Promise<Partition> {
  const dir = mkdtempSync(join(tmpdir(), 'brook-partition-'));
  dirs.push(dir);
  const log = await PartitionLog.open(dir, defaultLogConfig, { name: 't-0' });
  return new Partition({
    topic: 't', index: 0, topicId: 'id', log, nodeId: 0, minInsyncReplicas: 1, clock,
    state: { partition: 0, replicas: [0, 1, 2], leader: 0, isr: [0, 1, 2], leaderEpoch: 1, partitionEpoch: 1 },
  });
}

const batch = (): Buffer => encodeRecordBatch([{ key: null, value: Buffer.from('v') }], 0n);

describe('Partition: ISR membership', () => {
  test('a follower that keeps up under sustained produce is not dropped from the ISR (caught up = at the leader log end of its previous fetch)', async () => {
    let now = 1_000;
    const p = await leaderPartition(() => now);
    const lagMaxMs = 500;
    // Every follower fetch arrives after the leader appended one more batch: a follower is never
    // at the leader's log end at the instant of its fetch, but always at the log end as of its
    // previous fetch — a healthy follower under load.
    for (let i = 0; i < 100; i++) {
      p.appendAsLeader(batch(), -1);
      now += 50;
      for (const r of [1, 2]) p.recordFollowerFetch(r, p.log.logEndOffset - 1n);
      expect(p.laggingIsr(lagMaxMs)).toBeNull();
    }
    expect(p.highWatermark).toBe(99n);
  });

  test('a follower that stops making progress leaves the ISR after replica.lag.time.max.ms', async () => {
    let now = 1_000;
    const p = await leaderPartition(() => now);
    const lagMaxMs = 500;
    for (let i = 0; i < 30; i++) {
      p.appendAsLeader(batch(), -1);
      now += 50;
      p.recordFollowerFetch(1, p.log.logEndOffset - 1n);
      p.recordFollowerFetch(2, 0n); // follower 2 fetches but never advances
    }
    expect(p.laggingIsr(lagMaxMs)).toEqual([0, 1]);
  });
});

describe('Partition: a follower proposed into the ISR (pending expansion)', () => {
  async function reassigning(clock: () => number): Promise<Partition> {
    const dir = mkdtempSync(join(tmpdir(), 'brook-partition-'));
    dirs.push(dir);
    const log = await PartitionLog.open(dir, defaultLogConfig, { name: 't-0' });
    // leader 0 with follower 1 in sync; replica 2 being added (a reassignment), not yet in the ISR
    return new Partition({
      topic: 't', index: 0, topicId: 'id', log, nodeId: 0, minInsyncReplicas: 1, clock,
      state: { partition: 0, replicas: [0, 1, 2], addingReplicas: [2], leader: 0, isr: [0, 1], leaderEpoch: 1, partitionEpoch: 1 },
    });
  }

  test('the high watermark waits for a proposed joiner before the store answers: nothing is acknowledged that a replica the store may already list in sync lacks', async () => {
    let now = 1_000;
    const p = await reassigning(() => now);
    for (let i = 0; i < 3; i++) p.appendAsLeader(batch(), -1);
    p.recordFollowerFetch(1, 3n);
    expect(p.highWatermark).toBe(3n);
    // replica 2 caught up to the high watermark: proposed into the ISR
    expect(p.recordFollowerFetch(2, 3n)).toEqual([0, 1, 2]);
    // the proposal is out (the ISR here is still [0, 1]); a record is written and follower 1 has it
    p.appendAsLeader(batch(), -1);
    now += 10;
    p.recordFollowerFetch(1, 4n);
    // without the pending joiner the high watermark would be 4 while replica 2 ends at 3
    expect(p.highWatermark).toBe(3n);
    // the store took [0, 1, 2]: still held by replica 2 until it has the record
    p.updateState({ partition: 0, replicas: [0, 1, 2], addingReplicas: [2], leader: 0, isr: [0, 1, 2], leaderEpoch: 1, partitionEpoch: 2 }, 1);
    expect(p.highWatermark).toBe(3n);
    p.recordFollowerFetch(2, 4n);
    expect(p.highWatermark).toBe(4n);
  });

  test('a dropped proposal, or a joiner that stops fetching for replica.lag.time.max.ms, no longer holds the high watermark back', async () => {
    let now = 1_000;
    const p = await reassigning(() => now);
    p.appendAsLeader(batch(), -1);
    p.recordFollowerFetch(1, 1n);
    expect(p.recordFollowerFetch(2, 1n)).toEqual([0, 1, 2]);
    p.appendAsLeader(batch(), -1);
    p.recordFollowerFetch(1, 2n);
    expect(p.highWatermark).toBe(1n);
    p.isrProposalDropped([0, 1, 2]);
    expect(p.highWatermark).toBe(2n);

    expect(p.recordFollowerFetch(2, 2n)).toEqual([0, 1, 2]);
    p.appendAsLeader(batch(), -1);
    p.recordFollowerFetch(1, 3n);
    expect(p.highWatermark).toBe(2n);
    now += 400;
    p.dropLaggingJoiners(500);
    expect(p.highWatermark).toBe(2n);
    now += 200; // replica 2 last caught up 600 ms ago
    p.recordFollowerFetch(1, 3n);
    p.dropLaggingJoiners(500);
    expect(p.highWatermark).toBe(3n);
  });
});

describe('Partition: leadership moves', () => {
  test('a fetch parked on a partition wakes at once when its leadership moves to another broker, not after its max wait', async () => {
    const p = await leaderPartition(Date.now);
    const started = Date.now();
    const woke = new DelayedFetchQueue().wait([p], 30_000).then(() => Date.now() - started);
    const earlyWake = await Promise.race([woke.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 100))]);
    expect(earlyWake).toBe(false);
    p.updateState({ partition: 0, replicas: [0, 1, 2], leader: 1, isr: [0, 1, 2], leaderEpoch: 2, partitionEpoch: 2 }, 1);
    expect(p.isLeader).toBe(false);
    expect(await woke).toBeLessThan(5_000);
  });

  test('an ISR change that keeps the leader and its epoch does not wake a parked fetch', async () => {
    const p = await leaderPartition(Date.now);
    let woke = false;
    const wait = new DelayedFetchQueue().wait([p], 300).then(() => { woke = true; });
    p.updateState({ partition: 0, replicas: [0, 1, 2], leader: 0, isr: [0, 1], leaderEpoch: 1, partitionEpoch: 2 }, 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(woke).toBe(false);
    await wait;
  });
});
