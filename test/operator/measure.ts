/**
 * Operator measurements against a real API server (envtest tier), the operator as a process
 * (`bin/brook operator`, leader election on, default lease timings):
 *   1. reconcile latency: Cluster created → its StatefulSet exists (seen by a watch), N samples;
 *   2. operator RSS idle, and with 100 Clusters + 2,000 Topics (placed: status.partitions set);
 *   3. API requests in one steady-state minute with that load, by verb and resource (the
 *      operator's own counter of every request it sends, brook_operator_api_requests_total;
 *      watch re-connections are not in it: informer watches last 10 min on the client side).
 *
 *   node test/operator/measure.ts [--clusters 100] [--topics 2000] [--window-s 60] [--node-options '--max-old-space-size=96']
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Watch } from '@kubernetes/client-node';
import { repoRoot } from '../harness/paths.ts';
import { freePort } from '../harness/ports.ts';
import { startApiServer } from '../k8s/envtest.ts';
import { adminKube, createNamespace, installCrds, resources } from './harness.ts';
import type { KubeObject } from '../../broker/k8s/index.ts';

const { values } = parseArgs({ options: { clusters: { type: 'string' }, topics: { type: 'string' }, 'window-s': { type: 'string' }, samples: { type: 'string' }, 'node-options': { type: 'string' } } });
const nClusters = Number(values.clusters ?? 100);
const nTopics = Number(values.topics ?? 2000);
const windowS = Number(values['window-s'] ?? 60);
const samples = Number(values.samples ?? 20);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const out = (s: string) => process.stdout.write(`${s}\n`);

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) / 1024;
}

function parseCounters(text: string, name: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const [labels, value] = [line.slice(name.length, line.lastIndexOf(' ')), Number(line.slice(line.lastIndexOf(' ') + 1))];
    m.set(labels, (m.get(labels) ?? 0) + value);
  }
  return m;
}

function diff(after: Map<string, number>, before: Map<string, number>): Array<[string, number]> {
  return [...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)] as [string, number]).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);
}

const api = await startApiServer();
try {
  await installCrds(api);
  const kube = adminKube(api);
  const port = await freePort();
  const child = spawn(join(repoRoot, 'bin/brook'), ['operator', '--kubeconfig', api.kubeconfigPath, '--metrics-port', String(port), '--metrics-host', '127.0.0.1', '--leader-election-namespace', 'default', '--log-level', 'warn'], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...(values['node-options'] ? { NODE_OPTIONS: values['node-options'] } : {}) } });
  const metrics = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  for (;;) { try { if (/^brook_operator_leader 1$/m.test(await metrics())) break; } catch { /* starting */ } await sleep(100); }
  await sleep(5_000);
  const idle = rssMiB(child.pid!);
  out(`operator RSS idle: ${idle.toFixed(1)} MiB`);

  // 1. latency
  await createNamespace(kube, 'latency');
  const seen = new Map<string, number>();
  const ac = await new Watch(kube.kc).watch('/apis/apps/v1/namespaces/latency/statefulsets', {}, (phase, obj: { metadata: { name: string } }) => {
    if (phase === 'ADDED') seen.set(obj.metadata.name, performance.now());
  }, () => {});
  const lat: number[] = [];
  for (let i = 0; i < samples; i++) {
    const name = `lat-${i}`;
    const t0 = performance.now();
    await kube.create(resources.Cluster, { metadata: { name, namespace: 'latency' }, spec: { replicas: 3 } });
    while (!seen.has(name)) await sleep(2);
    lat.push(seen.get(name)! - t0);
    await sleep(200);
  }
  ac.abort();
  lat.sort((a, b) => a - b);
  out(`apply → StatefulSet exists (${samples} samples): median ${lat[Math.floor(lat.length / 2)]!.toFixed(0)} ms, p95 ${lat[Math.floor(lat.length * 0.95)]!.toFixed(0)} ms, max ${lat[lat.length - 1]!.toFixed(0)} ms`);

  // 2. load
  const t0 = performance.now();
  await createNamespace(kube, 'load');
  const perCluster = Math.ceil(nTopics / nClusters);
  const jobs: Array<() => Promise<unknown>> = [];
  for (let c = 0; c < nClusters; c++) {
    jobs.push(() => kube.create(resources.Cluster, { metadata: { name: `c${c}`, namespace: 'load' }, spec: { replicas: 3, config: { 'min.insync.replicas': '2' } } }));
  }
  for (let t = 0; t < nTopics; t++) {
    const cluster = `c${Math.floor(t / perCluster)}`;
    jobs.push(async () => {
      await kube.create(resources.Topic, { metadata: { name: `t${t}`, namespace: 'load' }, spec: { cluster, partitions: 3, replicationFactor: 3 } });
      await kube.mergePatch(resources.Topic, 'load', `t${t}`, { status: { topicId: `id-${t}`, partitions: [0, 1, 2].map((p) => ({ partition: p, replicas: [p % 3, (p + 1) % 3, (p + 2) % 3], leader: p % 3, isr: [0, 1, 2], leaderEpoch: 0, partitionEpoch: 0 })) } }, 'status');
    });
  }
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => { while (next < jobs.length) await jobs[next++]!(); }));
  // Converged: every Topic Ready, every Cluster's status counts all its partitions.
  for (;;) {
    const topics = (await kube.list<KubeObject & { status?: { conditions?: Array<{ type: string; status: string }> } }>(resources.Topic, 'load')).items;
    const ready = topics.filter((t) => t.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
    const clusters = (await kube.list<KubeObject & { status?: { partitions?: { total?: number } } }>(resources.Cluster, 'load')).items;
    const counted = clusters.reduce((s, c) => s + (c.status?.partitions?.total ?? 0), 0);
    if (ready === nTopics && counted === nTopics * 3) break;
    await sleep(500);
  }
  out(`created and converged ${nClusters} Clusters + ${nTopics} Topics in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  await sleep(10_000);
  const loaded = rssMiB(child.pid!);
  out(`operator RSS with ${nClusters} Clusters + ${nTopics} Topics: ${loaded.toFixed(1)} MiB`);

  // 3. steady state
  const before = parseCounters(await metrics(), 'brook_operator_api_requests_total');
  const reconBefore = parseCounters(await metrics(), 'brook_operator_reconcile_total');
  await sleep(windowS * 1000);
  const after = parseCounters(await metrics(), 'brook_operator_api_requests_total');
  const reconAfter = parseCounters(await metrics(), 'brook_operator_reconcile_total');
  const ops = diff(after, before);
  out(`operator API requests in ${windowS} s of steady state: ${ops.reduce((s, [, v]) => s + v, 0)} (${ops.map(([k, v]) => `${k} ${v}`).join(', ') || 'none'})`);
  out(`reconciles in that window: ${diff(reconAfter, reconBefore).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`);
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
} finally {
  await api.stop();
}
