/**
 * Consumer groups through Apache Kafka's own Java tools (version from test/tools/kafka/pom.xml):
 * the console consumer with `--group`; `kafka-consumer-groups` (ConsumerGroupCommand) --list,
 * --describe with CURRENT-OFFSET / LOG-END-OFFSET / LAG per partition, --reset-offsets
 * --to-earliest as a dry run and executed, --delete; and ConsumerPerformance.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import kafkajs from 'kafkajs';
import type { Admin, Producer } from 'kafkajs';
import { startBroker, stopAllBrokers } from '../harness/brook.ts';
import type { BrokerHandle } from '../harness/brook.ts';
import { createTopicAndWait } from '../harness/topics.ts';
import { describeRun, expectSuccess, kafkaTool } from '../harness/tools.ts';

const { Kafka, logLevel } = kafkajs;
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

let broker: BrokerHandle;
let admin: Admin;
let producer: Producer;

beforeAll(async () => {
  broker = await startBroker({ set: { 'auto.create.topics.enable': 'false', 'group.initial.rebalance.delay.ms': '0' } });
  const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
}, 120_000);

afterAll(async () => {
  await producer?.disconnect();
  await admin?.disconnect();
  await stopAllBrokers();
});

const tag = `${process.pid}`;
const topic = `java-groups-${tag}`;
const groupId = `java-console-group-${tag}`;
const counts = [100, 200, 300];
const extra = [5, 10, 15];

/** Appends `n[p]` records to each partition p: key `k<p>-<i>`, value `v<p>-<i>`, i continuing from `from[p]`. */
async function produce(t: string, n: number[], from: number[] = n.map(() => 0)): Promise<void> {
  await producer.send({
    topic: t,
    acks: -1,
    messages: n.flatMap((count, partition) => Array.from({ length: count }, (_, i) => ({
      partition, key: `k${partition}-${from[partition] + i}`, value: `v${partition}-${from[partition] + i}`,
    }))),
  });
}

const groupsCommand = (...args: string[]) =>
  kafkaTool('org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', ['--bootstrap-server', broker.bootstrap, ...args]);

/** ConsoleConsumer in a group, printing `key|value`; exits after `maxMessages` (or 30 s without a message). */
const consoleConsumer = (group: string, maxMessages: number, ...extraArgs: string[]) =>
  kafkaTool('org.apache.kafka.tools.consumer.ConsoleConsumer', ['--bootstrap-server', broker.bootstrap, '--topic', topic,
    '--group', group, '--max-messages', String(maxMessages), '--timeout-ms', '30000',
    '--formatter-property', 'print.key=true', '--formatter-property', 'key.separator=|', ...extraArgs], { timeoutMs: 120_000 });

/** The `key|value` lines a ConsoleConsumer printed, grouped by the partition encoded in the key, in printed order. */
function consoleLines(stdout: Buffer): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const line of stdout.toString().split('\n').filter((l) => l.includes('|'))) {
    const partition = Number(/^k(\d+)-/.exec(line)?.[1] ?? -1);
    out.set(partition, [...(out.get(partition) ?? []), line]);
  }
  return out;
}

function expectedLines(n: number[], from: number[] = n.map(() => 0)): Map<number, string[]> {
  return new Map(n.map((count, p) => [p, Array.from({ length: count }, (_, i) => `k${p}-${from[p] + i}|v${p}-${from[p] + i}`)]));
}

interface DescribeRow { group: string; topic: string; partition: number; currentOffset: string; logEndOffset: string; lag: string; consumerId: string }

