import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { Broker } from '../broker.ts';
import { KafkaConnection } from '../client/kafka-connection.ts';
import { BrokerSettings } from '../config.ts';
import { fetchReadBuffers } from '../log/index.ts';
import { createLogger } from '../logger.ts';
import { MemoryStore } from '../metadata/index.ts';

/**
 * Fetch reads go into buffers leased from the read pool and written to the socket as they are
 * (handlers/fetch.ts). These tests check, against a real broker over TCP, that what a fetch
 * returns is byte for byte what the log holds — across segment boundaries, with several fetches
 * in flight reusing each other's buffers — and that every lease comes back.
 */
const TOPIC = 'fetch-reads';
const PARTITIONS = 3;
const dir = mkdtempSync(join(tmpdir(), 'brook-fetch-reads-'));
let broker: Broker;
const conns: KafkaConnection[] = [];

beforeAll(async () => {
  broker = await Broker.start({
    nodeId: 0, listen: { host: '127.0.0.1', port: 0 }, dataDir: dir, store: new MemoryStore(),
    // small segments (below the topic-level minimum), so that most fetches span two or more
    settings: new BrokerSettings({ 'offsets.topic.replication.factor': '1', 'log.segment.bytes': '40000' }), metricsPort: null, logger: createLogger('test', 'warn'),
  });
  const kafka = new Kafka({ brokers: [`127.0.0.1:${broker.listenPort}`], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }] });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < 120; i++) {
    const messages = Array.from({ length: 1 + (i % 7) }, (_, k) => ({ partition: i % PARTITIONS, value: Buffer.alloc(200 + ((i * 37 + k * 11) % 1500), i) }));
    await producer.send({ topic: TOPIC, acks: 1, messages });
  }
  await producer.disconnect();
});

afterAll(async () => {
  for (const c of conns) c.close();
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
});

function connect(): KafkaConnection {
  const c = new KafkaConnection({ host: '127.0.0.1', port: broker.listenPort, clientId: 'fetch-reads-test' });
  conns.push(c);
  return c;
}

/** Everything each partition holds, read directly from its log. */
async function logBytes(): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let i = 0; i < PARTITIONS; i++) {
    const p = broker.partition(TOPIC, i)!;
    out.push((await p.log.read(0n, 1 << 30, { maxOffset: p.highWatermark })).records);
  }
  return out;
}

/** Fetches every partition from offset 0 to the high watermark, `partitionMaxBytes` at a time. */
async function fetchAll(conn: KafkaConnection, version: number, partitionMaxBytes: number): Promise<Buffer[]> {
  const offsets = Array.from({ length: PARTITIONS }, () => 0n);
  const got: Buffer[][] = Array.from({ length: PARTITIONS }, () => []);
  const topicId = broker.topic(TOPIC)!.topicId;
  for (let round = 0; round < 10_000; round++) {
    const ends = Array.from({ length: PARTITIONS }, (_, i) => broker.partition(TOPIC, i)!.highWatermark);
    if (offsets.every((o, i) => o >= ends[i]!)) break;
    const res = await conn.send(1, version, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: partitionMaxBytes * 2, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: TOPIC, topicId, partitions: offsets.map((fetchOffset, partition) => ({ partition, fetchOffset, partitionMaxBytes, currentLeaderEpoch: -1, lastFetchedEpoch: -1, logStartOffset: -1n })) }],
      forgottenTopicsData: [], rackId: '',
    });
    for (const p of res.responses[0].partitions) {
      expect(p.errorCode).toBe(0);
      const records = p.records as Buffer;
      if (records.length === 0) continue;
      got[p.partitionIndex].push(Buffer.from(records)); // a copy: the frame is the client's
      // next offset: after the last batch of the answer
      let pos = 0;
      let next = offsets[p.partitionIndex]!;
      while (pos + 61 <= records.length) {
        next = records.readBigInt64BE(pos) + BigInt(records.readInt32BE(pos + 23)) + 1n;
        pos += records.readInt32BE(pos + 8) + 12;
      }
      offsets[p.partitionIndex] = next;
    }
  }
  return got.map((parts) => Buffer.concat(parts));
}

async function leasesBack(): Promise<void> {
  for (let i = 0; i < 200 && fetchReadBuffers.outstanding !== 0; i++) await new Promise((r) => setTimeout(r, 10));
  expect(fetchReadBuffers.outstanding).toBe(0);
}

describe('Fetch from pooled read buffers', () => {
  test('fetched records equal the log byte for byte across segment boundaries, v4, v12 and v16', async () => {
    const expected = await logBytes();
    expect(broker.partition(TOPIC, 0)!.log.segmentCount).toBeGreaterThan(3);
    const conn = connect();
    for (const version of [4, 12, 16]) {
      const got = await fetchAll(conn, version, 9_000);
      for (let i = 0; i < PARTITIONS; i++) expect(got[i]!.equals(expected[i]!)).toBe(true);
    }
    await leasesBack();
  });

  test('fetches in flight on several connections reuse released buffers and never see each other\'s bytes', async () => {
    const expected = await logBytes();
    const reusedBefore = fetchReadBuffers.reused;
    const runs = await Promise.all([connect(), connect(), connect(), connect()].flatMap((c, k) => [
      fetchAll(c, 16, 5_000 + k * 3_000), fetchAll(c, 12, 20_000 + k * 1000),
    ]));
    for (const got of runs) for (let i = 0; i < PARTITIONS; i++) expect(got[i]!.equals(expected[i]!)).toBe(true);
    expect(fetchReadBuffers.reused).toBeGreaterThan(reusedBefore + 10);
    await leasesBack();
  });

  test('a fetch that waits for minBytes gives back the reads it throws away, and errors lease nothing', async () => {
    const conn = connect();
    const before = fetchReadBuffers.acquired;
    const res = await conn.send(1, 12, {
      replicaId: -1, maxWaitMs: 300, minBytes: 100_000_000, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: TOPIC, partitions: [
        { partition: 0, fetchOffset: 0n, partitionMaxBytes: 4_000, currentLeaderEpoch: -1, lastFetchedEpoch: -1, logStartOffset: -1n },
        { partition: 1, fetchOffset: 0n, partitionMaxBytes: 4_000, currentLeaderEpoch: -1, lastFetchedEpoch: -1, logStartOffset: -1n },
      ] }],
      forgottenTopicsData: [], rackId: '',
    });
    expect(res.responses[0].partitions.map((p: { records: Buffer }) => p.records.length > 0)).toEqual([true, true]);
    expect(fetchReadBuffers.acquired).toBeGreaterThan(before + 2); // read at least twice
    const bad = await conn.send(1, 12, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: TOPIC, partitions: [
        { partition: 0, fetchOffset: 1_000_000n, partitionMaxBytes: 4_000, currentLeaderEpoch: -1, lastFetchedEpoch: -1, logStartOffset: -1n },
        { partition: 7, fetchOffset: 0n, partitionMaxBytes: 4_000, currentLeaderEpoch: -1, lastFetchedEpoch: -1, logStartOffset: -1n },
      ] }],
      forgottenTopicsData: [], rackId: '',
    });
    expect(bad.responses[0].partitions.map((p: { errorCode: number }) => p.errorCode)).toEqual([1, 3]);
    await leasesBack();
  });
});
