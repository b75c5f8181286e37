/**
 * Brook brokers as processes on the Kubernetes store, for the process-level tests of test/k8s/:
 * start one (optionally through a wrapper such as `ip netns exec`), read a Topic's partition
 * state from the API server, wait for a condition, and measure stalls.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Topic } from '../../broker/k8s/crds.ts';
import { topicPlacement } from '../../broker/k8s/topic-placement.ts';
import { brookLauncher, repoRoot } from '../harness/paths.ts';
import { expectSuccess } from '../harness/tools.ts';
import { freePort } from '../harness/ports.ts';
import { kubectl, type ApiServer } from './envtest.ts';

export interface BrokerNode { id: number; dataDir: string; child: ChildProcess | null; log: string }

export interface BrokerLaunch {
  namespace: string;
  kubeconfig: string;
  /** host:port to listen on (and advertise). */
  listen: string;
  /** Turns the command line into the one to run, e.g. inside a network namespace. */
  wrap?: (cmd: string, args: string[]) => [string, string[]];
  /** More broker settings (`--set k=v`). */
  set?: Record<string, string>;
}

/**
 * Starts broker `node.id` (cluster `demo`, 2 s session, 400 ms heartbeats, 100 ms replica fetch
 * wait); resolves once it listens. Its stderr (last 20 kB) is kept in `node.log`.
 */
export function startBrokerProcess(node: BrokerNode, launch: BrokerLaunch): Promise<void> {
  const launcher = brookLauncher();
  const argv = ['broker', '--id', String(node.id),
    '--store', 'kubernetes', '--cluster', 'demo', '--namespace', launch.namespace, '--kubeconfig', launch.kubeconfig,
    '--listen', launch.listen, '--data-dir', node.dataDir, '--metrics-port', 'none',
    '--set', 'broker.session.timeout.ms=2000', '--set', 'broker.heartbeat.interval.ms=400',
    '--set', 'replica.fetch.wait.max.ms=100', '--set', 'group.initial.rebalance.delay.ms=0',
    ...Object.entries(launch.set ?? {}).flatMap(([k, v]) => ['--set', `${k}=${v}`])];
  const [cmd, args] = launch.wrap ? launch.wrap(launcher.command, argv) : [launcher.command, argv];
  const child = spawn(cmd, args, { env: launcher.env, stdio: ['ignore', 'pipe', 'pipe'] });
  node.child = child;
  node.log = '';
  child.stderr!.on('data', (d: Buffer) => { node.log = (node.log + d.toString()).slice(-20_000); });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('listening on')) resolve(); });
    child.once('exit', (code, signal) => reject(new Error(`broker ${node.id} exited (${code ?? signal}):\n${node.log}`)));
  });
}

export interface FleetNode extends BrokerNode { port: number }

/**
 * `size` broker processes (ids 0..size-1, free ports, fresh data directories) on the Kubernetes
 * store of `api`, in a new namespace `namespace` holding the CRDs' examples/cluster.yaml Cluster;
 * for a test file's beforeAll. `stop` SIGKILLs them (SIGCONT first: a test may have stopped one)
 * and removes their data.
 */
export async function startBrokerFleet(api: ApiServer, opts: { namespace: string; size?: number; set?: Record<string, string> }): Promise<{
  nodes: FleetNode[];
  start(node: FleetNode): Promise<void>;
  bootstrap(): string[];
  stop(): void;
}> {
  expectSuccess(await kubectl(api, ['apply', '--server-side', '-f', join(repoRoot, 'crds')]));
  expectSuccess(await kubectl(api, ['create', 'namespace', opts.namespace]));
  expectSuccess(await kubectl(api, ['apply', '-n', opts.namespace, '-f', join(repoRoot, 'examples/cluster.yaml')]));
  const nodes: FleetNode[] = [];
  for (let id = 0; id < (opts.size ?? 3); id++) {
    nodes.push({ id, port: await freePort(), dataDir: mkdtempSync(join(tmpdir(), `brook-${opts.namespace}-${id}-`)), child: null, log: '' });
  }
  const start = (node: FleetNode) => startBrokerProcess(node, { namespace: opts.namespace, kubeconfig: api.kubeconfigPath, listen: `127.0.0.1:${node.port}`, set: opts.set });
  await Promise.all(nodes.map(start));
  return {
    nodes,
    start,
    bootstrap: () => nodes.map((n) => `127.0.0.1:${n.port}`),
    stop() {
      for (const n of nodes) {
        n.child?.kill('SIGCONT');
        n.child?.kill('SIGKILL');
        rmSync(n.dataDir, { recursive: true, force: true });
      }
    },
  };
}

export async function waitFor(cond: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Partition state of the Topic resource (status, or its creation annotation before the first status write; [] while it has none). */
export async function partitionStates(api: ApiServer, namespace: string, topic: string): Promise<Array<{ partition: number; leader: number; isr: number[] }>> {
  const r = await kubectl(api, ['get', 'topic', topic, '-n', namespace, '-o', 'json']);
  const text = r.stdout.toString();
  return r.code === 0 && text ? [...topicPlacement(JSON.parse(text) as Topic)?.partitions ?? []] : [];
}

/** The longest gap between consecutive times in [from, to], counting from `from` and up to `to` (times sorted). */
export function longestGap(times: readonly number[], from: number, to: number): number {
  let last = from;
  let gap = 0;
  for (const t of times) {
    if (t < from) continue;
    if (t > to) break;
    gap = Math.max(gap, t - last);
    last = t;
  }
  return Math.max(gap, to - last);
}
