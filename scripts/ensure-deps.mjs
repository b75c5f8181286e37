#!/usr/bin/env node
// Installs what Brook needs before `npm start` / `npm test`, doing slow steps once and caching them.
// Runs on whatever Node the machine has (it is plain JavaScript); npm scripts after it run on the
// Node 24 that the `node` devDependency puts in node_modules/.bin.
//
//   node scripts/ensure-deps.mjs          npm packages (npm ci when the lock changed), and Brook's native
//                                         add-on (scripts/build-native.mjs; skipped with a warning without a C compiler)
//   node scripts/ensure-deps.mjs --test   also kcat (Debian), the Apache Kafka jars and Kafka Connect's (Maven Central), and
//                                         kube-apiserver + etcd built with Go (test/k8s/build.mjs),
//                                         helm built with Go (test/helm/build.mjs), promtool (Debian prometheus),
//                                         strace (Debian),
//                                         and the e2e tier's local cluster: kubelet, controller-manager,
//                                         scheduler, kube-proxy and CoreDNS built with Go (test/k8s/build.mjs),
//                                         containerd, runc, CNI plugins, iptables, umoci (Debian),
//                                         and the cert-manager controller built with Go and its CRDs
//                                         (test/k8s/build.mjs ensureCertManager)
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, statSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureCertManager, ensureClusterBinaries, ensureK8sBinaries } from '../test/k8s/build.mjs';
import { ensureHelm } from '../test/helm/build.mjs';
import { cacheDir } from './cache-dir.mjs';
import { buildNative } from './build-native.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const wantTest = process.argv.includes('--test');

function log(msg) { process.stderr.write(`[ensure-deps] ${msg}\n`); }

function run(cmd, args, opts = {}) {
  log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.error) throw new Error(`${cmd} could not start: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`);
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function ensureNpm() {
  // A git worktree shares the main checkout's node_modules through a symbolic link: npm ci there
  // would delete and reinstall the packages every other checkout is running on. Leave it alone.
  if (existsSync(join(root, 'node_modules')) && lstatSync(join(root, 'node_modules')).isSymbolicLink()) {
    log('node_modules is a link (a worktree sharing another checkout\'s packages): not running npm ci here');
    return;
  }
  const lock = join(root, 'package-lock.json');
  const installed = join(root, 'node_modules', '.package-lock.json');
  const stale = !existsSync(installed) || statSync(lock).mtimeMs > statSync(installed).mtimeMs;
  if (stale) run('npm', ['ci', '--no-audit', '--no-fund']);
}

let aptUpdated = false;
function aptInstall(pkgs) {
  if (!has('apt-get')) throw new Error(`install ${pkgs.join(', ')} (Debian packages) and re-run`);
  if (!aptUpdated) { run('apt-get', ['update', '-qq']); aptUpdated = true; }
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=300', ...pkgs], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

function ensureKcat() {
  if (!has('kcat')) aptInstall(['kcat']);
}

/** strace proves that the broker fsyncs before it acknowledges (test/durability/fsync-before-ack.test.ts). */
function ensureStrace() {
  if (!has('strace')) aptInstall(['strace']);
}

/** promtool checks the chart's alert and dashboard PromQL (test/helm); it comes with Debian's prometheus. */
function ensurePromtool() {
  if (!has('promtool')) aptInstall(['prometheus']);
}

/** The version a pom pins in its <kafka.version> property. */
function pomKafkaVersion(pom) {
  return /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(readFileSync(join(root, pom), 'utf8'))[1];
}

/**
 * Copies every jar a pom depends on into `libs`. The jars follow the pom: a stamp of its sha-256 in `libs`
 * says which pom they came from, so a dependency added to it is fetched on the next run, even with a warm cache.
 */
function ensurePomJars(pom, libs) {
  const stamp = join(libs, '.pom-sha256');
  const want = createHash('sha256').update(readFileSync(pom)).digest('hex');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return;
  if (!has('java')) aptInstall(['openjdk-17-jre-headless']);
  if (!has('mvn')) aptInstall(['maven']);
  mkdirSync(libs, { recursive: true });
  run('mvn', ['-q', '-B', '-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${libs}`]);
  writeFileSync(stamp, want);
}

/** The Apache Kafka version of the main suite (test/tools/kafka/pom.xml). */
export function kafkaVersion() {
  return pomKafkaVersion('test/tools/kafka/pom.xml');
}

/**
 * Apache Kafka (broker, tools, Java client, Streams) and an older 3.x Java client kept for the
 * versions still in the field, each in its own cache directory.
 */
function ensureKafkaJars() {
  ensurePomJars(join(root, 'test/tools/kafka/pom.xml'), join(cacheDir(), `kafka-${kafkaVersion()}`, 'libs'));
  ensurePomJars(join(root, 'test/tools/kafka-3/pom.xml'), join(cacheDir(), `kafka-clients-${pomKafkaVersion('test/tools/kafka-3/pom.xml')}`, 'libs'));
}

/** Kafka Connect and MirrorMaker 2 (test/ecosystem), a release of their own: test/tools/connect/pom.xml. */
function ensureConnectJars() {
  const pom = join(root, 'test/tools/connect/pom.xml');
  const version = /<connect\.version>([^<]+)<\/connect\.version>/.exec(readFileSync(pom, 'utf8'))[1];
  ensurePomJars(pom, join(cacheDir(), `connect-${version}`, 'libs'));
}

/** What the local single-node cluster of the e2e tier runs from Debian (test/cluster/cluster.ts). */
function ensureClusterPackages() {
  const wanted = [['containerd', 'containerd'], ['runc', 'runc'], ['/usr/lib/cni/bridge', 'containernetworking-plugins'],
    ['iptables', 'iptables'], ['umoci', 'umoci'], ['openssl', 'openssl']];
  const missing = [...new Set(wanted.filter(([bin]) => (bin.startsWith('/') ? !existsSync(bin) : !has(bin))).map(([, pkg]) => pkg))];
  if (missing.length) aptInstall(missing);
}

try {
  ensureNpm();
  // the tests cover the zero-copy Fetch path, so they need the add-on (and a C compiler for it)
  if (wantTest && !has('cc') && !has('gcc')) aptInstall(['gcc', 'libc6-dev']);
  buildNative({ required: wantTest });
  if (wantTest) {
    ensureKcat();
    ensureKafkaJars();
    ensureConnectJars();
    ensureK8sBinaries();
    ensurePromtool();
    ensureStrace();
    ensureHelm();
    ensureClusterPackages();
    ensureClusterBinaries();
    ensureCertManager();
  }
} catch (err) {
  log(`failed: ${err.message}`);
  process.exit(1);
}
