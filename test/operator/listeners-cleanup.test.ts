/**
 * What a real cluster needs from the operator, against a real API server (no kubelet, no
 * controllers: the test plays the kubelet by writing pod status, the cloud by writing a load
 * balancer's address, and the garbage collector by deleting):
 * - listeners: every spec.listeners entry reaches the broker as a Kafka listener (the broker's own
 *   parser accepts the StatefulSet's args), with container ports, per-broker external Services
 *   that select that broker's pod and port, and each pod's external addresses (node address and
 *   node port, load balancer address) written to the annotation its broker reads;
 * - rack: a node without the rack label leaves the broker without a rack, never a failed reconcile;
 * - cleanup: the Leases (renewed by a real KubernetesStore), the metadata ConfigMap and the Topics
 *   of a Cluster carry an owner reference to it; Topic finalizers are released when the Cluster
 *   is being deleted or is gone, although brokers still hold the data; Leases a stopping broker
 *   re-created after the collector ran are swept once no broker is live.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { adminKube, createNamespace, eventually, kubeConfigOf, loadExample, resources, sleep, startOperator } from './harness.ts';
import { useOperatorApiServer } from './jest.ts';
import type { Kube, KubeObject } from '../../broker/k8s/index.ts';
import type { Operator } from '../../operator/operator.ts';
import { KubernetesStore } from '../../broker/metadata/kubernetes-store.ts';
import { explicitlyAdvertised, resolveListeners } from '../../broker/listeners.ts';
import { BrokerSettings } from '../../broker/config.ts';

const { api, cleanup } = useOperatorApiServer();
let kube: Kube;
let operator: Operator;

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

beforeAll(async () => {
  kube = adminKube(api());
  for (const ns of ['listeners', 'cleanup', 'deleting']) await createNamespace(kube, ns);
  operator = await startOperator(api());
  cleanup(() => operator.stop());
}, 60_000);

const get = (ns: string, kind: keyof typeof resources, name: string) => kube.getOrUndefined<KubeObject & Any>(resources[kind], ns, name);

async function createCluster(ns: string, spec: Any = {}): Promise<KubeObject> {
  const example = loadExample('cluster.yaml') as Any;
  return kube.create(resources.Cluster, { ...example, metadata: { ...example.metadata, namespace: ns }, spec: { ...example.spec, ...spec } });
}

/** A broker pod as the StatefulSet controller would create it, on `node`, with the kubelet's hostIP. */
async function createPod(ns: string, ordinal: number, node: string, hostIP: string): Promise<void> {
  const name = `demo-${ordinal}`;
  await kube.create(resources.Pod, {
    metadata: {
      name, namespace: ns,
      labels: {
        'app.kubernetes.io/name': 'brook', 'app.kubernetes.io/instance': 'demo', 'app.kubernetes.io/component': 'broker',
        'app.kubernetes.io/managed-by': 'brook-operator', 'brook.dev/cluster': 'demo', 'apps.kubernetes.io/pod-index': String(ordinal),
        'statefulset.kubernetes.io/pod-name': name,
      },
    },
    spec: { nodeName: node, containers: [{ name: 'broker', image: 'brook:test' }] },
  });
  await kube.mergePatch(resources.Pod, ns, name, { status: { phase: 'Running', hostIP, hostIPs: [{ ip: hostIP }], conditions: [{ type: 'Ready', status: 'True' }] } }, 'status');
}

