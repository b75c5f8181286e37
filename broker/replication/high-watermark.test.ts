/**
 * The high watermark survives a restart (issue 10, item 5): it is checkpointed to
 * replication-offset-checkpoint periodically and on clean shutdown, and a restarted replica
 * resumes from min(checkpointed, log end) instead of its log start.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { join } from 'node:path';
import { hwKey, readHighWatermarks } from '../log/index.ts';
import { createTopic, kafkaClient, listOffset, partitionState, startTestFleet, waitFor } from './fleet-testing.ts';
import type { TestFleet } from './fleet-testing.ts';

let t: TestFleet | null = null;
afterEach(async () => { await t?.close(); t = null; });

async function produce(t: TestFleet, topic: string, n: number): Promise<void> {
  const producer = kafkaClient(t.fleet).producer({ idempotent: true });
  await producer.connect();
  for (let i = 0; i < n; i++) await producer.send({ topic, acks: -1, messages: [{ value: `v${i}` }] });
  await producer.disconnect();
}

const checkpointed = (t: TestFleet, broker: number, topic: string): bigint | undefined =>
  readHighWatermarks(join(t.dataDir, `broker-${broker}`)).get(hwKey(topic, 0));

describe('high watermark checkpoint', () => {
  test('high_watermark_not_persisted: ListOffsets(latest) right after a crash and restart answers the high watermark acknowledged before', async () => {
    t = await startTestFleet({ 'replica.high.watermark.checkpoint.interval.ms': '100' });
    const f = t.fleet;
    await createTopic(f, 'hw', 1);
    await produce(t, 'hw', 20);
    const leader = partitionState(f, 'hw', 0).leader;
    expect(f.broker(leader)!.partition('hw', 0)!.highWatermark).toBe(20n);
    await waitFor(() => checkpointed(t!, leader, 'hw') === 20n, 'the periodic checkpoint to hold 20');
    // every broker goes down at once, without handing anything off; the leader comes back first
    for (const id of f.ids) await f.crash(id);
    await f.start(leader);
    expect(f.broker(leader)!.partition('hw', 0)!.isLeader).toBe(true);
    expect(await listOffset(f, leader, 'hw', 0, -1n)).toEqual({ errorCode: 0, offset: 20n });
  });

  test('high_watermark_not_persisted: a clean shutdown writes replication-offset-checkpoint', async () => {
    t = await startTestFleet({ 'replica.high.watermark.checkpoint.interval.ms': '3600000' });
    const f = t.fleet;
    await createTopic(f, 'hw-clean', 1);
    await produce(t, 'hw-clean', 7);
    const leader = partitionState(f, 'hw-clean', 0).leader;
    expect(checkpointed(t, leader, 'hw-clean')).toBeUndefined();
    await f.stop(leader);
    expect(checkpointed(t, leader, 'hw-clean')).toBe(7n);
  });
});
