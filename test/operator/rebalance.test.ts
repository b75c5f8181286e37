/**
 * The operator's rebalancer against a real API server with real broker processes on the
 * Kubernetes store: the operator runs as a `bin/brook operator` process (so it can be
 * SIGKILLed), and this file plays the StatefulSet controller and kubelet (there are no pods
 * here): it runs broker `i` as a process for every ordinal i below the StatefulSet's
 * spec.replicas, stops the others with SIGTERM (controlled shutdown), and writes the
 * StatefulSet's status.
 *
 * Under continuous acks=all produce (kafkajs, idempotent) and a group consumer:
 *   3 → 5: the new brokers get their fair share (±1 replica per broker over every topic);
 *   5 → 2: refused (a topic has RF 3): the StatefulSet keeps 5 brokers, the condition says why;
 *   → 3 (the spec fixed): brokers 3 and 4 are drained first, the StatefulSet shrinks only once
 *   they hold nothing, their Leases leave the membership; no acknowledged record is lost (checked
 *   at the partition and offset its acknowledgement named, on every final replica), the consumer
 *   saw every record;
 * then plan-only: a scale-up in approve mode is Proposed (partitions, bytes, estimated time at
 * the throttle) and moves nothing until approved; approved, it runs throttled, the operator is
 * SIGKILLed in the middle, and a new operator process finishes the same plan.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import { checkAcknowledged, replicaFromDirectory, waitForReplicas, type AckedRecord } from '../harness/chaos-checker.ts';
import { repoRoot } from '../harness/paths.ts';
import { expectSuccess } from '../harness/tools.ts';
import { startBrokerProcess, type BrokerNode } from '../k8s/broker-processes.ts';
import { freePort } from '../harness/ports.ts';
import { kubectl } from '../k8s/envtest.ts';
import { adminKube, createNamespace, eventually, loadExample, resources, sleep } from './harness.ts';
import { useOperatorApiServer } from './jest.ts';
import { topicPlacement, type Cluster, type ClusterRebalanceStatus, type Kube, type KubeObject, type Topic } from '../../broker/k8s/index.ts';

const { api, cleanup } = useOperatorApiServer();
const ns = 'rebalance';
const MAX_BROKERS = 5;
let kube: Kube;

interface Node extends BrokerNode { port: number }
const nodes: Node[] = [];

// ---- the operator, as a process ----

interface OperatorProcess { child: ChildProcess; port: number; out: string[]; exited: Promise<void> }
let operator: OperatorProcess;
/** The operator processes' output, kept for a failure's diagnosis. */
const operatorLog = join(tmpdir(), `brook-rebalance-operator-${process.pid}.log`);

