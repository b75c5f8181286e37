/**
 * The cluster's components as host processes: started detached with their logs and pid files in the
 * state folder, recognised by pid and start time (a recycled pid is not ours), stopped with SIGTERM
 * then SIGKILL, and waited for with a probe that reports the component's log tail on timeout.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clusterPaths, log, sleep, type Component } from './host.ts';

// ---- processes ----

export function pidFile(c: Component): string { return join(clusterPaths().pids, `${c}.pid`); }

/**
 * The start time of a live pid (field 22 of /proc/PID/stat), to tell our process from a recycled
 * pid; undefined when it is gone or a zombie (exited; init reaps the daemons up left behind).
 */
export function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' || fields[0] === 'X' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

/** The pid of a running component started by up, or undefined. */
export function runningPid(c: Component): number | undefined {
  try {
    const [pid, started] = readFileSync(pidFile(c), 'utf8').trim().split(' ');
    return startTime(Number(pid)) === started ? Number(pid) : undefined;
  } catch {
    return undefined;
  }
}

export function startDaemon(c: Component, bin: string, args: readonly string[]): number {
  const p = clusterPaths();
  const fd = openSync(join(p.logs, `${c}.log`), 'a');
  const child = spawn(bin, args, { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  if (!child.pid) throw new Error(`${c} (${bin}) could not start`);
  writeFileSync(pidFile(c), `${child.pid} ${startTime(child.pid) ?? ''}\n`);
  log(`started ${c} (pid ${child.pid})`);
  return child.pid;
}

export function logTail(c: Component, lines = 25): string {
  try {
    return readFileSync(join(clusterPaths().logs, `${c}.log`), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export async function stopPid(name: string, pid: number, graceMs = 15_000): Promise<void> {
  const started = startTime(pid);
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (startTime(pid) !== started) return;
    await sleep(100);
  }
  log(`${name} (pid ${pid}) did not stop within ${graceMs / 1000} s: SIGKILL`);
  try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  while (startTime(pid) === started) await sleep(50);
}

export async function stopComponent(c: Component): Promise<void> {
  const pid = runningPid(c);
  if (pid) {
    await stopPid(c, pid);
    log(`stopped ${c}`);
  }
  rmSync(pidFile(c), { force: true });
}

/** Polls until `probe` is true; fails early if the component exits, with its log's tail. */
export async function waitFor(what: string, c: Component | undefined, timeoutMs: number, probe: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    if (c && !runningPid(c)) throw new Error(`${c} exited before ${what}; last lines of its log:\n${logTail(c)}`);
    try {
      if (await probe()) return;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? ` (${last})` : ''}${c ? `; last lines of ${c}'s log:\n${logTail(c)}` : ''}`);
    }
    await sleep(250);
  }
}
