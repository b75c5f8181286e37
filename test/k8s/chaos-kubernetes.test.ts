/**
 * Chaos across processes on the Kubernetes store: three broker processes (RF 3, min ISR 2),
 * idempotent acks=all producers writing throughout — kafkajs, and the Apache Kafka Java client
 * (test/java/KeyedProducer, one record per request) — and a checker that, 20 times, takes
 * down the leader of a partition — SIGKILL and a restart on the same data, or SIGSTOP long
 * enough for a new leader to be elected and then SIGCONT (the old leader must step down and
 * follow). At the end kcat reads every partition: each acknowledged record is there exactly
 * once, in acknowledgement order, and nothing appears twice.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { repoRoot } from '../harness/paths.ts';
import { describeRun, expectSuccess, javaProgram, requireKcat, run } from '../harness/tools.ts';
import { freePort, kubectl } from './envtest.ts';
import { useApiServer } from './jest.ts';
import { partitionStates, startBrokerProcess, waitFor, type BrokerNode } from './broker-processes.ts';

const api = useApiServer();
const ns = 'chaos';
const KILLS = 20;
const PARTITIONS = 3;

interface Node extends BrokerNode { port: number }
const nodes: Node[] = [];
const start = (node: Node) => startBrokerProcess(node, { namespace: ns, kubeconfig: api().kubeconfigPath, listen: `127.0.0.1:${node.port}` });

async function kill9(node: Node): Promise<void> {
  const child = node.child!;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  node.child = null;
}

/** Partition state as the Topic resource's status has it. */
const chaosStates = () => partitionStates(api(), ns, 'chaos');

beforeAll(async () => {
  requireKcat();
  expectSuccess(await kubectl(api(), ['apply', '--server-side', '-f', join(repoRoot, 'crds')]));
  expectSuccess(await kubectl(api(), ['create', 'namespace', ns]));
  expectSuccess(await kubectl(api(), ['apply', '-n', ns, '-f', join(repoRoot, 'examples/cluster.yaml')]));
  for (let id = 0; id < 3; id++) nodes.push({ id, port: await freePort(), dataDir: mkdtempSync(join(tmpdir(), `brook-chaos-${id}-`)), child: null, log: '' });
  await Promise.all(nodes.map(start));
}, 120_000);

afterAll(() => {
  for (const n of nodes) {
    n.child?.kill('SIGCONT');
    n.child?.kill('SIGKILL');
    rmSync(n.dataDir, { recursive: true, force: true });
  }
});

test(`${KILLS} leader kills and pauses across processes lose no acknowledged record and duplicate nothing`, async () => {
  const bootstrap = nodes.map((n) => `127.0.0.1:${n.port}`);
  const kafka = new Kafka({ brokers: bootstrap, logLevel: logLevel.NOTHING, retry: { retries: 100, initialRetryTime: 100, maxRetryTime: 1000 } });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: ['chaos', 'chaos-java'].map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] })) });
  await admin.disconnect();
  await waitFor(async () => (await chaosStates()).every((p) => p.isr.length === 3) && (await chaosStates()).length === PARTITIONS, 'the topic placed and in sync');

  // The Java client retries through every failover within its delivery timeout; it prints
  // "i partition offset" for each acknowledged record once all are acknowledged.
  const JAVA_RECORDS = 6000;
  const javaRun = javaProgram('KeyedProducer', [bootstrap.join(','), 'chaos-java', String(JAVA_RECORDS),
    'batch.size=1', 'linger.ms=0', 'max.in.flight.requests.per.connection=1', 'delivery.timeout.ms=300000', 'request.timeout.ms=10000'], { timeoutMs: 540_000 });

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const acked = Array.from({ length: PARTITIONS }, () => [] as string[]);
  let producing = true;
  let failed = 0;
  const load = (async () => {
    for (let i = 0; producing; i++) {
      const partition = i % PARTITIONS;
      const value = `p${partition}-${i}`;
      try {
        await producer.send({ topic: 'chaos', acks: -1, timeout: 10_000, messages: [{ value, partition }] });
        acked[partition]!.push(value);
      } catch {
        failed++;
      }
    }
  })();

  for (let round = 0; round < KILLS; round++) {
    const p = round % PARTITIONS;
    const states = await chaosStates();
    const victim = nodes[states[p]!.leader]!;
    const before = acked.flat().length;
    if (round % 2 === 0) {
      await kill9(victim);
      await waitFor(async () => { const s = (await chaosStates())[p]!; return s.leader >= 0 && s.leader !== victim.id; }, `failover of partition ${p} after SIGKILL`);
      await start(victim);
    } else {
      victim.child!.kill('SIGSTOP');
      try {
        await waitFor(async () => { const s = (await chaosStates())[p]!; return s.leader >= 0 && s.leader !== victim.id; }, `failover of partition ${p} after SIGSTOP`);
      } finally {
        victim.child!.kill('SIGCONT');
      }
    }
    await waitFor(async () => (await chaosStates()).every((s) => s.isr.length === 3), `every ISR whole again (round ${round})`, 60_000);
    await waitFor(() => acked.flat().length >= before + 10, 'progress after the failover');
  }
  producing = false;
  await load;
  await producer.disconnect();
  const java = await javaRun;
  if (java.code !== 0) throw new Error(`the Java producer failed:\n${describeRun(java)}`);
  const javaAcks = java.stdout.toString().trim().split('\n').map((l) => l.split(' ').map(Number) as [number, number, number]);
  expect(javaAcks).toHaveLength(JAVA_RECORDS);
  for (let p = 0; p < PARTITIONS; p++) {
    const read = await run('kcat', ['-b', bootstrap.join(','), '-C', '-t', 'chaos-java', '-p', String(p), '-o', 'beginning', '-e', '-f', '%o %s\\n'], { timeoutMs: 60_000 });
    expectSuccess(read);
    const byOffset = new Map(read.stdout.toString().split('\n').filter((l) => l !== '').map((l) => [Number(l.split(' ')[0]), l.split(' ')[1]!]));
    const values = [...byOffset.values()];
    expect(new Set(values).size).toBe(values.length);
    // every acknowledged record is at the offset the broker acknowledged it with
    for (const [i, partition, offset] of javaAcks) if (partition === p) expect(byOffset.get(offset)).toBe(`value-${i}`);
  }

  for (let p = 0; p < PARTITIONS; p++) {
    const read = await run('kcat', ['-b', bootstrap.join(','), '-C', '-t', 'chaos', '-p', String(p), '-o', 'beginning', '-e', '-f', '%s\\n'], { timeoutMs: 60_000 });
    expectSuccess(read);
    const values = read.stdout.toString().split('\n').filter((v) => v !== '');
    expect(new Set(values).size).toBe(values.length);
    const ackedSet = new Set(acked[p]);
    expect(values.filter((v) => ackedSet.has(v))).toEqual(acked[p]);
  }
  process.stderr.write(`chaos (processes, Kubernetes store): kafkajs ${acked.flat().length} records acknowledged (${failed} sends failed), Java ${JAVA_RECORDS} acknowledged, across ${KILLS} kills/pauses\n`);
}, 600_000);
