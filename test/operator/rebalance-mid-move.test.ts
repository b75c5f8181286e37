/**
 * The rebalancer's plan while a partition is in mid-move, against a real API server: Leases are
 * written here (no broker processes) and the brokers are reached through a recording ClusterAdmin.
 */
import { beforeAll, expect, test } from '@jest/globals';
import type { ClusterAdmin, ReassignmentAnswer } from '../../operator/kafka-admin.ts';
import { adminKube, createNamespace, eventually, loadExample, resources, startOperator } from './harness.ts';
import { useOperatorApiServer } from './jest.ts';
import type { Cluster, ClusterRebalanceStatus, Kube, KubeObject } from '../../broker/k8s/index.ts';

const { api, cleanup } = useOperatorApiServer();
const ns = 'midmove';
let kube: Kube;

const recordingAdmin: ClusterAdmin = {
  async alterPartitionReassignments(moves) {
    return moves.map((m): ReassignmentAnswer => ({ topic: m.topic, partition: m.partition, errorCode: 0, errorMessage: null }));
  },
  async partitionSizes() { return new Map(); },
  async setReplicationThrottle() {},
  async setThrottledReplicas() {},
  close() {},
};

const microTime = () => new Date().toISOString().replace(/Z$/, '000Z');

beforeAll(async () => {
  kube = adminKube(api());
  await createNamespace(kube, ns);
  // brokers 0-2 are members (long leases); broker 3 is gone
  for (let id = 0; id < 3; id++) {
    await kube.create(resources.Lease, {
      metadata: {
        name: `brook-demo-broker-${id}`, namespace: ns, labels: { 'brook.dev/cluster': 'demo', 'brook.dev/role': 'broker' },
        annotations: { 'brook.dev/host': '127.0.0.1', 'brook.dev/port': String(19092 + id), 'brook.dev/lease-ms': '600000' },
      },
      spec: { holderIdentity: String(id), leaseDurationSeconds: 600, renewTime: microTime() },
    });
  }
  // an RF 3 topic whose one partition is moving off broker 3 (abandoned by an earlier plan):
  // [0, 1, 3] → [0, 1, 2], so its replica list names four brokers until broker 2 catches up
  await kube.create(resources.Topic, { metadata: { name: 'safety', namespace: ns }, spec: { cluster: 'demo', partitions: 1, replicationFactor: 3 } });
  await kube.mergePatch(resources.Topic, ns, 'safety', {
    status: {
      topicId: 'x',
      partitions: [{
        partition: 0, replicas: [0, 1, 2, 3], leader: 0, isr: [0, 1, 3], leaderEpoch: 3, partitionEpoch: 7,
        reassignment: { targetReplicas: [0, 1, 2], addingReplicas: [2], removingReplicas: [3] },
      }],
    },
  }, 'status');
}, 60_000);

test('regression: a partition in mid-move counted above its replication factor got the plan refused (PlanRefused: "a replication factor above the 3 broker(s)") after a move was abandoned', async () => {
  const operator = await startOperator(api(), { adminFactory: () => recordingAdmin });
  cleanup(() => operator.stop());
  const example = loadExample('cluster.yaml') as KubeObject & { spec: Record<string, unknown> };
  await kube.create(resources.Cluster, { ...example, metadata: { ...example.metadata, namespace: ns }, spec: { ...example.spec, replicas: 3 } });
  const plan = await eventually(async () => {
    const r = (await kube.get<Cluster & KubeObject>(resources.Cluster, ns, 'demo')).status?.rebalance as ClusterRebalanceStatus | undefined;
    return r?.reason === 'ScaleDown' ? r : undefined;
  }, 'a plan draining broker 3', 20_000, 100);
  expect(plan.draining).toEqual([3]);
  expect(plan.message ?? '').not.toContain('replication factor above');
  expect(plan.state).not.toBe('Refused');
  // the partition in mid-move is left to its reassignment: nothing moves it again
  expect(plan.moves ?? []).toEqual([]);
}, 60_000);
