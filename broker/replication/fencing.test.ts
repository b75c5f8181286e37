/**
 * Requests that reach a broker after a leader change get Kafka's error codes (issue 10, item 9):
 * a produce to the old leader is NOT_LEADER_OR_FOLLOWER (also one that was waiting for the ISR
 * when leadership moved); a fetch or ListOffsets carrying an older leader epoch is
 * FENCED_LEADER_EPOCH — on the old leader too, since Kafka checks the epoch before leadership —
 * and one carrying a newer epoch than the broker knows is UNKNOWN_LEADER_EPOCH.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { ErrorCode } from '../errors.ts';
import type { LocalFleet } from '../local-fleet.ts';
import { encodeRecordBatch } from '../log/records.ts';
import { connectTo, createTopic, fetchErrorCode, partitionState, startTestFleet, waitFor } from './fleet-testing.ts';
import type { TestFleet } from './fleet-testing.ts';

let t: TestFleet | null = null;
afterEach(async () => { await t?.close(); t = null; });

/** Moves the leadership of `topic`-0 to `to`, as the controller does: compare-and-swap, epoch + 1. */
async function moveLeader(f: LocalFleet, topic: string, to: number): Promise<number> {
  const store = f.brokers[0]!.store;
  const record = (await store.getTopic(topic))!;
  const s = record.partitions[0]!;
  const epoch = s.leaderEpoch + 1;
  await store.updateTopic(topic, record.version, { partitions: [{ ...s, leader: to, leaderEpoch: epoch, partitionEpoch: s.partitionEpoch + 1 }] });
  await waitFor(() => f.brokers.every((b) => b.partition(topic, 0)?.leaderEpoch === epoch), 'every replica at the new epoch');
  return epoch;
}

async function produce(f: LocalFleet, broker: number, topic: string, acks: number, timeoutMs = 5000): Promise<number> {
  const conn = connectTo(f, broker);
  try {
    const records = encodeRecordBatch([{ key: null, value: Buffer.from('x') }], BigInt(Date.now()));
    const res = await conn.send(0, 8, { transactionalId: null, acks, timeoutMs, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] }, 30_000);
    return res.responses[0].partitionResponses[0].errorCode;
  } finally {
    conn.close();
  }
}

const fetchWithEpoch = (f: LocalFleet, broker: number, topic: string, epoch: number): Promise<number> => fetchErrorCode(f, broker, topic, 0n, epoch);

async function listOffsetsWithEpoch(f: LocalFleet, broker: number, topic: string, epoch: number): Promise<number> {
  const conn = connectTo(f, broker);
  try {
    const res = await conn.send(2, 5, { replicaId: -1, isolationLevel: 0,
      topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: epoch, timestamp: -1n }] }] });
    return res.topics[0].partitions[0].errorCode;
  } finally {
    conn.close();
  }
}

describe('fenced leaders and epochs', () => {
  test('a produce to the broker that just stopped leading the partition gets NOT_LEADER_OR_FOLLOWER', async () => {
    t = await startTestFleet();
    const f = t.fleet;
    await createTopic(f, 'moved', 1);
    const s = partitionState(f, 'moved', 0);
    expect(await produce(f, s.leader, 'moved', -1)).toBe(ErrorCode.NONE);
    const next = s.isr.find((r) => r !== s.leader)!;
    await moveLeader(f, 'moved', next);
    expect(await produce(f, s.leader, 'moved', -1)).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect(await produce(f, s.leader, 'moved', 1)).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect(await produce(f, next, 'moved', -1)).toBe(ErrorCode.NONE);
  });

  test('an acks=all produce waiting for the ISR when leadership moves gets NOT_LEADER_OR_FOLLOWER', async () => {
    t = await startTestFleet({ 'broker.session.timeout.ms': '20000', 'broker.heartbeat.interval.ms': '500', 'replica.lag.time.max.ms': '60000' });
    const f = t.fleet;
    await createTopic(f, 'waiting', 1);
    const s = partitionState(f, 'waiting', 0);
    const [dead, next] = s.replicas.filter((r) => r !== s.leader);
    await f.crash(dead!); // the high watermark cannot advance past what it lacks
    const pending = produce(f, s.leader, 'waiting', -1, 20_000);
    await waitFor(() => f.broker(s.leader)!.partition('waiting', 0)!.log.logEndOffset === 1n, 'the batch appended on the leader');
    await moveLeader(f, 'waiting', next!);
    expect(await pending).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
  });

  test('fenced_epoch_answered_not_leader: a fetch or ListOffsets at an older leader epoch is FENCED_LEADER_EPOCH on the old and the new leader; a newer one is UNKNOWN_LEADER_EPOCH', async () => {
    t = await startTestFleet();
    const f = t.fleet;
    await createTopic(f, 'epochs', 1);
    const s = partitionState(f, 'epochs', 0);
    const old = s.leaderEpoch;
    expect(await fetchWithEpoch(f, s.leader, 'epochs', old)).toBe(ErrorCode.NONE);
    const next = s.isr.find((r) => r !== s.leader)!;
    const epoch = await moveLeader(f, 'epochs', next);
    expect(await fetchWithEpoch(f, next, 'epochs', old)).toBe(ErrorCode.FENCED_LEADER_EPOCH);
    expect(await fetchWithEpoch(f, s.leader, 'epochs', old)).toBe(ErrorCode.FENCED_LEADER_EPOCH);
    expect(await fetchWithEpoch(f, next, 'epochs', epoch + 3)).toBe(ErrorCode.UNKNOWN_LEADER_EPOCH);
    expect(await fetchWithEpoch(f, s.leader, 'epochs', epoch)).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect(await fetchWithEpoch(f, next, 'epochs', epoch)).toBe(ErrorCode.NONE);
    expect(await listOffsetsWithEpoch(f, s.leader, 'epochs', old)).toBe(ErrorCode.FENCED_LEADER_EPOCH);
    expect(await listOffsetsWithEpoch(f, next, 'epochs', epoch + 3)).toBe(ErrorCode.UNKNOWN_LEADER_EPOCH);
  });
});
