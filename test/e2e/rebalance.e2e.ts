/**
 * Rebalancing, safe scaling and safe rolling restarts with real pods (KUBECONFIG), in a fresh
 * namespace: the operator chart (a rolling restart counts as stuck after 45 s here), one Cluster
 * `rb` (small CPU requests so five brokers fit the one node), a topic `events` (12 partitions,
 * replication factor 2) under an acks=all idempotent producer load from the host (kafkajs through
 * the external NodePort listener) and a topic `safety` with replication factor 3. In order:
 *   - `kubectl scale --replicas=2` is refused (ScaleDownRefused, `safety` needs 3 brokers): the
 *     StatefulSet keeps 3 pods and no broker is restarted;
 *   - `kubectl scale --replicas=5`: the new pods join, partitions move onto them, every broker ends
 *     with its fair share ±1 replica;
 *   - `kubectl scale --replicas=3` with a replication throttle: brokers 3 and 4 are drained first;
 *     the operator pod is killed (SIGKILL: --grace-period=0) while the drain runs and the new
 *     operator pod finishes the same plan (id and moves); the StatefulSet shrinks only once
 *     nothing names brokers 3 or 4; their Leases leave the membership; no acknowledged record is
 *     lost (read back at its acknowledged partition and offset);
 *   - a config change rolls the brokers under load, never two down (a pod watch all along);
 *   - a broker image that does not exist halts the roll: Degraded RollingRestartStuck, the other
 *     brokers untouched.
 * Each test prints what it measured.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { repoRoot } from '../harness/paths.ts';
import { AckedLoad, missingAcks } from './acked-load.ts';
import {
  brokerPods, createNamespace, deleteBrookObjects, deleteNamespace, externalListener, getJson, helm, images, kubectl, ok, podReady,
  topicPartitions, uniqueName, waitClusterReady, waitFor, watchBrokerAvailability, type Condition, type TopicPartitionState,
} from './kube.ts';

const CHART = join(repoRoot, 'charts', 'brook-operator');
const CLUSTER = 'rb';
const TOPIC = 'events';
const PARTITIONS = 12;
const ROLL_STUCK_SECONDS = 45;

let ns = '';
let release = '';
let external: { bootstrap: string; brokerAt: Map<string, number> };
let load: AckedLoad | undefined;

function report(what: string, value: string): void {
  process.stderr.write(`[e2e] ${what}: ${value} (load average ${loadavg().map((l) => l.toFixed(1)).join(' ')})\n`);
}

interface RebalanceStatus {
  id: string; state: string; reason?: string; brokers?: number[]; draining?: number[]; partitionsToMove?: number; partitionsDone?: number;
  partitionsInFlight?: number; bytesToMove?: number; moves?: Array<{ topic: string; partition: number; replicas: number[] }>;
}
interface ClusterJson { spec: { replicas: number }; status?: { conditions?: Condition[]; rebalance?: RebalanceStatus } }

const clusterJson = () => getJson<ClusterJson>(['get', `clusters.brook.dev/${CLUSTER}`, '-n', ns]);
const condition = async (type: string) => (await clusterJson()).status?.conditions?.find((c) => c.type === type);
const stsReplicas = async () => (await getJson<{ spec: { replicas: number } }>(['get', 'statefulset', CLUSTER, '-n', ns])).spec.replicas;
const scale = async (n: number) => ok(await kubectl(['scale', `clusters.brook.dev/${CLUSTER}`, '-n', ns, `--replicas=${n}`]));

/** Every partition of the Cluster's topics, as their Topic statuses have it. */
async function allPartitions(): Promise<Array<TopicPartitionState & { topic: string; reassignment?: unknown }>> {
  const list = await getJson<{ items: Array<{ metadata: { name: string }; spec: { cluster: string }; status?: { partitions?: Array<TopicPartitionState & { reassignment?: unknown }> } }> }>(['get', 'topics.brook.dev', '-n', ns]);
  return list.items.filter((t) => t.spec.cluster === CLUSTER).flatMap((t) => (t.status?.partitions ?? []).map((p) => ({ ...p, topic: t.metadata.name })));
}

/** No reassignment in flight, every partition led and fully in sync. */
async function settled(): Promise<boolean> {
  const ps = await allPartitions();
  return ps.length > 0 && ps.every((p) => !p.reassignment && p.leader >= 0 && p.isr.length === p.replicas.length);
}

