/**
 * A single-node Kubernetes cluster on this machine, for the e2e tier: etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler, kubelet and kube-proxy v1.34 (Go-built by
 * test/k8s/build.mjs), CoreDNS (Go-built), containerd + runc + CNI plugins (Debian), static hostPath
 * PersistentVolumes behind a default StorageClass, and the Brook and pause images imported without a
 * registry (scripts/image.ts).
 *
 *   await clusterUp()        idempotent: a running cluster is left as it is
 *   await clusterDown()      stops everything and removes what up made outside the state folder
 *   npm run cluster -- up|down|status
 *
 * Everything lives in one state folder, <cache>/cluster-run (processes' logs, pid files, etcd,
 * containerd's root and state, kubelet's root, certificates, kubeconfigs, PV directories), except
 * what the components put in fixed host places; `down` removes those (see HOST_PATHS).
 *
 * Network: a bridge of its own (brook0, 10.244.0.1/24) carries the pods; its address is the node's
 * address, and the API server, kubelet, NodePorts and CoreDNS bind to it. Pods get a route to the
 * service range only (no default route), no masquerading (ipMasq false), and a FORWARD guard drops
 * anything crossing between the bridge and another interface: nothing leaves the machine. Services
 * are kube-proxy's iptables rules. The ranges were chosen against `ip route` of these machines
 * (192.0.2.0/24 on eth0 only); up refuses to start when a route overlaps them.
 *
 * Requires root (bridge, iptables, mounts), cgroup v1 or v2, and the Debian packages containerd, runc,
 * containernetworking-plugins, iptables and umoci (installed with apt-get when missing).
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync, chmodSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import * as yaml from 'js-yaml';
import { cacheDir } from '../../scripts/cache-dir.mjs';
import { buildBrookImage, buildKcatImage, buildPauseImage, mib, type BuiltImage } from '../../scripts/image.ts';
import { clusterBinDir, ensureClusterBinaries, k8sVersions, type ClusterBinary } from '../k8s/build.mjs';
import { findKubectl, get } from '../k8s/envtest.ts';
import { makePki, type Identity, type Pki } from './pki.ts';

// ---- fixed facts of the cluster ----

export const NODE_NAME = 'brook-node';
export const BRIDGE = 'brook0';
export const NODE_IP = '10.244.0.1';
export const POD_CIDR = '10.244.0.0/24';
export const SERVICE_CIDR = '10.97.0.0/24';
export const KUBERNETES_SERVICE_IP = '10.97.0.1';
export const CLUSTER_DOMAIN = 'cluster.local';
export const APISERVER_PORT = 6443;
const ETCD_CLIENT = 'http://127.0.0.1:12379';
const ETCD_PEER = 'http://127.0.0.1:12380';
export const NODE_PORT_RANGE = '30000-32767';
/** Static PersistentVolumes: a 3-broker Cluster with 20Gi claims, twice, plus spares. hostPath does not enforce size. */
export const PV_COUNT = 12;
export const PV_SIZE = '20Gi';
export const STORAGE_CLASS = 'brook-local';
const GUARD_CHAIN = 'BROOK-CLUSTER-GUARD';

/** Places kubelet and containerd use whatever their flags say; down removes those up created. */
const HOST_PATHS = ['/var/lib/kubelet', '/var/log/containers', '/var/lib/cni', '/run/containerd', '/run/netns'];

/** The Debian packages the cluster runs (binaries checked before installing). */
const DEBIAN = [
  { bin: 'containerd', pkg: 'containerd' }, { bin: 'runc', pkg: 'runc' }, { bin: 'ctr', pkg: 'containerd' },
  { bin: '/usr/lib/cni/bridge', pkg: 'containernetworking-plugins' }, { bin: 'iptables', pkg: 'iptables' },
  { bin: 'ip6tables', pkg: 'iptables' }, { bin: 'umoci', pkg: 'umoci' }, { bin: 'openssl', pkg: 'openssl' },
];

