/**
 * The host side of the cluster: sysctls, the brook0 bridge and the FORWARD guard (nothing leaves
 * the machine), kube-proxy's iptables chains, and what `down` cleans up: mounts, pod cgroups, and
 * processes still using the state folder.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BRIDGE, NODE_IP, GUARD_CHAIN, has, sh, type RunState } from './host.ts';

// ---- network ----

export function sysctlPath(key: string): string { return `/proc/sys/${key.replace(/\./g, '/')}`; }

export function setSysctls(state: RunState): void {
  for (const [key, value] of [['net.ipv4.ip_forward', '1'], ['net.bridge.bridge-nf-call-iptables', '1']]) {
    const path = sysctlPath(key);
    if (!existsSync(path) && key.startsWith('net.bridge.')) sh('modprobe', ['br_netfilter'], { allowFail: true });
    if (!existsSync(path)) throw new Error(`${path} is missing (br_netfilter not loaded?)`);
    const old = readFileSync(path, 'utf8').trim();
    if (old !== value) {
      state.sysctls[key] = old;
      writeFileSync(path, value);
    }
  }
}

export function iptablesChainExists(ipt: string, table: string, chain: string): boolean {
  return spawnSync(ipt, ['-w', '-t', table, '-S', chain], { stdio: 'ignore' }).status === 0;
}

export function setUpNetwork(): void {
  if (spawnSync('ip', ['link', 'show', BRIDGE], { stdio: 'ignore' }).status !== 0) sh('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  if (!sh('ip', ['-4', 'addr', 'show', 'dev', BRIDGE]).includes(`${NODE_IP}/24`)) sh('ip', ['addr', 'add', `${NODE_IP}/24`, 'dev', BRIDGE]);
  sh('ip', ['link', 'set', BRIDGE, 'up']);
  // The guard: nothing is forwarded between the pods' bridge and any other interface.
  if (!iptablesChainExists('iptables', 'filter', GUARD_CHAIN)) sh('iptables', ['-w', '-N', GUARD_CHAIN]);
  sh('iptables', ['-w', '-F', GUARD_CHAIN]);
  sh('iptables', ['-w', '-A', GUARD_CHAIN, '-i', BRIDGE, '!', '-o', BRIDGE, '-j', 'DROP']);
  sh('iptables', ['-w', '-A', GUARD_CHAIN, '-o', BRIDGE, '!', '-i', BRIDGE, '-j', 'DROP']);
  if (spawnSync('iptables', ['-w', '-C', 'FORWARD', '-j', GUARD_CHAIN], { stdio: 'ignore' }).status !== 0) {
    sh('iptables', ['-w', '-I', 'FORWARD', '1', '-j', GUARD_CHAIN]);
  }
}

/** Every iptables/ip6tables chain the cluster made: kube-proxy's and kubelet's KUBE-*, and the guard. */
export function clusterChains(ipt: string): Array<{ table: string; chain: string }> {
  const out: Array<{ table: string; chain: string }> = [];
  for (const table of ['filter', 'nat', 'mangle']) {
    const rules = sh(ipt, ['-w', '-t', table, '-S'], { allowFail: true });
    for (const m of rules.matchAll(/^-N (\S+)$/gm)) {
      if (m[1].startsWith('KUBE-') || m[1] === GUARD_CHAIN) out.push({ table, chain: m[1] });
    }
  }
  return out;
}

export function tearDownNetwork(): void {
  for (const ipt of ['iptables', 'ip6tables']) {
    if (!has(ipt)) continue;
    const chains = clusterChains(ipt);
    if (chains.length === 0) continue;
    // Rules in built-in chains that jump to ours first, then our chains' rules, then our chains.
    for (const table of ['filter', 'nat', 'mangle']) {
      const rules = sh(ipt, ['-w', '-t', table, '-S'], { allowFail: true }).split('\n');
      for (const rule of rules) {
        const m = /^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) (.*-j (KUBE-\S+|BROOK-CLUSTER-GUARD)\b.*)$/.exec(rule);
        if (m) sh(ipt, ['-w', '-t', table, '-D', m[1], ...splitRule(m[2])], { allowFail: true });
      }
    }
    for (const { table, chain } of chains) sh(ipt, ['-w', '-t', table, '-F', chain], { allowFail: true });
    for (const { table, chain } of chains) sh(ipt, ['-w', '-t', table, '-X', chain], { allowFail: true });
  }
  if (spawnSync('ip', ['link', 'show', BRIDGE], { stdio: 'ignore' }).status === 0) sh('ip', ['link', 'delete', BRIDGE]);
}

/** Splits an `iptables -S` rule into arguments (quoted comments included). */
export function splitRule(rule: string): string[] {
  return [...rule.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => m[1] ?? m[2]);
}

// ---- mounts, cgroups, leftovers ----

export function mountsUnder(prefixes: readonly string[]): string[] {
  const points = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter(Boolean)
    .map((m) => m.replace(/\\040/g, ' '));
  return points.filter((m) => prefixes.some((p) => m === p || m.startsWith(`${p}/`))).sort((a, b) => b.length - a.length);
}

export function unmountAll(prefixes: readonly string[]): void {
  for (let round = 0; round < 5; round++) {
    const mounts = mountsUnder(prefixes);
    if (mounts.length === 0) return;
    for (const m of mounts) {
      if (spawnSync('umount', [m], { stdio: 'ignore' }).status !== 0) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
    }
  }
  const left = mountsUnder(prefixes);
  if (left.length) throw new Error(`could not unmount: ${left.join(', ')}`);
}

/** kubelet's pod cgroups (kubepods/...) in every v1 hierarchy, removed deepest first. */
export function removePodCgroups(): void {
  const roots: string[] = [];
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) roots.push('/sys/fs/cgroup');
  else for (const d of readdirSync('/sys/fs/cgroup')) roots.push(join('/sys/fs/cgroup', d));
  const rm = (dir: string) => {
    let entries: string[] = [];
    try { entries = readdirSync(dir); } catch { return; }
    for (const e of entries) {
      const sub = join(dir, e);
      try { if (statSync(sub).isDirectory()) rm(sub); } catch { /* gone */ }
    }
    try { rmdirSync(dir); } catch { /* busy or gone */ }
  };
  for (const r of roots) for (const name of ['kubepods', 'kubepods.slice']) if (existsSync(join(r, name))) rm(join(r, name));
}

/** Processes whose command line mentions the state folder (containerd shims, stray pods' processes). */
export function processesUsing(dir: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(dir)) pids.push(Number(e));
    } catch { /* gone */ }
  }
  return pids;
}
