/**
 * Log compaction (`cleanup.policy=compact`) seen by real clients: 100,000 records over 1,000 keys,
 * some keys deleted with tombstones and some deleted and written again, on a topic configured so
 * the cleaner runs soon (small segments, segment.ms, min.cleanable.dirty.ratio, delete.retention.ms,
 * min.compaction.lag.ms: Kafka's topic configs, the same on both targets). After compaction a
 * consumer reading from the beginning sees exactly the latest record of every live key, at its
 * original offset and in offset order; once delete.retention.ms has passed and the cleaner ran
 * again, no tombstone is left either.
 *
 * The active segment is never cleaned, so each phase ends by waiting out segment.ms and writing a
 * `roll-*` record, which rolls the segment and makes everything before it cleanable.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import kafkajs from 'kafkajs';
import type { Admin, Producer } from 'kafkajs';
import { startBroker, stopAllBrokers } from '../harness/brook.ts';
import type { BrokerHandle } from '../harness/brook.ts';
import { createTopicAndWait } from '../harness/topics.ts';
import { compileJavaPrograms, expectSuccess, javaProgram, kcat, requireKcat } from '../harness/tools.ts';

const { Kafka, logLevel } = kafkajs;
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

let broker: BrokerHandle;
let admin: Admin;
let producer: Producer;

const DELETE_RETENTION_MS = 3000;
const SEGMENT_MS = 1000;
/** Kafka's topic configs that make the cleaner pick the topic up soon (segment.bytes: Kafka 4's minimum). */
const compactConfigs: Record<string, string> = {
  'cleanup.policy': 'compact',
  'segment.bytes': String(1024 * 1024),
  'segment.ms': String(SEGMENT_MS),
  'min.cleanable.dirty.ratio': '0.01',
  'delete.retention.ms': String(DELETE_RETENTION_MS),
  'min.compaction.lag.ms': '0',
};
const PARTITIONS = 2;
const KEYS = 1000;
const RECORDS = 100_000;

beforeAll(async () => {
  requireKcat();
  compileJavaPrograms();
  broker = await startBroker({ set: { 'auto.create.topics.enable': 'false' } });
  const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 10 } });
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What was written, by partition: every record with its offset, and the latest record per key. */
class Written {
  readonly next: number[] = Array(PARTITIONS).fill(0);
  readonly latest: Array<Map<string, { offset: number; value: string | null }>> = Array.from({ length: PARTITIONS }, () => new Map());

  /** The records a consumer must see after compaction: the latest per key, tombstones dropped unless `withTombstones`. */
  expected(partition: number, withTombstones: boolean): string[] {
    return [...this.latest[partition].entries()]
      .filter(([, r]) => withTombstones || r.value !== null)
      .sort((a, b) => a[1].offset - b[1].offset)
      .map(([key, r]) => line(r.offset, key, r.value));
  }
}

const line = (offset: number, key: string, value: string | null) => `${offset} ${key} ${value === null ? '<tombstone>' : value}`;

async function send(topic: string, written: Written, records: Array<{ partition: number; key: string; value: string | null }>): Promise<void> {
  for (let i = 0; i < records.length; i += 2000) {
    const chunk = records.slice(i, i + 2000);
    await producer.send({ topic, acks: -1, messages: chunk });
    for (const r of chunk) {
      written.latest[r.partition].set(r.key, { offset: written.next[r.partition]++, value: r.value });
    }
  }
}

/** Waits out segment.ms, then writes `roll-<tag>-p<p>` to every partition so the active segment rolls. */
async function roll(topic: string, written: Written, tag: string): Promise<void> {
  await sleep(SEGMENT_MS + 200);
  await send(topic, written, Array.from({ length: PARTITIONS }, (_, partition) => ({ partition, key: `roll-${tag}-p${partition}`, value: `roll-${tag}` })));
}

/** One partition from the beginning to its end with kcat, as `offset key value` lines. */
async function readPartition(topic: string, partition: number): Promise<string[]> {
  const r = expectSuccess(await kcat(['-b', broker.bootstrap, '-C', '-t', topic, '-p', String(partition), '-o', 'beginning', '-e', '-q',
    '-f', '%o %k %S %s\\n'], { timeoutMs: 60_000 }));
  return r.stdout.toString().split('\n').filter((l) => l.length > 0).map((l) => {
    const [offset, key, length, value] = l.split(' ');
    return line(Number(offset), key, length === '-1' ? null : value ?? '');
  });
}

/** Polls both partitions until `done` holds for what they hold; returns the last read. */
async function waitForLog(topic: string, what: string, done: (partition: number, lines: string[]) => boolean, timeoutMs: number): Promise<string[][]> {
  const deadline = Date.now() + timeoutMs;
  let last: string[][] = [];
  for (;;) {
    last = await Promise.all(Array.from({ length: PARTITIONS }, (_, p) => readPartition(topic, p)));
    if (last.every((lines, p) => done(p, lines))) return last;
    if (Date.now() > deadline) {
      throw new Error(`${what}: not after ${timeoutMs} ms; partitions hold ${last.map((l) => l.length).join(', ')} records`
        + `\nbroker stderr (tail):\n${broker.stderr().slice(-3000)}`);
    }
    await sleep(2000);
  }
}

