/**
 * Two `brook operator` processes against one API server: exactly one leads (brook_operator_leader
 * and the Lease agree) and only it reconciles; SIGKILL of the leader hands over within the lease
 * time; /healthz, /readyz and /metrics answer on both.
 */
import { describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../harness/paths.ts';
import { freePort } from '../harness/ports.ts';
import { adminKube, createNamespace, eventually, resources } from './harness.ts';
import { useOperatorApiServer } from './jest.ts';
import type { Kube, KubeObject } from '../../broker/k8s/index.ts';

const { api, cleanup } = useOperatorApiServer();
const leaseSeconds = 3;

interface Proc { child: ChildProcess; port: number; out: string[]; exited: Promise<void> }

async function startOperatorProcess(leaseNamespace = 'kube-system'): Promise<Proc> {
  const port = await freePort();
  const child = spawn(join(repoRoot, 'bin/brook'), ['operator', '--kubeconfig', api().kubeconfigPath, '--metrics-port', String(port), '--metrics-host', '127.0.0.1',
    '--leader-election-namespace', leaseNamespace, '--lease-duration', String(leaseSeconds)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  child.stdout!.on('data', (b: Buffer) => out.push(b.toString()));
  child.stderr!.on('data', (b: Buffer) => out.push(b.toString()));
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const p = { child, port, out, exited };
  cleanup(async () => { if (child.exitCode === null && child.signalCode === null) { child.kill('SIGTERM'); await exited; } });
  return p;
}

async function metric(p: Proc, name: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${p.port}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

const isLeader = async (p: Proc) => (await metric(p, 'brook_operator_leader').catch(() => undefined)) === 1;

describe('leader election', () => {
  let kube: Kube;

  test('two processes: one leader, only it reconciles; killing it hands over within the lease time', async () => {
    kube = adminKube(api());
    await createNamespace(kube, 'le');
    const a = await startOperatorProcess();
    const b = await startOperatorProcess();
    const leader = await eventually(async () => ((await isLeader(a)) ? a : (await isLeader(b)) ? b : undefined), 'a leader', 20_000, 100);
    const standby = leader === a ? b : a;
    // Give the standby time to try: it must stay a standby.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await isLeader(standby)).toBe(false);
    expect(await isLeader(leader)).toBe(true);
    expect((await fetch(`http://127.0.0.1:${standby.port}/readyz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${leader.port}/healthz`)).status).toBe(200);
    const lease = await kube.get<KubeObject & { spec: { holderIdentity?: string } }>(resources.Lease, 'kube-system', 'brook-operator');
    expect(lease.spec.holderIdentity).toBeTruthy();

    await kube.create(resources.Cluster, { metadata: { name: 'one', namespace: 'le' }, spec: { replicas: 1 } });
    await eventually(() => kube.getOrUndefined(resources.StatefulSet, 'le', 'one'), 'the leader reconciles', 10_000);
    const reconciles = async (p: Proc) => {
      const text = await (await fetch(`http://127.0.0.1:${p.port}/metrics`)).text();
      return [...text.matchAll(/^brook_operator_reconcile_total\{[^}]*\} (\S+)$/gm)].reduce((s, m) => s + Number(m[1]), 0);
    };
    // the StatefulSet appears mid-reconcile; the counter moves when that reconcile ends
    await eventually(async () => ((await reconciles(leader)) > 0 ? true : undefined), 'the leader to count its reconcile', 10_000, 50);
    expect(await reconciles(standby)).toBe(0);

    const killedAt = performance.now();
    leader.child.kill('SIGKILL');
    await leader.exited;
    await eventually(() => isLeader(standby), 'the standby to take over', 15_000, 50);
    const handover = performance.now() - killedAt;
    process.stdout.write(`leader handover after SIGKILL: ${handover.toFixed(0)} ms (lease ${leaseSeconds} s)\n`);
    // At most one lease duration after the last renewal, plus one retry period and scheduling slack.
    expect(handover).toBeLessThan(leaseSeconds * 1000 + 1_500);

    await kube.create(resources.Cluster, { metadata: { name: 'two', namespace: 'le' }, spec: { replicas: 1 } });
    await eventually(() => kube.getOrUndefined(resources.StatefulSet, 'le', 'two'), 'the new leader reconciles', 10_000);
    const logs = standby.out.join('');
    expect(logs).toContain('"msg":"became the leader"');
  }, 90_000);

  // Regression: the leader used to release its Lease by emptying holderIdentity, so an operator that
  // went away for good (helm uninstall) left its Lease in the namespace, owned by nothing.
  test('operator lease left behind after helm uninstall: a leader stopping on SIGTERM deletes its Lease; a standby then takes over at once', async () => {
    kube ??= adminKube(api());
    // A Lease of their own (the first test's survivor still leads on kube-system's).
    await createNamespace(kube, 'le-release');
    const a = await startOperatorProcess('le-release');
    await eventually(() => isLeader(a), 'a leader', 20_000, 100);
    expect(await kube.getOrUndefined(resources.Lease, 'le-release', 'brook-operator')).toBeDefined();
    const b = await startOperatorProcess('le-release');
    // The standby is up (informers synced) before the leader goes.
    await eventually(async () => (await fetch(`http://127.0.0.1:${b.port}/readyz`).catch(() => undefined))?.status === 200, 'the standby ready', 20_000, 100);
    expect(await isLeader(b)).toBe(false);
    a.child.kill('SIGTERM');
    await a.exited;
    const exitedAt = performance.now();
    // The standby finds no Lease and creates it: no waiting for the lease to expire.
    await eventually(() => isLeader(b), 'the standby to take over', 10_000, 50);
    process.stdout.write(`leader handover after SIGTERM: ${(performance.now() - exitedAt).toFixed(0)} ms after the old leader exited\n`);
    expect(performance.now() - exitedAt).toBeLessThan(leaseSeconds * 1000);
    b.child.kill('SIGTERM');
    await b.exited;
    expect(await kube.getOrUndefined(resources.Lease, 'le-release', 'brook-operator')).toBeUndefined();
    expect(a.out.join('')).toContain('released the leader lease (deleted it)');
  }, 60_000);
});
