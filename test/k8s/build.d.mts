// Types for build.mjs (plain JavaScript so scripts/ensure-deps.mjs can run it on any Node).
export function findGo(): string;
export function k8sVersions(): { kubernetes: string; etcd: string; coredns: string };
export function k8sBinDir(): string;
export function ensureK8sBinaries(): string;
export function genGoMod(versions: { kubernetes: string; etcd: string }): void;
export const CLUSTER_BINARIES: readonly string[];
export function clusterBinDir(): string;
export function corednsPath(): string;
export type ClusterBinary = 'kube-apiserver' | 'etcd' | 'kubelet' | 'kube-controller-manager' | 'kube-scheduler' | 'kube-proxy' | 'coredns';
export function ensureClusterBinaries(): Record<ClusterBinary, string>;
export function certManagerVersion(): string;
export function certManagerDir(): string;
export function ensureCertManager(): { controller: string; crds: string };
