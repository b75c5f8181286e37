/**
 * Rebalance benchmark (issue 12, "Measure"): 3 → 5 brokers with a topic of 30 partitions,
 * replication factor 2, under a light acks=all produce load, at a replication throttle; Brook
 * against Apache Kafka 4.1.1, one after the other, the same way on both:
 *
 *   npm run bench:rebalance -- [--partition-mib 20] [--throttle-mib 8] [--systems brook,kafka] [--out bench/results/rebalance.json]
 *                              [--brook-cpu-prof DIR] [--timeline FILE]
 *
 * Per system: 3 nodes start; topic `data` (30 partitions, RF 2) is filled with --partition-mib
 * MiB per partition on average (ProducerPerformance, 10 KiB records, acks=all); a latency probe
 * starts (kafkajs, acks=all, 1 KiB records, 4 sequential senders, on topic `probe`: 6 partitions,
 * RF 2, on the first 3 brokers); after 20 s two more nodes start; Brook's planner
 * (broker/placement, the operator's) plans 3 → 5 from the current assignment and the partitions'
 * sizes on disk; `kafka-reassign-partitions --execute --throttle` (the 4.1.1 jars) runs the plan,
 * and `--verify` is polled every 2 s until it reports every partition complete (it then clears the
 * throttles). Reported: time, bytes moved (the size of each moved partition times its replicas
 * added), the rate achieved against what the throttle allows (each broker may send and receive at
 * most the throttle: the bound is the busiest broker's bytes in or out over the throttle), and the
 * probe's p99 during the reassignment over its p99 in the 20 s before (and the same from when
 * `--execute` exited, leaving out the tool's JVM start, which competes with the brokers for the
 * machine's 2 cores; both systems are measured both ways).
 *
 * Brook: 5 `brook broker --store kubernetes` processes against a real kube-apiserver+etcd (envtest).
 * Kafka: 3 combined broker+controller nodes (static 3-voter quorum) plus 2 broker-only nodes,
 * -Xmx512M each. Everything on this machine (2 cores, shared).
 *
 * Diagnostics (Brook only): `--brook-cpu-prof DIR` runs the brokers under `node --cpu-prof`
 * (profiles written on their graceful stop; bench/cpu-profile-summary.ts reads them);
 * `--timeline FILE` writes every probe sample (time, latency, partition), the run's events
 * (partitions completing their move, with leaders) and the CPU used every second by each
 * broker, kube-apiserver, the bench and the machine, as JSON lines with times in seconds since
 * the start. Event-loop stalls are in the profiles (busy spans with no idle sample).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { freePort } from '../test/harness/ports.ts';
import { KAFKA_JVM_PERFORMANCE_OPTS } from './brokers.ts';
import { kafkaLibs, repoRoot, runTool, runToolOrThrow, toolClasses } from './kafka-tools.ts';
import { brookLauncher } from '../test/harness/paths.ts';
import { cpuSeconds, machineCpu } from './proc-stats.ts';
import { planRebalance, seededRandom } from '../broker/placement/index.ts';
import { kubectl, startApiServer, type ApiServer } from '../test/k8s/envtest.ts';

const { values: args } = parseArgs({
  options: {
    'partition-mib': { type: 'string', default: '20' },
    'throttle-mib': { type: 'string', default: '8' },
    systems: { type: 'string', default: 'brook,kafka' },
    out: { type: 'string', default: 'bench/results/rebalance.json' },
    'brook-cpu-prof': { type: 'string' },
    timeline: { type: 'string' },
  },
});
const PARTITION_MIB = Number(args['partition-mib']);
const THROTTLE = Math.round(Number(args['throttle-mib']) * 1024 * 1024);
const SYSTEMS = (args.systems ?? '').split(',').filter(Boolean) as Array<'brook' | 'kafka'>;
const HOST = '127.0.0.1';
const PARTITIONS = 30;
const RECORD = 10 * 1024;
const REASSIGN = 'org.apache.kafka.tools.reassign.ReassignPartitionsCommand';
const CPU_PROFILE_DIR = args['brook-cpu-prof'] === undefined ? undefined : resolve(args['brook-cpu-prof']);
const timeline = args.timeline === undefined ? null : createWriteStream(resolve(args.timeline));
/** One timeline line (--timeline): `at` in seconds since the bench started. */
const mark = (kind: string, fields: Record<string, unknown> = {}, at = performance.now()) =>
  timeline?.write(`${JSON.stringify({ at: Number(((at - t0) / 1000).toFixed(3)), kind, ...fields })}\n`);