describe('listeners', () => {
  const ns = 'listeners';
  const listeners = [
    { name: 'internal', port: 9092, type: 'internal' },
    { name: 'external', port: 9094, type: 'nodePort' },
    { name: 'lb', port: 9095, type: 'loadBalancer' },
  ];

  test('the StatefulSet passes every listener to the broker (which accepts the args) with its container port; pod DNS is the internal address', async () => {
    await createCluster(ns, { listeners });
    const sts = await eventually(() => get(ns, 'StatefulSet', 'demo'), 'the StatefulSet');
    const container = sts.spec.template.spec.containers[0];
    expect(container.ports.map((p: Any) => [p.name, p.containerPort])).toEqual([['internal', 9092], ['external', 9094], ['lb', 9095], ['metrics', 9464]]);
    const args: string[] = container.args;
    expect(args).not.toContain('--listen');
    const sets = Object.fromEntries(args.flatMap((a, i) => (args[i - 1] === '--set' ? [a.split(/=(.*)/s).slice(0, 2)] : [])));
    expect(sets).toEqual({
      listeners: 'INTERNAL://0.0.0.0:9092,EXTERNAL://0.0.0.0:9094,LB://0.0.0.0:9095',
      'listener.security.protocol.map': 'INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT,LB:PLAINTEXT',
      'inter.broker.listener.name': 'INTERNAL',
      'advertised.listeners': 'INTERNAL://$(POD_NAME).demo-brokers.$(POD_NAMESPACE).svc:9092',
    });
    expect(args.slice(args.indexOf('--advertised-listeners-file'), args.indexOf('--advertised-listeners-file') + 2)).toEqual(['--advertised-listeners-file', '/etc/brook/pod/advertised-listeners']);

    // The kubelet substitutes $(VAR) from the container's env; the broker's own parser takes the result.
    const env: Record<string, string> = { POD_NAME: 'demo-1', POD_NAMESPACE: ns };
    expect(container.env.map((e: Any) => e.name)).toEqual(expect.arrayContaining(['POD_NAME', 'POD_NAMESPACE']));
    const expanded = Object.fromEntries(Object.entries(sets).map(([k, v]) => [k, (v as string).replace(/\$\((\w+)\)/g, (_, n: string) => env[n]!)]));
    const settings = new BrokerSettings(expanded);
    const listenerSettings = {
      listeners: settings.get('listeners'), advertisedListeners: settings.get('advertised.listeners'),
      protocolMap: settings.get('listener.security.protocol.map'), interBrokerListenerName: settings.get('inter.broker.listener.name'),
    };
    const plan = resolveListeners(listenerSettings);
    expect(plan.interBroker).toBe('INTERNAL');
    expect(plan.listeners.map((l) => [l.name, l.bind.port])).toEqual([['INTERNAL', 9092], ['EXTERNAL', 9094], ['LB', 9095]]);
    expect(plan.listeners[0]!.advertised).toEqual({ host: 'demo-1.demo-brokers.listeners.svc', port: 9092 });
    // EXTERNAL and LB wait for the file (the pod annotation below)
    expect([...explicitlyAdvertised(listenerSettings)]).toEqual(['INTERNAL']);

    const volume = sts.spec.template.spec.volumes.find((v: Any) => v.name === 'pod-info');
    expect(volume.downwardAPI.items.map((i: Any) => [i.path, i.fieldRef.fieldPath])).toEqual([
      ['rack', "metadata.annotations['brook.dev/rack']"],
      ['advertised-listeners', "metadata.annotations['brook.dev/advertised-listeners']"],
    ]);
  });

  test('per-broker external Services select their broker\'s pod and map its external port; node ports are allocated and kept', async () => {
    const svcs = await eventually(async () => {
      const all = await Promise.all([0, 1, 2].flatMap((i) => [get(ns, 'Service', `demo-${i}-external`), get(ns, 'Service', `demo-${i}-lb`)]));
      return all.every(Boolean) ? all : undefined;
    }, 'six external Services');
    for (const [k, svc] of svcs.entries()) {
      const ordinal = Math.floor(k / 2);
      const port = k % 2 === 0 ? 9094 : 9095;
      expect(svc!.spec.type).toBe(k % 2 === 0 ? 'NodePort' : 'LoadBalancer');
      expect(svc!.spec.externalTrafficPolicy).toBe('Local');
      expect(svc!.spec.selector['statefulset.kubernetes.io/pod-name']).toBe(`demo-${ordinal}`);
      expect(svc!.spec.ports).toEqual([expect.objectContaining({ port, targetPort: port, nodePort: expect.any(Number) })]);
    }
    // Node ports are fixed per broker: a reconcile (here: an edit of the Cluster) keeps them.
    const before = svcs.map((s) => s!.spec.ports[0].nodePort);
    await kube.mergePatch(resources.Cluster, ns, 'demo', { spec: { config: { 'num.io.threads': '4' } } });
    await eventually(async () => (await get(ns, 'ConfigMap', 'demo-config'))!.data['server.properties'].includes('num.io.threads=4'), 'the config edit applied');
    const after = await Promise.all([0, 1, 2].flatMap((i) => [get(ns, 'Service', `demo-${i}-external`), get(ns, 'Service', `demo-${i}-lb`)]));
    expect(after.map((s) => s!.spec.ports[0].nodePort)).toEqual(before);
  });

  test('each broker pod gets its external addresses: its node\'s address with its node port, and its load balancer\'s address once it has one', async () => {
    await createPod(ns, 0, 'node-a', '192.0.2.10');
    await createPod(ns, 1, 'node-b', '192.0.2.11');
    const nodePort = async (i: number) => (await get(ns, 'Service', `demo-${i}-external`))!.spec.ports[0].nodePort as number;
    const annotation = async (i: number) => (await get(ns, 'Pod', `demo-${i}`))?.metadata.annotations?.['brook.dev/advertised-listeners'];
    await eventually(async () => (await annotation(0)) === `EXTERNAL://192.0.2.10:${await nodePort(0)}`, 'demo-0 annotated with its node port');
    await eventually(async () => (await annotation(1)) === `EXTERNAL://192.0.2.11:${await nodePort(1)}`, 'demo-1 annotated with its node port');
    // the cloud gives demo-1's load balancer an address
    await kube.mergePatch(resources.Service, ns, 'demo-1-lb', { status: { loadBalancer: { ingress: [{ ip: '203.0.113.21' }] } } }, 'status');
    await eventually(async () => (await annotation(1)) === `EXTERNAL://192.0.2.11:${await nodePort(1)},LB://203.0.113.21:9095`, 'demo-1 annotated with its load balancer');
    expect(await annotation(0)).toBe(`EXTERNAL://192.0.2.10:${await nodePort(0)}`);
    // a hostname load balancer (e.g. AWS)
    await kube.mergePatch(resources.Service, ns, 'demo-0-lb', { status: { loadBalancer: { ingress: [{ hostname: 'lb-0.example.com' }] } } }, 'status');
    await eventually(async () => (await annotation(0))?.endsWith(',LB://lb-0.example.com:9095'), 'demo-0 annotated with its load balancer host name');
  });

  test('a node without the rack label: no rack annotation, and the reconcile neither fails nor waits', async () => {
    // node-a and node-b do not exist as Node objects here, and a Node without the label:
    await kube.create(resources.Node, { metadata: { name: 'node-c', labels: { 'kubernetes.io/hostname': 'node-c' } } });
    await createPod(ns, 2, 'node-c', '192.0.2.12');
    await eventually(async () => (await get(ns, 'Pod', 'demo-2'))?.metadata.annotations?.['brook.dev/advertised-listeners']?.startsWith('EXTERNAL://192.0.2.12:'), 'demo-2 annotated');
    expect((await get(ns, 'Pod', 'demo-2'))!.metadata.annotations?.['brook.dev/rack']).toBeUndefined();
    const c = await kube.get<KubeObject & Any>(resources.Cluster, ns, 'demo');
    expect(c.status.conditions.find((x: Any) => x.type === 'Degraded')).toMatchObject({ status: 'False' });
  });

  test('every Cluster needs an internal listener (brokers replicate over it)', async () => {
    await expect(kube.mergePatch(resources.Cluster, ns, 'demo', { spec: { listeners: [{ name: 'external', port: 9094, type: 'nodePort' }] } }))
      .rejects.toThrow(/at least one listener must be internal/);
  });
});

