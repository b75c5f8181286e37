/**
 * Fetch from the page cache with sendfile(2) (`brook.fetch.sendfile`, on by default on plain TCP
 * listeners): the bytes a consumer receives are the very bytes the same broker reads into memory
 * when the setting is off. One broker process writes a topic whose small segments make fetches
 * span segments and stop at index entries; every fetch below is then made twice, once with
 * sendfile and once (same data directory, broker restarted) without, and the response frames
 * must be equal byte for byte. A transaction left open on partition 0 puts its last stable offset
 * inside the active segment, so read_committed fetches end at a bound found by walking headers. The broker's brook_fetch_record_bytes_total says which path served
 * them, so the test cannot pass with the sendfile path unused.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker, stopAllBrokers, tempDir, type BrokerHandle } from '../harness/brook.ts';
import { WireConnection, fetchV4Request, parseFetchV4, batchHeaders } from '../harness/wire.ts';

const TOPIC = 'sendfile';
/**
 * Per partition: records, and records per produced batch. Batches of 100 (~30 KiB) each get an
 * offset index entry; batches of 4 (~1.2 KiB) are several per index interval (4 KiB), so a fetch's
 * end is found by walking batch headers past the last entry.
 */
const LAYOUT = [{ records: 12_000, perBatch: 100 }, { records: 12_000, perBatch: 20 }, { records: 4_000, perBatch: 4 }];
const PARTITIONS = LAYOUT.length;
/** The smallest segments allowed (and the default 4 KiB index interval): an 8 MiB fetch crosses several. */
const SEGMENT_BYTES = 1024 * 1024;

let dataDir: string;

/** Record i of a partition: 200-400 bytes. */
const valueOf = (partition: number, i: number): string => `${partition}:${i}:`.padEnd(200 + (i % 200), 'x');

async function metricValue(broker: BrokerHandle, name: string, labels: string): Promise<number> {
  const text = await (await fetch(broker.metricsUrl)).text();
  // every series also carries the broker's default label (broker="<id>")
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/** Records of the transaction left open on partition 0, after its LAYOUT records: 10 batches of 30. */
const OPEN_TXN_RECORDS = 300;

/** Fetch v4 requests at interesting offsets and sizes, each sent on one connection, pipelined. */
const FETCHES: Array<{ partition: number; offset: bigint; maxBytes: number; isolationLevel: 0 | 1 }> = [];
for (let partition = 0; partition < PARTITIONS; partition++) {
  const n = BigInt(LAYOUT[partition]!.records);
  for (const offset of [0n, 1n, 777n, 3001n, n - 1n, n]) {
    for (const maxBytes of [1, 5000, 64 * 1024, 1024 * 1024, 1536 * 1024, 8 * 1024 * 1024]) {
      FETCHES.push({ partition, offset, maxBytes, isolationLevel: 0 });
      if (partition === 0) FETCHES.push({ partition, offset, maxBytes, isolationLevel: 1 });
    }
  }
}

async function fetchAll(broker: BrokerHandle): Promise<Buffer[]> {
  const conn = await WireConnection.connect(broker.bootstrap);
  try {
    // every request written before any answer is read: responses must come back whole and in order
    FETCHES.forEach((f, i) => conn.write(fetchV4Request(TOPIC, f.partition, f.offset, 100 + i, { maxBytes: f.maxBytes, isolationLevel: f.isolationLevel })));
    const out: Buffer[] = [];
    for (let i = 0; i < FETCHES.length; i++) {
      const r = await conn.next();
      if (r === 'closed' || r === 'timeout') throw new Error(`fetch ${i}: ${r}`);
      expect(r.correlationId).toBe(100 + i);
      out.push(r.body);
    }
    return out;
  } finally {
    conn.close();
  }
}

let withSendfile: Buffer[];
let withoutSendfile: Buffer[];
let sentBySendfile = 0;
let readWithSendfileOn = 0;
let sentBySendfileWhenOff = 0;

beforeAll(async () => {
  dataDir = tempDir('brook-fetch-sendfile-');
  let broker = await startBroker({ dataDir });
  const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS, configEntries: [{ name: 'segment.bytes', value: String(SEGMENT_BYTES) }] }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const { records, perBatch } = LAYOUT[partition]!;
    for (let i = 0; i < records; i += perBatch) {
      await producer.send({ topic: TOPIC, messages: Array.from({ length: perBatch }, (_, j) => ({ partition, key: `k${i + j}`, value: valueOf(partition, i + j) })) });
    }
  }
  await producer.disconnect();
  const transactional = kafka.producer({ transactionalId: 'left-open', idempotent: true, maxInFlightRequests: 1, transactionTimeout: 600_000 });
  await transactional.connect();
  const txn = await transactional.transaction();
  for (let b = 0; b < 10; b++) {
    await txn.send({ topic: TOPIC, messages: Array.from({ length: OPEN_TXN_RECORDS / 10 }, (_, j) => ({ partition: 0, value: `open ${b}:${j}`.padEnd(300, 'o') })) });
  }
  await transactional.disconnect(); // the transaction stays open: the last stable offset stays below it
  withSendfile = await fetchAll(broker);
  sentBySendfile = await metricValue(broker, 'brook_fetch_record_bytes_total', 'path="sendfile"');
  readWithSendfileOn = await metricValue(broker, 'brook_fetch_record_bytes_total', 'path="read"');
  await broker.stop();
  broker = await startBroker({ dataDir, set: { 'brook.fetch.sendfile': 'false' } });
  withoutSendfile = await fetchAll(broker);
  sentBySendfileWhenOff = await metricValue(broker, 'brook_fetch_record_bytes_total', 'path="sendfile"');
  await broker.stop();
}, 180_000);

