/**
 * The configuration the components read, generated from the cluster's facts: kubeconfigs,
 * containerd's config, the CNI bridge, kubelet and kube-proxy configs, CoreDNS's Corefile, the
 * in-cluster objects `up` applies, and the static hostPath PersistentVolumes.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import { type Identity, type Pki } from './pki.ts';
import { APISERVER_PORT, BRIDGE, CLUSTER_DOMAIN, NODE_IP, NODE_NAME, POD_CIDR, PV_COUNT, PV_SIZE, SERVICE_CIDR, STORAGE_CLASS, sh, type ClusterPaths } from './host.ts';

// ---- configuration files ----

export const server = `https://${NODE_IP}:${APISERVER_PORT}`;

export function writeKubeconfig(path: string, caCert: string, id: Identity): void {
  writeFileSync(path, yaml.dump({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'brook-local', cluster: { server, 'certificate-authority-data': readFileSync(caCert).toString('base64') } }],
    users: [{ name: id.user, user: { token: id.token } }],
    contexts: [{ name: 'brook-local', context: { cluster: 'brook-local', user: id.user, namespace: 'default' } }],
    'current-context': 'brook-local',
  }), { mode: 0o600 });
}

export function containerdConfig(p: ClusterPaths, pauseRef: string): string {
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

export function cniConfig(p: ClusterPaths): string {
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

export function kubeletConfig(p: ClusterPaths, pki: Pki): string {
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

export function kubeProxyConfig(p: ClusterPaths): string {
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

export function corefile(p: ClusterPaths): string {
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
export function clusterObjects(p: ClusterPaths, corednsUser: string): string {
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

export function pvName(i: number): string { return `brook-local-pv-${String(i).padStart(2, '0')}`; }

export function pvObject(p: ClusterPaths, i: number): unknown {
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
export function freshPvDir(p: ClusterPaths, i: number): void {
  const dir = join(p.pv, pvName(i));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o777);
}
