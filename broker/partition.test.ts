import { afterAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
