/**
 * Builds Brook's container image without Docker or a registry: an OCI image assembled with umoci
 * (Debian package) that is equivalent to the project's Dockerfile, and the pause image a
 * Kubernetes node needs for its pod sandboxes. Each becomes an OCI layout tar that
 * `ctr -n k8s.io images import` accepts, cached in <cache>/images/ under a hash of its inputs.
 *
 *   npm run image                   build them unless cached; print their references, archives and sizes
 *
 * The Brook image, like the Dockerfile's: /app holds package.json, bin/, broker/, operator/ (minus
 * what .dockerignore leaves out: tests and test helpers) and the production node_modules (`npm ci
 * --omit=dev`, no dev dependencies); Node 24 is the project's own (the npm `node` package, as
 * node_modules/.bin/node), at /usr/local/bin/node as in node:24-slim, and /app/node_modules/.bin/node
 * points at it so bin/brook runs exactly that Node. The base is not a distribution: the C library and
 * the few shared libraries Node, its native add-ons and the entrypoint's shell need are copied from
 * this (Debian) host. User 10001, entrypoint /app/bin/brook, the Dockerfile's CMD.
 *
 * Reference: brook.dev/brook:<package version>-<input hash>, so a changed image never hides behind a
 * cached one under `imagePullPolicy: IfNotPresent`. The pause image is a static C binary that
 * sleeps until signalled (test/cluster/pause.c): brook.dev/pause:<hash>. A third, brook.dev/kcat, is a
 * test client: Debian's kcat and a few shell tools, for pods of the e2e suite and `helm test`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync, chownSync, copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync,
  readlinkSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from './cache-dir.mjs';
import { buildNative } from './build-native.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const thisFile = fileURLToPath(import.meta.url);

export const BROOK_IMAGE_NAME = 'brook.dev/brook';
export const PAUSE_IMAGE_NAME = 'brook.dev/pause';
/** The image's user, as in the Dockerfile (`USER 10001`) and the chart's podSecurityContext. */
export const BROOK_UID = 10001;

export interface BuiltImage {
  /** Repository without tag, e.g. brook.dev/brook (what `ctr images import --base-name` takes). */
  name: string;
  tag: string;
  /** name:tag */
  ref: string;
  /** OCI layout tar for `ctr -n k8s.io images import --base-name <name> <archive>`. */
  archive: string;
  /** Bytes of the archive (compressed layers plus metadata). */
  archiveBytes: number;
  /** Bytes of the unpacked root filesystem. */
  rootfsBytes: number;
  /** True when the archive came from the cache. */
  cached: boolean;
}

