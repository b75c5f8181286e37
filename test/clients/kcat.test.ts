/**
 * kcat (librdkafka 2.0.x, from Debian) against a real Brook broker: metadata (-L), produce to a
 * partition with keys and headers, consume a partition from the beginning to the end byte-exact
 * with offsets, the idempotent producer, and every compression codec librdkafka has.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import type { Admin } from 'kafkajs';
import { startBroker, stopAllBrokers, tempDir } from '../harness/brook.ts';
import type { BrokerHandle } from '../harness/brook.ts';
import { createTopicAndWait } from '../harness/topics.ts';
import { describeRun, expectSuccess, kcat, requireKcat } from '../harness/tools.ts';
import type { RunResult } from '../harness/tools.ts';
import { batchHeaders, fetchPartition } from '../harness/wire.ts';

const { Kafka, logLevel } = kafkajs;

let broker: BrokerHandle;
let admin: Admin;

beforeAll(async () => {
  requireKcat();
  broker = await startBroker({ set: { 'auto.create.topics.enable': 'false' } });
  admin = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
}, 180_000);

afterAll(async () => {
  await admin?.disconnect();
  await stopAllBrokers();
});

let seq = 0;
async function createTopic(what: string, numPartitions: number): Promise<string> {
  const topic = `kcat-${what}-${process.pid}-${seq++}`;
  expect(await createTopicAndWait(admin, { topic, numPartitions })).toBe(true);
  return topic;
}

interface Consumed {
  partition: number;
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: string;
}

/** kcat -f format that frames binary keys and values by their lengths (-1 = null). */
const FORMAT = '%p %o %T %K %S %k%s %h\\n';

/** Parses the output of FORMAT. */
function parseConsumed(out: Buffer): Consumed[] {
  const records: Consumed[] = [];
  let pos = 0;
  const field = () => {
    const end = out.indexOf(0x20, pos);
    const text = out.subarray(pos, end).toString();
    pos = end + 1;
    return Number(text);
  };
  while (pos < out.length) {
    const partition = field();
    const offset = field();
    const timestamp = field();
    const keyLength = field();
    const valueLength = field();
    const key = keyLength < 0 ? null : out.subarray(pos, pos + keyLength);
    pos += Math.max(keyLength, 0);
    const value = valueLength < 0 ? null : out.subarray(pos, pos + valueLength);
    pos += Math.max(valueLength, 0);
    if (out[pos] !== 0x20) throw new Error(`kcat output not in the expected format at byte ${pos}`);
    const eol = out.indexOf(0x0a, pos + 1);
    const headers = out.subarray(pos + 1, eol).toString();
    pos = eol + 1;
    records.push({ partition, offset, timestamp, key: key && Buffer.from(key), value: value && Buffer.from(value), headers });
  }
  return records;
}

async function consumePartition(topic: string, partition: number, extra: string[] = []): Promise<Consumed[]> {
  const r = expectSuccess(await kcat(['-b', broker.bootstrap, '-C', '-t', topic, '-p', String(partition),
    '-o', 'beginning', '-e', '-q', '-f', FORMAT, ...extra]));
  return parseConsumed(r.stdout);
}

function expectCleanRun(r: RunResult): void {
  expectSuccess(r);
  // librdkafka logs errors (levels 0-3) and failed deliveries on stderr; warnings (%4, e.g. a
  // retriable COORDINATOR_LOAD_IN_PROGRESS that Kafka itself returns at first) are allowed
  expect({ stderr: r.stderr.split('\n').filter((l) => /^%[0-3]\|/.test(l) || /^% (ERROR|Delivery failed)/i.test(l)) }).toEqual({ stderr: [] });
}

