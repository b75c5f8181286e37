/**
 * The high-watermark checkpoint across a real crash (issue 10, item 5): a broker process is
 * SIGKILLed after its periodic replication-offset-checkpoint covered what it acknowledged, is
 * restarted on the same data directory, and its first ListOffsets(latest) answers that high
 * watermark. (On one broker the partition's ISR is the broker alone, so the old code also
 * answered the log end here; the regression test that fails without the checkpoint is
 * broker/replication/high-watermark.test.ts, with three brokers.) With BROOK_TEST_TARGET=kafka the
 * same test passes against Apache Kafka, whose replication-offset-checkpoint Brook's matches.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaConnection } from '../../broker/client/kafka-connection.ts';
import { hwKey, readHighWatermarks } from '../../broker/log/index.ts';
import { join } from 'node:path';
import { startBroker, stopAllBrokers, target } from '../harness/brook.ts';

afterAll(async () => { await stopAllBrokers(); });

async function waitFor(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('high watermark after SIGKILL', () => {
  test('ListOffsets(latest) right after a SIGKILL and restart answers the high watermark acknowledged before', async () => {
    const settings = { 'replica.high.watermark.checkpoint.interval.ms': '100', 'auto.create.topics.enable': 'false' };
    const first = await startBroker({ set: settings });
    const kafka = new Kafka({ brokers: [first.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'hw-kill', numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    for (let i = 0; i < 25; i++) await producer.send({ topic: 'hw-kill', acks: -1, messages: [{ value: `v${i}` }] });
    await producer.disconnect();
    // Kafka keeps the same file (same name and format) in its log dir, which its harness nests
    const logDir = target === 'kafka' ? join(first.dataDir, 'kafka-logs') : first.dataDir;
    await waitFor(() => readHighWatermarks(logDir).get(hwKey('hw-kill', 0)) === 25n, 'the checkpoint to hold 25');

    await first.kill('SIGKILL');
    const second = await startBroker({ dataDir: first.dataDir, port: first.port, set: settings });
    const conn = new KafkaConnection({ host: '127.0.0.1', port: second.port, clientId: 'hw-kill' });
    try {
      const res = await conn.send(2, 5, { replicaId: -1, isolationLevel: 0,
        topics: [{ name: 'hw-kill', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }] }] });
      expect(res.topics[0].partitions[0]).toMatchObject({ errorCode: 0, offset: 25n });
    } finally {
      conn.close();
    }
  });
});
