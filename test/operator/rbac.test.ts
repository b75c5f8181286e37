/**
 * RBAC: the operator runs as a ServiceAccount bound to exactly operatorClusterRules (operator/
 * rbac.ts, the rules the Helm chart renders) through kubeconfig impersonation, and does its
 * whole job; a sample of what it must not do is denied. The same for the brokers' Role: what
 * KubernetesStore does is allowed, the rest denied.
 */
import { beforeAll, describe, expect, test } from '@jest/globals';
import { adminKube, createNamespace, eventually, kubeConfigOf, loadExample, resources, startOperator } from './harness.ts';
import { useOperatorApiServer } from './jest.ts';
import { Kube, KubeError, type KubeObject } from '../../broker/k8s/index.ts';
import type { Operator } from '../../operator/operator.ts';
import { operatorClusterRules } from '../../operator/rbac.ts';

const { api, cleanup } = useOperatorApiServer();
const ns = 'rbac';
const operatorUser = 'system:serviceaccount:brook-system:brook-operator';
let admin: Kube;
let asOperator: Kube;
let operator: Operator;

async function status(p: Promise<unknown>): Promise<number> {
  try { await p; return 200; } catch (err) { if (err instanceof KubeError && err.status > 0) return err.status; throw err; }
}

beforeAll(async () => {
  admin = adminKube(api());
  await createNamespace(admin, 'brook-system');
  await createNamespace(admin, ns);
  await admin.create(resources.ServiceAccount, { metadata: { name: 'brook-operator', namespace: 'brook-system' } });
  await admin.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', {
    body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'brook-operator' }, rules: operatorClusterRules },
  });
  await admin.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    body: {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'brook-operator' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'brook-operator' },
      subjects: [{ kind: 'ServiceAccount', name: 'brook-operator', namespace: 'brook-system' }],
    },
  });
  asOperator = new Kube(kubeConfigOf(api(), operatorUser));
  // RBAC bindings take effect asynchronously (the authorizer's cache).
  await eventually(async () => (await status(asOperator.list(resources.Cluster))) === 200, 'the binding in effect');
  operator = await startOperator(api(), { impersonate: operatorUser, leaderElection: { namespace: 'brook-system', retryPeriodMs: 500, leaseDurationMs: 3000, renewDeadlineMs: 2000 } });
  cleanup(() => operator.stop());
}, 60_000);

