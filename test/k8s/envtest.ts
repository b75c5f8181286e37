/**
 * A real Kubernetes API server for tests (the "envtest" tier): etcd and kube-apiserver built by
 * test/k8s/build.mjs, started on loopback ports with RBAC on, an admin token in system:masters and
 * a kubeconfig written for it. No controllers run: no garbage collection, no pods from
 * StatefulSets, namespaces never finish terminating.
 *
 *   const api = useApiServer();               // in a jest file (./jest.ts): one server per file
 *   await kubectl(api(), ['get', 'topics']);
 *
 *   npm run envtest                           // from a shell: prints `export KUBECONFIG=...`
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureK8sBinaries, k8sVersions } from './build.mjs';
import { freePort } from '../harness/ports.ts';
import { run, type RunResult } from '../harness/tools.ts';

export interface ApiServer {
  /** A kubeconfig with one context, `envtest`, authenticating as the admin token. */
  kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  server: string;
  /** Bearer token of `admin` (group system:masters). */
  token: string;
  /** PEM of the CA that signed the serving certificate. */
  caData: string;
  /** The temp directory holding data, certificates, keys and logs. */
  dir: string;
  /** Kubernetes version the server reports, e.g. v1.34.4. */
  version: string;
  /** Process id of kube-apiserver (to SIGSTOP it for an outage in which connections hang). */
  apiserverPid: number;
  /** SIGSTOP / SIGCONT kube-apiserver: an outage in which every request and watch just hangs. */
  pauseApiServer(): void;
  resumeApiServer(): void;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Extra kube-apiserver flags (`--feature-gates=...`). */
  apiserverArgs?: string[];
  /** Milliseconds to wait for readiness (default 120 s: the first start on 2 busy cores is slow). */
  timeoutMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

interface Proc {
  name: string;
  child: ChildProcess;
  log: string;
  exited: Promise<void>;
  exitCode(): number | null | undefined;
}

function startProcess(name: string, bin: string, args: string[], log: string): Proc {
  const out = createWriteStream(log);
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(out, { end: false });
  child.stderr!.pipe(out, { end: false });
  let code: number | null | undefined;
  const exited = new Promise<void>((resolve) => {
    child.on('exit', (c, signal) => { code = c ?? (signal ? -1 : null); resolve(); });
    child.on('error', (err) => { code = -1; out.write(`${name} could not start: ${err.message}\n`); resolve(); });
  });
  return { name, child, log, exited, exitCode: () => code };
}

async function stopProcess(p: Proc): Promise<void> {
  if (p.exitCode() !== undefined) return;
  p.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const killed = await Promise.race([
    p.exited.then(() => true),
    new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), 10_000); }),
  ]);
  clearTimeout(timer);
  if (!killed) {
    p.child.kill('SIGKILL');
    await p.exited;
  }
}

interface HttpResult { status: number; body: string }