/** Start order; down stops in reverse (containerd is handled specially: its pods go first). */
const COMPONENTS = ['etcd', 'kube-apiserver', 'containerd', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy', 'kubelet', 'coredns'] as const;
type Component = typeof COMPONENTS[number];

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
interface RunState {
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
const t0 = Date.now();
function log(msg: string): void {
  if (!quiet) process.stderr.write(`[cluster +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function has(cmd: string): boolean {
  return cmd.startsWith('/') ? existsSync(cmd) : spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Runs a command, throwing with its stderr on failure; returns stdout. */
function sh(cmd: string, args: readonly string[], opts: { input?: string; allowFail?: boolean } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input: opts.input, maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${cmd} could not start: ${r.error.message}`);
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

function ensureDebianPackages(): void {
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

function checkHost(): void {
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

// ---- processes ----

function pidFile(c: Component): string { return join(clusterPaths().pids, `${c}.pid`); }

/**
 * The start time of a live pid (field 22 of /proc/PID/stat), to tell our process from a recycled
 * pid; undefined when it is gone or a zombie (exited; init reaps the daemons up left behind).
 */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' || fields[0] === 'X' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

/** The pid of a running component started by up, or undefined. */
function runningPid(c: Component): number | undefined {
  try {
    const [pid, started] = readFileSync(pidFile(c), 'utf8').trim().split(' ');
    return startTime(Number(pid)) === started ? Number(pid) : undefined;
  } catch {
    return undefined;
  }
}

function startDaemon(c: Component, bin: string, args: readonly string[]): number {
  const p = clusterPaths();
  const fd = openSync(join(p.logs, `${c}.log`), 'a');
  const child = spawn(bin, args, { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  if (!child.pid) throw new Error(`${c} (${bin}) could not start`);
  writeFileSync(pidFile(c), `${child.pid} ${startTime(child.pid) ?? ''}\n`);
  log(`started ${c} (pid ${child.pid})`);
  return child.pid;
}

function logTail(c: Component, lines = 25): string {
  try {
    return readFileSync(join(clusterPaths().logs, `${c}.log`), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function stopPid(name: string, pid: number, graceMs = 15_000): Promise<void> {
  const started = startTime(pid);
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (startTime(pid) !== started) return;
    await sleep(100);
  }
  log(`${name} (pid ${pid}) did not stop within ${graceMs / 1000} s: SIGKILL`);
  try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  while (startTime(pid) === started) await sleep(50);
}

async function stopComponent(c: Component): Promise<void> {
  const pid = runningPid(c);
  if (pid) {
    await stopPid(c, pid);
    log(`stopped ${c}`);
  }
  rmSync(pidFile(c), { force: true });
}

/** Polls until `probe` is true; fails early if the component exits, with its log's tail. */
async function waitFor(what: string, c: Component | undefined, timeoutMs: number, probe: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    if (c && !runningPid(c)) throw new Error(`${c} exited before ${what}; last lines of its log:\n${logTail(c)}`);
    try {
      if (await probe()) return;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? ` (${last})` : ''}${c ? `; last lines of ${c}'s log:\n${logTail(c)}` : ''}`);
    }
    await sleep(250);
  }
}


// ---- configuration files ----

const server = `https://${NODE_IP}:${APISERVER_PORT}`;

function writeKubeconfig(path: string, caCert: string, id: Identity): void {
  writeFileSync(path, yaml.dump({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'brook-local', cluster: { server, 'certificate-authority-data': readFileSync(caCert).toString('base64') } }],
    users: [{ name: id.user, user: { token: id.token } }],
    contexts: [{ name: 'brook-local', context: { cluster: 'brook-local', user: id.user, namespace: 'default' } }],
    'current-context': 'brook-local',
  }), { mode: 0o600 });
}

function containerdConfig(p: ClusterPaths, pauseRef: string): string {
  return `# Written by test/cluster/cluster.ts: containerd for the single-node test cluster.
version = 2
root = "${p.containerdRoot}"
state = "${p.containerdState}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "${p.containerdSock}"

[ttrpc]
  address = "${p.containerdSock}.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "${join(p.run, 'containerd', 'opt')}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${pauseRef}"
  # root here lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj below the runtime's own.
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${p.cniConf}"
    max_conf_num = 1
`;
}

function cniConfig(p: ClusterPaths): string {
  return JSON.stringify({
    cniVersion: '0.4.0',
    name: 'brook',
    plugins: [{
      type: 'bridge',
      bridge: BRIDGE,
      isGateway: true,
      ipMasq: false,
      hairpinMode: true,
      ipam: {
        type: 'host-local',
        dataDir: p.cniData,
        ranges: [[{ subnet: POD_CIDR, rangeStart: '10.244.0.10', gateway: NODE_IP }]],
        // The service range only: pods have no default route, so nothing leaves the machine.
        routes: [{ dst: SERVICE_CIDR }],
      },
    }],
  }, null, 2);
}

function kubeletConfig(p: ClusterPaths, pki: Pki): string {
  return yaml.dump({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    containerRuntimeEndpoint: `unix://${p.containerdSock}`,
    cgroupDriver: 'cgroupfs',
    failCgroupV1: false,
    address: NODE_IP,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: 10248,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: pki.caCert } },
    authorization: { mode: 'Webhook' },
    clusterDNS: [NODE_IP],
    clusterDomain: CLUSTER_DOMAIN,
    resolvConf: '',
    failSwapOn: false,
    // containerd 1.6 does not pin the sandbox image, and no registry can give it back.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    // A shared build machine's disk may be fuller than a real node's; only evict when it is really full.
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '2%', 'imagefs.available': '2%', 'nodefs.inodesFree': '2%' },
    podLogsDir: p.podLogs,
    serializeImagePulls: false,
    rotateCertificates: false,
    serverTLSBootstrap: false,
    protectKernelDefaults: false,
    maxPods: 110,
  });
}

function kubeProxyConfig(p: ClusterPaths): string {
  return yaml.dump({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig: join(p.kubeconfigs, 'kube-proxy.kubeconfig') },
    mode: 'iptables',
    hostnameOverride: NODE_NAME,
    bindAddress: NODE_IP,
    clusterCIDR: POD_CIDR,
    healthzBindAddress: '127.0.0.1:10256',
    metricsBindAddress: '127.0.0.1:10249',
    // NodePorts only on the node's bridge address, never on the machine's own interfaces.
    nodePortAddresses: [`${NODE_IP}/32`],
    // Leave the host's sysctls alone (route_localnet, conntrack table sizes and timeouts).
    iptables: { localhostNodePorts: false, masqueradeAll: false },
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
  });
}

function corefile(p: ClusterPaths): string {
  return `# Written by test/cluster/cluster.ts. No forward plugin: names outside the cluster get no answer.
.:53 {
    bind ${NODE_IP}
    errors
    health 127.0.0.1:18080
    ready 127.0.0.1:18181
    kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {
        kubeconfig ${join(p.kubeconfigs, 'coredns.kubeconfig')} brook-local
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 5
}
`;
}

/** RBAC for CoreDNS, the default StorageClass and the static PersistentVolumes. */
function clusterObjects(p: ClusterPaths, corednsUser: string): string {
  const objects: unknown[] = [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'brook:coredns' },
      rules: [
        { apiGroups: [''], resources: ['endpoints', 'services', 'pods', 'namespaces'], verbs: ['list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'brook:coredns' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'brook:coredns' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: corednsUser }],
    },
    {
      apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass',
      metadata: { name: STORAGE_CLASS, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
      provisioner: 'kubernetes.io/no-provisioner', volumeBindingMode: 'WaitForFirstConsumer', reclaimPolicy: 'Retain',
    },
  ];
  for (let i = 0; i < PV_COUNT; i++) objects.push(pvObject(p, i));
  return objects.map((o) => `---\n${yaml.dump(o)}`).join('');
}

function pvName(i: number): string { return `brook-local-pv-${String(i).padStart(2, '0')}`; }

function pvObject(p: ClusterPaths, i: number): unknown {
  return {
    apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: pvName(i), labels: { 'brook.dev/local-pv': 'true' } },
    spec: {
      capacity: { storage: PV_SIZE }, accessModes: ['ReadWriteOnce'], persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: STORAGE_CLASS, volumeMode: 'Filesystem',
      hostPath: { path: join(p.pv, pvName(i)), type: 'Directory' },
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [NODE_NAME] }] }] } },
    },
  };
}