/** Parses the table of `--describe` (offsets view): header GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID. */
function parseDescribe(out: string): DescribeRow[] {
  const rows = out.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  const headerAt = rows.findIndex((l) => /^GROUP\s+TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+LOG-END-OFFSET\s+LAG\s+CONSUMER-ID/.test(l));
  if (headerAt < 0) throw new Error(`no describe table in:\n${out}`);
  const header = rows[headerAt].split(/\s+/);
  return rows.slice(headerAt + 1).map((l) => {
    const f = l.split(/\s+/);
    const at = (col: string) => f[header.indexOf(col)];
    return { group: at('GROUP'), topic: at('TOPIC'), partition: Number(at('PARTITION')), currentOffset: at('CURRENT-OFFSET'),
      logEndOffset: at('LOG-END-OFFSET'), lag: at('LAG'), consumerId: at('CONSUMER-ID') };
  }).sort((a, b) => a.partition - b.partition);
}

async function describeGroup(group: string): Promise<DescribeRow[]> {
  const r = expectSuccess(await groupsCommand('--describe', '--group', group));
  return parseDescribe(r.stdout.toString());
}

const rows = (current: number[], end: number[]) => current.map((c, partition) => ({
  group: groupId, topic, partition, currentOffset: String(c), logEndOffset: String(end[partition]), lag: String(end[partition] - c), consumerId: '-',
}));

describe('a group through the Java tools', () => {
  beforeAll(async () => {
    expect(await createTopicAndWait(admin, { topic, numPartitions: 3 })).toBe(true);
    await produce(topic, counts);
  }, 60_000);

  test('ConsoleConsumer --group reads every record, in order per partition, and commits on exit', async () => {
    const r = expectSuccess(await consoleConsumer(groupId, 600, '--from-beginning'));
    expect(r.stdout.toString()).not.toBe('');
    expect(consoleLines(r.stdout)).toEqual(expectedLines(counts));
    expect(r.stderr).toMatch(/Processed a total of 600 messages/);
  }, 150_000);

  test('--list shows the group', async () => {
    const r = expectSuccess(await groupsCommand('--list'));
    expect(r.stdout.toString().split('\n').map((l) => l.trim())).toContain(groupId);
  }, 120_000);

  test('--describe shows CURRENT-OFFSET, LOG-END-OFFSET and LAG per partition', async () => {
    expect(await describeGroup(groupId)).toEqual(rows(counts, counts));
    await produce(topic, extra, counts);
    const ends = counts.map((c, p) => c + extra[p]);
    const r = expectSuccess(await groupsCommand('--describe', '--group', groupId));
    expect(describeRun(r)).toContain(`Consumer group '${groupId}' has no active members.`);
    expect(parseDescribe(r.stdout.toString())).toEqual(rows(counts, ends));
  }, 120_000);

  test('--reset-offsets --to-earliest --dry-run shows offset 0 everywhere and changes nothing', async () => {
    const r = expectSuccess(await groupsCommand('--reset-offsets', '--to-earliest', '--group', groupId, '--topic', topic, '--dry-run'));
    expect(parseResetTable(r.stdout.toString())).toEqual([0, 1, 2].map((partition) => ({ group: groupId, topic, partition, newOffset: 0 })));
    const ends = counts.map((c, p) => c + extra[p]);
    expect(await describeGroup(groupId)).toEqual(rows(counts, ends));
  }, 120_000);

  test('--reset-offsets --to-earliest --execute moves the committed offsets to 0; the group then reads everything again', async () => {
    const r = expectSuccess(await groupsCommand('--reset-offsets', '--to-earliest', '--group', groupId, '--topic', topic, '--execute'));
    expect(parseResetTable(r.stdout.toString())).toEqual([0, 1, 2].map((partition) => ({ group: groupId, topic, partition, newOffset: 0 })));
    const ends = counts.map((c, p) => c + extra[p]);
    expect(await describeGroup(groupId)).toEqual(rows([0, 0, 0], ends));
    // no --from-beginning: the group's committed offsets (now 0) decide where it starts
    const total = ends.reduce((a, b) => a + b, 0);
    const again = expectSuccess(await consoleConsumer(groupId, total));
    expect(consoleLines(again.stdout)).toEqual(expectedLines(ends));
    expect(await describeGroup(groupId)).toEqual(rows(ends, ends));
  }, 240_000);

  test('--delete removes the group and its offsets', async () => {
    const r = expectSuccess(await groupsCommand('--delete', '--group', groupId));
    expect(r.stdout.toString()).toContain(`Deletion of requested consumer groups ('${groupId}') was successful.`);
    const listed = expectSuccess(await groupsCommand('--list')).stdout.toString().split('\n').map((l) => l.trim());
    expect(listed).not.toContain(groupId);
    const gone = await groupsCommand('--describe', '--group', groupId);
    // DescribeGroups v0-5 answer a deleted group as state Dead (the tool prints "does not exist");
    // v6 (Kafka 4.x; not in Brook's required range 0-5) answers GROUP_ID_NOT_FOUND ("not found")
    expect(describeRun(gone)).toMatch(new RegExp(`Consumer group '${groupId}' does not exist\\.|GroupIdNotFoundException: Group ${groupId} not found\\.`));
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    expect(offsets.partitions.sort((a, b) => a.partition - b.partition).map((p) => p.offset)).toEqual(['-1', '-1', '-1']);
  }, 120_000);
});

