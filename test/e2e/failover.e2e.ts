/**
 * Brook under failure on Kubernetes (KUBECONFIG), in a fresh namespace: the operator chart,
 * examples/cluster.yaml unchanged (3 brokers, min.insync.replicas 2), a topic with replication
 * factor 3, and an acks=all idempotent producer load from the host (kafkajs, through the external
 * NodePort listener) while
 *   - the pod of a partition leader is deleted (`kubectl delete pod`): a new leader acknowledges
 *     within 5 s, the pod comes back on its own PersistentVolumeClaim with its data, rejoins the ISR,
 *     and every acknowledged record is read back at its acknowledged partition and offset;
 *   - a broker config of the Cluster changes: the operator rolls the broker pods one at a time (a
 *     pod watch sees at most one broker unavailable at any moment) and the load never gets
 *     NOT_ENOUGH_REPLICAS.
 * The tests run in order on one Cluster; each prints what it measured.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../harness/paths.ts';
import { AckedLoad, missingAcks } from './acked-load.ts';
import {
  brokerPods, createNamespace, deleteBrookObjects, deleteNamespace, externalListener, getJson, helm, images, kubectl, ok, podReady,
  topicPartitions, uniqueName, waitClusterReady, waitFor, watchBrokerAvailability, type Pod,
} from './kube.ts';

const CHART = join(repoRoot, 'charts', 'brook-operator');
const CLUSTER = 'demo'; // examples/cluster.yaml
const BROKERS = 3;
const TOPIC = 'failover';
const PARTITIONS = 3;

let ns = '';
let release = '';
let external: { bootstrap: string; brokerAt: Map<string, number> };

function report(what: string, value: string): void {
  process.stderr.write(`[e2e] ${what}: ${value} (load average ${loadavg().map((l) => l.toFixed(1)).join(' ')})\n`);
}

beforeAll(async () => {
  ns = await createNamespace('brook-failover');
  release = uniqueName('brook');
  const img = images();
  // This release's operator watches only this namespace: other engineers' releases share the cluster.
  ok(await helm(['install', release, CHART, '-n', ns,
    '--set', `image.repository=${img.brook.repository}`, '--set', `image.tag=${img.brook.tag}`, '--set', 'tests.enabled=false', '--set', `watchNamespaces={${ns}}`,
    '--wait', '--timeout', '180s'], { timeoutMs: 200_000 }));
  ok(await kubectl(['apply', '-n', ns, '-f', join(repoRoot, 'examples', 'cluster.yaml')]));
  await waitClusterReady(ns, CLUSTER, BROKERS, 300_000);
  const topic = {
    apiVersion: 'brook.dev/v1alpha1', kind: 'Topic', metadata: { name: TOPIC, namespace: ns },
    spec: { cluster: CLUSTER, partitions: PARTITIONS, replicationFactor: 3, config: { 'min.insync.replicas': '2' } },
  };
  ok(await kubectl(['apply', '-f', '-'], { input: JSON.stringify(topic) }));
  await waitFor(`Topic ${TOPIC} placed with every replica in sync`, ns, 120_000, async () => {
    const ps = await topicPartitions(ns, TOPIC);
    return ps.length === PARTITIONS && ps.every((p) => p.leader >= 0 && p.isr.length === 3) ? ps : undefined;
  });
  external = await externalListener(ns, CLUSTER, BROKERS);
}, 600_000);

afterAll(async () => {
  if (!ns) return;
  const stuck = await deleteBrookObjects(ns, 120_000);
  if (release) await helm(['uninstall', release, '-n', ns, '--wait', '--timeout', '120s']);
  await deleteNamespace(ns);
  if (stuck.length) throw new Error(`teardown: objects stuck on finalizers: ${stuck.join(', ')}`);
}, 600_000);

/** stat of a file on a broker's volume, from inside its pod (the image has node, no coreutils). */
async function statOnBroker(pod: string, path: string): Promise<{ ino: number; size: number } | undefined> {
  const script = `try { const s = require('fs').statSync(${JSON.stringify(path)}); console.log(JSON.stringify({ ino: s.ino, size: s.size })) } catch { console.log('null') }`;
  return JSON.parse(ok(await kubectl(['exec', '-n', ns, pod, '-c', 'broker', '--', 'node', '-e', script])).trim()) ?? undefined;
}

async function readOnBroker(pod: string, path: string): Promise<string> {
  return ok(await kubectl(['exec', '-n', ns, pod, '-c', 'broker', '--', 'node', '-e', `try { process.stdout.write(require('fs').readFileSync(${JSON.stringify(path)}, 'utf8')) } catch {}`]));
}

