/**
 * DeleteRecords on a replicated partition (issue 10, item 6): the leader's log start offset
 * reaches the followers through the fetch response, DeleteRecords is answered once every ISR
 * member applied it, and deleted records do not come back after a failover.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { ErrorCode } from '../errors.ts';
import type { LocalFleet } from '../local-fleet.ts';
import { connectTo, createTopic, fetchErrorCode as fetchAt, kafkaClient, listOffset, partitionState, startTestFleet, waitFor } from './fleet-testing.ts';
import type { TestFleet } from './fleet-testing.ts';

let t: TestFleet | null = null;
afterEach(async () => { await t?.close(); t = null; });

async function deleteRecords(f: LocalFleet, leader: number, topic: string, offset: bigint): Promise<{ errorCode: number; lowWatermark: bigint }> {
  const conn = connectTo(f, leader);
  try {
    const res = await conn.send(21, 2, { topics: [{ name: topic, partitions: [{ partitionIndex: 0, offset }] }], timeoutMs: 10_000 }, 20_000);
    const p = res.topics[0].partitions[0];
    return { errorCode: p.errorCode, lowWatermark: p.lowWatermark };
  } finally {
    conn.close();
  }
}

describe('DeleteRecords with replication', () => {
  test('delete_records_lost_on_failover: records deleted on RF 3 stay deleted on the new leader after the old one crashes', async () => {
    t = await startTestFleet();
    const f = t.fleet;
    await createTopic(f, 'trimmed', 1);
    const producer = kafkaClient(f).producer({ idempotent: true });
    await producer.connect();
    for (let i = 0; i < 10; i++) await producer.send({ topic: 'trimmed', acks: -1, messages: [{ value: `v${i}` }] });
    await producer.disconnect();
    const leader = partitionState(f, 'trimmed', 0).leader;

    const deleted = await deleteRecords(f, leader, 'trimmed', 6n);
    expect(deleted).toEqual({ errorCode: ErrorCode.NONE, lowWatermark: 6n });
    // answered: every replica in the ISR has moved its log start already
    for (const b of f.brokers) expect(b.partition('trimmed', 0)!.log.logStartOffset).toBe(6n);

    await f.crash(leader);
    await waitFor(() => { const s = partitionState(f, 'trimmed', 0); return s.leader >= 0 && s.leader !== leader; }, 'a new leader');
    const next = partitionState(f, 'trimmed', 0).leader;
    await waitFor(async () => (await listOffset(f, next, 'trimmed', 0, -2n)).errorCode === ErrorCode.NONE, 'the new leader to answer');
    expect(await listOffset(f, next, 'trimmed', 0, -2n)).toEqual({ errorCode: ErrorCode.NONE, offset: 6n });
    expect(await fetchAt(f, next, 'trimmed', 3n)).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    expect(await fetchAt(f, next, 'trimmed', 6n)).toBe(ErrorCode.NONE);
  });

  test('DeleteRecords waits for the ISR: with a follower that cannot apply it, it times out with REQUEST_TIMED_OUT', async () => {
    t = await startTestFleet({ 'broker.session.timeout.ms': '20000', 'broker.heartbeat.interval.ms': '500', 'replica.lag.time.max.ms': '60000' });
    const f = t.fleet;
    await createTopic(f, 'stuck', 1);
    const producer = kafkaClient(f).producer({ idempotent: true });
    await producer.connect();
    await producer.send({ topic: 'stuck', acks: -1, messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] });
    await producer.disconnect();
    const s = partitionState(f, 'stuck', 0);
    await f.crash(s.replicas.find((r) => r !== s.leader)!);
    const conn = connectTo(f, s.leader);
    try {
      const res = await conn.send(21, 2, { topics: [{ name: 'stuck', partitions: [{ partitionIndex: 0, offset: 2n }] }], timeoutMs: 800 }, 20_000);
      expect(res.topics[0].partitions[0].errorCode).toBe(ErrorCode.REQUEST_TIMED_OUT);
    } finally {
      conn.close();
    }
  });
});
