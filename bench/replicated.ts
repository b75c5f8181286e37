/**
 * Replicated benchmark (issue 5, "Measure"): 3 brokers, RF 3, min.insync.replicas=2, Brook on
 * the Kubernetes store against a 3-node Apache Kafka KRaft cluster (test/tools/kafka/pom.xml's version), one after the other.
 *
 *   node bench/replicated.ts [--records 300000] [--e2e-messages 3000] [--catchup-mib 300]
 *                            [--systems brook,kafka] [--out bench/results/replicated.json]
 *                            [--steps produce,e2e,failover,catch-up[,many]]
 *                            [--many-partitions 1000] [--many-records 1000000] [--metadata-requests 50]
 *                            [--kafka-heap 512M] [--many-idle-s 30] [--brook-set KEY=VALUE ...]
 *
 * Per system: ProducerPerformance acks=all (idempotence on) on an 8-partition topic, 1 KiB
 * records, max throughput, counting ISR shrinks of that topic meanwhile; EndToEndLatency (acks=all, 1 KiB) on a 1-partition topic; failover:
 * an idempotent kafkajs producer sends acks=all to partition 0 of a 1-partition topic in a loop,
 * the leader of that partition is SIGKILLed, and the time from the kill to the first successful
 * acks=all produce sent after it is taken; catch-up: one broker is stopped (SIGTERM),
 * --catchup-mib MiB are produced (acks=all), it is restarted on the same data and the time from
 * the restart until it is back in the ISR of every partition of that topic gives MiB/s.
 *
 * Step `many` (not run by default: issue 16's "RF 3 on three" variant of bench/partitions.ts):
 * one topic of --many-partitions partitions, RF 3, min.insync.replicas=2 (5,000 partitions per
 * create/alter, as bench/partitions.ts, for Kafka's 10,000-records-per-operation limit): time
 * until every partition is led with 3 in sync; RSS of the three brokers then, and RSS and open
 * fds after --many-idle-s seconds idle (both systems; sampled every 5 s);
 * Metadata latency of the topic; ProducerPerformance acks=all (idempotent) over all of its
 * partitions with the three brokers' CPU per GiB and each one's peak RSS; then recovery: one
 * broker SIGKILLed, once it is out of every ISR started again on its data, and the times until it
 * answers Metadata with the whole topic and until it is back in every ISR.
 *
 * Kafka: 3 combined broker+controller nodes, static 3-voter quorum (controller.quorum.voters),
 * -Xmx512M each (--kafka-heap; Kafka's own default is 1G), defaults otherwise. Brook: 3 `brook broker --store kubernetes` processes against
 * a real kube-apiserver+etcd (test/k8s/envtest.ts), defaults otherwise (broker.session.timeout.ms
 * 4000).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { freePort } from '../test/harness/ports.ts';
import { KAFKA_JVM_PERFORMANCE_OPTS } from './brokers.ts';
import { metadataLatency } from './metadata-latency.ts';
import { cpuSeconds, openFds, rssBytes, RssSampler } from './proc-stats.ts';
import { kafkaLibs, kafkaVersion, parseProducerSummary, repoRoot, runTool, runToolOrThrow, tail, toolClasses, type ProducerSummary } from './kafka-tools.ts';
import { brookLauncher } from '../test/harness/paths.ts';
import { kubectl, startApiServer, type ApiServer } from '../test/k8s/envtest.ts';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '300000' },
    'e2e-messages': { type: 'string', default: '3000' },
    'catchup-mib': { type: 'string', default: '300' },
    systems: { type: 'string', default: 'brook,kafka' },
    out: { type: 'string', default: 'bench/results/replicated.json' },
    steps: { type: 'string', default: 'produce,e2e,failover,catch-up' },
    'many-partitions': { type: 'string', default: '1000' },
    'many-records': { type: 'string', default: '1000000' },
    'metadata-requests': { type: 'string', default: '50' },
    'kafka-heap': { type: 'string', default: '512M' },
    'many-idle-s': { type: 'string', default: '30' },
    /** Passed to every Brook broker as --set KEY=VALUE (e.g. brook.fetch.sendfile=false for an A/B). */
    'brook-set': { type: 'string', multiple: true, default: [] },
  },
});
const BROOK_SETTINGS = (args['brook-set'] ?? []).flatMap((kv) => ['--set', kv]);
const STEPS = new Set((args.steps ?? '').split(',').filter((s) => s !== ''));
const RECORDS = Number(args.records);
const E2E_MESSAGES = Number(args['e2e-messages']);
const CATCHUP_MIB = Number(args['catchup-mib']);
const MANY_PARTITIONS = Number(args['many-partitions']);
const MANY_RECORDS = Number(args['many-records']);
const METADATA_REQUESTS = Number(args['metadata-requests']);
const KAFKA_HEAP = args['kafka-heap'];
const MANY_IDLE_S = Number(args['many-idle-s']);
if (!/^\d+[KMG]$/.test(KAFKA_HEAP)) throw new Error(`--kafka-heap: a JVM heap size such as 512M or 1G, not ${KAFKA_HEAP}`);
/** Partitions per create/alter of the `many` topic (Kafka's controller takes at most 10,000 records per operation). */
const CREATE_STEP = 5_000;
const SYSTEMS = (args.systems ?? '').split(',').filter((s) => s !== '') as SystemName[];
const HOST = '127.0.0.1';
const RECORD_SIZE = 1024;

