/**
 * Brook as a user meets it on Kubernetes, on whatever cluster KUBECONFIG names (the local single-node
 * cluster by default, kind elsewhere), in a fresh namespace: `helm install` of the operator chart
 * with the image under test, `kubectl apply -f examples/cluster.yaml` unchanged (three brokers, 20Gi
 * volumes), `kubectl apply -f examples/topic.yaml`, then records produced and consumed with kcat from
 * a pod, through the bootstrap Service, and from the host through the external (NodePort) listener.
 *
 * The tests run in order and build on each other (one Cluster for the file); each prints the time
 * it measured.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { join } from 'node:path';
import { repoRoot } from '../harness/paths.ts';
import { kcat } from '../harness/tools.ts';
import {
  createNamespace, deleteBrookObjects, deleteNamespace, diagnose, getJson, helm, images, kubectl, ok, podReady, runPod, uniqueName, waitFor,
  type Condition, type Pod,
} from './kube.ts';

const CHART = join(repoRoot, 'charts', 'brook-operator');
const CLUSTER = 'demo'; // examples/cluster.yaml
const TOPIC = 'orders'; // examples/topic.yaml
const BROKERS = 3;

let ns = '';
let release = '';
const timings: Record<string, number> = {};

function report(what: string, ms: number): void {
  timings[what] = ms;
  process.stderr.write(`[e2e] ${what}: ${(ms / 1000).toFixed(1)} s\n`);
}

beforeAll(async () => {
  ns = await createNamespace('brook-e2e');
  release = uniqueName('brook');
}, 60_000);

afterAll(async () => {
  if (!ns) return;
  process.stderr.write(`[e2e] timings: ${JSON.stringify(timings)}\n`);
  // As a user tears down: Topics (their finalizer waits for the brokers to drop the data), the
  // Cluster, the operator, the namespace. Objects stuck on a finalizer fail the file, named.
  const stuck = await deleteBrookObjects(ns, 120_000);
  if (release) ok(await helm(['uninstall', release, '-n', ns, '--wait', '--timeout', '120s']));
  await deleteNamespace(ns);
  if (stuck.length) throw new Error(`teardown: objects stuck on finalizers (removed by force so the namespace could go): ${stuck.join(', ')}`);
}, 600_000);

describe('Brook on Kubernetes (KUBECONFIG)', () => {
  test('helm install of charts/brook-operator with the image under test: the operator becomes Available', async () => {
    const img = images();
    const started = Date.now();
    ok(await helm(['install', release, CHART, '-n', ns,
      '--set', `image.repository=${img.brook.repository}`, '--set', `image.tag=${img.brook.tag}`, '--set', 'image.pullPolicy=IfNotPresent',
      '--set', `tests.image.repository=${img.kcat.slice(0, img.kcat.lastIndexOf(':'))}`, '--set', `tests.image.tag=${img.kcat.slice(img.kcat.lastIndexOf(':') + 1)}`,
      '--set', `tests.cluster=${CLUSTER}`,
      '--wait', '--timeout', '180s'], { timeoutMs: 200_000 }));
    report('helm install → operator Available', Date.now() - started);
    const deployments = await getJson<{ items: Array<{ metadata: { name: string }; spec: { template: { spec: { containers: Array<{ image: string }> } } }; status: { availableReplicas?: number } }> }>(
      ['get', 'deployments', '-n', ns, '-l', `app.kubernetes.io/instance=${release}`]);
    expect(deployments.items).toHaveLength(1);
    expect(deployments.items[0].spec.template.spec.containers[0].image).toBe(img.brook.ref);
    expect(deployments.items[0].status.availableReplicas).toBe(1);
  }, 240_000);

  test(`kubectl apply -f examples/cluster.yaml (unchanged): ${BROKERS} Ready broker pods and the Cluster's Ready condition`, async () => {
    const started = Date.now();
    ok(await kubectl(['apply', '-n', ns, '-f', join(repoRoot, 'examples', 'cluster.yaml')]));
    const pods = await waitFor(`${BROKERS} Ready broker pods`, ns, 300_000, async () => {
      const list = await getJson<{ items: Pod[] }>(['get', 'pods', '-n', ns, '-l', `app.kubernetes.io/instance=${CLUSTER}`]);
      const brokers = list.items.filter((p) => p.metadata.labels?.['statefulset.kubernetes.io/pod-name']);
      return brokers.length === BROKERS && brokers.every(podReady) ? brokers : undefined;
    });
    report(`apply cluster.yaml → ${BROKERS} Ready brokers`, Date.now() - started);
    const ready = await waitFor('the Cluster\'s Ready condition', ns, 120_000, async () => {
      const c = await getJson<{ status?: { conditions?: Condition[] } }>(['get', `clusters.brook.dev/${CLUSTER}`, '-n', ns]);
      const cond = c.status?.conditions?.find((x) => x.type === 'Ready');
      return cond?.status === 'True' ? cond : undefined;
    });
    report('apply cluster.yaml → Cluster Ready', Date.now() - started);
    expect(ready.status).toBe('True');
    expect(pods.map((p) => p.metadata.name).sort()).toEqual([0, 1, 2].map((i) => `${CLUSTER}-${i}`));
    // Each broker got its own 20Gi volume.
    const pvcs = await getJson<{ items: Array<{ status: { phase: string; capacity?: { storage: string } } }> }>(['get', 'pvc', '-n', ns]);
    expect(pvcs.items.filter((p) => p.status.phase === 'Bound')).toHaveLength(BROKERS);
  }, 450_000);

  test('kubectl apply -f examples/topic.yaml: a pod produces with kcat through the bootstrap Service and consumes every record back', async () => {
    const img = images();
    const started = Date.now();
    ok(await kubectl(['apply', '-n', ns, '-f', join(repoRoot, 'examples', 'topic.yaml')]));
    const bootstrap = `${CLUSTER}-bootstrap.${ns}.svc:9092`;
    const count = 1000;
    const runId = uniqueName('run');
    // Produce until the topic exists, then read every record back and check this run's are all there.
    // acks=all: examples/topic.yaml has replicationFactor 3 on the example Cluster, whose
    // min.insync.replicas is 2.
    const script = [
      'set -e',
      `end=$(( $(date +%s) + 120 ))`,
      `until seq 1 ${count} | sed "s/^/${runId} /" | kcat -P -b ${bootstrap} -t ${TOPIC} -X acks=all -X message.timeout.ms=10000 -X topic.metadata.refresh.interval.ms=500; do`,
      '  [ "$(date +%s)" -lt "$end" ] || { echo "could not produce"; exit 1; }; sleep 1',
      'done',
      `echo "produced ${count} at $(date +%s%3N)"`,
      `kcat -C -b ${bootstrap} -t ${TOPIC} -o beginning -e -q -f '%p %o %s\\n' > /dev/stdout`,
    ].join('\n');
    const client = uniqueName('kcat');
    const { phase, log } = await runPod(ns, client, {
      securityContext: { runAsNonRoot: true, runAsUser: 65534, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [{
        name: 'kcat', image: img.kcat, imagePullPolicy: 'IfNotPresent', command: ['/bin/sh', '-c', script],
        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
      }],
    }, 240_000);
    if (phase !== 'Succeeded') throw new Error(`the kcat pod ${phase}:\n${log}\n${await diagnose(ns)}`);
    report('apply topic.yaml → all records consumed back in a pod', Date.now() - started);
    const records = log.split('\n').filter((l) => l.includes(` ${runId} `));
    const values = records.map((l) => Number(l.split(' ').pop())).sort((a, b) => a - b);
    expect(values).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    // Records of one partition have distinct, increasing offsets.
    const byPartition = new Map<string, number[]>();
    for (const r of records) {
      const [p, o] = r.split(' ');
      byPartition.set(p, [...(byPartition.get(p) ?? []), Number(o)]);
    }
    for (const offsets of byPartition.values()) expect(new Set(offsets).size).toBe(offsets.length);
  }, 300_000);

  test('from the host, through the external listener (a NodePort per broker, advertised as node address + node port): kcat produces and consumes', async () => {
    const nodePorts = await Promise.all([0, 1, 2].map(async (i) => {
      const svc = await getJson<{ spec: { type: string; ports: Array<{ nodePort?: number }> } }>(['get', 'service', `${CLUSTER}-${i}-external`, '-n', ns]);
      expect(svc.spec.type).toBe('NodePort');
      return svc.spec.ports[0].nodePort!;
    }));
    const node = await getJson<{ items: Array<{ status: { addresses: Array<{ type: string; address: string }> } }> }>(['get', 'nodes']);
    const address = node.items[0].status.addresses.find((a) => a.type === 'InternalIP')!.address;
    const bootstrap = `${address}:${nodePorts[0]}`;
    // Metadata through the external listener names every broker at the node address and its own node port.
    const metadata = await waitFor('metadata through the external listener', ns, 60_000, async () => {
      const r = await kcat(['-b', bootstrap, '-L', '-J', '-m', '5']);
      if (r.code !== 0) throw new Error(r.stderr);
      const md = JSON.parse(r.stdout.toString()) as { brokers: Array<{ id: number; name: string }> };
      return md.brokers.length === BROKERS ? md : undefined;
    });
    expect(metadata.brokers.map((b) => b.name).sort()).toEqual(nodePorts.map((p) => `${address}:${p}`).sort());
    const runId = uniqueName('host');
    const count = 200;
    const started = Date.now();
    const input = Array.from({ length: count }, (_, i) => `${runId} ${i + 1}`).join('\n') + '\n';
    ok(await kcat(['-P', '-b', bootstrap, '-t', TOPIC, '-X', 'acks=all'], { input, timeoutMs: 60_000 }));
    const consumed = ok(await kcat(['-C', '-b', bootstrap, '-t', TOPIC, '-o', 'beginning', '-e', '-q'], { timeoutMs: 60_000 }));
    report('host produce + consume through the external listener', Date.now() - started);
    const values = consumed.split('\n').filter((l) => l.startsWith(`${runId} `)).map((l) => Number(l.split(' ')[1])).sort((a, b) => a - b);
    expect(values).toEqual(Array.from({ length: count }, (_, i) => i + 1));
  }, 180_000);
});

