/**
 * The KubernetesStore when the API server is out of reach, against a real API server: one store
 * reaches it through a TCP proxy the test cuts (test/k8s/tcp-proxy.ts), another directly.
 *
 * - A store that cannot see the API server keeps the leases it last saw (no news is not expiry),
 *   its own included; once it sees the server again a lease that was not renewed expires a whole
 *   lease length later, not at once.
 * - A watch whose server is down reconnects with backoff, not in a tight loop, and catches up.
 * - A controller whose write is held on the wire while its lease moves to another broker cannot
 *   land it once the new controller has fenced the topic (issue 10, item 4).
 */
import { afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { Controller } from '../../broker/controller.ts';
import type { Logger } from '../../broker/logger.ts';
import { KubernetesStore } from '../../broker/metadata/kubernetes-store.ts';
import { repoRoot } from '../harness/paths.ts';
import { expectSuccess } from '../harness/tools.ts';
import { kubectl, writeKubeconfig } from './envtest.ts';
import { useApiServer } from './jest.ts';
import { TcpProxy } from './tcp-proxy.ts';

const api = useApiServer();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

function kubeConfig(server = api().server): KubeConfig {
  const path = join(api().dir, `kubeconfig-${server.replace(/\W+/g, '-')}`);
  writeKubeconfig(path, server, api().caData, api().token);
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

let namespaces = 0;
async function freshNamespace(): Promise<string> {
  const name = `outage-${++namespaces}`;
  await kubeConfig().makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
  return name;
}

/** A store that reaches the API server through a proxy the test can cut, and one that reaches it directly. */
async function storesWithProxy(ns: string, opts: { requestTimeoutMs?: number } = {}): Promise<{ cut: KubernetesStore; direct: KubernetesStore; proxy: TcpProxy }> {
  const url = new URL(api().server);
  const proxy = new TcpProxy({ host: url.hostname, port: Number(url.port) });
  await proxy.start();
  cleanups.push(() => proxy.close());
  const cut = await KubernetesStore.open({ kubeConfig: kubeConfig(`https://127.0.0.1:${proxy.port}`), namespace: ns, cluster: 'demo', leaseProbeMs: 300, ...opts });
  cleanups.push(() => cut.close());
  const direct = await KubernetesStore.open({ kubeConfig: kubeConfig(), namespace: ns, cluster: 'demo', leaseProbeMs: 300 });
  cleanups.push(() => direct.close());
  return { cut, direct, proxy };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function recordingLogger(lines: string[]): Logger {
  const log: Logger = {
    debug: () => undefined, info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`), error: (m) => lines.push(`error ${m}`),
    child: () => log,
  };
  return log;
}

beforeAll(async () => {
  expectSuccess(await kubectl(api(), ['apply', '--server-side', '-f', join(repoRoot, 'crds')]));
  expectSuccess(await kubectl(api(), ['wait', '--for=condition=Established', '--timeout=60s', 'crd/topics.brook.dev']));
}, 90_000);

describe('KubernetesStore during an API server outage', () => {
  test('an API server outage stops the data plane: a store that cannot reach the API server keeps every lease it saw, its own included', async () => {
    const ns = await freshNamespace();
    const { cut, direct, proxy } = await storesWithProxy(ns);
    const LEASE_MS = 1_000;
    await cut.heartbeatBroker({ id: 0, host: 'h0', port: 1, rack: null }, LEASE_MS);
    await direct.heartbeatBroker({ id: 1, host: 'h1', port: 1, rack: null }, LEASE_MS);
    const seen: Array<{ at: number; ids: number[] }> = [];
    cut.watchBrokers((b) => seen.push({ at: Date.now(), ids: b.map((x) => x.id) }));
    await waitFor(() => seen.at(-1)!.ids.length === 2, 'both brokers live');

    // 3 lease lengths without the API server. Broker 1 in truth stops renewing at the cut; broker 0
    // (this store's own) keeps trying to renew through the cut wire.
    proxy.blackhole();
    const cutAt = Date.now();
    let renewing = true;
    cleanups.push(() => { renewing = false; });
    const renewals = (async () => {
      while (renewing) {
        await cut.heartbeatBroker({ id: 0, host: 'h0', port: 1, rack: null }, LEASE_MS).catch(() => undefined);
        await sleep(200);
      }
    })();
    await sleep(3 * LEASE_MS);
    expect(seen.at(-1)!.ids).toEqual([0, 1]);
    expect(seen.filter((s) => s.at >= cutAt).every((s) => s.ids.length === 2)).toBe(true);

    // Back in view: broker 1 stops renewing for good. It expires a lease length after this store
    // sees the server again — and not at once, though its last renewal this store saw is old.
    proxy.heal();
    const healedAt = Date.now();
    await waitFor(() => cut.testing.leaseFreshness().freshSince >= healedAt, 'the store to see the API server again');
    await waitFor(() => seen.at(-1)!.ids.length === 1, 'broker 1 to expire after the outage');
    const expiredAt = seen.at(-1)!.at;
    expect(seen.at(-1)!.ids).toEqual([0]);
    expect(expiredAt - healedAt).toBeGreaterThanOrEqual(LEASE_MS * 0.8);
    renewing = false;
    await renewals;
  }, 60_000);

  test('a failing watch is retried with backoff, not in a tight loop, and catches up once the server is back', async () => {
    const ns = await freshNamespace();
    const { cut, direct, proxy } = await storesWithProxy(ns);
    proxy.refuse();
    const before = proxy.connections;
    await sleep(4_000);
    const attempts = proxy.connections - before;
    // two watches backing off from 100 ms towards 5 s, and lease probes every 300 ms: a few dozen
    // at most in 4 s (the tight loop made thousands)
    expect(attempts).toBeLessThan(60);
    const stats = cut.testing.watchStats();
    expect(stats.topics.watchStarts + stats.leases.watchStarts).toBeLessThan(30);
    proxy.heal();
    const created = await direct.createTopic({ name: 'after-outage', partitions: 1, replicationFactor: 1, configs: {} },
      [{ partition: 0, replicas: [0], leader: 0, isr: [0], leaderEpoch: 0, partitionEpoch: 0 }]);
    await waitFor(async () => (await cut.getTopic('after-outage'))?.version === created.version, 'the cut store to catch up', 20_000);
  }, 60_000);

  test('the controller\'s writes are fenced: a write held on the wire while the lease moved to another broker cannot land', async () => {
    const ns = await freshNamespace();
    // the held write must reach the server when the wire heals, not time out in the client first
    const { cut, direct, proxy } = await storesWithProxy(ns, { requestTimeoutMs: 60_000 });
    const ledBy1 = [{ partition: 0, replicas: [1, 0, 2], leader: 1, isr: [1, 0, 2], leaderEpoch: 0, partitionEpoch: 0 }];
    await direct.createTopic({ name: 'fenced', partitions: 1, replicationFactor: 3, configs: {} }, ledBy1);
    await waitFor(async () => (await cut.getTopic('fenced')) !== undefined, 'the topic in both stores');

    const LEASE_MS = 1_500;
    const first = await cut.claimController(0, LEASE_MS);
    expect(first.holder).toBe(0);
    const oldLog: string[] = [];
    // Broker 0's view went stale: it believes broker 1 is dead, and it still acts under its epoch
    // (it was paused after checking its lease).
    const old = new Controller({ store: cut, logger: recordingLogger(oldLog), uncleanFor: () => false, epoch: () => first.epoch, live: () => new Set([0, 2]) });
    cleanups.push(() => old.stop());
    proxy.blackhole();
    const oldPass = old.reconcile(false); // plans "leader 1 → 0"; the write goes into the cut wire

    // meanwhile broker 2 takes the lapsed lease and does a pass with the true picture
    let second = first;
    await waitFor(async () => (second = await direct.claimController(2, 60_000)).holder === 2, 'broker 2 to take the controller lease');
    expect(second.epoch).toBeGreaterThan(first.epoch);
    const newer = new Controller({ store: direct, logger: recordingLogger([]), uncleanFor: () => false, epoch: () => second.epoch, live: () => new Set([0, 1, 2]) });
    cleanups.push(() => newer.stop());
    await newer.reconcile(false);

    proxy.heal(); // the held write reaches the API server now
    await oldPass;
    const now = (await direct.getTopic('fenced'))!;
    expect(now.partitions).toEqual(ledBy1);
    expect(now.controllerEpoch).toBe(second.epoch);
    await waitFor(() => /stopped: topic fenced: written under controller epoch/.test(oldLog.join('\n')), 'the old controller to find itself fenced');
    expect((await direct.getTopic('fenced'))!.partitions).toEqual(ledBy1);
    expect(old.elections).toBe(0);
  }, 60_000);
});
