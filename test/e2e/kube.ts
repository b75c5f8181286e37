/**
 * The e2e suite's view of a cluster: kubectl and helm against $KUBECONFIG (the local cluster the
 * global setup brought up, or kind, or any other), a fresh namespace per test file, waits that poll
 * the cluster's state, and a diagnosis (pods, events, logs) attached to every failed wait.
 */
import { randomBytes } from 'node:crypto';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { join } from 'node:path';
import { findKubectl } from '../k8s/envtest.ts';
import { helmBin } from '../helm/helm.ts';
import { cacheDir } from '../../scripts/cache-dir.mjs';
import { describeRun, run, type RunResult } from '../harness/tools.ts';
import { clusterPaths, recycleReleasedVolumes } from '../cluster/cluster.ts';

export function kubeconfig(): string {
  const kc = process.env.KUBECONFIG;
  if (!kc) throw new Error('KUBECONFIG is not set (the e2e global setup sets it; run the suite with `npm run e2e`)');
  return kc;
}

/** The images under test (set by the global setup, or by whoever loaded them into the cluster). */
export function images(): { brook: { repository: string; tag: string; ref: string }; kcat: string } {
  const ref = process.env.BROOK_IMAGE;
  const kcat = process.env.BROOK_KCAT_IMAGE;
  if (!ref || !kcat) throw new Error('BROOK_IMAGE and BROOK_KCAT_IMAGE must name the images loaded into the cluster');
  const at = ref.lastIndexOf(':');
  return { brook: { repository: ref.slice(0, at), tag: ref.slice(at + 1), ref }, kcat };
}

/** kubectl within one minor version of the 1.34 server (test/k8s/envtest.ts findKubectl). */
export function kubectl(args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return run(findKubectl(), ['--kubeconfig', kubeconfig(), ...args], { input: opts.input, timeoutMs: opts.timeoutMs ?? 60_000 });
}

export function helm(args: readonly string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
  const home = join(cacheDir(), 'helm-home');
  return run(helmBin(), ['--kubeconfig', kubeconfig(), ...args], {
    timeoutMs: opts.timeoutMs ?? 300_000,
    env: { HELM_CACHE_HOME: join(home, 'cache'), HELM_CONFIG_HOME: join(home, 'config'), HELM_DATA_HOME: join(home, 'data') },
  });
}

/** Throws with the whole run (command, exit, output) unless it succeeded; returns stdout. */
export function ok(r: RunResult): string {
  if (r.code !== 0 || r.timedOut) throw new Error(`command failed\n${describeRun(r)}`);
  return r.stdout.toString('utf8');
}