/** One GET without keep-alive (a pooled socket would keep `npm run envtest`'s event loop busy). */
export function get(url: string, opts: { ca?: string; token?: string; insecure?: boolean } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const request = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = request(url, {
      agent: false,
      ca: opts.ca,
      rejectUnauthorized: !opts.insecure,
      headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
      timeout: 5_000,
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => { body += s; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Polls `probe` until it returns true, failing early when `proc` exits or at the deadline. */
async function waitFor(what: string, proc: Proc, deadline: number, probe: () => Promise<boolean>): Promise<void> {
  let last = '';
  for (;;) {
    if (proc.exitCode() !== undefined) {
      throw new Error(`${proc.name} exited (code ${proc.exitCode()}) before ${what}; last lines of ${proc.log}:\n${tail(proc.log)}`);
    }
    try {
      if (await probe()) return;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? ` (${last})` : ''}; last lines of ${proc.log}:\n${tail(proc.log)}`);
    }
    await sleep(200);
  }
}

/** The CA certificate that signed the serving certificate kube-apiserver made in --cert-dir. */
function servingCa(certDir: string): string {
  const pems = readFileSync(join(certDir, 'apiserver.crt'), 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g);
  if (!pems?.length) throw new Error(`no certificate in ${certDir}/apiserver.crt`);
  return pems[pems.length - 1];
}

/** `tlsServerName`: the name to verify the serving certificate against when `server` is an address it does not name. */
export function writeKubeconfig(path: string, server: string, caData: string, token: string, tlsServerName?: string): void {
  const b64 = Buffer.from(caData).toString('base64');
  writeFileSync(path, [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: envtest',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${b64}`,
    ...(tlsServerName ? [`    tls-server-name: ${tlsServerName}`] : []),
    'users:',
    '- name: admin',
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: envtest',
    '  context:',
    '    cluster: envtest',
    '    user: admin',
    '    namespace: default',
    'current-context: envtest',
    '',
  ].join('\n'), { mode: 0o600 });
}

/** Starts etcd and kube-apiserver (building them first if they are not cached) and waits until ready. */
export async function startApiServer(opts: StartOptions = {}): Promise<ApiServer> {
  const bin = ensureK8sBinaries();
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  const dir = mkdtempSync(join(tmpdir(), 'brook-envtest-'));
  const procs: Proc[] = [];
  const stopAll = async () => {
    for (const p of [...procs].reverse()) await stopProcess(p);
    rmSync(dir, { recursive: true, force: true });
  };
  const onExit = () => { for (const p of procs) p.child.kill('SIGKILL'); };
  process.once('exit', onExit);
  try {
    const [clientPort, peerPort, securePort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${clientPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const etcd = startProcess('etcd', join(bin, 'etcd'), [
      '--name=envtest',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=envtest=${peerUrl}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
    ], join(dir, 'etcd.log'));
    procs.push(etcd);
    await waitFor('etcd /health', etcd, deadline, async () => {
      const res = await get(`${etcdUrl}/health`);
      return res.status === 200 && (JSON.parse(res.body) as { health?: string }).health === 'true';
    });

    const token = randomBytes(24).toString('hex');
    writeFileSync(join(dir, 'tokens.csv'), `${token},admin,admin,"system:masters"\n`, { mode: 0o600 });
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    const certDir = join(dir, 'certs');
    const apiserver = startProcess('kube-apiserver', join(bin, 'kube-apiserver'), [
      `--etcd-servers=${etcdUrl}`,
      `--cert-dir=${certDir}`,
      `--secure-port=${securePort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      '--service-cluster-ip-range=10.96.0.0/24',
      '--authorization-mode=RBAC',
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      // No controller-manager creates the `default` ServiceAccount, so this admission plugin would
      // reject every pod; controller-runtime's envtest turns it off for the same reason.
      '--disable-admission-plugins=ServiceAccount',
      '--allow-privileged=true',
      ...(opts.apiserverArgs ?? []),
    ], join(dir, 'kube-apiserver.log'));
    procs.push(apiserver);
    const server = `https://127.0.0.1:${securePort}`;
    await waitFor('kube-apiserver /readyz', apiserver, deadline, async () => {
      if (!existsSync(join(certDir, 'apiserver.crt'))) return false;
      return (await get(`${server}/readyz`, { token, insecure: true })).status === 200;
    });
    const caData = servingCa(certDir);
    // Checks the CA really verifies the serving certificate, so the kubeconfig needs no insecure flag.
    const version = JSON.parse((await get(`${server}/version`, { ca: caData, token })).body) as { gitVersion: string };
    const kubeconfigPath = join(dir, 'kubeconfig');
    writeKubeconfig(kubeconfigPath, server, caData, token);
    return {
      kubeconfigPath, server, token, caData, dir, version: version.gitVersion,
      apiserverPid: apiserver.child.pid!,
      pauseApiServer: () => { apiserver.child.kill('SIGSTOP'); },
      resumeApiServer: () => { apiserver.child.kill('SIGCONT'); },
      stop: async () => { process.off('exit', onExit); apiserver.child.kill('SIGCONT'); await stopAll(); },
    };
  } catch (err) {
    process.off('exit', onExit);
    await stopAll();
    throw err;
  }
}

// ---- kubectl ----

let kubectlPath: string | undefined;

/**
 * A kubectl within one minor version of the server (`kubectl.1.N` from the Debian/Cloud SDK
 * `kubectl` package: `dpkg -L kubectl`), or $KUBECTL. Errors clearly when none fits.
 */
export function findKubectl(serverVersion = k8sVersions().kubernetes): string {
  if (kubectlPath) return kubectlPath;
  if (process.env.KUBECTL) return (kubectlPath = process.env.KUBECTL);
  const minor = Number(/^v1\.(\d+)\./.exec(serverVersion)?.[1]);
  const candidates = new Set<string>();
  const dpkg = spawnSync('dpkg', ['-L', 'kubectl'], { encoding: 'utf8' });
  if (dpkg.status === 0) for (const f of dpkg.stdout.split('\n')) if (/\/kubectl(\.1\.\d+)?$/.test(f)) candidates.add(f);
  for (const d of ['/usr/lib/google-cloud-sdk/bin', '/usr/local/bin', '/usr/bin']) candidates.add(join(d, 'kubectl'));
  const found: Array<{ path: string; minor: number }> = [];
  for (const path of candidates) {
    if (!existsSync(path)) continue;
    const named = /kubectl\.1\.(\d+)$/.exec(path);
    let m = named ? Number(named[1]) : NaN;
    if (!named) {
      const v = spawnSync(path, ['version', '--client', '-o', 'json'], { encoding: 'utf8' });
      m = Number(/"minor":\s*"(\d+)/.exec(v.stdout ?? '')?.[1]);
    }
    if (Number.isFinite(m)) found.push({ path, minor: m });
  }
  const fit = found.filter((k) => Math.abs(k.minor - minor) <= 1).sort((a, b) => Math.abs(a.minor - minor) - Math.abs(b.minor - minor) || b.minor - a.minor)[0];
  if (!fit) {
    throw new Error(`no kubectl within one minor version of the API server (v1.${minor}); found: `
      + `${found.map((k) => `${k.path} (1.${k.minor})`).join(', ') || 'none'}. Install the Debian package `
      + '`kubectl` (it ships kubectl.1.N binaries) or set KUBECTL=/path/to/kubectl-1.' + minor);
  }
  return (kubectlPath = fit.path);
}

/** Runs kubectl against `api` (never throws on a non-zero exit; check `code`). */
export function kubectl(api: ApiServer, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return run(findKubectl(api.version), ['--kubeconfig', api.kubeconfigPath, ...args], { input: opts.input, timeoutMs: opts.timeoutMs ?? 30_000 });
}
