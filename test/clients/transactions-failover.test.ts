/**
 * Coordinator failover across broker processes (issue 13): a transaction is open on three
 * partitions (RF 3, __transaction_state RF 3 / min.isr 2) when the broker coordinating its
 * transactional id is SIGKILLed. A new Java producer with the same transactional id then starts:
 * its initTransactions reaches the new coordinator, which loaded the Ongoing transaction from its
 * replica of __transaction_state, fences the old epoch and aborts it; the new producer commits.
 * read_committed sees exactly the new producer's records, read_uncommitted the aborted ones too,
 * and no partition is left with a hanging transaction (LSO = high watermark). Against Brook
 * (broker processes on a real kube-apiserver) and, with BROOK_TEST_TARGET=kafka, Apache Kafka.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import kafkajs from 'kafkajs';
import type { Admin } from 'kafkajs';
import { KafkaConnection } from '../../broker/client/kafka-connection.ts';
import { encodeRecordBatch } from '../../broker/log/records.ts';
import { startProcessFleet, type ProcessFleetHandle } from '../harness/fleet.ts';
import { createTopicAndWait } from '../harness/topics.ts';
import { compileJavaPrograms, expectSuccess, javaProgram } from '../harness/tools.ts';

const { Kafka, logLevel } = kafkajs;
const NONE = 0;

let fleet: ProcessFleetHandle;
let admin: Admin;

beforeAll(async () => {
  compileJavaPrograms();
  fleet = await startProcessFleet(3, {
    'default.replication.factor': '3', 'min.insync.replicas': '2', 'offsets.topic.replication.factor': '3',
    'transaction.state.log.replication.factor': '3', 'transaction.state.log.min.isr': '2', 'transaction.state.log.num.partitions': '3',
    'auto.create.topics.enable': 'false',
  });
  admin = new Kafka({ brokers: fleet.bootstrap.split(','), logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } }).admin();
  await admin.connect();
}, 300_000);

afterAll(async () => {
  await admin?.disconnect();
  await fleet?.stop();
}, 60_000);

const addresses = () => fleet.bootstrap.split(',');
function connect(hostPort: string): KafkaConnection {
  const [host, port] = hostPort.split(':');
  return new KafkaConnection({ host: host!, port: Number(port), clientId: 'txn-failover-test', requestTimeoutMs: 30_000 });
}

async function retry<T>(call: () => Promise<T>, ok: (r: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await call();
    if (ok(r)) return r;
    if (Date.now() > deadline) throw new Error(`${what}: ${JSON.stringify(r, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

test('SIGKILL of the transaction coordinator mid-transaction: a new producer with the same id fences and aborts it, commits its own, and no partition hangs', async () => {
  const topic = 'failover-txn';
  expect(await createTopicAndWait(admin, { topic, numPartitions: 3, replicationFactor: 3 }, 60_000)).toBe(true);
  const transactionalId = 'failover-txn-id';
  const any = connect(addresses()[0]!);
  const coordinator = (await retry(() => any.send(10, 4, { keyType: 1, coordinatorKeys: [transactionalId] }).then((r) => r.coordinators[0]),
    (c) => c.errorCode === NONE, 'FindCoordinator')).nodeId as number;
  any.close();
  const coord = connect(addresses()[coordinator]!);
  const init = await retry(() => coord.send(22, 4, { transactionalId, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 }), (r) => r.errorCode === NONE, 'InitProducerId');
  const { producerId, producerEpoch } = init;
  const added = await coord.send(24, 3, { v3AndBelowTransactionalId: transactionalId, v3AndBelowProducerId: producerId, v3AndBelowProducerEpoch: producerEpoch,
    v3AndBelowTopics: [{ name: topic, partitions: [0, 1, 2] }] });
  expect(added.resultsByTopicV3AndBelow[0].resultsByPartition.map((p: { partitionErrorCode: number }) => p.partitionErrorCode)).toEqual([NONE, NONE, NONE]);
  coord.close();
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  for (const p of meta.topics[0]!.partitions) {
    const conn = connect(addresses()[p.leader]!);
    const records = encodeRecordBatch([{ key: null, value: Buffer.from(`old-${p.partitionId}`) }], BigInt(Date.now()), { producerId, producerEpoch, baseSequence: 0, transactional: true });
    const r = await conn.send(0, 9, { transactionalId, acks: -1, timeoutMs: 10_000, topicData: [{ name: topic, partitionData: [{ index: p.partitionId, records }] }] });
    conn.close();
    expect(r.responses[0].partitionResponses[0].errorCode).toBe(NONE);
  }

  await fleet.kill(coordinator);
  const run = expectSuccess(await javaProgram('TxnProducer', [fleet.bootstrap, topic, transactionalId, '3', 'commit:6'], { timeoutMs: 150_000 }));
  expect(run.stdout.toString().trim().split('\n')).toHaveLength(6);

  const read = async (isolation: string) => {
    const r = expectSuccess(await javaProgram('AssignConsumer', [fleet.bootstrap, topic, '90000', `isolation.level=${isolation}`], { timeoutMs: 120_000 }));
    return r.stdout.toString().split('\n').filter((l) => l).map((l) => Buffer.from(l.split(' ')[4]!.slice(2), 'hex').toString()).sort();
  };
  const fresh = Array.from({ length: 6 }, (_, i) => `t0-r${i}-commit`);
  expect(await read('read_committed')).toEqual(fresh.sort());
  expect(await read('read_uncommitted')).toEqual([...fresh, 'old-0', 'old-1', 'old-2'].sort());
  // (read_committed stops at the last stable offset: reading the new records, written after the
  // old transaction's, shows that no partition hangs on it)
  await fleet.restart(coordinator);
}, 600_000);