describe('cleanup', () => {
  const ns = 'cleanup';
  const stores: KubernetesStore[] = [];
  afterAll(async () => { for (const s of stores) await s.close().catch(() => undefined); });

  test('the brokers\' Leases, the controller Lease, the metadata ConfigMap and the Topics get an owner reference to the Cluster; lease renewals keep it', async () => {
    const cluster = await createCluster(ns);
    const uid = cluster.metadata.uid!;
    // What real brokers write: KubernetesStore opens (the metadata ConfigMap), registers, claims the controller.
    const store = await KubernetesStore.open({ kubeConfig: kubeConfigOf(api()), namespace: ns, cluster: 'demo', fieldManager: 'brook-broker-0' });
    stores.push(store);
    await store.heartbeatBroker({ id: 0, host: 'demo-0.demo-brokers.cleanup.svc', port: 9092, rack: null }, 600_000);
    await store.claimController(0, 600_000);
    await kube.create(resources.Topic, { metadata: { name: 'orders', namespace: ns }, spec: { cluster: 'demo', partitions: 1, replicationFactor: 1 } });

    const ref = { apiVersion: 'brook.dev/v1alpha1', kind: 'Cluster', name: 'demo', uid, controller: false, blockOwnerDeletion: false };
    for (const [kind, name] of [['Lease', 'brook-demo-broker-0'], ['Lease', 'brook-demo-controller'], ['ConfigMap', 'brook-demo-metadata'], ['Topic', 'orders']] as const) {
      await eventually(async () => (await get(ns, kind, name))?.metadata.ownerReferences?.some((r: Any) => r.uid === uid), `${kind} ${name} owned by the Cluster`);
      expect((await get(ns, kind, name))!.metadata.ownerReferences).toEqual([ref]);
    }
    // The brokers renew their Leases by replacing them (every heartbeat): the reference stays.
    await store.heartbeatBroker({ id: 0, host: 'demo-0.demo-brokers.cleanup.svc', port: 9092, rack: 'zone-a' }, 600_000);
    await store.claimController(0, 600_000);
    expect((await get(ns, 'Lease', 'brook-demo-broker-0'))!.metadata.annotations?.['brook.dev/rack']).toBe('zone-a');
    expect((await get(ns, 'Lease', 'brook-demo-broker-0'))!.metadata.ownerReferences).toEqual([ref]);
    expect((await get(ns, 'Lease', 'brook-demo-controller'))!.metadata.ownerReferences).toEqual([ref]);
    // ...and producer-id allocations keep the ConfigMap's.
    await store.allocateProducerIds(1000);
    expect((await get(ns, 'ConfigMap', 'brook-demo-metadata'))!.metadata.ownerReferences).toEqual([ref]);
  });

  test('deleting the Cluster: its Topics\' finalizers are released although a live broker still holds the data; leftover Leases are swept once no broker is live', async () => {
    await kube.mergePatch(resources.Topic, ns, 'orders', { status: { topicId: 'id-o', partitions: [{ partition: 0, replicas: [0], leader: 0, isr: [0], leaderEpoch: 1, partitionEpoch: 1 }] } }, 'status');
    expect((await get(ns, 'Topic', 'orders'))!.metadata.finalizers).toEqual(['brook.dev/topic-data']);
    await kube.delete(resources.Cluster, ns, 'demo');
    await eventually(async () => !(await get(ns, 'Cluster', 'demo')), 'the Cluster gone');
    // The garbage collector deletes what the Cluster owned (here: the test does).
    await kube.delete(resources.Topic, ns, 'orders');
    // Broker 0's Lease is live (600 s) and it never annotated data-removed: the finalizer goes anyway.
    await eventually(async () => !(await get(ns, 'Topic', 'orders')), 'the Topic gone');

    // The collector deleted the Leases; the broker, still stopping, re-created them without the reference...
    await kube.delete(resources.Lease, ns, 'brook-demo-broker-0');
    await kube.delete(resources.Lease, ns, 'brook-demo-controller');
    const store = stores[0]!;
    await store.heartbeatBroker({ id: 0, host: 'h', port: 9092, rack: null }, 1_500);
    await store.claimController(0, 1_500);
    expect((await get(ns, 'Lease', 'brook-demo-broker-0'))!.metadata.ownerReferences).toBeUndefined();
    await sleep(500);
    // ...while it is live they stay (a broker still running keeps its lease)...
    expect(await get(ns, 'Lease', 'brook-demo-broker-0')).toBeDefined();
    // ...and once it stopped renewing, the operator deletes them and the metadata ConfigMap.
    await store.close();
    await eventually(async () => (await kube.list(resources.Lease, ns)).items.length === 0, 'no Lease left', 15_000);
    await eventually(async () => !(await get(ns, 'ConfigMap', 'brook-demo-metadata')), 'no metadata ConfigMap left');
  });
});

