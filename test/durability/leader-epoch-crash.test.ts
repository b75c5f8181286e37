/**
 * Leader epochs across a SIGKILL (issue 16 item 2). A replica that becomes leader no longer
 * writes its leader-epoch checkpoint (two fsyncs per partition, most of the cost of creating a
 * topic); the epochs go to disk with the next recovery-point checkpoint, and recovery derives
 * those above the checkpointed recovery point from the partitionLeaderEpoch of the batches it
 * verifies (broker/log/leader-epoch-recovery.ts).
 *
 * Three broker processes on a real kube-apiserver; a topic whose only partition is replicated on
 * brokers 0 and 1, led by 0: 10 records acknowledged at epoch 0; broker 0 SIGKILLed, broker 1
 * elected (epoch 1), 5 records acknowledged at epoch 1, and broker 1 SIGKILLed right after —
 * before anything wrote its epoch checkpoint. Restarted, broker 1 leads again and must answer
 * OffsetForLeaderEpoch from the epochs it recovered: epoch 0 ends at 10, epoch 1 at 15. A
 * recovery that does not derive the epochs from the batches answers 15 for epoch 0 (it knows
 * only the epoch it takes over at), which would let a follower of epoch 0 keep records the
 * leader never had.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import kafkajs from 'kafkajs';
import type { Admin } from 'kafkajs';
import { KafkaConnection } from '../../broker/client/kafka-connection.ts';
import { startProcessFleet, type ProcessFleetHandle } from '../harness/fleet.ts';

const { Kafka, logLevel } = kafkajs;
const TOPIC = 'epoch-kill';

let fleet: ProcessFleetHandle;
let admin: Admin;

beforeAll(async () => {
  fleet = await startProcessFleet(3, { 'auto.create.topics.enable': 'false', 'offsets.topic.replication.factor': '1' });
  admin = new Kafka({ brokers: fleet.bootstrap.split(','), logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } }).admin();
  await admin.connect();
}, 300_000);

afterAll(async () => {
  await admin?.disconnect();
  await fleet?.stop();
}, 60_000);

async function waitFor<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await read();
      if (ok(v)) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${String(last instanceof Error ? last.message : JSON.stringify(last, (_, x) => (typeof x === 'bigint' ? String(x) : x)))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const leaderOf = async (): Promise<number> => (await admin.fetchTopicMetadata({ topics: [TOPIC] })).topics[0]!.partitions[0]!.leader;

async function produce(count: number, from: number): Promise<void> {
  const producer = new Kafka({ brokers: fleet.bootstrap.split(','), logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } })
    .producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let i = 0; i < count; i++) await producer.send({ topic: TOPIC, acks: -1, messages: [{ value: `record ${from + i}` }] });
  } finally {
    await producer.disconnect();
  }
}

test('a broker SIGKILLed right after becoming leader and producing at its new epoch recovers the epoch list from its batches', async () => {
  await admin.createTopics({ topics: [{ topic: TOPIC, replicaAssignment: [{ partition: 0, replicas: [0, 1] }] }], waitForLeaders: false });
  await waitFor(leaderOf, (l) => l === 0, 'broker 0 to lead');
  await produce(10, 0);

  await fleet.kill(0);
  await waitFor(leaderOf, (l) => l === 1, 'broker 1 to take over');
  await produce(5, 10);
  await fleet.kill(1);

  await fleet.restart(1);
  const [host, port] = fleet.bootstrap.split(',')[1]!.split(':');
  const conn = new KafkaConnection({ host: host!, port: Number(port), clientId: 'epoch-kill', requestTimeoutMs: 30_000 });
  try {
    const endOf = (leaderEpoch: number) => conn.send(23, 3, {
      replicaId: -1, topics: [{ topic: TOPIC, partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch }] }],
    }).then((r) => r.topics[0]!.partitions[0]!);
    // (NOT_LEADER_OR_FOLLOWER until broker 1 has its partition back and leads it)
    expect(await waitFor(() => endOf(0), (p) => p.errorCode === 0, 'broker 1 to lead again')).toMatchObject({ leaderEpoch: 0, endOffset: 10n });
    expect(await endOf(1)).toMatchObject({ errorCode: 0, leaderEpoch: 1, endOffset: 15n });
    const latest = await conn.send(2, 5, { replicaId: -1, isolationLevel: 0,
      topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }] }] });
    expect(latest.topics[0]!.partitions[0]).toMatchObject({ errorCode: 0, offset: 15n });
  } finally {
    conn.close();
  }
}, 300_000);