async function replicaCounts(brokers: number): Promise<number[]> {
  const counts = Array.from({ length: brokers }, () => 0);
  for (const p of await allPartitions()) for (const b of p.replicas) counts[b] = (counts[b] ?? 0) + 1;
  return counts;
}

beforeAll(async () => {
  const started = Date.now();
  ns = await createNamespace('brook-rebalance');
  release = uniqueName('brook');
  const img = images();
  // This release's operator watches only this namespace: other engineers' releases share the cluster.
  ok(await helm(['install', release, CHART, '-n', ns,
    '--set', `image.repository=${img.brook.repository}`, '--set', `image.tag=${img.brook.tag}`, '--set', 'tests.enabled=false', '--set', `watchNamespaces={${ns}}`,
    '--set-json', `extraArgs=["--roll-stuck-after=${ROLL_STUCK_SECONDS}"]`,
    '--wait', '--timeout', '180s'], { timeoutMs: 200_000 }));
  const cluster = {
    apiVersion: 'brook.dev/v1alpha1', kind: 'Cluster', metadata: { name: CLUSTER, namespace: ns },
    spec: {
      replicas: 3,
      // five brokers on one 2-core node
      resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } },
      storage: { size: '2Gi' },
      config: { 'default.replication.factor': '2' },
      listeners: [{ name: 'internal', port: 9092 }, { name: 'external', port: 9094, type: 'nodePort' }],
    },
  };
  ok(await kubectl(['apply', '-f', '-'], { input: JSON.stringify(cluster) }));
  await waitClusterReady(ns, CLUSTER, 3, 300_000);
  for (const [name, partitions, rf] of [[TOPIC, PARTITIONS, 2], ['safety', 1, 3]] as const) {
    const topic = { apiVersion: 'brook.dev/v1alpha1', kind: 'Topic', metadata: { name, namespace: ns }, spec: { cluster: CLUSTER, partitions, replicationFactor: rf } };
    ok(await kubectl(['apply', '-f', '-'], { input: JSON.stringify(topic) }));
  }
  await waitFor('the topics placed with every replica in sync', ns, 120_000, async () => {
    const ps = await allPartitions();
    return ps.length === PARTITIONS + 1 && (await settled()) ? ps : undefined;
  });
  external = await externalListener(ns, CLUSTER, 3);
  load = new AckedLoad({ bootstrap: external.bootstrap, topic: TOPIC, partitions: Array.from({ length: PARTITIONS }, (_, p) => p), runId: uniqueName('rb') });
  await load.start();
  await waitFor('acks on every partition', ns, 60_000, async () => (Array.from({ length: PARTITIONS }, (_, p) => p).every((p) => load!.acked(p).length >= 5) ? true : undefined));
  report('helm install → 3 Ready brokers, topics placed, load running', `${((Date.now() - started) / 1000).toFixed(1)} s`);
}, 600_000);

afterAll(async () => {
  await load?.stop().catch(() => undefined);
  if (!ns) return;
  const stuck = await deleteBrookObjects(ns, 120_000);
  if (release) await helm(['uninstall', release, '-n', ns, '--wait', '--timeout', '120s']);
  await deleteNamespace(ns);
  if (stuck.length) throw new Error(`teardown: objects stuck on finalizers: ${stuck.join(', ')}`);
}, 600_000);

