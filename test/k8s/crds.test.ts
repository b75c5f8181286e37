/**
 * The CRDs in crds/ against a real kube-apiserver: they install, the examples apply, kubectl
 * shows the printer columns, defaults are filled in, and every validation rule rejects a bad
 * object with a clear message from the API server itself.
 */
import { beforeAll, describe, expect, test } from '@jest/globals';
import { join } from 'node:path';
import { repoRoot } from '../harness/paths.ts';
import { describeRun, expectSuccess, type RunResult } from '../harness/tools.ts';
import type { Cluster, Topic } from '../../broker/k8s/index.ts';
import { kubectl } from './envtest.ts';
import { useApiServer } from './jest.ts';

const api = useApiServer();
const ns = 'crds';

type Obj = { apiVersion?: string; kind?: string; metadata: { name: string }; spec?: unknown; status?: unknown };

function topic(name: string, spec: Record<string, unknown>): Obj {
  return { apiVersion: 'brook.dev/v1alpha1', kind: 'Topic', metadata: { name }, spec: { cluster: 'demo', ...spec } };
}
function cluster(name: string, spec: Record<string, unknown>): Obj {
  return { apiVersion: 'brook.dev/v1alpha1', kind: 'Cluster', metadata: { name }, spec };
}

const k = (args: string[], input?: string) => kubectl(api(), args, { input });
const apply = (obj: Obj, ...flags: string[]) => k(['apply', '-n', ns, ...flags, '-f', '-'], JSON.stringify(obj));
const create = (obj: Obj) => k(['create', '-n', ns, '-f', '-'], JSON.stringify(obj));

async function getJson<T>(kind: string, name: string, namespace = ns): Promise<T> {
  return JSON.parse(expectSuccess(await k(['get', '-n', namespace, kind, name, '-o', 'json'])).stdout.toString()) as T;
}

/** Asserts the API server refused the request and its message names the rule. */
function expectRejected(r: RunResult, ...fragments: string[]): void {
  if (r.code === 0) throw new Error(`expected the API server to reject the object\n${describeRun(r)}`);
  for (const f of fragments) expect(r.stderr).toContain(f);
}

beforeAll(async () => {
  expectSuccess(await k(['apply', '--server-side', '-f', join(repoRoot, 'crds')]));
  expectSuccess(await k(['wait', '--for=condition=Established', '--timeout=60s',
    'crd/topics.brook.dev', 'crd/clusters.brook.dev']));
  expectSuccess(await k(['create', 'namespace', ns]));
}, 90_000);

