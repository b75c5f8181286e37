/**
 * Operator tests against a real API server (the envtest tier): CRDs installed, an admin client,
 * an operator started in-process (or as `bin/brook operator` processes), and `eventually` to wait
 * for the state of the world (polling the API server, which has no way to push "converged").
 */
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import { repoRoot } from '../harness/paths.ts';
import { expectSuccess } from '../harness/tools.ts';
import { kubectl, type ApiServer } from '../k8s/envtest.ts';
import { Kube, resources, type KubeObject } from '../../broker/k8s/index.ts';
import { Operator, type OperatorOptions } from '../../operator/operator.ts';
import { OperatorMetrics } from '../../operator/metrics.ts';
import { createLogger, silentLogger } from '../../operator/log.ts';

export { resources };

export async function installCrds(api: ApiServer): Promise<void> {
  expectSuccess(await kubectl(api, ['apply', '--server-side', '-f', join(repoRoot, 'crds')]));
  expectSuccess(await kubectl(api, ['wait', '--for=condition=Established', '--timeout=60s', 'crd/topics.brook.dev', 'crd/clusters.brook.dev', 'crd/users.brook.dev']));
  // Established is not yet served: lists answer 429 "storage is (re)initializing" for a moment.
  const kube = adminKube(api);
  await eventually(async () => { await kube.list(resources.Cluster); await kube.list(resources.Topic); await kube.list(resources.User); return true; }, 'the CRDs served', 30_000, 100);
  // ...and a new CRD's watch cache takes a moment more: wait until a watch sees a new object.
  await createNamespace(kube, 'crd-warmup');
  for (const r of [resources.Cluster, resources.Topic, resources.User]) {
    const rv = (await kube.list(r, 'crd-warmup')).metadata.resourceVersion;
    let seen!: () => void;
    const added = new Promise<void>((res) => { seen = res; });
    const ac = await new Watch(kube.kc).watch(`/apis/brook.dev/v1alpha1/namespaces/crd-warmup/${r.plural}`, { resourceVersion: rv }, (phase) => { if (phase === 'ADDED') seen(); }, () => {});
    await kube.create(r, { metadata: { name: 'warmup', namespace: 'crd-warmup' }, spec: r.kind === 'Cluster' ? {} : r.kind === 'Topic' ? { cluster: 'warmup' } : { cluster: 'warmup', authentication: { type: 'scram-sha-512' } } });
    await added;
    ac.abort();
    await kube.delete(r, 'crd-warmup', 'warmup');
  }
}

export function kubeConfigOf(api: ApiServer, impersonate?: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(api.kubeconfigPath);
  if (impersonate) {
    const doc = yaml.load(readFileSync(api.kubeconfigPath, 'utf8')) as { users: Array<{ user: Record<string, unknown> }> };
    doc.users[0]!.user.as = impersonate;
    const k2 = new KubeConfig();
    k2.loadFromString(yaml.dump(doc));
    return k2;
  }
  return kc;
}

/** A kubeconfig file for `api` that impersonates `user` (kubeconfig `as:`). */
export function impersonatingKubeconfig(api: ApiServer, user: string, path: string): string {
  const doc = yaml.load(readFileSync(api.kubeconfigPath, 'utf8')) as { users: Array<{ user: Record<string, unknown> }> };
  doc.users[0]!.user.as = user;
  writeFileSync(path, yaml.dump(doc), { mode: 0o600 });
  return path;
}

export function adminKube(api: ApiServer): Kube {
  return new Kube(kubeConfigOf(api), { fieldManager: 'test' });
}

export async function startOperator(api: ApiServer, opts: Partial<OperatorOptions> & { impersonate?: string } = {}): Promise<Operator> {
  const op = new Operator({
    kubeConfig: kubeConfigOf(api, opts.impersonate),
    leaderElection: false,
    log: process.env.OPERATOR_LOG ? createLogger({ level: 'debug', write: (l) => process.stderr.write(l) }) : silentLogger,
    metrics: new OperatorMetrics({ defaultMetrics: false }),
    ...opts,
  });
  await op.start();
  return op;
}

export async function createNamespace(kube: Kube, name: string): Promise<void> {
  await kube.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } });
}

export function loadExample(file: string): KubeObject {
  return yaml.load(readFileSync(join(repoRoot, 'examples', file), 'utf8')) as KubeObject;
}

/** Polls `probe` until it returns a value that is not undefined/false, or fails with the last error. */
export async function eventually<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 10_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
