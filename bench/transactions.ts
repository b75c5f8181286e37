/**
 * Transactional produce throughput and latency, Brook vs Apache Kafka on the same machine, one
 * after the other, with Kafka's own ProducerPerformance: `--transactional-id` and
 * `--transaction-duration-ms` (a commit every N ms), acks=all, 1 KiB records, 3 partitions. Prints
 * both summaries and the ratios Brook/Kafka (targets: throughput >= 1.0x, p99 <= 1.0x). Then
 * ConsumerPerformance reads the topic back twice in fresh groups, read_uncommitted and
 * read_committed, and prints the fetch-phase rates of both on each broker.
 *
 *   npm run bench:transactions [-- --records 200000 --duration-ms 100]
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { startBrook, startKafka, KAFKA_HEAP_OPTS, BROOK_BASE_SETTINGS } from './brokers.ts';
import { parseConsumerSummary, parseProducerSummary, runToolOrThrow, toolClasses } from './kafka-tools.ts';
import type { ConsumerSummary, ProducerSummary } from './kafka-tools.ts';

const { values } = parseArgs({ options: { records: { type: 'string' }, 'duration-ms': { type: 'string' } } });
const RECORDS = Number(values.records ?? 200_000);
const DURATION_MS = Number(values['duration-ms'] ?? 100);

const results: Record<string, ProducerSummary> = {};
const ISOLATION = ['read_uncommitted', 'read_committed'] as const;
const consumed: Record<string, Partial<Record<typeof ISOLATION[number], ConsumerSummary>>> = {};
const configDir = mkdtempSync(join(tmpdir(), 'brook-bench-txn-'));
for (const name of ['kafka', 'brook'] as const) {
  process.stderr.write(`[transactions] starting ${name}\n`);
  const broker = name === 'kafka' ? await startKafka({ heapOpts: KAFKA_HEAP_OPTS })
    : await startBrook({ settings: [...BROOK_BASE_SETTINGS, 'transaction.state.log.replication.factor=1', 'transaction.state.log.min.isr=1'] });
  try {
    const admin = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'bench-txn', numPartitions: 3 }], waitForLeaders: true });
    await admin.disconnect();
    const run = await runToolOrThrow(toolClasses.producerPerf, ['--topic', 'bench-txn', '--num-records', String(RECORDS), '--record-size', '1024',
      '--throughput', '-1', '--transactional-id', `bench-${name}`, '--transaction-duration-ms', String(DURATION_MS),
      '--producer-props', `bootstrap.servers=${broker.bootstrap}`, 'acks=all', 'linger.ms=5']);
    results[name] = parseProducerSummary(run.stdout);
    process.stderr.write(`[transactions] ${name}: ${JSON.stringify(results[name])}\n`);
    consumed[name] = {};
    for (const isolation of ISOLATION) {
      const config = join(configDir, `${isolation}.properties`);
      writeFileSync(config, `isolation.level=${isolation}\n`);
      const read = await runToolOrThrow(toolClasses.consumerPerf, ['--bootstrap-server', broker.bootstrap, '--topic', 'bench-txn',
        '--messages', String(RECORDS), '--group', `bench-txn-${isolation}-${Date.now()}`, '--timeout', '30000', '--command-config', config]);
      const summary = parseConsumerSummary(read.stdout);
      if (summary.records < RECORDS) throw new Error(`${name} ${isolation}: consumed ${summary.records} of ${RECORDS} records`);
      consumed[name][isolation] = summary;
      process.stderr.write(`[transactions] ${name} ${isolation}: ${summary.fetchMibPerSec} MiB/s (fetch phase)\n`);
    }
  } finally {
    await broker.stop();
  }
}
const k = results.kafka!;
const b = results.brook!;
process.stdout.write(`transactional ProducerPerformance, ${RECORDS} x 1 KiB, a commit every ${DURATION_MS} ms, acks=all:\n`);
process.stdout.write(`  Kafka ${k.recordsPerSec} rec/s p99 ${k.p99Ms} ms   Brook ${b.recordsPerSec} rec/s p99 ${b.p99Ms} ms\n`);
process.stdout.write(`  Brook/Kafka throughput ${(b.recordsPerSec / k.recordsPerSec).toFixed(2)}x (target >= 1.0x), p99 ${(b.p99Ms / k.p99Ms).toFixed(2)}x (target <= 1.0x)\n`);
for (const name of ['kafka', 'brook'] as const) {
  const u = consumed[name]?.read_uncommitted;
  const c = consumed[name]?.read_committed;
  if (u && c) {
    process.stdout.write(`  ${name} consume (fetch phase): read_uncommitted ${u.fetchMibPerSec} MiB/s, read_committed ${c.fetchMibPerSec} MiB/s (${(c.fetchMibPerSec / u.fetchMibPerSec).toFixed(2)}x)\n`);
  }
}
process.exit(0);