describe('installing and using the CRDs', () => {
  test('kubectl apply -f examples/ works in any namespace, and kubectl get topics shows the printer columns', async () => {
    expectSuccess(await k(['create', 'namespace', 'examples']));
    expectSuccess(await k(['apply', '-n', 'examples', '-f', join(repoRoot, 'examples/cluster.yaml'), '-f', join(repoRoot, 'examples/topic.yaml')]));
    const topics = expectSuccess(await k(['get', 'topics', '-n', 'examples'])).stdout.toString();
    const [header, row] = topics.trim().split('\n').map((l) => l.trim().split(/\s+/));
    expect(header).toEqual(['NAME', 'CLUSTER', 'PARTITIONS', 'RF', 'READY', 'LEADERS', 'AGE']);
    expect(row.slice(0, 4)).toEqual(['orders', 'demo', '6', '3']);

    const clusters = expectSuccess(await k(['get', 'clusters.brook.dev', '-n', 'examples'])).stdout.toString();
    const [cHeader, cRow] = clusters.trim().split('\n').map((l) => l.trim().split(/\s+/));
    expect(cHeader).toEqual(['NAME', 'BROKERS', 'READY', 'CONTROLLER', 'REBALANCE', 'MOVED', 'AGE']);
    expect(cRow.slice(0, 2)).toEqual(['demo', '3']);

    // The category and short names reach both kinds.
    const all = expectSuccess(await k(['get', 'brook', '-n', 'examples', '-o', 'name'])).stdout.toString().trim().split('\n').sort();
    expect(all).toEqual(['cluster.brook.dev/demo', 'topic.brook.dev/orders']);
    expect(expectSuccess(await k(['get', 'brt', '-n', 'examples', '-o', 'name'])).stdout.toString().trim()).toBe('topic.brook.dev/orders');
    expect(expectSuccess(await k(['get', 'brc', '-n', 'examples', '-o', 'name'])).stdout.toString().trim()).toBe('cluster.brook.dev/demo');
  });

  test('defaults: a Topic names only its cluster, a Cluster nothing at all', async () => {
    expectSuccess(await apply(topic('defaults', {})));
    expect((await getJson<Topic>('topic', 'defaults')).spec).toEqual({ cluster: 'demo', partitions: 1, replicationFactor: 1 });
    expectSuccess(await apply({ apiVersion: 'brook.dev/v1alpha1', kind: 'Cluster', metadata: { name: 'defaults' } }));
    expect((await getJson<Cluster>('clusters.brook.dev', 'defaults')).spec).toEqual({
      replicas: 3,
      storage: { size: '10Gi' },
      listeners: [{ name: 'internal', port: 9092, type: 'internal', tls: false }],
      certificates: { issuer: 'auto', validityDays: 365, renewalDays: 30 },
      metrics: { enabled: true, port: 9464, podMonitor: false },
      rebalance: { mode: 'auto', maxConcurrentMoves: 10 },
    });
  });

  test('Kafka names that Kubernetes names cannot hold go in spec.topicName', async () => {
    expectSuccess(await apply(topic('orders-v2', { topicName: 'Orders_v2' })));
    const wide = expectSuccess(await k(['get', 'topic', 'orders-v2', '-n', ns, '-o', 'wide'])).stdout.toString();
    expect(wide.split('\n')[0]).toMatch(/LEADERS\s+TOPIC\s+AGE/);
    expect(wide).toContain('Orders_v2');
  });

  test('the scale subresource drives spec.replicas', async () => {
    expectSuccess(await apply(cluster('scaled', { replicas: 3 })));
    expectSuccess(await k(['scale', '-n', ns, 'clusters.brook.dev/scaled', '--replicas=5']));
    expect((await getJson<Cluster>('clusters.brook.dev', 'scaled')).spec.replicas).toBe(5);
  });

  test('status is written only through the status subresource, and kubectl shows it', async () => {
    expectSuccess(await apply(topic('with-status', { partitions: 2 })));
    const status = {
      observedGeneration: 1,
      topicId: 'b7c8a1f0-7a9d-4b43-9a55-0a2b2f1c3d4e',
      leaders: '1,2',
      conditions: [{ type: 'Ready', status: 'True', reason: 'AllPartitionsOnline', message: '2 of 2 partitions have a leader', lastTransitionTime: '2026-01-01T00:00:00Z' }],
      partitions: [
        { partition: 0, replicas: [1], leader: 1, isr: [1], leaderEpoch: 0, partitionEpoch: 0 },
        { partition: 1, replicas: [2], leader: 2, isr: [2], leaderEpoch: 3, partitionEpoch: 4, reassignment: { targetReplicas: [1], addingReplicas: [1], removingReplicas: [2] } },
      ],
    };
    // Through the main resource the status is ignored...
    expectSuccess(await k(['patch', '-n', ns, 'topic', 'with-status', '--type=merge', '-p', JSON.stringify({ status })]));
    expect((await getJson<Topic>('topic', 'with-status')).status).toBeUndefined();
    // ...through /status it is kept.
    expectSuccess(await k(['patch', '-n', ns, 'topic', 'with-status', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]));
    expect((await getJson<Topic>('topic', 'with-status')).status).toEqual(status);
    const got = expectSuccess(await k(['get', 'topic', 'with-status', '-n', ns])).stdout.toString();
    const row = got.trim().split('\n')[1].trim().split(/\s+/);
    expect(row.slice(0, 6)).toEqual(['with-status', 'demo', '2', '1', 'True', '1,2']);
  });
});

describe('the API server rejects invalid Topics', () => {
  test('partitions below 1', async () => {
    expectRejected(await create(topic('negative', { partitions: -3 })), 'spec.partitions', 'should be greater than or equal to 1');
    expectRejected(await create(topic('zero', { partitions: 0 })), 'spec.partitions', 'should be greater than or equal to 1');
  });

  test('decreasing partitions', async () => {
    expectSuccess(await apply(topic('shrink', { partitions: 6 })));
    expectSuccess(await apply(topic('shrink', { partitions: 8 })));
    expectRejected(await apply(topic('shrink', { partitions: 3 })), 'spec.partitions', 'partitions cannot be decreased');
    expect((await getJson<Topic>('topic', 'shrink')).spec.partitions).toBe(8);
  });

  test('changing replicationFactor', async () => {
    expectSuccess(await apply(topic('rf', { replicationFactor: 3 })));
    expectRejected(await apply(topic('rf', { replicationFactor: 2 })), 'spec.replicationFactor', 'replicationFactor is immutable');
    expectRejected(await create(topic('rf-zero', { replicationFactor: 0 })), 'spec.replicationFactor', 'should be greater than or equal to 1');
  });

  test('bad Kafka topic names', async () => {
    expectRejected(await create(topic('bad-chars', { topicName: 'orders/eu' })), 'spec.topicName', 'should match');
    expectRejected(await create(topic('bad-space', { topicName: 'my topic' })), 'spec.topicName', 'should match');
    expectRejected(await create(topic('dotdot', { topicName: '..' })), 'spec.topicName', "topicName may not be '.' or '..'");
    expectRejected(await create(topic('too-long', { topicName: 'x'.repeat(250) })), 'spec.topicName', 'may not be more than 249');
    // metadata.name stands in for topicName: it must fit Kafka's 249 characters too.
    expectRejected(await create(topic('a'.repeat(250), {})), 'metadata.name is longer than a Kafka topic name may be (249)');
  });

  test('renaming the Kafka topic or moving it to another cluster', async () => {
    expectSuccess(await apply(topic('named', { topicName: 'Named' })));
    expectRejected(await apply(topic('named', { topicName: 'Renamed' })), 'topicName is immutable');
    expectSuccess(await apply(topic('unnamed', {})));
    expectRejected(await apply(topic('unnamed', { topicName: 'Unnamed' })), 'topicName cannot be added or removed');
    expectRejected(await apply(topic('unnamed', { cluster: 'other' })), 'cluster is immutable');
  });

  test('a missing cluster, a bad cluster name, non-string config values', async () => {
    expectRejected(await create({ apiVersion: 'brook.dev/v1alpha1', kind: 'Topic', metadata: { name: 'no-cluster' }, spec: {} }), 'spec.cluster', 'Required value');
    expectRejected(await create(topic('bad-cluster', { cluster: 'Demo_1' })), 'spec.cluster', 'should match');
    expectRejected(await create(topic('int-config', { config: { 'retention.ms': 1000 } })), 'spec.config.retention.ms', 'must be of type string');
  });

  test('unknown fields: rejected under strict field validation (kubectl\'s default), pruned otherwise', async () => {
    const typo = { ...topic('typo', {}), spec: { cluster: 'demo', partitons: 3 } };
    expectRejected(await create(typo), 'unknown field "spec.partitons"');
    const pruned = await k(['create', '-n', ns, '--validate=false', '-f', '-'], JSON.stringify(typo));
    expectSuccess(pruned);
    expect((await getJson<Topic>('topic', 'typo')).spec).toEqual({ cluster: 'demo', partitions: 1, replicationFactor: 1 });
  });
});