/**
 * An empty, world-writable directory for a PV: hostPath volumes ignore fsGroup, and pods run as
 * non-root users (the brokers as 10001), as local-path provisioners do it.
 */
function freshPvDir(p: ClusterPaths, i: number): void {
  const dir = join(p.pv, pvName(i));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o777);
}

// ---- kubectl ----

export function kubectlBin(): string {
  return findKubectl(k8sVersions().kubernetes);
}

function kubectl(args: readonly string[], input?: string): string {
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

// ---- network ----

function sysctlPath(key: string): string { return `/proc/sys/${key.replace(/\./g, '/')}`; }

function setSysctls(state: RunState): void {
  for (const [key, value] of [['net.ipv4.ip_forward', '1'], ['net.bridge.bridge-nf-call-iptables', '1']]) {
    const path = sysctlPath(key);
    if (!existsSync(path) && key.startsWith('net.bridge.')) sh('modprobe', ['br_netfilter'], { allowFail: true });
    if (!existsSync(path)) throw new Error(`${path} is missing (br_netfilter not loaded?)`);
    const old = readFileSync(path, 'utf8').trim();
    if (old !== value) {
      state.sysctls[key] = old;
      writeFileSync(path, value);
    }
  }
}

function iptablesChainExists(ipt: string, table: string, chain: string): boolean {
  return spawnSync(ipt, ['-w', '-t', table, '-S', chain], { stdio: 'ignore' }).status === 0;
}

function setUpNetwork(): void {
  if (spawnSync('ip', ['link', 'show', BRIDGE], { stdio: 'ignore' }).status !== 0) sh('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  if (!sh('ip', ['-4', 'addr', 'show', 'dev', BRIDGE]).includes(`${NODE_IP}/24`)) sh('ip', ['addr', 'add', `${NODE_IP}/24`, 'dev', BRIDGE]);
  sh('ip', ['link', 'set', BRIDGE, 'up']);
  // The guard: nothing is forwarded between the pods' bridge and any other interface.
  if (!iptablesChainExists('iptables', 'filter', GUARD_CHAIN)) sh('iptables', ['-w', '-N', GUARD_CHAIN]);
  sh('iptables', ['-w', '-F', GUARD_CHAIN]);
  sh('iptables', ['-w', '-A', GUARD_CHAIN, '-i', BRIDGE, '!', '-o', BRIDGE, '-j', 'DROP']);
  sh('iptables', ['-w', '-A', GUARD_CHAIN, '-o', BRIDGE, '!', '-i', BRIDGE, '-j', 'DROP']);
  if (spawnSync('iptables', ['-w', '-C', 'FORWARD', '-j', GUARD_CHAIN], { stdio: 'ignore' }).status !== 0) {
    sh('iptables', ['-w', '-I', 'FORWARD', '1', '-j', GUARD_CHAIN]);
  }
}

/** Every iptables/ip6tables chain the cluster made: kube-proxy's and kubelet's KUBE-*, and the guard. */
function clusterChains(ipt: string): Array<{ table: string; chain: string }> {
  const out: Array<{ table: string; chain: string }> = [];
  for (const table of ['filter', 'nat', 'mangle']) {
    const rules = sh(ipt, ['-w', '-t', table, '-S'], { allowFail: true });
    for (const m of rules.matchAll(/^-N (\S+)$/gm)) {
      if (m[1].startsWith('KUBE-') || m[1] === GUARD_CHAIN) out.push({ table, chain: m[1] });
    }
  }
  return out;
}

function tearDownNetwork(): void {
  for (const ipt of ['iptables', 'ip6tables']) {
    if (!has(ipt)) continue;
    const chains = clusterChains(ipt);
    if (chains.length === 0) continue;
    // Rules in built-in chains that jump to ours first, then our chains' rules, then our chains.
    for (const table of ['filter', 'nat', 'mangle']) {
      const rules = sh(ipt, ['-w', '-t', table, '-S'], { allowFail: true }).split('\n');
      for (const rule of rules) {
        const m = /^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) (.*-j (KUBE-\S+|BROOK-CLUSTER-GUARD)\b.*)$/.exec(rule);
        if (m) sh(ipt, ['-w', '-t', table, '-D', m[1], ...splitRule(m[2])], { allowFail: true });
      }
    }
    for (const { table, chain } of chains) sh(ipt, ['-w', '-t', table, '-F', chain], { allowFail: true });
    for (const { table, chain } of chains) sh(ipt, ['-w', '-t', table, '-X', chain], { allowFail: true });
  }
  if (spawnSync('ip', ['link', 'show', BRIDGE], { stdio: 'ignore' }).status === 0) sh('ip', ['link', 'delete', BRIDGE]);
}

/** Splits an `iptables -S` rule into arguments (quoted comments included). */
function splitRule(rule: string): string[] {
  return [...rule.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => m[1] ?? m[2]);
}

// ---- mounts, cgroups, leftovers ----

function mountsUnder(prefixes: readonly string[]): string[] {
  const points = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter(Boolean)
    .map((m) => m.replace(/\\040/g, ' '));
  return points.filter((m) => prefixes.some((p) => m === p || m.startsWith(`${p}/`))).sort((a, b) => b.length - a.length);
}

function unmountAll(prefixes: readonly string[]): void {
  for (let round = 0; round < 5; round++) {
    const mounts = mountsUnder(prefixes);
    if (mounts.length === 0) return;
    for (const m of mounts) {
      if (spawnSync('umount', [m], { stdio: 'ignore' }).status !== 0) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
    }
  }
  const left = mountsUnder(prefixes);
  if (left.length) throw new Error(`could not unmount: ${left.join(', ')}`);
}

/** kubelet's pod cgroups (kubepods/...) in every v1 hierarchy, removed deepest first. */
function removePodCgroups(): void {
  const roots: string[] = [];
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) roots.push('/sys/fs/cgroup');
  else for (const d of readdirSync('/sys/fs/cgroup')) roots.push(join('/sys/fs/cgroup', d));
  const rm = (dir: string) => {
    let entries: string[] = [];
    try { entries = readdirSync(dir); } catch { return; }
    for (const e of entries) {
      const sub = join(dir, e);
      try { if (statSync(sub).isDirectory()) rm(sub); } catch { /* gone */ }
    }
    try { rmdirSync(dir); } catch { /* busy or gone */ }
  };
  for (const r of roots) for (const name of ['kubepods', 'kubepods.slice']) if (existsSync(join(r, name))) rm(join(r, name));
}

