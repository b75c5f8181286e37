/**
 * Broker resource accounting from Linux /proc, for a process and all its descendants (a broker
 * that forks helpers is charged for them too).
 *
 * - CPU: /proc/<pid>/stat fields 14 and 15 (utime, stime; in clock ticks, all threads included),
 *   converted with CLK_TCK (`getconf CLK_TCK`, 100 on Linux/x86-64).
 * - Memory: /proc/<pid>/status VmRSS (resident now) and VmHWM (the kernel's own peak of VmRSS).
 *   RssSampler polls VmRSS summed over the tree; its peak is what the report calls "peak RSS".
 *
 * Processes that exit between the directory scan and the read are skipped.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const clockTicksPerSecond = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Fields of /proc/<pid>/stat after the parenthesised command name (which may hold spaces). */
function statFields(pid: number): string[] | undefined {
  const stat = readOrUndefined(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** pid plus every live descendant of it. */
export function processTree(rootPid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    if (fields !== undefined) parentOf.set(Number(entry), Number(fields[1])); // field 4: ppid
  }
  const tree = [rootPid];
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, ppid] of parentOf) if (ppid === tree[i]) tree.push(pid);
  }
  return tree;
}

/** Open file descriptors of the process tree. */
export function openFds(rootPid: number): number {
  return processTree(rootPid).reduce((n, p) => {
    try { return n + readdirSync(`/proc/${p}/fd`).length; } catch { return n; }
  }, 0);
}

/** utime and stime of the process tree, in seconds: user space and the kernel on its behalf (syscalls, and softirqs it ran). */
export function cpuTimes(rootPid: number): { user: number; system: number } {
  let user = 0;
  let system = 0;
  for (const pid of processTree(rootPid)) {
    const fields = statFields(pid);
    if (fields === undefined) continue;
    user += Number(fields[11]); // field 14
    system += Number(fields[12]); // field 15
  }
  return { user: user / clockTicksPerSecond, system: system / clockTicksPerSecond };
}

/** utime + stime of the process tree, in seconds. */
export function cpuSeconds(rootPid: number): number {
  const { user, system } = cpuTimes(rootPid);
  return user + system;
}

/**
 * CPU time (utime + stime) of one thread of `pid` (its main thread when `tid` is `pid`: for
 * Node, the event loop; for the JVM, the launcher thread), in seconds.
 */
export function threadCpuSeconds(pid: number, tid = pid): number {
  const stat = readOrUndefined(`/proc/${pid}/task/${tid}/stat`);
  if (stat === undefined) return 0;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond;
}

function statusKiB(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  const status = readOrUndefined(`/proc/${pid}/status`);
  const match = status === undefined ? null : new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
  return match === null ? 0 : Number(match[1]);
}

/** Resident set size summed over the tree, in bytes. */
export function rssBytes(rootPid: number): number {
  return processTree(rootPid).reduce((sum, pid) => sum + statusKiB(pid, 'VmRSS') * 1024, 0);
}

/** VmHWM summed over the tree, in bytes (an upper bound on the tree's simultaneous peak). */
export function hwmBytes(rootPid: number): number {
  return processTree(rootPid).reduce((sum, pid) => sum + statusKiB(pid, 'VmHWM') * 1024, 0);
}

/** Polls the tree's RSS every intervalMs and keeps the peak; also remembers the last VmHWM seen. */
export class RssSampler {
  readonly #pid: number;
  readonly #timer: NodeJS.Timeout;
  #peakRss = 0;
  #lastHwm = 0;

  constructor(pid: number, intervalMs = 100) {
    this.#pid = pid;
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
    this.sample();
  }

  sample(): void {
    const rss = rssBytes(this.#pid);
    if (rss > this.#peakRss) this.#peakRss = rss;
    const hwm = hwmBytes(this.#pid);
    if (hwm > 0) this.#lastHwm = hwm;
  }

  /** Takes a last sample and stops polling. */
  stop(): { peakRssBytes: number; hwmBytes: number } {
    this.sample();
    clearInterval(this.#timer);
    return { peakRssBytes: this.#peakRss, hwmBytes: this.#lastHwm };
  }
}

/** Machine-wide CPU time from the first line of /proc/stat, in seconds summed over all cores. */
export function machineCpu(): { busySeconds: number; idleSeconds: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user)
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields;
  return {
    busySeconds: (user + nice + system + irq + softirq + (steal ?? 0)) / clockTicksPerSecond,
    idleSeconds: (idle + iowait) / clockTicksPerSecond,
  };
}

/** CPU cores kept busy by everything on the machine over the next sampleMs. */
export async function machineBusyCores(sampleMs = 1000): Promise<number> {
  const before = machineCpu();
  const t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, sampleMs));
  const after = machineCpu();
  return (after.busySeconds - before.busySeconds) / ((performance.now() - t0) / 1000);
}
