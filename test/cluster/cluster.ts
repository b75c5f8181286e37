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
 *
 * This file is up / down / status; the jobs they compose: host.ts (facts, paths, commands, host
 * checks), processes.ts (components as processes), config-files.ts (what the components read),
 * network.ts (bridge, iptables, sysctls, mounts and cgroups), node-tools.ts (kubectl, ctr, images).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { buildBrookImage, buildKcatImage, buildPauseImage } from '../../scripts/image.ts';
import { clusterBinDir, ensureClusterBinaries, type ClusterBinary } from '../k8s/build.mjs';
import { get } from '../k8s/envtest.ts';
import { makePki } from './pki.ts';
import { NODE_NAME, BRIDGE, NODE_IP, POD_CIDR, SERVICE_CIDR, KUBERNETES_SERVICE_IP, CLUSTER_DOMAIN, APISERVER_PORT, ETCD_CLIENT, ETCD_PEER, NODE_PORT_RANGE, PV_COUNT, HOST_PATHS, COMPONENTS, clusterPaths, setQuiet, log, sleep, has, sh, ensureDebianPackages, checkHost, type Component, type RunState, type UpResult } from './host.ts';
import { pidFile, startTime, runningPid, startDaemon, logTail, stopPid, stopComponent, waitFor } from './processes.ts';
import { server, writeKubeconfig, containerdConfig, cniConfig, kubeletConfig, kubeProxyConfig, corefile, clusterObjects, freshPvDir } from './config-files.ts';
import { sysctlPath, setSysctls, setUpNetwork, clusterChains, tearDownNetwork, mountsUnder, unmountAll, removePodCgroups, processesUsing } from './network.ts';
import { kubectlBin, kubectl, recycleReleasedVolumes, importImage, removeAllContainers } from './node-tools.ts';

// The public surface of the local cluster (what cli.ts and the e2e tier import): its facts and
// paths (host.ts), kubectl against it (node-tools.ts), and up / down / status below.
export {
  APISERVER_PORT, BRIDGE, CLUSTER_DOMAIN, KUBERNETES_SERVICE_IP, NODE_IP, NODE_NAME, NODE_PORT_RANGE, POD_CIDR, PV_COUNT, PV_SIZE,
  SERVICE_CIDR, STORAGE_CLASS, clusterPaths, type ClusterPaths, type UpResult,
} from './host.ts';
export { kubectlBin, recycleReleasedVolumes } from './node-tools.ts';

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
  setQuiet(opts.quiet ?? false);
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
  setQuiet(opts.quiet ?? false);
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
