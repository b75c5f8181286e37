/**
 * Transactions with real clients (issue 13): the Java client's transactional producer committing
 * and aborting, read back with read_committed and read_uncommitted by the Java consumer, kcat
 * (librdkafka) and kafkajs; zombie fencing by a second producer with the same transactional id;
 * a consume-transform-produce loop with sendOffsetsToTransaction. Runs against Brook and, with
 * BROOK_TEST_TARGET=kafka, against Apache Kafka: the same assertions hold for both.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import kafkajs from 'kafkajs';
import type { Admin } from 'kafkajs';
import { startBroker, stopAllBrokers } from '../harness/brook.ts';
import type { BrokerHandle } from '../harness/brook.ts';
import { createTopicAndWait } from '../harness/topics.ts';
import { compileJavaPrograms, expectSuccess, javaProgram, kafkaTool, kcat } from '../harness/tools.ts';

const { Kafka, logLevel } = kafkajs;

let broker: BrokerHandle;
let admin: Admin;

beforeAll(async () => {
  compileJavaPrograms();
  broker = await startBroker({ set: { 'auto.create.topics.enable': 'false' } });
  admin = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
}, 120_000);

afterAll(async () => {
  await admin?.disconnect();
  await stopAllBrokers();
});

let seq = 0;
const name = (what: string) => `txn-${what}-${process.pid}-${seq++}`;

async function createTopic(what: string, numPartitions: number): Promise<string> {
  const topic = name(what);
  expect(await createTopicAndWait(admin, { topic, numPartitions, replicationFactor: 1 })).toBe(true);
  return topic;
}

interface Sent { t: number; i: number; partition: number; offset: number; outcome: string; value: string }

/** Runs TxnProducer's script; the acknowledged records with the value each carries. */
async function produceTransactions(topic: string, txnId: string, partitions: number, steps: string[]): Promise<Sent[]> {
  const r = expectSuccess(await javaProgram('TxnProducer', [broker.bootstrap, topic, txnId, String(partitions), ...steps]));
  return r.stdout.toString().trim().split('\n').map((l) => {
    const [t, i, partition, offset, outcome] = l.split(' ');
    return { t: Number(t), i: Number(i), partition: Number(partition), offset: Number(offset), outcome: outcome!, value: `t${t}-r${i}-${outcome}` };
  });
}

/** Records as "partition offset value", sorted; the Java consumer by assignment. */
async function javaRead(topic: string, isolation: string): Promise<string[]> {
  const r = expectSuccess(await javaProgram('AssignConsumer', [broker.bootstrap, topic, '60000', `isolation.level=${isolation}`]));
  return r.stdout.toString().split('\n').filter((l) => l).map((l) => {
    const [partition, offset, , , value] = l.split(' ');
    return `${partition} ${offset} ${Buffer.from(value!.slice(2), 'hex').toString()}`;
  }).sort();
}

const lines = (records: Sent[]) => records.map((s) => `${s.partition} ${s.offset} ${s.value}`).sort();