describe('rebalancing and safe scaling with real pods (KUBECONFIG)', () => {
  test('kubectl scale --replicas=2 with a replication-factor-3 topic on 3 brokers is refused (ScaleDownRefused): the StatefulSet keeps 3 pods, no broker restarts', async () => {
    const before = new Map((await brokerPods(ns, CLUSTER)).map((p) => [p.metadata.name, (p.metadata as { uid?: string }).uid]));
    expect(before.size).toBe(3);
    await scale(2);
    const refused = await waitFor('the ScaleDownRefused condition', ns, 60_000, async () => {
      const c = await condition('Rebalancing');
      return c?.reason === 'ScaleDownRefused' ? c : undefined;
    });
    report('refused', refused.message ?? '');
    expect(refused.status).toBe('False');
    expect(refused.message).toContain('safety (RF 3)');
    expect((await clusterJson()).status?.rebalance?.state).toBe('Refused');
    // it stays refused: give the StatefulSet controller and the operator time to do anything wrong
    await new Promise((r) => setTimeout(r, 10_000));
    expect(await stsReplicas()).toBe(3);
    const after = await brokerPods(ns, CLUSTER);
    expect(after.every(podReady)).toBe(true);
    expect(new Map(after.map((p) => [p.metadata.name, (p.metadata as { uid?: string }).uid]))).toEqual(before);
    await scale(3);
    await waitFor('the refusal lifted', ns, 60_000, async () => ((await condition('Rebalancing'))?.reason !== 'ScaleDownRefused' ? true : undefined));
  }, 180_000);

  test('kubectl scale --replicas=5 under acks=all load: the new brokers join, partitions move onto them, every broker holds its fair share (±1 replica)', async () => {
    const started = Date.now();
    const acksBefore = load!.acks.length;
    await scale(5);
    await waitFor('5 Ready broker pods', ns, 300_000, async () => {
      const pods = await brokerPods(ns, CLUSTER);
      return pods.length === 5 && pods.every(podReady) ? pods : undefined;
    });
    report('scale 3 → 5: 5 Ready pods', `${((Date.now() - started) / 1000).toFixed(1)} s`);
    const done = await waitFor('the scale-up rebalance completed and every partition in sync', ns, 300_000, async () => {
      const r = (await clusterJson()).status?.rebalance;
      return r?.state === 'Completed' && r.brokers?.length === 5 && (await settled()) ? r : undefined;
    });
    const counts = await replicaCounts(5);
    report('scale 3 → 5: rebalanced', `${((Date.now() - started) / 1000).toFixed(1)} s, plan ${done.id} (${done.reason}) moved ${done.partitionsToMove} partitions, ${done.bytesToMove} bytes; replicas per broker ${counts.join(' ')}`);
    expect(done.reason).toBe('ScaleUp');
    expect(done.partitionsToMove).toBeGreaterThan(0);
    expect(done.partitionsDone).toBe(done.partitionsToMove);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    const events = (await allPartitions()).filter((p) => p.topic === TOPIC);
    expect(events.some((p) => p.replicas.includes(3))).toBe(true);
    expect(events.some((p) => p.replicas.includes(4))).toBe(true);
    // the plan is the assignment now
    const now = new Map((await allPartitions()).map((p) => [`${p.topic}/${p.partition}`, p.replicas.join()]));
    for (const m of done.moves ?? []) expect(now.get(`${m.topic}/${m.partition}`)).toBe(m.replicas.join());
    // the load went on
    await waitFor('acks after the rebalance', ns, 60_000, async () => (load!.acks.length > acksBefore + 100 ? true : undefined));
  }, 600_000);

  test('kubectl scale --replicas=3 with a throttle: brokers 3 and 4 drained before the StatefulSet shrinks, the operator pod killed mid-drain and the new one finishes the same plan, their ids leave the membership, no acknowledged record lost', async () => {
    // Data to move (about 2 MB) and a throttle, so that the drain takes long enough to kill the operator in the middle.
    const kafka = new Kafka({ clientId: 'e2e-rb-bulk', brokers: [external.bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    const big = 'x'.repeat(8_000);
    for (let i = 0; i < 20; i++) {
      await producer.send({ topic: TOPIC, acks: -1, messages: Array.from({ length: PARTITIONS }, (_, p) => ({ partition: p, value: `bulk-${i}-${big}` })) });
    }
    await producer.disconnect();
    ok(await kubectl(['patch', `clusters.brook.dev/${CLUSTER}`, '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { rebalance: { throttleBytesPerSecond: 100_000, maxConcurrentMoves: 2 } } })]));

    // The StatefulSet's size and the brokers above 3 that some partition still names, all along.
    const history: Array<{ replicas: number; held: number[] }> = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const [replicas, ps] = await Promise.all([stsReplicas(), allPartitions()]).catch(() => [undefined, []] as const);
        if (replicas !== undefined && history.at(-1)?.replicas !== replicas) {
          const held = [...new Set(ps.flatMap((p) => [...p.replicas, ...((p.reassignment as { targetReplicas?: number[] } | undefined)?.targetReplicas ?? [])]).filter((b) => b >= 3))].sort();
          history.push({ replicas, held });
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    })();

    const started = Date.now();
    await scale(3);
    const running = await waitFor('the drain running', ns, 120_000, async () => {
      const r = (await clusterJson()).status?.rebalance;
      return r?.state === 'Running' && r.reason === 'ScaleDown' && (r.partitionsInFlight ?? 0) > 0 ? r : undefined;
    });
    expect(running.draining).toEqual([3, 4]);
    const operatorPods = await getJson<{ items: Array<{ metadata: { name: string; uid: string } }> }>(['get', 'pods', '-n', ns, '-l', 'app.kubernetes.io/component=operator']);
    expect(operatorPods.items).toHaveLength(1);
    const old = operatorPods.items[0]!;
    ok(await kubectl(['delete', 'pod', old.metadata.name, '-n', ns, '--grace-period=0', '--force']));
    const atKill = (await clusterJson()).status!.rebalance!;
    report('operator pod killed during the drain', `plan ${atKill.id}: ${atKill.partitionsDone}/${atKill.partitionsToMove} partitions moved, ${atKill.partitionsInFlight} in flight`);
    expect(atKill.id).toBe(running.id);
    expect(atKill.partitionsDone!).toBeLessThan(atKill.partitionsToMove!);

    const done = await waitFor('the same plan completed by the new operator pod, brokers 3 and 4 gone', ns, 420_000, async () => {
      const r = (await clusterJson()).status?.rebalance;
      if (r?.state !== 'Completed' || !(await settled()) || (await stsReplicas()) !== 3) return undefined;
      const pods = await brokerPods(ns, CLUSTER);
      return pods.length === 3 ? r : undefined;
    });
    watching = false;
    await watcher;
    const newOperator = await getJson<{ items: Array<{ metadata: { uid: string } }> }>(['get', 'pods', '-n', ns, '-l', 'app.kubernetes.io/component=operator']);
    expect(newOperator.items.map((p) => p.metadata.uid)).not.toContain(old.metadata.uid);
    const counts = await replicaCounts(3);
    report('scale 5 → 3: drained and shrunk', `${((Date.now() - started) / 1000).toFixed(1)} s, plan ${done.id} moved ${done.partitionsToMove} partitions (${done.bytesToMove} bytes at 100 kB/s); replicas per broker ${counts.join(' ')}; StatefulSet sizes ${JSON.stringify(history)}`);
    expect(done.id).toBe(running.id);
    expect(done.moves).toEqual(running.moves);
    expect(done.partitionsDone).toBe(done.partitionsToMove);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    // the StatefulSet went to 3 only when no partition named broker 3 or 4
    const shrink = history.find((h) => h.replicas === 3);
    expect(shrink).toBeDefined();
    expect(shrink!.held).toEqual([]);
    expect(history.map((h) => h.replicas)).toEqual([5, 3]);
    // their ids leave the membership
    await waitFor('the Leases of brokers 3 and 4 deleted', ns, 120_000, async () => {
      const leases = await getJson<{ items: Array<{ metadata: { name: string } }> }>(['get', 'leases', '-n', ns]);
      return leases.items.some((l) => /-broker-[34]$/.test(l.metadata.name)) ? undefined : true;
    });
    // the throttle is cleared
    const events = await getJson<{ spec: { config?: Record<string, string> } }>(['get', `topics.brook.dev/${TOPIC}`, '-n', ns]);
    expect(events.spec.config?.['follower.replication.throttled.replicas']).toBeUndefined();

    // every acknowledged record of 3 → 5 → 3, where its acknowledgement said
    await load!.stop();
    const { acks, errors } = load!;
    load = undefined;
    report('acks=all load through 3 → 5 → 3', `${acks.length} acknowledged; producer errors ${JSON.stringify(Object.fromEntries(errors))}`);
    expect(acks.length).toBeGreaterThan(500);
    const live = await externalListener(ns, CLUSTER, 3);
    expect(await missingAcks([...live.brokerAt.keys()].join(','), TOPIC, acks)).toEqual([]);
    ok(await kubectl(['patch', `clusters.brook.dev/${CLUSTER}`, '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { rebalance: null } })]));
  }, 900_000);

  test('a config change rolls the brokers under acks=all load one at a time: a pod watch never sees two brokers down', async () => {
    external = await externalListener(ns, CLUSTER, 3);
    const initial = await brokerPods(ns, CLUSTER);
    const uids = new Map(initial.map((p) => [p.metadata.name, (p.metadata as { uid?: string }).uid]));
    const availability = await watchBrokerAvailability(ns, CLUSTER, 3);
    const rollLoad = new AckedLoad({ bootstrap: external.bootstrap, topic: TOPIC, partitions: Array.from({ length: PARTITIONS }, (_, p) => p), runId: uniqueName('roll') });
    await rollLoad.start();
    const started = Date.now();
    try {
      await waitFor('the pod watch synced and the load acknowledged', ns, 60_000, async () => (availability.armed() && rollLoad.acks.length >= 50 ? true : undefined));
      ok(await kubectl(['patch', `clusters.brook.dev/${CLUSTER}`, '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { config: { 'log.retention.ms': '259200000' } } })]));
      await waitFor('every broker pod restarted onto the new config', ns, 480_000, async () => {
        const sts = await getJson<{ status: { updateRevision?: string } }>(['get', 'statefulset', CLUSTER, '-n', ns]);
        const pods = await brokerPods(ns, CLUSTER);
        return pods.length === 3 && pods.every((p) => podReady(p) && uids.get(p.metadata.name) !== (p.metadata as { uid?: string }).uid
          && p.metadata.labels?.['controller-revision-hash'] === sts.status.updateRevision) ? pods : undefined;
      });
      report('config change → 3 brokers rolled', `${((Date.now() - started) / 1000).toFixed(1)} s`);
      await waitFor('acks on every partition after the roll', ns, 60_000, async () => {
        const now = Date.now();
        return Array.from({ length: PARTITIONS }, (_, p) => p).every((p) => rollLoad.acked(p).some((a) => a.at >= now - 5_000)) ? true : undefined;
      });
    } finally {
      await rollLoad.stop();
      availability.stop();
    }
    report('max brokers unavailable during the roll', `${availability.maxUnavailable()}; producer errors ${JSON.stringify(Object.fromEntries(rollLoad.errors))}`);
    availability.check();
    expect(availability.maxUnavailable()).toBe(1);
    expect(await missingAcks([...external.brokerAt.keys()].join(','), TOPIC, rollLoad.acks)).toEqual([]);
  }, 600_000);

  test('a broker image that does not exist halts the roll: Degraded RollingRestartStuck, the other brokers untouched, never two down', async () => {
    const initial = await brokerPods(ns, CLUSTER);
    const uids = new Map(initial.map((p) => [p.metadata.name, (p.metadata as { uid?: string }).uid]));
    const availability = await watchBrokerAvailability(ns, CLUSTER, 3);
    const started = Date.now();
    try {
      await waitFor('the pod watch synced', ns, 30_000, async () => (availability.armed() ? true : undefined));
      const bad = `${images().brook.repository}:does-not-exist`;
      ok(await kubectl(['patch', `clusters.brook.dev/${CLUSTER}`, '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { image: bad } })]));
      const stuck = await waitFor('Degraded RollingRestartStuck', ns, (ROLL_STUCK_SECONDS + 120) * 1000, async () => {
        const c = await condition('Degraded');
        return c?.status === 'True' && c.reason === 'RollingRestartStuck' ? c : undefined;
      });
      report('bad image → Degraded RollingRestartStuck', `${((Date.now() - started) / 1000).toFixed(1)} s: ${stuck.message}`);
      // one broker pod was replaced and cannot start; the others keep their pods, Ready
      const pods = await brokerPods(ns, CLUSTER);
      const replaced = pods.filter((p) => uids.get(p.metadata.name) !== (p.metadata as { uid?: string }).uid);
      expect(replaced).toHaveLength(1);
      expect(podReady(replaced[0]!)).toBe(false);
      expect(stuck.message).toContain(replaced[0]!.metadata.name);
      const untouched = pods.filter((p) => p !== replaced[0]);
      expect(untouched).toHaveLength(2);
      expect(untouched.every(podReady)).toBe(true);
      // and it stays that way
      await new Promise((r) => setTimeout(r, 10_000));
      const later = await brokerPods(ns, CLUSTER);
      for (const p of untouched) expect(later.find((q) => q.metadata.name === p.metadata.name)?.metadata).toMatchObject({ uid: (p.metadata as { uid?: string }).uid });
    } finally {
      availability.stop();
    }
    availability.check();
    expect(availability.maxUnavailable()).toBe(1);
  }, 600_000);
});

