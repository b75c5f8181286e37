/**
 * An older Apache Kafka Java client (3.x, test/tools/kafka-3/pom.xml) still works: the 3.x
 * producer (idempotent, acks=all) and the 3.x consumer in a group (the classic protocol, the only
 * one it has), with a commit honoured by the next consumer of the group. The Java programs of
 * test/java-3x are compiled against and run with the 3.x jars.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import kafkajs from 'kafkajs';
import { startBroker, stopAllBrokers } from '../harness/brook.ts';
import type { BrokerHandle } from '../harness/brook.ts';
import { kafka3ClientVersion } from '../harness/paths.ts';
import { createTopicAndWait } from '../harness/topics.ts';
import { expectSuccess, java3xProgram } from '../harness/tools.ts';

const { Kafka, logLevel } = kafkajs;

let broker: BrokerHandle;
const topic = `java3x-${process.pid}`;
const group = `java3x-group-${process.pid}`;

beforeAll(async () => {
  broker = await startBroker({ set: { 'auto.create.topics.enable': 'false', 'group.initial.rebalance.delay.ms': '0' } });
  const admin = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await createTopicAndWait(admin, { topic, numPartitions: 3, replicationFactor: 1 });
  await admin.disconnect();
}, 300_000);

afterAll(async () => { await stopAllBrokers(); });

/** `ack <key> <partition> <offset>` / `record <key> <partition> <offset>` lines as `key@partition:offset`. */
function lines(stdout: Buffer, kind: 'ack' | 'record'): string[] {
  return stdout.toString().split('\n').filter((l) => l.startsWith(`${kind} `)).map((l) => {
    const [, key, partition, offset] = l.split(' ');
    return `${key}@${partition}:${offset}`;
  });
}

const sorted = (xs: string[]) => [...xs].sort();

test(`the Java client ${kafka3ClientVersion()} produces (idempotent, acks=all) and consumes in a group; a commit is where the group's next consumer starts`, async () => {
  const first = expectSuccess(await java3xProgram('Client3x', ['produce', broker.bootstrap, topic, '0', '300'], { timeoutMs: 120_000 }));
  expect(first.stdout.toString()).toContain(`version ${kafka3ClientVersion()}`);
  const acked = lines(first.stdout, 'ack');
  expect(acked).toHaveLength(300);

  const read = expectSuccess(await java3xProgram('Client3x', ['consume', broker.bootstrap, topic, group, '300', '60000'], { timeoutMs: 120_000 }));
  // every acknowledged record, at the partition and offset its acknowledgement named, once
  expect(sorted(lines(read.stdout, 'record'))).toEqual(sorted(acked));
  expect(read.stdout.toString()).toContain('committed');

  const more = lines(expectSuccess(await java3xProgram('Client3x', ['produce', broker.bootstrap, topic, '300', '50'], { timeoutMs: 120_000 })).stdout, 'ack');
  const again = expectSuccess(await java3xProgram('Client3x', ['consume', broker.bootstrap, topic, group, '50', '60000'], { timeoutMs: 120_000 }));
  // the second consumer of the group starts at the commit: only the new records, none twice
  expect(sorted(lines(again.stdout, 'record'))).toEqual(sorted(more));
}, 300_000);
