import { afterAll, afterEach, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { LocalFleet } from '../local-fleet.ts';
import { MemoryStore } from '../metadata/index.ts';
import { KafkaConnection } from '../client/kafka-connection.ts';
import { FAST_FLEET_SETTINGS } from './fleet-testing.ts';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const FAST = FAST_FLEET_SETTINGS;

let fleet: LocalFleet | null = null;
afterEach(async () => { await fleet?.stopAll(); fleet = null; });

async function startFleet(settings: Record<string, string> = {}): Promise<LocalFleet> {
  const dataDir = mkdtempSync(join(tmpdir(), 'brook-fleet-'));
  dirs.push(dataDir);
  fleet = new LocalFleet({
    brokers: 3, host: '127.0.0.1', basePort: 0, metricsBasePort: null, dataDir, store: new MemoryStore(),
    settings: { ...FAST, ...settings }, logLevel: 'warn',
  });
  await fleet.startAll();
  await waitFor(() => fleet!.brokers.every((b) => b.liveBrokers().length === 3), 'all brokers live');
  return fleet;
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function client(f: LocalFleet): Kafka {
  return new Kafka({ brokers: f.bootstrap.split(','), logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 } });
}

async function createTopic(f: LocalFleet, topic: string, partitions: number, minIsr = 2): Promise<void> {
  const admin = client(f).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: String(minIsr) }] }] });
  await admin.disconnect();
}

function state(f: LocalFleet, topic: string, partition: number) {
  return f.brokers[0]!.topic(topic)!.partitions[partition]!;
}

async function readAll(f: LocalFleet, topic: string, partitions: number): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  for (let p = 0; p < partitions; p++) {
    const leader = f.broker(state(f, topic, p).leader)!;
    const part = leader.partition(topic, p)!;
    const values: string[] = [];
    let offset = part.log.logStartOffset;
    const { decodeBatchRecords, forEachBatch } = await import('../log/records.ts');
    while (offset < part.highWatermark) {
      const { records } = await part.log.read(offset, 1 << 20, { maxOffset: part.highWatermark });
      forEachBatch(records, (pos) => { for (const r of decodeBatchRecords(records, pos)) { values.push(r.value!.toString()); offset = r.offset + 1n; } });
    }
    out.set(p, values);
  }
  return out;
}