/** Parses the `GROUP TOPIC PARTITION NEW-OFFSET` table that --reset-offsets prints. */
function parseResetTable(out: string): Array<{ group: string; topic: string; partition: number; newOffset: number }> {
  const lines = out.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  const headerAt = lines.findIndex((l) => /^GROUP\s+TOPIC\s+PARTITION\s+NEW-OFFSET$/.test(l));
  if (headerAt < 0) throw new Error(`no reset table in:\n${out}`);
  return lines.slice(headerAt + 1).map((l) => l.split(/\s+/)).map(([group, t, partition, newOffset]) =>
    ({ group, topic: t, partition: Number(partition), newOffset: Number(newOffset) })).sort((a, b) => a.partition - b.partition);
}

describe('ConsumerPerformance', () => {
  test('reads 20000 x 100-byte records in a group and reports exactly that count and size; the group ends with no lag', async () => {
    const perfTopic = `java-groups-perf-${tag}`;
    const perfGroup = `java-perf-group-${tag}`;
    expect(await createTopicAndWait(admin, { topic: perfTopic, numPartitions: 3 })).toBe(true);
    expectSuccess(await kafkaTool('org.apache.kafka.tools.ProducerPerformance', ['--topic', perfTopic,
      '--num-records', '20000', '--record-size', '100', '--throughput', '-1',
      '--producer-props', `bootstrap.servers=${broker.bootstrap}`], { timeoutMs: 180_000 }));
    const perf = expectSuccess(await kafkaTool('org.apache.kafka.tools.ConsumerPerformance', ['--bootstrap-server', broker.bootstrap,
      '--topic', perfTopic, '--group', perfGroup, '--messages', '20000', '--timeout', '30000'], { timeoutMs: 180_000 }));
    const lines = perf.stdout.toString().split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
    const headerAt = lines.findIndex((l) => l.startsWith('start.time,'));
    expect(headerAt).toBeGreaterThanOrEqual(0);
    const header = lines[headerAt].split(',').map((s) => s.trim());
    const values = lines[headerAt + 1].split(',').map((s) => s.trim());
    const stat = (k: string) => values[header.indexOf(k)];
    expect(Number(stat('data.consumed.in.nMsg'))).toBe(20_000);
    expect(Number(stat('data.consumed.in.MB'))).toBeCloseTo((20_000 * 100) / (1024 * 1024), 3);
    expect(Number(stat('nMsg.sec'))).toBeGreaterThan(0);

    const described = await groupsCommand('--describe', '--group', perfGroup);
    const table = parseDescribe(expectSuccess(described).stdout.toString());
    expect(table.map((r) => r.partition)).toEqual([0, 1, 2]);
    expect(table.reduce((n, r) => n + Number(r.logEndOffset), 0)).toBe(20_000);
    expect(table.map((r) => ({ current: r.currentOffset, lag: r.lag }))).toEqual(table.map((r) => ({ current: r.logEndOffset, lag: '0' })));
  }, 300_000);
});