describe('the API server rejects invalid Clusters', () => {
  test('negative replicas, also through the scale subresource', async () => {
    expectRejected(await create(cluster('negative', { replicas: -1 })), 'spec.replicas', 'should be greater than or equal to 0');
    expectSuccess(await apply(cluster('scale-neg', { replicas: 1 })));
    expectRejected(await k(['scale', '-n', ns, 'clusters.brook.dev/scale-neg', '--replicas=-1']), 'replicas');
  });

  test('storage that shrinks or changes class', async () => {
    expectSuccess(await apply(cluster('disk', { storage: { size: '20Gi', class: 'fast' } })));
    expectSuccess(await apply(cluster('disk', { storage: { size: '30Gi', class: 'fast' } })));
    expectRejected(await apply(cluster('disk', { storage: { size: '10Gi', class: 'fast' } })), 'storage.size cannot shrink');
    expectRejected(await apply(cluster('disk', { storage: { size: '30Gi', class: 'slow' } })), 'storage.class is immutable');
    expectRejected(await create(cluster('bad-size', { storage: { size: 'ten gigs' } })), 'spec.storage.size', 'should match');
  });

  test('broker settings the operator owns', async () => {
    expectRejected(await create(cluster('owned', { config: { 'broker.id': '7', 'log.retention.ms': '1000' } })),
      'config may not set broker.id');
  });

  test('listeners with duplicate names or ports, or privileged ports', async () => {
    expectRejected(await create(cluster('dup-port', { listeners: [{ name: 'a', port: 9092 }, { name: 'b', port: 9092 }] })), 'listener ports must be unique');
    expectRejected(await create(cluster('dup-name', { listeners: [{ name: 'a', port: 9092 }, { name: 'a', port: 9093 }] })), 'Duplicate value');
    expectRejected(await create(cluster('low-port', { listeners: [{ name: 'a', port: 80 }] })), 'should be greater than or equal to 1024');
    expectRejected(await create(cluster('bad-type', { listeners: [{ name: 'a', port: 9092, type: 'ingress' }] })), 'Unsupported value: "ingress"');
  });

  test('certificates: the issuer is auto, operator or cert-manager (auto when unset)', async () => {
    expectRejected(await create(cluster('bad-issuer', { certificates: { issuer: 'vault' } })), 'spec.certificates.issuer', 'Unsupported value: "vault"');
    expectSuccess(await create(cluster('cm-issuer', { certificates: { issuer: 'cert-manager', validityDays: 90 } })));
    expect((await getJson<Cluster>('clusters.brook.dev', 'cm-issuer')).spec.certificates).toEqual({ issuer: 'cert-manager', validityDays: 90, renewalDays: 30 });
  });

  test('names too long for the StatefulSet, and a bad rack label', async () => {
    expectRejected(await create(cluster('c'.repeat(53), {})), 'metadata.name may be at most 52 characters');
    expectRejected(await create(cluster('rack', { rackLabel: 'not a label' })), 'spec.rackLabel', 'should match');
  });

  test('podTemplate keeps whatever it is given', async () => {
    const podTemplate = { metadata: { labels: { team: 'data' } }, spec: { tolerations: [{ key: 'dedicated', operator: 'Exists' }], nodeSelector: { disk: 'ssd' } } };
    expectSuccess(await apply(cluster('overrides', { podTemplate })));
    expect((await getJson<Cluster>('clusters.brook.dev', 'overrides')).spec.podTemplate).toEqual(podTemplate);
  });
});
