/**
 * Broker configs through Kafka's own `kafka-configs` (ConfigCommand from the 4.1 jars), against
 * Brook and (BROOK_TEST_TARGET=kafka) Apache Kafka with the same assertions where both agree:
 * - `--describe --all` on a broker shows Kafka's names with their sources (broker.id, log.dirs,
 *   defaults as DEFAULT_CONFIG, settings given at start as STATIC_BROKER_CONFIG);
 * - dynamic broker configs set on the cluster default (`--entity-default`) and on one broker
 *   (`--entity-name 0`) become the defaults of topics without an override, at once, without a
 *   restart: a topic's described retention.ms follows them with the dynamic source, and kcat's
 *   uncompressed batches are stored with the dynamic compression.type (the per-broker value
 *   winning over the cluster default), read back from the Fetch response's batch attributes;
 * - read-only broker configs and invalid values are refused with Kafka's errors (INVALID_REQUEST,
 *   as Kafka's controller answers for broker resources).
 * Where the two differ on purpose each target's exact answer is asserted: Brook reports
 * inter.broker.protocol.version (Kafka 4 dropped it; kafka-ui still reads it).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import kafkajs from 'kafkajs';
import type { Admin } from 'kafkajs';
import { startBroker, stopAllBrokers, target } from '../harness/brook.ts';
import type { BrokerHandle } from '../harness/brook.ts';
import { createTopicAndWait } from '../harness/topics.ts';
import { describeRun, kafkaTool, kcat, requireKcat } from '../harness/tools.ts';
import { batchHeaders, fetchPartition } from '../harness/wire.ts';

const { Kafka, logLevel } = kafkajs;

let broker: BrokerHandle;
let admin: Admin;

beforeAll(async () => {
  requireKcat();
  broker = await startBroker({ id: 0, set: { 'auto.create.topics.enable': 'false', 'log.cleaner.backoff.ms': '20000' } });
  admin = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
}, 180_000);

afterAll(async () => {
  await admin?.disconnect();
  await stopAllBrokers();
});

const configs = (...args: string[]) => kafkaTool('org.apache.kafka.tools.ConfigCommand', ['--bootstrap-server', broker.bootstrap, ...args], { timeoutMs: 120_000 });

/** name -> the whole line `kafka-configs --describe` prints for it. */
function describedLines(stdout: string): Map<string, string> {
  return new Map(stdout.split('\n').filter((l) => l.startsWith('  ')).map((l) => [l.trim().slice(0, l.trim().indexOf('=')), l.trim()]));
}

async function describeBroker(...extra: string[]): Promise<Map<string, string>> {
  const r = await configs('--describe', '--entity-type', 'brokers', ...extra);
  expect(r.code).toBe(0);
  return describedLines(r.stdout.toString());
}

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

let seq = 0;
async function createTopic(what: string): Promise<string> {
  const topic = `bcfg-${what}-${process.pid}-${seq++}`;
  expect(await createTopicAndWait(admin, { topic, numPartitions: 1 })).toBe(true);
  return topic;
}

async function storedCodecs(topic: string, lines: string[]): Promise<number[]> {
  const r = await kcat(['-b', broker.bootstrap, '-P', '-t', topic, '-p', '0', '-z', 'none'], { input: lines.join('\n') + '\n' });
  expect(r.code).toBe(0);
  const raw = await fetchPartition(broker.bootstrap, topic, 0, 0n);
  expect(raw.highWatermark).toBe(BigInt(lines.length));
  return [...new Set(batchHeaders(raw.records).map((b) => b.attributes & 7))];
}

