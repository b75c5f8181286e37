/**
 * cert-manager in the envtest tier: its CRDs installed into a real API server and its controller
 * (built by test/k8s/build.mjs ensureCertManager from the Go module proxy) run out of cluster
 * against it. Used by test/k8s/cert-manager.test.ts and the operator's cert-manager tests.
 */
import { ensureCertManager } from './build.mjs';
import { kubectl, type ApiServer } from './envtest.ts';
import { startBackground, type BackgroundProcess } from '../harness/background.ts';

async function ok(api: ApiServer, args: readonly string[]): Promise<string> {
  const r = await kubectl(api, args, { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

/** Installs cert-manager's CRDs (building the controller first if the cache lacks it) and waits until they are Established. */
export async function installCertManagerCrds(api: ApiServer): Promise<void> {
  const cm = ensureCertManager();
  // create, not apply: the Certificate CRD is larger than apply's last-applied annotation allows.
  await ok(api, ['create', '-f', cm.crds]);
  // Not `kubectl wait` alone: right after create a CRD may have no status.conditions yet, and
  // kubectl wait then fails at once (".status.conditions accessor error: <nil>") instead of waiting.
  const crds = ['certificates', 'issuers', 'clusterissuers', 'certificaterequests'].map((p) => `crd/${p}.cert-manager.io`);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await kubectl(api, ['get', ...crds, '-o', 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Established")].status}{" "}{end}'], { timeoutMs: 30_000 });
    if (r.code === 0 && r.stdout.toString().trim().split(/\s+/).filter((s) => s === 'True').length === crds.length) return;
    if (Date.now() > deadline) throw new Error(`cert-manager's CRDs not Established after 60 s: ${r.stdout.toString()} ${r.stderr.toString()}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

/**
 * Starts the cert-manager controller against `api` (`stop()` it). ClusterIssuers keep their
 * Secrets in `clusterResourceNamespace`, which must exist before they are used.
 */
export function startCertManager(api: ApiServer, opts: { clusterResourceNamespace: string }): BackgroundProcess {
  const cm = ensureCertManager();
  return startBackground(cm.controller, ['--kubeconfig', api.kubeconfigPath, '--cluster-resource-namespace', opts.clusterResourceNamespace]);
}
