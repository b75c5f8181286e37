/**
 * Storage growth against a real API server: a larger spec.storage.size grows the brokers' claims
 * in place when their StorageClass allows expansion, and otherwise leaves them as they are with a
 * StorageExpanded condition that says why. (No volume is provisioned here: the claims are
 * created as the StatefulSet controller would, and stay Pending.)
 */
import { beforeAll, expect, test } from '@jest/globals';
import { adminKube, createNamespace, eventually, resources, startOperator } from './harness.ts';
import { useOperatorApiServer } from './jest.ts';
import type { Cluster, Kube, KubeObject } from '../../broker/k8s/index.ts';

const { api, cleanup } = useOperatorApiServer();
const ns = 'storage';
let kube: Kube;
type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const condition = async (name: string) => (await kube.get<Cluster & KubeObject>(resources.Cluster, ns, name)).status?.conditions?.find((c) => c.type === 'StorageExpanded');
const claimSize = async (name: string) => (await kube.get<KubeObject & Any>(resources.PersistentVolumeClaim, ns, name)).spec.resources.requests.storage;

async function storageClass(name: string, allowVolumeExpansion: boolean): Promise<void> {
  await kube.request('POST', '/apis/storage.k8s.io/v1/storageclasses', { body: { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name }, provisioner: 'example.com/none', allowVolumeExpansion } });
}

async function clusterWithClaims(name: string, className: string): Promise<void> {
  await kube.create(resources.Cluster, { metadata: { name, namespace: ns }, spec: { replicas: 2, storage: { size: '10Gi', class: className } } });
  await eventually(() => kube.getOrUndefined(resources.StatefulSet, ns, name), 'the StatefulSet', 10_000);
  for (const i of [0, 1]) {
    await kube.create(resources.PersistentVolumeClaim, { metadata: { name: `data-${name}-${i}`, namespace: ns },
      spec: { accessModes: ['ReadWriteOnce'], storageClassName: className, resources: { requests: { storage: '10Gi' } } } });
  }
}

beforeAll(async () => {
  kube = adminKube(api());
  await createNamespace(kube, ns);
  const operator = await startOperator(api());
  cleanup(() => operator.stop());
  await storageClass('fixed', false);
  await storageClass('growable', true);
}, 60_000);

test('a larger storage.size on a StorageClass without allowVolumeExpansion leaves the claims and says why in StorageExpanded', async () => {
  await clusterWithClaims('fixed', 'fixed');
  await kube.mergePatch(resources.Cluster, ns, 'fixed', { spec: { storage: { size: '20Gi' } } });
  const c = await eventually(async () => { const x = await condition('fixed'); return x?.reason === 'ExpansionNotSupported' ? x : undefined; }, 'StorageExpanded ExpansionNotSupported');
  expect(c.status).toBe('False');
  expect(c.message).toContain('StorageClass fixed does not allow volume expansion');
  expect(await claimSize('data-fixed-0')).toBe('10Gi');
  expect(await claimSize('data-fixed-1')).toBe('10Gi');
});

test('a larger storage.size on a StorageClass that allows expansion is asked of the claims; the API server\'s refusal (claims not bound here) becomes the condition, not a failed reconcile', async () => {
  await clusterWithClaims('grow', 'growable');
  await kube.mergePatch(resources.Cluster, ns, 'grow', { spec: { storage: { size: '20Gi' } } });
  // Unbound claims cannot be resized ("spec is immutable after creation except resources.requests
  // ... for bound claims"): the operator asked, and the condition carries the answer.
  const c = await eventually(async () => { const x = await condition('grow'); return x ? x : undefined; }, 'StorageExpanded');
  expect(c).toMatchObject({ status: 'False', reason: 'ExpansionRefused' });
  expect(c.message).toContain('refused to grow data-grow-0 to 20Gi');
  const ready = (await kube.get<Cluster & KubeObject>(resources.Cluster, ns, 'grow')).status?.conditions?.find((x) => x.type === 'Degraded');
  expect(ready?.reason).not.toBe('ReconcileFailed');
});
