/**
 * Partition reassignment in a fleet of real brokers (one process, MemoryStore) driven through
 * the Kafka admin API (kafkajs's alterPartitionReassignments / listPartitionReassignments and raw
 * requests): replicas move under acks=all produce without losing an acknowledged record, the
 * removed brokers delete their copy, bad input gets Kafka's errors, and a reassignment whose
 * controller crashed is finished by the next one.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import { ErrorCode } from '../errors.ts';
import type { LocalFleet } from '../local-fleet.ts';
import { checkAcknowledged, replicaFromLog, waitForReplicas } from '../../test/harness/chaos-checker.ts';
import type { AckedRecord } from '../../test/harness/chaos-checker.ts';
import { connectTo, createTopic, kafkaClient, partitionState, startTestFleet, waitFor } from './fleet-testing.ts';
import type { TestFleet } from './fleet-testing.ts';

let current: TestFleet | null = null;
afterEach(async () => { await current?.close(); current = null; });

async function fleetOf(brokers: number): Promise<LocalFleet> {
  current = await startTestFleet({}, brokers);
  return current.fleet;
}


/** acks=all produce, one record per request, until stopped: every acknowledgement's partition and offset. */
function produceUntilStopped(kafka: Kafka, topic: string, partitions: number): { stop(): Promise<AckedRecord[]> } {
  const acked: AckedRecord[] = [];
  let running = true;
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const loop = (async () => {
    await producer.connect();
    for (let i = 0; running; i++) {
      const partition = i % partitions;
      const value = `r${i}`;
      const [meta] = await producer.send({ topic, acks: -1, messages: [{ partition, value }] });
      acked.push({ client: 'kafkajs', partition, offset: BigInt(meta!.baseOffset!), value });
    }
    await producer.disconnect();
  })();
  return { async stop() { running = false; await loop; return acked; } };
}

/** `batches` acks=all requests of ten 10 kB records each to partition 0 of `topic`. */
async function produce100kBatches(f: LocalFleet, topic: string, batches: number): Promise<void> {
  const producer = kafkaClient(f).producer();
  await producer.connect();
  const value = Buffer.alloc(10_000, 7);
  for (let i = 0; i < batches; i++) await producer.send({ topic, acks: -1, messages: Array.from({ length: 10 }, () => ({ partition: 0, value })) });
  await producer.disconnect();
}