describe('kcat', () => {
  test('-L lists the broker and the topic with its partitions', async () => {
    const topic = await createTopic('meta', 3);
    const r = expectSuccess(await kcat(['-b', broker.bootstrap, '-L', '-J', '-t', topic]));
    const meta = JSON.parse(r.stdout.toString()) as {
      brokers: Array<{ id: number; name: string }>;
      topics: Array<{ topic: string; partitions: Array<{ partition: number; leader: number; replicas: Array<{ id: number }>; isrs: Array<{ id: number }> }> }>;
    };
    expect(meta.brokers).toEqual([{ id: 0, name: broker.bootstrap }]);
    expect(meta.topics).toHaveLength(1);
    expect(meta.topics[0].topic).toBe(topic);
    expect(meta.topics[0].partitions.map((p) => ({ partition: p.partition, leader: p.leader, replicas: p.replicas.map((x) => x.id), isrs: p.isrs.map((x) => x.id) }))
      .sort((a, b) => a.partition - b.partition))
      .toEqual([0, 1, 2].map((partition) => ({ partition, leader: 0, replicas: [0], isrs: [0] })));

    const all = expectSuccess(await kcat(['-b', broker.bootstrap, '-L']));
    expect(all.stdout.toString()).toContain(`topic "${topic}" with 3 partitions`);
  });

  test('-P -p N with -K: keys and -H headers, then -C -p N -o beginning -e byte-exact with offsets', async () => {
    const topic = await createTopic('keys', 3);
    const lines = Array.from({ length: 50 }, (_, i) => `key-${i}:value ${i} ✓ ${'x'.repeat(i)}`);
    expectCleanRun(await kcat(['-b', broker.bootstrap, '-P', '-t', topic, '-p', '1', '-K:', '-H', 'h1=one', '-H', 'h2=two'],
      { input: lines.join('\n') + '\n' }));
    // a second run appends after the first 50
    expectCleanRun(await kcat(['-b', broker.bootstrap, '-P', '-t', topic, '-p', '1', '-K:'], { input: 'late:last\n' }));

    const got = await consumePartition(topic, 1);
    expect(got.map((r) => ({ partition: r.partition, offset: r.offset, key: r.key?.toString(), value: r.value?.toString(), headers: r.headers })))
      .toEqual([
        ...lines.map((l, i) => ({ partition: 1, offset: i, key: `key-${i}`, value: l.slice(l.indexOf(':') + 1), headers: 'h1=one,h2=two' })),
        { partition: 1, offset: 50, key: 'late', value: 'last', headers: '' },
      ]);
    for (const r of got) expect(Math.abs(r.timestamp - Date.now())).toBeLessThan(120_000);
    // the other partitions stayed empty
    expect(await consumePartition(topic, 0)).toEqual([]);
    expect(await consumePartition(topic, 2)).toEqual([]);
    // -o <offset> starts in the middle
    const tail = parseConsumed(expectSuccess(await kcat(['-b', broker.bootstrap, '-C', '-t', topic, '-p', '1', '-o', '48', '-e', '-q', '-f', FORMAT])).stdout);
    expect(tail.map((r) => r.offset)).toEqual([48, 49, 50]);
  });

  test('binary values from files (one message per file) round-trip byte-exact', async () => {
    const topic = await createTopic('binary', 2);
    const dir = tempDir('kcat-bin-');
    const values = [randomBytes(1), randomBytes(1000), Buffer.from([0, 10, 13, 0, 255]), randomBytes(200_000)];
    const files = values.map((v, i) => { const f = join(dir, `m${i}`); writeFileSync(f, v); return f; });
    expectCleanRun(await kcat(['-b', broker.bootstrap, '-P', '-t', topic, '-p', '0', ...files]));
    const got = await consumePartition(topic, 0);
    expect(got.map((r) => ({ offset: r.offset, key: r.key, value: r.value?.toString('hex') })))
      .toEqual(values.map((v, i) => ({ offset: i, key: null, value: v.toString('hex') })));
  });

  test('-X enable.idempotence=true produces each record exactly once', async () => {
    const topic = await createTopic('idempotent', 1);
    const lines = Array.from({ length: 2000 }, (_, i) => `k${i}:v${i}`);
    const r = await kcat(['-b', broker.bootstrap, '-P', '-t', topic, '-p', '0', '-K:', '-X', 'enable.idempotence=true', '-X', 'acks=all'],
      { input: lines.join('\n') + '\n' });
    expectCleanRun(r);
    const got = await consumePartition(topic, 0);
    expect(got.length).toBe(2000);
    expect(got.map((x) => `${x.offset}:${x.key}:${x.value}`)).toEqual(lines.map((l, i) => `${i}:${l}`));
  });

  test.each([['gzip', 1], ['snappy', 2], ['lz4', 3], ['zstd', 4]] as const)('-z %s round-trips and is stored compressed', async (codec, bits) => {
    const topic = await createTopic(`z-${codec}`, 2);
    const lines = Array.from({ length: 500 }, (_, i) => `key${i % 7}:${codec} compressible payload ${i} ${'abc'.repeat(30)}`);
    const r = await kcat(['-b', broker.bootstrap, '-P', '-t', topic, '-p', '1', '-K:', '-z', codec, '-X', 'linger.ms=50'],
      { input: lines.join('\n') + '\n' });
    expectCleanRun(r);
    const raw = await fetchPartition(broker.bootstrap, topic, 1, 0n);
    expect(raw.errorCode).toBe(0);
    expect(raw.highWatermark).toBe(500n);
    const batches = batchHeaders(raw.records);
    expect(batches.length).toBeGreaterThan(0);
    expect(batches.map((b) => b.attributes & 7)).toEqual(batches.map(() => bits));
    const got = await consumePartition(topic, 1);
    expect(got.map((x) => `${x.offset}|${x.key}|${x.value}`))
      .toEqual(lines.map((l, i) => `${i}|${l.slice(0, l.indexOf(':'))}|${l.slice(l.indexOf(':') + 1)}`));
  });

  test('consuming a partition that does not exist fails with a clear error', async () => {
    const topic = await createTopic('nopart', 1);
    const r = await kcat(['-b', broker.bootstrap, '-C', '-t', topic, '-p', '5', '-o', 'beginning', '-e', '-q'], { timeoutMs: 20_000 });
    expect({ code: r.code, timedOut: r.timedOut }).not.toEqual({ code: 0, timedOut: false });
    expect(describeRun(r)).toMatch(/Unknown partition|UNKNOWN_PARTITION|not available|does not exist/i);
  });
});