const t0 = performance.now();
const log = (line: string) => process.stdout.write(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const children = new Set<ChildProcess>();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

interface Node { id: number; port: number; dataDir: string; start(): Promise<void>; child?: ChildProcess }
interface System { name: string; describe: string; nodes: Node[]; bootstrap(): string; stop(): Promise<void>; apiserverPid?: number }

function spawnNode(node: Node, command: string, argv: string[], logFile: string, ready: RegExp | null,
  env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const out = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(command, argv, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  node.child = child;
  return new Promise((resolveReady, reject) => {
    let isReady = ready === null;
    if (isReady) resolveReady();
    const onData = (d: Buffer) => { out.write(d); if (!isReady && ready!.test(d.toString())) { isReady = true; resolveReady(); } };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => { children.delete(child); out.end(); if (!isReady) reject(new Error(`node ${node.id} exited (${code ?? signal}); see ${logFile}`)); });
  });
}

async function stopNodes(nodes: Node[]): Promise<void> {
  await Promise.all(nodes.map(async (n) => {
    const c = n.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    if (!(await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]))) { c.kill('SIGKILL'); await exited; }
  }));
}

async function startBrook(work: string): Promise<System> {
  const api: ApiServer = await startApiServer();
  const ns = 'bench';
  for (const a of [['apply', '--server-side', '-f', join(repoRoot, 'crds')], ['create', 'namespace', ns], ['apply', '-n', ns, '-f', join(repoRoot, 'examples/cluster.yaml')]]) {
    const r = await kubectl(api, a);
    if (r.code !== 0) throw new Error(`kubectl ${a.join(' ')}: ${r.stderr.toString()}`);
  }
  const nodes: Node[] = [];
  for (let id = 0; id < 5; id++) {
    const dataDir = join(work, `node${id}`, 'data');
    mkdirSync(dataDir, { recursive: true });
    const brook = brookLauncher(CPU_PROFILE_DIR === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${CPU_PROFILE_DIR}`, `--cpu-prof-name=broker${id}.cpuprofile`]);
    if (CPU_PROFILE_DIR !== undefined) mkdirSync(CPU_PROFILE_DIR, { recursive: true });
    const node: Node = {
      id, port: await freePort(), dataDir,
      start: () => spawnNode(node, brook.command, ['broker', '--id', String(id),
        '--store', 'kubernetes', '--cluster', 'demo', '--namespace', ns, '--kubeconfig', api.kubeconfigPath, '--listen', `${HOST}:${node.port}`,
        '--data-dir', dataDir, '--metrics-port', 'none'], join(work, `node${id}.log`), /listening on/, brook.env),
    };
    nodes.push(node);
  }
  return {
    name: 'brook', nodes, apiserverPid: api.apiserverPid, bootstrap: () => nodes.filter((n) => n.child).map((n) => `${HOST}:${n.port}`).join(','),
    describe: `Brook: 5 \`brook broker --store kubernetes\` processes, kube-apiserver ${api.version}+etcd (envtest), defaults otherwise`,
    stop: async () => { await stopNodes(nodes); await api.stop(); },
  };
}

async function startKafka(work: string): Promise<System> {
  const ports = await Promise.all(Array.from({ length: 5 }, () => freePort()));
  const cports = await Promise.all(Array.from({ length: 3 }, () => freePort()));
  const voters = cports.map((p, i) => `${i}@${HOST}:${p}`).join(',');
  const clusterId = (await runToolOrThrow(toolClasses.storage, ['random-uuid'])).stdout.trim().split('\n').at(-1) ?? '';
  const nodes: Node[] = [];
  for (let id = 0; id < 5; id++) {
    const dir = join(work, `node${id}`);
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir, { recursive: true });
    const controller = id < 3;
    const props = join(dir, 'server.properties');
    writeFileSync(props, [
      `process.roles=${controller ? 'broker,controller' : 'broker'}`, `node.id=${id}`, `controller.quorum.voters=${voters}`,
      `listeners=PLAINTEXT://${HOST}:${ports[id]}${controller ? `,CONTROLLER://${HOST}:${cports[id]}` : ''}`,
      'inter.broker.listener.name=PLAINTEXT', `advertised.listeners=PLAINTEXT://${HOST}:${ports[id]}`, 'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT', `log.dirs=${dataDir}`,
      'offsets.topic.replication.factor=3', 'transaction.state.log.replication.factor=3', 'transaction.state.log.min.isr=2',
      'share.coordinator.state.topic.replication.factor=3', 'share.coordinator.state.topic.min.isr=2', 'group.initial.rebalance.delay.ms=0', '',
    ].join('\n'));
    await runToolOrThrow(toolClasses.storage, ['format', '--cluster-id', clusterId, '--config', props]);
    const node: Node = {
      id, port: ports[id]!, dataDir,
      start: () => spawnNode(node, 'java', ['-Xmx512M', '-Xms512M', ...KAFKA_JVM_PERFORMANCE_OPTS, `-Dkafka.logs.dir=${dir}`, '-cp', join(kafkaLibs(), '*'), 'kafka.Kafka', props],
        join(dir, 'broker.log'), null),
    };
    nodes.push(node);
  }
  return {
    name: 'kafka', nodes, bootstrap: () => nodes.filter((n) => n.child).map((n) => `${HOST}:${n.port}`).join(','),
    describe: 'Apache Kafka 4.1.1: 3 combined broker+controller nodes (static 3-voter quorum) + 2 broker-only nodes, -Xmx512M each, defaults otherwise',
    stop: () => stopNodes(nodes),
  };
}

