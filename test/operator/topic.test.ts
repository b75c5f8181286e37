/**
 * Topic reconcile against a real API server: the cluster label and the finalizer, conditions
 * summarised from status.partitions (the test plays the controller broker), and deletion that
 * waits for the live brokers holding replicas to say they dropped the data.
 */
import { beforeAll, describe, expect, test } from '@jest/globals';
import { adminKube, createNamespace, eventually, loadExample, resources, sleep, startOperator } from './harness.ts';
import { useOperatorApiServer } from './jest.ts';
import type { Kube, KubeObject } from '../../broker/k8s/index.ts';
import type { Operator } from '../../operator/operator.ts';
import { jsonEqual } from '../../operator/conditions.ts';
import { initialPlacementAnnotation, type Topic, type TopicPartitionStatus } from '../../broker/k8s/index.ts';
import { KubeConfig } from '@kubernetes/client-node';
import { KubernetesStore } from '../../broker/metadata/kubernetes-store.ts';
import { partitionsOf, specOf } from '../../broker/metadata/store-conformance.ts';

const { api, cleanup } = useOperatorApiServer();
const ns = 'topics';
let kube: Kube;
let operator: Operator;

type TopicObj = Topic & KubeObject;
const topic = (name: string) => kube.get<TopicObj>(resources.Topic, ns, name);
const cond = (t: Topic, type: string) => t.status?.conditions?.find((c) => c.type === type);
const waitCond = (name: string, type: string, reason: string) =>
  eventually(async () => { const t = await topic(name); return cond(t, type)?.reason === reason ? t : undefined; }, `${name} ${type} reason ${reason}`);

function partitions(n: number, replicas: number[], isr = replicas, leader = replicas[0]!): TopicPartitionStatus[] {
  return Array.from({ length: n }, (_, p) => ({ partition: p, replicas, leader, isr, leaderEpoch: 1, partitionEpoch: 1 }));
}

async function brokerLease(id: number, live = true): Promise<void> {
  await kube.create(resources.Lease, {
    metadata: { name: `brook-demo-broker-${id}`, namespace: ns, labels: { 'brook.dev/cluster': 'demo', 'brook.dev/role': 'broker' }, annotations: { 'brook.dev/lease-ms': live ? '600000' : '1' } },
    spec: { holderIdentity: String(id), leaseDurationSeconds: 600 },
  });
}

beforeAll(async () => {
  kube = adminKube(api());
  await createNamespace(kube, ns);
  operator = await startOperator(api());
  cleanup(() => operator.stop());
}, 60_000);

