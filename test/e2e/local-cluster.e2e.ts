/**
 * The local single-node cluster itself (test/cluster): what the e2e suite relies on and what the
 * machine must be protected from. Runs only when the suite brings up or reuses the local cluster
 * (KUBECONFIG unset when jest starts; test/e2e/jest.config.js leaves this file out otherwise, since
 * on kind pods do have a way out).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { clusterPaths, NODE_IP, SERVICE_CIDR } from '../cluster/cluster.ts';
import { createNamespace, deleteNamespace, images, kubeconfig, runPod } from './kube.ts';

let ns = '';

beforeAll(async () => {
  expect(kubeconfig()).toBe(clusterPaths().kubeconfig);
  ns = await createNamespace('brook-local');
}, 60_000);

afterAll(async () => { if (ns) await deleteNamespace(ns); }, 400_000);

/** Runs a Node script in a pod of the Brook image and returns its output (one JSON line per check). */
async function nodeInPod(name: string, script: string): Promise<Record<string, unknown>> {
  const { phase, log } = await runPod(ns, name, {
    securityContext: { runAsNonRoot: true, runAsUser: 10001 },
    containers: [{ name: 'node', image: images().brook.ref, imagePullPolicy: 'IfNotPresent', command: ['/usr/local/bin/node', '-e', script] }],
  }, 120_000);
  if (phase !== 'Succeeded') throw new Error(`pod ${name} ${phase}:\n${log}`);
  return JSON.parse(log.trim().split('\n').pop()!) as Record<string, unknown>;
}

describe('the local cluster (npm run cluster)', () => {
  test('a pod resolves Services through CoreDNS and reaches the API server through the kubernetes Service', async () => {
    const out = await nodeInPod('dns', `
      const dns = require('node:dns/promises'), net = require('node:net');
      (async () => {
        const { address } = await dns.lookup('kubernetes.default.svc.cluster.local');
        const connected = await new Promise((res) => { const s = net.connect(443, address, () => { s.end(); res(true); }); s.on('error', () => res(false)); });
        const resolv = require('node:fs').readFileSync('/etc/resolv.conf', 'utf8');
        console.log(JSON.stringify({ address, connected, resolv }));
      })();`);
    expect(out.address).toBe(SERVICE_CIDR.replace(/0\/24$/, '1'));
    expect(out.connected).toBe(true);
    expect(out.resolv).toContain(`nameserver ${NODE_IP}`);
  }, 180_000);

  test("a pod has no way off the machine: the host's default gateway is unreachable (no route), outside names do not resolve", async () => {
    const gateway = /^default via (\S+)/m.exec(spawnSync('ip', ['-4', 'route', 'show'], { encoding: 'utf8' }).stdout)?.[1];
    if (!gateway) throw new Error('this machine has no IPv4 default route to test against');
    const out = await nodeInPod('egress', `
      const dns = require('node:dns/promises'), net = require('node:net');
      (async () => {
        const gateway = await new Promise((res) => {
          const s = net.connect({ port: 80, host: ${JSON.stringify(gateway)}, timeout: 5000 }, () => { s.end(); res('connected'); });
          s.on('error', (e) => res(e.code)); s.on('timeout', () => { s.destroy(); res('timeout'); });
        });
        const outside = await dns.lookup('registry.npmjs.org').then(() => 'resolved', (e) => e.code);
        console.log(JSON.stringify({ gateway, outside }));
      })();`);
    expect(out.gateway).toBe('ENETUNREACH');
    expect(out.outside).not.toBe('resolved');
  }, 180_000);
});
