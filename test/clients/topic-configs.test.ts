/**
 * Topic configs as Apache Kafka 4.1 has them, through Kafka's own `kafka-configs` (ConfigCommand
 * from the 4.1 jars), kcat and kafkajs, against Brook and (BROOK_TEST_TARGET=kafka) against Apache
 * Kafka with the same assertions:
 * - a sample of every config type (string enum, int, long, double, list, boolean, a no-effect
 *   tiered-storage name) altered with --add-config and described back, line for line, with
 *   Kafka's sources and synonyms; --delete-config returns a config to its default;
 * - invalid values refused with INVALID_CONFIG and Kafka's message ("Invalid value V for
 *   configuration N: ...");
 * - compression.type honoured: kcat produces with one codec into a topic with another, and the
 *   stored batches (read back from the Fetch response's batch attributes) carry the topic's codec,
 *   with every record intact; compression.type=producer keeps the producer's codec;
 * - message.timestamp.after.max.ms (Kafka's 1 h default) and message.timestamp.before.max.ms
 *   refuse out-of-range CreateTime records with INVALID_TIMESTAMP and leave the log untouched.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import kafkajs from 'kafkajs';
import type { Admin, Producer } from 'kafkajs';
import { startBroker, stopAllBrokers } from '../harness/brook.ts';
import type { BrokerHandle } from '../harness/brook.ts';
import { createTopicAndWait } from '../harness/topics.ts';
import { describeRun, kafkaTool, kcat, requireKcat } from '../harness/tools.ts';
import { batchHeaders, fetchPartition } from '../harness/wire.ts';

const { Kafka, logLevel } = kafkajs;

let broker: BrokerHandle;
let admin: Admin;
let producer: Producer;

beforeAll(async () => {
  requireKcat();
  broker = await startBroker({ set: { 'auto.create.topics.enable': 'false' } });
  const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2 } });
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer();
  await producer.connect();
}, 180_000);

afterAll(async () => {
  await producer?.disconnect();
  await admin?.disconnect();
  await stopAllBrokers();
});

let seq = 0;
async function createTopic(what: string, configEntries: Array<{ name: string; value: string }> = []): Promise<string> {
  const topic = `cfg-${what}-${process.pid}-${seq++}`;
  expect(await createTopicAndWait(admin, { topic, numPartitions: 1, configEntries })).toBe(true);
  return topic;
}

const configs = (...args: string[]) => kafkaTool('org.apache.kafka.tools.ConfigCommand', ['--bootstrap-server', broker.bootstrap, ...args], { timeoutMs: 120_000 });

/** The per-config lines `kafka-configs --describe` prints, sorted. */
function describedLines(stdout: string): string[] {
  return stdout.split('\n').filter((l) => l.startsWith('  ')).map((l) => l.trim()).sort();
}

