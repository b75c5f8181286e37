#!/usr/bin/env node
// Builds `helm` from the Go module proxy, once, into <cache>/helm-<version>/bin/helm. Plain
// JavaScript with Node built-ins only, so scripts/ensure-deps.mjs can call it on whatever Node the
// machine has.
//
//   node test/helm/build.mjs        build helm unless cached (prints the binary's path)
//
// `go install helm.sh/helm/v3/cmd/helm@VERSION` alone gives a helm whose `version` is "v3" with no
// detail and whose built-in Kubernetes version (what `helm template` and `helm lint` assume for
// .Capabilities.KubeVersion without a cluster) is stale. helm's own Makefile stamps both with
// -ldflags; we stamp the same variables, deriving the Kubernetes version the way the Makefile does:
// from the k8s.io/client-go version in helm's go.mod (v0.N.M -> 1.N).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from '../../scripts/cache-dir.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

/** The pinned helm version: the one place it is written. */
export const HELM_VERSION = 'v3.22.0';
const MODULE = 'helm.sh/helm/v3';

function log(msg) { process.stderr.write(`[helm-build] ${msg}\n`); }

/** <cache>/helm-<version>/bin/helm: the version is the cache key. */
export function helmPath() {
  return join(cacheDir(), `helm-${HELM_VERSION}`, 'bin', 'helm');
}

/** The Go toolchain: $GO, `go` on PATH, or /usr/local/go/bin/go, at least the version helm's go.mod asks for. */
function findGo(need) {
  for (const go of [process.env.GO, 'go', '/usr/local/go/bin/go'].filter(Boolean)) {
    const r = spawnSync(go, ['version'], { encoding: 'utf8' });
    if (r.status !== 0) continue;
    const m = /go(\d+)\.(\d+)/.exec(r.stdout);
    if (m && (Number(m[1]) > need[0] || (Number(m[1]) === need[0] && Number(m[2]) >= need[1]))) return go;
    log(`${go} is too old (${r.stdout.trim()}); helm ${HELM_VERSION} needs Go >= ${need.join('.')}`);
  }
  throw new Error(
    `building helm ${HELM_VERSION} from the Go module proxy needs a Go toolchain >= ${need.join('.')} `
    + '(none found: not $GO, not `go` on PATH, not /usr/local/go/bin/go). Install the official Go release '
    + 'tarball into /usr/local/go, or set GO=/path/to/go.');
}

function goEnv(extra = {}) {
  // GOTOOLCHAIN=local: never fetch another toolchain behind the user's back.
  return { ...process.env, CGO_ENABLED: '0', GOTOOLCHAIN: 'local', GOFLAGS: '-buildvcs=false', ...extra };
}

function runGo(go, args, { capture = false, env = {} } = {}) {
  log(`$ go ${args.join(' ')}`);
  const r = spawnSync(go, args, {
    cwd: root, env: goEnv(env), encoding: 'utf8', maxBuffer: 64 << 20,
    stdio: capture ? ['ignore', 'pipe', 'inherit'] : 'inherit',
  });
  if (r.error) throw new Error(`go could not start: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`go ${args.join(' ')} exited with ${r.status} (is the Go module proxy reachable? GOPROXY=${process.env.GOPROXY ?? 'default'})`);
  }
  return r.stdout;
}

/** -ldflags as helm's Makefile sets them: version, git state, and the default Kubernetes version. */
function ldflags(goMod) {
  const clientGo = /^\s*k8s\.io\/client-go\s+v0\.(\d+)\.\d+/m.exec(goMod);
  if (!clientGo) throw new Error(`helm ${HELM_VERSION}'s go.mod does not require k8s.io/client-go v0.N.M`);
  const k8s = { major: '1', minor: clientGo[1] };
  const x = {
    'helm.sh/helm/v3/internal/version.version': HELM_VERSION,
    'helm.sh/helm/v3/internal/version.metadata': '',
    'helm.sh/helm/v3/internal/version.gitTreeState': 'clean',
    'helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor': k8s.major,
    'helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor': k8s.minor,
    'helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor': k8s.major,
    'helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor': k8s.minor,
  };
  return { flags: ['-s', '-w', ...Object.entries(x).map(([k, v]) => `-X ${k}=${v}`)].join(' '), k8s: `${k8s.major}.${k8s.minor}` };
}

/** Builds helm unless cached; returns the binary's path. */
export function ensureHelm() {
  const out = helmPath();
  if (existsSync(out)) return out;
  const started = Date.now();
  // The module's go.mod gives the Go version it needs and the client-go version for the ldflags.
  const bootstrapGo = findGo([1, 21]);
  const info = JSON.parse(runGo(bootstrapGo, ['mod', 'download', '-json', `${MODULE}@${HELM_VERSION}`], { capture: true }));
  if (info.Error) throw new Error(info.Error);
  const goMod = readFileSync(info.GoMod, 'utf8');
  const goLine = /^go (\d+)\.(\d+)/m.exec(goMod);
  const go = goLine ? findGo([Number(goLine[1]), Number(goLine[2])]) : bootstrapGo;
  const { flags, k8s } = ldflags(goMod);
  const bin = dirname(out);
  const tmpBin = `${bin}.tmp-${process.pid}`;
  mkdirSync(tmpBin, { recursive: true });
  log(`building helm ${HELM_VERSION} (default Kubernetes ${k8s}) into ${bin}; first build takes a few minutes on 2 cores`);
  try {
    runGo(go, ['install', '-trimpath', '-ldflags', flags, `${MODULE}/cmd/helm@${HELM_VERSION}`], { env: { GOBIN: tmpBin } });
    mkdirSync(bin, { recursive: true });
    renameSync(join(tmpBin, 'helm'), out);
  } finally {
    rmSync(tmpBin, { recursive: true, force: true });
  }
  const secs = ((Date.now() - started) / 1000).toFixed(0);
  log(`built ${out} in ${secs} s (${(statSync(out).size / 2 ** 20).toFixed(1)} MiB)`);
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    process.stdout.write(`${ensureHelm()}\n`);
  } catch (err) {
    log(`failed: ${err.message}`);
    process.exit(1);
  }
}
