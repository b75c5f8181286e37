/**
 * Creating many topics through the Kafka admin API: Brook on the Kubernetes store (a real
 * kube-apiserver + etcd from the test harness) vs Apache Kafka (KRaft) on this machine, one after
 * the other. Reports the wall time for N topics (kafkajs createTopics, batches of 100, not waiting
 * for leaders in metadata) and, for
 * Brook, the API server requests per topic (apiserver_request_total on topics, before vs after:
 * the writes, POST/PUT/PATCH, and all requests, reads and watches included), and the CPU seconds
 * (utime + stime from /proc) the broker, kube-apiserver and Kafka spent while the topics were
 * created: steadier than wall time on a machine other jobs load.
 *
 *   npm run bench:topics [-- --topics 1000] [--systems brook,kafka] [--wait-s S] [--brook-cpu-prof DIR]
 *
 * --brook-cpu-prof DIR runs the Brook broker under `node --cpu-prof` (profile written to DIR on
 * exit; `node bench/cpu-profile-summary.ts DIR/*.cpuprofile`). The broker's pid is printed so
 * that `strace -c -f -p PID` can be attached during the run. --apiserver-pprof FILE writes a
 * 10 s CPU profile of kube-apiserver taken while the topics are created (`go tool pprof -top FILE`).
 *
 * Both systems' data directories are removed at the very end, not between the two runs. The
 * disks here are ext4 without a journal, whose inode allocator avoids reusing inodes deleted in
 * the last minute (up to five while their inode table block is not yet written back), and scans
 * past them (`recently_deleted` in a kernel profile): creating a file soon after many deletions
 * cost up to ~1 ms of kernel CPU, against ~0.1 ms otherwise, so a run right after a removal pays for it.
 * `--wait-s S` (default 0) waits S seconds once each system has started, before its topics are
 * created: that also lets kube-apiserver and the broker finish their start-up work.
 */
import { spawn } from 'node:child_process';
import https from 'node:https';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { brookLauncher } from '../test/harness/paths.ts';
import { startApiServer, kubectl } from '../test/k8s/envtest.ts';
import { KAFKA_HEAP_OPTS, startKafka } from './brokers.ts';
import { cpuSeconds } from './proc-stats.ts';

const { values } = parseArgs({ options: { topics: { type: 'string' }, systems: { type: 'string' }, 'brook-cpu-prof': { type: 'string' }, 'apiserver-pprof': { type: 'string' }, 'wait-s': { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  process.stdout.write(`Usage: npm run bench:topics -- [--topics N] [--systems brook,kafka] [--wait-s S] [--brook-cpu-prof DIR] [--apiserver-pprof FILE]

Creates N topics (default 1000; 1 partition, RF 1) through the Kafka admin API in batches of 100,
on Brook with the Kubernetes store (a real kube-apiserver + etcd) and then on Apache Kafka (KRaft),
and prints the wall time of each, Brook's API server requests per topic, and the CPU seconds the
broker, kube-apiserver and Kafka spent. --wait-s waits S seconds with each system started first;
--brook-cpu-prof writes a CPU profile of the Brook broker; --apiserver-pprof a 10 s pprof of
kube-apiserver taken during the creation. See the top of bench/topics.ts.
`);
  process.exit(0);
}
const N = Number(values.topics ?? 1000);
const systems = new Set((values.systems ?? 'brook,kafka').split(','));
const cpuProfDir = values['brook-cpu-prof'];
const apiserverPprof = values['apiserver-pprof'];
const BATCH = 100;
const waitS = Number(values['wait-s'] ?? 0);
/** Data directories, removed once both systems have run (see the top). */
const removeAtEnd: string[] = [];
const root = join(import.meta.dirname, '..');

async function createTopics(bootstrap: string, prefix: string): Promise<number> {
  const admin = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING, requestTimeout: 120_000 }).admin();
  await admin.connect();
  const t0 = performance.now();
  for (let i = 0; i < N; i += BATCH) {
    const topics = Array.from({ length: Math.min(BATCH, N - i) }, (_, j) => ({ topic: `${prefix}-${i + j}`, numPartitions: 1, replicationFactor: 1 }));
    const b0 = performance.now();
    await admin.createTopics({ topics, timeout: 120_000, waitForLeaders: false });
    process.stderr.write(`[topics] ${prefix}: ${i + topics.length}/${N} (last request ${(performance.now() - b0).toFixed(0)} ms)\r`);
  }
  const ms = performance.now() - t0;
  process.stderr.write('\n');
  await admin.disconnect();
  return ms;
}

/** GET `path` of the API server with the admin token: the body. */
function apiGet(server: string, token: string, caData: string, path: string): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    https.get(`${server}${path}`, { headers: { authorization: `Bearer ${token}` }, ca: caData }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`GET ${path}: HTTP ${res.statusCode}`)));
    }).on('error', reject);
  });
}

async function topicRequests(server: string, token: string, caData: string): Promise<{ writes: number; all: number }> {
  // the admin token may read the API server's own metrics
  const text = (await apiGet(server, token, caData, '/metrics')).toString('utf8');
  let writes = 0;
  let all = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{') || !line.includes('resource="topics"')) continue;
    const n = Number(line.slice(line.lastIndexOf(' ') + 1));
    all += n;
    if (/verb="(POST|PUT|PATCH)"/.test(line)) writes += n;
  }
  return { writes, all };
}

