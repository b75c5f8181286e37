/**
 * The single-node test cluster from a shell (test/cluster/cluster.ts):
 *
 *   npm run cluster -- up       build what is missing, start everything, print `export KUBECONFIG=...`
 *   npm run cluster -- down     stop everything; no processes, mounts, bridge or iptables chains left
 *   npm run cluster -- status   each component's pid and resident memory, and the node
 */
import { spawnSync } from 'node:child_process';
import { clusterDown, clusterPaths, clusterStatus, clusterUp, kubectlBin, leftovers } from './cluster.ts';

const usage = 'usage: npm run cluster -- up|down|status';

async function main(cmd: string | undefined): Promise<number> {
  switch (cmd) {
    case 'up': {
      const r = await clusterUp();
      process.stderr.write(`${r.started ? 'cluster up' : 'cluster already up'} (${(r.ms / 1000).toFixed(1)} s); images ${r.images.brook.ref}, ${r.images.pause.ref}\n`);
      process.stderr.write(`kubectl within one minor of the server: ${kubectlBin()}\n`);
      process.stdout.write(`export KUBECONFIG=${r.kubeconfig}\n`);
      return 0;
    }
    case 'down': {
      await clusterDown();
      const left = leftovers();
      if (left.length) {
        process.stderr.write(`left behind:\n  ${left.join('\n  ')}\n`);
        return 1;
      }
      return 0;
    }
    case 'status': {
      const s = clusterStatus();
      let total = 0;
      for (const c of s.components) {
        total += c.rssMiB ?? 0;
        process.stdout.write(`${c.name.padEnd(24)} ${c.pid ? `pid ${String(c.pid).padEnd(8)} rss ${c.rssMiB!.toFixed(0).padStart(5)} MiB` : 'not running'}\n`);
      }
      process.stdout.write(`${'total'.padEnd(24)} ${''.padEnd(12)} rss ${total.toFixed(0).padStart(5)} MiB\n`);
      if (s.up) {
        spawnSync(kubectlBin(), ['--kubeconfig', s.kubeconfig, 'get', 'nodes', '-o', 'wide'], { stdio: 'inherit' });
        process.stdout.write(`export KUBECONFIG=${s.kubeconfig}\n`);
      } else {
        const left = leftovers();
        process.stdout.write(left.length ? `not up; left behind:\n  ${left.join('\n  ')}\n` : `not up (state folder ${clusterPaths().run})\n`);
      }
      return s.up ? 0 : 3;
    }
    default:
      process.stderr.write(`${usage}\n`);
      return 2;
  }
}

main(process.argv[2]).then((code) => process.exit(code), (err: Error) => {
  process.stderr.write(`cluster ${process.argv[2]}: ${err.message}\n`);
  process.exit(1);
});