describe('Topic', () => {
  test('a Topic of a missing Cluster: Ready=False ClusterNotFound; the label and finalizer are added', async () => {
    const example = loadExample('topic.yaml');
    await kube.create(resources.Topic, { ...example, metadata: { ...example.metadata, namespace: ns } });
    const t = await waitCond('orders', 'Ready', 'ClusterNotFound');
    expect(cond(t, 'Ready')).toMatchObject({ status: 'False', observedGeneration: t.metadata.generation });
    expect(cond(t, 'Ready')!.message).toContain('topics/demo');
    expect(t.metadata.finalizers).toEqual(['brook.dev/topic-data']);
    expect(t.metadata.labels).toEqual({ 'brook.dev/cluster': 'demo' });
  });

  test('the Cluster appears: Pending until placed; a replication factor above the brokers is refused', async () => {
    await kube.create(resources.Cluster, { metadata: { name: 'demo', namespace: ns }, spec: { replicas: 3 } });
    await waitCond('orders', 'Ready', 'Pending');
    await kube.create(resources.Topic, { metadata: { name: 'wide', namespace: ns }, spec: { cluster: 'demo', replicationFactor: 5 } });
    const wide = await waitCond('wide', 'Ready', 'ReplicationFactorTooLarge');
    expect(cond(wide, 'Ready')!.message).toBe('replicationFactor 5 is larger than the cluster\'s 3 brokers');
    // Scaling the cluster up makes it valid (the operator looks at the Cluster's topics on spec changes).
    await kube.mergePatch(resources.Cluster, ns, 'demo', { spec: { replicas: 5 } });
    await waitCond('wide', 'Ready', 'Pending');
  });

  test('Ready and UnderReplicated follow status.partitions; lastTransitionTime moves only on flips', async () => {
    await kube.mergePatch(resources.Topic, ns, 'orders', { status: { topicId: 'id-orders', partitions: partitions(6, [0]) } }, 'status');
    const ready = await waitCond('orders', 'Ready', 'PartitionsOnline');
    expect(cond(ready, 'Ready')!.status).toBe('True');
    expect(cond(ready, 'UnderReplicated')).toMatchObject({ status: 'False', reason: 'FullyReplicated' });
    // The controller broker's fields are untouched by the operator's status writes.
    expect(ready.status?.partitions).toHaveLength(6);
    expect(ready.status?.topicId).toBe('id-orders');

    await kube.create(resources.Topic, { metadata: { name: 'replicated', namespace: ns }, spec: { cluster: 'demo', partitions: 2, replicationFactor: 3 } });
    await kube.mergePatch(resources.Topic, ns, 'replicated', { status: { topicId: 'id-r', partitions: partitions(2, [0, 1, 2]) } }, 'status');
    const before = await waitCond('replicated', 'Ready', 'PartitionsOnline');
    await sleep(1100);
    await kube.mergePatch(resources.Topic, ns, 'replicated', { status: { partitions: [partitions(1, [0, 1, 2])[0], { ...partitions(2, [0, 1, 2], [0, 1])[1]! }] } }, 'status');
    const shrunk = await waitCond('replicated', 'UnderReplicated', 'IsrShrunk');
    expect(cond(shrunk, 'UnderReplicated')).toMatchObject({ status: 'True', message: 'partitions 1 have fewer in-sync replicas than replicas' });
    expect(cond(shrunk, 'Ready')!.lastTransitionTime).toBe(cond(before, 'Ready')!.lastTransitionTime);
    expect(cond(shrunk, 'UnderReplicated')!.lastTransitionTime).not.toBe(cond(before, 'UnderReplicated')!.lastTransitionTime);

    await kube.mergePatch(resources.Topic, ns, 'replicated', { status: { partitions: partitions(2, [0, 1, 2], [1, 2], -1) } }, 'status');
    const offline = await waitCond('replicated', 'Ready', 'OfflinePartitions');
    expect(cond(offline, 'Ready')!.status).toBe('False');
    // The Cluster's partition health counts come from the same statuses.
    await eventually(async () => {
      const c = await kube.get<KubeObject & { status?: { partitions?: unknown } }>(resources.Cluster, ns, 'demo');
      return jsonEqual(c.status?.partitions, { total: 8, online: 6, underReplicated: 2, underMinIsr: 0, offline: 2 });
    }, 'cluster partition counts');
  });

  test('a Topic a broker created (its placement in the creation annotation, one write): Ready, and the placement copied into status under the same topic id', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(api().kubeconfigPath);
    const store = await KubernetesStore.open({ kubeConfig: kc, namespace: ns, cluster: 'demo' });
    try {
      const created = await store.createTopic(specOf('made-by-broker', 3), partitionsOf(3));
      const ready = await waitCond('made-by-broker', 'Ready', 'PartitionsOnline');
      expect(cond(ready, 'Ready')!.message).toBe('topic made-by-broker: 3 partitions, all led');
      expect(ready.metadata.finalizers).toEqual(['brook.dev/topic-data']);
      expect(ready.metadata.annotations?.[initialPlacementAnnotation]).toBeDefined();
      expect(ready.status).toMatchObject({ topicId: created.topicId, leaders: '0,0,0' });
      expect(ready.status?.partitions?.map((p) => [p.partition, p.leader, p.replicas, p.isr])).toEqual([[0, 0, [0], [0]], [1, 0, [0], [0]], [2, 0, [0], [0]]]);
      // the broker's store reads the same topic from status now, and writes on from there
      await eventually(async () => (await store.getTopic('made-by-broker'))?.version === ready.metadata.resourceVersion, 'the store has the operator\'s status write');
      const record = (await store.getTopic('made-by-broker'))!;
      expect(record).toMatchObject({ topicId: created.topicId, partitions: created.partitions });
      const moved = await store.updateTopic('made-by-broker', record.version, { partitions: created.partitions.map((p) => ({ ...p, leaderEpoch: 1 })) });
      expect(moved.topicId).toBe(created.topicId);
      await store.deleteTopic('made-by-broker'); // no live broker lease yet in this namespace: finalized at once
      await eventually(async () => !(await kube.getOrUndefined(resources.Topic, ns, 'made-by-broker')), 'the Topic gone');
    } finally {
      await store.close();
    }
  });

  test('deletion waits for every live broker holding replicas to drop the data', async () => {
    await brokerLease(0);
    await brokerLease(1);
    await brokerLease(2, false); // expired: it cleans stray logs when it starts again
    await sleep(200);
    await kube.delete(resources.Topic, ns, 'replicated');
    const deleting = await waitCond('replicated', 'Ready', 'Deleting');
    expect(cond(deleting, 'Ready')!.message).toBe('waiting for brokers 0, 1 to drop the topic\'s data');
    expect(deleting.metadata.deletionTimestamp).toBeDefined();

    await kube.mergePatch(resources.Topic, ns, 'replicated', { metadata: { annotations: { 'data-removed.brook.dev/broker-0': 'id-r' } } });
    await eventually(async () => cond(await topic('replicated'), 'Ready')?.message === 'waiting for brokers 1 to drop the topic\'s data', 'broker 1 still holding');
    // A stale annotation (an older incarnation of the topic) does not count.
    await kube.mergePatch(resources.Topic, ns, 'replicated', { metadata: { annotations: { 'data-removed.brook.dev/broker-1': 'old-id' } } });
    await sleep(300);
    expect(await kube.getOrUndefined(resources.Topic, ns, 'replicated')).toBeDefined();
    await kube.mergePatch(resources.Topic, ns, 'replicated', { metadata: { annotations: { 'data-removed.brook.dev/broker-1': 'id-r' } } });
    await eventually(async () => !(await kube.getOrUndefined(resources.Topic, ns, 'replicated')), 'the Topic gone');
  });

  test('deletion completes at once when no broker holding replicas is live, or the topic was never placed', async () => {
    await kube.delete(resources.Lease, ns, 'brook-demo-broker-0');
    await kube.delete(resources.Lease, ns, 'brook-demo-broker-1');
    await kube.delete(resources.Topic, ns, 'orders');
    await kube.delete(resources.Topic, ns, 'wide');
    await eventually(async () => !(await kube.getOrUndefined(resources.Topic, ns, 'orders')) && !(await kube.getOrUndefined(resources.Topic, ns, 'wide')), 'both Topics gone');
  });
});
