#!/usr/bin/env node
// Builds the Kubernetes test tiers' binaries from the Go module proxy, once each, into the cache:
//   envtest tier   kube-apiserver and etcd          <cache>/k8s-<kubernetes>-etcd-<etcd>/bin/
//   cluster tier   kubelet, kube-controller-manager, kube-scheduler, kube-proxy (one `go build` of
//                  test/k8s/cluster, the same release as kube-apiserver)
//                                                   <cache>/k8s-cluster-<kubernetes>/bin/
//                  CoreDNS (test/k8s/coredns)       <cache>/coredns-<coredns>/bin/
//   cert-manager   its controller (test/k8s/cert-manager, a main of ours over the published module:
//                  its main.go says why) and its CRDs (deploy/crds of the module)
//                                                   <cache>/cert-manager-<version>/{bin,crds}/
// Plain JavaScript with Node built-ins only, so scripts/ensure-deps.mjs can call it on whatever Node
// the machine has.
//
//   node test/k8s/build.mjs                      build kube-apiserver and etcd unless cached (prints the bin dir)
//   node test/k8s/build.mjs cluster              also the cluster tier's binaries (prints their paths)
//   node test/k8s/build.mjs cert-manager         the cert-manager controller and CRDs (prints their directory)
//   node test/k8s/build.mjs gen-gomod [--kubernetes v1.34.N] [--etcd v3.6.N]
//                                                rewrite test/k8s/{apiserver,cluster,etcd}/go.mod (and go.sum)
//
// The versions live in the two go.mod files; gen-gomod is how they change. kube-apiserver's go.mod
// requires every staging module (k8s.io/api, k8s.io/apiserver, ...) at v0.0.0 and replaces them with
// local paths, and a dependency's replace lines are ignored, so ours must replace each one with its
// published v0.N.M. gen-gomod derives that list and the godebug line from the release's own go.mod
// (`go mod download -json k8s.io/kubernetes@VERSION`), never from a hand-typed list.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from '../../scripts/cache-dir.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const apiserverModule = join(here, 'apiserver');
const etcdModule = join(here, 'etcd');
const clusterModule = join(here, 'cluster');
const corednsModule = join(here, 'coredns');
const certManagerModule = join(here, 'cert-manager');
/** The mains of test/k8s/cluster, built together; each is the same main as k8s.io/kubernetes/cmd/<name>. */
export const CLUSTER_BINARIES = ['kubelet', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy'];

function log(msg) { process.stderr.write(`[k8s-build] ${msg}\n`); }

/** The Go version the modules need: the highest `go` line of their go.mod files. */
function requiredGo() {
  let need = [1, 24];
  for (const dir of [apiserverModule, etcdModule, clusterModule, corednsModule, certManagerModule]) {
    const m = existsSync(join(dir, 'go.mod')) && /^go (\d+)\.(\d+)/m.exec(readFileSync(join(dir, 'go.mod'), 'utf8'));
    if (m && (Number(m[1]) > need[0] || (Number(m[1]) === need[0] && Number(m[2]) > need[1]))) need = [Number(m[1]), Number(m[2])];
  }
  return need;
}

/** The Go toolchain: $GO, `go` on PATH, or /usr/local/go/bin/go; else a clear error naming what to install. */
export function findGo() {
  const [major, minor] = requiredGo();
  const candidates = [process.env.GO, 'go', '/usr/local/go/bin/go'].filter(Boolean);
  for (const go of candidates) {
    const r = spawnSync(go, ['version'], { encoding: 'utf8' });
    if (r.status === 0) {
      const m = /go(\d+)\.(\d+)/.exec(r.stdout);
      if (m && (Number(m[1]) > major || (Number(m[1]) === major && Number(m[2]) >= minor))) return go;
      log(`${go} is too old (${r.stdout.trim()}); the test tier's go.mod files need Go >= ${major}.${minor}`);
    }
  }
  throw new Error(
    `The Kubernetes test tier builds kube-apiserver and etcd from source and needs a Go toolchain >= ${major}.${minor} `
    + '(none found: not $GO, not `go` on PATH, not /usr/local/go/bin/go). Install the official Go release '
    + 'tarball into /usr/local/go (Debian\'s golang package is older than that), or set GO=/path/to/go. '
    + 'The first build also needs the Go module proxy (GOPROXY) to be reachable.');
}

function goEnv() {
  // GOTOOLCHAIN=local: never fetch another toolchain behind the user's back.
  return { ...process.env, CGO_ENABLED: '0', GOTOOLCHAIN: 'local', GOFLAGS: '-buildvcs=false' };
}

function runGo(go, args, cwd, { capture = false } = {}) {
  log(`$ (cd ${cwd.slice(root.length + 1) || '.'}) go ${args.join(' ')}`);
  const r = spawnSync(go, args, {
    cwd, env: goEnv(), encoding: 'utf8', maxBuffer: 64 << 20,
    stdio: capture ? ['ignore', 'pipe', 'inherit'] : 'inherit',
  });
  if (r.error) throw new Error(`go could not start: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`go ${args.join(' ')} exited with ${r.status} (is the Go module proxy reachable? GOPROXY=${process.env.GOPROXY ?? 'default'})`);
  }
  return r.stdout;
}

/** The pinned versions, read from the go.mod files (the single place they are written). */
export function k8sVersions() {
  const req = (file, mod) => {
    const text = readFileSync(file, 'utf8');
    const m = new RegExp(`^\\s*(?:require\\s+)?${mod.replace(/[./]/g, '\\$&')}\\s+(v\\S+)`, 'm').exec(text);
    if (!m) throw new Error(`${file} does not require ${mod}`);
    return m[1];
  };
  return {
    kubernetes: req(join(apiserverModule, 'go.mod'), 'k8s.io/kubernetes'),
    etcd: req(join(etcdModule, 'go.mod'), 'go.etcd.io/etcd/server/v3'),
    coredns: req(join(corednsModule, 'go.mod'), 'github.com/coredns/coredns'),
  };
}

/** <cache>/k8s-<versions>/bin: where the binaries live; the versions are the cache key. */
export function k8sBinDir() {
  const v = k8sVersions();
  return join(cacheDir(), `k8s-${v.kubernetes}-etcd-${v.etcd}`, 'bin');
}

function ldflags(kubernetes) {
  const [, major, minor] = /^v(\d+)\.(\d+)\./.exec(kubernetes);
  const flags = { gitVersion: kubernetes, gitMajor: major, gitMinor: minor, gitTreeState: 'clean' };
  const x = Object.entries(flags).map(([k, v]) => `-X k8s.io/component-base/version.${k}=${v}`);
  return ['-s', '-w', ...x].join(' ');
}

function build(go, moduleDir, out, extraArgs) {
  const tmp = `${out}.tmp-${process.pid}`;
  const started = Date.now();
  try {
    runGo(go, ['build', '-trimpath', ...extraArgs, '-o', tmp, '.'], moduleDir);
    renameSync(tmp, out);
  } finally {
    rmSync(tmp, { force: true });
  }
  const secs = ((Date.now() - started) / 1000).toFixed(0);
  log(`built ${out} in ${secs} s (${(statSync(out).size / 2 ** 20).toFixed(1)} MiB)`);
}

/** Logs a line every minute while a long build runs (a cold build takes many minutes on 2 cores). */
function withProgress(what, fn) {
  // spawnSync blocks this event loop, so a small child prints; it exits when its parent is gone.
  const code = `const t0 = Date.now(), parent = process.ppid; setInterval(() => {
    if (process.ppid !== parent) process.exit(0);
    process.stderr.write('[k8s-build] still building ${what}: ' + Math.round((Date.now() - t0) / 60000) + ' min\\n');
  }, 60000);`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'ignore', 'inherit'] });
  try { return fn(); } finally { child.kill(); }
}

/** Builds whichever of kube-apiserver and etcd is missing from the cache; returns the bin dir. */
export function ensureK8sBinaries() {
  const bin = k8sBinDir();
  const apiserver = join(bin, 'kube-apiserver');
  const etcd = join(bin, 'etcd');
  if (existsSync(apiserver) && existsSync(etcd)) return bin;
  const go = findGo();
  const v = k8sVersions();
  mkdirSync(bin, { recursive: true });
  log(`building the Kubernetes test tier (kube-apiserver ${v.kubernetes}, etcd ${v.etcd}) into ${bin}`);
  log('first build downloads the modules and compiles kube-apiserver: expect several minutes on 2 cores');
  if (!existsSync(etcd)) withProgress('etcd', () => build(go, etcdModule, etcd, []));
  if (!existsSync(apiserver)) withProgress('kube-apiserver', () => build(go, apiserverModule, apiserver, ['-ldflags', ldflags(v.kubernetes)]));
  return bin;
}

/** <cache>/k8s-cluster-<kubernetes>/bin: the cluster tier's Kubernetes binaries. */
export function clusterBinDir() {
  return join(cacheDir(), `k8s-cluster-${k8sVersions().kubernetes}`, 'bin');
}

/** <cache>/coredns-<version>/bin/coredns */
export function corednsPath() {
  return join(cacheDir(), `coredns-${k8sVersions().coredns}`, 'bin', 'coredns');
}

/**
 * Builds what the single-node cluster (test/cluster) runs, unless cached: kube-apiserver and etcd
 * (ensureK8sBinaries), then kubelet, kube-controller-manager, kube-scheduler and kube-proxy in one
 * `go build` (they share most packages with kube-apiserver, so its build cache does most of the
 * work), then CoreDNS. Returns every binary's path.
 */
export function ensureClusterBinaries() {
  const k8sBin = ensureK8sBinaries();
  const v = k8sVersions();
  const bin = clusterBinDir();
  const paths = Object.fromEntries(CLUSTER_BINARIES.map((b) => [b, join(bin, b)]));
  const missing = CLUSTER_BINARIES.filter((b) => !existsSync(paths[b]));
  if (missing.length > 0) {
    const go = findGo();
    mkdirSync(bin, { recursive: true });
    const tmp = join(bin, `.tmp-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    log(`building ${missing.join(', ')} ${v.kubernetes} into ${bin}: expect ~15 minutes cold on 2 cores`);
    const started = Date.now();
    try {
      withProgress(missing.join(', '), () => runGo(go, ['build', '-trimpath', '-ldflags', ldflags(v.kubernetes), '-o', tmp, ...missing.map((b) => `./${b}`)], clusterModule));
      for (const b of missing) renameSync(join(tmp, b), paths[b]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    const sizes = missing.map((b) => `${b} ${(statSync(paths[b]).size / 2 ** 20).toFixed(1)} MiB`).join(', ');
    log(`built in ${((Date.now() - started) / 1000).toFixed(0)} s: ${sizes}`);
  }
  const coredns = corednsPath();
  if (!existsSync(coredns)) {
    const go = findGo();
    mkdirSync(dirname(coredns), { recursive: true });
    log(`building CoreDNS ${v.coredns} into ${dirname(coredns)}: expect a few minutes cold`);
    withProgress('coredns', () => build(go, corednsModule, coredns, ['-ldflags', '-s -w']));
  }
  return {
    'kube-apiserver': join(k8sBin, 'kube-apiserver'),
    etcd: join(k8sBin, 'etcd'),
    ...paths,
    coredns,
  };
}

const CERT_MANAGER = 'github.com/cert-manager/cert-manager';

/** The pinned cert-manager version: test/k8s/cert-manager/go.mod, the one place it is written. */
export function certManagerVersion() {
  const m = new RegExp(`^\\s*(?:require\\s+)?${CERT_MANAGER.replace(/[./]/g, '\\$&')}\\s+(v\\S+)`, 'm').exec(readFileSync(join(certManagerModule, 'go.mod'), 'utf8'));
  if (!m) throw new Error(`test/k8s/cert-manager/go.mod does not require ${CERT_MANAGER}`);
  return m[1];
}

/** <cache>/cert-manager-<version>: bin/cert-manager-controller and crds/*.yaml. */
export function certManagerDir() {
  return join(cacheDir(), `cert-manager-${certManagerVersion()}`);
}

/**
 * Builds the cert-manager controller and copies cert-manager's CRDs (deploy/crds of the same module
 * version) into the cache, unless there; returns { controller, crds } (a binary and a directory).
 */
export function ensureCertManager() {
  const dir = certManagerDir();
  const controller = join(dir, 'bin', 'cert-manager-controller');
  const crds = join(dir, 'crds');
  const version = certManagerVersion();
  if (!existsSync(controller)) {
    const go = findGo();
    mkdirSync(dirname(controller), { recursive: true });
    log(`building the cert-manager ${version} controller into ${dirname(controller)}: about 3 minutes cold on 2 cores (194 s measured at load average 4; 27 min at load average 25)`);
    withProgress('cert-manager-controller', () => build(go, certManagerModule, controller, ['-ldflags', '-s -w']));
  }
  if (!existsSync(join(crds, 'cert-manager.io_certificates.yaml'))) {
    const go = findGo();
    const info = JSON.parse(runGo(go, ['mod', 'download', '-json', `${CERT_MANAGER}@${version}`], certManagerModule, { capture: true }));
    if (info.Error) throw new Error(info.Error);
    const tmp = `${crds}.tmp-${process.pid}`;
    mkdirSync(tmp, { recursive: true });
    for (const f of readdirSync(join(info.Dir, 'deploy', 'crds')).filter((n) => n.endsWith('.yaml'))) {
      writeFileSync(join(tmp, f), readFileSync(join(info.Dir, 'deploy', 'crds', f)));
    }
    rmSync(crds, { recursive: true, force: true });
    renameSync(tmp, crds);
    log(`copied cert-manager ${version}'s CRDs into ${crds}`);
  }
  return { controller, crds };
}

/** Rewrites both go.mod files for the given versions, deriving the staging replaces from the release. */
export function genGoMod({ kubernetes, etcd }) {
  const go = findGo();
  const info = JSON.parse(runGo(go, ['mod', 'download', '-json', `k8s.io/kubernetes@${kubernetes}`], here, { capture: true }));
  if (info.Error) throw new Error(info.Error);
  const upstream = readFileSync(info.GoMod, 'utf8');
  const goLine = /^go (\S+)$/m.exec(upstream)[1];
  const godebug = /^godebug\s+.*$/m.exec(upstream)?.[0];
  const staging = [...upstream.matchAll(/^\s*(k8s\.io\/[\w.-]+)\s*=>\s*\.\/staging\/src\/\1\s*$/gm)].map((m) => m[1]);
  if (staging.length < 20) throw new Error(`found only ${staging.length} staging replaces in ${info.GoMod}`);
  const stagingVersion = kubernetes.replace(/^v1\./, 'v0.');
  const header = (what) => `// Generated by \`node test/k8s/build.mjs gen-gomod\` ${what}. Do not edit by hand.\n`;

  const apiserverMod = [
    header(`from k8s.io/kubernetes ${kubernetes}'s own go.mod`),
    'module brook.dev/test/k8s/apiserver', '',
    `go ${goLine}`, '',
    ...(godebug ? [godebug, ''] : []),
    `require k8s.io/kubernetes ${kubernetes}`, '',
    '// The staging modules k8s.io/kubernetes replaces with ./staging/src paths, at their published versions.',
    'replace (',
    ...staging.map((m) => `\t${m} => ${m} ${stagingVersion}`),
    ')', '',
  ].join('\n');
  writeFileSync(join(apiserverModule, 'go.mod'), apiserverMod);
  rmSync(join(apiserverModule, 'go.sum'), { force: true });
  runGo(go, ['mod', 'tidy'], apiserverModule);
  // The cluster tier's mains need exactly the same module graph, under their own module name.
  writeFileSync(join(clusterModule, 'go.mod'), apiserverMod.replace('module brook.dev/test/k8s/apiserver', 'module brook.dev/test/k8s/cluster'));
  rmSync(join(clusterModule, 'go.sum'), { force: true });
  runGo(go, ['mod', 'tidy'], clusterModule);

  const etcdMod = [
    header('for the etcd server of the Kubernetes test tier'),
    'module brook.dev/test/k8s/etcd', '',
    `go ${goLine}`, '',
    `require go.etcd.io/etcd/server/v3 ${etcd}`, '',
  ].join('\n');
  writeFileSync(join(etcdModule, 'go.mod'), etcdMod);
  rmSync(join(etcdModule, 'go.sum'), { force: true });
  runGo(go, ['mod', 'tidy'], etcdModule);
  log(`wrote test/k8s/{apiserver,cluster}/go.mod (${staging.length} staging replaces at ${stagingVersion}) and test/k8s/etcd/go.mod`);
}

function argValue(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    if (process.argv[2] === 'gen-gomod') {
      let current = { kubernetes: 'v1.34.4', etcd: 'v3.6.16' };
      try { current = k8sVersions(); } catch { /* first generation */ }
      genGoMod({ kubernetes: argValue('--kubernetes', current.kubernetes), etcd: argValue('--etcd', current.etcd) });
    } else if (process.argv[2] === 'cert-manager') {
      const { controller, crds } = ensureCertManager();
      process.stdout.write(`${controller}\n${crds}\n`);
    } else if (process.argv[2] === 'cluster') {
      for (const [name, path] of Object.entries(ensureClusterBinaries())) process.stdout.write(`${name}\t${path}\n`);
    } else {
      process.stdout.write(`${ensureK8sBinaries()}\n`);
    }
  } catch (err) {
    log(`failed: ${err.message}`);
    process.exit(1);
  }
}