/** Every partition read by the Java client (assign + seekToBeginning to the end offsets), as `offset key value` lines. */
async function readWithJavaClient(topic: string): Promise<string[][]> {
  const r = expectSuccess(await javaProgram('AssignConsumer', [broker.bootstrap, topic, '120000'], { timeoutMs: 180_000 }));
  const out: string[][] = Array.from({ length: PARTITIONS }, () => []);
  const text = (h: string) => (h === 'null' ? null : Buffer.from(h.slice(2), 'hex').toString());
  for (const l of r.stdout.toString().split('\n').filter((x) => x.length > 0)) {
    const [partition, offset, , key, value] = l.split(' ');
    out[Number(partition)].push(line(Number(offset), text(key) ?? 'null', text(value)));
  }
  return out;
}

describe('log compaction', () => {
  test('Kafka\'s compaction topic configs are accepted at CreateTopics', async () => {
    const rejected: string[] = [];
    for (const [key, value] of Object.entries(compactConfigs)) {
      const topic = `compact-config-${key.replace(/\./g, '-')}-${process.pid}`;
      try {
        // (createTopicAndWait: Kafka under load answers CreateTopics before its metadata has the topic)
        await createTopicAndWait(admin, { topic, numPartitions: 1, configEntries: [{ name: key, value }] });
      } catch (e) {
        const inner = (e as { errors?: Array<{ type?: string; message?: string }> }).errors ?? [];
        rejected.push(`${key}=${value}: ${(e as Error).message} ${inner.map((x) => `${x.type}: ${x.message}`).join('; ')}`);
      }
    }
    expect(rejected).toEqual([]);
  });

  test('100k records over 1k keys with tombstones: a consumer sees exactly the latest value per live key, then no tombstones', async () => {
    const topic = `compact-${process.pid}`;
    expect(await createTopicAndWait(admin, {
      topic, numPartitions: PARTITIONS, configEntries: Object.entries(compactConfigs).map(([name, value]) => ({ name, value })),
    })).toBe(true);
    const written = new Written();
    const keyOf = (k: number) => `key-${String(k).padStart(4, '0')}`;
    // keys in blocks of ten per partition, so every partition has deleted and re-created keys
    const partitionOf = (k: number) => Math.floor(k / 10) % PARTITIONS;
    const pad = 'x'.repeat(40);
    // 100 rounds over the 1000 keys. Keys k % 10 == 3 end with a tombstone (deleted); keys
    // k % 10 == 7 get a tombstone in round 50 and values again afterwards (live).
    const records = Array.from({ length: RECORDS }, (_, j) => {
      const k = j % KEYS;
      const round = Math.floor(j / KEYS);
      const tombstone = (k % 10 === 3 && round === RECORDS / KEYS - 1) || (k % 10 === 7 && round === 50);
      return { partition: partitionOf(k), key: keyOf(k), value: tombstone ? null : `r${round}-${j}-${pad}` };
    });
    await send(topic, written, records);
    expect(written.next.reduce((a, b) => a + b, 0)).toBe(RECORDS);
    await roll(topic, written, '1');

    // phase 1: one record per key, the latest; tombstones of deleted keys may still be there
    const compacted = await waitForLog(topic, 'compaction (one record per key, the latest)', (p, lines) => {
      const live = written.expected(p, false);
      const withoutTombstones = lines.filter((l) => !l.endsWith('<tombstone>'));
      return JSON.stringify(withoutTombstones) === JSON.stringify(live)
        && lines.filter((l) => l.endsWith('<tombstone>')).every((l) => written.expected(p, true).includes(l));
    }, 240_000);
    for (let p = 0; p < PARTITIONS; p++) {
      // 450 live keys per partition plus the roll record; a deleted key appears at most as its final tombstone
      expect(compacted[p].filter((l) => !l.endsWith('<tombstone>'))).toHaveLength(KEYS / PARTITIONS - 50 + 1);
      expect(compacted[p].filter((l) => / key-\d\d\d[37] /.test(l) && l.endsWith('<tombstone>')).every((l) => / key-\d\d\d3 /.test(l))).toBe(true);
    }

    // phase 2: after delete.retention.ms, more writes make the log dirty again; the next cleaning drops the tombstones
    await sleep(DELETE_RETENTION_MS + 500);
    const updates = Array.from({ length: 10 }, (_, n) => Array.from({ length: KEYS / 10 }, (__, i) => {
      const k = i * 10 + 1;
      return { partition: partitionOf(k), key: keyOf(k), value: `phase2-${n}-${k}` };
    })).flat();
    await send(topic, written, updates);
    await roll(topic, written, '2');
    await waitForLog(topic, 'tombstones removed after delete.retention.ms', (p, lines) =>
      JSON.stringify(lines) === JSON.stringify(written.expected(p, false)), 240_000);

    // what a Java consumer reads from the beginning: exactly the latest value per live key, at its original offset
    const javaRead = await readWithJavaClient(topic);
    for (let p = 0; p < PARTITIONS; p++) {
      expect(javaRead[p]).toEqual(written.expected(p, false));
      expect(javaRead[p].some((l) => l.endsWith('<tombstone>'))).toBe(false);
    }
    const liveKeys = javaRead.flat().map((l) => l.split(' ')[1]).filter((k) => k.startsWith('key-'));
    expect(liveKeys).toHaveLength(KEYS - KEYS / 10);
    expect(liveKeys.filter((k) => k.endsWith('3'))).toEqual([]);
  }, 600_000);
});
