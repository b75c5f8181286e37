/**
 * The transaction protocol over the wire (issue 13), request by request, against Brook and (with
 * BROOK_TEST_TARGET=kafka) Apache Kafka, with the same assertions: Kafka's error codes for bad
 * transactional requests; the last stable offset holding read_committed readers (Fetch and
 * ListOffsets isolation level 1) below an open transaction and the aborted-transactions list of
 * a read_committed fetch; an open transaction surviving a SIGKILL of the broker (producer state and
 * coordinator state rebuilt from the logs) and committed after the restart; and the coordinator
 * aborting a transaction that outlives transaction.timeout.ms, fencing its producer.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import kafkajs from 'kafkajs';
import { KafkaConnection } from '../../broker/client/kafka-connection.ts';
import { encodeRecordBatch } from '../../broker/log/records.ts';
import { startBroker, stopAllBrokers, target, tempDir } from '../harness/brook.ts';
import type { BrokerHandle } from '../harness/brook.ts';
import { createTopicAndWait } from '../harness/topics.ts';
import { expectSuccess, kafkaTool } from '../harness/tools.ts';

const { Kafka, logLevel } = kafkajs;

const NONE = 0;
const UNKNOWN_TOPIC_OR_PARTITION = 3;
const COORDINATOR_LOAD_IN_PROGRESS = 14;
const COORDINATOR_NOT_AVAILABLE = 15;
const NOT_COORDINATOR = 16;
const INVALID_TXN_STATE = 48;
const INVALID_PRODUCER_ID_MAPPING = 49;
const INVALID_TRANSACTION_TIMEOUT = 50;
const CONCURRENT_TRANSACTIONS = 51;
const OPERATION_NOT_ATTEMPTED = 55;
const INVALID_PRODUCER_EPOCH = 47;
const PRODUCER_FENCED = 90;
const RETRIABLE = new Set([COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, CONCURRENT_TRANSACTIONS]);

let seq = 0;
const name = (what: string) => `txnwire-${what}-${process.pid}-${seq++}`;

/** A client speaking the transaction APIs at the versions the Java client uses with protocol v1. */
class TxnClient {
  readonly conn: KafkaConnection;
  constructor(bootstrap: string) {
    const [host, port] = bootstrap.split(':');
    this.conn = new KafkaConnection({ host: host!, port: Number(port), clientId: 'txn-wire-test', requestTimeoutMs: 30_000 });
  }

  close(): void { this.conn.close(); }

  /** Retries while the coordinator is loading / being created, as clients do. */
  private async retrying<T>(call: () => Promise<T>, code: (r: T) => number): Promise<T> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = await call();
      if (!RETRIABLE.has(code(r)) || Date.now() > deadline) return r;
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  /** FindCoordinator of a transactional id (keyType 1) or a group (0). */
  findCoordinator(key: string, keyType = 1): Promise<{ errorCode: number; nodeId: number }> {
    return this.retrying(async () => {
      const r = await this.conn.send(10, 4, { keyType, coordinatorKeys: [key] });
      return r.coordinators[0];
    }, (r) => r.errorCode);
  }

  initProducerId(transactionalId: string, transactionTimeoutMs = 60_000): Promise<{ errorCode: number; producerId: bigint; producerEpoch: number }> {
    return this.retrying(() => this.conn.send(22, 4, { transactionalId, transactionTimeoutMs, producerId: -1n, producerEpoch: -1 }), (r) => r.errorCode);
  }

  async addPartitions(transactionalId: string, producerId: bigint, producerEpoch: number, topic: string, partitions: number[]): Promise<number[]> {
    const r = await this.retrying(() => this.conn.send(24, 3, {
      v3AndBelowTransactionalId: transactionalId, v3AndBelowProducerId: producerId, v3AndBelowProducerEpoch: producerEpoch,
      v3AndBelowTopics: [{ name: topic, partitions }],
    }), (res: any) => res.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode);
    return r.resultsByTopicV3AndBelow[0].resultsByPartition.map((p: { partitionErrorCode: number }) => p.partitionErrorCode);
  }

  async endTxn(transactionalId: string, producerId: bigint, producerEpoch: number, committed: boolean, retry = true): Promise<number> {
    const send = () => this.conn.send(26, 3, { transactionalId, producerId, producerEpoch, committed });
    const r = retry ? await this.retrying(send, (res: any) => res.errorCode) : await send();
    return r.errorCode;
  }

