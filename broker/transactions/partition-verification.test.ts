/**
 * Partition verification across brokers (KIP-890 part 1): three brokers in one process, the
 * transactional id's coordinator on one broker and the written partition led by another. The
 * leader asks the coordinator with AddPartitionsToTxn v4 verifyOnly before the producer's first
 * transactional batch: a partition the transaction added is written, one it never added is
 * refused with INVALID_TXN_STATE and opens no transaction (its last stable offset stays at the
 * high watermark). The v4 request itself answers per partition.
 */
import { afterEach, expect, test } from '@jest/globals';
import type { TestFleet } from '../replication/fleet-testing.ts';
import { connectTo, createTopic, startTestFleet, waitFor } from '../replication/fleet-testing.ts';
import { encodeRecordBatch } from '../log/records.ts';
import { TRANSACTION_STATE_TOPIC } from './index.ts';

const NONE = 0;
const INVALID_TXN_STATE = 48;

let t: TestFleet | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
});

test('a partition leader verifies with another broker\'s coordinator: the added partition is written, the never-added one refused and left stable', async () => {
  t = await startTestFleet({ 'transaction.state.log.num.partitions': '1', 'transaction.state.log.replication.factor': '3', 'transaction.state.log.min.isr': '2' });
  const f = t.fleet;
  const topic = 'verified';
  await createTopic(f, topic, 3);
  const transactionalId = 'verifying-producer';
  const any = connectTo(f, 0);
  const found = async () => (await any.send(10, 4, { keyType: 1, coordinatorKeys: [transactionalId] })).coordinators[0];
  await waitFor(async () => (await found()).errorCode === NONE, 'a transaction coordinator', 30_000);
  const coordinatorId: number = (await found()).nodeId;
  any.close();
  await waitFor(() => f.brokers.every((b) => b.topic(TRANSACTION_STATE_TOPIC)?.partitions[0]?.leader === coordinatorId), 'every broker to know the coordinator');

  // two partitions led by brokers other than the coordinator
  const others = [0, 1, 2].filter((i) => f.brokers[0]!.topic(topic)!.partitions[i]!.leader !== coordinatorId);
  expect(others.length).toBeGreaterThan(0);
  const coordinator = connectTo(f, coordinatorId);
  const init = await coordinator.send(22, 4, { transactionalId, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
  expect(init.errorCode).toBe(NONE);
  const { producerId, producerEpoch } = init;
  const added = others[0]!;
  const add = await coordinator.send(24, 3, { v3AndBelowTransactionalId: transactionalId, v3AndBelowProducerId: producerId,
    v3AndBelowProducerEpoch: producerEpoch, v3AndBelowTopics: [{ name: topic, partitions: [added] }] });
  expect(add.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode).toBe(NONE);

  // the broker form, asked directly: per partition
  const verify = await coordinator.send(24, 4, { transactions: [{ transactionalId, producerId, producerEpoch, verifyOnly: true,
    topics: [{ name: topic, partitions: [0, 1, 2] }] }] });
  expect(verify.errorCode).toBe(NONE);
  expect(Object.fromEntries(verify.resultsByTransaction[0].topicResults[0].resultsByPartition.map((p: { partitionIndex: number; partitionErrorCode: number }) => [p.partitionIndex, p.partitionErrorCode])))
    .toEqual(Object.fromEntries([0, 1, 2].map((i) => [i, i === added ? NONE : INVALID_TXN_STATE])));
  coordinator.close();

  const produce = async (partition: number) => {
    const leader = f.brokers[0]!.topic(topic)!.partitions[partition]!.leader;
    const conn = connectTo(f, leader);
    try {
      const records = encodeRecordBatch([{ key: null, value: Buffer.from(`to-${partition}`) }], BigInt(Date.now()), { producerId, producerEpoch, baseSequence: 0, transactional: true });
      const r = await conn.send(0, 9, { transactionalId, acks: -1, timeoutMs: 10_000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] });
      return r.responses[0].partitionResponses[0].errorCode as number;
    } finally {
      conn.close();
    }
  };
  expect(await produce(added)).toBe(NONE);
  for (const p of [0, 1, 2].filter((i) => i !== added)) {
    expect(await produce(p)).toBe(INVALID_TXN_STATE);
    const leader = f.broker(f.brokers[0]!.topic(topic)!.partitions[p]!.leader)!;
    expect(leader.partition(topic, p)!.log.producerState.openTransactions()).toEqual([]);
  }
}, 120_000);
