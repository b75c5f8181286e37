/**
 * Starts a real Brook broker as a child process (`node broker/cli.ts broker ...`) for tests that
 * talk to it with real Kafka clients.
 *
 * The broker is asked to listen on 127.0.0.1:0; it prints
 *   `brook broker <id> listening on 127.0.0.1:<port>`
 *   `brook broker <id> metrics on http://127.0.0.1:<port>/metrics`
 * on stdout when ready, and this module waits for both lines (or fails with the broker's stderr).
 * Every broker started here is remembered; `stopAllBrokers()` (call it in afterAll) stops them
 * and removes the temporary data directories this module created. A process exit handler
 * SIGKILLs whatever is still running so a crashed test run never leaves brokers behind.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKafkaReference } from './kafka-reference.ts';
import { freePort } from './ports.ts';
import { repoRoot } from './paths.ts';

export interface StartBrokerOptions {
  /** Reuse this data directory (e.g. to restart on the same logs); default: a fresh temp dir. */
  dataDir?: string;
  /** `--set key=value` broker settings. */
  set?: Record<string, string>;
  id?: number;
  /** Listen on this port instead of a free one (0). */
  port?: number;
  /** How long to wait for the ready lines; default 30 s. */
  readyTimeoutMs?: number;
  /**
   * Run the broker under this command (e.g. `['strace', '-f', '-o', file]`): the broker's own
   * command line is appended to it. `stop()` and `kill()` signal the broker, not the wrapper.
   */
  wrapWith?: string[];
  /**
   * Named listeners with their security protocol, each on a free port of 127.0.0.1, instead of
   * the single PLAINTEXT listener (`listeners` and `listener.security.protocol.map` settings);
   * `bootstrap`/`port` are the first one's, `listenerPorts` has them all.
   */
  listeners?: ReadonlyArray<{ name: string; protocol: string }>;
}

export interface BrokerHandle {
  /** `127.0.0.1:<port>` */
  bootstrap: string;
  port: number;
  metricsUrl: string;
  dataDir: string;
  pid: number;
  /** SIGTERM, wait for exit (SIGKILL after a timeout); resolves to the exit code (null if killed by a signal). */
  stop(timeoutMs?: number): Promise<number | null>;
  /** Sends `signal` and waits for the process to exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** Everything the broker wrote to stderr so far. */
  stderr(): string;
  /** Everything the broker wrote to stdout so far. */
  stdout(): string;
  /** Whether the process has exited. */
  exited(): boolean;
  /** Bound port per listener name (with `listeners`). */
  listenerPorts?: Record<string, number>;
}

const running = new Set<ChildProcess>();
const tempDirs = new Set<string>();

