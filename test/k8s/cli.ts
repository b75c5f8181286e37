/**
 * `npm run envtest`: starts a real API server (test/k8s/envtest.ts) and keeps it up until Ctrl-C.
 * Prints the line to paste into another shell; `--crds` also installs crds/*.yaml.
 */
import { startApiServer, kubectl, findKubectl } from './envtest.ts';
import { repoRoot } from '../harness/paths.ts';
import { join } from 'node:path';

const started = Date.now();
const api = await startApiServer();
process.stderr.write(`API server ${api.version} at ${api.server} ready in ${((Date.now() - started) / 1000).toFixed(1)} s (logs in ${api.dir})\n`);
if (process.argv.includes('--crds')) {
  const r = await kubectl(api, ['apply', '--server-side', '-f', join(repoRoot, 'crds')]);
  process.stderr.write(r.stdout.toString() + r.stderr);
}
process.stdout.write(`export KUBECONFIG=${api.kubeconfigPath}\n`);
try {
  process.stderr.write(`kubectl for this server: ${findKubectl(api.version)}\n`);
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
}
process.stderr.write('Ctrl-C stops it and removes its directory.\n');
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await api.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
setInterval(() => {}, 1 << 30);
