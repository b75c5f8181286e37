/**
 * e2e global teardown: takes the local cluster down when the setup brought it up (not one that was
 * already running, nor a cluster from KUBECONFIG), and fails the run if anything is left behind.
 */
import { clusterDown, leftovers } from '../cluster/cluster.ts';

export default async function globalTeardown(): Promise<void> {
  if (process.env.BROOK_E2E_LOCAL_CLUSTER !== 'started' || process.env.BROOK_E2E_KEEP_CLUSTER === '1') return;
  await clusterDown();
  const left = leftovers();
  if (left.length) throw new Error(`the local cluster left things behind after down:\n  ${left.join('\n  ')}`);
}