type SystemName = 'brook' | 'kafka';
const t0Bench = performance.now();
function log(line: string): void {
  process.stdout.write(`[${((performance.now() - t0Bench) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- processes

/** Every broker process still running, SIGKILLed if the benchmark exits or is interrupted. */
const children = new Set<ChildProcess>();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

type Node = {
  id: number;
  port: number;
  child: ChildProcess | null;
  exited: Promise<void> | null;
  recent: string[];
  start(): Promise<void>;
};

function spawnNode(node: Node, command: string, argv: string[], logFile: string, readyLine: RegExp | null,
  env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const out = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(command, argv, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  node.child = child;
  node.exited = new Promise((r) => child.once('exit', () => r()));
  return new Promise((resolveReady, reject) => {
    let ready = readyLine === null;
    if (ready) resolveReady();
    const onData = (d: Buffer) => {
      const text = d.toString();
      out.write(text);
      node.recent.push(text);
      if (node.recent.length > 50) node.recent.shift();
      if (!ready && readyLine !== null && readyLine.test(text)) {
        ready = true;
        resolveReady();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      out.end();
      if (!ready) reject(new Error(`node ${node.id} exited (${code ?? signal}):\n${node.recent.join('').slice(-4000)}`));
    });
  });
}

async function signalNode(node: Node, signal: NodeJS.Signals, graceMs = 60_000): Promise<void> {
  if (node.child === null) return;
  const exited = node.exited!;
  node.child.kill(signal);
  const done = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!done) {
    node.child.kill('SIGKILL');
    await exited;
  }
  node.child = null;
}

type System = {
  name: SystemName;
  nodes: Node[];
  bootstrap: string;
  describe: string;
  stop(): Promise<void>;
};

// ---------------------------------------------------------------- Kafka

async function startKafkaCluster(): Promise<System> {
  const work = mkdtempSync(join(tmpdir(), 'brook-bench-kraft3-'));
  const ports = [await freePort(), await freePort(), await freePort()];
  const cports = [await freePort(), await freePort(), await freePort()];
  const voters = cports.map((p, i) => `${i}@${HOST}:${p}`).join(',');
  const uuid = await runToolOrThrow(toolClasses.storage, ['random-uuid']);
  const clusterId = uuid.stdout.trim().split('\n').at(-1) ?? '';
  const nodes: Node[] = [];
  const brook = brookLauncher();
  for (let id = 0; id < 3; id++) {
    const dir = join(work, `node${id}`);
    mkdirSync(join(dir, 'data'), { recursive: true });
    const props = join(dir, 'server.properties');
    writeFileSync(props, [
      'process.roles=broker,controller',
      `node.id=${id}`,
      `controller.quorum.voters=${voters}`,
      `listeners=PLAINTEXT://${HOST}:${ports[id]},CONTROLLER://${HOST}:${cports[id]}`,
      'inter.broker.listener.name=PLAINTEXT',
      `advertised.listeners=PLAINTEXT://${HOST}:${ports[id]}`,
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      'num.network.threads=3',
      'num.io.threads=8',
      `log.dirs=${join(dir, 'data')}`,
      'offsets.topic.replication.factor=3',
      'transaction.state.log.replication.factor=3',
      'transaction.state.log.min.isr=2',
      'share.coordinator.state.topic.replication.factor=3',
      'share.coordinator.state.topic.min.isr=2',
      'group.initial.rebalance.delay.ms=0',
      '',
    ].join('\n'));
    await runToolOrThrow(toolClasses.storage, ['format', '--cluster-id', clusterId, '--config', props]);
    const node: Node = {
      id, port: ports[id], child: null, exited: null, recent: [],
      start: () => spawnNode(node, 'java', [`-Xmx${KAFKA_HEAP}`, `-Xms${KAFKA_HEAP}`, ...KAFKA_JVM_PERFORMANCE_OPTS,
        `-Dkafka.logs.dir=${dir}`, '-cp', join(kafkaLibs(), '*'), 'kafka.Kafka', props], join(dir, 'broker.log'),
        null), // no log4j binding in the jars: readiness comes from Metadata (waitBrokers)
    };
    nodes.push(node);
  }
  await Promise.all(nodes.map((n) => n.start()));
  const system: System = {
    name: 'kafka', nodes, bootstrap: ports.map((p) => `${HOST}:${p}`).join(','),
    describe: `Apache Kafka ${kafkaVersion()}, 3 combined broker+controller nodes, static 3-voter quorum, -Xmx${KAFKA_HEAP} -Xms${KAFKA_HEAP} each, defaults otherwise`,
    stop: async () => {
      await Promise.all(nodes.map((n) => signalNode(n, 'SIGTERM', 10_000))); // teardown: data is deleted next
      rmSync(work, { recursive: true, force: true });
    },
  };
  await waitBrokers(system, 3);
  return system;
}