async function startOperatorProcess(): Promise<OperatorProcess> {
  const port = await freePort();
  const child = spawn(join(repoRoot, 'bin/brook'), ['operator', '--kubeconfig', api().kubeconfigPath, '--namespace', ns, '--no-leader-election',
    '--metrics-port', String(port), '--metrics-host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  const log = (b: Buffer) => { out.push(b.toString()); appendFileSync(operatorLog, b); };
  child.stdout!.on('data', log);
  child.stderr!.on('data', log);
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  cleanup(async () => { if (child.exitCode === null && child.signalCode === null) { child.kill('SIGTERM'); await exited; } });
  return { child, port, out, exited };
}

async function operatorMetric(name: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${operator.port}/metrics`)).text();
  const m = new RegExp(`^${name}\\{[^}]*cluster="demo"[^}]*\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

// ---- the StatefulSet controller and kubelet, played here ----

/** Every spec.replicas the StatefulSet had, with the brokers named in a replica list when it was first seen. */
const stsHistory: Array<{ replicas: number; heldAbove: number[] }> = [];
let playing = true;
let player: Promise<void> | undefined;

async function startBroker(node: Node): Promise<void> {
  await startBrokerProcess(node, { namespace: ns, kubeconfig: api().kubeconfigPath, listen: `127.0.0.1:${node.port}`,
    set: { 'offsets.topic.num.partitions': '6' } });
}

async function stopBroker(node: Node): Promise<void> {
  const child = node.child;
  if (!child) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  node.child = null;
}

async function playStatefulSet(): Promise<void> {
  while (playing) {
    try {
      await playOnce();
    } catch (err) {
      if (playing) process.stdout.write(`StatefulSet player: ${(err as Error).message}\n`);
    }
    await sleep(200);
  }
}

async function playOnce(): Promise<void> {
  {
    const sts = await kube.getOrUndefined<KubeObject & { spec: { replicas: number } }>(resources.StatefulSet, ns, 'demo');
    if (sts) {
      const want = sts.spec.replicas;
      if (stsHistory.at(-1)?.replicas !== want) {
        const held = new Set<number>();
        for (const p of await allPartitions()) for (const b of [...p.replicas, ...(p.reassignment?.targetReplicas ?? [])]) if (b >= want) held.add(b);
        stsHistory.push({ replicas: want, heldAbove: [...held].sort() });
      }
      await Promise.all(nodes.map(async (n) => {
        if (n.id < want && !n.child) await startBroker(n);
        if (n.id >= want && n.child) await stopBroker(n);
      }));
      const running = nodes.filter((n) => n.child).length;
      await kube.mergePatch(resources.StatefulSet, ns, 'demo', {
        status: { observedGeneration: sts.metadata.generation, replicas: running, readyReplicas: running, currentReplicas: running, updatedReplicas: running, currentRevision: 'demo-1', updateRevision: 'demo-1' },
      }, 'status').catch(() => undefined);
    }
  }
}

// ---- reading the world ----

interface PartitionState { topic: string; partition: number; replicas: number[]; leader: number; isr: number[]; reassignment?: { targetReplicas: number[] } }

async function allPartitions(): Promise<PartitionState[]> {
  const list = await kube.list<Topic & KubeObject>(resources.Topic, ns);
  return list.items.flatMap((t) => (topicPlacement(t)?.partitions ?? []).map((p) => ({ topic: t.spec.topicName ?? t.metadata.name!, ...p } as PartitionState)));
}

const cluster = () => kube.get<Cluster & KubeObject>(resources.Cluster, ns, 'demo');
const rebalance = async (): Promise<ClusterRebalanceStatus | undefined> => (await cluster()).status?.rebalance;
const condition = async (type: string) => (await cluster()).status?.conditions?.find((c) => c.type === type);
const patchSpec = (spec: Record<string, unknown>) => kube.mergePatch(resources.Cluster, ns, 'demo', { spec });

/** What the operator showed and which brokers were live, for a failed wait's message. */
async function diagnosis(): Promise<string> {
  const c = await cluster().catch(() => undefined);
  const leases = await kube.list<KubeObject & { spec?: { holderIdentity?: string; renewTime?: string } }>(resources.Lease, ns).catch(() => ({ items: [] }));
  return `conditions ${JSON.stringify(c?.status?.conditions?.map((x) => `${x.type}=${x.status} ${x.reason}: ${x.message}`))}; `
    + `rebalance ${JSON.stringify({ ...c?.status?.rebalance, moves: undefined })}; leases ${leases.items.map((l) => `${l.metadata.name}@${l.spec?.holderIdentity}:${l.spec?.renewTime}`).join(' ')}; `
    + `processes ${nodes.map((n) => `${n.id}:${n.child ? 'up' : 'down'}`).join(' ')}`;
}

/** eventually(), its timeout message followed by diagnosis(). */
async function eventuallyDiagnosed<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs: number, intervalMs: number): Promise<T> {
  try {
    return await eventually(probe, what, timeoutMs, intervalMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${await diagnosis()}`);
  }
}

let templateBeforeRefusal: Awaited<ReturnType<typeof statefulSetTemplate>> | undefined;

/** The brokers' pod template's config hash (a change rolls every broker) and the server.properties it hashes. */
async function statefulSetTemplate(): Promise<{ configHash?: string; serverProperties?: string }> {
  const sts = await kube.get<KubeObject & { spec: { template: { metadata?: { annotations?: Record<string, string> } } } }>(resources.StatefulSet, ns, 'demo');
  const cm = await kube.get<KubeObject & { data?: Record<string, string> }>(resources.ConfigMap, ns, 'demo-config');
  return { configHash: sts.spec.template.metadata?.annotations?.['brook.dev/config-hash'], serverProperties: cm.data?.['server.properties'] };
}

/** Replicas per broker over every topic of the cluster. */
async function replicaCounts(brokers: number): Promise<number[]> {
  const counts = Array.from({ length: brokers }, () => 0);
  for (const p of await allPartitions()) for (const b of p.replicas) counts[b] = (counts[b] ?? 0) + 1;
  return counts;
}

async function settled(): Promise<boolean> {
  const parts = await allPartitions();
  return parts.length > 0 && parts.every((p) => !p.reassignment && p.leader >= 0 && p.isr.length === p.replicas.length);
}

// ---- load: acks=all produce and a group consumer, all along ----

let kafka: Kafka;
let producer: Producer;
let consumer: Consumer;
const acked: AckedRecord[] = [];
const consumed = new Set<string>();
let producing = true;
let load: Promise<void> | undefined;
let produceErrors = 0;
const consumerCrashes: string[] = [];

/**
 * One sequential acks=all send loop per partition (one partition per Produce request). Not one send
 * over all 30 partitions: kafkajs rolls back the sequence numbers of every partition of a Produce
 * request that failed for one of them (producer/sendMessages.js), including partitions whose batch
 * the broker had written; when such a partition's leader then moves to a broker that already
 * answered in the same send, the partition is not retried and its next batch reuses the written
 * batch's sequence — which any broker (Kafka too) de-duplicates, acknowledging the new records at
 * the old batch's offset. Seen in this test as records "lost" and duplicated during the scale-up.
 */
async function produceLoop(): Promise<void> {
  await Promise.all(Array.from({ length: 30 }, async (_, p) => {
    for (let round = 0; producing; round++) {
      const value = `r${round}-p${p}`;
      try {
        const [r] = await producer.send({ topic: 'events', acks: -1, messages: [{ partition: p, value }] });
        acked.push({ client: 'kafkajs', partition: r!.partition, offset: BigInt(r!.baseOffset!), value });
      } catch {
        produceErrors++; // not acknowledged: the checker asks nothing of this value
      }
      await sleep(50);
    }
  }));
}

beforeAll(async () => {
  kube = adminKube(api());
  await createNamespace(kube, ns);
  const example = loadExample('cluster.yaml') as KubeObject & { spec: Record<string, unknown> };
  await kube.create(resources.Cluster, { ...example, metadata: { ...example.metadata, namespace: ns }, spec: { ...example.spec, listeners: [{ name: 'internal', port: 9092 }] } });
  for (let id = 0; id < MAX_BROKERS; id++) nodes.push({ id, port: await freePort(), dataDir: mkdtempSync(join(tmpdir(), `brook-rebalance-${id}-`)), child: null, log: '' });
  operator = await startOperatorProcess();
  await eventually(() => kube.getOrUndefined(resources.StatefulSet, ns, 'demo'), 'the StatefulSet', 30_000, 100);
  player = playStatefulSet();
  await eventually(() => nodes.slice(0, 3).every((n) => n.child), 'three brokers running', 60_000, 100);

  kafka = new Kafka({ brokers: nodes.slice(0, 3).map((n) => `127.0.0.1:${n.port}`), logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } });
  const admin = kafka.admin();
  await admin.connect();
  await eventually(async () => (await admin.describeCluster()).brokers.length === 3, 'three brokers registered', 30_000, 200);
  await admin.createTopics({ topics: [{ topic: 'events', numPartitions: 30, replicationFactor: 2 }, { topic: 'safety', numPartitions: 1, replicationFactor: 3 }] });
  await admin.disconnect();
  await eventually(async () => (await allPartitions()).filter((p) => p.topic === 'events' && p.leader >= 0).length === 30, 'events placed', 30_000, 100);

  producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  consumer = kafka.consumer({ groupId: 'rebalance-check', sessionTimeout: 10_000, heartbeatInterval: 1_000 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'events', fromBeginning: true });
  consumer.on(consumer.events.CRASH, (e) => consumerCrashes.push(String((e.payload as { error?: Error }).error?.message ?? e.payload)));
  await consumer.run({ eachMessage: async ({ message }) => { consumed.add(message.value!.toString()); } });
  load = produceLoop();
  await eventually(() => acked.length >= 300, 'the load running', 30_000, 100);
}, 180_000);

afterAll(async () => {
  producing = false;
  playing = false;
  await Promise.race([Promise.all([load, player]), sleep(20_000)]);
  for (const n of nodes) writeFileSync(`${operatorLog.replace(/operator-(\d+)\.log$/, 'broker-$1')}-${n.id}.log`, n.log);
  process.stdout.write(`operator log: ${operatorLog} (the brokers' last stderr next to it)\n${nodes.map((n) => `broker ${n.id}: ${n.log.slice(-1500)}`).join('\n')}\n`);
  await consumer?.disconnect().catch(() => undefined);
  await producer?.disconnect().catch(() => undefined);
  for (const n of nodes) {
    n.child?.kill('SIGKILL');
    rmSync(n.dataDir, { recursive: true, force: true });
  }
}, 60_000);

describe('rebalancing', () => {
  test('scale up 3 → 5 under acks=all load: partitions move onto the new brokers, every broker holds its fair share (±1 replica)', async () => {
    await patchSpec({ replicas: 5 });
    const done = await eventuallyDiagnosed(async () => {
      const r = await rebalance();
      return r?.state === 'Completed' && r.brokers?.length === 5 && (await settled()) ? r : undefined;
    }, 'the scale-up rebalance to complete', 120_000, 250);
    expect(done.reason).toBe('ScaleUp');
    expect(done.partitionsToMove).toBeGreaterThan(0);
    expect(done.partitionsDone).toBe(done.partitionsToMove);
    expect(done.progress).toBe(`${done.partitionsToMove}/${done.partitionsToMove}`);
    expect(done.moves).toHaveLength(done.partitionsToMove!);
    const counts = await replicaCounts(5);
    process.stdout.write(`replicas per broker after 3 → 5: ${counts.join(' ')} (plan ${done.id}: ${done.partitionsToMove} partitions, ${done.bytesToMove} bytes)\n`);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    const events = (await allPartitions()).filter((p) => p.topic === 'events');
    expect(events.filter((p) => p.replicas.includes(3)).length).toBeGreaterThan(0);
    expect(events.filter((p) => p.replicas.includes(4)).length).toBeGreaterThan(0);
    // the plan as the operator wrote it is the assignment now
    const now = new Map((await allPartitions()).map((p) => [`${p.topic}/${p.partition}`, p.replicas.join()]));
    for (const m of done.moves!) expect(now.get(`${m.topic}/${m.partition}`)).toBe(m.replicas.join());
    // visible: kubectl get clusters, and the operator's metrics
    const table = await kubectl(api(), ['get', 'clusters', '-n', ns]);
    expectSuccess(table);
    expect(table.stdout.toString()).toMatch(/REBALANCE\s+MOVED/);
    expect(table.stdout.toString()).toMatch(new RegExp(`demo\\s+5\\s+\\d+\\s+-?\\d+\\s+Completed\\s+${done.partitionsToMove}/${done.partitionsToMove}`));
    await eventually(async () => (await operatorMetric('brook_operator_rebalance_partitions_done')) === done.partitionsToMove, 'the metric', 10_000, 200);
    expect(await operatorMetric('brook_operator_rebalance_partitions_to_move')).toBe(done.partitionsToMove);
  }, 180_000);

  test('a scale-down below a topic\'s replication factor is refused with a condition saying why; the StatefulSet keeps 5 brokers', async () => {
    templateBeforeRefusal = await statefulSetTemplate();
    await patchSpec({ replicas: 2 });
    const refused = await eventually(async () => {
      const c = await condition('Rebalancing');
      return c?.reason === 'ScaleDownRefused' ? c : undefined;
    }, 'the refusal', 30_000, 200);
    expect(refused.status).toBe('False');
    expect(refused.message).toContain('safety (RF 3)');
    expect(refused.message).toContain('__consumer_offsets (RF 3)');
    expect(refused.message).toContain('keeps 5 brokers');
    expect((await rebalance())?.state).toBe('Refused');
    await sleep(3_000);
    const sts = await kube.get<KubeObject & { spec: { replicas: number } }>(resources.StatefulSet, ns, 'demo');
    expect(sts.spec.replicas).toBe(5);
    expect(nodes.every((n) => n.child)).toBe(true);
    expect(stsHistory.map((h) => h.replicas)).not.toContain(2);
  }, 60_000);

  test('regression: a refused scale-down rolled every broker (the config for fewer than 3 brokers went into the pod template\'s config hash)', async () => {
    // offsets.topic.replication.factor follows the size below 3 brokers (effectiveConfig): it must
    // follow the size the StatefulSet keeps (5), not the refused spec.replicas (2).
    const now = await statefulSetTemplate();
    expect(now.configHash).toBeDefined();
    expect(now).toEqual(templateBeforeRefusal);
    expect(now.serverProperties).not.toContain('offsets.topic.replication.factor');
  });

  test('scale down 5 → 3 (the spec fixed): brokers 3 and 4 are drained before the StatefulSet shrinks; no acknowledged record lost, the consumer saw every record', async () => {
    await patchSpec({ replicas: 3 });
    const done = await eventuallyDiagnosed(async () => {
      const r = await rebalance();
      return r?.state === 'Completed' && r.reason === 'ScaleDown' && (await settled()) && nodes.slice(3).every((n) => !n.child) ? r : undefined;
    }, 'the drain and the shrink', 120_000, 250);
    expect(done.draining).toEqual([3, 4]);
    // the StatefulSet went to 3 only when nothing named broker 3 or 4
    const shrink = stsHistory.findLast((h) => h.replicas === 3)!;
    expect(shrink).toBeDefined();
    expect(shrink.heldAbove).toEqual([]);
    expect(stsHistory.at(-1)!.replicas).toBe(3);
    const counts = await replicaCounts(3);
    process.stdout.write(`replicas per broker after 5 → 3: ${counts.join(' ')} (plan ${done.id}: ${done.partitionsToMove} partitions)\n`);
    expect(counts).toHaveLength(3);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    // the removed brokers' ids leave the membership once their leases ran out
    await eventually(async () => {
      const leases = await kube.list(resources.Lease, ns);
      return !leases.items.some((l) => l.metadata.name === 'brook-demo-broker-3' || l.metadata.name === 'brook-demo-broker-4');
    }, 'the removed brokers\' leases deleted', 30_000, 250);

    producing = false;
    await load;
    expect(acked.length).toBeGreaterThan(1_000);
    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets('events');
    await admin.disconnect();
    const final = (await allPartitions()).filter((p) => p.topic === 'events');
    const evidence = await waitForReplicas(async () => final.map((p) => {
      const highWatermark = BigInt(offsets.find((o) => o.partition === p.partition)!.high);
      return { partition: p.partition, highWatermark, inSync: p.isr.map((id) => replicaFromDirectory(`broker ${id}`, join(nodes[id]!.dataDir, `events-${p.partition}`), highWatermark)) };
    }), acked, 60_000);
    const report = checkAcknowledged(acked, evidence);
    process.stdout.write(`3 → 5 → 3 under load: ${acked.length} records acknowledged (${produceErrors} sends failed), ${report.verified} verified on their replicas\n`);
    expect(report.problems).toEqual([]);
    expect(report.verified).toBe(acked.length * 2);
    const unseen = () => acked.filter((a) => !consumed.has(a.value));
    await eventually(() => unseen().length === 0, `the consumer to see every acknowledged record (${acked.length})`, 60_000, 200).catch((err: Error) => {
      const missing = unseen();
      const byPartition = new Map<number, number>();
      for (const m of missing) byPartition.set(m.partition, (byPartition.get(m.partition) ?? 0) + 1);
      throw new Error(`${err.message}: ${missing.length} unseen, by partition ${JSON.stringify([...byPartition])}; consumer crashes: ${consumerCrashes.join(' | ') || 'none'}`);
    });
  }, 240_000);

  test('plan-only until approved; approved, it runs throttled; the operator SIGKILLed mid-rebalance and restarted finishes the same plan', async () => {
    // data to move: about 3 MB over the 30 partitions
    const big = 'x'.repeat(5_000);
    for (let i = 0; i < 20; i++) await producer.send({ topic: 'events', acks: -1, messages: Array.from({ length: 30 }, (_, p) => ({ partition: p, value: `bulk-${i}-${p}-${big}` })) });
    const before = await rebalance();
    await patchSpec({ replicas: 4, rebalance: { mode: 'approve', throttleBytesPerSecond: 150_000, maxConcurrentMoves: 2 } });
    const proposed = await eventually(async () => {
      const r = await rebalance();
      return r?.state === 'Proposed' && r.id !== before?.id ? r : undefined;
    }, 'a proposed plan', 60_000, 200);
    expect(proposed.reason).toBe('ScaleUp');
    expect(proposed.brokers).toEqual([0, 1, 2, 3]);
    expect(proposed.partitionsToMove).toBeGreaterThan(0);
    expect(proposed.bytesToMove).toBeGreaterThan(1_000_000 / 4);
    expect(proposed.estimatedSeconds).toBeGreaterThan(0);
    // regression: a new plan kept the last plan's completedAt (status written as a merge patch)
    expect(before?.completedAt).toBeDefined();
    expect(proposed.completedAt).toBeUndefined();
    const c = await condition('Rebalancing');
    expect(c).toMatchObject({ status: 'True', reason: 'AwaitingApproval' });
    process.stdout.write(`proposed ${proposed.id}: ${proposed.partitionsToMove} partitions, ${proposed.bytesToMove} bytes, ~${proposed.estimatedSeconds} s at 150 kB/s\n`);
    // plan-only: nothing moves
    await sleep(3_000);
    const untouched = await allPartitions();
    expect(untouched.some((p) => p.reassignment || p.replicas.includes(3))).toBe(false);
    expect((await rebalance())?.state).toBe('Proposed');

    await kube.mergePatch(resources.Cluster, ns, 'demo', { metadata: { annotations: { 'brook.dev/rebalance': 'approve' } } });
    const running = await eventually(async () => {
      const r = await rebalance();
      return r?.state === 'Running' && r.id === proposed.id && (r.partitionsInFlight ?? 0) > 0 ? r : undefined;
    }, 'the plan running', 30_000, 100);
    expect(running.moves).toEqual(proposed.moves);
    // the annotation is consumed
    expect((await cluster()).metadata.annotations?.['brook.dev/rebalance']).toBeUndefined();
    // the throttle is on the moved topics
    const eventsTopic = (await kube.list<Topic & KubeObject>(resources.Topic, ns)).items.find((t) => (t.spec.topicName ?? t.metadata.name) === 'events')!;
    expect(eventsTopic.spec.config?.['follower.replication.throttled.replicas']).toBe('*');

    operator.child.kill('SIGKILL');
    await operator.exited;
    const atKill = await rebalance();
    expect(atKill?.state).toBe('Running');
    expect(atKill!.partitionsDone!).toBeLessThan(proposed.partitionsToMove!);
    process.stdout.write(`operator SIGKILLed with ${atKill!.partitionsDone}/${proposed.partitionsToMove} partitions moved\n`);
    operator = await startOperatorProcess();

    const done = await eventuallyDiagnosed(async () => {
      const r = await rebalance();
      return r?.state === 'Completed' && (await settled()) ? r : undefined;
    }, 'the same plan completed by the new operator', 180_000, 250);
    expect(done.id).toBe(proposed.id);
    expect(done.moves).toEqual(proposed.moves);
    const now = new Map((await allPartitions()).map((p) => [`${p.topic}/${p.partition}`, p.replicas.join()]));
    for (const m of proposed.moves!) expect(now.get(`${m.topic}/${m.partition}`)).toBe(m.replicas.join());
    const counts = await replicaCounts(4);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    // the throttle is cleared
    await eventually(async () => {
      const t = (await kube.list<Topic & KubeObject>(resources.Topic, ns)).items.find((x) => (x.spec.topicName ?? x.metadata.name) === 'events')!;
      return t.spec.config?.['follower.replication.throttled.replicas'] === undefined;
    }, 'the throttled replicas cleared', 20_000, 200);
  }, 300_000);
});