function log(msg: string): void { process.stderr.write(`[image] ${msg}\n`); }

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function sh(cmd: string, args: readonly string[], opts: { cwd?: string; quiet?: boolean } = {}): string {
  if (!opts.quiet) log(`$ ${cmd} ${args.join(' ')}`);
  try {
    return execFileSync(cmd, args, { cwd: opts.cwd ?? root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  } catch (err) {
    const e = err as { stderr?: string; status?: number; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${e.status ?? '?'}): ${(e.stderr ?? e.message).trim()}`);
  }
}

/** umoci from Debian, installed with apt-get when missing (as scripts/ensure-deps.mjs does for kcat). */
export function ensureUmoci(): void {
  if (has('umoci')) return;
  if (!has('apt-get')) throw new Error('umoci is missing: install it (Debian/Ubuntu package `umoci`) and re-run');
  log('installing umoci (Debian package)');
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=300', 'umoci']]) {
    const r = spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed; install umoci and re-run`);
  }
}

// ---- which project files go in: the Dockerfile's COPY lines minus .dockerignore ----

/** The directories and files the Dockerfile copies into /app (besides node_modules). */
const APP_PATHS = ['package.json', 'bin', 'broker', 'operator'];

/** .dockerignore patterns as regular expressions (Docker's rules: `**` any depth, `*` within a name). */
function dockerignore(): RegExp[] {
  const text = readFileSync(join(root, '.dockerignore'), 'utf8');
  return text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map((p) => {
    if (p.startsWith('!')) throw new Error(`.dockerignore: exceptions (${p}) are not supported by scripts/image.ts`);
    const re = p.replace(/^\/+|\/+$/g, '').split('/').map((part) => (part === '**' ? '(?:.*/)?'
      : `${part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}/`)).join('');
    // A pattern matches the path itself or anything under it.
    return new RegExp(`^${re.replace(/\/$/, '')}(?:/.*)?$`);
  });
}

/** Project files for /app, relative to the repository root, sorted. */
export function appFiles(): string[] {
  const ignore = dockerignore();
  const out: string[] = [];
  const walk = (rel: string) => {
    if (ignore.some((re) => re.test(rel))) return;
    const st = lstatSync(join(root, rel));
    if (st.isDirectory()) for (const e of readdirSync(join(root, rel)).sort()) walk(`${rel}/${e}`);
    else if (st.isFile()) out.push(rel);
  };
  for (const p of APP_PATHS) walk(p);
  return out;
}

// ---- the base: libraries and tools copied from the host ----

/** The Node 24 binary the project runs on (node_modules/.bin/node, from the npm `node` package). */
function projectNode(): string {
  const node = join(root, 'node_modules', '.bin', 'node');
  if (!existsSync(node)) throw new Error(`${node} is missing: run \`npm ci\` first (the \`node\` devDependency provides it)`);
  return realpathSync(node);
}

/** Host paths of the shared libraries (and the dynamic loader) that `bins` load, from ldd. */
function sharedLibraries(bins: readonly string[]): string[] {
  const libs = new Set<string>();
  for (const bin of bins) {
    const out = sh('ldd', [bin], { quiet: true });
    for (const line of out.split('\n')) {
      const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
      if (m) libs.add(m[1]);
    }
  }
  return [...libs].sort();
}

/** Host binaries in the base: the entrypoint is a POSIX shell script using `env` and `dirname`. */
const BASE_TOOLS = ['/bin/sh', '/usr/bin/env', '/usr/bin/dirname'];

/** Copies a host file to the same path under rootfs (following the host's symlinks for the content). */
function copyHostFile(rootfs: string, hostPath: string, mode?: number): void {
  const dest = join(rootfs, hostPath);
  mkdirSync(dirname(dest), { recursive: true });
  copyFileSync(realpathSync(hostPath), dest);
  chmodSync(dest, mode ?? (statSync(realpathSync(hostPath)).mode & 0o777));
}

/** Debian's merged /usr layout: /bin, /sbin, /lib, /lib64 are links into /usr. */
function mergedUsr(rootfs: string): void {
  for (const d of ['bin', 'sbin', 'lib', 'lib64']) {
    mkdirSync(join(rootfs, 'usr', d), { recursive: true });
    symlinkSync(`usr/${d}`, join(rootfs, d));
  }
}

function etcFiles(rootfs: string, users: { name: string; uid: number; home: string }[]): void {
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  const passwd = ['root:x:0:0:root:/root:/bin/sh', 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
    ...users.map((u) => `${u.name}:x:${u.uid}:${u.uid}::${u.home}:/usr/sbin/nologin`)];
  const group = ['root:x:0:', 'nogroup:x:65534:', ...users.map((u) => `${u.name}:x:${u.uid}:`)];
  writeFileSync(join(rootfs, 'etc', 'passwd'), `${passwd.join('\n')}\n`);
  writeFileSync(join(rootfs, 'etc', 'group'), `${group.join('\n')}\n`);
  writeFileSync(join(rootfs, 'etc', 'nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n');
  mkdirSync(join(rootfs, 'tmp'), { recursive: true });
  chmodSync(join(rootfs, 'tmp'), 0o1777);
}

// ---- hashing and caching ----

function hashFiles(hash: ReturnType<typeof createHash>, files: readonly string[], base: string): void {
  for (const f of files) {
    const abs = join(base, f);
    hash.update(`${f}\0${(statSync(abs).mode & 0o111) ? 'x' : '-'}\0`);
    hash.update(readFileSync(abs));
    hash.update('\0');
  }
}

function imagesDir(): string {
  const dir = join(cacheDir(), 'images');
  mkdirSync(dir, { recursive: true });
  return dir;
}

function cachedImage(name: string, tag: string, archive: string): BuiltImage | undefined {
  const meta = `${archive}.json`;
  if (!existsSync(archive) || !existsSync(meta)) return undefined;
  const m = JSON.parse(readFileSync(meta, 'utf8')) as { rootfsBytes: number };
  return { name, tag, ref: `${name}:${tag}`, archive, archiveBytes: statSync(archive).size, rootfsBytes: m.rootfsBytes, cached: true };
}

function duBytes(dir: string): number {
  return Number(sh('du', ['-sb', dir], { quiet: true }).split('\t')[0]);
}

interface ImageConfig {
  entrypoint: string[];
  cmd?: string[];
  user?: string;
  workdir?: string;
  env?: string[];
  ports?: string[];
  volumes?: string[];
  labels?: Record<string, string>;
}

/**
 * Packs rootfs (filled by `fill`) into an OCI layout tagged `tag` and tars it to `archive`,
 * through a work directory next to it (renamed into place only when complete).
 */
function assemble(name: string, tag: string, archive: string, fill: (rootfs: string) => void, config: ImageConfig): BuiltImage {
  ensureUmoci();
  const work = `${archive}.work-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    const layout = join(work, 'layout');
    const bundle = join(work, 'bundle');
    const image = `${layout}:${tag}`;
    sh('umoci', ['init', '--layout', layout]);
    sh('umoci', ['new', '--image', image]);
    sh('umoci', ['unpack', '--image', image, bundle]);
    const rootfs = join(bundle, 'rootfs');
    fill(rootfs);
    const rootfsBytes = duBytes(rootfs);
    sh('umoci', ['repack', '--image', image, bundle]);
    const args = ['config', '--image', image, '--os', 'linux', '--architecture', 'amd64', '--author', 'brook scripts/image.ts'];
    for (const e of config.entrypoint) args.push('--config.entrypoint', e);
    for (const c of config.cmd ?? []) args.push('--config.cmd', c);
    if (config.user) args.push('--config.user', config.user);
    if (config.workdir) args.push('--config.workingdir', config.workdir);
    for (const e of config.env ?? []) args.push('--config.env', e);
    for (const p of config.ports ?? []) args.push('--config.exposedports', p);
    for (const v of config.volumes ?? []) args.push('--config.volume', v);
    for (const [k, v] of Object.entries(config.labels ?? {})) args.push('--config.label', `${k}=${v}`);
    sh('umoci', args);
    sh('umoci', ['gc', '--layout', layout]);
    const tmpTar = join(work, 'image.tar');
    sh('tar', ['--sort=name', '-C', layout, '-cf', tmpTar, '.']);
    writeFileSync(`${archive}.json`, JSON.stringify({ ref: `${name}:${tag}`, rootfsBytes }));
    renameSync(tmpTar, archive);
    return { name, tag, ref: `${name}:${tag}`, archive, archiveBytes: statSync(archive).size, rootfsBytes, cached: false };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Removes older archives of the same image, keeping the cache to one per image. */
function pruneOlder(prefix: string, keep: string): void {
  const dir = imagesDir();
  for (const f of readdirSync(dir)) {
    if (f.startsWith(prefix) && !f.startsWith(basename(keep))) rmSync(join(dir, f), { recursive: true, force: true });
  }
}

// ---- the Brook image ----

/** The Dockerfile's CMD (kept equal by test/cluster/image.test.ts). */
export const BROOK_CMD = ['broker', '--listen', '0.0.0.0:9092', '--data-dir', '/var/lib/brook', '--metrics-host', '0.0.0.0'];

export function buildBrookImage(): BuiltImage {
  const started = Date.now();
  // the add-on is a project file of the image, built on this host as the Dockerfile's native stage builds it
  buildNative({ required: true });
  const files = appFiles();
  const node = projectNode();
  const nodeVersion = sh(node, ['--version'], { quiet: true }).trim();
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const hash = createHash('sha256');
  hash.update(`image.ts\0${readFileSync(thisFile)}\0node ${nodeVersion} ${statSync(node).size}\0`);
  hashFiles(hash, ['package-lock.json', '.dockerignore', ...files], root);
  for (const tool of BASE_TOOLS) hash.update(`${tool}\0${statSync(realpathSync(tool)).size}\0`);
  const digest = hash.digest('hex').slice(0, 12);
  const tag = `${pkg.version}-${digest}`;
  const archive = join(imagesDir(), `brook-${tag}.tar`);
  const cached = cachedImage(BROOK_IMAGE_NAME, tag, archive);
  if (cached) return cached;
  log(`building ${BROOK_IMAGE_NAME}:${tag} (${files.length} project files, Node ${nodeVersion})`);

  // Production dependencies only, exactly as the Dockerfile's deps stage installs them.
  const staging = `${archive}.deps-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    copyFileSync(join(root, 'package.json'), join(staging, 'package.json'));
    copyFileSync(join(root, 'package-lock.json'), join(staging, 'package-lock.json'));
    sh('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: staging });
    const addons = sh('find', [join(staging, 'node_modules'), '-name', '*.node', '-type', 'f'], { quiet: true }).split('\n').filter(Boolean);

    const image = assemble(BROOK_IMAGE_NAME, tag, archive, (rootfs) => {
      mergedUsr(rootfs);
      const libs = sharedLibraries([node, ...BASE_TOOLS, ...addons]);
      for (const f of [...libs, ...BASE_TOOLS]) copyHostFile(rootfs, f);
      mkdirSync(join(rootfs, 'usr', 'local', 'bin'), { recursive: true });
      // The npm package's binary carries debug info (~25 MiB of it); the image does not need it.
      copyFileSync(node, join(rootfs, 'usr', 'local', 'bin', 'node'));
      sh('strip', ['--strip-debug', join(rootfs, 'usr', 'local', 'bin', 'node')], { quiet: true });
      chmodSync(join(rootfs, 'usr', 'local', 'bin', 'node'), 0o755);
      etcFiles(rootfs, [{ name: 'brook', uid: BROOK_UID, home: '/var/lib/brook' }]);

      const app = join(rootfs, 'app');
      for (const f of files) {
        mkdirSync(dirname(join(app, f)), { recursive: true });
        copyFileSync(join(root, f), join(app, f));
        chmodSync(join(app, f), statSync(join(root, f)).mode & 0o755);
      }
      cpSync(join(staging, 'node_modules'), join(app, 'node_modules'), { recursive: true, verbatimSymlinks: true });
      mkdirSync(join(app, 'node_modules', '.bin'), { recursive: true });
      symlinkSync('/usr/local/bin/node', join(app, 'node_modules', '.bin', 'node'));

      const data = join(rootfs, 'var', 'lib', 'brook');
      mkdirSync(data, { recursive: true });
      chownSync(data, BROOK_UID, BROOK_UID);
    }, {
      entrypoint: ['/app/bin/brook'],
      cmd: BROOK_CMD,
      user: String(BROOK_UID),
      workdir: '/app',
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `NODE_VERSION=${nodeVersion.replace(/^v/, '')}`],
      ports: ['9092/tcp', '9464/tcp'],
      volumes: ['/var/lib/brook'],
      labels: {
        'org.opencontainers.image.title': 'brook',
        'org.opencontainers.image.description': 'Kafka-compatible event-streaming broker fleet for Kubernetes',
        'org.opencontainers.image.licenses': 'Apache-2.0',
        'org.opencontainers.image.version': tag,
      },
    });
    pruneOlder('brook-', archive);
    log(`built ${image.ref} in ${((Date.now() - started) / 1000).toFixed(0)} s: archive ${mib(image.archiveBytes)}, rootfs ${mib(image.rootfsBytes)}`);
    return image;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

// ---- the kcat image (a Kafka client for tests in pods: the e2e suite and `helm test`) ----

export const KCAT_IMAGE_NAME = 'brook.dev/kcat';
/** kcat (librdkafka) and the shell tools the chart's `helm test` script uses, from the host. */
const KCAT_TOOLS = ['/usr/bin/kcat', '/bin/sh', '/usr/bin/env', '/usr/bin/date', '/usr/bin/seq', '/usr/bin/sed', '/usr/bin/grep',
  '/usr/bin/cat', '/usr/bin/sleep', '/usr/bin/wc', '/usr/bin/head', '/usr/bin/tr'];

/** kcat from Debian (installed with apt-get when missing) with its libraries, as a test client image. */
export function buildKcatImage(): BuiltImage {
  if (!has('kcat')) {
    const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=300', 'kcat'], {
      stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (r.status !== 0) throw new Error('kcat is missing: install the Debian package kcat');
  }
  const hash = createHash('sha256');
  hash.update(`image.ts\0${readFileSync(thisFile)}\0`);
  for (const tool of KCAT_TOOLS) hash.update(`${tool}\0${statSync(realpathSync(tool)).size}\0`);
  const version = /^Version (\S+)/m.exec(spawnSync('kcat', ['-V'], { encoding: 'utf8' }).stdout)?.[1] ?? 'unknown';
  const tag = `${version}-${hash.digest('hex').slice(0, 12)}`;
  const archive = join(imagesDir(), `kcat-${tag}.tar`);
  const cached = cachedImage(KCAT_IMAGE_NAME, tag, archive);
  if (cached) return cached;
  log(`building ${KCAT_IMAGE_NAME}:${tag}`);
  const image = assemble(KCAT_IMAGE_NAME, tag, archive, (rootfs) => {
    mergedUsr(rootfs);
    for (const f of [...sharedLibraries(KCAT_TOOLS), ...KCAT_TOOLS]) copyHostFile(rootfs, f);
    etcFiles(rootfs, []);
  }, { entrypoint: ['/usr/bin/kcat'], user: '65534' });
  pruneOlder('kcat-', archive);
  return image;
}

// ---- the pause image ----

export function buildPauseImage(): BuiltImage {
  const source = join(root, 'test', 'cluster', 'pause.c');
  const hash = createHash('sha256');
  hash.update(`image.ts\0${readFileSync(thisFile)}\0`);
  hashFiles(hash, [relative(root, source)], root);
  const tag = hash.digest('hex').slice(0, 12);
  const archive = join(imagesDir(), `pause-${tag}.tar`);
  const cached = cachedImage(PAUSE_IMAGE_NAME, tag, archive);
  if (cached) return cached;
  if (!has('gcc')) throw new Error('gcc is missing: install the Debian packages gcc and libc6-dev (the pause binary is static C)');
  log(`building ${PAUSE_IMAGE_NAME}:${tag}`);
  const image = assemble(PAUSE_IMAGE_NAME, tag, archive, (rootfs) => {
    sh('gcc', ['-static', '-Os', '-s', '-Wall', '-Werror', '-o', join(rootfs, 'pause'), source], { quiet: true });
  }, { entrypoint: ['/pause'], user: '65535' });
  pruneOlder('pause-', archive);
  return image;
}

export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(thisFile)) {
  try {
    for (const image of [buildBrookImage(), buildPauseImage(), buildKcatImage()]) {
      process.stdout.write(`${image.ref}\t${image.archive}\tarchive ${mib(image.archiveBytes)}\trootfs ${mib(image.rootfsBytes)}${image.cached ? '\t(cached)' : ''}\n`);
    }
  } catch (err) {
    log(`failed: ${(err as Error).message}`);
    process.exit(1);
  }
}