  /** EndTxn v5 (transaction protocol v2): the answer carries the producer id and epoch of the next transaction. */
  async endTxnV2(transactionalId: string, producerId: bigint, producerEpoch: number, committed: boolean): Promise<{ errorCode: number; producerId: bigint; producerEpoch: number }> {
    const r = await this.retrying(() => this.conn.send(26, 5, { transactionalId, producerId, producerEpoch, committed }), (res: any) => res.errorCode);
    return { errorCode: r.errorCode, producerId: r.producerId, producerEpoch: r.producerEpoch };
  }

  /** TxnOffsetCommit v5 (protocol v2: no AddOffsetsToTxn first) of one offset, as a producer outside the group commits it. */
  async txnOffsetCommitV2(transactionalId: string, groupId: string, producerId: bigint, producerEpoch: number, topic: string, offset: bigint): Promise<number> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = await this.conn.send(28, 5, {
        transactionalId, groupId, producerId, producerEpoch, generationId: -1, memberId: '', groupInstanceId: null,
        topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: '' }] }],
      });
      const code = r.topics[0].partitions[0].errorCode as number;
      if ((code !== COORDINATOR_LOAD_IN_PROGRESS && code !== COORDINATOR_NOT_AVAILABLE && code !== NOT_COORDINATOR) || Date.now() > deadline) return code;
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  /** Produces `values` to partition 0 in one batch: transactional when `producer` is given. */
  async produce(topic: string, values: string[], producer: { transactionalId: string; producerId: bigint; producerEpoch: number; baseSequence: number } | null, version = 9): Promise<{ errorCode: number; baseOffset: bigint }> {
    const records = encodeRecordBatch(values.map((v) => ({ key: null, value: Buffer.from(v) })), BigInt(Date.now()),
      producer ? { producerId: producer.producerId, producerEpoch: producer.producerEpoch, baseSequence: producer.baseSequence, transactional: true } : null);
    const r = await this.conn.send(0, version, {
      transactionalId: producer?.transactionalId ?? null, acks: -1, timeoutMs: 10_000,
      topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
    });
    return r.responses[0].partitionResponses[0];
  }

  /** ListOffsets LATEST of partition 0 at `isolationLevel` (0 read_uncommitted, 1 read_committed). */
  async latest(topic: string, isolationLevel: number): Promise<bigint> {
    const r = await this.conn.send(2, 7, { replicaId: -1, isolationLevel, topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: -1n, currentLeaderEpoch: -1 }] }] });
    return r.topics[0].partitions[0].offset;
  }

  /** Fetch v11 of partition 0 from `offset`. */
  async fetch(topic: string, offset: bigint, isolationLevel: number) {
    const r = await this.conn.send(1, 11, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: offset, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
      forgottenTopicsData: [], rackId: '',
    });
    const p = r.responses[0].partitions[0];
    return { errorCode: p.errorCode as number, highWatermark: p.highWatermark as bigint, lastStableOffset: p.lastStableOffset as bigint,
      abortedTransactions: p.abortedTransactions as Array<{ producerId: bigint; firstOffset: bigint }> | null, bytes: (p.records as Buffer | null)?.length ?? 0 };
  }

  /** Waits until ListOffsets read_committed reaches `offset`. */
  async awaitStable(topic: string, offset: bigint): Promise<void> {
    const deadline = Date.now() + 30_000;
    while ((await this.latest(topic, 1)) < offset) {
      if (Date.now() > deadline) throw new Error(`LSO of ${topic} did not reach ${offset}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function createTopic(bootstrap: string, what: string): Promise<string> {
  const admin = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const topic = name(what);
  try {
    expect(await createTopicAndWait(admin, { topic, numPartitions: 1, replicationFactor: 1 })).toBe(true);
  } finally {
    await admin.disconnect();
  }
  return topic;
}

afterAll(async () => {
  await stopAllBrokers();
});

const NOT_LEADER_OR_FOLLOWER = 6;
const NOT_ENOUGH_REPLICAS = 19;

/**
 * A produce answered with a retriable error writes nothing, and a client asks again: Apache Kafka
 * answers NOT_LEADER_OR_FOLLOWER to a topic created a moment ago while its metadata reaches the
 * partition, and (4.4) NOT_ENOUGH_REPLICAS to a transactional batch whose verification meets a
 * transaction still completing (CONCURRENT_TRANSACTIONS from the coordinator). Ask again for a while.
 */
async function produceOnceLed(client: TxnClient, ...args: Parameters<TxnClient['produce']>): ReturnType<TxnClient['produce']> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await client.produce(...args);
    if ((r.errorCode !== NOT_LEADER_OR_FOLLOWER && r.errorCode !== NOT_ENOUGH_REPLICAS) || Date.now() > deadline) return r;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('one broker', () => {
  let broker: BrokerHandle;
  let client: TxnClient;

  beforeAll(async () => {
    broker = await startBroker();
    client = new TxnClient(broker.bootstrap);
  }, 120_000);

  afterAll(() => client?.close());

  test('bad transactional requests get Kafka\'s error codes', async () => {
    const topic = await createTopic(broker.bootstrap, 'errors');
    const id = name('errors-id');
    expect((await client.findCoordinator(id)).errorCode).toBe(NONE);
    expect((await client.initProducerId(id, 900_001)).errorCode).toBe(INVALID_TRANSACTION_TIMEOUT);
    expect(await client.endTxn(name('never-initialised'), 1234n, 0, true)).toBe(INVALID_PRODUCER_ID_MAPPING);

    const { errorCode, producerId, producerEpoch } = await client.initProducerId(id);
    expect(errorCode).toBe(NONE);
    // nothing added yet: there is no transaction to end
    expect(await client.endTxn(id, producerId, producerEpoch, true)).toBe(INVALID_TXN_STATE);
    expect(await client.endTxn(id, producerId, producerEpoch + 1, true)).toBe(PRODUCER_FENCED);
    expect(await client.addPartitions(id, producerId + 1n, producerEpoch, topic, [0])).toEqual([INVALID_PRODUCER_ID_MAPPING]);
    expect(await client.addPartitions(id, producerId, producerEpoch - 1, topic, [0])).toEqual([PRODUCER_FENCED]);
    const r = await client.conn.send(24, 3, {
      v3AndBelowTransactionalId: id, v3AndBelowProducerId: producerId, v3AndBelowProducerEpoch: producerEpoch,
      v3AndBelowTopics: [{ name: topic, partitions: [0] }, { name: name('no-such-topic'), partitions: [0] }],
    });
    const codes = Object.fromEntries(r.resultsByTopicV3AndBelow.map((t: any) => [t.name === topic ? 'known' : 'unknown', t.resultsByPartition[0].partitionErrorCode]));
    expect(codes).toEqual({ known: OPERATION_NOT_ATTEMPTED, unknown: UNKNOWN_TOPIC_OR_PARTITION });

    // a second InitProducerId bumps the epoch: the first epoch is fenced
    const second = await client.initProducerId(id);
    expect(second).toMatchObject({ errorCode: NONE, producerId, producerEpoch: producerEpoch + 1 });
    expect(await client.addPartitions(id, producerId, producerEpoch, topic, [0])).toEqual([PRODUCER_FENCED]);
  }, 60_000);

  test('the LSO holds read_committed readers below an open transaction; an abort lists it in abortedTransactions', async () => {
    const topic = await createTopic(broker.bootstrap, 'lso');
    const id = name('lso-id');
    expect((await client.findCoordinator(id)).errorCode).toBe(NONE);
    const { producerId, producerEpoch } = await client.initProducerId(id);
    expect(await client.addPartitions(id, producerId, producerEpoch, topic, [0])).toEqual([NONE]);
    expect(await produceOnceLed(client, topic, ['a', 'b', 'c'], { transactionalId: id, producerId, producerEpoch, baseSequence: 0 })).toMatchObject({ errorCode: NONE, baseOffset: 0n });
    expect(await client.produce(topic, ['plain'], null)).toMatchObject({ errorCode: NONE, baseOffset: 3n });

    expect(await client.latest(topic, 0)).toBe(4n);
    expect(await client.latest(topic, 1)).toBe(0n);
    if (target === 'brook') {
      // Brook's own metrics (Apache Kafka has no HTTP endpoint): the open transaction and the LSO lag it causes
      const metrics = await (await fetch(broker.metricsUrl)).text();
      expect(metrics).toMatch(/^brook_transactions_open\{broker="0"\} 1$/m);
      expect(metrics).toContain(`brook_last_stable_offset_lag{topic="${topic}",partition="0",broker="0"} 4\n`);
    }
    const open = await client.fetch(topic, 0n, 1);
    expect(open).toMatchObject({ errorCode: NONE, highWatermark: 4n, lastStableOffset: 0n, bytes: 0 });
    expect((await client.fetch(topic, 0n, 0)).bytes).toBeGreaterThan(0);

    expect(await client.endTxn(id, producerId, producerEpoch, false)).toBe(NONE);
    await client.awaitStable(topic, 5n); // the abort marker is offset 4
    const done = await client.fetch(topic, 0n, 1);
    expect(done).toMatchObject({ errorCode: NONE, highWatermark: 5n, lastStableOffset: 5n });
    expect(done.bytes).toBeGreaterThan(0);
    expect(done.abortedTransactions).toEqual([{ producerId, firstOffset: 0n }]);
    // read_uncommitted fetches carry no aborted list; a read_committed fetch past the abort has none to report
    expect((await client.fetch(topic, 0n, 0)).abortedTransactions).toBeNull();
    expect((await client.fetch(topic, 5n, 1)).abortedTransactions).toEqual([]);
    if (target === 'brook') {
      // the coordinator writes CompleteAbort after the markers: wait for it
      const deadline = Date.now() + 10_000;
      let metrics = '';
      while (Date.now() < deadline && !/^brook_transactions_completed\{result="abort",broker="0"\} 1$/m.test(metrics)) {
        metrics = await (await fetch(broker.metricsUrl)).text();
      }
      expect(metrics).toMatch(/^brook_transactions_completed\{result="abort",broker="0"\} 1$/m);
      expect(metrics).toMatch(/^brook_transactions_open\{broker="0"\} 0$/m);
      expect(metrics).toContain(`brook_last_stable_offset_lag{topic="${topic}",partition="0",broker="0"} 0\n`);
    }
  }, 60_000);
  test('kafka-transactions list / describe / describe-producers show an open transaction', async () => {
    const topic = await createTopic(broker.bootstrap, 'admin');
    const id = name('admin-id');
    expect((await client.findCoordinator(id)).errorCode).toBe(NONE);
    const { producerId, producerEpoch } = await client.initProducerId(id);
    expect(await client.addPartitions(id, producerId, producerEpoch, topic, [0])).toEqual([NONE]);
    expect(await produceOnceLed(client, topic, ['a', 'b'], { transactionalId: id, producerId, producerEpoch, baseSequence: 0 })).toMatchObject({ errorCode: NONE, baseOffset: 0n });
    const tool = async (...args: string[]) => expectSuccess(await kafkaTool('org.apache.kafka.tools.TransactionsCommand', ['--bootstrap-server', broker.bootstrap, ...args])).stdout.toString();
    const row = (out: string, first: string) => out.split('\n').find((l) => l.trim().split(/\s+/)[0] === first)?.trim().split(/\s+/);

    const list = await tool('list');
    expect(list.split('\n')[0]!.trim().split(/\s+/)).toEqual(['TransactionalId', 'Coordinator', 'ProducerId', 'TransactionState']);
    expect(row(list, id)).toEqual([id, '0', String(producerId), 'Ongoing']);

    const describe = await tool('describe', '--transactional-id', id);
    const header = describe.split('\n')[0]!.trim().split(/\s+/);
    expect(header).toEqual(['CoordinatorId', 'TransactionalId', 'ProducerId', 'ProducerEpoch', 'TransactionState', 'TransactionTimeoutMs',
      'CurrentTransactionStartTimeMs', 'TransactionDurationMs', 'TopicPartitions']);
    const d = row(describe, '0')!;
    expect(d.slice(0, 6)).toEqual(['0', id, String(producerId), String(producerEpoch), 'Ongoing', '60000']);
    expect(d.at(-1)).toBe(`${topic}-0`);

    const producers = await tool('describe-producers', '--topic', topic, '--partition', '0');
    expect(producers.split('\n')[0]!.trim().split(/\s+/)).toEqual(['ProducerId', 'ProducerEpoch', 'LatestCoordinatorEpoch', 'LastSequence', 'LastTimestamp', 'CurrentTransactionStartOffset']);
    const p = row(producers, String(producerId))!;
    expect([p[0], p[1], p[3], p[5]]).toEqual([String(producerId), String(producerEpoch), '1', '0']);

    expect(await client.endTxn(id, producerId, producerEpoch, true)).toBe(NONE);
    await client.awaitStable(topic, 3n);
  }, 120_000);

  test('hanging transaction: a transactional produce to a partition its transaction never added (or after the abort) is refused with INVALID_TXN_STATE and opens no transaction', async () => {
    const topic = await createTopic(broker.bootstrap, 'hanging');
    const id = name('hanging-id');
    expect((await client.findCoordinator(id)).errorCode).toBe(NONE);
    const { producerId, producerEpoch } = await client.initProducerId(id);
    const producer = { transactionalId: id, producerId, producerEpoch, baseSequence: 0 };
    // never added: the leader asks the coordinator, which has no transaction with this partition
    expect(await produceOnceLed(client, topic, ['never-added'], producer)).toMatchObject({ errorCode: INVALID_TXN_STATE });
    expect(await client.produce(topic, ['plain'], null)).toMatchObject({ errorCode: NONE, baseOffset: 0n });
    expect(await client.latest(topic, 1)).toBe(1n);

    // added, written, aborted; then a late write of the same epoch (a retry that arrives after the abort)
    expect(await client.addPartitions(id, producerId, producerEpoch, topic, [0])).toEqual([NONE]);
    expect(await client.produce(topic, ['in-txn'], producer)).toMatchObject({ errorCode: NONE, baseOffset: 1n });
    expect(await client.endTxn(id, producerId, producerEpoch, false)).toBe(NONE);
    await client.awaitStable(topic, 3n);
    expect(await produceOnceLed(client, topic, ['late'], { ...producer, baseSequence: 1 })).toMatchObject({ errorCode: INVALID_TXN_STATE });
    expect(await client.produce(topic, ['plain-2'], null)).toMatchObject({ errorCode: NONE, baseOffset: 3n });
    // nothing holds the LSO: read_committed readers see everything up to the high watermark
    expect(await client.latest(topic, 0)).toBe(4n);
    expect(await client.latest(topic, 1)).toBe(4n);
  }, 60_000);
});

test('an open transaction survives a SIGKILL of the broker and commits after the restart', async () => {
  const dataDir = tempDir('txn-restart-');
  let broker = await startBroker({ dataDir });
  let client = new TxnClient(broker.bootstrap);
  const topic = await createTopic(broker.bootstrap, 'restart');
  const id = name('restart-id');
  expect((await client.findCoordinator(id)).errorCode).toBe(NONE);
  const { errorCode, producerId, producerEpoch } = await client.initProducerId(id);
  expect(errorCode).toBe(NONE);
  expect(await client.addPartitions(id, producerId, producerEpoch, topic, [0])).toEqual([NONE]);
  expect(await client.produce(topic, ['x', 'y'], { transactionalId: id, producerId, producerEpoch, baseSequence: 0 })).toMatchObject({ errorCode: NONE, baseOffset: 0n });
  expect(await client.produce(topic, ['plain'], null)).toMatchObject({ errorCode: NONE, baseOffset: 2n });
  expect(await client.latest(topic, 1)).toBe(0n);
  client.close();

  await broker.kill('SIGKILL');
  broker = await startBroker({ dataDir, port: broker.port });
  client = new TxnClient(broker.bootstrap);
  try {
    // the open transaction still holds the LSO: the producer state came back from the log
    const deadline = Date.now() + 30_000;
    let hw = -1n;
    while (Date.now() < deadline && hw < 3n) {
      try { hw = await client.latest(topic, 0); } catch { /* partition not led yet */ }
      if (hw < 3n) await new Promise((r) => setTimeout(r, 100));
    }
    expect(hw).toBe(3n);
    expect(await client.latest(topic, 1)).toBe(0n);
    // and the coordinator state came back from __transaction_state: the same producer commits
    expect(await client.endTxn(id, producerId, producerEpoch, true)).toBe(NONE);
    await client.awaitStable(topic, 4n);
    const done = await client.fetch(topic, 0n, 1);
    expect(done).toMatchObject({ errorCode: NONE, lastStableOffset: 4n, abortedTransactions: [] });
  } finally {
    client.close();
  }
}, 180_000);

test('a transaction open longer than transaction.timeout.ms is aborted by the coordinator and its producer fenced', async () => {
  const broker = await startBroker({ set: { 'transaction.abort.timed.out.transaction.cleanup.interval.ms': '200' } });
  const client = new TxnClient(broker.bootstrap);
  try {
    const topic = await createTopic(broker.bootstrap, 'timeout');
    const id = name('timeout-id');
    expect((await client.findCoordinator(id)).errorCode).toBe(NONE);
    const { errorCode, producerId, producerEpoch } = await client.initProducerId(id, 1000);
    expect(errorCode).toBe(NONE);
    expect(await client.addPartitions(id, producerId, producerEpoch, topic, [0])).toEqual([NONE]);
    expect(await client.produce(topic, ['late'], { transactionalId: id, producerId, producerEpoch, baseSequence: 0 })).toMatchObject({ errorCode: NONE, baseOffset: 0n });
    expect(await client.latest(topic, 1)).toBe(0n);
    // aborted without any request from the producer: the abort marker (offset 1) makes it stable
    await client.awaitStable(topic, 2n);
    expect((await client.fetch(topic, 0n, 1)).abortedTransactions).toEqual([{ producerId, firstOffset: 0n }]);
    // the producer's epoch was bumped by the abort
    expect(await client.endTxn(id, producerId, producerEpoch, true, false)).toBe(PRODUCER_FENCED);
  } finally {
    client.close();
  }
}, 120_000);

test('kafka-transactions find-hanging finds a transaction its coordinator never heard of (partition verification off), abort ends it and read_committed readers move on', async () => {
  // With verification off a transactional batch to a partition the transaction never added is
  // written: the partition holds an open transaction that no coordinator will ever end.
  const broker = await startBroker({ set: { 'transaction.partition.verification.enable': 'false' } });
  const client = new TxnClient(broker.bootstrap);
  try {
    const topic = await createTopic(broker.bootstrap, 'find-hanging');
    const id = name('find-hanging-id');
    expect((await client.findCoordinator(id)).errorCode).toBe(NONE);
    const { errorCode, producerId, producerEpoch } = await client.initProducerId(id);
    expect(errorCode).toBe(NONE);
    expect(await client.produce(topic, ['plain'], null)).toMatchObject({ errorCode: NONE, baseOffset: 0n });
    expect(await produceOnceLed(client, topic, ['stray-1', 'stray-2'], { transactionalId: id, producerId, producerEpoch, baseSequence: 0 }))
      .toMatchObject({ errorCode: NONE, baseOffset: 1n });
    expect(await client.produce(topic, ['after'], null)).toMatchObject({ errorCode: NONE, baseOffset: 3n });
    expect(await client.latest(topic, 1)).toBe(1n); // read_committed stops at the hanging transaction

    const tool = async (...args: string[]) => expectSuccess(await kafkaTool('org.apache.kafka.tools.TransactionsCommand', ['--bootstrap-server', broker.bootstrap, ...args])).stdout.toString();
    const rows = (out: string) => out.split('\n').map((l) => l.trim().split(/\s+/)).filter((r) => r[0] === topic);
    const hanging = await tool('find-hanging', '--broker-id', '0', '--max-transaction-timeout', '0');
    expect(hanging.split('\n')[0]!.trim().split(/\s+/)).toEqual(['Topic', 'Partition', 'ProducerId', 'ProducerEpoch', 'CoordinatorEpoch', 'StartOffset', 'LastTimestamp', 'Duration(min)']);
    const found = rows(hanging);
    expect(found).toHaveLength(1);
    expect([found[0]![1], found[0]![2], found[0]![3], found[0]![5]]).toEqual(['0', String(producerId), String(producerEpoch), '1']);
    // a transaction its coordinator has is not hanging: the same search with the topic named finds only the stray one
    expect(rows(await tool('find-hanging', '--topic', topic, '--partition', '0', '--max-transaction-timeout', '0'))).toEqual(found);

    await tool('abort', '--topic', topic, '--partition', '0', '--start-offset', '1');
    // the abort marker (offset 4) ends it: read_committed readers reach the high watermark, the stray records are aborted
    await client.awaitStable(topic, 5n);
    expect(await client.latest(topic, 0)).toBe(5n);
    expect((await client.fetch(topic, 0n, 1)).abortedTransactions).toEqual([{ producerId, firstOffset: 1n }]);
    expect(rows(await tool('find-hanging', '--broker-id', '0', '--max-transaction-timeout', '0'))).toEqual([]);
  } finally {
    client.close();
  }
}, 180_000);

test('transaction protocol v2 (KIP-890 part 2): Produce v12 adds its partition, EndTxn v5 bumps the epoch every transaction and a late write of the old epoch is refused, TxnOffsetCommit v5 joins the offsets, an empty abort bumps too', async () => {
  const broker = await startBroker();
  const client = new TxnClient(broker.bootstrap);
  const admin = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    // the broker says it speaks protocol v2: the transaction.version feature finalized at 2
    const versions = await client.conn.send(18, 3, { clientSoftwareName: 'brook-test', clientSoftwareVersion: '1' });
    expect(versions.finalizedFeatures).toContainEqual(expect.objectContaining({ name: 'transaction.version', maxVersionLevel: 2 }));

    const topic = await createTopic(broker.bootstrap, 'v2');
    const id = name('v2-id');
    const group = name('v2-group');
    expect((await client.findCoordinator(id)).errorCode).toBe(NONE);
    const { errorCode, producerId, producerEpoch } = await client.initProducerId(id);
    expect(errorCode).toBe(NONE);
    const producer = (epoch: number, baseSequence: number) => ({ transactionalId: id, producerId, producerEpoch: epoch, baseSequence });

    // no AddPartitionsToTxn: the leader adds the partition
    expect(await produceOnceLed(client, topic, ['c1', 'c2'], producer(producerEpoch, 0), 12)).toMatchObject({ errorCode: NONE, baseOffset: 0n });
    expect(await client.latest(topic, 1)).toBe(0n);
    // no AddOffsetsToTxn: the group coordinator adds the offsets partition
    expect((await client.findCoordinator(group, 0)).errorCode).toBe(NONE);
    expect(await client.txnOffsetCommitV2(id, group, producerId, producerEpoch, topic, 2n)).toBe(NONE);
    const committed = await client.endTxnV2(id, producerId, producerEpoch, true);
    expect(committed).toEqual({ errorCode: NONE, producerId, producerEpoch: producerEpoch + 1 });
    await client.awaitStable(topic, 3n);
    const offsets = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    expect(offsets[0]!.partitions).toEqual([expect.objectContaining({ partition: 0, offset: '2' })]);
    // the same EndTxn again (a lost answer): the same answer
    expect(await client.endTxnV2(id, producerId, producerEpoch, true)).toEqual(committed);

    // a late write of the ended transaction's epoch: the commit marker moved the partition past it
    expect(await client.produce(topic, ['late'], producer(producerEpoch, 2), 12)).toMatchObject({ errorCode: INVALID_PRODUCER_EPOCH });

    // the next transaction with the bumped epoch, aborted: the abort bumps again
    expect(await produceOnceLed(client, topic, ['a1'], producer(committed.producerEpoch, 0), 12)).toMatchObject({ errorCode: NONE, baseOffset: 3n });
    const aborted = await client.endTxnV2(id, producerId, committed.producerEpoch, false);
    expect(aborted).toEqual({ errorCode: NONE, producerId, producerEpoch: producerEpoch + 2 });
    await client.awaitStable(topic, 5n);
    expect((await client.fetch(topic, 0n, 1)).abortedTransactions).toEqual([{ producerId, firstOffset: 3n }]);

    // an abort with nothing written: still a bump (the producer cannot know whether a leader added a partition)
    const empty = await client.endTxnV2(id, producerId, aborted.producerEpoch, false);
    expect(empty).toEqual({ errorCode: NONE, producerId, producerEpoch: producerEpoch + 3 });
    expect(await client.latest(topic, 0)).toBe(5n);
  } finally {
    await admin.disconnect();
    client.close();
  }
}, 120_000);