describe('replication in one process (3 brokers, memory store)', () => {
  test('acks=all writes reach every replica; the high watermark follows the ISR', async () => {
    const f = await startFleet();
    await createTopic(f, 'replicated', 2);
    const producer = client(f).producer({ idempotent: true });
    await producer.connect();
    for (let i = 0; i < 50; i++) await producer.send({ topic: 'replicated', acks: -1, messages: [{ value: `v${i}`, partition: i % 2 }] });
    await producer.disconnect();
    for (let p = 0; p < 2; p++) {
      await waitFor(() => f.brokers.every((b) => b.partition('replicated', p)!.log.logEndOffset === 25n), `replicas of partition ${p} at 25`);
      const s = state(f, 'replicated', p);
      expect(s.isr).toHaveLength(3);
      expect(f.broker(s.leader)!.partition('replicated', p)!.highWatermark).toBe(25n);
    }
    expect((await readAll(f, 'replicated', 2)).get(0)).toEqual(Array.from({ length: 25 }, (_, i) => `v${i * 2}`));
  });

  test('the leader crashes: a new leader is elected from the ISR and no acknowledged write is lost', async () => {
    const f = await startFleet();
    await createTopic(f, 'failover', 1);
    const producer = client(f).producer({ idempotent: true });
    await producer.connect();
    const acked: string[] = [];
    for (let i = 0; i < 20; i++) {
      await producer.send({ topic: 'failover', acks: -1, messages: [{ value: `before-${i}` }] });
      acked.push(`before-${i}`);
    }
    const oldLeader = state(f, 'failover', 0).leader;
    const crashedAt = Date.now();
    await f.crash(oldLeader);
    await waitFor(() => { const s = state(f, 'failover', 0); return s.leader >= 0 && s.leader !== oldLeader; }, 'a new leader');
    const failoverMs = Date.now() - crashedAt;
    expect(failoverMs).toBeLessThan(5_000);
    for (let i = 0; i < 20; i++) {
      await producer.send({ topic: 'failover', acks: -1, messages: [{ value: `after-${i}` }] });
      acked.push(`after-${i}`);
    }
    await producer.disconnect();
    expect((await readAll(f, 'failover', 1)).get(0)).toEqual(acked);

    // the crashed broker comes back, catches up and rejoins the ISR
    await f.start(oldLeader);
    await waitFor(() => state(f, 'failover', 0).isr.length === 3, 'ISR back to 3');
    await waitFor(() => f.broker(oldLeader)!.partition('failover', 0)!.log.logEndOffset === 40n, 'restarted replica caught up');
  });

  test('with one replica in sync and min.insync.replicas=2, acks=all fails with NOT_ENOUGH_REPLICAS while acks=1 works', async () => {
    const f = await startFleet();
    await createTopic(f, 'min-isr', 1);
    const leader = state(f, 'min-isr', 0).leader;
    for (const id of f.ids) if (id !== leader) await f.crash(id);
    await waitFor(() => state(f, 'min-isr', 0).isr.length === 1, 'ISR shrinks to the leader');
    const kafka = new Kafka({ brokers: [f.bootstrap.split(',')[leader]!], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
    const producer = kafka.producer({ idempotent: false, retry: { retries: 0 } });
    await producer.connect();
    const err = await producer.send({ topic: 'min-isr', acks: -1, messages: [{ value: 'x' }] }).catch((e: unknown) => e);
    // kafkajs wraps the broker's error once its (zero) retries are used up
    expect((err as { cause?: { type?: string } }).cause?.type).toBe('NOT_ENOUGH_REPLICAS');
    const ok = await producer.send({ topic: 'min-isr', acks: 1, messages: [{ value: 'y' }] });
    expect(ok[0]!.errorCode).toBe(0);
    await producer.disconnect();
  });

  test('a stopping broker hands its leaderships over first (controlled shutdown)', async () => {
    const f = await startFleet();
    await createTopic(f, 'handoff', 3);
    const leaderOf0 = state(f, 'handoff', 0).leader;
    const stoppedAt = Date.now();
    await f.stop(leaderOf0);
    // no waiting for the lease: leadership moved before the broker left
    const s = state(f, 'handoff', 0);
    expect(s.leader).not.toBe(leaderOf0);
    expect(s.leader).toBeGreaterThanOrEqual(0);
    expect(Date.now() - stoppedAt).toBeLessThan(1_000);
  });

  test('a replica that wrote past the new leader truncates to the point of divergence and converges', async () => {
    const f = await startFleet();
    const admin = client(f).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'diverge', numPartitions: 1, replicationFactor: 3,
      configEntries: [{ name: 'min.insync.replicas', value: '1' }, { name: 'unclean.leader.election.enable', value: 'true' }] }] });
    await admin.disconnect();
    const oldLeader = state(f, 'diverge', 0).leader;
    const leaderOnly = new Kafka({ brokers: [f.bootstrap.split(',')[oldLeader]!], logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100 } });
    const p1 = leaderOnly.producer({ idempotent: false });
    await p1.connect();
    await p1.send({ topic: 'diverge', acks: -1, messages: [{ value: 'shared-0' }, { value: 'shared-1' }] });
    await waitFor(() => f.brokers.every((b) => b.partition('diverge', 0)!.log.logEndOffset === 2n), 'all replicas at 2');
    // cut the followers off; the leader, alone in the ISR, takes writes nobody else has
    const followers = f.ids.filter((id) => id !== oldLeader);
    for (const id of followers) await f.crash(id);
    await waitFor(() => state(f, 'diverge', 0).isr.length === 1, 'ISR = the leader alone');
    await p1.send({ topic: 'diverge', acks: 1, messages: [{ value: 'lost-2' }, { value: 'lost-3' }, { value: 'lost-4' }] });
    await p1.disconnect();
    expect(f.broker(oldLeader)!.partition('diverge', 0)!.log.logEndOffset).toBe(5n);
    // the leader dies, the followers come back: an unclean election picks one of them
    await f.crash(oldLeader);
    for (const id of followers) await f.start(id);
    await waitFor(() => followers.includes(state(f, 'diverge', 0).leader), 'a follower leads');
    const p2 = client(f).producer({ idempotent: false });
    await p2.connect();
    await p2.send({ topic: 'diverge', acks: 1, messages: [{ value: 'new-2' }] });
    await p2.disconnect();
    // the old leader returns, finds its log diverges, truncates and converges
    await f.start(oldLeader);
    await waitFor(() => state(f, 'diverge', 0).isr.includes(oldLeader), 'old leader back in the ISR');
    const newLeader = state(f, 'diverge', 0).leader;
    await waitFor(() => f.broker(oldLeader)!.partition('diverge', 0)!.log.logEndOffset === f.broker(newLeader)!.partition('diverge', 0)!.log.logEndOffset, 'logs converge');
    const replica = f.broker(oldLeader)!.partition('diverge', 0)!;
    const values: string[] = [];
    const { records } = await replica.log.read(0n, 1 << 20, { maxOffset: replica.log.logEndOffset });
    const { decodeBatchRecords, forEachBatch } = await import('../log/records.ts');
    forEachBatch(records, (pos) => { for (const r of decodeBatchRecords(records, pos)) values.push(r.value!.toString()); });
    expect(values).toEqual(['shared-0', 'shared-1', 'new-2']);
  });

  test('ElectLeaders moves leadership back to the preferred replica after it returns', async () => {
    const f = await startFleet({ 'auto.leader.rebalance.enable': 'false' });
    await createTopic(f, 'preferred', 1);
    const preferred = state(f, 'preferred', 0).replicas[0]!;
    expect(state(f, 'preferred', 0).leader).toBe(preferred);
    await f.crash(preferred);
    await waitFor(() => state(f, 'preferred', 0).leader !== preferred && state(f, 'preferred', 0).leader >= 0, 'failover');
    await f.start(preferred);
    await waitFor(() => state(f, 'preferred', 0).isr.includes(preferred), 'preferred replica back in sync');
    expect(state(f, 'preferred', 0).leader).not.toBe(preferred);
    const [host, port] = f.bootstrap.split(',')[0]!.split(':');
    const conn = new KafkaConnection({ host: host!, port: Number(port), clientId: 'test' });
    try {
      const res = await conn.send(43, 2, { electionType: 0, topicPartitions: [{ topic: 'preferred', partitions: [0] }], timeoutMs: 5000 });
      expect(res.replicaElectionResults[0].partitionResult[0]).toMatchObject({ partitionId: 0, errorCode: 0 });
      expect(state(f, 'preferred', 0).leader).toBe(preferred);
      const again = await conn.send(43, 2, { electionType: 0, topicPartitions: [{ topic: 'preferred', partitions: [0] }], timeoutMs: 5000 });
      expect(again.replicaElectionResults[0].partitionResult[0].errorCode).toBe(84); // ELECTION_NOT_NEEDED
    } finally {
      conn.close();
    }
  });
});
