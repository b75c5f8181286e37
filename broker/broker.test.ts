import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { Broker } from './broker.ts';
import { BrokerSettings } from './config.ts';
import { createLogger } from './logger.ts';
import { MemoryStore, StaleVersionError } from './metadata/index.ts';
import type { PartitionState, TopicRecord, TopicSpec } from './metadata/index.ts';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'brook-broker-'));
  dirs.push(d);
  return d;
}
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

describe('Broker in process', () => {
  let broker: Broker;
  let kafka: Kafka;
  let metricsUrl: string;

  beforeAll(async () => {
    broker = await Broker.start({
      nodeId: 0, listen: { host: '127.0.0.1', port: 0 }, dataDir: tempDir(), store: new MemoryStore(),
      settings: new BrokerSettings({ 'group.initial.rebalance.delay.ms': '0', 'offsets.topic.num.partitions': '4', 'offsets.topic.replication.factor': '1' }),
      metricsPort: 0, logger: createLogger('test', 'warn'),
    });
    kafka = new Kafka({ brokers: [`127.0.0.1:${broker.listenPort}`], logLevel: logLevel.NOTHING });
    metricsUrl = `http://127.0.0.1:${broker.metricsAddress!.port}`;
  });
  afterAll(async () => { await broker.stop(); });

  test('a long-polling fetch is answered as soon as a record arrives, not at max wait', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'longpoll', numPartitions: 1 }] });
    await admin.disconnect();
    const consumer = kafka.consumer({ groupId: 'longpoll-group', maxWaitTimeInMs: 10_000 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'longpoll', fromBeginning: true });
    let sentAt = 0;
    const received = new Promise<number>((resolve) => {
      void consumer.run({ eachMessage: async () => { resolve(Date.now() - sentAt); } });
    });
    // wait until the consumer is parked in a fetch
    for (let i = 0; i < 100 && broker.delayedFetches.size === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(broker.delayedFetches.size).toBeGreaterThan(0);
    const producer = kafka.producer();
    await producer.connect();
    sentAt = Date.now();
    await producer.send({ topic: 'longpoll', messages: [{ value: 'wake up' }] });
    const latency = await received;
    expect(latency).toBeLessThan(2_000);
    await producer.disconnect();
    await consumer.disconnect();
  });

  test('/metrics exports the broker families with live values; /healthz and /readyz answer', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'metered', numPartitions: 2 }] });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'metered', messages: [{ value: 'a', partition: 0 }, { value: 'b', partition: 0 }, { value: 'c', partition: 1 }] });
    await producer.disconnect();
    await admin.setOffsets({ groupId: 'lagging', topic: 'metered', partitions: [{ partition: 0, offset: '1' }, { partition: 1, offset: '0' }] });
    await admin.disconnect();

    const text = await (await fetch(`${metricsUrl}/metrics`)).text();
    /** The value of the sample `name{labels}`, whatever order the exposition lists the labels in. */
    const value = (sample: string): number => {
      const [, name, labels] = /^([^{]+)\{(.*)\}$/.exec(sample)!;
      const wanted = labels!.split(',').sort().join(',');
      for (const line of text.split('\n')) {
        const m = /^([^{ ]+)\{(.*)\} (\S+)$/.exec(line);
        if (m && m[1] === name && m[2]!.split(',').sort().join(',') === wanted) return Number(m[3]);
      }
      throw new Error(`no sample ${sample} in /metrics`);
    };
    expect(value('brook_topic_records_in_total{topic="metered",broker="0"}')).toBe(3);
    expect(value('brook_topic_bytes_in_total{topic="metered",broker="0"}')).toBeGreaterThan(0);
    expect(value('brook_log_end_offset{topic="metered",partition="0",broker="0"}')).toBe(2);
    expect(value('brook_log_segments{topic="metered",partition="1",broker="0"}')).toBe(1);
    expect(value('brook_consumer_group_lag{group="lagging",topic="metered",partition="0",broker="0"}')).toBe(1);
    expect(value('brook_consumer_group_lag{group="lagging",topic="metered",partition="1",broker="0"}')).toBe(1);
    expect(value('brook_consumer_group_lag_sum{group="lagging",broker="0"}')).toBe(2);
    expect(value('brook_requests_total{api="Produce",broker="0"}')).toBeGreaterThan(0);
    expect(value('brook_request_duration_seconds_count{api="Produce",broker="0"}')).toBeGreaterThan(0);
    for (const family of ['brook_partitions', 'brook_leader_partitions', 'brook_under_replicated_partitions', 'brook_offline_partitions',
      'brook_under_min_isr_partitions', 'brook_connections', 'brook_delayed_operations', 'brook_isr_shrinks_total', 'brook_isr_expands_total',
      'brook_connections_closed_malformed_total', 'nodejs_eventloop_lag_seconds', 'process_resident_memory_bytes']) {
      expect(text).toContain(`# TYPE ${family} `);
    }
    expect(value('brook_under_replicated_partitions{broker="0"}')).toBe(0);
    expect((await fetch(`${metricsUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${metricsUrl}/readyz`);
    expect(`${ready.status} ${await ready.text()}`).toBe('200 ready\n');
  });
});

