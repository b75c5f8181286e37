/**
 * Helpers for tests that run several real brokers in one process (LocalFleet on a MemoryStore)
 * and talk to them over the Kafka protocol: start a fleet in a temporary directory, await a
 * condition, raw requests through KafkaConnection. Test code only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { LocalFleet } from '../local-fleet.ts';
import { MemoryStore } from '../metadata/index.ts';
import { KafkaConnection } from '../client/kafka-connection.ts';
import type { PartitionState } from '../metadata/index.ts';

export const FAST_FLEET_SETTINGS: Readonly<Record<string, string>> = {
  'broker.session.timeout.ms': '1000',
  'broker.heartbeat.interval.ms': '200',
  'replica.lag.time.max.ms': '2000',
  'replica.fetch.wait.max.ms': '100',
  'group.initial.rebalance.delay.ms': '0',
  'offsets.topic.num.partitions': '3',
};

export interface TestFleet {
  fleet: LocalFleet;
  dataDir: string;
  /** The metadata store the brokers share (it outlives their crashes). */
  store: MemoryStore;
  /** Stops every broker and removes the data. */
  close(): Promise<void>;
}

export async function startTestFleet(settings: Record<string, string> = {}, brokers = 3): Promise<TestFleet> {
  const dataDir = mkdtempSync(join(tmpdir(), 'brook-fleet-'));
  const store = new MemoryStore();
  const fleet = new LocalFleet({
    brokers, host: '127.0.0.1', basePort: 0, metricsBasePort: null, dataDir, store,
    settings: { ...FAST_FLEET_SETTINGS, ...settings }, logLevel: 'warn',
  });
  await fleet.startAll();
  await waitFor(() => fleet.brokers.every((b) => b.liveBrokers().length === brokers), 'all brokers live');
  return {
    fleet, dataDir, store,
    async close() {
      await fleet.stopAll();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls `condition` every 25 ms (state that has no event to await), failing after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function kafkaClient(f: LocalFleet, brokers = f.bootstrap.split(',')): Kafka {
  return new Kafka({ brokers, logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 } });
}

export async function createTopic(f: LocalFleet, topic: string, partitions: number, configs: Record<string, string> = {}, replicationFactor = 3): Promise<void> {
  const admin = kafkaClient(f).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor,
      configEntries: Object.entries({ 'min.insync.replicas': '2', ...configs }).map(([name, value]) => ({ name, value })) }] });
  } finally {
    await admin.disconnect();
  }
  await waitFor(() => f.brokers.every((b) => b.topic(topic)?.partitions.every((p) => p.isr.length === replicationFactor) ?? false), `${topic} in sync`);
}

/** The partition state as the first running broker sees it. */
export function partitionState(f: LocalFleet, topic: string, partition: number): PartitionState {
  return f.brokers[0]!.topic(topic)!.partitions[partition]!;
}

/** A raw Kafka connection to broker `id` of the fleet. */
export function connectTo(f: LocalFleet, id: number): KafkaConnection {
  const [host, port] = f.bootstrap.split(',')[id]!.split(':');
  return new KafkaConnection({ host: host!, port: Number(port), clientId: 'fleet-test' });
}

/** Fetch v12 of partition 0 of `topic` from `offset` as a consumer, with the client's view of the leader epoch (-1: none): the error code. */
export async function fetchErrorCode(f: LocalFleet, broker: number, topic: string, offset: bigint, currentLeaderEpoch = -1): Promise<number> {
  const conn = connectTo(f, broker);
  try {
    const res = await conn.send(1, 12, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch, fetchOffset: offset, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
      forgottenTopicsData: [], rackId: '',
    });
    return res.responses[0].partitions[0].errorCode;
  } finally {
    conn.close();
  }
}

/** ListOffsets v5 for one partition as a consumer: { errorCode, offset }. */
export async function listOffset(f: LocalFleet, id: number, topic: string, partition: number, timestamp: bigint): Promise<{ errorCode: number; offset: bigint }> {
  const conn = connectTo(f, id);
  try {
    const res = await conn.send(2, 5, { replicaId: -1, isolationLevel: 0,
      topics: [{ name: topic, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp }] }] });
    const p = res.topics[0].partitions[0];
    return { errorCode: p.errorCode, offset: p.offset };
  } finally {
    conn.close();
  }
}