// ---- Brook on the Kubernetes store
async function benchBrook(): Promise<{ ms: number; writesPerTopic: number; requestsPerTopic: number; brokerCpuS: number; apiserverCpuS: number }> {
  process.stderr.write('[topics] starting kube-apiserver + etcd\n');
  const api = await startApiServer();
  const dataDir = mkdtempSync(join(tmpdir(), 'brook-bench-topics-'));
  try {
    const k = (args: string[]) => kubectl(api, args);
    await k(['apply', '--server-side', '-f', join(root, 'crds')]);
    await k(['apply', '-n', 'default', '-f', join(root, 'examples/cluster.yaml')]);
    const launcher = brookLauncher(cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : []);
    const broker = spawn(launcher.command, ['broker', '--store', 'kubernetes', '--cluster', 'demo',
      '--namespace', 'default', '--kubeconfig', api.kubeconfigPath, '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--metrics-port', 'none'],
    { env: launcher.env, stdio: ['ignore', 'pipe', 'inherit'] });
    const bootstrap = await new Promise<string>((resolve, reject) => {
      broker.stdout!.on('data', (d: Buffer) => { const m = /listening on (\S+)/.exec(d.toString()); if (m) resolve(m[1]!); });
      broker.on('exit', (code) => reject(new Error(`broker exited ${code}`)));
    });
    process.stderr.write(`[topics] brook broker pid ${broker.pid}\n`);
    try {
      await settle({ broker: broker.pid!, 'kube-apiserver': api.apiserverPid });
      const before = await topicRequests(api.server, api.token, api.caData);
      const cpu0 = cpuSeconds(broker.pid!);
      const apiCpu0 = cpuSeconds(api.apiserverPid);
      const pprof = apiserverPprof ? apiGet(api.server, api.token, api.caData, '/debug/pprof/profile?seconds=10') : null;
      const ms = await createTopics(bootstrap, 'brook');
      if (pprof && apiserverPprof) {
        writeFileSync(apiserverPprof, await pprof);
        process.stderr.write(`[topics] kube-apiserver CPU profile written to ${apiserverPprof}\n`);
      }
      const brokerCpuS = cpuSeconds(broker.pid!) - cpu0;
      const apiserverCpuS = cpuSeconds(api.apiserverPid) - apiCpu0;
      const after = await topicRequests(api.server, api.token, api.caData);
      return { ms, writesPerTopic: (after.writes - before.writes) / N, requestsPerTopic: (after.all - before.all) / N, brokerCpuS, apiserverCpuS };
    } finally {
      broker.kill('SIGTERM');
      await new Promise((r) => broker.once('exit', r));
    }
  } finally {
    await api.stop();
    removeAtEnd.push(dataDir);
  }
}

/** Waits --wait-s with the system started, printing the CPU seconds its processes used meanwhile. */
async function settle(pids: Record<string, number>): Promise<void> {
  if (waitS <= 0) return;
  process.stderr.write(`[topics] waiting ${waitS} s (--wait-s)\n`);
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]));
  await new Promise((r) => setTimeout(r, waitS * 1000));
  const used = Object.entries(pids).map(([name, pid]) => `${name} ${(cpuSeconds(pid) - before[name]!).toFixed(2)} s`);
  process.stderr.write(`[topics] CPU while waiting: ${used.join(', ')}\n`);
}

const brook = systems.has('brook') ? await benchBrook() : null;

// ---- Apache Kafka
let kafkaMs = 0;
let kafkaCpuS = 0;
if (systems.has('kafka')) {
  process.stderr.write('[topics] starting Kafka\n');
  const kafka = await startKafka({ heapOpts: KAFKA_HEAP_OPTS });
  try {
    await settle({ kafka: kafka.pid });
    const cpu0 = cpuSeconds(kafka.pid);
    kafkaMs = await createTopics(kafka.bootstrap, 'kafka');
    kafkaCpuS = cpuSeconds(kafka.pid) - cpu0;
  } finally {
    await kafka.stop();
    removeAtEnd.push(kafka.workDir);
  }
}
for (const dir of removeAtEnd) rmSync(dir, { recursive: true, force: true });

process.stdout.write(`create ${N} topics (1 partition, RF 1) through the Kafka admin API, batches of ${BATCH}:\n`);
if (brook) process.stdout.write(`  Brook on the Kubernetes store: ${(brook.ms / 1000).toFixed(1)} s (${(N / (brook.ms / 1000)).toFixed(0)} topics/s), ${brook.writesPerTopic.toFixed(2)} API server writes per topic, ${brook.requestsPerTopic.toFixed(2)} requests of any verb; CPU: broker ${brook.brokerCpuS.toFixed(2)} s, kube-apiserver ${brook.apiserverCpuS.toFixed(2)} s\n`);
if (kafkaMs > 0) process.stdout.write(`  Apache Kafka (KRaft):          ${(kafkaMs / 1000).toFixed(1)} s (${(N / (kafkaMs / 1000)).toFixed(0)} topics/s); CPU: ${kafkaCpuS.toFixed(2)} s\n`);
if (brook && kafkaMs > 0) process.stdout.write(`  Brook/Kafka: ${(brook.ms / kafkaMs).toFixed(2)}x\n`);
process.exit(0);
