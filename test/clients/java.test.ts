/**
 * The Apache Kafka Java client and CLI tools (version from test/tools/kafka/pom.xml) against a
 * real Brook broker: TopicCommand, ConfigCommand, ProducerPerformance (idempotent by default),
 * GetOffsetShell, and the programs in test/java (an idempotent acks=all keyed producer and a
 * consumer that reads by assignment), checked byte-exact against what was produced.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import kafkajs from 'kafkajs';
import type { Message } from 'kafkajs';
import { startBroker, stopAllBrokers, target } from '../harness/brook.ts';
import type { BrokerHandle } from '../harness/brook.ts';
import { registerCodecs } from '../harness/codecs.ts';
import { compileJavaPrograms, expectSuccess, javaProgram, kafkaTool } from '../harness/tools.ts';

const { Kafka, CompressionTypes, logLevel } = kafkajs;
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
registerCodecs();

let broker: BrokerHandle;

beforeAll(async () => {
  compileJavaPrograms();
  broker = await startBroker({ set: { 'auto.create.topics.enable': 'false' } });
}, 120_000);

afterAll(async () => {
  await stopAllBrokers();
});

let seq = 0;
const topicName = (what: string) => `java-${what}-${process.pid}-${seq++}`;

const topicCommand = (...args: string[]) => kafkaTool('org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', broker.bootstrap, ...args]);
const configCommand = (...args: string[]) => kafkaTool('org.apache.kafka.tools.ConfigCommand', ['--bootstrap-server', broker.bootstrap, ...args]);

/** One line of AssignConsumer's output. */
interface JavaRecord { partition: number; offset: number; timestamp: number; key: string; value: string; headers: string }

