/**
 * Brook's life cycle on Kubernetes (KUBECONFIG), in a fresh namespace, as a user goes through it:
 * `helm install` to a Ready 3-broker Cluster (timed), `kubectl apply -f examples/topic.yaml` to the
 * first record consumed (timed, from the host through the external listener: no client pod start-up
 * in the figure), `helm test`, a one-broker Cluster serving a consumer group, and the way out:
 * deleting the Clusters and `helm uninstall` leave no Brook object behind.
 *
 * What stays, by design and documented: the brokers' PersistentVolumeClaims
 * (persistentVolumeClaimRetentionPolicy Retain, as Strimzi keeps them unless deleteClaim: true; the
 * README says to delete them when the data can go), and the CRDs (Helm never deletes the CRDs of a
 * chart's crds/ folder, so other releases' and users' resources survive an uninstall).
 *
 * The tests run in order and build on each other.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { exampleTopicWithReplicationFactor } from '../harness/examples.ts';
import { repoRoot } from '../harness/paths.ts';
import { kcat } from '../harness/tools.ts';
import {
  createNamespace, deleteBrookObjects, deleteNamespace, externalListener, getJson, helm, images, kubectl, ok, topicPartitions, uniqueName,
  waitClusterReady, waitFor,
} from './kube.ts';

const CHART = join(repoRoot, 'charts', 'brook-operator');
const CLUSTER = 'demo'; // examples/cluster.yaml
const SOLO = 'solo';
const TOPIC = 'orders'; // examples/topic.yaml

let ns = '';
let release = '';
let uninstalled = false;

function report(what: string, ms: number): void {
  process.stderr.write(`[e2e] ${what}: ${(ms / 1000).toFixed(2)} s (load average ${loadavg().map((l) => l.toFixed(1)).join(' ')})\n`);
}

beforeAll(async () => {
  ns = await createNamespace('brook-life');
  release = uniqueName('brook');
}, 60_000);

afterAll(async () => {
  if (!ns) return;
  const stuck = uninstalled ? [] : await deleteBrookObjects(ns, 120_000);
  if (release && !uninstalled) await helm(['uninstall', release, '-n', ns, '--wait', '--timeout', '120s']);
  await deleteNamespace(ns);
  if (stuck.length) throw new Error(`teardown: objects stuck on finalizers: ${stuck.join(', ')}`);
}, 600_000);

describe('Brook\'s life cycle on Kubernetes (KUBECONFIG)', () => {
  test('helm install, then kubectl apply -f examples/cluster.yaml: a Ready 3-broker Cluster (timed from helm install)', async () => {
    const img = images();
    const started = Date.now();
    ok(await helm(['install', release, CHART, '-n', ns,
      '--set', `image.repository=${img.brook.repository}`, '--set', `image.tag=${img.brook.tag}`,
      // This release's operator watches only this namespace: other engineers' releases share the cluster.
      '--set', `watchNamespaces={${ns}}`,
      '--set', `tests.image.repository=${img.kcat.slice(0, img.kcat.lastIndexOf(':'))}`, '--set', `tests.image.tag=${img.kcat.slice(img.kcat.lastIndexOf(':') + 1)}`,
      '--wait', '--timeout', '180s'], { timeoutMs: 200_000 }));
    ok(await kubectl(['apply', '-n', ns, '-f', join(repoRoot, 'examples', 'cluster.yaml')]));
    await waitClusterReady(ns, CLUSTER, 3, 300_000);
    report('helm install → Ready 3-broker Cluster', Date.now() - started);
  }, 480_000);

  test('kubectl apply -f examples/topic.yaml (replicationFactor 3) → the first record produced with acks=all and consumed from the host, through the external listener (timed)', async () => {
    const { bootstrap } = await externalListener(ns, CLUSTER, 3);
    // The client is up before the apply: metadata from the cluster already answers.
    ok(await kcat(['-b', bootstrap, '-L', '-m', '5'], { timeoutMs: 30_000 }));
    const value = uniqueName('first');
    const applied = Date.now();
    ok(await kubectl(['apply', '-n', ns, '-f', join(repoRoot, 'examples', 'topic.yaml')]));
    await waitFor('the first produce to the applied topic', ns, 60_000, async () => {
      const r = await kcat(['-P', '-b', bootstrap, '-t', TOPIC, '-p', '0', '-X', 'acks=all', '-X', 'message.timeout.ms=1000', '-X', 'topic.metadata.refresh.interval.ms=100'],
        { input: `${value}\n`, timeoutMs: 10_000 });
      return r.code === 0 && !r.stderr.includes('Delivery failed') ? true : undefined;
    });
    const consumed = ok(await kcat(['-C', '-b', bootstrap, '-t', TOPIC, '-p', '0', '-o', 'beginning', '-c', '1', '-e', '-q'], { timeoutMs: 30_000 }));
    report('kubectl apply -f topic.yaml → first record consumed (host, external listener)', Date.now() - applied);
    expect(consumed.trim()).toBe(value);
    const partitions = await topicPartitions(ns, TOPIC);
    expect(partitions).toHaveLength(6);
    for (const p of partitions) expect(p.replicas).toHaveLength(3);
  }, 120_000);

  test('helm test passes on the example Cluster (min.insync.replicas 2), and leaves nothing behind', async () => {
    const r = await helm(['test', release, '-n', ns, '--timeout', '180s'], { timeoutMs: 200_000 });
    if (r.code !== 0) {
      const logs = await kubectl(['logs', '-n', ns, '-l', 'app.kubernetes.io/component=test', '--tail=50']);
      throw new Error(`helm test failed\n${ok({ ...r, code: 0 })}\n${r.stderr}\n--- test pod logs\n${logs.stdout.toString()}`);
    }
    expect(r.stdout.toString()).toMatch(/Phase:\s+Succeeded/);
    // hook-succeeded: the test's pod and Topic go once it passed (Topic deletion waits on its finalizer).
    await waitFor('the helm test pod and Topic deleted', ns, 120_000, async () => {
      const pods = await getJson<{ items: unknown[] }>(['get', 'pods', '-n', ns, '-l', 'app.kubernetes.io/component=test']);
      const topics = await getJson<{ items: Array<{ metadata: { name: string } }> }>(['get', 'topics.brook.dev', '-n', ns]);
      return pods.items.length === 0 && !topics.items.some((t) => t.metadata.name === 'brook-helm-test') ? true : undefined;
    });
  }, 300_000);

  test('a one-broker Cluster (replicas: 1) becomes Ready and serves a consumer group (offsets.topic.replication.factor set to 1 by the operator)', async () => {
    const cluster = {
      apiVersion: 'brook.dev/v1alpha1', kind: 'Cluster', metadata: { name: SOLO, namespace: ns },
      spec: {
        replicas: 1, resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } }, storage: { size: '1Gi' },
        listeners: [{ name: 'internal', port: 9092 }, { name: 'external', port: 9094, type: 'nodePort' }],
      },
    };
    const started = Date.now();
    ok(await kubectl(['apply', '-f', '-'], { input: JSON.stringify(cluster) }));
    await waitClusterReady(ns, SOLO, 1, 300_000);
    report('apply a one-broker Cluster → Ready', Date.now() - started);
    const cm = await getJson<{ data: Record<string, string> }>(['get', 'configmap', `${SOLO}-config`, '-n', ns]);
    expect(cm.data['server.properties']).toContain('offsets.topic.replication.factor=1');
    // examples/topic.yaml on this Cluster: replicationFactor 1.
    const topic = exampleTopicWithReplicationFactor(1).replace(/cluster: demo/, `cluster: ${SOLO}`).replace(/name: orders/, 'name: solo-orders');
    ok(await kubectl(['apply', '-n', ns, '-f', '-'], { input: topic }));
    await waitFor('solo-orders placed', ns, 60_000, async () => ((await topicPartitions(ns, 'solo-orders')).filter((p) => p.leader === 0).length === 6 ? true : undefined));

    const { bootstrap } = await externalListener(ns, SOLO, 1);
    const kafka = new Kafka({ clientId: 'e2e-solo', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 10 } });
    const producer = kafka.producer();
    await producer.connect();
    const values = Array.from({ length: 60 }, (_, i) => `solo-${i}`);
    await producer.send({ topic: 'solo-orders', acks: -1, messages: values.map((value) => ({ value })) });
    await producer.disconnect();

    const group = uniqueName('group');
    const consumer = kafka.consumer({ groupId: group, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
    const got = new Set<string>();
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: 'solo-orders', fromBeginning: true });
      await consumer.run({ autoCommitInterval: 100, eachMessage: async ({ message }) => { got.add(message.value!.toString()); } });
      await waitFor('every record consumed by the group', ns, 90_000, async () => (values.every((v) => got.has(v)) ? true : undefined));
      await consumer.commitOffsets([]); // flush what auto-commit holds
    } finally {
      await consumer.disconnect();
    }
    // The group's committed offsets are stored (in __consumer_offsets, replication factor 1): they cover every record.
    const admin = kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchOffsets({ groupId: group, topics: ['solo-orders'] });
      const committed = offsets[0]!.partitions.reduce((sum, p) => sum + Number(p.offset), 0);
      expect(committed).toBe(values.length);
    } finally {
      await admin.disconnect();
    }
  }, 480_000);

  test('deleting the Clusters and helm uninstall leave no Brook object behind (only the PVCs, kept by design, and the CRDs)', async () => {
    ok(await kubectl(['delete', 'clusters.brook.dev', '--all', '-n', ns, '--wait=true', '--timeout=180s'], { timeoutMs: 200_000 }));
    // Topics and the brokers' Leases and metadata ConfigMaps go with their Cluster (owner references);
    // what stays until the uninstall is the operator's own (its leader election Lease).
    await waitFor('the Clusters\' Topics, Leases and ConfigMaps gone', ns, 180_000, async () => {
      const left = await getJson<{ items: Array<{ kind: string; metadata: { name: string } }> }>(['get', 'topics.brook.dev,leases,configmaps', '-n', ns]);
      const brook = left.items.filter((o) => !(o.kind === 'ConfigMap' && o.metadata.name === 'kube-root-ca.crt') && !o.metadata.name.startsWith(release));
      return brook.length === 0 ? true : undefined;
    });
    ok(await helm(['uninstall', release, '-n', ns, '--wait', '--timeout', '120s']));
    uninstalled = true;

    const kinds = ok(await kubectl(['api-resources', '--verbs=list', '--namespaced', '-o', 'name'])).split('\n').filter((k) => k && !/^events(\.|$)/.test(k));
    const everything = await waitFor('the namespace empty of Brook objects', ns, 120_000, async () => {
      const all = await getJson<{ items: Array<{ kind: string; metadata: { name: string } }> }>(['get', kinds.join(','), '-n', ns]);
      const left = all.items.filter((o) => !(o.kind === 'ServiceAccount' && o.metadata.name === 'default') && !(o.kind === 'ConfigMap' && o.metadata.name === 'kube-root-ca.crt'));
      return left.every((o) => o.kind === 'PersistentVolumeClaim') ? left : undefined;
    });
    expect(everything.map((o) => o.metadata.name).sort()).toEqual(['data-demo-0', 'data-demo-1', 'data-demo-2', 'data-solo-0']);
    // Cluster-scoped: nothing of the release (ClusterRole, ClusterRoleBinding); the CRDs stay (Helm keeps crds/).
    const clusterScoped = ok(await kubectl(['api-resources', '--verbs=list', '--namespaced=false', '-o', 'name'])).split('\n').filter(Boolean);
    const all = await getJson<{ items: Array<{ kind: string; metadata: { name: string; labels?: Record<string, string> } }> }>(['get', clusterScoped.join(',')]);
    const ofRelease = all.items.filter((o) => o.metadata.name.includes(release) || Object.values(o.metadata.labels ?? {}).includes(release));
    expect(ofRelease.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([]);
    const brookCrds = all.items.filter((o) => o.kind === 'CustomResourceDefinition' && o.metadata.name.endsWith('.brook.dev')).map((o) => o.metadata.name).sort();
    expect(brookCrds).toEqual(['clusters.brook.dev', 'topics.brook.dev', 'users.brook.dev']);
  }, 600_000);
});