export async function getJson<T>(args: readonly string[]): Promise<T> {
  return JSON.parse(ok(await kubectl([...args, '-o', 'json']))) as T;
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

/**
 * What a person would look at when a wait fails: pods, recent events, and the logs of every pod
 * (the tail for ready ones, more for unready ones and the previous run of restarted ones): a
 * broker's or the operator's log is often the only trace of why a ready pod misbehaved.
 */
export async function diagnose(ns: string): Promise<string> {
  const parts: string[] = [];
  const add = async (title: string, args: string[]) => {
    const r = await kubectl(args, { timeoutMs: 30_000 }).catch((e: Error) => ({ stdout: Buffer.from(''), stderr: e.message }) as RunResult);
    parts.push(`--- ${title}\n${r.stdout.toString('utf8')}${r.stderr}`);
  };
  await add('pods', ['get', 'pods', '-n', ns, '-o', 'wide']);
  await add('pvc', ['get', 'pvc', '-n', ns]);
  await add('clusters, topics', ['get', 'clusters.brook.dev,topics.brook.dev', '-n', ns, '-o', 'yaml']);
  await add('leases', ['get', 'leases', '-n', ns, '-o', 'wide']);
  await add('events', ['get', 'events', '-n', ns, '--sort-by=.lastTimestamp']);
  const pods = await kubectl(['get', 'pods', '-n', ns, '-o', 'jsonpath={range .items[*]}{.metadata.name} {.status.containerStatuses[0].ready} {.status.containerStatuses[0].restartCount}{"\\n"}{end}']);
  for (const line of pods.stdout.toString('utf8').split('\n').filter(Boolean)) {
    const [name, ready, restarts] = line.split(' ');
    await add(`logs ${name}${ready === 'true' ? '' : ' (not ready)'}`, ['logs', '-n', ns, name!, `--tail=${ready === 'true' ? 150 : 300}`]);
    if (Number(restarts) > 0) await add(`previous logs ${name}`, ['logs', '-n', ns, name!, '--previous', '--tail=100']);
  }
  return parts.join('\n');
}

/** Polls `probe` until it returns a value other than undefined; on timeout throws with a diagnosis of `ns`. */
export async function waitFor<T>(what: string, ns: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = (err as Error).message.slice(0, 2000);
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? ` (last error: ${last})` : ''}\n${await diagnose(ns)}`);
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

export async function createNamespace(prefix: string): Promise<string> {
  const ns = uniqueName(prefix);
  ok(await kubectl(['create', 'namespace', ns]));
  ok(await kubectl(['label', 'namespace', ns, 'brook.dev/e2e=true']));
  return ns;
}

/**
 * Deletes the namespace's Users, then its Topics, then its Clusters (while the operator still runs to
 * release their finalizers), waiting up to `timeoutMs` for each kind to be
 * gone. What is still there then is stuck on a finalizer: its finalizers are removed so the namespace
 * can go, and it is returned (`kind/name (finalizers)`) for the caller to fail on.
 */
export async function deleteBrookObjects(ns: string, timeoutMs: number): Promise<string[]> {
  const stuck: string[] = [];
  for (const kind of ['users.brook.dev', 'topics.brook.dev', 'clusters.brook.dev']) {
    await kubectl(['delete', kind, '--all', '-n', ns, '--wait=false']);
    const deadline = Date.now() + timeoutMs;
    let left: Array<{ metadata: { name: string; finalizers?: string[] } }> = [];
    for (;;) {
      left = (await getJson<{ items: typeof left }>(['get', kind, '-n', ns])).items;
      if (left.length === 0 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 1_000));
    }
    for (const o of left) {
      stuck.push(`${kind}/${o.metadata.name} (${(o.metadata.finalizers ?? []).join(', ')})`);
      await kubectl(['patch', kind, o.metadata.name, '-n', ns, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    }
  }
  return stuck;
}

/**
 * Deletes a namespace and waits until it is gone; on the local cluster, its released volumes are
 * emptied and made Available again (the static PVs' stand-in for a provisioner's Delete policy).
 */
export async function deleteNamespace(ns: string): Promise<void> {
  ok(await kubectl(['delete', 'namespace', ns, '--wait=true', '--timeout=300s'], { timeoutMs: 320_000 }));
  if (kubeconfig() === clusterPaths().kubeconfig) recycleReleasedVolumes();
}

export interface Pod {
  metadata: { name: string; labels?: Record<string, string> };
  status?: { phase?: string; podIP?: string; conditions?: Array<{ type: string; status: string }>; containerStatuses?: Array<{ ready: boolean; restartCount: number }> };
}

export function podReady(p: Pod): boolean {
  return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

export interface Condition { type: string; status: string; reason?: string; message?: string }

/** Runs a pod to completion (restartPolicy Never) and returns its phase and log. */
export async function runPod(ns: string, name: string, spec: Record<string, unknown>, timeoutMs: number): Promise<{ phase: string; log: string }> {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns }, spec: { restartPolicy: 'Never', ...spec } };
  ok(await kubectl(['apply', '-f', '-'], { input: JSON.stringify(pod) }));
  const phase = await waitFor(`pod ${name} to finish`, ns, timeoutMs, async () => {
    const p = await getJson<Pod>(['get', 'pod', '-n', ns, name]);
    return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' ? p.status.phase : undefined;
  });
  const log = ok(await kubectl(['logs', '-n', ns, name]));
  return { phase, log };
}

// ---------------------------------------------------------------------------------------------
// Helpers of the e2e failure and lifecycle scenarios (branch e2e: failover.e2e.ts, lifecycle.e2e.ts).

/** The broker pods of Cluster `cluster` (the StatefulSet's pods, not helm test or client pods). */
export async function brokerPods(ns: string, cluster: string): Promise<Pod[]> {
  const list = await getJson<{ items: Pod[] }>(['get', 'pods', '-n', ns, '-l', `app.kubernetes.io/instance=${cluster},app.kubernetes.io/component=broker`]);
  return list.items.filter((p) => p.metadata.labels?.['statefulset.kubernetes.io/pod-name']);
}

/** Waits for `brokers` Ready broker pods and the Cluster's Ready condition. */
export async function waitClusterReady(ns: string, cluster: string, brokers: number, timeoutMs: number): Promise<void> {
  await waitFor(`${brokers} Ready broker pods`, ns, timeoutMs, async () => {
    const pods = await brokerPods(ns, cluster);
    return pods.length === brokers && pods.every(podReady) ? pods : undefined;
  });
  await waitFor(`the Cluster ${cluster}'s Ready condition`, ns, timeoutMs, async () => {
    const c = await getJson<{ status?: { conditions?: Condition[] } }>(['get', `clusters.brook.dev/${cluster}`, '-n', ns]);
    return c.status?.conditions?.find((x) => x.type === 'Ready' && x.status === 'True');
  });
}