process.on('exit', () => {
  for (const child of running) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

/** Where the broker entrypoint lives; a missing file fails with a message saying so. */
export const brokerCli = join(repoRoot, 'broker', 'cli.ts');

/** Shortens a long log for an error message, keeping the end (where the cause usually is). */
function tail(text: string, max = 4000): string {
  return text.length > max ? `...${text.slice(-max)}` : text;
}

/** `BROOK_TEST_TARGET=kafka` runs the same tests against Apache Kafka, to check the tests themselves. */
export const target = process.env.BROOK_TEST_TARGET === 'kafka' ? 'kafka' : 'brook';

export async function startBroker(opts: StartBrokerOptions = {}): Promise<BrokerHandle> {
  if (target === 'kafka') {
    const dataDir = opts.dataDir ?? tempDir('kafka-ref-');
    return startKafkaReference({ ...opts, dataDir }, (child) => {
      running.add(child);
      child.on('exit', () => running.delete(child));
    });
  }
  if (!existsSync(brokerCli)) {
    throw new Error(`the broker entrypoint ${brokerCli} does not exist yet`);
  }
  const id = opts.id ?? 0;
  let dataDir = opts.dataDir;
  if (dataDir === undefined) {
    dataDir = mkdtempSync(join(tmpdir(), 'brook-test-'));
    tempDirs.add(dataDir);
  }
  const listen = `127.0.0.1:${opts.port ?? 0}`;
  const named: Record<string, number> = {};
  for (const l of opts.listeners ?? []) named[l.name] = await freePort();
  const args = [
    brokerCli, 'broker',
    '--id', String(id),
    ...(opts.listeners ? [] : ['--listen', listen, '--advertised-listener', listen]),
    '--data-dir', dataDir,
    '--metrics-port', '0',
  ];
  // one broker: __consumer_offsets and __transaction_state need replication factor 1 (and
  // min ISR 1), as in Kafka's single-node configs
  const settings = {
    'offsets.topic.replication.factor': '1', 'transaction.state.log.replication.factor': '1', 'transaction.state.log.min.isr': '1',
    ...(opts.listeners ? {
      listeners: opts.listeners.map((l) => `${l.name}://127.0.0.1:${named[l.name]}`).join(','),
      'listener.security.protocol.map': opts.listeners.map((l) => `${l.name}:${l.protocol}`).join(','),
    } : {}),
    ...opts.set,
  };
  for (const [key, value] of Object.entries(settings)) args.push('--set', `${key}=${value}`);

  const wrap = opts.wrapWith ?? [];
  const child = wrap.length > 0
    ? spawn(wrap[0]!, [...wrap.slice(1), process.execPath, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  let err = '';
  let exitCode: number | null | undefined;
  const exitedPromise = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      exitCode = code;
      running.delete(child);
      resolve(code);
    });
  });
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => { err += chunk; });

  const command = [...wrap, process.execPath, ...args].join(' ');
  /** Signals the broker itself: the child, or the wrapper's child process. */
  const signalBroker = (signal: NodeJS.Signals) => {
    const pid = wrap.length > 0 ? childOf(child.pid!) : child.pid;
    if (pid === undefined) child.kill(signal); // the broker is gone; the wrapper will follow
    else process.kill(pid, signal);
  };
  const timeoutMs = opts.readyTimeoutMs ?? 30_000;
  const ready = await new Promise<{ port: number; metricsUrl: string }>((resolve, reject) => {
    let port: number | undefined;
    let metricsUrl: string | undefined;
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`broker did not start: ${why}\ncommand: ${command}\nstdout:\n${tail(out)}\nstderr:\n${tail(err)}`));
    };
    const timer = setTimeout(() => fail(`no ready lines within ${timeoutMs} ms`), timeoutMs);
    child.on('error', (e) => fail(`spawn failed: ${e.message}`));
    child.on('exit', (code, signal) => {
      if (port === undefined || metricsUrl === undefined) fail(`exited early with code ${code} signal ${signal}`);
    });
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      const first = opts.listeners?.[0]?.name;
      const listening = new RegExp(`^brook broker ${id} listening on [^\\s:]+:(\\d+)${first && opts.listeners!.length > 1 ? ` \\(${first}\\)` : ''}\\s*$`, 'm').exec(out);
      if (listening) port = Number(listening[1]);
      const metrics = new RegExp(`^brook broker ${id} metrics on (http://\\S+)\\s*$`, 'm').exec(out);
      if (metrics) metricsUrl = metrics[1];
      if (port !== undefined && metricsUrl !== undefined) {
        clearTimeout(timer);
        resolve({ port, metricsUrl });
      }
    });
  });

  const waitExit = async (timeoutMs: number): Promise<number | null> => {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), timeoutMs); });
    const result = await Promise.race([exitedPromise, timedOut]);
    clearTimeout(timer);
    if (result === 'timeout') {
      child.kill('SIGKILL');
      await exitedPromise;
      throw new Error(`broker pid ${child.pid} did not exit within ${timeoutMs} ms; killed\nstderr:\n${tail(err)}`);
    }
    return result;
  };

  return {
    bootstrap: `127.0.0.1:${ready.port}`,
    port: ready.port,
    metricsUrl: ready.metricsUrl,
    dataDir,
    pid: child.pid ?? -1,
    async stop(timeoutMs = 15_000) {
      if (exitCode !== undefined) return exitCode;
      signalBroker('SIGTERM');
      return waitExit(timeoutMs);
    },
    async kill(signal) {
      if (exitCode !== undefined) return;
      signalBroker(signal);
      await exitedPromise;
    },
    stderr: () => err,
    stdout: () => out,
    exited: () => exitCode !== undefined,
    listenerPorts: opts.listeners ? named : { PLAINTEXT: ready.port },
  };
}

/** The first child process of `pid` (from /proc), if any. */
function childOf(pid: number): number | undefined {
  try {
    const first = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)[0];
    return first ? Number(first) : undefined;
  } catch {
    return undefined;
  }
}

/** Kills every broker this module started (SIGTERM, then SIGKILL) and removes its temp data dirs. */
export async function stopAllBrokers(): Promise<void> {
  await Promise.all([...running].map((child) => new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    child.kill('SIGTERM');
  })));
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/** A fresh temporary directory that `stopAllBrokers()` removes. */
export function tempDir(prefix = 'brook-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}