afterAll(async () => {
  await stopAllBrokers();
});

describe('Fetch with sendfile', () => {
  test('every response frame equals the one read into memory, byte for byte (pipelined on one connection)', () => {
    expect(withSendfile.length).toBe(FETCHES.length);
    let nonEmpty = 0;
    for (let i = 0; i < FETCHES.length; i++) {
      const a = withSendfile[i]!;
      const b = withoutSendfile[i]!;
      if (!a.equals(b)) throw new Error(`fetch ${JSON.stringify(FETCHES[i], (_k, v) => typeof v === 'bigint' ? String(v) : v)} differs: ${a.length} vs ${b.length} bytes`);
      if (parseFetchV4(a).records.length > 0) nonEmpty++;
    }
    expect(nonEmpty).toBeGreaterThan(FETCHES.length / 2);
  });

  test('responses hold whole batches from the offset asked, within maxBytes unless the first batch alone is larger', () => {
    for (let i = 0; i < FETCHES.length; i++) {
      const { partition, offset, maxBytes, isolationLevel } = FETCHES[i]!;
      const { errorCode, records } = parseFetchV4(withSendfile[i]!);
      expect(errorCode).toBe(0);
      const batches = batchHeaders(records);
      expect(batches.reduce((n, b) => n + b.size, 0)).toBe(records.length);
      const committed = BigInt(LAYOUT[partition]!.records);
      const visible = partition === 0 && isolationLevel === 0 ? committed + BigInt(OPEN_TXN_RECORDS) : committed;
      const last = batches.at(-1);
      if (last) expect(last.baseOffset + BigInt(last.lastOffsetDelta)).toBeLessThan(visible);
      if (offset >= visible) { expect(records.length).toBe(0); continue; }
      expect(batches[0]!.baseOffset + BigInt(batches[0]!.lastOffsetDelta)).toBeGreaterThanOrEqual(offset);
      expect(batches[0]!.baseOffset).toBeLessThanOrEqual(offset);
      if (batches.length > 1) expect(records.length).toBeLessThanOrEqual(maxBytes);
    }
  });

  test('the sendfile path served them (and only the read path with brook.fetch.sendfile=false)', () => {
    expect(sentBySendfile).toBeGreaterThan(10 * 1024 * 1024);
    expect(sentBySendfile).toBeGreaterThan(readWithSendfileOn);
    expect(sentBySendfileWhenOff).toBe(0);
  });

  test('a kafkajs consumer reads every record, in order, from a broker sending files', async () => {
    const broker = await startBroker({ dataDir });
    const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: 'sendfile-readers', maxBytesPerPartition: 100 * 1024 });
    const seen = Array.from({ length: PARTITIONS }, () => [] as string[]);
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
      let total = 0;
      const done = new Promise<void>((resolve) => {
        void consumer.run({
          eachMessage: async ({ partition, message }) => {
            expect(BigInt(message.offset)).toBe(BigInt(seen[partition]!.length));
            seen[partition]!.push(message.value!.toString());
            if (++total === LAYOUT.reduce((n, l) => n + l.records, 0)) resolve();
          },
        });
      });
      await done;
      for (let partition = 0; partition < PARTITIONS; partition++) {
        expect(seen[partition]!.length).toBe(LAYOUT[partition]!.records);
        seen[partition]!.forEach((v, i) => expect(v).toBe(valueOf(partition, i)));
      }
      expect(await metricValue(broker, 'brook_fetch_record_bytes_total', 'path="sendfile"')).toBeGreaterThan(0);
    } finally {
      await consumer.disconnect();
      await broker.stop();
    }
  }, 120_000);
});
