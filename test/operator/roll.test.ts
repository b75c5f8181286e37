/**
 * Rolling restarts against a real API server (this file plays the StatefulSet controller and the
 * kubelet by creating pods and writing statuses): a partition that can never be fully replicated
 * (a replica on a broker id that no longer exists) does not wedge the roll (strimzi#2964), and a
 * broker pod that does not come back Ready stops the roll with Degraded instead of taking a
 * second broker down.
 */
import { beforeAll, expect, test } from '@jest/globals';
import { adminKube, createNamespace, eventually, loadExample, resources, sleep, startOperator } from './harness.ts';
import { useOperatorApiServer } from './jest.ts';
import type { Cluster, Kube, KubeObject } from '../../broker/k8s/index.ts';

const { api, cleanup } = useOperatorApiServer();
const ns = 'roll';
let kube: Kube;
const stuckAfterMs = 2_000;

const cluster = () => kube.get<Cluster & KubeObject>(resources.Cluster, ns, 'demo');
const condition = async (type: string) => (await cluster()).status?.conditions?.find((x) => x.type === type);
const podNames = async () => (await kube.list(resources.Pod, ns)).items.filter((p) => !p.metadata.deletionTimestamp).map((p) => p.metadata.name).sort();

async function createPod(name: string, revision: string, ready = true): Promise<void> {
  await kube.create(resources.Pod, {
    metadata: {
      name, namespace: ns,
      labels: {
        'app.kubernetes.io/name': 'brook', 'app.kubernetes.io/instance': 'demo', 'app.kubernetes.io/component': 'broker',
        'app.kubernetes.io/managed-by': 'brook-operator', 'brook.dev/cluster': 'demo', 'controller-revision-hash': revision,
        'apps.kubernetes.io/pod-index': name.split('-')[1]!,
      },
    },
    spec: { containers: [{ name: 'broker', image: 'brook:test' }] },
  });
  if (ready) await kube.mergePatch(resources.Pod, ns, name, { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } }, 'status');
}

async function setRevision(current: string, update: string): Promise<void> {
  const sts = await kube.get(resources.StatefulSet, ns, 'demo');
  await kube.mergePatch(resources.StatefulSet, ns, 'demo', {
    status: { observedGeneration: sts.metadata.generation, replicas: 3, readyReplicas: 3, currentRevision: current, updateRevision: update },
  }, 'status');
}

beforeAll(async () => {
  kube = adminKube(api());
  await createNamespace(kube, ns);
  const operator = await startOperator(api(), { settings: { rollStuckAfterMs: stuckAfterMs } });
  cleanup(() => operator.stop());
  const example = loadExample('cluster.yaml');
  await kube.create(resources.Cluster, { ...example, metadata: { ...example.metadata, namespace: ns } });
  await eventually(() => kube.getOrUndefined(resources.StatefulSet, ns, 'demo'), 'the StatefulSet', 10_000);
  for (const name of ['demo-0', 'demo-1', 'demo-2']) await createPod(name, 'demo-r1');
}, 60_000);

test('ghost replica wedges the rolling restart (strimzi#2964): a partition with a replica on a broker id that no longer exists does not block the roll', async () => {
  // A 3-broker cluster; partition 0 still names broker 7, which is gone: it can never be fully replicated.
  await kube.create(resources.Topic, { metadata: { name: 'ghosted', namespace: ns }, spec: { cluster: 'demo', partitions: 1, replicationFactor: 2 } });
  await kube.mergePatch(resources.Topic, ns, 'ghosted', { status: { topicId: 'x', partitions: [{ partition: 0, replicas: [0, 7], leader: 0, isr: [0], leaderEpoch: 1, partitionEpoch: 1 }] } }, 'status');
  // RF 1 below min.insync.replicas=2 (examples/cluster.yaml): fully replicated, never in the way either.
  await kube.create(resources.Topic, { metadata: { name: 'single', namespace: ns }, spec: { cluster: 'demo', partitions: 1, replicationFactor: 1 } });
  await kube.mergePatch(resources.Topic, ns, 'single', { status: { topicId: 'y', partitions: [{ partition: 0, replicas: [1], leader: 1, isr: [1], leaderEpoch: 1, partitionEpoch: 1 }] } }, 'status');
  await eventually(async () => (await cluster()).status?.partitions?.underReplicated === 1, 'the ghosted partition counted as under-replicated');
  await setRevision('demo-r1', 'demo-r2');
  // The roll starts: the highest ordinal goes first.
  await eventually(async () => !(await podNames()).includes('demo-2'), 'demo-2 deleted by the roll', 15_000);
  expect(await podNames()).toEqual(['demo-0', 'demo-1']);
});

test('a broker that does not come back stops the roll with Degraded RollingRestartStuck, and no second broker is restarted', async () => {
  // demo-2 is recreated at the new revision but never becomes Ready (a bad image tag, say).
  await createPod('demo-2', 'demo-r2', false);
  const degraded = await eventually(async () => {
    const c = await condition('Degraded');
    return c?.reason === 'RollingRestartStuck' ? c : undefined;
  }, 'Degraded RollingRestartStuck', stuckAfterMs + 35_000, 200);
  expect(degraded.status).toBe('True');
  expect(degraded.message).toContain('demo-2 has not come back ready');
  expect((await condition('Progressing'))?.reason).toBe('RollingRestart');
  await sleep(1_500);
  expect(await podNames()).toEqual(['demo-0', 'demo-1', 'demo-2']);
  // It comes back: the roll goes on with the next broker, and Degraded clears.
  await kube.mergePatch(resources.Pod, ns, 'demo-2', { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } }, 'status');
  await eventually(async () => (await podNames()).length === 2, 'the next broker restarted', 15_000);
  // (the operator deletes the next pod, then writes the Cluster's status: Degraded clears right after)
  await eventually(async () => (await condition('Degraded'))?.reason !== 'RollingRestartStuck', 'Degraded RollingRestartStuck cleared', 15_000);
});