describe('the Java transactional producer', () => {
  let topic: string;
  let sent: Sent[];

  beforeAll(async () => {
    topic = await createTopic('java', 3);
    sent = await produceTransactions(topic, name('java-id'), 3, ['commit:6', 'abort:6', 'commit:7', 'abort:4', 'commit:2']);
  }, 120_000);

  test('the Java 4.x client speaks the transaction protocol v2 (transaction.version 2, KIP-890 part 2): each of its five transactions bumped the producer epoch, as describe-producers shows on partition 0', async () => {
    const r = expectSuccess(await kafkaTool('org.apache.kafka.tools.TransactionsCommand', ['--bootstrap-server', broker.bootstrap, 'describe-producers', '--topic', topic, '--partition', '0']));
    const rows = r.stdout.toString().split('\n').map((l) => l.trim().split(/\s+/)).filter((row) => /^\d+$/.test(row[0] ?? ''));
    expect(rows).toHaveLength(1);
    // ProducerId ProducerEpoch ...: a fresh transactional id starts at epoch 0; the last commit marker here carries epoch 5 (protocol v1: 0)
    expect(rows[0]![1]).toBe('5');
  }, 60_000);

  test('acknowledges every record of committed and aborted transactions', () => {
    expect(sent).toHaveLength(25);
    expect(new Set(sent.map((s) => `${s.partition}/${s.offset}`)).size).toBe(25);
  });

  test('read_committed (Java consumer) sees exactly the committed records, at their acknowledged offsets', async () => {
    expect(await javaRead(topic, 'read_committed')).toEqual(lines(sent.filter((s) => s.outcome === 'commit')));
  }, 90_000);

  test('read_uncommitted (Java consumer) sees every record, aborted ones included', async () => {
    expect(await javaRead(topic, 'read_uncommitted')).toEqual(lines(sent));
  }, 90_000);

  test('kcat with isolation.level=read_committed sees the committed records; read_uncommitted sees all', async () => {
    const read = async (isolation: string) => {
      const r = expectSuccess(await kcat(['-b', broker.bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q',
        '-X', `isolation.level=${isolation}`, '-f', '%p %o %s\\n']));
      return r.stdout.toString().split('\n').filter((l) => l).sort();
    };
    expect(await read('read_committed')).toEqual(lines(sent.filter((s) => s.outcome === 'commit')));
    expect(await read('read_uncommitted')).toEqual(lines(sent));
  }, 90_000);

  test('kafkajs (read_committed by default) sees the committed records; readUncommitted sees all', async () => {
    const read = async (readUncommitted: boolean, expected: number) => {
      const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
      const consumer = kafka.consumer({ groupId: name('kafkajs-group'), readUncommitted, maxWaitTimeInMs: 200 });
      const got: string[] = [];
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`kafkajs read ${got.length} of ${expected}`)), 60_000);
        void consumer.run({
          eachMessage: async ({ partition, message }) => {
            got.push(`${partition} ${message.offset} ${message.value!.toString()}`);
            if (got.length >= expected) { clearTimeout(timer); resolve(); }
          },
        });
      });
      // nothing beyond the expected records arrives
      await new Promise((r) => setTimeout(r, 500));
      await consumer.disconnect();
      return got.sort();
    };
    const committed = sent.filter((s) => s.outcome === 'commit');
    expect(await read(false, committed.length)).toEqual(lines(committed));
    expect(await read(true, sent.length)).toEqual(lines(sent));
  }, 150_000);
});

describe('zombie fencing', () => {
  test('a second producer with the same transactional id fences the first, whose open transaction is aborted', async () => {
    const topic = await createTopic('fence', 1);
    const r = expectSuccess(await javaProgram('TxnFencing', [broker.bootstrap, topic, name('fence-id')]));
    const [outcome, done] = r.stdout.toString().trim().split('\n');
    expect(outcome).toMatch(/^fenced (ProducerFencedException|InvalidProducerEpochException)$/);
    expect(done).toBe('b-committed');
    const committed = (await javaRead(topic, 'read_committed')).map((l) => l.split(' ')[2]);
    expect(committed).toEqual(['fresh-0']);
    const all = (await javaRead(topic, 'read_uncommitted')).map((l) => l.split(' ')[2]);
    expect(all).toContain('zombie-0');
    expect(all).not.toContain('zombie-1');
  }, 120_000);
});

describe('consume-transform-produce with sendOffsetsToTransaction', () => {
  test('every input record is copied exactly once and the group commits the input end offsets, with every 3rd transaction aborted', async () => {
    const input = await createTopic('copy-in', 3);
    const output = await createTopic('copy-out', 3);
    const count = 60;
    expectSuccess(await javaProgram('KeyedProducer', [broker.bootstrap, input, String(count)]));
    const group = name('copy-group');
    const r = expectSuccess(await javaProgram('TxnCopy', [broker.bootstrap, input, output, group, name('copy-id'), String(count), '3']));
    expect(r.stdout.toString()).toMatch(new RegExp(`^copied ${count} transactions \\d+ aborted [1-9]\\d*`));

    const values = (await javaRead(output, 'read_committed')).map((l) => l.split(' ')[2]).sort();
    expect(values).toEqual(Array.from({ length: count }, (_, i) => `value-${i}-copied`).sort());

    const committed = await admin.fetchOffsets({ groupId: group, topics: [input] });
    const ends = await admin.fetchTopicOffsets(input);
    expect(committed[0]!.partitions.map((p) => [p.partition, p.offset]).sort())
      .toEqual(ends.map((p) => [p.partition, p.high]).sort());
  }, 150_000);
});