/** Processes whose command line mentions the state folder (containerd shims, stray pods' processes). */
function processesUsing(dir: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(dir)) pids.push(Number(e));
    } catch { /* gone */ }
  }
  return pids;
}

// ---- containerd: images and pods ----

function ctr(args: readonly string[], opts: { allowFail?: boolean } = {}): string {
  return sh('ctr', ['--address', clusterPaths().containerdSock, '-n', 'k8s.io', ...args], opts);
}

function importImage(image: BuiltImage): void {
  const have = ctr(['images', 'ls', '-q']).split('\n');
  if (have.includes(image.ref)) return;
  const started = Date.now();
  ctr(['images', 'import', '--base-name', image.name, image.archive]);
  if (!ctr(['images', 'ls', '-q']).split('\n').includes(image.ref)) throw new Error(`ctr images import did not produce ${image.ref}`);
  log(`imported ${image.ref} (${mib(image.archiveBytes)}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** Kills every container and sandbox containerd runs for Kubernetes, and removes them. */
function removeAllContainers(): void {
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

// ---- up / down / status ----

function readState(): RunState | undefined {
  try { return JSON.parse(readFileSync(clusterPaths().state, 'utf8')) as RunState; } catch { return undefined; }
}

function componentsRunning(): Component[] {
  return COMPONENTS.filter((c) => runningPid(c) !== undefined);
}

export function clusterIsUp(): boolean {
  return componentsRunning().length === COMPONENTS.length && existsSync(clusterPaths().kubeconfig);
}

/**
 * One `up` or `down` at a time on this machine (the cluster is a singleton: one bridge, fixed
 * ports): an exclusive lock file holding the owner's pid and start time; a dead owner's lock is taken over.
 */
async function withLock<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${clusterPaths().run}.lock`;
  mkdirSync(dirname(lock), { recursive: true });
  const deadline = Date.now() + 30 * 60_000;
  let told = false;
  for (;;) {
    try {
      writeFileSync(lock, `${process.pid} ${startTime(process.pid)}\n`, { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const [pid, started] = readFileSync(lock, 'utf8').trim().split(' ');
      if (startTime(Number(pid)) !== started) { rmSync(lock, { force: true }); continue; }
      if (Date.now() > deadline) throw new Error(`cluster ${what}: process ${pid} has held ${lock} for 30 minutes`);
      if (!told) { log(`waiting for process ${pid} (another cluster up/down) to finish`); told = true; }
      await sleep(1_000);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** Brings the cluster up (building binaries and images first if not cached). Idempotent. */
export function clusterUp(opts: { quiet?: boolean } = {}): Promise<UpResult> {
  return withLock('up', () => up(opts));
}

/** Stops every component and removes what up made: pods, mounts, bridge, iptables chains, host paths. */
export function clusterDown(opts: { quiet?: boolean; keepLogs?: boolean } = {}): Promise<void> {
  return withLock('down', () => down(opts));
}

async function up(opts: { quiet?: boolean }): Promise<UpResult> {
  quiet = opts.quiet ?? false;
  const started = Date.now();
  const p = clusterPaths();
  checkHost();
  ensureDebianPackages();
  log('building (or finding cached) binaries and images');
  const bins = ensureClusterBinaries();
  const images = { brook: buildBrookImage(), pause: buildPauseImage(), kcat: buildKcatImage() };
  if (clusterIsUp()) {
    const state = readState();
    const recycled = recycleReleasedVolumes();
    if (recycled) log(`${recycled} released PersistentVolumes emptied and Available again`);
    if (state?.images.brook === images.brook.ref) {
      log(`already up (since ${state.startedAt})`);
      return { kubeconfig: p.kubeconfig, server, images, started: false, ms: Date.now() - started };
    }
    log(`running with image ${state?.images.brook}; importing ${images.brook.ref}`);
    importImage(images.brook);
    importImage(images.kcat);
    writeFileSync(p.state, JSON.stringify({ ...state, images: { brook: images.brook.ref, pause: images.pause.ref } }, null, 2));
    return { kubeconfig: p.kubeconfig, server, images, started: false, ms: Date.now() - started };
  }
  if (componentsRunning().length > 0 || existsSync(p.state)) {
    log(`a partial cluster is running (${componentsRunning().join(', ') || 'leftovers'}): taking it down first`);
    await down({ quiet: opts.quiet });
  }

  rmSync(p.run, { recursive: true, force: true });
  for (const d of [p.logs, p.pids, p.kubeconfigs, p.containerdRoot, p.containerdState, p.kubeletRoot, p.podLogs, p.cniConf, p.cniData, p.pv]) {
    mkdirSync(d, { recursive: true });
  }
  const state: RunState = {
    createdHostPaths: HOST_PATHS.filter((h) => !existsSync(h)),
    sysctls: {},
    images: { brook: images.brook.ref, pause: images.pause.ref },
    startedAt: new Date().toISOString(),
  };
  writeFileSync(p.state, JSON.stringify(state, null, 2));
  try {
    log(`network: bridge ${BRIDGE} ${NODE_IP}/24, pods ${POD_CIDR}, services ${SERVICE_CIDR}`);
    setSysctls(state);
    writeFileSync(p.state, JSON.stringify(state, null, 2));
    setUpNetwork();

    const pki = makePki(p.pki, {
      nodeName: NODE_NAME,
      apiserverIps: [NODE_IP, KUBERNETES_SERVICE_IP, '127.0.0.1'],
      dnsNames: ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${CLUSTER_DOMAIN}`, 'localhost'],
    });
    const kc = (name: string) => join(p.kubeconfigs, `${name}.kubeconfig`);
    writeKubeconfig(p.kubeconfig, pki.caCert, pki.identities.admin);
    writeKubeconfig(kc('kube-controller-manager'), pki.caCert, pki.identities.controllerManager);
    writeKubeconfig(kc('kube-scheduler'), pki.caCert, pki.identities.scheduler);
    writeKubeconfig(kc('kubelet'), pki.caCert, pki.identities.kubelet);
    writeKubeconfig(kc('kube-proxy'), pki.caCert, pki.identities.kubeProxy);
    writeKubeconfig(kc('coredns'), pki.caCert, pki.identities.coredns);

    const b = (name: ClusterBinary) => bins[name];
    startDaemon('etcd', b('etcd'), [
      '--name=brook-node', `--data-dir=${join(p.run, 'etcd')}`,
      `--listen-client-urls=${ETCD_CLIENT}`, `--advertise-client-urls=${ETCD_CLIENT}`,
      `--listen-peer-urls=${ETCD_PEER}`, `--initial-advertise-peer-urls=${ETCD_PEER}`, `--initial-cluster=brook-node=${ETCD_PEER}`,
      '--unsafe-no-fsync', '--log-level=warn', '--quota-backend-bytes=2147483648',
    ]);
    await waitFor('etcd /health', 'etcd', 60_000, async () => (await get(`${ETCD_CLIENT}/health`)).status === 200);

    startDaemon('kube-apiserver', b('kube-apiserver'), [
      `--etcd-servers=${ETCD_CLIENT}`,
      `--bind-address=${NODE_IP}`, `--advertise-address=${NODE_IP}`, `--secure-port=${APISERVER_PORT}`,
      `--tls-cert-file=${pki.apiserverCert}`, `--tls-private-key-file=${pki.apiserverKey}`,
      `--client-ca-file=${pki.caCert}`, `--token-auth-file=${pki.tokensCsv}`,
      '--authorization-mode=Node,RBAC', '--enable-admission-plugins=NodeRestriction',
      `--service-cluster-ip-range=${SERVICE_CIDR}`, `--service-node-port-range=${NODE_PORT_RANGE}`,
      `--service-account-issuer=https://kubernetes.default.svc.${CLUSTER_DOMAIN}`,
      `--service-account-key-file=${pki.saPub}`, `--service-account-signing-key-file=${pki.saKey}`,
      `--kubelet-client-certificate=${pki.kubeletClientCert}`, `--kubelet-client-key=${pki.kubeletClientKey}`,
      '--kubelet-preferred-address-types=InternalIP',
      `--requestheader-client-ca-file=${pki.caCert}`, '--requestheader-allowed-names=front-proxy-client',
      '--requestheader-username-headers=X-Remote-User', '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      `--proxy-client-cert-file=${pki.frontProxyClientCert}`, `--proxy-client-key-file=${pki.frontProxyClientKey}`,
      '--allow-privileged=true', '--profiling=false', '--v=0',
    ]);
    const ca = readFileSync(pki.caCert, 'utf8');
    await waitFor('kube-apiserver /readyz', 'kube-apiserver', 180_000,
      async () => (await get(`${server}/readyz`, { ca, token: pki.identities.admin.token })).status === 200);

    writeFileSync(p.containerdConfig, containerdConfig(p, images.pause.ref));
    writeFileSync(join(p.cniConf, '10-brook.conflist'), cniConfig(p));
    startDaemon('containerd', 'containerd', ['--config', p.containerdConfig, '--log-level', 'warn']);
    await waitFor('containerd', 'containerd', 60_000, () => spawnSync('ctr', ['--address', p.containerdSock, 'version'], { stdio: 'ignore' }).status === 0);
    importImage(images.pause);
    importImage(images.brook);
    importImage(images.kcat);

    kubectl(['apply', '--server-side', '-f', '-'], clusterObjects(p, pki.identities.coredns.user));
    for (let i = 0; i < PV_COUNT; i++) freshPvDir(p, i);

    const common = (name: string) => [
      `--kubeconfig=${kc(name)}`, `--authentication-kubeconfig=${kc(name)}`, `--authorization-kubeconfig=${kc(name)}`,
      '--bind-address=127.0.0.1', '--leader-elect=false', `--cert-dir=${join(p.run, name)}`,
    ];
    startDaemon('kube-controller-manager', b('kube-controller-manager'), [
      ...common('kube-controller-manager'), '--secure-port=10257',
      `--root-ca-file=${pki.caCert}`, `--service-account-private-key-file=${pki.saKey}`,
      '--use-service-account-credentials=true', `--service-cluster-ip-range=${SERVICE_CIDR}`,
      `--cluster-signing-cert-file=${pki.caCert}`, `--cluster-signing-key-file=${pki.caKey}`,
      '--controllers=*,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller',
    ]);
    startDaemon('kube-scheduler', b('kube-scheduler'), [...common('kube-scheduler'), '--secure-port=10259']);
    writeFileSync(join(p.run, 'kube-proxy.yaml'), kubeProxyConfig(p));
    startDaemon('kube-proxy', b('kube-proxy'), [`--config=${join(p.run, 'kube-proxy.yaml')}`]);
    writeFileSync(join(p.run, 'kubelet.yaml'), kubeletConfig(p, pki));
    startDaemon('kubelet', b('kubelet'), [
      `--config=${join(p.run, 'kubelet.yaml')}`, `--kubeconfig=${kc('kubelet')}`, `--root-dir=${p.kubeletRoot}`,
      `--cert-dir=${join(p.kubeletRoot, 'pki')}`, `--node-ip=${NODE_IP}`, `--hostname-override=${NODE_NAME}`, '--v=0',
    ]);
    writeFileSync(join(p.run, 'Corefile'), corefile(p));
    startDaemon('coredns', b('coredns'), ['-conf', join(p.run, 'Corefile')]);

    await waitFor(`node ${NODE_NAME} Ready`, 'kubelet', 180_000, () => {
      const out = sh(kubectlBin(), ['--kubeconfig', p.kubeconfig, 'get', 'node', NODE_NAME, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'], { allowFail: true });
      return out.trim() === 'True';
    });
    await waitFor('CoreDNS ready', 'coredns', 60_000, async () => (await get('http://127.0.0.1:18181/ready')).status === 200);
    await waitFor('the default ServiceAccount', 'kube-controller-manager', 60_000,
      () => spawnSync(kubectlBin(), ['--kubeconfig', p.kubeconfig, 'get', 'serviceaccount', 'default', '-n', 'default'], { stdio: 'ignore' }).status === 0);
    for (const c of COMPONENTS) if (!runningPid(c)) throw new Error(`${c} exited during start-up; last lines of its log:\n${logTail(c)}`);
    log(`up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return { kubeconfig: p.kubeconfig, server, images, started: true, ms: Date.now() - started };
  } catch (err) {
    log(`up failed: ${(err as Error).message.split('\n')[0]}; logs in ${p.logs}; taking down what started`);
    await down({ quiet: opts.quiet, keepLogs: true });
    throw err;
  }
}

async function down(opts: { quiet?: boolean; keepLogs?: boolean }): Promise<void> {
  quiet = opts.quiet ?? false;
  const p = clusterPaths();
  const state = readState();
  // kubelet first, so nothing restarts the containers removed next; containerd last.
  for (const c of ['kubelet', 'coredns', 'kube-proxy', 'kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd'] as const) {
    await stopComponent(c);
  }
  if (runningPid('containerd')) {
    removeAllContainers();
    await stopComponent('containerd');
  }
  rmSync(pidFile('containerd'), { force: true });
  // containerd shims and anything else still running from the state folder.
  for (const pid of processesUsing(p.run)) await stopPid(`process ${pid}`, pid, 5_000);

  if (existsSync(kubeProxyPath()) && has('iptables')) spawnSync(kubeProxyPath(), ['--cleanup', '--v=0'], { stdio: 'ignore' });
  tearDownNetwork();
  unmountAll([p.run, '/run/netns', '/var/run/netns', '/var/lib/kubelet']);
  for (const f of existsSync('/run/netns') ? readdirSync('/run/netns') : []) {
    if (f.startsWith('cni-')) rmSync(join('/run/netns', f), { force: true });
  }
  removePodCgroups();
  for (const [key, old] of Object.entries(state?.sysctls ?? {})) {
    try { writeFileSync(sysctlPath(key), old); } catch { /* module gone */ }
  }
  for (const h of state?.createdHostPaths ?? []) rmSync(h, { recursive: true, force: true });
  // kubelet's symlinks to pod logs (always under /var/log/containers) when that folder was there before.
  if (existsSync('/var/log/containers') && !(state?.createdHostPaths ?? []).includes('/var/log/containers')) {
    for (const f of readdirSync('/var/log/containers')) rmSync(join('/var/log/containers', f), { force: true });
  }
  if (existsSync(p.run)) {
    for (const e of readdirSync(p.run)) if (!(opts.keepLogs !== false && e === 'logs')) rmSync(join(p.run, e), { recursive: true, force: true });
  }
  log('down: no cluster processes, mounts, bridge or iptables chains left');
}

/** kube-proxy's path without building it (down must not start a 15-minute build). */
function kubeProxyPath(): string {
  return join(clusterBinDir(), 'kube-proxy');
}

export interface ComponentStatus { name: Component; pid?: number; rssMiB?: number }

/** Resident memory of a process and its descendants (containerd counts its shims), in MiB. */
export function rssMiB(pid: number): number {
  const children = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
    } catch { /* gone */ }
  }
  let kib = 0;
  const visit = (q: number) => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${q}/status`, 'utf8'));
      if (m) kib += Number(m[1]);
    } catch { /* gone */ }
    for (const c of children.get(q) ?? []) visit(c);
  };
  visit(pid);
  return kib / 1024;
}

export function clusterStatus(): { components: ComponentStatus[]; up: boolean; kubeconfig: string } {
  const components = COMPONENTS.map((name) => {
    const pid = runningPid(name);
    return { name, pid, rssMiB: pid ? rssMiB(pid) : undefined };
  });
  return { components, up: clusterIsUp(), kubeconfig: clusterPaths().kubeconfig };
}

/** What the cluster left on the host that down should have removed (empty when clean). */
export function leftovers(): string[] {
  const p = clusterPaths();
  const out: string[] = [];
  for (const c of componentsRunning()) out.push(`process ${c}`);
  for (const pid of processesUsing(p.run)) out.push(`process ${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').slice(0, 120)}`);
  for (const m of mountsUnder([p.run, '/run/netns', '/var/lib/kubelet'])) out.push(`mount ${m}`);
  if (spawnSync('ip', ['link', 'show', BRIDGE], { stdio: 'ignore' }).status === 0) out.push(`bridge ${BRIDGE}`);
  for (const ipt of ['iptables', 'ip6tables']) if (has(ipt)) for (const c of clusterChains(ipt)) out.push(`${ipt} -t ${c.table} chain ${c.chain}`);
  return out;
}