describe('kafka-configs on topics', () => {
  test('--add-config of every config type is described back with Kafka\'s sources and synonyms; --delete-config restores the default', async () => {
    const topic = await createTopic('types');
    const alter = await configs('--alter', '--entity-type', 'topics', '--entity-name', topic, '--add-config',
      'compression.type=lz4,retention.ms=3600000,max.message.bytes=2000000,min.cleanable.dirty.ratio=0.3,cleanup.policy=[compact,delete],preallocate=true,remote.log.copy.disable=true,message.timestamp.after.max.ms=60000');
    expect(alter.code).toBe(0);
    const described = await configs('--describe', '--entity-type', 'topics', '--entity-name', topic);
    expect(described.code).toBe(0);
    expect(described.stdout.toString()).toContain(`Dynamic configs for topic ${topic} are:`);
    expect(describedLines(described.stdout.toString())).toEqual([
      'cleanup.policy=compact,delete sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact,delete, DEFAULT_CONFIG:log.cleanup.policy=delete}',
      'compression.type=lz4 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:compression.type=lz4, DEFAULT_CONFIG:compression.type=producer}',
      'max.message.bytes=2000000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:max.message.bytes=2000000, DEFAULT_CONFIG:message.max.bytes=1048588}',
      'message.timestamp.after.max.ms=60000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:message.timestamp.after.max.ms=60000, DEFAULT_CONFIG:log.message.timestamp.after.max.ms=3600000}',
      'min.cleanable.dirty.ratio=0.3 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:min.cleanable.dirty.ratio=0.3, DEFAULT_CONFIG:log.cleaner.min.cleanable.ratio=0.5}',
      'preallocate=true sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:preallocate=true, DEFAULT_CONFIG:log.preallocate=false}',
      'remote.log.copy.disable=true sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:remote.log.copy.disable=true}',
      // Kafka's log.retention.ms has no default of its own (log.retention.hours supplies it): no DEFAULT_CONFIG synonym.
      'retention.ms=3600000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=3600000}',
    ]);

    expect((await configs('--alter', '--entity-type', 'topics', '--entity-name', topic, '--delete-config', 'compression.type,retention.ms')).code).toBe(0);
    const after = describedLines((await configs('--describe', '--entity-type', 'topics', '--entity-name', topic)).stdout.toString());
    expect(after.some((l) => l.startsWith('compression.type=') || l.startsWith('retention.ms='))).toBe(false);
    expect(after).toHaveLength(6);
  }, 240_000);

  test('--describe --all lists every Kafka 4.4 topic config with its default', async () => {
    const topic = await createTopic('all');
    const r = await configs('--describe', '--all', '--entity-type', 'topics', '--entity-name', topic);
    expect(r.code).toBe(0);
    const values = Object.fromEntries(describedLines(r.stdout.toString()).map((l) => {
      const [nameValue] = l.split(' sensitive=');
      const eq = nameValue!.indexOf('=');
      return [nameValue!.slice(0, eq), nameValue!.slice(eq + 1)];
    }));
    expect(Object.keys(values).sort()).toEqual([
      'cleanup.policy', 'compression.gzip.level', 'compression.lz4.level', 'compression.type', 'compression.zstd.level',
      'delete.retention.ms', 'errors.deadletterqueue.group.enable', 'file.delete.delay.ms', 'flush.messages', 'flush.ms', 'follower.replication.throttled.replicas',
      'index.interval.bytes', 'leader.replication.throttled.replicas', 'local.retention.bytes', 'local.retention.ms',
      'max.compaction.lag.ms', 'max.decompressed.message.bytes', 'max.message.bytes', 'message.timestamp.after.max.ms', 'message.timestamp.before.max.ms',
      'message.timestamp.type', 'min.cleanable.dirty.ratio', 'min.compaction.lag.ms', 'min.insync.replicas', 'preallocate',
      'remote.copy.lag.bytes', 'remote.copy.lag.ms', 'remote.log.copy.disable', 'remote.log.delete.on.disable', 'remote.storage.enable', 'retention.bytes', 'retention.ms',
      'segment.bytes', 'segment.index.bytes', 'segment.jitter.ms', 'segment.ms', 'unclean.leader.election.enable',
    ]);
    expect(values).toMatchObject({
      'compression.type': 'producer', 'compression.gzip.level': '-1', 'compression.lz4.level': '9', 'compression.zstd.level': '3',
      'file.delete.delay.ms': '60000', 'message.timestamp.after.max.ms': '3600000', 'message.timestamp.before.max.ms': '9223372036854775807',
      'min.cleanable.dirty.ratio': '0.5', 'local.retention.ms': '-2', 'segment.jitter.ms': '0', 'retention.ms': '604800000',
      'errors.deadletterqueue.group.enable': 'false', 'max.decompressed.message.bytes': '2147483639', 'remote.copy.lag.bytes': '-1', 'remote.copy.lag.ms': '0',
    });
  }, 240_000);

  test.each([
    ['min.insync.replicas=0', 'Invalid value 0 for configuration min.insync.replicas: Value must be at least 1'],
    ['compression.type=brotli', 'Invalid value brotli for configuration compression.type: String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer'],
    ['retention.ms=soon', 'Invalid value soon for configuration retention.ms: Not a number of type LONG'],
    ['segment.bytes=1000', 'Invalid value 1000 for configuration segment.bytes: Value must be at least 1048576'],
    ['min.cleanable.dirty.ratio=1.5', 'Invalid value 1.5 for configuration min.cleanable.dirty.ratio: Value must be no more than 1'],
    ['message.timestamp.type=Now', 'Invalid value Now for configuration message.timestamp.type: String must be one of: CreateTime, LogAppendTime'],
    ['cleanup.policy=[compact,forever]', 'Invalid value forever for configuration cleanup.policy: String must be one of: compact, delete'],
    ['preallocate=maybe', 'Invalid value maybe for configuration preallocate: Expected value to be either true or false'],
  ])('--add-config %s is refused with INVALID_CONFIG and Kafka\'s message', async (setting, message) => {
    const topic = await createTopic('bad');
    const r = await configs('--alter', '--entity-type', 'topics', '--entity-name', topic, '--add-config', setting);
    expect(r.code).not.toBe(0);
    expect(describeRun(r)).toContain(`InvalidConfigurationException: ${message}`);
    const described = describedLines((await configs('--describe', '--entity-type', 'topics', '--entity-name', topic)).stdout.toString());
    expect(described).toEqual([]);
  }, 240_000);
});