function parseAssignConsumer(stdout: Buffer): JavaRecord[] {
  return stdout.toString().split('\n').filter((l) => l.length > 0).map((l) => {
    const [partition, offset, timestamp, key, value, headers] = l.split(' ');
    return { partition: Number(partition), offset: Number(offset), timestamp: Number(timestamp), key, value, headers };
  }).sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

async function readByAssignment(topic: string): Promise<JavaRecord[]> {
  return parseAssignConsumer(expectSuccess(await javaProgram('AssignConsumer', [broker.bootstrap, topic, '60000'])).stdout);
}

const hex = (b: Buffer | string | null | undefined) => (b === null || b === undefined ? 'null' : `0x${Buffer.from(b).toString('hex')}`);

/** Parses `--describe` output of TopicCommand into the summary line's fields and the partition lines. */
function parseDescribe(out: string, topic: string) {
  const summary = out.split('\n').find((l) => l.startsWith(`Topic: ${topic}\t`) && l.includes('PartitionCount'));
  const fields = Object.fromEntries((summary ?? '').split('\t').map((f) => f.split(': ')).map(([k, ...v]) => [k.trim(), v.join(': ').trim()]));
  const partitions = out.split('\n').filter((l) => /^\s*Topic: .*\tPartition: \d+/.test(l)).map((l) => {
    const f = Object.fromEntries(l.trim().split('\t').map((x) => x.split(': ')).map(([k, v]) => [k.trim(), (v ?? '').trim()]));
    return { partition: Number(f.Partition), leader: f.Leader, replicas: f.Replicas, isr: f.Isr };
  }).sort((a, b) => a.partition - b.partition);
  return { fields, partitions };
}

describe('Kafka CLI tools', () => {
  test('TopicCommand create / describe / list / alter partitions / delete', async () => {
    const topic = topicName('topiccmd');
    const created = expectSuccess(await topicCommand('--create', '--topic', topic, '--partitions', '3', '--replication-factor', '1',
      '--config', 'retention.ms=123456', '--config', 'cleanup.policy=delete'));
    expect(created.stdout.toString()).toContain(`Created topic ${topic}.`);

    const dup = await topicCommand('--create', '--topic', topic, '--partitions', '3', '--replication-factor', '1');
    expect(dup.code).not.toBe(0);
    expect(dup.stdout.toString() + dup.stderr).toMatch(/already exists/);

    const described = parseDescribe(expectSuccess(await topicCommand('--describe', '--topic', topic)).stdout.toString(), topic);
    expect(described.fields).toMatchObject({ Topic: topic, PartitionCount: '3', ReplicationFactor: '1' });
    expect(described.fields.Configs).toContain('retention.ms=123456');
    expect(described.fields.Configs).toContain('cleanup.policy=delete');
    expect(described.partitions).toEqual([0, 1, 2].map((partition) => ({ partition, leader: '0', replicas: '0', isr: '0' })));

    expect(expectSuccess(await topicCommand('--list')).stdout.toString().split('\n')).toContain(topic);

    expectSuccess(await topicCommand('--alter', '--topic', topic, '--partitions', '5'));
    const grown = parseDescribe(expectSuccess(await topicCommand('--describe', '--topic', topic)).stdout.toString(), topic);
    expect(grown.fields.PartitionCount).toBe('5');
    expect(grown.partitions.map((p) => p.partition)).toEqual([0, 1, 2, 3, 4]);

    const shrink = await topicCommand('--alter', '--topic', topic, '--partitions', '2');
    expect(shrink.code).not.toBe(0);
    expect(shrink.stdout.toString() + shrink.stderr).toMatch(/INVALID_PARTITIONS|InvalidPartitionsException|would not be an increase/i);

    expectSuccess(await topicCommand('--delete', '--topic', topic));
    let listed: string[] = [];
    for (let i = 0; i < 20; i++) {
      listed = expectSuccess(await topicCommand('--list')).stdout.toString().split('\n');
      if (!listed.includes(topic)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(listed).not.toContain(topic);
  }, 180_000); // several JVM launches: over 60 s on a loaded 2-core machine

  test('ConfigCommand describe and alter topic configs', async () => {
    const topic = topicName('configcmd');
    expectSuccess(await topicCommand('--create', '--topic', topic, '--partitions', '1', '--replication-factor', '1', '--config', 'retention.ms=600000'));
    const describeConfigs = async () => expectSuccess(await configCommand('--entity-type', 'topics', '--entity-name', topic, '--describe')).stdout.toString();

    const before = await describeConfigs();
    expect(before).toContain(`Dynamic configs for topic ${topic} are:`);
    expect(before).toMatch(/retention\.ms=600000 sensitive=false/);

    const altered = expectSuccess(await configCommand('--entity-type', 'topics', '--entity-name', topic, '--alter',
      '--add-config', 'retention.ms=1000,max.message.bytes=200000'));
    expect(altered.stdout.toString()).toContain(`Completed updating config for topic ${topic}.`);
    const after = await describeConfigs();
    expect(after).toMatch(/retention\.ms=1000 sensitive=false/);
    expect(after).toMatch(/max\.message\.bytes=200000 sensitive=false/);

    expectSuccess(await configCommand('--entity-type', 'topics', '--entity-name', topic, '--alter', '--delete-config', 'retention.ms'));
    const deleted = await describeConfigs();
    expect(deleted).not.toMatch(/^\s*retention\.ms=/m);
    expect(deleted).toMatch(/max\.message\.bytes=200000 sensitive=false/);

    // --all includes defaults
    const all = expectSuccess(await configCommand('--entity-type', 'topics', '--entity-name', topic, '--describe', '--all')).stdout.toString();
    expect(all).toMatch(/segment\.bytes=\d+/);
  }, 180_000); // several JVM launches: over 60 s on a loaded 2-core machine

  test('ProducerPerformance with default settings (idempotent, acks=all) sends 20000 x 1 KiB', async () => {
    const topic = topicName('perf');
    expectSuccess(await topicCommand('--create', '--topic', topic, '--partitions', '2', '--replication-factor', '1'));
    const perf = expectSuccess(await kafkaTool('org.apache.kafka.tools.ProducerPerformance', ['--topic', topic,
      '--num-records', '20000', '--record-size', '1024', '--throughput', '-1',
      '--producer-props', `bootstrap.servers=${broker.bootstrap}`], { timeoutMs: 180_000 }));
    expect(perf.stdout.toString()).toMatch(/^20000 records sent, [\d.]+ records\/sec/m);

    const offsets = expectSuccess(await kafkaTool('org.apache.kafka.tools.GetOffsetShell', ['--bootstrap-server', broker.bootstrap, '--topic', topic]));
    const ends = offsets.stdout.toString().trim().split('\n').map((l) => l.split(':')).map(([t, p, o]) => ({ t, p: Number(p), o: Number(o) }));
    expect(ends.map((e) => e.p).sort()).toEqual([0, 1]);
    expect(ends.reduce((n, e) => n + e.o, 0)).toBe(20_000);
  }, 240_000);
});

describe('GetOffsetShell --time: the ListOffsets specs of v7-v9', () => {
  test('-3 (max timestamp, KIP-734) is the first record with the largest timestamp; -4 (earliest local) the log start; -5 (latest tiered) none', async () => {
    const topic = topicName('max-ts');
    // retention.ms=-1: the timestamps below are from 2023, so under the default 7-day retention
    // the log-retention task may delete the whole log (active segment included) mid-test —
    // Apache Kafka did, answering -4 with the log end and -3 with no offset.
    expectSuccess(await topicCommand('--create', '--topic', topic, '--partitions', '1', '--replication-factor', '1', '--config', 'retention.ms=-1'));
    const producer = new Kafka({ clientId: 'max-ts', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    try {
      // Out of order: the largest timestamp is at offset 2 (and again at 4: the first one counts),
      // in separate batches so the batch-level and record-level answers agree.
      for (const ts of [1_700_000_000_000, 1_700_000_000_500, 1_700_000_009_000, 1_700_000_001_000, 1_700_000_009_000, 1_700_000_002_000]) {
        await producer.send({ topic, acks: -1, messages: [{ value: `at ${ts}`, timestamp: String(ts) }] });
      }
    } finally {
      await producer.disconnect();
    }
    const offsetAt = async (time: string) => {
      const out = expectSuccess(await kafkaTool('org.apache.kafka.tools.GetOffsetShell', ['--bootstrap-server', broker.bootstrap, '--topic', topic, '--time', time])).stdout.toString().trim();
      return out === '' ? null : Number(out.split(':')[2]);
    };
    expect(await offsetAt('-3')).toBe(2);
    expect(await offsetAt('-4')).toBe(0);
    expect(await offsetAt('-1')).toBe(6);
    expect(await offsetAt('-5')).toBeNull(); // offset -1: GetOffsetShell prints no line
  }, 120_000);
});

describe('kafka-topics --describe (DescribeTopicPartitions, KIP-966)', () => {
  const describeTopicPartitionsRequests = async (): Promise<number | null> => {
    if (target !== 'brook') return null;
    const text = await (await fetch(broker.metricsUrl)).text();
    return Number(/^brook_requests_total\{api="DescribeTopicPartitions"[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0);
  };

  test('pages of 2 partitions (--partition-size-limit-per-response 2) list every partition of every topic once, partitions in order', async () => {
    const a = topicName('dtp-a');
    const b = topicName('dtp-b');
    expectSuccess(await topicCommand('--create', '--topic', a, '--partitions', '5', '--replication-factor', '1'));
    expectSuccess(await topicCommand('--create', '--topic', b, '--partitions', '2', '--replication-factor', '1'));
    const pagesBefore = await describeTopicPartitionsRequests();
    const out = expectSuccess(await topicCommand('--describe', '--topic', `${a}|${b}`, '--partition-size-limit-per-response', '2')).stdout.toString();
    // Brook counts requests per API: 7 partitions in pages of 2 are 4 DescribeTopicPartitions requests
    // (Kafka, which has no such endpoint, pages the same way: same output, checked below).
    if (target === 'brook') expect((await describeTopicPartitionsRequests())! - pagesBefore!).toBe(4);
    const rows = [...out.matchAll(/Topic: (\S+)\s+Partition: (\d+)\s+Leader: (\d+)/g)].map((m) => `${m[1]}:${m[2]}:${m[3]}`);
    // The tool prints topics in its own (hash) order; within a topic, partitions in order.
    expect(rows.filter((r) => r.startsWith(`${a}:`))).toEqual([0, 1, 2, 3, 4].map((p) => `${a}:${p}:0`));
    expect(rows.filter((r) => r.startsWith(`${b}:`))).toEqual([0, 1].map((p) => `${b}:${p}:0`));
    expect(rows).toHaveLength(7);
  }, 120_000);
});

describe('kafka-cluster (DescribeCluster v0-v2)', () => {
  const clusterTool = (...args: string[]) => kafkaTool('org.apache.kafka.tools.ClusterTool', [...args, '--bootstrap-server', broker.bootstrap]);

  test('cluster-id prints the cluster id', async () => {
    expect(expectSuccess(await clusterTool('cluster-id')).stdout.toString()).toMatch(/^Cluster ID: [A-Za-z0-9_-]{22}$/m);
  });

  test('list-endpoints, with and without --include-fenced-brokers (v2): the broker, not fenced', async () => {
    const [host, port] = broker.bootstrap.split(',')[0]!.split(':');
    for (const extra of [[], ['--include-fenced-brokers']]) {
      const out = expectSuccess(await kafkaTool('org.apache.kafka.tools.ClusterTool', ['list-endpoints', ...extra, '--bootstrap-server', broker.bootstrap])).stdout.toString();
      const rows = out.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/));
      // ID HOST PORT RACK STATE ENDPOINT_TYPE
      expect(rows).toHaveLength(1);
      expect(rows[0]!.slice(1)).toEqual([host, port, 'null', 'unfenced', 'broker']);
    }
  });
});

describe('Java client programs', () => {
  test('idempotent acks=all keyed producer, read back by assignment byte-exact', async () => {
    const topic = topicName('keyed');
    expectSuccess(await topicCommand('--create', '--topic', topic, '--partitions', '4', '--replication-factor', '1'));
    const count = 3000;
    const produced = expectSuccess(await javaProgram('KeyedProducer', [broker.bootstrap, topic, String(count)]));
    const acks = produced.stdout.toString().trim().split('\n').map((l) => l.split(' ').map(Number)).map(([i, partition, offset]) => ({ i, partition, offset }));
    expect(acks).toHaveLength(count);

    // offsets per partition are exactly 0..n-1 in send order, and a key always maps to one partition
    const perPartition = new Map<number, number[]>();
    const keyPartition = new Map<number, number>();
    for (const a of acks) {
      perPartition.set(a.partition, [...(perPartition.get(a.partition) ?? []), a.offset]);
      const key = a.i % 37;
      expect(keyPartition.get(key) ?? a.partition).toBe(a.partition);
      keyPartition.set(key, a.partition);
    }
    for (const offsets of perPartition.values()) expect(offsets).toEqual(offsets.map((_, i) => i));

    const records = await readByAssignment(topic);
    const expected = acks.map((a) => ({
      partition: a.partition,
      offset: a.offset,
      key: hex(`key-${a.i % 37}`),
      value: hex(`value-${a.i}`),
      headers: `seq=${hex(String(a.i))}`,
    })).sort((a, b) => a.partition - b.partition || a.offset - b.offset);
    expect(records.map(({ timestamp: _t, ...r }) => r)).toEqual(expected);
  }, 120_000);

  test('records produced by kafkajs (every codec, binary/null/headers/timestamps) read by the Java consumer byte-exact', async () => {
    const topic = topicName('cross');
    expectSuccess(await topicCommand('--create', '--topic', topic, '--partitions', '5', '--replication-factor', '1'));
    const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const codecs = [CompressionTypes.None, CompressionTypes.GZIP, CompressionTypes.Snappy, CompressionTypes.LZ4, CompressionTypes.ZSTD];
    const sent: Array<Omit<JavaRecord, 'timestamp'> & { timestamp: number }> = [];
    try {
      for (const [partition, compression] of codecs.entries()) {
        for (let round = 0; round < 2; round++) {
          const messages: Message[] = Array.from({ length: 30 }, (_, i) => ({
            partition,
            key: i % 5 === 0 ? null : Buffer.from(`k-${round}-${i}`),
            value: i % 7 === 3 ? null : i % 2 ? randomBytes(64 + i) : Buffer.from(`text ${i} `.repeat(20)),
            headers: i % 3 === 0 ? { a: Buffer.from([i]), b: 'β' } : undefined,
            timestamp: String(1_600_000_000_000 + round * 1000 + i),
          }));
          const result = await producer.send({ topic, compression, acks: -1, messages });
          expect(result.map((r) => [r.partition, r.baseOffset])).toEqual([[partition, String(round * 30)]]);
          messages.forEach((m, i) => sent.push({
            partition,
            offset: round * 30 + i,
            timestamp: Number(m.timestamp),
            key: hex(m.key as Buffer | null),
            value: hex(m.value as Buffer | null),
            headers: m.headers ? `a=${hex(m.headers.a as Buffer)},b=${hex('β')}` : '-',
          }));
        }
      }
    } finally {
      await producer.disconnect();
    }
    expect(await readByAssignment(topic)).toEqual(sent);
  }, 120_000);
});

describe('ACLs on a cluster without an authorizer', () => {
  const aclCommand = (...args: string[]) => kafkaTool('org.apache.kafka.tools.AclCommand', ['--bootstrap-server', broker.bootstrap, ...args]);

  // No authorizer configured (Kafka's default, and Brook's until the authorizer exists): every ACL
  // operation is refused with SECURITY_DISABLED, which tools such as MirrorMaker 2 treat as "no ACLs
  // to sync" — an unsupported API would break them instead.
  test.each([
    ['--list', ['--list']],
    ['--add', ['--add', '--allow-principal', 'User:alice', '--operation', 'Read', '--topic', 'orders']],
    ['--remove', ['--remove', '--force', '--allow-principal', 'User:alice', '--operation', 'Read', '--topic', 'orders']],
  ])('kafka-acls %s: SecurityDisabledException "No Authorizer is configured"', async (_name, args) => {
    const r = await aclCommand(...args);
    const output = `${r.stdout.toString()}${r.stderr}`;
    expect(output).toContain('SecurityDisabledException');
    expect(output).toContain('No Authorizer is configured');
  });
});
