/**
 * Long-running client processes (a `kcat -G` group member, a console consumer) that a test starts,
 * watches while it runs and stops with a signal. Every process started here is SIGKILLed when the
 * test process exits, so a failed test never leaves one behind.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { repoRoot } from './paths.ts';

export interface BackgroundProcess {
  command: string;
  pid: number;
  /** Everything written to stdout so far. */
  stdout(): Buffer;
  /** Everything written to stderr so far. */
  stderr(): string;
  exited(): boolean;
  /** Sends `signal` (default SIGTERM) and waits for the exit; SIGKILL after `timeoutMs`. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once `predicate` holds for the output so far; rejects after `timeoutMs` or if the process exits first. */
  waitFor(what: string, predicate: () => boolean, timeoutMs?: number): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

export function startBackground(cmd: string, args: readonly string[], opts: { env?: Record<string, string> } = {}): BackgroundProcess {
  const command = [cmd, ...args].join(' ');
  const child = spawn(cmd, args, { cwd: repoRoot, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const out: Buffer[] = [];
  let err = '';
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      running.delete(child);
      exit = { code, signal };
      resolve(exit);
    });
  });
  child.on('error', (e) => { err += `\nspawn failed: ${e.message}`; });
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => { err += s; });
  const handle: BackgroundProcess = {
    command,
    pid: child.pid ?? -1,
    stdout: () => Buffer.concat(out),
    stderr: () => err,
    exited: () => exit !== undefined,
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (exit) return exit;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
    async waitFor(what, predicate, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (exit) throw new Error(`${command} exited (${JSON.stringify(exit)}) before ${what}\nstderr:\n${err.slice(-4000)}`);
        if (Date.now() > deadline) {
          throw new Error(`${command}: no ${what} within ${timeoutMs} ms\nstdout:\n${handle.stdout().toString().slice(-2000)}\nstderr:\n${err.slice(-4000)}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
  return handle;
}