describe('the operator\'s ClusterRole (operator/rbac.ts)', () => {
  test('is enough for the whole job: leader lease, owned objects including the brokers\' Role, status, finalizers, rolling restarts', async () => {
    await eventually(() => operator.isLeader, 'leadership');
    const example = loadExample('cluster.yaml');
    await admin.create(resources.Cluster, { ...example, metadata: { ...example.metadata, namespace: ns } });
    await admin.create(resources.Topic, { metadata: { name: 'orders', namespace: ns }, spec: { cluster: 'demo' } });
    await eventually(async () => {
      const c = await admin.get<KubeObject & { status?: { observedGeneration?: number } }>(resources.Cluster, ns, 'demo');
      return c.status?.observedGeneration === c.metadata.generation;
    }, 'the Cluster status');
    for (const [kind, name] of [['StatefulSet', 'demo'], ['Role', 'demo-broker'], ['RoleBinding', 'demo-broker'], ['ServiceAccount', 'demo-broker'], ['PodDisruptionBudget', 'demo'], ['ConfigMap', 'demo-config'], ['Service', 'demo-bootstrap']] as const) {
      expect(await admin.getOrUndefined(resources[kind], ns, name)).toBeDefined();
    }
    await eventually(async () => (await admin.get(resources.Topic, ns, 'orders')).metadata.finalizers?.includes('brook.dev/topic-data'), 'the finalizer');
    await admin.delete(resources.Topic, ns, 'orders');
    await eventually(async () => !(await admin.getOrUndefined(resources.Topic, ns, 'orders')), 'finalization');
    // Rolling restarts and rack annotations: pods can be patched and deleted.
    await admin.create(resources.Pod, { metadata: { name: 'scratch', namespace: ns }, spec: { containers: [{ name: 'c', image: 'x' }] } });
    expect(await status(asOperator.mergePatch(resources.Pod, ns, 'scratch', { metadata: { annotations: { 'brook.dev/rack': 'a' } } }))).toBe(200);
    expect(await status(asOperator.delete(resources.Pod, ns, 'scratch'))).toBe(200);
    expect(await status(asOperator.get(resources.Node, undefined, 'missing'))).toBe(404);
    const errors = (await operator.metrics.reconcileTotal.get()).values.filter((v) => v.labels.result === 'error').reduce((s, v) => s + v.value, 0);
    expect(errors).toBe(0);
    expect(operator.world.synced).toBe(true);
  });

  test('denies a sample of what the operator must not do', async () => {
    const forbidden: Array<[string, () => Promise<unknown>]> = [
      ['list secrets', () => asOperator.request('GET', '/api/v1/secrets')],
      ['create a ClusterRole', () => asOperator.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', { body: { metadata: { name: 'evil' }, rules: [] } })],
      ['bind cluster-admin', () => asOperator.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', { body: { metadata: { name: 'evil' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [] } })],
      ['create a Deployment', () => asOperator.request('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, { body: { metadata: { name: 'x' } } })],
      ['delete a namespace', () => asOperator.request('DELETE', `/api/v1/namespaces/${ns}`)],
      ['exec into a pod', () => asOperator.request('POST', `/api/v1/namespaces/${ns}/pods/demo-0/exec`)],
      ['create a pod', () => asOperator.request('POST', `/api/v1/namespaces/${ns}/pods`, { body: { metadata: { name: 'x' }, spec: { containers: [{ name: 'c', image: 'x' }] } } })],
      ['update a node', () => asOperator.request('PATCH', '/api/v1/nodes/x', { body: {}, contentType: 'application/merge-patch+json' })],
      ['list nodes', () => asOperator.request('GET', '/api/v1/nodes')],
      ['delete CRDs', () => asOperator.request('DELETE', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/clusters.brook.dev')],
      ['a Role granting more than it holds (escalation)', () => asOperator.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, { body: { metadata: { name: 'evil' }, rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['list'] }] } })],
    ];
    for (const [what, p] of forbidden) expect([what, await status(p())]).toEqual([what, 403]);
  });
});

describe('the brokers\' Role (created by the operator)', () => {
  const brokerUser = `system:serviceaccount:${ns}:demo-broker`;
  test('allows what KubernetesStore does and denies the rest', async () => {
    const broker = new Kube(kubeConfigOf(api(), brokerUser));
    await eventually(async () => (await status(broker.list(resources.Topic, ns))) === 200, 'the broker RoleBinding in effect');
    const cm = { metadata: { name: 'brook-demo-metadata', namespace: ns }, data: { clusterId: 'x', nextProducerId: '0' } };
    const created = await broker.create(resources.ConfigMap, cm);
    expect(await status(broker.replace(resources.ConfigMap, { ...created, data: { clusterId: 'x', nextProducerId: '10' } }))).toBe(200);
    await broker.create(resources.Topic, { metadata: { name: 't1', namespace: ns, labels: { 'brook.dev/cluster': 'demo' } }, spec: { cluster: 'demo' } });
    // (The operator adds its finalizer meanwhile: compare-and-swap from a fresh read, as the store does.)
    await eventually(async () => {
      const topic = await broker.get(resources.Topic, ns, 't1');
      return (await status(broker.replace(resources.Topic, { ...topic, status: { topicId: 'u', partitions: [] } }, 'status'))) === 200;
    }, 'a status write by the broker');
    expect(await status(broker.mergePatch(resources.Topic, ns, 't1', { metadata: { annotations: { 'data-removed.brook.dev/broker-0': 'u' } } }))).toBe(200);
    expect(await status(broker.create(resources.Lease, { metadata: { name: 'brook-demo-broker-0', namespace: ns }, spec: { holderIdentity: '0' } }))).toBe(200);
    expect(await status(broker.list(resources.Lease, ns))).toBe(200);
    expect(await status(broker.delete(resources.Lease, ns, 'brook-demo-broker-0'))).toBe(200);

    const denied: Array<[string, () => Promise<unknown>]> = [
      ['read another ConfigMap', () => broker.get(resources.ConfigMap, ns, 'demo-config')],
      ['list ConfigMaps', () => broker.list(resources.ConfigMap, ns)],
      ['list secrets', () => broker.request('GET', `/api/v1/namespaces/${ns}/secrets`)],
      ['delete the StatefulSet', () => broker.request('DELETE', `/apis/apps/v1/namespaces/${ns}/statefulsets/demo`)],
      ['edit the Cluster', () => broker.mergePatch(resources.Cluster, ns, 'demo', { spec: { replicas: 9 } })],
      ['topics in another namespace', () => broker.list(resources.Topic, 'default')],
      ['delete pods', () => broker.request('DELETE', `/api/v1/namespaces/${ns}/pods/demo-0`)],
    ];
    for (const [what, p] of denied) expect([what, await status(p())]).toEqual([what, 403]);
  });
});