// ---------------------------------------------------------------- Brook

async function startBrookCluster(): Promise<System> {
  const api: ApiServer = await startApiServer();
  const ns = 'bench';
  const ok = async (a: string[]) => {
    const r = await kubectl(api, a);
    if (r.code !== 0) throw new Error(`kubectl ${a.join(' ')}: ${r.stderr.toString()}`);
  };
  await ok(['apply', '--server-side', '-f', join(repoRoot, 'crds')]);
  await ok(['create', 'namespace', ns]);
  await ok(['apply', '-n', ns, '-f', join(repoRoot, 'examples/cluster.yaml')]);
  const work = mkdtempSync(join(tmpdir(), 'brook-bench-repl-'));
  const nodes: Node[] = [];
  const brook = brookLauncher();
  for (let id = 0; id < 3; id++) {
    const dir = join(work, `node${id}`);
    mkdirSync(join(dir, 'data'), { recursive: true });
    const port = await freePort();
    const node: Node = {
      id, port, child: null, exited: null, recent: [],
      start: () => spawnNode(node, brook.command, ['broker',
        '--id', String(id), '--store', 'kubernetes', '--cluster', 'demo', '--namespace', ns,
        '--kubeconfig', api.kubeconfigPath, '--listen', `${HOST}:${port}`, '--data-dir', join(dir, 'data'),
        '--metrics-port', 'none', '--set', 'group.initial.rebalance.delay.ms=0', ...BROOK_SETTINGS], join(dir, 'broker.log'), /listening on/, brook.env),
    };
    nodes.push(node);
  }
  await Promise.all(nodes.map((n) => n.start()));
  const system: System = {
    name: 'brook', nodes, bootstrap: nodes.map((n) => `${HOST}:${n.port}`).join(','),
    describe: `Brook, 3 \`brook broker --store kubernetes\` processes, kube-apiserver ${api.version}+etcd (envtest), defaults otherwise`,
    stop: async () => {
      await Promise.all(nodes.map((n) => signalNode(n, 'SIGTERM', 10_000))); // teardown: data is deleted next
      rmSync(work, { recursive: true, force: true });
      await api.stop();
    },
  };
  await waitBrokers(system, 3);
  return system;
}

// ---------------------------------------------------------------- helpers

function kafkaClient(system: System): Kafka {
  return new Kafka({
    clientId: 'brook-bench-replicated', brokers: system.bootstrap.split(','), logLevel: logLevel.NOTHING,
    connectionTimeout: 1000, requestTimeout: 5000,
    retry: { retries: 1000, initialRetryTime: 50, maxRetryTime: 250 },
  });
}

async function waitBrokers(system: System, count: number): Promise<void> {
  const admin = kafkaClient(system).admin();
  await admin.connect();
  const deadline = Date.now() + 120_000;
  try {
    for (;;) {
      try {
        if ((await admin.describeCluster()).brokers.length >= count) return;
      } catch { /* not yet */ }
      if (Date.now() > deadline) throw new Error(`${system.name}: fewer than ${count} brokers after 120 s`);
      await sleep(200);
    }
  } finally {
    await admin.disconnect();
  }
}

type PartitionState = { partitionId: number; leader: number; isr: number[]; replicas: number[] };

async function partitions(system: System, topic: string): Promise<PartitionState[]> {
  const admin = kafkaClient(system).admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    return (md.topics[0]?.partitions ?? []) as PartitionState[];
  } catch {
    return [];
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function waitIsr(system: System, topic: string, pred: (p: PartitionState) => boolean, what: string,
  timeoutMs = 600_000, pollMs = 100): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const ps = await partitions(system, topic);
    if (ps.length > 0 && ps.every(pred)) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`${system.name}: timed out waiting for ${what}: ${JSON.stringify(ps)}`);
    await sleep(pollMs);
  }
}

/**
 * Counts ISR shrinks of `topic` while `during` runs, by polling Metadata every 250 ms (the same
 * way for both systems): a replica that was in a partition's ISR at one poll and is not at the
 * next counts as one shrink.
 */
