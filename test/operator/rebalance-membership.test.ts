/**
 * Which brokers the rebalancer counts as members, against a real API server: the brokers' Leases
 * are written here (no broker processes), and the operator reaches "the brokers" through a
 * recording ClusterAdmin (the moves it starts are what this file checks).
 */
import { beforeAll, expect, test } from '@jest/globals';
import type { ClusterAdmin, ReassignmentAnswer } from '../../operator/kafka-admin.ts';
import { adminKube, createNamespace, eventually, loadExample, resources, startOperator } from './harness.ts';
import { useOperatorApiServer } from './jest.ts';
import type { Cluster, ClusterRebalanceStatus, Kube, KubeObject } from '../../broker/k8s/index.ts';

const { api, cleanup } = useOperatorApiServer();
const ns = 'membership';
let kube: Kube;
const started: Array<{ topic: string; partition: number; replicas: number[] | null }> = [];

const recordingAdmin: ClusterAdmin = {
  async alterPartitionReassignments(moves) {
    started.push(...moves);
    return moves.map((m): ReassignmentAnswer => ({ topic: m.topic, partition: m.partition, errorCode: 0, errorMessage: null }));
  },
  async partitionSizes() { return new Map(); },
  async setReplicationThrottle() {},
  async setThrottledReplicas() {},
  close() {},
};

const cluster = () => kube.get<Cluster & KubeObject>(resources.Cluster, ns, 'demo');
const leaseName = (id: number) => `brook-demo-broker-${id}`;
const microTime = () => new Date().toISOString().replace(/Z$/, '000Z');

async function renew(id: number): Promise<void> {
  await kube.mergePatch(resources.Lease, ns, leaseName(id), { spec: { renewTime: microTime() } });
}

let renewing = true;
let renewals: Promise<void> | undefined;

beforeAll(async () => {
  kube = adminKube(api());
  await createNamespace(kube, ns);
  for (let id = 0; id < 5; id++) {
    await kube.create(resources.Lease, {
      metadata: {
        name: leaseName(id), namespace: ns, labels: { 'brook.dev/cluster': 'demo', 'brook.dev/role': 'broker' },
        annotations: { 'brook.dev/host': '127.0.0.1', 'brook.dev/port': String(19092 + id), 'brook.dev/lease-ms': '1000' },
      },
      spec: { holderIdentity: String(id), leaseDurationSeconds: 1, renewTime: microTime() },
    });
  }
  // A topic whose replicas are all on brokers 0-2 (as the brokers' controller would have written it).
  await kube.create(resources.Topic, { metadata: { name: 'events', namespace: ns }, spec: { cluster: 'demo', partitions: 6, replicationFactor: 2 } });
  await kube.mergePatch(resources.Topic, ns, 'events', {
    status: { topicId: 'x', partitions: Array.from({ length: 6 }, (_, p) => ({ partition: p, replicas: [p % 3, (p + 1) % 3], leader: p % 3, isr: [p % 3, (p + 1) % 3], leaderEpoch: 1, partitionEpoch: 1 })) },
  }, 'status');
}, 60_000);

test('regression: a scale-up was never planned while the new brokers\' leases flapped (the rebalancer wanted every broker live at one instant; a busy operator sees short leases run out between renewals)', async () => {
  const operator = await startOperator(api(), { adminFactory: () => recordingAdmin });
  cleanup(() => operator.stop());
  // A 3-broker Cluster first: the operator adopts the Leases (an owner reference: a write that
  // makes every Lease look freshly renewed once).
  const example = loadExample('cluster.yaml') as KubeObject & { spec: Record<string, unknown> };
  await kube.create(resources.Cluster, { ...example, metadata: { ...example.metadata, namespace: ns }, spec: { ...example.spec, replicas: 3 } });
  await eventually(async () => (await kube.list(resources.Lease, ns)).items.every((l) => l.metadata.ownerReferences?.length), 'the Leases adopted', 10_000, 100);
  await eventually(async () => (await cluster()).status?.rebalance?.state === 'Completed', 'the 3-broker plan', 10_000, 100);
  // Brokers 0-2 renew their 1 s leases every 250 ms. Brokers 3 and 4 renew theirs every 4 s, two
  // seconds apart: each is a member all along, but the operator never sees both live at once.
  const t0 = Date.now();
  renewals = (async () => {
    while (renewing) {
      const phase = Math.floor((Date.now() - t0) / 250) % 16;
      await Promise.all([0, 1, 2, ...(phase === 0 ? [3] : []), ...(phase === 8 ? [4] : [])].map(renew));
      await new Promise((r) => setTimeout(r, 250 - ((Date.now() - t0) % 250)));
    }
  })();
  cleanup(async () => { renewing = false; await renewals; });
  const seen = new Set<string>();
  while (Date.now() - t0 < 4_500) {
    const members = operator.world.brokerRegistrations(ns, 'demo');
    if (Date.now() - t0 > 1_500) seen.add([3, 4].filter((b) => members.has(b)).join('+') || 'neither');
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(seen.has('3+4')).toBe(false);
  await kube.mergePatch(resources.Cluster, ns, 'demo', { spec: { replicas: 5 } });

  const plan = await eventually(async () => {
    const r = (await cluster()).status?.rebalance as ClusterRebalanceStatus | undefined;
    return r?.brokers?.length === 5 ? r : undefined;
  }, 'a plan over the 5 brokers', 20_000, 200);
  expect(plan.reason).toBe('ScaleUp');
  expect(plan.partitionsToMove).toBeGreaterThan(0);
  expect(plan.moves!.some((m) => m.replicas.includes(3))).toBe(true);
  expect(plan.moves!.some((m) => m.replicas.includes(4))).toBe(true);
  // and the moves onto them were started
  await eventually(() => started.some((m) => m.replicas?.includes(3)) && started.some((m) => m.replicas?.includes(4)), 'moves onto brokers 3 and 4 started', 10_000, 100);
}, 60_000);