describe('partition reassignment (AlterPartitionReassignments, ListPartitionReassignments)', () => {
  test('replicas of a live topic move under acks=all produce: every acknowledged record is at its offset on the new replicas, the removed broker deletes its copy', async () => {
    const f = await fleetOf(4);
    await createTopic(f, 'move', 2, {}, 3);
    const before = partitionState(f, 'move', 0);
    const spare = [0, 1, 2, 3].find((b) => !before.replicas.includes(b))!;
    // the leader leaves: the new replica list is the spare broker plus the two followers
    const target = [spare, ...before.replicas.filter((r) => r !== before.leader)];
    const load = produceUntilStopped(kafkaClient(f), 'move', 2);
    await waitFor(() => partitionState(f, 'move', 0).isr.length === 3 && f.brokers.some((b) => (b.partition('move', 0)?.highWatermark ?? 0n) > 50n), 'some records acknowledged');

    const admin = kafkaClient(f).admin();
    await admin.connect();
    await admin.alterPartitionReassignments({ topics: [{ topic: 'move', partitionAssignment: [{ partition: 0, replicas: target }] }] });
    const listed = await admin.listPartitionReassignments({});
    // it shows until the controller finished it (it may already have)
    for (const t of listed.topics) {
      expect(t).toEqual({ name: 'move', partitions: [{ partition: 0, replicas: [...target, before.leader], addingReplicas: [spare], removingReplicas: [before.leader] }] });
    }
    await waitFor(async () => (await admin.listPartitionReassignments({})).topics.length === 0, 'the reassignment to finish', 30_000);
    await admin.disconnect();
    const acked = await load.stop();

    const after = partitionState(f, 'move', 0);
    expect(after).toMatchObject({ replicas: target });
    expect(after.addingReplicas).toBeUndefined();
    expect(target).toContain(after.leader);
    expect(after.leaderEpoch).toBeGreaterThan(before.leaderEpoch);
    await waitFor(() => partitionState(f, 'move', 0).isr.length === 3, 'every target replica in sync');
    const removed = f.brokers.find((b) => b.nodeId === before.leader)!;
    await waitFor(() => removed.partition('move', 0) === undefined, 'the removed broker to drop its replica');
    expect(existsSync(join(current!.dataDir, `broker-${before.leader}`, 'move-0'))).toBe(false);

    // the shared loss checker, on the new replicas' logs: every acknowledged record at its offset on each, replicas byte-identical
    const acked0 = acked.filter((a) => a.partition === 0);
    expect(acked0.length).toBeGreaterThan(50);
    const evidence = await waitForReplicas(async () => {
      const s = partitionState(f, 'move', 0);
      const highWatermark = f.brokers.find((b) => b.nodeId === s.leader)!.partition('move', 0)!.highWatermark;
      const order = [s.leader, ...target.filter((r) => r !== s.leader)];
      return [{ partition: 0, highWatermark, inSync: await Promise.all(order.map((id) => replicaFromLog(`broker ${id}`, f.brokers.find((b) => b.nodeId === id)!.partition('move', 0)!.log, highWatermark))) }];
    }, acked0);
    const report = checkAcknowledged(acked0, evidence);
    expect(report.problems).toEqual([]);
    expect(report.verified).toBe(acked0.length * 3);
  }, 120_000);

  test('bad input gets Kafka\'s errors and changes nothing: unknown broker, duplicate replicas, empty list, unknown topic or partition, cancel with nothing in flight', async () => {
    const f = await fleetOf(3);
    await createTopic(f, 'bad', 1, {}, 2);
    const before = partitionState(f, 'bad', 0);
    const conn = connectTo(f, 1);
    try {
      const res = await conn.send(45, 0, { timeoutMs: 5000, topics: [
        { name: 'bad', partitions: [{ partitionIndex: 0, replicas: [0, 9] }] },
        { name: 'nope', partitions: [{ partitionIndex: 0, replicas: [0, 1] }] },
      ] });
      expect(res.responses).toEqual([
        { name: 'bad', partitions: [{ partitionIndex: 0, errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage: expect.stringContaining('broker 9') }] },
        { name: 'nope', partitions: [{ partitionIndex: 0, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: expect.any(String) }] },
      ]);
      for (const [replicas, code] of [[[1, 1], ErrorCode.INVALID_REPLICA_ASSIGNMENT], [[], ErrorCode.INVALID_REPLICA_ASSIGNMENT], [null, ErrorCode.NO_REASSIGNMENT_IN_PROGRESS]] as const) {
        const r = await conn.send(45, 0, { timeoutMs: 5000, topics: [{ name: 'bad', partitions: [{ partitionIndex: 0, replicas: replicas === null ? null : [...replicas] }] }] });
        expect([replicas, r.responses[0].partitions[0].errorCode]).toEqual([replicas, code]);
      }
      const outOfRange = await conn.send(45, 0, { timeoutMs: 5000, topics: [{ name: 'bad', partitions: [{ partitionIndex: 5, replicas: [0, 1] }] }] });
      expect(outOfRange.responses[0].partitions[0].errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      const rf = await conn.send(45, 1, { timeoutMs: 5000, allowReplicationFactorChange: false, topics: [{ name: 'bad', partitions: [{ partitionIndex: 0, replicas: [0, 1, 2] }] }] });
      expect(rf.responses[0].partitions[0].errorCode).toBe(ErrorCode.INVALID_REPLICATION_FACTOR);
      expect(rf.allowReplicationFactorChange).toBe(false);
    } finally {
      conn.close();
    }
    expect(partitionState(f, 'bad', 0)).toEqual(before);
  });

  test('a reassignment whose controller crashed is finished by the next controller', async () => {
    const f = await fleetOf(4);
    await createTopic(f, 'failover', 1, {}, 2);
    const before = partitionState(f, 'failover', 0);
    const controller = f.brokers[0]!.controllerId();
    // a target of two brokers other than the controller, one of them new to the partition (the
    // placement is random: of the three non-controllers at most two hold a replica)
    const others = [0, 1, 2, 3].filter((b) => b !== controller);
    const newcomer = others.find((b) => !before.replicas.includes(b))!;
    const target = [others.find((b) => b !== newcomer)!, newcomer];
    await f.crash(controller);
    const survivor = f.brokers[0]!;
    const conn = connectTo(f, survivor.nodeId);
    try {
      const res = await conn.send(45, 0, { timeoutMs: 5000, topics: [{ name: 'failover', partitions: [{ partitionIndex: 0, replicas: target }] }] });
      expect(res.responses[0].partitions[0].errorCode).toBe(ErrorCode.NONE);
    } finally {
      conn.close();
    }
    // recorded, not finished: the crashed controller's lease has not expired yet
    const inFlight = (await survivor.store.getTopic('failover'))!.partitions[0]!;
    expect(inFlight.addingReplicas?.length).toBeGreaterThan(0);
    expect(survivor.controllerId()).toBe(controller);
    await waitFor(() => survivor.controllerId() !== controller && survivor.controllerId() >= 0, 'a new controller', 15_000);
    await waitFor(() => {
      const s = partitionState(f, 'failover', 0);
      return s.addingReplicas === undefined && s.replicas.join() === target.join();
    }, 'the new controller to finish the reassignment', 30_000);
    expect(target).toContain(partitionState(f, 'failover', 0).leader);
  }, 60_000);
});

describe('a reassignment survives a restart of every broker', () => {
  test('every broker crashes while a throttled reassignment is in flight; after they restart the controller finishes it from the store', async () => {
    current = await startTestFleet({ 'follower.replication.throttled.rate': String(200 * 1024) }, 3);
    const f = current.fleet;
    await createTopic(f, 'restart', 1, { 'min.insync.replicas': '1', 'follower.replication.throttled.replicas': '*' }, 1);
    const before = partitionState(f, 'restart', 0);
    const newcomer = [0, 1, 2].find((b) => b !== before.leader)!;
    await produce100kBatches(f, 'restart', 10);
    const admin = kafkaClient(f).admin();
    await admin.connect();
    await admin.alterPartitionReassignments({ topics: [{ topic: 'restart', partitionAssignment: [{ partition: 0, replicas: [newcomer, before.leader] }] }] });
    await admin.disconnect();
    for (const id of [0, 1, 2]) await f.crash(id);
    // at about 200 KiB/s the 1 MB catch-up cannot be over yet
    expect(f.brokers).toHaveLength(0);
    expect((await current.store.getTopic('restart'))!.partitions[0]!.addingReplicas).toEqual([newcomer]);
    for (const id of [0, 1, 2]) await f.start(id);
    await waitFor(() => {
      const s = partitionState(f, 'restart', 0);
      return s.addingReplicas === undefined && s.replicas.join() === [newcomer, before.leader].join() && s.isr.length === 2;
    }, 'the reassignment to finish after the restart', 60_000);
    const logEnd = (id: number) => f.brokers.find((b) => b.nodeId === id)!.partition('restart', 0)!.log.logEndOffset;
    expect(logEnd(newcomer)).toBe(logEnd(before.leader));
    expect(logEnd(newcomer)).toBe(100n);
  }, 90_000);
});

describe('replication throttles (leader/follower.replication.throttled.rate and .replicas)', () => {
  test('a new replica catches up at about the throttled rate, counted in the throttled-bytes metric; the rates are dynamic broker configs every broker sees, described back with their source', async () => {
    const RATE = 256 * 1024;
    const f = await fleetOf(3);
    await createTopic(f, 'throttled', 1, { 'min.insync.replicas': '1' }, 1);
    const before = partitionState(f, 'throttled', 0);
    const newcomer = [0, 1, 2].find((b) => b !== before.leader)!;
    await produce100kBatches(f, 'throttled', 20);
    const leader = f.brokers.find((b) => b.nodeId === before.leader)!;
    const bytes = leader.partition('throttled', 0)!.log.sizeInBytes;
    expect(bytes).toBeGreaterThan(1_900_000);

    const conn = connectTo(f, 0);
    try {
      // the cluster default for the follower side, the leader's own rate for the leader side
      const set = (resourceType: number, resourceName: string, configs: Record<string, string>) => conn.send(44, 1, { validateOnly: false,
        resources: [{ resourceType, resourceName, configs: Object.entries(configs).map(([name, v]) => ({ name, configOperation: 0, value: v })) }] });
      const brokerDefault = await set(4, '', { 'follower.replication.throttled.rate': String(RATE) });
      expect(brokerDefault.responses[0].errorCode).toBe(ErrorCode.NONE);
      const own = await connectTo(f, before.leader).send(44, 1, { validateOnly: false,
        resources: [{ resourceType: 4, resourceName: String(before.leader), configs: [{ name: 'leader.replication.throttled.rate', configOperation: 0, value: String(RATE) }] }] });
      expect(own.responses[0].errorCode).toBe(ErrorCode.NONE);
      const topic = await set(2, 'throttled', { 'leader.replication.throttled.replicas': `0:${before.leader}`, 'follower.replication.throttled.replicas': `0:${newcomer}` });
      expect(topic.responses[0].errorCode).toBe(ErrorCode.NONE);
      const bad = await set(4, '', { 'leader.replication.throttled.rate': '-5' });
      expect(bad.responses[0].errorCode).toBe(ErrorCode.INVALID_CONFIG);
      const staticOnly = await set(4, '', { 'num.partitions': '5' });
      expect(staticOnly.responses[0].errorCode).toBe(ErrorCode.INVALID_REQUEST);
    } finally {
      conn.close();
    }
    await waitFor(() => f.brokers.every((b) => b.followerQuota.rate === RATE) && leader.leaderQuota.rate === RATE, 'every broker to take the rates');
    const described = await connectTo(f, newcomer).send(32, 4, { includeSynonyms: true, includeDocumentation: false,
      resources: [{ resourceType: 4, resourceName: String(newcomer), configurationKeys: ['follower.replication.throttled.rate'] }] });
    expect(described.results[0].configs[0]).toMatchObject({ name: 'follower.replication.throttled.rate', value: String(RATE), configSource: 3 });

    const started = Date.now();
    const admin = kafkaClient(f).admin();
    await admin.connect();
    await admin.alterPartitionReassignments({ topics: [{ topic: 'throttled', partitionAssignment: [{ partition: 0, replicas: [before.leader, newcomer] }] }] });
    await admin.disconnect();
    // catching up at the throttle does not make the receiving broker unready (it serves everything else)
    const receiving = f.brokers.find((b) => b.nodeId === newcomer)!;
    await waitFor(() => receiving.partition('throttled', 0) !== undefined, 'the new replica to open');
    expect(partitionState(f, 'throttled', 0).addingReplicas).toEqual([newcomer]);
    expect(receiving.readinessProblem()).toBeNull();
    await waitFor(() => partitionState(f, 'throttled', 0).addingReplicas === undefined && partitionState(f, 'throttled', 0).replicas.length === 2, 'the throttled reassignment to finish', 60_000);
    const seconds = (Date.now() - started) / 1000;
    const rate = bytes / seconds;
    // the bucket lets one second of bytes through at once; the rest comes at the rate
    const expectedSeconds = bytes / RATE - 1;
    process.stdout.write(`throttled catch-up: ${bytes} bytes in ${seconds.toFixed(2)} s = ${(rate / 1024).toFixed(0)} KiB/s at a throttle of ${RATE / 1024} KiB/s (expected about ${expectedSeconds.toFixed(1)} s)\n`);
    expect(rate).toBeLessThan(RATE * 1.6);
    expect(rate).toBeGreaterThan(RATE * 0.4);
    const metric = async (b: (typeof f.brokers)[number], side: string) =>
      ((await b.metrics.replicationThrottledBytes.get()).values.find((v) => v.labels.side === side)?.value ?? 0);
    expect(await metric(leader, 'leader')).toBeGreaterThanOrEqual(bytes * 0.9);
    expect(await metric(f.brokers.find((b) => b.nodeId === newcomer)!, 'follower')).toBeGreaterThanOrEqual(bytes * 0.9);
  }, 90_000);
});
