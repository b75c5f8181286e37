/**
 * The local cluster's fixed facts (names, addresses, ranges, the state folder's layout), what `up`
 * records for `down`, and the host: logging, running commands, the Debian packages the cluster
 * needs, and the checks that this machine can hold it (root, no overlapping route).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../../scripts/cache-dir.mjs';
import { type BuiltImage } from '../../scripts/image.ts';

// ---- fixed facts of the cluster ----

export const NODE_NAME = 'brook-node';
export const BRIDGE = 'brook0';
export const NODE_IP = '10.244.0.1';
export const POD_CIDR = '10.244.0.0/24';
export const SERVICE_CIDR = '10.97.0.0/24';
export const KUBERNETES_SERVICE_IP = '10.97.0.1';
export const CLUSTER_DOMAIN = 'cluster.local';
export const APISERVER_PORT = 6443;
export const ETCD_CLIENT = 'http://127.0.0.1:12379';
export const ETCD_PEER = 'http://127.0.0.1:12380';
export const NODE_PORT_RANGE = '30000-32767';
/** Static PersistentVolumes: a 3-broker Cluster with 20Gi claims, twice, plus spares. hostPath does not enforce size. */
export const PV_COUNT = 12;
export const PV_SIZE = '20Gi';
export const STORAGE_CLASS = 'brook-local';
export const GUARD_CHAIN = 'BROOK-CLUSTER-GUARD';

/** Places kubelet and containerd use whatever their flags say; down removes those up created. */
export const HOST_PATHS = ['/var/lib/kubelet', '/var/log/containers', '/var/lib/cni', '/run/containerd', '/run/netns'];

/** The Debian packages the cluster runs (binaries checked before installing). */
export const DEBIAN = [
  { bin: 'containerd', pkg: 'containerd' }, { bin: 'runc', pkg: 'runc' }, { bin: 'ctr', pkg: 'containerd' },
  { bin: '/usr/lib/cni/bridge', pkg: 'containernetworking-plugins' }, { bin: 'iptables', pkg: 'iptables' },
  { bin: 'ip6tables', pkg: 'iptables' }, { bin: 'umoci', pkg: 'umoci' }, { bin: 'openssl', pkg: 'openssl' },
];

/** Start order; down stops in reverse (containerd is handled specially: its pods go first). */
export const COMPONENTS = ['etcd', 'kube-apiserver', 'containerd', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy', 'kubelet', 'coredns'] as const;
export type Component = typeof COMPONENTS[number];

export interface ClusterPaths {
  run: string;
  logs: string;
  pids: string;
  pki: string;
  kubeconfigs: string;
  /** The admin kubeconfig `up` prints. */
  kubeconfig: string;
  containerdRoot: string;
  containerdState: string;
  containerdSock: string;
  containerdConfig: string;
  kubeletRoot: string;
  podLogs: string;
  cniConf: string;
  cniData: string;
  pv: string;
  state: string;
}

export function clusterPaths(): ClusterPaths {
  const run = process.env.BROOK_CLUSTER_DIR ?? join(cacheDir(), 'cluster-run');
  return {
    run,
    logs: join(run, 'logs'),
    pids: join(run, 'pids'),
    pki: join(run, 'pki'),
    kubeconfigs: join(run, 'kubeconfigs'),
    kubeconfig: join(run, 'kubeconfig'),
    containerdRoot: join(run, 'containerd', 'root'),
    containerdState: join(run, 'containerd', 'state'),
    containerdSock: join(run, 'containerd', 'containerd.sock'),
    containerdConfig: join(run, 'containerd', 'config.toml'),
    kubeletRoot: join(run, 'kubelet'),
    podLogs: join(run, 'pod-logs'),
    cniConf: join(run, 'cni', 'net.d'),
    cniData: join(run, 'cni', 'data'),
    pv: join(run, 'pv'),
    state: join(run, 'state.json'),
  };
}

/** What up records for down: host paths it created, sysctls it changed, the images it imported. */
export interface RunState {
  createdHostPaths: string[];
  sysctls: Record<string, string>;
  images: { brook: string; pause: string };
  startedAt: string;
}

export interface UpResult {
  kubeconfig: string;
  server: string;
  images: { brook: BuiltImage; pause: BuiltImage; kcat: BuiltImage };
  /** False when the cluster was already running. */
  started: boolean;
  ms: number;
}

let quiet = false;
/** Quiet logs (up and down set it from their options). */
export function setQuiet(q: boolean): void { quiet = q; }
export const t0 = Date.now();
export function log(msg: string): void {
  if (!quiet) process.stderr.write(`[cluster +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function has(cmd: string): boolean {
  return cmd.startsWith('/') ? existsSync(cmd) : spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Runs a command, throwing with its stderr on failure; returns stdout. */
export function sh(cmd: string, args: readonly string[], opts: { input?: string; allowFail?: boolean } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input: opts.input, maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${cmd} could not start: ${r.error.message}`);
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

export function ensureDebianPackages(): void {
  const missing = [...new Set(DEBIAN.filter((d) => !has(d.bin)).map((d) => d.pkg))];
  if (missing.length === 0) return;
  if (!has('apt-get')) throw new Error(`missing Debian packages ${missing.join(', ')}: install them and re-run`);
  log(`installing ${missing.join(', ')} (apt-get)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=300', ...missing]]) {
    const r = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed`);
  }
}

export function checkHost(): void {
  if (process.getuid?.() !== 0) throw new Error('the local cluster needs root (bridge, iptables, mounts, containers)');
  const routes = sh('ip', ['-4', 'route', 'show']);
  for (const line of routes.split('\n')) {
    const dst = line.split(' ')[0];
    if (!dst || line.includes(`dev ${BRIDGE}`)) continue;
    if (/^10\.(244|97)\./.test(dst) || dst === '10.0.0.0/8') {
      throw new Error(`a route of this machine overlaps the cluster's ranges (${POD_CIDR}, ${SERVICE_CIDR}): ${line}`);
    }
  }
}
