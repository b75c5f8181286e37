/**
 * Kafka's own `kafka-reassign-partitions` (ReassignPartitionsCommand from the 4.1 jars) against a
 * 3-broker fleet (test/harness/fleet.ts: `brook local --brokers 3`, or three Apache Kafka KRaft
 * processes with BROOK_TEST_TARGET=kafka), unchanged: `--generate` proposes a plan, `--execute
 * --throttle` moves one replica of every partition of a live topic (the leader's, so leadership
 * moves too) under idempotent acks=all produce, `--verify` reports completion and clears the
 * throttles (kafka-configs shows none left), and every acknowledged record is at the partition and
 * offset its acknowledgement named on every new replica, read from the segment files
 * (test/harness/chaos-checker.ts). Then a reassignment held back by a 1 byte/s throttle is
 * cancelled with `--cancel`: the partition has its replicas from before. `kafka-log-dirs
 * --describe` (DescribeLogDirs) then lists each broker's replicas with their size on disk.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { checkAcknowledged, replicaFromDirectory, waitForReplicas } from '../harness/chaos-checker.ts';
import type { AckedRecord } from '../harness/chaos-checker.ts';
import { startFleet, type FleetHandle } from '../harness/fleet.ts';
import { describeRun, kafkaTool } from '../harness/tools.ts';

const TOPIC = 'moving';
const PARTITIONS = 3;
let fleet: FleetHandle;
let kafka: Kafka;
const files = mkdtempSync(join(tmpdir(), 'reassign-cli-'));

beforeAll(async () => {
  fleet = await startFleet(3);
  kafka = new Kafka({ brokers: fleet.bootstrap.split(','), logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } });
}, 240_000);

afterAll(async () => {
  await fleet?.stop();
  rmSync(files, { recursive: true, force: true });
});

const reassign = (...args: string[]) => kafkaTool('org.apache.kafka.tools.reassign.ReassignPartitionsCommand', ['--bootstrap-server', fleet.bootstrap, ...args], { timeoutMs: 120_000 });
const configs = (...args: string[]) => kafkaTool('org.apache.kafka.tools.ConfigCommand', ['--bootstrap-server', fleet.bootstrap, ...args], { timeoutMs: 120_000 });

function writeJson(name: string, value: unknown): string {
  const file = join(files, name);
  writeFileSync(file, JSON.stringify(value));
  return file;
}

async function assignment(topic: string): Promise<Array<{ partition: number; replicas: number[]; leader: number }>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    return md.topics[0]!.partitions.map((p) => ({ partition: p.partitionId, replicas: p.replicas, leader: p.leader })).sort((a, b) => a.partition - b.partition);
  } finally {
    await admin.disconnect();
  }
}

async function waitUntil(cond: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

test('kafka-reassign-partitions --generate, --execute --throttle, --verify move replicas of a live topic under acks=all produce and lose no acknowledged record; --verify clears the throttles', async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 2, configEntries: [{ name: 'min.insync.replicas', value: '1' }] }] });
  await admin.disconnect();
  await waitUntil(async () => (await assignment(TOPIC)).every((p) => p.leader >= 0), 'leaders', 30_000);

  const acked: AckedRecord[] = [];
  let producing = true;
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const load = (async () => {
    for (let i = 0; producing; i++) {
      const partition = i % PARTITIONS;
      const value = `record-${i}-${'x'.repeat(200)}`;
      const [meta] = await producer.send({ topic: TOPIC, acks: -1, messages: [{ partition, value }] });
      acked.push({ client: 'kafkajs', partition, offset: BigInt(meta!.baseOffset!), value });
    }
  })();
  await waitUntil(async () => acked.length >= 300, '300 acknowledged records', 60_000);

  // --generate: a plan for the topic over all three brokers (printed, not executed)
  const generated = await reassign('--generate', '--topics-to-move-json-file', writeJson('topics.json', { version: 1, topics: [{ topic: TOPIC }] }), '--broker-list', '0,1,2');
  expect([generated.code, describeRun(generated)]).toEqual([0, expect.any(String)]);
  const out = generated.stdout.toString();
  expect(out).toContain('Current partition replica assignment');
  expect(out).toContain('Proposed partition reassignment configuration');
  const proposed = JSON.parse(out.split('Proposed partition reassignment configuration')[1]!.trim().split('\n')[0]!);
  expect(proposed.partitions.map((p: { partition: number }) => p.partition).sort()).toEqual([0, 1, 2]);

  // the plan executed: every partition swaps its leader's replica for the broker it lacks
  const before = await assignment(TOPIC);
  const plan = before.map((p) => {
    const spare = fleet.brokerIds.find((b) => !p.replicas.includes(b))!;
    return { topic: TOPIC, partition: p.partition, replicas: [spare, ...p.replicas.filter((r) => r !== p.leader)], log_dirs: ['any', 'any'] };
  });
  const planFile = writeJson('plan.json', { version: 1, partitions: plan });
  const executed = await reassign('--execute', '--reassignment-json-file', planFile, '--throttle', '5000000');
  expect([executed.code, executed.stdout.toString()]).toEqual([0, expect.stringContaining('Successfully started partition reassignments for moving-0,moving-1,moving-2')]);

  // throttles are in place while it runs
  const brokerConfigs = await configs('--entity-type', 'brokers', '--entity-name', '0', '--describe');
  expect(brokerConfigs.stdout.toString()).toContain('leader.replication.throttled.rate=5000000');

  let verified = '';
  await waitUntil(async () => {
    const v = await reassign('--verify', '--reassignment-json-file', planFile);
    verified = v.stdout.toString();
    return v.code === 0 && [0, 1, 2].every((p) => verified.includes(`Reassignment of partition ${TOPIC}-${p} is completed.`));
  }, '--verify to report completion', 120_000);
  expect(verified).toContain('Clearing broker-level throttles on brokers 0,1,2');
  expect(verified).toContain(`Clearing topic-level throttles on topic ${TOPIC}`);
  producing = false;
  await load;
  await producer.disconnect();

  // no throttle left, at either level
  for (const id of fleet.brokerIds) {
    const described = (await configs('--entity-type', 'brokers', '--entity-name', String(id), '--describe')).stdout.toString();
    expect([id, described]).toEqual([id, expect.not.stringContaining('throttled.rate')]);
  }
  const topicConfigs = (await configs('--entity-type', 'topics', '--entity-name', TOPIC, '--describe')).stdout.toString();
  expect(topicConfigs).not.toContain('throttled.replicas');

  const after = await assignment(TOPIC);
  for (const p of plan) expect(after[p.partition]!.replicas).toEqual(p.replicas);
  const offsets = await (async () => {
    const a = kafka.admin();
    await a.connect();
    try { return await a.fetchTopicOffsets(TOPIC); } finally { await a.disconnect(); }
  })();
  const evidence = await waitForReplicas(async () => plan.map((p) => {
    const highWatermark = BigInt(offsets.find((o) => o.partition === p.partition)!.high);
    return { partition: p.partition, highWatermark, inSync: p.replicas.map((id) => replicaFromDirectory(`broker ${id}`, fleet.replicaDir(id, TOPIC, p.partition), highWatermark)) };
  }), acked, 60_000);
  const report = checkAcknowledged(acked, evidence);
  expect(report.problems).toEqual([]);
  expect(report.verified).toBe(acked.length * 2);
  expect(acked.length).toBeGreaterThan(300);
}, 400_000);

test('kafka-reassign-partitions --cancel stops a reassignment held back by a throttle: the partition keeps its replicas from before', async () => {
  const before = await assignment(TOPIC);
  const p0 = before[0]!;
  const spare = fleet.brokerIds.find((b) => !p0.replicas.includes(b))!;
  const planFile = writeJson('stalled.json', { version: 1, partitions: [{ topic: TOPIC, partition: 0, replicas: [...p0.replicas, spare], log_dirs: ['any', 'any', 'any'] }] });
  const executed = await reassign('--execute', '--reassignment-json-file', planFile, '--throttle', '1');
  expect([executed.code, describeRun(executed)]).toEqual([0, expect.stringContaining('Successfully started partition reassignment for moving-0')]);
  const listed = await reassign('--list');
  expect(listed.stdout.toString()).toContain(`${TOPIC}-0: replicas: ${[...p0.replicas, spare].join(',')}. adding: ${spare}.\n`);

  const cancelled = await reassign('--cancel', '--reassignment-json-file', planFile);
  expect([cancelled.code, describeRun(cancelled)]).toEqual([0, expect.stringContaining('Successfully cancelled partition reassignment for: moving-0')]);
  await waitUntil(async () => (await assignment(TOPIC))[0]!.replicas.join() === p0.replicas.join(), 'the original replicas back', 30_000);
  expect((await reassign('--list')).stdout.toString()).toContain('No partition reassignments found.');
}, 300_000);

test('kafka-log-dirs --describe (DescribeLogDirs) lists every replica a broker holds, with its size on disk', async () => {
  const assigned = await assignment(TOPIC);
  const run = await kafkaTool('org.apache.kafka.tools.LogDirsCommand', ['--bootstrap-server', fleet.bootstrap, '--describe', '--topic-list', TOPIC], { timeoutMs: 120_000 });
  expect([run.code, describeRun(run)]).toEqual([0, expect.any(String)]);
  const json = JSON.parse(run.stdout.toString().trim().split('\n').at(-1)!) as {
    brokers: Array<{ broker: number; logDirs: Array<{ logDir: string; error: string | null; partitions: Array<{ partition: string; size: number; offsetLag: number; isFuture: boolean }> }> }>;
  };
  expect(json.brokers.map((b) => b.broker).sort()).toEqual(fleet.brokerIds);
  for (const b of json.brokers) {
    expect(b.logDirs).toHaveLength(1);
    const dir = b.logDirs[0]!;
    expect(dir.error).toBeNull();
    const hosted = assigned.filter((p) => p.replicas.includes(b.broker)).map((p) => `${TOPIC}-${p.partition}`).sort();
    expect([b.broker, dir.partitions.map((p) => p.partition).sort()]).toEqual([b.broker, hosted]);
    for (const p of dir.partitions) {
      const onDisk = readdirSync(fleet.replicaDir(b.broker, TOPIC, Number(p.partition.split('-').at(-1))))
        .filter((name) => name.endsWith('.log'))
        .reduce((sum, name) => sum + statSync(join(fleet.replicaDir(b.broker, TOPIC, Number(p.partition.split('-').at(-1))), name)).size, 0);
      expect([b.broker, p.partition, p.size, p.isFuture]).toEqual([b.broker, p.partition, onDisk, false]);
      expect(p.size).toBeGreaterThan(0);
    }
  }
}, 120_000);
