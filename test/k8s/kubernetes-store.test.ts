/**
 * KubernetesStore against a real API server: the shared MetadataStore conformance suite, then
 * what only this backend has (Topic resources that kubectl sees and writes, watch resume after
 * 410 Gone, pending topics).
 */
import { beforeAll, describe, expect, test } from '@jest/globals';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { KafkaError } from '../../broker/errors.ts';
import { Kube } from '../../broker/k8s/client.ts';
import { resources, type KubeObject } from '../../broker/k8s/objects.ts';
import { KubernetesStore } from '../../broker/metadata/kubernetes-store.ts';
import { describeStoreConformance, partitionsOf, specOf } from '../../broker/metadata/store-conformance.ts';
import type { TopicEvent, TopicSpec } from '../../broker/metadata/types.ts';
import { initialPlacementAnnotation, topicPlacement, type Topic } from '../../broker/k8s/index.ts';
import { exampleTopicWithReplicationFactor } from '../harness/examples.ts';
import { repoRoot } from '../harness/paths.ts';
import { expectSuccess } from '../harness/tools.ts';
import { kubectl } from './envtest.ts';
import { useApiServer } from './jest.ts';

const api = useApiServer();

function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(api().kubeconfigPath);
  return kc;
}

let namespaces = 0;
async function freshNamespace(): Promise<string> {
  const name = `store-${++namespaces}`;
  await kubeConfig().makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
  return name;
}

const storeNamespaces = new WeakMap<object, string>();
async function openStore(namespace?: string): Promise<KubernetesStore> {
  const ns = namespace ?? await freshNamespace();
  const store = await KubernetesStore.open({ kubeConfig: kubeConfig(), namespace: ns, cluster: 'demo' });
  storeNamespaces.set(store, ns);
  return store;
}

