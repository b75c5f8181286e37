/**
 * Incremental fetch sessions (KIP-227) over the wire, as a consumer sees them: Fetch v12 (topics
 * by name) and v13 (by id) from a real broker process. A session opens at epoch 0; an
 * incremental fetch that names nothing answers only the partitions with new records or a moved
 * high watermark; a partition named again moves its fetch offset; forgotten partitions stop
 * being read; a wrong epoch, an unknown id and a closed session are refused with Kafka's errors.
 * Runs against Brook and, with BROOK_TEST_TARGET=kafka, against Apache Kafka.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { KafkaConnection } from '../../broker/client/kafka-connection.ts';
import { startBroker, stopAllBrokers, type BrokerHandle } from '../harness/brook.ts';

const FETCH = 1;
const TOPIC = 'sessions';
const PARTITIONS = 4;
const FETCH_SESSION_ID_NOT_FOUND = 70;
const INVALID_FETCH_SESSION_EPOCH = 71;

let broker: BrokerHandle;
let admin: Admin;
let producer: Producer;
let conn: KafkaConnection;
let topicId = '';

beforeAll(async () => {
  broker = await startBroker();
  const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true });
  topicId = await topicIdOf(TOPIC);
  producer = kafka.producer();
  await producer.connect();
  const [host, port] = broker.bootstrap.split(':');
  conn = new KafkaConnection({ host: host!, port: Number(port), clientId: 'fetch-sessions-test' });
}, 120_000);

afterAll(async () => {
  conn?.close();
  await producer?.disconnect();
  await admin?.disconnect();
  await stopAllBrokers();
});

async function topicIdOf(topic: string): Promise<string> {
  const c = new KafkaConnection({ host: broker.bootstrap.split(':')[0]!, port: Number(broker.bootstrap.split(':')[1]), clientId: 'fetch-sessions-test' });
  try {
    const md = await c.send(3, 12, { topics: [{ topicId: '00000000-0000-0000-0000-000000000000', name: topic }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    return md.topics[0].topicId as string;
  } finally {
    c.close();
  }
}

type Part = { partition: number; fetchOffset: bigint };

/** One Fetch (maxWait 0: answered at once) in version `v` with these session fields. */
function fetch(v: number, sessionId: number, sessionEpoch: number, parts: Part[], forgotten: number[] = []) {
  const topicRef = v >= 13 ? { topic: '', topicId } : { topic: TOPIC, topicId: '00000000-0000-0000-0000-000000000000' };
  return conn.send(FETCH, v, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId, sessionEpoch,
    topics: parts.length === 0 ? [] : [{ ...topicRef, partitions: parts.map((p) => ({
      partition: p.partition, currentLeaderEpoch: -1, fetchOffset: p.fetchOffset, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20,
    })) }],
    forgottenTopicsData: forgotten.length === 0 ? [] : [{ ...topicRef, partitions: forgotten }],
    rackId: '', replicaState: { replicaId: -1, replicaEpoch: -1n },
  });
}

/** The partitions a response answers, as [index, highWatermark, bytes of records]. */
function answered(res: any): Array<[number, number, number]> {
  return res.responses.flatMap((t: any) => t.partitions.map((p: any) => [p.partitionIndex, Number(p.highWatermark),
    (Array.isArray(p.records) ? p.records : p.records ? [p.records] : []).reduce((n: number, b: Buffer) => n + b.length, 0)]))
    .sort((a: number[], b: number[]) => a[0]! - b[0]!);
}

async function produceTo(partition: number, n: number): Promise<void> {
  await producer.send({ topic: TOPIC, acks: -1, messages: Array.from({ length: n }, (_, i) => ({ partition, value: `v${i}` })) });
}

describe.each([12, 13])('Fetch v%i in an incremental fetch session', (v) => {
  test('opens at epoch 0, then answers only what changed; named partitions move, forgotten ones are no longer read', async () => {
    const all = Array.from({ length: PARTITIONS }, (_, partition) => ({ partition, fetchOffset: 0n }));
    const ends = await admin.fetchTopicOffsets(TOPIC);
    const start = new Map(ends.map((e) => [e.partition, BigInt(e.offset)]));
    for (const p of all) p.fetchOffset = start.get(p.partition)!;

    const opened = await fetch(v, 0, 0, all);
    expect(opened.errorCode).toBe(0);
    expect(opened.sessionId).not.toBe(0);
    expect(answered(opened).map((a) => a[0])).toEqual([0, 1, 2, 3]);
    const id = opened.sessionId as number;

    // nothing new: an incremental fetch naming nothing is answered with nothing
    const idle = await fetch(v, id, 1, []);
    expect(idle.errorCode).toBe(0);
    expect(idle.sessionId).toBe(id);
    expect(answered(idle)).toEqual([]);

    // records on partition 2: only partition 2 comes back, with them and its new high watermark
    await produceTo(2, 3);
    const after = await fetch(v, id, 2, []);
    const a = answered(after);
    expect(a.map((x) => x[0])).toEqual([2]);
    expect(a[0]![1]).toBe(Number(start.get(2)!) + 3);
    expect(a[0]![2]).toBeGreaterThan(0);

    // the fetcher names partition 2 at its new offset: nothing more to answer
    const moved = await fetch(v, id, 3, [{ partition: 2, fetchOffset: start.get(2)! + 3n }]);
    expect(answered(moved)).toEqual([]);

    // partition 1 forgotten: its records are not read any more; partition 0's are
    await produceTo(1, 2);
    await produceTo(0, 2);
    const forgot = await fetch(v, id, 4, [], [1]);
    expect(answered(forgot).map((x) => x[0])).toEqual([0]);

    // a wrong epoch and an unknown session are refused; epoch -1 closes the session
    expect((await fetch(v, id, 9, [])).errorCode).toBe(INVALID_FETCH_SESSION_EPOCH);
    expect((await fetch(v, id === 1 ? 2 : 1, 1, [])).errorCode).toBe(FETCH_SESSION_ID_NOT_FOUND);
    const closed = await fetch(v, id, -1, [{ partition: 3, fetchOffset: start.get(3)! }]);
    expect(closed.errorCode).toBe(0);
    expect(closed.sessionId).toBe(0);
    expect((await fetch(v, id, 5, [])).errorCode).toBe(FETCH_SESSION_ID_NOT_FOUND);
  }, 60_000);
});