async function countIsrShrinks<T>(system: System, topic: string, during: () => Promise<T>): Promise<{ result: T; shrinks: number }> {
  let shrinks = 0;
  let watching = true;
  const last = new Map<number, number[]>();
  const watcher = (async () => {
    while (watching) {
      for (const p of await partitions(system, topic)) {
        const before = last.get(p.partitionId);
        if (before) shrinks += before.filter((r) => !p.isr.includes(r)).length;
        last.set(p.partitionId, p.isr);
      }
      await sleep(250);
    }
  })();
  try {
    return { result: await during(), shrinks };
  } finally {
    watching = false;
    await watcher;
  }
}

async function createTopic(system: System, topic: string, partitionCount: number): Promise<void> {
  await runToolOrThrow(toolClasses.topics, ['--bootstrap-server', system.bootstrap, '--create', '--topic', topic,
    '--partitions', String(partitionCount), '--replication-factor', '3', '--config', 'min.insync.replicas=2']);
  await waitIsr(system, topic, (p) => p.leader >= 0 && p.isr.length === 3, `${topic} in sync`, 120_000);
}

async function producerPerf(system: System, topic: string, records: number): Promise<ProducerSummary> {
  const run = await runToolOrThrow(toolClasses.producerPerf, ['--topic', topic, '--num-records', String(records),
    '--record-size', String(RECORD_SIZE), '--throughput', '-1', '--producer-props', `bootstrap.servers=${system.bootstrap}`,
    'acks=all', 'enable.idempotence=true'], undefined, 900_000);
  return parseProducerSummary(run.stdout);
}

type E2E = { avgMs: number; p50Ms: number; p99Ms: number; p999Ms: number };

async function endToEnd(system: System, topic: string): Promise<E2E> {
  const run = await runTool('org.apache.kafka.tools.EndToEndLatency', [system.bootstrap, topic, String(E2E_MESSAGES), 'all', String(RECORD_SIZE)]);
  const text = `${run.stdout}\n${run.stderr}`;
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? Number.NaN);
  const r = {
    avgMs: num(/Avg latency: ([\d.]+)/), p50Ms: num(/50th = ([\d.]+)/), p99Ms: num(/99th = ([\d.]+)/), p999Ms: num(/99\.9th = ([\d.]+)/),
  };
  if (run.code !== 0 || Number.isNaN(r.p99Ms)) throw new Error(`EndToEndLatency failed (${run.code}):\n${tail(text)}`);
  return r;
}

type Failover = { victim: number; wasController: string; ms: number; firstAckAnyMs: number; failedSends: number };

async function failover(system: System, topic: string): Promise<Failover> {
  const kafka = kafkaClient(system);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: 1000, initialRetryTime: 50, maxRetryTime: 250 } });
  await producer.connect();
  const acks: Array<{ start: number; end: number }> = [];
  let failed = 0;
  let producing = true;
  const loop = (async () => {
    for (let i = 0; producing; i++) {
      const start = performance.now();
      try {
        await producer.send({ topic, acks: -1, timeout: 5000, messages: [{ partition: 0, value: `v${i}` }] });
        acks.push({ start, end: performance.now() });
      } catch {
        failed++;
      }
    }
  })();
  while (acks.length < 200) await sleep(20);
  const victim = (await partitions(system, topic))[0]!.leader;
  let wasController = 'n/a';
  if (system.name === 'kafka') {
    const admin = kafka.admin();
    await admin.connect();
    wasController = String((await admin.describeCluster()).controller === victim);
    await admin.disconnect();
  }
  const node = system.nodes[victim]!;
  const tKill = performance.now();
  await signalNode(node, 'SIGKILL');
  const deadline = tKill + 120_000;
  while (!acks.some((a) => a.start >= tKill) && performance.now() < deadline) await sleep(5);
  producing = false;
  await loop;
  await producer.disconnect();
  const after = acks.find((a) => a.start >= tKill);
  const any = acks.find((a) => a.end > tKill);
  await node.start();
  await waitIsr(system, topic, (p) => p.isr.length === 3, 'failover topic back in sync');
  return { victim, wasController, ms: after === undefined ? Number.NaN : after.end - tKill, firstAckAnyMs: any === undefined ? Number.NaN : any.end - tKill, failedSends: failed };
}

type CatchUp = {
  node: number; mib: number; produce: ProducerSummary; restartToIsrMs: number; mibPerSec: number; readyMs: number;
  /** CPU seconds from the restart to back in every ISR: the two leaders, and the restarted broker. */
  leadersCpuSeconds: number; followerCpuSeconds: number; cpuSecondsPerGiB: number;
};