describe('Brook under failure on Kubernetes (KUBECONFIG)', () => {
  test('kubectl delete pod of a partition leader under an acks=all idempotent load: a new leader acks within 5 s, the pod returns with its PVC and data, rejoins the ISR, no acknowledged record is lost', async () => {
    const before = await topicPartitions(ns, TOPIC);
    const leader = before.find((p) => p.partition === 0)!.leader;
    const pod = `${CLUSTER}-${leader}`;
    const oldPod = await getJson<Pod & { metadata: { uid: string }; spec: { volumes: Array<{ name: string; persistentVolumeClaim?: { claimName: string } }> } }>(['get', 'pod', pod, '-n', ns]);
    const claim = oldPod.spec.volumes.find((v) => v.persistentVolumeClaim)!.persistentVolumeClaim!.claimName;
    const oldClaim = await getJson<{ metadata: { uid: string } }>(['get', 'pvc', claim, '-n', ns]);
    const runId = uniqueName('fo');
    const load = new AckedLoad({ bootstrap: external.bootstrap, topic: TOPIC, partitions: [0, 1, 2], runId });
    await load.start();
    try {
      await waitFor('acks on every partition before the deletion', ns, 60_000, async () => ([0, 1, 2].every((p) => load.acked(p).length >= 20) ? true : undefined));
      // The data directory on the leader's volume: a marker next to it, and the identity (inode) of
      // partition 0's first segment, which a broker re-fetching onto an empty volume would re-create.
      const marker = `/var/lib/brook/e2e-marker-${runId}`;
      ok(await kubectl(['exec', '-n', ns, pod, '-c', 'broker', '--', 'node', '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, ${JSON.stringify(runId)})`]));
      const segment = `/var/lib/brook/data/${TOPIC}-0/00000000000000000000.log`;
      const segmentBefore = await statOnBroker(pod, segment);
      expect(segmentBefore?.size).toBeGreaterThan(0);

      const deletedAt = Date.now();
      ok(await kubectl(['delete', 'pod', pod, '-n', ns, '--wait=false']));
      // First acknowledgement of partition 0 carried by a Produce response from another broker.
      const firstNew = await waitFor('an ack of partition 0 from a new leader', ns, 60_000, async () =>
        load.acked(0).find((a) => a.at >= deletedAt && external.brokerAt.get(a.broker) !== undefined && external.brokerAt.get(a.broker) !== leader));
      const failoverMs = firstNew.at - deletedAt;
      report(`leader pod ${pod} deleted → first acknowledged produce from the new leader (broker ${external.brokerAt.get(firstNew.broker)})`, `${(failoverMs / 1000).toFixed(2)} s`);
      // The longest gap between acks of partition 0 around the deletion.
      const acks0 = load.acked(0).filter((a) => a.at >= deletedAt - 1_000);
      const gap = Math.max(firstNew.at - deletedAt, ...acks0.slice(1).map((a, i) => a.at - acks0[i]!.at));
      report('longest pause between acknowledgements of partition 0', `${(gap / 1000).toFixed(2)} s`);
      expect(failoverMs).toBeLessThanOrEqual(5_000);

      // The pod comes back (a new pod, same name, same claim) and is Ready.
      const back = await waitFor(`${pod} back and Ready`, ns, 240_000, async () => {
        const p = await getJson<Pod & { metadata: { uid: string }; spec: { volumes: Array<{ persistentVolumeClaim?: { claimName: string } }> } }>(['get', 'pod', pod, '-n', ns]).catch(() => undefined);
        return p && p.metadata.uid !== oldPod.metadata.uid && podReady(p) ? p : undefined;
      });
      report(`leader pod ${pod} deleted → back Ready`, `${((Date.now() - deletedAt) / 1000).toFixed(1)} s`);
      expect(back.spec.volumes.find((v) => v.persistentVolumeClaim)!.persistentVolumeClaim!.claimName).toBe(claim);
      expect((await getJson<{ metadata: { uid: string } }>(['get', 'pvc', claim, '-n', ns])).metadata.uid).toBe(oldClaim.metadata.uid);
      // Same volume, same data directory: the marker is there and the first segment is the same file.
      expect(await readOnBroker(pod, marker)).toBe(runId);
      const segmentAfter = await statOnBroker(pod, segment);
      expect(segmentAfter?.ino).toBe(segmentBefore!.ino);
      expect(segmentAfter!.size).toBeGreaterThanOrEqual(1);

      // It rejoins the ISR of every partition (Topic status), while the load goes on.
      const rejoined = Date.now();
      await waitFor(`broker ${leader} back in every ISR of ${TOPIC}`, ns, 180_000, async () => {
        const ps = await topicPartitions(ns, TOPIC);
        return ps.length === PARTITIONS && ps.every((p) => p.isr.includes(leader)) ? ps : undefined;
      });
      report(`broker ${leader} Ready → in every ISR`, `${((Date.now() - rejoined) / 1000).toFixed(1)} s`);
      await waitFor('acks on every partition after the rejoin', ns, 60_000, async () => {
        const now = Date.now();
        return [0, 1, 2].every((p) => load.acked(p).some((a) => a.at >= now - 5_000)) ? true : undefined;
      });
    } finally {
      await load.stop();
    }
    report('producer errors by type', JSON.stringify(Object.fromEntries(load.errors)));
    expect(load.acks.length).toBeGreaterThan(60);
    expect(await missingAcks([...external.brokerAt.keys()].join(','), TOPIC, load.acks)).toEqual([]);
  }, 600_000);

  test('a broker config change in the Cluster (log.retention.ms): the operator rolls the pods one at a time, never two brokers down, and the acks=all load never sees NOT_ENOUGH_REPLICAS', async () => {
    const initial = await brokerPods(ns, CLUSTER);
    expect(initial.every(podReady)).toBe(true);
    const uids = new Map(initial.map((p) => [p.metadata.name, (p.metadata as { uid?: string }).uid]));

    // Watch the broker pods: unavailable = not Ready, terminating, or missing.
    const availability = await watchBrokerAvailability(ns, CLUSTER, BROKERS);

    const runId = uniqueName('roll');
    const load = new AckedLoad({ bootstrap: external.bootstrap, topic: TOPIC, partitions: [0, 1, 2], runId });
    await load.start();
    let rolledMs = 0;
    try {
      await waitFor('the pod watch synced and acks on every partition', ns, 60_000, async () => (availability.armed() && [0, 1, 2].every((p) => load.acked(p).length >= 10) ? true : undefined));
      const started = Date.now();
      ok(await kubectl(['patch', `clusters.brook.dev/${CLUSTER}`, '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { config: { 'log.retention.ms': '259200000' } } })]));
      // Every broker pod replaced (new uid), Ready, and the StatefulSet's pods all at its update revision.
      await waitFor('every broker pod restarted onto the new config', ns, 480_000, async () => {
        const sts = await getJson<{ status: { updateRevision?: string } }>(['get', 'statefulset', CLUSTER, '-n', ns]);
        const pods = await brokerPods(ns, CLUSTER);
        return pods.length === BROKERS && pods.every((p) => podReady(p) && uids.get(p.metadata.name) !== (p.metadata as { uid?: string }).uid
          && p.metadata.labels?.['controller-revision-hash'] === sts.status.updateRevision) ? pods : undefined;
      });
      rolledMs = Date.now() - started;
      report('config change → all 3 brokers rolled', `${(rolledMs / 1000).toFixed(1)} s`);
      // The brokers run with the new value.
      const cm = await getJson<{ data: Record<string, string> }>(['get', 'configmap', `${CLUSTER}-config`, '-n', ns]);
      expect(cm.data['server.properties']).toContain('log.retention.ms=259200000');
      // The load keeps being acknowledged after the roll.
      await waitFor('acks on every partition after the roll', ns, 60_000, async () => {
        const now = Date.now();
        return [0, 1, 2].every((p) => load.acked(p).some((a) => a.at >= now - 5_000)) ? true : undefined;
      });
    } finally {
      await load.stop();
      availability.stop();
    }
    report('max brokers unavailable during the roll', String(availability.maxUnavailable()));
    report('producer errors by type during the roll', JSON.stringify(Object.fromEntries(load.errors)));
    availability.check();
    // Each broker went down (it was rolled) and never two at once.
    expect(availability.maxUnavailable()).toBe(1);
    expect(availability.log().filter((l) => / 2 unavailable| 3 unavailable/.test(l))).toEqual([]);
    expect(load.errors.get('NOT_ENOUGH_REPLICAS') ?? 0).toBe(0);
    expect(load.errors.get('NOT_ENOUGH_REPLICAS_AFTER_APPEND') ?? 0).toBe(0);
    expect(load.acks.length).toBeGreaterThan(60);
    expect(await missingAcks([...external.brokerAt.keys()].join(','), TOPIC, load.acks)).toEqual([]);
  }, 600_000);
});
