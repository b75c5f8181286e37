/**
 * kubectl and containerd's ctr against the local cluster: applying and reading objects, recycling
 * released PersistentVolumes, importing the images built without a registry, removing every container.
 */
import { spawnSync } from 'node:child_process';
import * as yaml from 'js-yaml';
import { mib, type BuiltImage } from '../../scripts/image.ts';
import { k8sVersions } from '../k8s/build.mjs';
import { findKubectl } from '../k8s/envtest.ts';
import { clusterPaths, log, sh } from './host.ts';
import { pvObject, freshPvDir } from './config-files.ts';

// ---- kubectl ----

export function kubectlBin(): string {
  return findKubectl(k8sVersions().kubernetes);
}

export function kubectl(args: readonly string[], input?: string): string {
  return sh(kubectlBin(), ['--kubeconfig', clusterPaths().kubeconfig, ...args], { input });
}

/**
 * Released PVs (their claim was deleted: a namespace of a finished test) become Available again,
 * emptied: the static stand-in for a provisioner's Delete policy. Called by up and by the e2e suite.
 */
export function recycleReleasedVolumes(): number {
  const p = clusterPaths();
  const list = JSON.parse(kubectl(['get', 'pv', '-l', 'brook.dev/local-pv=true', '-o', 'json'])) as { items: Array<{ metadata: { name: string }; status?: { phase?: string } }> };
  let n = 0;
  for (const pv of list.items) {
    if (pv.status?.phase !== 'Released' && pv.status?.phase !== 'Failed') continue;
    const i = Number(pv.metadata.name.slice(pv.metadata.name.lastIndexOf('-') + 1));
    kubectl(['delete', 'pv', pv.metadata.name, '--wait=true']);
    freshPvDir(p, i);
    kubectl(['apply', '-f', '-'], yaml.dump(pvObject(p, i)));
    n++;
  }
  return n;
}

// ---- containerd: images and pods ----

export function ctr(args: readonly string[], opts: { allowFail?: boolean } = {}): string {
  return sh('ctr', ['--address', clusterPaths().containerdSock, '-n', 'k8s.io', ...args], opts);
}

export function importImage(image: BuiltImage): void {
  const have = ctr(['images', 'ls', '-q']).split('\n');
  if (have.includes(image.ref)) return;
  const started = Date.now();
  ctr(['images', 'import', '--base-name', image.name, image.archive]);
  if (!ctr(['images', 'ls', '-q']).split('\n').includes(image.ref)) throw new Error(`ctr images import did not produce ${image.ref}`);
  log(`imported ${image.ref} (${mib(image.archiveBytes)}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** Kills every container and sandbox containerd runs for Kubernetes, and removes them. */
export function removeAllContainers(): void {
  const tasks = ctr(['tasks', 'ls', '-q'], { allowFail: true }).split('\n').filter(Boolean);
  for (const t of tasks) ctr(['tasks', 'kill', '-s', 'SIGKILL', t], { allowFail: true });
  for (const t of tasks) {
    for (let i = 0; i < 50; i++) {
      if (spawnSync('ctr', ['--address', clusterPaths().containerdSock, '-n', 'k8s.io', 'tasks', 'rm', '-f', t], { stdio: 'ignore' }).status === 0) break;
      spawnSync('sleep', ['0.1']);
    }
  }
  for (const c of ctr(['containers', 'ls', '-q'], { allowFail: true }).split('\n').filter(Boolean)) ctr(['containers', 'rm', c], { allowFail: true });
}