const waitFor = async (condition: () => boolean, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

beforeAll(async () => {
  expectSuccess(await kubectl(api(), ['apply', '--server-side', '-f', join(repoRoot, 'crds')]));
  expectSuccess(await kubectl(api(), ['wait', '--for=condition=Established', '--timeout=60s', 'crd/topics.brook.dev']));
}, 90_000);

describeStoreConformance('kubernetes', {
  create: () => openStore(),
  reopen: async (old) => {
    const ns = storeNamespaces.get(old)!;
    await old.close();
    return openStore(ns);
  },
});

describe('KubernetesStore', () => {
  test('topics it creates are Topic resources kubectl shows, Kafka names Kubernetes cannot hold included', async () => {
    const store = await openStore();
    const ns = storeNamespaces.get(store)!;
    try {
      await store.createTopic({ ...specOf('Orders_v2', 2), configs: { 'retention.ms': '1000' } }, partitionsOf(2));
      const out = expectSuccess(await kubectl(api(), ['get', 'topics', '-n', ns])).stdout.toString().trim().split('\n');
      const row = out[1].trim().split(/\s+/);
      expect(row[0]).toMatch(/^orders-v2-[0-9a-f]{10}$/);
      expect(row.slice(1, 4)).toEqual(['demo', '2', '1']);
      const obj = JSON.parse(expectSuccess(await kubectl(api(), ['get', 'topic', row[0], '-n', ns, '-o', 'json'])).stdout.toString()) as Topic;
      expect(obj.spec).toEqual({ cluster: 'demo', topicName: 'Orders_v2', partitions: 2, replicationFactor: 1, config: { 'retention.ms': '1000' } });
      // Created in one write: the placement is in the creation annotation (no status yet: neither
      // Ready nor Leaders until the operator's or a broker's first status write copies it there).
      expect(obj.status).toBeUndefined();
      expect(topicPlacement(obj)?.partitions.map((p) => p.leader)).toEqual([0, 0]);
    } finally {
      await store.close();
    }
  });

  test('regression: a Topic whose metadata changes between its creation and its first status write (the operator adding its finalizer) is still placed, not left pending', async () => {
    const ns = await freshNamespace();
    // Every Topic creation in this namespace is followed, before the creator hears back, by another
    // writer's metadata change on the new Topic, as the operator does the moment it sees one: the
    // store's status write then meets a real 409 from the API server.
    const operatorLike = new Kube(kubeConfig(), { fieldManager: 'test-operator' });
    const create = Kube.prototype.create;
    Kube.prototype.create = async function racingCreate<T extends KubeObject>(this: Kube, r: typeof resources.Topic, obj: T): Promise<T> {
      const created = await create.call(this, r, obj) as T;
      if (r === resources.Topic && created.metadata.namespace === ns) {
        await operatorLike.mergePatch(resources.Topic, ns, created.metadata.name!, { metadata: { finalizers: ['brook.dev/test-finalizer'] } });
      }
      return created;
    };
    let store: KubernetesStore;
    try {
      store = await KubernetesStore.open({ kubeConfig: kubeConfig(), namespace: ns, cluster: 'demo' });
    } catch (err) {
      Kube.prototype.create = create;
      throw err;
    }
    const pending: string[] = [];
    const unwatch = store.watchPendingTopics((spec) => pending.push(spec.name));
    try {
      const record = await store.createTopic(specOf('raced', 3), partitionsOf(3));
      expect(record.partitions.map((p) => p.leader)).toEqual([0, 0, 0]);
      const obj = JSON.parse(expectSuccess(await kubectl(api(), ['get', 'topic', 'raced', '-n', ns, '-o', 'json'])).stdout.toString()) as Topic & { metadata: { finalizers?: string[] } };
      expect(obj.metadata.finalizers).toEqual(['brook.dev/test-finalizer']);
      expect(topicPlacement(obj)?.topicId).toBe(record.topicId);
      expect((await store.getTopic('raced'))?.partitions).toHaveLength(3);
      expect(pending).toEqual([]);
    } finally {
      Kube.prototype.create = create;
      unwatch();
      await store.close();
      await operatorLike.mergePatch(resources.Topic, ns, 'raced', { metadata: { finalizers: null } }).catch(() => undefined);
    }
  });

  test('createTopic is one API write; another broker\'s store learns the topic, id and partitions through its watch', async () => {
    const a = await openStore();
    const ns = storeNamespaces.get(a)!;
    const b = await openStore(ns);
    const request = Kube.prototype.request;
    const writes: string[] = [];
    Kube.prototype.request = function counted<T>(this: Kube, method: Parameters<Kube['request']>[0], path: string, opts?: Parameters<Kube['request']>[2]): Promise<T> {
      if (method !== 'GET' && path.includes('/topics')) writes.push(`${method} ${path}`);
      return request.call(this, method, path, opts) as Promise<T>;
    };
    try {
      const seen: TopicEvent[] = [];
      b.watchTopics((e) => seen.push(e));
      const record = await a.createTopic(specOf('one-write', 3), partitionsOf(3));
      expect(writes).toEqual([`POST /apis/brook.dev/v1alpha1/namespaces/${ns}/topics`]);
      await waitFor(() => seen.some((e) => e.topic.spec.name === 'one-write'));
      expect(seen.filter((e) => e.topic.spec.name === 'one-write')).toEqual([{ type: 'put', topic: record }]);
      expect(await b.getTopic('one-write')).toEqual(record);
    } finally {
      Kube.prototype.request = request;
      await a.close();
      await b.close();
    }
  });

  test('regression: a topic whose placement is too big for an annotation (the API server allows 256 KiB of them) is created with its status, in two writes', async () => {
    const a = await openStore();
    const b = await openStore(storeNamespaces.get(a)!);
    try {
      // (the creator holds back the pending event of its own Topic between the two writes)
      const pending: string[] = [];
      a.watchPendingTopics((t) => pending.push(t.name));
      const seen: TopicEvent[] = [];
      b.watchTopics((e) => seen.push(e));
      const record = await a.createTopic(specOf('wide', 4000), partitionsOf(4000));
      expect(record.partitions).toHaveLength(4000);
      await waitFor(() => seen.some((e) => e.topic.spec.name === 'wide'));
      expect((await b.getTopic('wide'))?.topicId).toBe(record.topicId);
      expect(pending).toEqual([]);
    } finally {
      await a.close();
      await b.close();
    }
  }, 60_000);

  test('the first status write moves the whole placement into status: same topic id, kubectl shows the leaders', async () => {
    const store = await openStore();
    const ns = storeNamespaces.get(store)!;
    try {
      const created = await store.createTopic(specOf('moved', 2), partitionsOf(2));
      // only the controller epoch changes: partitions and topic id still come from the annotation
      const fenced = await store.updateTopic('moved', created.version, { controllerEpoch: 4 });
      expect(fenced).toMatchObject({ topicId: created.topicId, partitions: created.partitions, controllerEpoch: 4 });
      const obj = JSON.parse(expectSuccess(await kubectl(api(), ['get', 'topic', 'moved', '-n', ns, '-o', 'json'])).stdout.toString()) as Topic;
      expect(obj.status).toMatchObject({ topicId: created.topicId, leaders: '0,0', controllerEpoch: 4 });
      expect(obj.status?.partitions).toHaveLength(2);
      // status now supersedes the annotation: an edit of the annotation changes nothing
      const isrChange = created.partitions.map((p) => ({ ...p, isr: [0], partitionEpoch: 1 }));
      const next = await store.updateTopic('moved', fenced.version, { partitions: isrChange });
      const seen: TopicEvent[] = [];
      store.watchTopics((e) => seen.push(e));
      const bad = JSON.stringify({ topicId: 'other', partitions: partitionsOf(1).map((p) => ({ ...p, replicas: [7], isr: [7], leader: 7 })) });
      expectSuccess(await kubectl(api(), ['annotate', '--overwrite', '-n', ns, 'topic', 'moved', `${initialPlacementAnnotation}=${bad}`]));
      await waitFor(() => seen.some((e) => e.topic.version !== next.version));
      const current = (await store.getTopic('moved'))!;
      expect(current).toMatchObject({ topicId: created.topicId, partitions: next.partitions });
      const last = await store.updateTopic('moved', current.version, { controllerEpoch: 5 });
      expect(last).toMatchObject({ topicId: created.topicId, partitions: next.partitions, controllerEpoch: 5 });
    } finally {
      await store.close();
    }
  });

  test('a Topic whose creation annotation is not a valid placement is pending, never a half-made topic', async () => {
    const store = await openStore();
    const ns = storeNamespaces.get(store)!;
    try {
      const pending: string[] = [];
      store.watchPendingTopics((t) => pending.push(t.name));
      const manifest = (name: string, placement: string) => JSON.stringify({
        apiVersion: 'brook.dev/v1alpha1', kind: 'Topic',
        metadata: { name, annotations: { [initialPlacementAnnotation]: placement } }, spec: { cluster: 'demo', partitions: 1 },
      });
      for (const [name, placement] of [['cut', '{"topicId":"x","partitions":[{"partition":0,"repl'], ['no-id', '{"partitions":[{"partition":0,"replicas":[0],"leader":0,"isr":[0],"leaderEpoch":0,"partitionEpoch":0}]}'],
        ['twice', '{"topicId":"x","partitions":[{"partition":0,"replicas":[0,0],"leader":0,"isr":[0],"leaderEpoch":0,"partitionEpoch":0}]}']]) {
        expectSuccess(await kubectl(api(), ['apply', '-n', ns, '-f', '-'], { input: manifest(name, placement) }));
      }
      await waitFor(() => ['cut', 'no-id', 'twice'].every((n) => pending.includes(n)));
      expect(await store.listTopics()).toEqual([]);
    } finally {
      await store.close();
    }
  });

  test('a Topic applied with kubectl is pending until placed, then a topic; kubectl delete removes it', async () => {
    const store = await openStore();
    const ns = storeNamespaces.get(store)!;
    try {
      const pending: TopicSpec[] = [];
      const events: string[] = [];
      store.watchPendingTopics((t) => pending.push(t));
      store.watchTopics((e: TopicEvent) => events.push(`${e.type}:${e.topic.spec.name}`));
      // examples/topic.yaml as written (replicationFactor 3, for examples/cluster.yaml), made to fit this store's one broker.
      expectSuccess(await kubectl(api(), ['apply', '-n', ns, '-f', '-'], { input: exampleTopicWithReplicationFactor(1) }));
      await waitFor(() => pending.some((t) => t.name === 'orders'));
      expect(await store.getTopic('orders')).toBeUndefined();
      // The controller places it: its first partition state goes into status.
      const placed = await store.placePendingTopic(pending.find((t) => t.name === 'orders')!, partitionsOf(6));
      expect(placed.partitions).toHaveLength(6);
      await waitFor(() => events.includes('put:orders'));
      expect((await store.getTopic('orders'))?.spec).toEqual({ name: 'orders', partitions: 6, replicationFactor: 1, configs: { 'retention.ms': '86400000', 'cleanup.policy': 'delete' } });
      expectSuccess(await kubectl(api(), ['delete', '-n', ns, 'topic', 'orders']));
      await waitFor(() => events.includes('deleted:orders'));
      expect(await store.getTopic('orders')).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  test('the API server\'s validation comes back as Kafka errors', async () => {
    const store = await openStore();
    try {
      const t = await store.createTopic(specOf('shrink', 4), partitionsOf(4));
      const err = await store.updateTopic('shrink', t.version, { spec: { ...t.spec, partitions: 2 } }).catch((e: unknown) => e);
      expect(String(err)).toMatch(/INVALID_PARTITIONS.*partitions cannot be decreased/);
    } finally {
      await store.close();
    }
  });

  test('regression: a refused config whose name mentions partitions is INVALID_CONFIG, not INVALID_PARTITIONS (errors were mapped from message text)', async () => {
    const store = await openStore();
    try {
      // The CRD caps config values at 4096 characters: the API server answers 422 with the cause's
      // field spec.config.max.partitions.note — its message text names "partitions".
      const err = await store.createTopic({ ...specOf('noted'), configs: { 'max.partitions.note': 'x'.repeat(5000) } }, partitionsOf(1)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KafkaError);
      expect((err as KafkaError).errorName).toBe('INVALID_CONFIG');
    } finally {
      await store.close();
    }
  });

  test('the topic watch resumes after 410 Gone by relisting, without losing or repeating changes', async () => {
    const store = await openStore();
    try {
      const events: string[] = [];
      store.watchTopics((e) => events.push(`${e.type}:${e.topic.spec.name}:${e.topic.spec.partitions}`));
      const a = await store.createTopic(specOf('a', 1), partitionsOf(1));
      store.testing.restartTopicWatchFrom('1'); // long compacted away: the server answers 410 Gone
      await waitFor(() => store.testing.topicRelists() > 0);
      await store.updateTopic('a', a.version, { spec: { ...a.spec, partitions: 2 }, partitions: partitionsOf(2) });
      await store.createTopic(specOf('b', 1), partitionsOf(1));
      expect(events).toEqual(['put:a:1', 'put:a:2', 'put:b:1']);
    } finally {
      await store.close();
    }
  });
});

test('dynamic broker configs written through one broker\'s store reach another broker\'s store (the metadata ConfigMap, re-read every 2 s)', async () => {
  const a = await openStore();
  const b = await openStore(storeNamespaces.get(a)!);
  try {
    const seen: string[] = [];
    const stop = b.watchBrokerConfigs((c) => seen.push(JSON.stringify(c)));
    await a.setBrokerConfigs('0', { 'leader.replication.throttled.rate': '1000' });
    await waitFor(() => seen.at(-1) === JSON.stringify({ 0: { 'leader.replication.throttled.rate': '1000' } }), 10_000);
    stop();
  } finally {
    await a.close();
    await b.close();
  }
});