function client(system: System): Kafka {
  return new Kafka({ clientId: 'bench-rebalance', brokers: system.bootstrap().split(','), logLevel: logLevel.NOTHING, connectionTimeout: 2000, requestTimeout: 30_000, retry: { retries: 100, initialRetryTime: 100, maxRetryTime: 1000 } });
}

async function waitBrokers(system: System, count: number): Promise<void> {
  const admin = client(system).admin();
  await admin.connect();
  try {
    for (const deadline = Date.now() + 180_000; ;) {
      if ((await admin.describeCluster().catch(() => ({ brokers: [] }))).brokers.length >= count) return;
      if (Date.now() > deadline) throw new Error(`${system.name}: fewer than ${count} brokers after 180 s`);
      await sleep(250);
    }
  } finally { await admin.disconnect(); }
}

/** Bytes of the log segments (`*.log`) of partition `topic-p` on a node's disk: what a new replica copies (Kafka preallocates its indexes, so they are left out). */
function partitionBytes(node: Node, topic: string, p: number): number {
  const dir = join(node.dataDir, `${topic}-${p}`);
  try { return readdirSync(dir).filter((f) => f.endsWith('.log')).reduce((s, f) => s + statSync(join(dir, f)).size, 0); } catch { return 0; }
}

function percentile(sorted: number[], q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** acks=all sends of 1 KiB records from 4 sequential senders; each sample is [time sent, latency ms]. */
function startProbe(system: System): { samples: Array<[number, number]>; stop(): Promise<void> } {
  const producer = client(system).producer({ allowAutoTopicCreation: false });
  const samples: Array<[number, number]> = [];
  let running = true;
  const value = Buffer.alloc(1024, 1);
  const loops = (async () => {
    await producer.connect();
    await Promise.all(Array.from({ length: 4 }, async (_, i) => {
      while (running) {
        const at = performance.now();
        try {
          await producer.send({ topic: 'probe', acks: -1, messages: [{ value, partition: i % 6 }] });
          samples.push([at, performance.now() - at]);
          mark('probe', { partition: i % 6, ms: Number((performance.now() - at).toFixed(1)) }, at);
        } catch { await sleep(100); }
        await sleep(20);
      }
    }));
    await producer.disconnect();
  })();
  return { samples, stop: async () => { running = false; await loops; } };
}

/**
 * --timeline: every second, the CPU (cores) used since the previous second by each broker, by
 * kube-apiserver, by this process with its children (brokers and Kafka tools included) and by the
 * whole machine, from /proc. Nothing is asked of the brokers (a /metrics scrape every second
 * costs them more than the move does).
 */
function startCpuSampler(system: System): () => void {
  if (!timeline || system.name !== 'brook') return () => undefined;
  const previous = new Map<string, number>();
  let lastAt = performance.now();
  let lastMachine = machineCpu();
  const cpuTimer = setInterval(() => {
    const now = performance.now();
    const seconds = (now - lastAt) / 1000;
    const share = (key: string, pid: number | undefined): number | undefined => {
      if (pid === undefined) return undefined;
      const cpu = cpuSeconds(pid);
      const before = previous.get(key);
      previous.set(key, cpu);
      return before === undefined ? undefined : Number(((cpu - before) / seconds).toFixed(2));
    };
    const fields: Record<string, number | undefined> = { bench: share('bench', process.pid), apiserver: share('apiserver', system.apiserverPid) };
    for (const n of system.nodes) if (n.child?.pid !== undefined) fields[`broker${n.id}`] = share(`broker${n.id}`, n.child.pid);
    const machine = machineCpu();
    fields.machineBusy = Number(((machine.busySeconds - lastMachine.busySeconds) / seconds).toFixed(2));
    lastMachine = machine;
    lastAt = now;
    mark('cpu', fields);
  }, 1000);
  return () => clearInterval(cpuTimer);
}

interface Result {
  system: string; describe: string; partitionMiB: number; throttleBytesPerSecond: number;
  partitionsMoved: number; replicasAdded: number; bytesMoved: number; seconds: number; boundSeconds: number; ofThrottle: number;
  p99BeforeMs: number; p99DuringMs: number; p99Ratio: number; probeSamplesBefore: number; probeSamplesDuring: number; loadAverage: number[];
  /** The same from when `--execute` exited: without the tool's own JVM start, which shares the machine's 2 cores with the brokers. */
  p99AfterSubmitMs: number; p99AfterSubmitRatio: number;
}

async function runSystem(name: 'brook' | 'kafka'): Promise<Result> {
  const work = mkdtempSync(join(tmpdir(), `brook-bench-rebalance-${name}-`));
  const system = name === 'brook' ? await startBrook(work) : await startKafka(work);
  try {
    await Promise.all(system.nodes.slice(0, 3).map((n) => n.start()));
    await waitBrokers(system, 3);
    log(`${name}: 3 brokers up`);
    const admin = client(system).admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: false, topics: [{ topic: 'data', numPartitions: PARTITIONS, replicationFactor: 2 }, { topic: 'probe', numPartitions: 6, replicationFactor: 2 }] });
    // (kafkajs's waitForLeaders can throw UNKNOWN_TOPIC_OR_PARTITION out of a timer against a busy Kafka: poll here instead)
    for (const deadline = Date.now() + 120_000; ;) {
      const md = await admin.fetchTopicMetadata({ topics: ['data', 'probe'] }).catch(() => undefined);
      if (md && md.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) break;
      if (Date.now() > deadline) throw new Error(`${name}: topics without leaders after 120 s`);
      await sleep(250);
    }
    const records = Math.round((PARTITIONS * PARTITION_MIB * 1024 * 1024) / RECORD);
    const fillStart = performance.now();
    await runToolOrThrow(toolClasses.producerPerf, ['--topic', 'data', '--num-records', String(records), '--record-size', String(RECORD), '--throughput', '-1',
      '--producer-props', `bootstrap.servers=${system.bootstrap()}`, 'acks=all', 'linger.ms=20', 'batch.size=262144', 'partitioner.ignore.keys=true', 'partitioner.adaptive.partitioning.enable=false'], undefined, 1_800_000);
    log(`${name}: ${(records * RECORD / 2 ** 20).toFixed(0)} MiB produced (RF 2) in ${((performance.now() - fillStart) / 1000).toFixed(1)} s`);

    const stopCpuSampler = startCpuSampler(system);
    const probe = startProbe(system);
    // the monotonic clock at this mark (µs), which V8's .cpuprofile timestamps use, to line the profiles up with the timeline
    mark('clock', { monotonicUs: Number(process.hrtime.bigint() / 1000n) });
    mark('probe-start', { partitions: (await admin.fetchTopicMetadata({ topics: ['probe'] })).topics[0]!.partitions.map((p) => ({ partition: p.partitionId, leader: p.leader, replicas: p.replicas })) });
    await sleep(20_000);
    const beforeEnd = performance.now();
    mark('brokers-starting');
    await Promise.all(system.nodes.slice(3).map((n) => n.start()));
    await waitBrokers(system, 5);
    log(`${name}: brokers 3 and 4 up`);

    // Brook's planner over the current assignment, with the sizes on disk.
    const md = await admin.fetchTopicMetadata({ topics: ['data'] });
    await admin.disconnect();
    const current = md.topics[0]!.partitions.map((p) => {
      const sizes = p.replicas.map((r) => partitionBytes(system.nodes[r]!, 'data', p.partitionId));
      return { topic: 'data', partition: p.partitionId, replicas: p.replicas, leader: p.leader, isr: p.isr, sizeBytes: BigInt(Math.max(...sizes)) };
    }).sort((a, b) => a.partition - b.partition);
    const plan = planRebalance({ brokers: [0, 1, 2, 3, 4].map((id) => ({ id, rack: null })), partitions: current, random: seededRandom(12), throttleBytesPerSecond: THROTTLE });
    const byPartition = new Map(current.map((p) => [p.partition, p]));
    const into = new Map<number, number>();
    const outOf = new Map<number, number>();
    let bytesMoved = 0;
    for (const m of plan.moves) {
      const cur = byPartition.get(m.partition)!;
      const size = Number(cur.sizeBytes);
      for (const r of m.targetReplicas.filter((x) => !cur.replicas.includes(x))) {
        bytesMoved += size;
        into.set(r, (into.get(r) ?? 0) + size);
        outOf.set(cur.leader, (outOf.get(cur.leader) ?? 0) + size);
      }
    }
    const boundSeconds = Math.max(...[...into.values(), ...outOf.values()]) / THROTTLE;
    const file = join(work, 'reassignment.json');
    writeFileSync(file, JSON.stringify({ version: 1, partitions: plan.moves.map((m) => ({ topic: m.topic, partition: m.partition, replicas: m.targetReplicas })) }));
    log(`${name}: plan moves ${plan.moves.length} partitions, ${plan.totals.replicasMoved} replicas, ${(bytesMoved / 2 ** 20).toFixed(1)} MiB; throttle bound ${boundSeconds.toFixed(1)} s`);

    const started = performance.now();
    mark('reassign-execute');
    await runToolOrThrow(REASSIGN, ['--bootstrap-server', system.bootstrap(), '--execute', '--reassignment-json-file', file, '--throttle', String(THROTTLE)]);
    mark('reassign-executed');
    const submitted = performance.now();
    const finished = new Set<number>();
    // Done when the metadata shows every moved partition with exactly its target replicas (polled
    // every 500 ms: a --verify is a JVM start, seconds on a loaded machine); then --verify, which
    // must agree, and clears the throttles.
    const target = new Map(plan.moves.map((m) => [m.partition, m.targetReplicas.join()]));
    const watcher = client(system).admin();
    await watcher.connect();
    for (;;) {
      const now = await watcher.fetchTopicMetadata({ topics: ['data'] }).catch(() => undefined);
      for (const p of now?.topics[0]!.partitions ?? []) {
        if (target.has(p.partitionId) && !finished.has(p.partitionId) && p.replicas.join() === target.get(p.partitionId)) {
          finished.add(p.partitionId);
          mark('partition-moved', { partition: p.partitionId, leader: p.leader, replicas: p.replicas });
        }
      }
      if (now && now.topics[0]!.partitions.every((p) => !target.has(p.partitionId) || p.replicas.join() === target.get(p.partitionId))) break;
      if (performance.now() - started > 3_600_000) throw new Error(`${name}: reassignment not complete after 1 h`);
      await sleep(500);
    }
    const seconds = (performance.now() - started) / 1000;
    const doneAt = performance.now();
    mark('reassign-done');
    await watcher.disconnect();
    for (let attempt = 0; ; attempt++) {
      const r = await runTool(REASSIGN, ['--bootstrap-server', system.bootstrap(), '--verify', '--reassignment-json-file', file]);
      if (r.code === 0 && !/in progress|failed/i.test(r.stdout) && /complete/i.test(r.stdout)) break;
      if (attempt >= 30) throw new Error(`${name}: --verify does not report completion:\n${r.stdout}\n${r.stderr}`);
      await sleep(1_000);
    }
    await probe.stop();
    stopCpuSampler();
    const before = probe.samples.filter(([at]) => at < beforeEnd).map(([, ms]) => ms).sort((a, b) => a - b);
    const during = probe.samples.filter(([at]) => at >= started && at < doneAt).map(([, ms]) => ms).sort((a, b) => a - b);
    const afterSubmit = probe.samples.filter(([at]) => at >= submitted && at < doneAt).map(([, ms]) => ms).sort((a, b) => a - b);
    const result: Result = {
      system: name, describe: system.describe, partitionMiB: PARTITION_MIB, throttleBytesPerSecond: THROTTLE,
      partitionsMoved: plan.moves.length, replicasAdded: plan.totals.replicasMoved, bytesMoved, seconds, boundSeconds, ofThrottle: boundSeconds / seconds,
      p99BeforeMs: percentile(before, 0.99), p99DuringMs: percentile(during, 0.99), p99Ratio: percentile(during, 0.99) / percentile(before, 0.99),
      probeSamplesBefore: before.length, probeSamplesDuring: during.length, loadAverage: loadavg(),
      p99AfterSubmitMs: percentile(afterSubmit, 0.99), p99AfterSubmitRatio: percentile(afterSubmit, 0.99) / percentile(before, 0.99),
    };
    log(`${name}: reassigned in ${seconds.toFixed(1)} s (${(bytesMoved / 2 ** 20 / seconds).toFixed(1)} MiB/s; ${(100 * result.ofThrottle).toFixed(0)} % of what the throttle allows); `
      + `probe p99 ${result.p99BeforeMs.toFixed(1)} ms before, ${result.p99DuringMs.toFixed(1)} ms during (×${result.p99Ratio.toFixed(2)}; `
      + `${result.p99AfterSubmitMs.toFixed(1)} ms, ×${result.p99AfterSubmitRatio.toFixed(2)}, from --execute's exit); load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    return result;
  } finally {
    await system.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

const results: Result[] = [];
const out = resolve(repoRoot, args.out!);
mkdirSync(dirname(out), { recursive: true });
for (const s of SYSTEMS) {
  results.push(await runSystem(s));
  writeFileSync(out, `${JSON.stringify({ at: new Date().toISOString(), partitions: PARTITIONS, replicationFactor: 2, results }, null, 2)}\n`);
}
const brook = results.find((r) => r.system === 'brook');
const kafka = results.find((r) => r.system === 'kafka');
for (const r of results) {
  process.stdout.write(`${r.system.padEnd(6)} ${r.partitionsMoved} partitions, ${(r.bytesMoved / 2 ** 20).toFixed(1)} MiB in ${r.seconds.toFixed(1)} s at a ${(r.throttleBytesPerSecond / 2 ** 20).toFixed(1)} MiB/s throttle: `
    + `${(100 * r.ofThrottle).toFixed(0)} % of the throttle bound (${r.boundSeconds.toFixed(1)} s); produce p99 ${r.p99BeforeMs.toFixed(1)} → ${r.p99DuringMs.toFixed(1)} ms (×${r.p99Ratio.toFixed(2)}; `
    + `from --execute's exit ${r.p99AfterSubmitMs.toFixed(1)} ms, ×${r.p99AfterSubmitRatio.toFixed(2)})\n`);
}
if (brook && kafka) {
  process.stdout.write(`Brook/Kafka: time ×${(brook.seconds / kafka.seconds).toFixed(2)}, p99 during ×${(brook.p99DuringMs / kafka.p99DuringMs).toFixed(2)}, p99 ratio ${brook.p99Ratio.toFixed(2)} vs ${kafka.p99Ratio.toFixed(2)}\n`);
}
process.stdout.write(`written to ${out}\n`);
process.exit(0);