test('regression (issue 14): CreateTopics with the configs MirrorMaker 2 copies and Connect\'s topic.creation sends (compression.type=lz4, preallocate, message.timestamp.after.max.ms) was refused with INVALID_CONFIG', async () => {
  const configEntries = [
    { name: 'compression.type', value: 'lz4' }, { name: 'preallocate', value: 'false' }, { name: 'message.timestamp.after.max.ms', value: '3600000' },
    { name: 'segment.jitter.ms', value: '0' }, { name: 'file.delete.delay.ms', value: '60000' }, { name: 'local.retention.ms', value: '-2' },
  ];
  const topic = await createTopic('mm2', configEntries);
  const described = await admin.describeConfigs({ resources: [{ type: 2, name: topic, configNames: configEntries.map((c) => c.name) }], includeSynonyms: false });
  expect(Object.fromEntries(described.resources[0]!.configEntries.map((e) => [e.configName, e.configValue])))
    .toEqual(Object.fromEntries(configEntries.map((c) => [c.name, c.value])));
}, 60_000);

describe('compression.type is honoured', () => {
  const lines = Array.from({ length: 300 }, (_, i) => `record ${i} ${'payload'.repeat(20)}`);

  test.each([
    ['gzip', 'lz4', 1], ['lz4', 'zstd', 3], ['zstd', 'gzip', 4], ['snappy', 'uncompressed', 2], ['uncompressed', 'snappy', 0], ['producer', 'snappy', 2],
  ] as const)('compression.type=%s, kcat producing %s: stored batches carry codec %i and every record reads back', async (topicCodec, producerCodec, bits) => {
    const topic = await createTopic(`z-${topicCodec}`, [{ name: 'compression.type', value: topicCodec }]);
    const z = producerCodec === 'uncompressed' ? 'none' : producerCodec;
    const r = await kcat(['-b', broker.bootstrap, '-P', '-t', topic, '-p', '0', '-z', z, '-X', 'linger.ms=50'], { input: lines.join('\n') + '\n' });
    expect(r.code).toBe(0);
    const raw = await fetchPartition(broker.bootstrap, topic, 0, 0n);
    expect(raw.errorCode).toBe(0);
    expect(raw.highWatermark).toBe(BigInt(lines.length));
    const batches = batchHeaders(raw.records);
    expect(batches.length).toBeGreaterThan(0);
    expect(batches.map((b) => b.attributes & 7)).toEqual(batches.map(() => bits));
    const consumed = await kcat(['-b', broker.bootstrap, '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-q', '-f', '%o %s\\n']);
    expect(consumed.code).toBe(0);
    expect(consumed.stdout.toString().trimEnd().split('\n')).toEqual(lines.map((l, i) => `${i} ${l}`));
  }, 120_000);
});

describe('message.timestamp.* bounds', () => {
  async function expectRefused(topic: string, timestamp: number): Promise<void> {
    await expect(producer.send({ topic, messages: [{ value: 'x', timestamp: String(timestamp) }] }))
      .rejects.toMatchObject({ type: 'INVALID_TIMESTAMP' });
    const offsets = await admin.fetchTopicOffsets(topic);
    expect(offsets.map((o) => o.high)).toEqual(['0']);
  }

  test('a record 2 h in the future is refused under Kafka\'s default message.timestamp.after.max.ms (1 h); 10 min ahead is accepted', async () => {
    const topic = await createTopic('future');
    await expectRefused(topic, Date.now() + 2 * 3_600_000);
    await producer.send({ topic, messages: [{ value: 'soon', timestamp: String(Date.now() + 600_000) }] });
    expect((await admin.fetchTopicOffsets(topic)).map((o) => o.high)).toEqual(['1']);
  }, 60_000);

  test('message.timestamp.before.max.ms=60000 refuses a record an hour old; LogAppendTime topics accept it', async () => {
    const topic = await createTopic('past', [{ name: 'message.timestamp.before.max.ms', value: '60000' }]);
    await expectRefused(topic, Date.now() - 3_600_000);
    const stamped = await createTopic('past-lat', [{ name: 'message.timestamp.before.max.ms', value: '60000' }, { name: 'message.timestamp.type', value: 'LogAppendTime' }]);
    await producer.send({ topic: stamped, messages: [{ value: 'old', timestamp: String(Date.now() - 3_600_000) }] });
    expect((await admin.fetchTopicOffsets(stamped)).map((o) => o.high)).toEqual(['1']);
  }, 60_000);
});
