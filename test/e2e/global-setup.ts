/**
 * e2e global setup: the cluster the suite runs on. KUBECONFIG set: that cluster, with the images
 * named by BROOK_IMAGE and BROOK_KCAT_IMAGE already loaded (test/e2e/kind.sh does it for kind).
 * KUBECONFIG unset: the local single-node cluster (test/cluster), brought up here (building what is
 * not cached) and taken down by the teardown, unless BROOK_E2E_KEEP_CLUSTER=1.
 */
import { clusterUp } from '../cluster/cluster.ts';

export default async function globalSetup(): Promise<void> {
  if (process.env.KUBECONFIG) {
    for (const v of ['BROOK_IMAGE', 'BROOK_KCAT_IMAGE']) {
      if (!process.env[v]) {
        throw new Error(`KUBECONFIG is set (${process.env.KUBECONFIG}) but ${v} is not: load the images into that cluster `
          + 'and name them (test/e2e/kind.sh does both for kind), or unset KUBECONFIG to use the local cluster (npm run cluster -- up)');
      }
    }
    process.stderr.write(`\n[e2e] cluster from KUBECONFIG=${process.env.KUBECONFIG}; images ${process.env.BROOK_IMAGE}, ${process.env.BROOK_KCAT_IMAGE}\n`);
    return;
  }
  process.stderr.write('\n[e2e] KUBECONFIG is not set: bringing up the local single-node cluster (npm run cluster -- up)\n');
  const up = await clusterUp();
  process.env.KUBECONFIG = up.kubeconfig;
  process.env.BROOK_IMAGE = up.images.brook.ref;
  process.env.BROOK_KCAT_IMAGE = up.images.kcat.ref;
  process.env.BROOK_E2E_LOCAL_CLUSTER = up.started ? 'started' : 'reused';
  process.stderr.write(`[e2e] local cluster ${up.started ? 'up' : 'already up'} in ${(up.ms / 1000).toFixed(1)} s\n`);
}
