/**
 * Crash safety with real clients: SIGKILL the broker while kafkajs produces hard with acks=all to
 * a topic with flush.messages=1, restart it on the same data directory, and read everything back
 * with the Java consumer (by assignment, CRC checks on). Every acknowledged record must be there,
 * at the offset it was acknowledged with, in order; offsets are dense from 0; no torn batch is
 * served (the consumer reaches the end offset without an error); the log accepts appends after.
 *
 * What it does not prove: that flush.messages=1 fsyncs before acknowledging. A SIGKILL keeps the
 * page cache, so this test would pass without any fsync; test/durability/fsync-before-ack.test.ts
 * proves the fsync (strace), and broker/replication/chaos.test.ts drops unsynced bytes on crash.
 */
import { afterAll, expect, test } from '@jest/globals';
import kafkajs from 'kafkajs';
import { startBroker, stopAllBrokers } from '../harness/brook.ts';
import { createTopicAndWait } from '../harness/topics.ts';
import { compileJavaPrograms, describeRun, javaProgram } from '../harness/tools.ts';

const { Kafka, logLevel } = kafkajs;
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

afterAll(async () => {
  await stopAllBrokers();
});

const PARTITIONS = 4;
const BATCH = 50;

function valueOf(partition: number, n: number): string {
  return `p${partition}-n${n}-${'x'.repeat(100 + (n % 50))}`;
}

test('kill -9 during acks=all produce with flush.messages=1 loses no acknowledged record', async () => {
  compileJavaPrograms();
  const first = await startBroker();
  const topic = `crash-${process.pid}`;
  const kafka = new Kafka({ brokers: [first.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 2000, requestTimeout: 5000 });
  const admin = kafka.admin();
  await admin.connect();
  expect(await createTopicAndWait(admin, { topic, numPartitions: PARTITIONS, configEntries: [{ name: 'flush.messages', value: '1' }] })).toBe(true);
  await admin.disconnect();

  const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
  await producer.connect();

  /** acked[p][offset] = value, from the produce responses */
  const acked: Array<Map<number, string>> = Array.from({ length: PARTITIONS }, () => new Map());
  let stopped = false;
  let totalAcked = 0;
  const errors: unknown[] = [];
  const worker = async (partition: number) => {
    let n = 0;
    while (!stopped) {
      const values = Array.from({ length: BATCH }, (_, i) => valueOf(partition, n + i));
      try {
        const [meta] = await producer.send({ topic, acks: -1, messages: values.map((value) => ({ partition, value })) });
        const base = Number(meta.baseOffset);
        values.forEach((v, i) => acked[partition].set(base + i, v));
        totalAcked += BATCH;
        n += BATCH;
      } catch (e) {
        errors.push(e);
        return; // the broker is gone
      }
    }
  };
  const workers = Array.from({ length: PARTITIONS }, (_, p) => worker(p));

  // let it run hard for a while, then kill -9 in the middle of the traffic
  const deadline = Date.now() + 20_000;
  while (totalAcked < 4000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(totalAcked).toBeGreaterThan(0);
  await first.kill('SIGKILL');
  stopped = true;
  await Promise.race([Promise.all(workers), new Promise((r) => setTimeout(r, 15_000))]);
  await Promise.race([producer.disconnect().catch(() => undefined), new Promise((r) => setTimeout(r, 5000))]);
  const ackedAtKill = acked.map((m) => m.size);

  const second = await startBroker({ dataDir: first.dataDir });
  const read = await javaProgram('AssignConsumer', [second.bootstrap, topic, '60000'], { timeoutMs: 120_000 });
  expect({ code: read.code, timedOut: read.timedOut, output: read.code === 0 ? '' : describeRun(read) })
    .toEqual({ code: 0, timedOut: false, output: '' });

  const got: Array<Map<number, string>> = Array.from({ length: PARTITIONS }, () => new Map());
  const order: number[][] = Array.from({ length: PARTITIONS }, () => []);
  for (const line of read.stdout.toString().split('\n').filter(Boolean)) {
    const [p, offset, , , value] = line.split(' ');
    got[Number(p)].set(Number(offset), Buffer.from(value.slice(2), 'hex').toString());
    order[Number(p)].push(Number(offset));
  }
  for (let p = 0; p < PARTITIONS; p++) {
    // dense offsets from 0, served in order
    expect(order[p]).toEqual(order[p].map((_, i) => i));
    // every acknowledged record, at its acknowledged offset
    const missing = [...acked[p]].filter(([offset, value]) => got[p].get(offset) !== value).map(([offset]) => offset);
    expect({ partition: p, acked: ackedAtKill[p], missingOrDifferent: missing.slice(0, 20), missingCount: missing.length })
      .toEqual({ partition: p, acked: ackedAtKill[p], missingOrDifferent: [], missingCount: 0 });
    // and records past the acknowledged ones are whole records of this producer (a batch that was
    // written but not acknowledged), in sequence
    for (const [offset, value] of got[p]) {
      expect(value).toBe(valueOf(p, offset));
    }
  }

  // the restarted log takes appends right after what it recovered
  const kafka2 = new Kafka({ brokers: [second.bootstrap], logLevel: logLevel.NOTHING });
  const producer2 = kafka2.producer({ allowAutoTopicCreation: false });
  await producer2.connect();
  try {
    for (let p = 0; p < PARTITIONS; p++) {
      const [meta] = await producer2.send({ topic, acks: -1, messages: [{ partition: p, value: 'after-restart' }] });
      expect({ partition: p, baseOffset: meta.baseOffset }).toEqual({ partition: p, baseOffset: String(got[p].size) });
    }
  } finally {
    await producer2.disconnect();
  }
  expect(await second.stop()).toBe(0);
}, 180_000);
