/**
 * Micro-benchmark of the broker's request path in one process: kafkajs produces N batches
 * (acks=1) to one in-process broker over loopback, then fetches them all back. It covers the
 * server, the Produce and Fetch handlers and the partition log, without Kafka's perf tools.
 * Run: `node bench/in-process-produce-fetch.ts [batches] [records-per-batch]` (best of 5 rounds).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { Broker } from '../broker/broker.ts';
import { BrokerSettings } from '../broker/config.ts';
import { createLogger } from '../broker/logger.ts';
import { MemoryStore } from '../broker/metadata/index.ts';

const batches = Number(process.argv[2] ?? 2000);
const perBatch = Number(process.argv[3] ?? 100);
const dir = mkdtempSync(join(tmpdir(), 'brook-bench-'));
const broker = await Broker.start({
  nodeId: 0, listen: { host: '127.0.0.1', port: 0 }, dataDir: dir, store: new MemoryStore(),
  settings: new BrokerSettings({ 'offsets.topic.replication.factor': '1', 'group.initial.rebalance.delay.ms': '0' }), metricsPort: null, logger: createLogger('bench', 'warn'),
});
const kafka = new Kafka({ brokers: [`127.0.0.1:${broker.listenPort}`], logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const value = Buffer.alloc(100, 'x');
const messages = Array.from({ length: perBatch }, () => ({ value }));
const producer = kafka.producer();
await producer.connect();
let best = { produce: Infinity, fetch: Infinity };
for (let round = 0; round < 5; round++) {
  const topic = `bench-${round}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  let t = performance.now();
  for (let i = 0; i < batches; i++) await producer.send({ topic, acks: 1, messages });
  const produce = performance.now() - t;
  const consumer = kafka.consumer({ groupId: `bench-${round}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  const total = batches * perBatch;
  t = performance.now();
  await new Promise<void>((resolve) => {
    void consumer.run({ eachBatch: async ({ batch }) => { seen += batch.messages.length; if (seen >= total) resolve(); } });
  });
  const fetch = performance.now() - t;
  await consumer.disconnect();
  best = { produce: Math.min(best.produce, produce), fetch: Math.min(best.fetch, fetch) };
  process.stdout.write(`round ${round}: produce ${(produce).toFixed(0)} ms (${(batches / produce * 1000).toFixed(0)} req/s), consume ${fetch.toFixed(0)} ms\n`);
}
process.stdout.write(`best: produce ${(batches / best.produce * 1000).toFixed(0)} requests/s (${perBatch} records each), consume ${(batches * perBatch / best.fetch * 1000).toFixed(0)} records/s\n`);
await producer.disconnect();
await admin.disconnect();
await broker.stop();
rmSync(dir, { recursive: true, force: true });