/**
 * The external nodePort listener of a Cluster as seen from the host: a bootstrap address (the node's
 * address and broker 0's node port) and the broker id behind each advertised `address:nodePort`.
 */
export async function externalListener(ns: string, cluster: string, brokers: number, listener = 'external'): Promise<{ bootstrap: string; brokerAt: Map<string, number> }> {
  const node = await getJson<{ items: Array<{ status: { addresses: Array<{ type: string; address: string }> } }> }>(['get', 'nodes']);
  const address = node.items[0]!.status.addresses.find((a) => a.type === 'InternalIP')!.address;
  const brokerAt = new Map<string, number>();
  for (let i = 0; i < brokers; i++) {
    const svc = await getJson<{ spec: { ports: Array<{ nodePort?: number }> } }>(['get', 'service', `${cluster}-${i}-${listener}`, '-n', ns]);
    brokerAt.set(`${address}:${svc.spec.ports[0]!.nodePort}`, i);
  }
  return { bootstrap: [...brokerAt.keys()][0]!, brokerAt };
}

export interface TopicPartitionState { partition: number; replicas: number[]; leader: number; isr: number[] }

/** status.partitions of a Topic (empty until the controller placed it). */
export async function topicPartitions(ns: string, topic: string): Promise<TopicPartitionState[]> {
  const t = await getJson<{ status?: { partitions?: TopicPartitionState[] } }>(['get', `topics.brook.dev/${topic}`, '-n', ns]);
  return t.status?.partitions ?? [];
}

// ---------------------------------------------------------------------------------------------
// Helpers of the rebalancing scenarios (branch rebalance-e2e: rebalance.e2e.ts).

/**
 * Watches the broker pods of `cluster` in `ns`, calling `onEvent` for each change, until `stop()`.
 * client-node's Watch gives up after 30 s without an event (TimeoutError) and ends when the API
 * server closes the stream; either way this watches again from the last resourceVersion seen,
 * so a quiet stretch before a roll does not lose the roll's events. Other errors go to `onError`.
 */
async function watchBrokerPods(ns: string, cluster: string,
  onEvent: (type: string, pod: Pod & { metadata: { deletionTimestamp?: string; resourceVersion?: string } }) => void,
  onError: (err: unknown) => void): Promise<{ stop(): void }> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig());
  let stopped = false;
  let resourceVersion: string | undefined;
  let current: AbortController | undefined;
  const start = async (): Promise<void> => {
    current = await new Watch(kc).watch(`/api/v1/namespaces/${ns}/pods`,
      { labelSelector: `app.kubernetes.io/instance=${cluster},app.kubernetes.io/component=broker`, ...(resourceVersion ? { resourceVersion } : {}) },
      (type: string, pod: Pod & { metadata: { deletionTimestamp?: string; resourceVersion?: string } }) => {
        resourceVersion = pod.metadata.resourceVersion ?? resourceVersion;
        onEvent(type, pod);
      },
      (err: unknown) => {
        if (stopped) return;
        if (!err || (err as Error).name === 'TimeoutError') start().catch(onError);
        else if ((err as Error).name !== 'AbortError') onError(err);
      });
  };
  await start();
  return { stop: () => { stopped = true; current?.abort(); } };
}

/**
 * Watches the broker pods of Cluster `cluster` (a pod is unavailable when not Ready, terminating or
 * missing) from the moment all `brokers` are available (`armed`), and keeps the most that were
 * unavailable at once, with a line per event that left any unavailable.
 */
export async function watchBrokerAvailability(ns: string, cluster: string, brokers: number): Promise<{
  armed(): boolean; maxUnavailable(): number; log(): string[]; stop(): void; check(): void;
}> {
  const state = new Map<string, boolean>();
  let armed = false;
  let max = 0;
  const lines: string[] = [];
  let failure: unknown;
  const req = await watchBrokerPods(ns, cluster,
    (type, pod) => {
      if (!pod.metadata.labels?.['statefulset.kubernetes.io/pod-name']) return;
      if (type === 'DELETED') state.delete(pod.metadata.name);
      else state.set(pod.metadata.name, podReady(pod) && !pod.metadata.deletionTimestamp);
      const available = [...state.values()].filter(Boolean).length;
      if (!armed && available >= brokers) armed = true;
      if (!armed) return;
      const unavailable = Math.max(0, brokers - available);
      max = Math.max(max, unavailable);
      if (unavailable > 0) lines.push(`${new Date().toISOString()} ${type} ${pod.metadata.name}: ${unavailable} unavailable`);
    },
    (err) => { failure = err; });
  return {
    armed: () => armed,
    maxUnavailable: () => max,
    log: () => [...lines],
    stop: () => req.stop(),
    check: () => { if (failure) throw new Error(`the pod watch failed: ${String(failure)}`); },
  };
}