describe('kafka-configs on brokers', () => {
  test('--describe --all shows Kafka\'s names with their sources', async () => {
    const all = await describeBroker('--entity-name', '0', '--all');
    expect(all.get('broker.id')).toMatch(/^broker\.id=0 sensitive=false synonyms=\{STATIC_BROKER_CONFIG:(broker\.id|node\.id)=0/);
    expect(all.get('node.id')).toBe('node.id=0 sensitive=false synonyms={STATIC_BROKER_CONFIG:node.id=0}');
    expect(all.get('log.dirs')).toMatch(/^log\.dirs=\/\S+ sensitive=false synonyms=\{STATIC_BROKER_CONFIG:log\.dirs=\/\S+/);
    expect(all.get('message.max.bytes')).toBe('message.max.bytes=1048588 sensitive=false synonyms={DEFAULT_CONFIG:message.max.bytes=1048588}');
    expect(all.get('compression.type')).toBe('compression.type=producer sensitive=false synonyms={DEFAULT_CONFIG:compression.type=producer}');
    expect(all.get('log.cleaner.backoff.ms')).toBe('log.cleaner.backoff.ms=20000 sensitive=false synonyms={STATIC_BROKER_CONFIG:log.cleaner.backoff.ms=20000, DEFAULT_CONFIG:log.cleaner.backoff.ms=15000}');
    expect(all.get('log.segment.bytes')).toBe('log.segment.bytes=1073741824 sensitive=false synonyms={DEFAULT_CONFIG:log.segment.bytes=1073741824}');
    if (target === 'brook') {
      expect(all.get('inter.broker.protocol.version')).toBe('inter.broker.protocol.version=4.1-IV1 sensitive=false synonyms={DEFAULT_CONFIG:inter.broker.protocol.version=4.1-IV1}');
    } else {
      expect(all.has('inter.broker.protocol.version')).toBe(false); // removed in Kafka 4.0
    }
  }, 120_000);

  test('dynamic log.retention.ms and compression.type on the cluster default, then on broker 0, apply to topics without an override at once', async () => {
    const topic = await createTopic('dyn');
    const lines = Array.from({ length: 200 }, (_, i) => `line ${i} ${'x'.repeat(80)}`);
    try {
      expect((await configs('--alter', '--entity-type', 'brokers', '--entity-default', '--add-config', 'log.retention.ms=7200000,compression.type=gzip')).code).toBe(0);
      const retention = async () => describedLines((await configs('--describe', '--all', '--entity-type', 'topics', '--entity-name', topic)).stdout.toString()).get('retention.ms');
      await waitFor('the cluster default to reach the topic', async () => (await retention())?.startsWith('retention.ms=7200000 ') ?? false);
      expect(await retention()).toMatch(/^retention\.ms=7200000 sensitive=false synonyms=\{DYNAMIC_DEFAULT_BROKER_CONFIG:log\.retention\.ms=7200000[,}]/);
      expect((await describeBroker('--entity-default')).get('compression.type'))
        .toBe('compression.type=gzip sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:compression.type=gzip}');
      await waitFor('gzip batches', async () => (await storedCodecs(await createTopic('gz'), lines)).every((c) => c === 1));

      expect((await configs('--alter', '--entity-type', 'brokers', '--entity-name', '0', '--add-config', 'compression.type=zstd')).code).toBe(0);
      expect((await describeBroker('--entity-name', '0')).get('compression.type'))
        .toBe('compression.type=zstd sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:compression.type=zstd, DYNAMIC_DEFAULT_BROKER_CONFIG:compression.type=gzip, DEFAULT_CONFIG:compression.type=producer}');
      await waitFor('zstd batches (the broker\'s own value over the cluster default)', async () => (await storedCodecs(await createTopic('zs'), lines)).every((c) => c === 4));
      expect(await storedCodecs(topic, lines)).toEqual([4]);
    } finally {
      await configs('--alter', '--entity-type', 'brokers', '--entity-name', '0', '--delete-config', 'compression.type');
      await configs('--alter', '--entity-type', 'brokers', '--entity-default', '--delete-config', 'log.retention.ms,compression.type');
    }
    await waitFor('the defaults back', async () => (await storedCodecs(await createTopic('back'), lines)).every((c) => c === 0));
  }, 240_000);

  test('an invalid dynamic broker value is refused with INVALID_REQUEST and Kafka\'s message', async () => {
    const r = await configs('--alter', '--entity-type', 'brokers', '--entity-default', '--add-config', 'log.cleaner.min.cleanable.ratio=1.5');
    expect(r.code).not.toBe(0);
    expect(describeRun(r)).toContain('InvalidRequestException: Invalid value 1.5 for configuration log.cleaner.min.cleanable.ratio: Value must be no more than 1');
    expect((await describeBroker('--entity-default')).has('log.cleaner.min.cleanable.ratio')).toBe(false);
  }, 120_000);

  test('a read-only broker config (log.dirs) is refused as Kafka 4.4 refuses it (its Java DynamicBrokerConfig lists the names as [..], not Set(..) as the Scala code did)', async () => {
    const r = await configs('--alter', '--entity-type', 'brokers', '--entity-name', '0', '--add-config', 'log.dirs=/tmp/elsewhere');
    expect(r.code).not.toBe(0);
    expect(describeRun(r)).toContain('InvalidRequestException: Cannot update these configs dynamically: [log.dirs]');
  }, 120_000);
});
