// Types for build.mjs (plain JavaScript so scripts/ensure-deps.mjs can run it on any Node).
export function findGo(): string;
export function k8sVersions(): { kubernetes: string; etcd: string };
export function k8sBinDir(): string;
export function ensureK8sBinaries(): string;
export function genGoMod(versions: { kubernetes: string; etcd: string }): void;
