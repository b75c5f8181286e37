/**
 * The transaction coordinator moves mid-transaction (issue 13): three brokers in one process
 * (LocalFleet on a shared MemoryStore), __transaction_state with replication factor 3 and
 * min.isr 2; kafkajs's transactional producer sends a transaction, the broker coordinating its
 * transactional id crashes (stop mode 'crash': no hand-off, logs abandoned unflushed, the
 * liveness lease left to expire — what a killed process leaves), and the commit then completes on
 * the new coordinator, which loaded the Ongoing transaction from its replica of the state topic.
 * A read_committed Fetch from each partition's leader returns every committed record exactly once.
 * (Not a SIGKILL: the Brook fleet of test/harness/fleet.ts is one process; the multi-process
 * SIGKILL fleets need the Kubernetes store, test/k8s.)
 */
import { afterEach, expect, test } from '@jest/globals';
import type { TestFleet } from '../replication/fleet-testing.ts';
import { connectTo, createTopic, kafkaClient, startTestFleet, waitFor } from '../replication/fleet-testing.ts';
import { decodeBatchRecords, forEachBatch } from '../log/records.ts';
import { CONTROL_MASK, readBatchHeader } from '../log/record-batch.ts';
import { TRANSACTION_STATE_TOPIC } from './index.ts';

let t: TestFleet | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
});

test('a transaction commits after its coordinator crashes mid-transaction; read_committed sees it once', async () => {
  t = await startTestFleet({ 'transaction.state.log.num.partitions': '3', 'transaction.state.log.replication.factor': '3', 'transaction.state.log.min.isr': '2' });
  const f = t.fleet;
  const topic = 'tx-failover';
  await createTopic(f, topic, 3);
  const kafka = kafkaClient(f);
  const transactionalId = 'failover-producer';
  const producer = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const send = async (txn: Awaited<ReturnType<typeof producer.transaction>>, from: number) => {
    for (let p = 0; p < 3; p++) {
      await txn.send({ topic, acks: -1, messages: Array.from({ length: 5 }, (_, i) => ({ partition: p, value: `v${from + p * 5 + i}` })) });
    }
  };
  const first = await producer.transaction();
  await send(first, 0);
  await first.commit();

  const stateIndex = f.brokers[0]!.transactions.partitionFor(transactionalId);
  await waitFor(() => f.brokers.every((b) => b.topic(TRANSACTION_STATE_TOPIC)?.partitions[stateIndex]?.isr.length === 3), '__transaction_state in sync');
  const coordinator = f.brokers[0]!.topic(TRANSACTION_STATE_TOPIC)!.partitions[stateIndex]!.leader;
  const second = await producer.transaction();
  await send(second, 15);
  expect(f.broker(coordinator)!.transactions.txns.get(transactionalId)?.state).toBe('Ongoing');

  await f.crash(coordinator);
  await second.commit();
  await producer.disconnect();

  const successor = () => f.brokers.find((b) => b.nodeId !== coordinator && b.topic(TRANSACTION_STATE_TOPIC)?.partitions[stateIndex]?.leader === b.nodeId);
  await waitFor(() => successor()?.transactions.txns.get(transactionalId)?.state === 'CompleteCommit', 'the new coordinator to complete the commit', 30_000);

  // a read_committed Fetch from each partition's leader: every record of both transactions, once
  const seen: string[] = [];
  for (let i = 0; i < 3; i++) {
    const leader = f.brokers.find((b) => b.partition(topic, i)?.isLeader)!;
    const conn = connectTo(f, leader.nodeId);
    try {
      const res = await conn.send(1, 12, {
        replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 1, sessionId: 0, sessionEpoch: -1,
        topics: [{ topic, partitions: [{ partition: i, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
        forgottenTopicsData: [], rackId: '',
      });
      const p = res.responses[0].partitions[0];
      expect(p).toMatchObject({ errorCode: 0, highWatermark: 12n, lastStableOffset: 12n, abortedTransactions: [] });
      forEachBatch(p.records, (pos) => {
        if (readBatchHeader(p.records, pos).attributes & CONTROL_MASK) return;
        for (const r of decodeBatchRecords(p.records, pos)) seen.push(r.value!.toString());
      });
    } finally {
      conn.close();
    }
  }
  expect(seen.sort()).toEqual(Array.from({ length: 30 }, (_, i) => `v${i}`).sort());
}, 180_000);
