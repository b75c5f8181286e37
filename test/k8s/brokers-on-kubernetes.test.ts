/**
 * Brokers using the Kubernetes store against a real API server: `kubectl apply -f topic.yaml`
 * becomes a topic kcat can use, Kafka-created topics show in `kubectl get topics`, `kubectl
 * delete topic` makes the brokers drop the data, and a paused controller stops acting as one once
 * another broker takes its lease.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { topicPlacement, type Topic } from '../../broker/k8s/index.ts';
import { exampleTopicWithReplicationFactor } from '../harness/examples.ts';
import { repoRoot } from '../harness/paths.ts';
import { expectSuccess, requireKcat, run } from '../harness/tools.ts';
import { kubectl } from './envtest.ts';
import { useApiServer } from './jest.ts';

const api = useApiServer();
const ns = 'brokers';
const children: ChildProcess[] = [];
const dirs: string[] = [];

interface BrokerProcess { child: ChildProcess; bootstrap: string; metricsUrl: string; dataDir: string; stderr: () => string }

async function startBroker(id: number): Promise<BrokerProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), `brook-k8s-broker-${id}-`));
  dirs.push(dataDir);
  const child = spawn(process.execPath, [join(repoRoot, 'broker/cli.ts'), 'broker', '--id', String(id),
    '--store', 'kubernetes', '--cluster', 'demo', '--namespace', ns, '--kubeconfig', api().kubeconfigPath,
    '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--metrics-port', '0', '--metrics-host', '127.0.0.1',
    '--set', 'broker.session.timeout.ms=2000', '--set', 'broker.heartbeat.interval.ms=400'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker ${id} not ready in 30 s:\n${err}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const listen = /listening on (\S+)/.exec(out);
      const metrics = /metrics on (\S+)/.exec(out);
      if (listen && metrics) {
        clearTimeout(timer);
        resolve({ child, bootstrap: listen[1]!, metricsUrl: metrics[1]!, dataDir, stderr: () => err });
      }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`broker ${id} exited ${code}:\n${err}`)); });
  });
}

async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(url)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : NaN;
}

const k = (args: string[], input?: string) => kubectl(api(), args, { input });

beforeAll(async () => {
  requireKcat();
  expectSuccess(await k(['apply', '--server-side', '-f', join(repoRoot, 'crds')]));
  expectSuccess(await k(['create', 'namespace', ns]));
  expectSuccess(await k(['apply', '-n', ns, '-f', join(repoRoot, 'examples/cluster.yaml')]));
}, 60_000);

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('brokers with --store kubernetes', () => {
  let b0: BrokerProcess;

  test('kubectl apply -f examples/topic.yaml → a topic kcat produces to and consumes from; kubectl get topics shows it', async () => {
    b0 = await startBroker(0);
    const applied = Date.now();
    // examples/topic.yaml as written (replicationFactor 3, for examples/cluster.yaml), made to fit one broker.
    expectSuccess(await k(['apply', '-n', ns, '-f', '-'], exampleTopicWithReplicationFactor(1)));
    // first successful produce after the apply
    let produced = -1;
    await waitFor(async () => {
      const r = await run('kcat', ['-b', b0.bootstrap, '-P', '-t', 'orders', '-p', '0', '-X', 'message.timeout.ms=2000'], { input: 'hello\n', timeoutMs: 10_000 });
      if (r.code === 0) produced = Date.now() - applied;
      return r.code === 0;
    }, 'the first produce to the applied topic');
    process.stderr.write(`kubectl apply → first successful produce: ${produced} ms\n`);
    const consumed = await run('kcat', ['-b', b0.bootstrap, '-C', '-t', 'orders', '-p', '0', '-o', 'beginning', '-e', '-f', '%o:%s\\n'], { timeoutMs: 15_000 });
    expectSuccess(consumed);
    expect(consumed.stdout.toString().trim()).toBe('0:hello');
    const metadata = await run('kcat', ['-b', b0.bootstrap, '-L', '-t', 'orders'], { timeoutMs: 10_000 });
    expect(metadata.stdout.toString()).toContain('topic "orders" with 6 partitions');
    const table = expectSuccess(await k(['get', 'topics', '-n', ns])).stdout.toString();
    expect(table).toMatch(/orders\s+demo\s+6\s+1/);
  });

  test('a topic created with kafkajs admin shows up in kubectl get topics; kubectl delete topic makes the broker drop it', async () => {
    const admin = new Kafka({ brokers: [b0.bootstrap], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'from-kafka', numPartitions: 2 }] })
      .catch((err: Error) => { throw new Error(`${err.message}; broker stderr:\n${b0.stderr()}`); });
    await admin.disconnect();
    // (no operator here: the placement stays in the creation annotation until a status write)
    const obj = JSON.parse(expectSuccess(await k(['get', 'topic', 'from-kafka', '-n', ns, '-o', 'json'])).stdout.toString()) as Topic;
    expect(obj.spec.partitions).toBe(2);
    const topicId = topicPlacement(obj)?.topicId ?? '';
    expect(topicId).toMatch(/^[0-9a-f-]{36}$/);
    const partitionDir = join(b0.dataDir, 'from-kafka-0');
    await waitFor(() => existsSync(partitionDir), 'the partition directory');
    // the operator's finalizer holds deletion until every broker says its data is gone
    expectSuccess(await k(['patch', 'topic', 'from-kafka', '-n', ns, '--type=merge', '-p', '{"metadata":{"finalizers":["brook.dev/topic-data"]}}']));
    expectSuccess(await k(['delete', 'topic', 'from-kafka', '-n', ns, '--wait=false']));
    await waitFor(() => !existsSync(partitionDir), 'the broker to delete the partition data');
    await waitFor(async () => (await k(['get', 'topic', 'from-kafka', '-n', ns, '-o', 'jsonpath={.metadata.annotations.data-removed\\.brook\\.dev/broker-0}'])).stdout.toString() === topicId,
      'the broker to annotate the Topic: data removed');
    expectSuccess(await k(['patch', 'topic', 'from-kafka', '-n', ns, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']));
  });

  test('a paused controller stops acting as controller once another broker holds the lease', async () => {
    const b1 = await startBroker(1);
    await waitFor(async () => (await metric(b0.metricsUrl, 'brook_controller_active')) === 1, 'broker 0 to be controller');
    expect(await metric(b1.metricsUrl, 'brook_controller_active')).toBe(0);
    b0.child.kill('SIGSTOP');
    try {
      await waitFor(async () => (await metric(b1.metricsUrl, 'brook_controller_active')) === 1, 'broker 1 to take the controller lease', 15_000);
    } finally {
      b0.child.kill('SIGCONT');
    }
    // back from the pause, broker 0 must not believe it is still the controller
    await new Promise((r) => setTimeout(r, 300));
    expect(await metric(b0.metricsUrl, 'brook_controller_active')).toBe(0);
    await waitFor(async () => (await metric(b1.metricsUrl, 'brook_controller_active')) === 1, 'broker 1 to stay controller');
    const lease = expectSuccess(await k(['get', 'lease', 'brook-demo-controller', '-n', ns, '-o', 'jsonpath={.spec.holderIdentity}'])).stdout.toString();
    expect(lease).toBe('1');
  });
});