async function catchUp(system: System, topic: string): Promise<CatchUp> {
  const ps = await partitions(system, topic);
  // a broker that is not the leader of partition 0 (it still leads others of the 8)
  const victim = [0, 1, 2].find((id) => id !== ps[0]!.leader)!;
  const node = system.nodes[victim]!;
  await signalNode(node, 'SIGTERM');
  await waitIsr(system, topic, (p) => !p.isr.includes(victim), 'stopped broker out of every ISR', 120_000);
  const records = Math.round((CATCHUP_MIB * 1024 * 1024) / RECORD_SIZE);
  const produce = await producerPerf(system, topic, records);
  log(`[${system.name}] produced ${CATCHUP_MIB} MiB with broker ${victim} down: ${produce.mibPerSec} MiB/s`);
  const others = system.nodes.filter((n) => n !== node && n.child?.pid !== undefined);
  const othersCpu = () => others.reduce((sum, n) => sum + cpuSeconds(n.child!.pid!), 0);
  const cpuBefore = othersCpu();
  const t0 = performance.now();
  await node.start();
  const readyMs = performance.now() - t0;
  await waitIsr(system, topic, (p) => p.isr.includes(victim), 'restarted broker back in every ISR', 900_000, 100);
  const ms = performance.now() - t0;
  // CPU of every broker process from the restart to back in the ISR: the leaders serving the
  // fetches, and the restarted follower (all of its life, start-up included)
  const leadersCpuSeconds = othersCpu() - cpuBefore;
  const followerCpuSeconds = node.child?.pid !== undefined ? cpuSeconds(node.child.pid) : Number.NaN;
  return {
    node: victim, mib: CATCHUP_MIB, produce, restartToIsrMs: ms, mibPerSec: CATCHUP_MIB / (ms / 1000), readyMs,
    leadersCpuSeconds, followerCpuSeconds, cpuSecondsPerGiB: (leadersCpuSeconds + followerCpuSeconds) / (CATCHUP_MIB / 1024),
  };
}

type Many = {
  partitions: number;
  /** create (and alters) started -> every partition led with 3 replicas in sync (ms) */
  createToInSyncMs: number;
  /** summed over the three brokers, the moment every partition is in sync */
  inSyncRssMiB: number;
  /** summed over the three brokers after --many-idle-s seconds with no client requests */
  idleRssMiB: number; idleFds: number;
  metadataMedianMs: number; metadataP99Ms: number;
  produce: ProducerSummary;
  /** the three brokers' CPU seconds during the produce run, per GiB produced */
  produceCpuSecondsPerGiB: number;
  /** each broker's peak RSS during the produce run, summed (an upper bound of their simultaneous peak) */
  producePeakRssMiB: number; loadedFds: number;
  /** recovery of one broker SIGKILLed after the produce run and started again once out of every ISR */
  victim: number; restartToAnswerMs: number; restartToIsrMs: number;
};