describe('a Cluster being deleted (foreground deletion, or a finalizer of another tool)', () => {
  const ns = 'deleting';

  test('a Topic deleted meanwhile is released at once, although its brokers are live and never said they dropped the data', async () => {
    await createCluster(ns);
    await kube.mergePatch(resources.Cluster, ns, 'demo', { metadata: { finalizers: ['test.brook.dev/hold'] } });
    await kube.create(resources.Lease, {
      metadata: { name: 'brook-demo-broker-0', namespace: ns, labels: { 'brook.dev/cluster': 'demo', 'brook.dev/role': 'broker' }, annotations: { 'brook.dev/lease-ms': '600000' } },
      spec: { holderIdentity: '0', leaseDurationSeconds: 600 },
    });
    await kube.create(resources.Topic, { metadata: { name: 'payments', namespace: ns }, spec: { cluster: 'demo', partitions: 1, replicationFactor: 1 } });
    await eventually(async () => (await get(ns, 'Topic', 'payments'))?.metadata.finalizers?.includes('brook.dev/topic-data'), 'the finalizer');
    await kube.mergePatch(resources.Topic, ns, 'payments', { status: { topicId: 'id-p', partitions: [{ partition: 0, replicas: [0], leader: 0, isr: [0], leaderEpoch: 1, partitionEpoch: 1 }] } }, 'status');

    // While the Cluster lives, deletion waits for broker 0:
    await kube.create(resources.Topic, { metadata: { name: 'waits', namespace: ns }, spec: { cluster: 'demo', partitions: 1, replicationFactor: 1 } });
    await eventually(async () => (await get(ns, 'Topic', 'waits'))?.metadata.finalizers?.includes('brook.dev/topic-data'), 'the finalizer');
    await kube.mergePatch(resources.Topic, ns, 'waits', { status: { topicId: 'id-w', partitions: [{ partition: 0, replicas: [0], leader: 0, isr: [0], leaderEpoch: 1, partitionEpoch: 1 }] } }, 'status');
    await kube.delete(resources.Topic, ns, 'waits');
    await sleep(500);
    expect((await get(ns, 'Topic', 'waits'))?.metadata.deletionTimestamp).toBeDefined();

    // The Cluster is being deleted: both go.
    await kube.delete(resources.Cluster, ns, 'demo');
    await eventually(async () => !!(await get(ns, 'Cluster', 'demo'))?.metadata.deletionTimestamp, 'the Cluster deleting');
    await eventually(async () => !(await get(ns, 'Topic', 'waits')), 'the waiting Topic released');
    await kube.delete(resources.Topic, ns, 'payments');
    await eventually(async () => !(await get(ns, 'Topic', 'payments')), 'the Topic released');
    await kube.mergePatch(resources.Cluster, ns, 'demo', { metadata: { finalizers: null } });
  });
});
