/**
 * A partition reassignment interrupted by SIGKILL of the controller broker finishes after
 * failover, across broker processes on the Kubernetes store (real kube-apiserver): the
 * reassignment is recorded in the Topic's status (status.partitions[].reassignment), the
 * controller is killed while the new replica is still catching up (held back by a static
 * follower.replication.throttled.rate), another broker takes the controller lease and completes
 * it, and every acknowledged record is on both replicas of the target at its offset.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { checkAcknowledged, replicaFromDirectory, waitForReplicas } from '../harness/chaos-checker.ts';
import type { AckedRecord } from '../harness/chaos-checker.ts';
import type { Topic } from '../../broker/k8s/crds.ts';
import { topicPlacement } from '../../broker/k8s/topic-placement.ts';
import { kubectl } from './envtest.ts';
import { useApiServer } from './jest.ts';
import { startBrokerFleet, waitFor } from './broker-processes.ts';

const api = useApiServer();
const ns = 'reassign';
const RATE = 1_000_000;

let fleet: Awaited<ReturnType<typeof startBrokerFleet>>;

interface StatusPartition { partition: number; replicas: number[]; leader: number; isr: number[]; reassignment?: { targetReplicas: number[]; addingReplicas?: number[] } }
async function status(topic: string): Promise<StatusPartition[]> {
  const r = await kubectl(api(), ['get', 'topic', topic, '-n', ns, '-o', 'json']);
  const text = r.stdout.toString();
  // status, or the creation annotation before the first status write
  return r.code === 0 && text ? [...topicPlacement(JSON.parse(text) as Topic)?.partitions ?? []] as StatusPartition[] : [];
}

beforeAll(async () => {
  fleet = await startBrokerFleet(api(), { namespace: ns, set: { 'follower.replication.throttled.rate': String(RATE) } });
}, 120_000);

afterAll(() => fleet?.stop());

test('a reassignment interrupted by SIGKILL of the controller broker finishes after failover, losing no acknowledged record', async () => {
  const kafka = new Kafka({ brokers: fleet.bootstrap(), logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'moving', numPartitions: 3, replicationFactor: 1,
    configEntries: [{ name: 'follower.replication.throttled.replicas', value: '*' }] }] });
  await waitFor(async () => (await status('moving')).length === 3 && (await status('moving')).every((p) => p.leader >= 0), 'the topic placed');
  const controller = (await admin.describeCluster()).controller ?? -1;
  expect(controller).toBeGreaterThanOrEqual(0);
  const chosen = (await status('moving')).find((p) => p.leader !== controller)!;
  const newcomer = [0, 1, 2].find((b) => b !== controller && b !== chosen.leader)!;
  const target = [chosen.leader, newcomer];

  // about 4 MB in the chosen partition: 3 s or more of catch-up at the throttle
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const acked: AckedRecord[] = [];
  for (let i = 0; i < 40; i++) {
    const values = Array.from({ length: 10 }, (_, j) => `${i}-${j}-${'v'.repeat(10_000)}`);
    const [meta] = await producer.send({ topic: 'moving', acks: -1, messages: values.map((value) => ({ partition: chosen.partition, value })) });
    values.forEach((value, j) => acked.push({ client: 'kafkajs', partition: chosen.partition, offset: BigInt(meta!.baseOffset!) + BigInt(j), value }));
  }
  await producer.disconnect();

  await admin.alterPartitionReassignments({ topics: [{ topic: 'moving', partitionAssignment: [{ partition: chosen.partition, replicas: target }] }] });
  const node = fleet.nodes[controller]!;
  const child = node.child!;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  node.child = null;
  const atKill = (await status('moving')).find((p) => p.partition === chosen.partition)!;
  expect(atKill.reassignment).toMatchObject({ targetReplicas: target, addingReplicas: [newcomer] });

  await waitFor(async () => {
    const s = (await status('moving')).find((p) => p.partition === chosen.partition)!;
    return s.reassignment === undefined && s.replicas.join() === target.join() && s.isr.length === 2;
  }, 'the reassignment to finish under the new controller', 90_000);
  // the killed broker comes back (its RF 1 partitions were offline meanwhile); the lease stays with its successor
  await fleet.start(node);
  await waitFor(async () => (await status('moving')).every((p) => p.leader >= 0), 'every partition led again');
  await admin.disconnect();
  const admin2 = kafka.admin();
  await admin2.connect();
  expect((await admin2.describeCluster()).controller).not.toBe(controller);
  const offsets = await admin2.fetchTopicOffsets('moving');
  await admin2.disconnect();
  const highWatermark = BigInt(offsets.find((o) => o.partition === chosen.partition)!.high);
  const evidence = await waitForReplicas(async () => [{ partition: chosen.partition, highWatermark,
    inSync: target.map((id) => replicaFromDirectory(`broker ${id}`, join(fleet.nodes[id]!.dataDir, `moving-${chosen.partition}`), highWatermark)) }], acked);
  const report = checkAcknowledged(acked, evidence);
  expect(report.problems).toEqual([]);
  expect(report.verified).toBe(acked.length * 2);
}, 240_000);