/** Polls `broker` (host:port) with Metadata until it answers with all `partitions` of `topic`. */
async function untilListed(broker: string, topic: string, partitions: number, timeoutMs: number): Promise<void> {
  const t0 = performance.now();
  let last = 'no answer';
  for (;;) {
    try {
      const listed = (await metadataLatency(broker, topic, 1)).partitions;
      if (listed === partitions) return;
      last = `${listed} partitions listed`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (performance.now() - t0 > timeoutMs) throw new Error(`${broker}: Metadata of ${topic} without its ${partitions} partitions after ${timeoutMs} ms (${last})`);
    await sleep(50);
  }
}

const live = (system: System) => system.nodes.filter((n) => n.child?.pid !== undefined).map((n) => n.child!.pid!);

async function manyPartitions(system: System, topic: string): Promise<Many> {
  const n = MANY_PARTITIONS;
  const t0 = performance.now();
  let made = Math.min(n, CREATE_STEP);
  await runToolOrThrow(toolClasses.topics, ['--bootstrap-server', system.bootstrap, '--create', '--topic', topic,
    '--partitions', String(made), '--replication-factor', '3', '--config', 'min.insync.replicas=2'], undefined, 900_000);
  while (made < n) {
    made = Math.min(n, made + CREATE_STEP);
    await runToolOrThrow(toolClasses.topics, ['--bootstrap-server', system.bootstrap, '--alter', '--topic', topic, '--partitions', String(made)], undefined, 900_000);
  }
  await waitIsr(system, topic, (p) => p.leader >= 0 && p.isr.length === 3, `${topic}: ${n} partitions led, 3 in sync`, 1_800_000, 500);
  const createToInSyncMs = performance.now() - t0;
  const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
  const rssNow = () => mib(live(system).reduce((sum, pid) => sum + rssBytes(pid), 0));
  const inSyncRssMiB = rssNow();
  log(`[${system.name}] ${n} partitions RF 3 in sync after ${(createToInSyncMs / 1000).toFixed(1)} s; RSS ${inSyncRssMiB} MiB (3 brokers); idle for ${MANY_IDLE_S} s`);
  const idleSeries: number[] = [];
  for (let waited = 0; waited < MANY_IDLE_S; waited += 5) {
    await sleep(Math.min(5, MANY_IDLE_S - waited) * 1000);
    idleSeries.push(rssNow());
  }
  const idleRssMiB = idleSeries.at(-1) ?? inSyncRssMiB;
  const idleFds = live(system).reduce((sum, pid) => sum + openFds(pid), 0);
  log(`[${system.name}] idle RSS every 5 s: ${idleSeries.join(', ')} MiB; ${idleFds} fds (3 brokers)`);
  // the timed broker (the first of the bootstrap list) may learn of the last partitions after the one kafkajs asked
  await untilListed(system.bootstrap.split(',')[0]!, topic, n, 120_000);
  const md = await metadataLatency(system.bootstrap, topic, METADATA_REQUESTS);
  if (md.partitions !== n) throw new Error(`Metadata listed ${md.partitions} partitions of ${topic}, not ${n}`);
  log(`[${system.name}] Metadata of the topic: median ${md.medianMs.toFixed(2)} ms, p99 ${md.p99Ms.toFixed(2)} ms`);

  const samplers = live(system).map((pid) => new RssSampler(pid, 200));
  const cpu = () => live(system).reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  const cpu0 = cpu();
  const produce = await producerPerf(system, topic, MANY_RECORDS);
  const produceCpuSecondsPerGiB = (cpu() - cpu0) / ((MANY_RECORDS * RECORD_SIZE) / 1024 ** 3);
  const producePeakRssMiB = mib(samplers.reduce((sum, s) => sum + s.stop().peakRssBytes, 0));
  const loadedFds = live(system).reduce((sum, pid) => sum + openFds(pid), 0);
  log(`[${system.name}] produce acks=all over ${n} partitions: ${produce.mibPerSec} MiB/s, p99 ${produce.p99Ms} ms, ` +
    `${produceCpuSecondsPerGiB.toFixed(2)} CPU s/GiB, peak RSS ${producePeakRssMiB} MiB, ${loadedFds} fds`);

  const victim = 2;
  const node = system.nodes[victim]!;
  await signalNode(node, 'SIGKILL');
  await waitIsr(system, topic, (p) => !p.isr.includes(victim), `broker ${victim} out of every ISR`, 300_000, 500);
  log(`[${system.name}] broker ${victim} SIGKILLed and out of every ISR; starting it again on its data`);
  const t1 = performance.now();
  await node.start();
  await untilListed(`${HOST}:${node.port}`, topic, n, 1_800_000);
  const restartToAnswerMs = performance.now() - t1;
  await waitIsr(system, topic, (p) => p.isr.includes(victim), `broker ${victim} back in every ISR`, 1_800_000, 200);
  const restartToIsrMs = performance.now() - t1;
  log(`[${system.name}] recovery after SIGKILL: answering after ${(restartToAnswerMs / 1000).toFixed(1)} s, back in every ISR after ${(restartToIsrMs / 1000).toFixed(1)} s`);
  return {
    partitions: n, createToInSyncMs, inSyncRssMiB, idleRssMiB, idleFds, metadataMedianMs: md.medianMs, metadataP99Ms: md.p99Ms,
    produce, produceCpuSecondsPerGiB, producePeakRssMiB, loadedFds, victim, restartToAnswerMs, restartToIsrMs,
  };
}

// ---------------------------------------------------------------- main

type Result = {
  describe?: string;
  produce?: ProducerSummary;
  /** ISR shrinks of the produce topic seen during the produce run (target 0). */
  isrShrinks?: number;
  e2e?: E2E;
  failover?: Failover;
  catchUp?: CatchUp;
  many?: Many;
  errors: string[];
};

async function benchSystem(name: SystemName): Promise<Result> {
  const result: Result = { errors: [] };
  log(`== ${name}: starting 3 brokers`);
  let system: System;
  try {
    system = name === 'kafka' ? await startKafkaCluster() : await startBrookCluster();
  } catch (err) {
    result.errors.push(`start: ${(err as Error).message}`);
    log(`[${name}] ${result.errors.at(-1)}`);
    return result;
  }
  result.describe = system.describe;
  log(`[${name}] up: ${system.bootstrap}`);
  const step = async (what: string, f: () => Promise<void>) => {
    if (what !== 'topics' && !STEPS.has(what)) return;
    try {
      await f();
    } catch (err) {
      result.errors.push(`${what}: ${(err as Error).message}`);
      log(`[${name}] ${what} FAILED: ${(err as Error).message.slice(0, 2000)}`);
    }
  };
  try {
    await step('topics', async () => {
      await createTopic(system, 'perf', 8);
      await createTopic(system, 'e2e', 1);
      await createTopic(system, 'failover', 1);
      await createTopic(system, 'catchup', 8);
    });
    await step('produce', async () => {
      const run = await countIsrShrinks(system, 'perf', () => producerPerf(system, 'perf', RECORDS));
      result.produce = run.result;
      result.isrShrinks = run.shrinks;
      log(`[${name}] produce acks=all: ${result.produce.mibPerSec} MiB/s, p99 ${result.produce.p99Ms} ms, ISR shrinks ${run.shrinks}`);
    });
    await step('e2e', async () => {
      result.e2e = await endToEnd(system, 'e2e');
      log(`[${name}] end-to-end: p50 ${result.e2e.p50Ms} ms, p99 ${result.e2e.p99Ms} ms`);
    });
    await step('failover', async () => {
      result.failover = await failover(system, 'failover');
      log(`[${name}] failover: ${result.failover.ms.toFixed(0)} ms (victim ${result.failover.victim}, controller: ${result.failover.wasController})`);
    });
    await step('catch-up', async () => {
      result.catchUp = await catchUp(system, 'catchup');
      const c = result.catchUp;
      log(`[${name}] catch-up: ${c.mib} MiB in ${c.restartToIsrMs.toFixed(0)} ms = ${c.mibPerSec.toFixed(1)} MiB/s; CPU s: leaders ${c.leadersCpuSeconds.toFixed(1)}, restarted broker ${c.followerCpuSeconds.toFixed(1)} (${c.cpuSecondsPerGiB.toFixed(2)} s/GiB)`);
    });
    await step('many', async () => {
      result.many = await manyPartitions(system, 'many');
    });
  } finally {
    await system.stop();
    log(`[${name}] stopped`);
  }
  return result;
}

function fmt(n: number | undefined, digits = 1): string {
  return n === undefined || Number.isNaN(n) ? '–' : n.toFixed(digits);
}
function ratio(b: number | undefined, k: number | undefined): string {
  return b === undefined || k === undefined || Number.isNaN(b) || Number.isNaN(k) || k === 0 ? '–' : `${(b / k).toFixed(2)}x`;
}

const results: Partial<Record<SystemName, Result>> = {};
for (const name of SYSTEMS) results[name] = await benchSystem(name);
const k = results.kafka;
const b = results.brook;
const rows: string[][] = [
  ['what', `Kafka ${kafkaVersion()}`, 'Brook', 'Brook/Kafka', 'target'],
  [`produce acks=all, ${RECORDS} x 1 KiB, 8 partitions (MiB/s)`, fmt(k?.produce?.mibPerSec), fmt(b?.produce?.mibPerSec), ratio(b?.produce?.mibPerSec, k?.produce?.mibPerSec), '>= 1.0x'],
  ['produce acks=all p99 (ms)', fmt(k?.produce?.p99Ms, 0), fmt(b?.produce?.p99Ms, 0), ratio(b?.produce?.p99Ms, k?.produce?.p99Ms), '<= 1.0x'],
  ['ISR shrinks during the produce run (Metadata polled every 250 ms)', fmt(k?.isrShrinks, 0), fmt(b?.isrShrinks, 0), '–', 'Brook 0'],
  [`end-to-end latency p99, ${E2E_MESSAGES} x 1 KiB acks=all (ms)`, fmt(k?.e2e?.p99Ms, 2), fmt(b?.e2e?.p99Ms, 2), ratio(b?.e2e?.p99Ms, k?.e2e?.p99Ms), 'report'],
  ['end-to-end latency p50 (ms)', fmt(k?.e2e?.p50Ms, 2), fmt(b?.e2e?.p50Ms, 2), ratio(b?.e2e?.p50Ms, k?.e2e?.p50Ms), 'report'],
  ['failover: SIGKILL of leader -> first acks=all produce sent after it acknowledged (s)', fmt((k?.failover?.ms ?? Number.NaN) / 1000, 2), fmt((b?.failover?.ms ?? Number.NaN) / 1000, 2), ratio(b?.failover?.ms, k?.failover?.ms), 'Brook <= 5 s'],
  [`catch-up: follower restarted ${CATCHUP_MIB} MiB behind, restart -> in every ISR (MiB/s)`, fmt(k?.catchUp?.mibPerSec), fmt(b?.catchUp?.mibPerSec), ratio(b?.catchUp?.mibPerSec, k?.catchUp?.mibPerSec), 'report'],
  ['catch-up: restart -> in every ISR (s)', fmt((k?.catchUp?.restartToIsrMs ?? Number.NaN) / 1000, 2), fmt((b?.catchUp?.restartToIsrMs ?? Number.NaN) / 1000, 2), ratio(b?.catchUp?.restartToIsrMs, k?.catchUp?.restartToIsrMs), 'report'],
];
if (STEPS.has('many')) {
  const km = k?.many;
  const bm = b?.many;
  const s = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);
  rows.push(
    [`many: ${MANY_PARTITIONS} partitions RF 3, create -> all led with 3 in sync (s)`, fmt(s(km?.createToInSyncMs)), fmt(s(bm?.createToInSyncMs)), ratio(bm?.createToInSyncMs, km?.createToInSyncMs), 'report'],
    ['many: RSS when all in sync, 3 brokers (MiB)', fmt(km?.inSyncRssMiB, 0), fmt(bm?.inSyncRssMiB, 0), ratio(bm?.inSyncRssMiB, km?.inSyncRssMiB), 'report'],
    [`many: idle RSS ${MANY_IDLE_S} s later, 3 brokers (MiB)`, fmt(km?.idleRssMiB, 0), fmt(bm?.idleRssMiB, 0), ratio(bm?.idleRssMiB, km?.idleRssMiB), '<= 0.5x'],
    ['many: idle open fds, 3 brokers', fmt(km?.idleFds, 0), fmt(bm?.idleFds, 0), ratio(bm?.idleFds, km?.idleFds), 'report'],
    ['many: Metadata of the topic, median (ms)', fmt(km?.metadataMedianMs, 2), fmt(bm?.metadataMedianMs, 2), ratio(bm?.metadataMedianMs, km?.metadataMedianMs), 'report'],
    ['many: Metadata of the topic, p99 (ms)', fmt(km?.metadataP99Ms, 2), fmt(bm?.metadataP99Ms, 2), ratio(bm?.metadataP99Ms, km?.metadataP99Ms), 'report'],
    [`many: produce acks=all, ${MANY_RECORDS} x 1 KiB over all partitions (MiB/s)`, fmt(km?.produce.mibPerSec), fmt(bm?.produce.mibPerSec), ratio(bm?.produce.mibPerSec, km?.produce.mibPerSec), '>= 1.0x'],
    ['many: produce p99 (ms)', fmt(km?.produce.p99Ms, 0), fmt(bm?.produce.p99Ms, 0), ratio(bm?.produce.p99Ms, km?.produce.p99Ms), 'report'],
    ['many: broker CPU per GiB produced, 3 brokers (s)', fmt(km?.produceCpuSecondsPerGiB, 2), fmt(bm?.produceCpuSecondsPerGiB, 2), ratio(bm?.produceCpuSecondsPerGiB, km?.produceCpuSecondsPerGiB), 'report'],
    ['many: peak RSS under load, sum of the 3 brokers\' peaks (MiB)', fmt(km?.producePeakRssMiB, 0), fmt(bm?.producePeakRssMiB, 0), ratio(bm?.producePeakRssMiB, km?.producePeakRssMiB), '<= 0.5x'],
    ['many: open fds after load, 3 brokers', fmt(km?.loadedFds, 0), fmt(bm?.loadedFds, 0), ratio(bm?.loadedFds, km?.loadedFds), 'report'],
    ['many: SIGKILLed broker restarted -> answers Metadata with the whole topic (s)', fmt(s(km?.restartToAnswerMs), 2), fmt(s(bm?.restartToAnswerMs), 2), ratio(bm?.restartToAnswerMs, km?.restartToAnswerMs), '<= 1.0x'],
    ['many: SIGKILLed broker restarted -> back in every ISR (s)', fmt(s(km?.restartToIsrMs), 2), fmt(s(bm?.restartToIsrMs), 2), ratio(bm?.restartToIsrMs, km?.restartToIsrMs), '<= 1.0x'],
  );
}
const table = rows.map((r, i) => `| ${r.join(' | ')} |${i === 0 ? '\n|---|--:|--:|--:|---|' : ''}`).join('\n');
process.stdout.write(`\n${table}\n\n`);
for (const [name, r] of Object.entries(results)) for (const e of r.errors) process.stdout.write(`${name}: ${e.slice(0, 3000)}\n`);
const out = resolve(repoRoot, args.out ?? 'bench/results/replicated.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({ generatedAt: new Date().toISOString(), command: ['node bench/replicated.ts', ...process.argv.slice(2)].join(' '), settings: { RECORDS, E2E_MESSAGES, CATCHUP_MIB, RECORD_SIZE, MANY_PARTITIONS, MANY_RECORDS, MANY_IDLE_S, METADATA_REQUESTS, KAFKA_HEAP, brookSettings: args["brook-set"] }, table, results }, null, 2)}\n`);
log(`results written to ${out}`);
process.exit(Object.values(results).some((r) => r.errors.length > 0) ? 1 : 0);