describe('auto.create.topics.enable', () => {
  test('when on, a Metadata request that allows auto-creation creates the topic with num.partitions', async () => {
    const broker = await Broker.start({
      nodeId: 0, listen: { host: '127.0.0.1', port: 0 }, dataDir: tempDir(), store: new MemoryStore(),
      settings: new BrokerSettings({ 'auto.create.topics.enable': 'true', 'num.partitions': '3' }), logger: createLogger('test', 'warn'),
    });
    try {
      const kafka = new Kafka({ brokers: [`127.0.0.1:${broker.listenPort}`], logLevel: logLevel.NOTHING });
      const producer = kafka.producer({ allowAutoTopicCreation: true });
      await producer.connect();
      await producer.send({ topic: 'made-on-demand', messages: [{ value: 'x' }] });
      await producer.disconnect();
      expect(broker.topic('made-on-demand')?.partitions).toHaveLength(3);
      const admin = kafka.admin();
      await admin.connect();
      // names that are not legal topic names are refused, not created
      await expect(admin.fetchTopicMetadata({ topics: ['bad name'] })).rejects.toThrow();
      await admin.disconnect();
      expect(broker.topic('bad name')).toBeUndefined();
    } finally {
      await broker.stop();
    }
  });
});

describe('brook broker process', () => {
  test('SIGTERM stops it gracefully (exit 0) and the data is there after a restart', async () => {
    const dataDir = tempDir();
    const start = () => {
      const child = spawn(process.execPath, ['broker/cli.ts', 'broker', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--metrics-port', 'none'],
        { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
      const port = new Promise<number>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          const m = /listening on 127\.0\.0\.1:(\d+)/.exec(d.toString());
          if (m) resolve(Number(m[1]));
        });
        child.on('exit', (code) => reject(new Error(`broker exited ${code}: ${err}`)));
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      return { child, port, exited, stderr: () => err };
    };
    const first = start();
    const kafka = new Kafka({ brokers: [`127.0.0.1:${await first.port}`], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'kept', numPartitions: 1 }] });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'kept', messages: [{ value: 'one' }, { value: 'two' }] });
    await producer.disconnect();
    await admin.disconnect();
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.stderr()).toContain('stopped');

    const second = start();
    const again = new Kafka({ brokers: [`127.0.0.1:${await second.port}`], logLevel: logLevel.NOTHING }).admin();
    await again.connect();
    expect(await again.fetchTopicOffsets('kept')).toEqual([expect.objectContaining({ partition: 0, high: '2', low: '0' })]);
    await again.disconnect();
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});

// Regression: the controller took a conflict (409) while placing a pending Topic for "someone else
// placed it" and forgot the topic; when the conflict came from the operator adding its finalizer
// and owner reference, nobody placed it, ever (seen on a one-broker Cluster: __consumer_offsets
// pending for good, so consumer groups never found a coordinator).
describe('pending topic placement', () => {
  /** A store that reports one pending topic and refuses its first placement with a conflict. */
  class ConflictOnceStore extends MemoryStore {
    report: ((spec: TopicSpec) => void) | undefined;
    conflicts = 1;
    override watchPendingTopics(listener: (spec: TopicSpec) => void): () => void {
      this.report = listener;
      return () => { this.report = undefined; };
    }
    override async placePendingTopic(spec: TopicSpec, partitions: readonly PartitionState[] = []): Promise<TopicRecord> {
      if (this.conflicts-- > 0) throw new StaleVersionError(`topic ${spec.name}`, '1', '2');
      return this.createTopic(spec, partitions);
    }
  }

  test('pending topic forgotten after a conflict: a placement that meets a conflict is tried again, and the topic gets placed', async () => {
    const store = new ConflictOnceStore();
    const broker = await Broker.start({
      nodeId: 0, listen: { host: '127.0.0.1', port: 0 }, dataDir: tempDir(), store,
      settings: new BrokerSettings({}), logger: createLogger('test', 'error'),
    });
    try {
      const deadline = Date.now() + 10_000;
      while (!store.report && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      store.report!({ name: 'late', partitions: 2, replicationFactor: 1, configs: {} });
      while (!(await store.getTopic('late')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(store.conflicts).toBe(-1);
      expect((await store.getTopic('late'))?.partitions).toHaveLength(2);
    } finally {
      await broker.stop();
    }
  });
});
