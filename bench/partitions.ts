/**
 * Many partitions on one broker: Apache Kafka (KRaft, one combined node) and one Brook broker,
 * one after the other on this machine, each with one topic of N partitions (replication factor 1)
 * for every N of --partitions. Per broker and N:
 *
 *   - topic creation (TopicCommand; above 5,000 partitions, 5,000 at a time: --create, then
 *     --alter --partitions, since Kafka's controller refuses more than 10,000 records in one
 *     operation) and the time until every partition has a leader in Metadata;
 *   - RSS and open file descriptors idle after creation, after the produce load, after recovery;
 *   - Metadata latency: --metadata-requests Metadata v12 requests for the topic, one at a time on
 *     one connection (median and p99);
 *   - produce throughput spread over all partitions: ProducerPerformance, acks=1, 1 KiB records,
 *     producer defaults (the sticky partitioner moves to another partition every batch), with
 *     the broker's CPU seconds per GiB;
 *   - recovery after SIGKILL: the topic filled to --recovery-gib GiB in all, the broker killed
 *     (SIGKILL) and started again on the same data; times until it answers (ApiVersions and
 *     Metadata) and until every partition answers ListOffsets with the log end it had before the
 *     kill (nothing lost, every partition served).
 *
 * Prints Brook/Kafka ratios against the targets of issue 16 (RSS <= 0.5x, recovery <= 1.0x,
 * throughput >= 1.0x at 10,000 partitions) and writes every number to --out.
 *
 *   npm run bench:partitions [-- --partitions 1000,10000 --records 1000000 --recovery-gib 10]
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { KAFKA_HEAP_OPTS, removeWorkDir, startBrook, startKafka, type BrokerName, type RunningBroker } from './brokers.ts';
import { parseProducerSummary, repoRoot, runToolOrThrow, toolClasses } from './kafka-tools.ts';
import { metadataLatency } from './metadata-latency.ts';
import { cpuSeconds, openFds, rssBytes, RssSampler } from './proc-stats.ts';

const HELP = `Usage: npm run bench:partitions -- [flags]

  --brokers LIST            brokers to run, in order (default: kafka,brook)
  --partitions LIST         partition counts, one topic each (default: 1000,10000)
  --records N               records of the measured produce run (default: 1000000)
  --record-size BYTES       record size (default: 1024)
  --metadata-requests N     Metadata requests timed per broker and count (default: 50)
  --recovery-gib G          fill the topic to G GiB, SIGKILL, restart, time recovery (default: 10; 0 skips)
  --out FILE                results JSON (default: bench/results/partitions.json; "-" = none)
  --keep-logs               keep each broker's work dir (logs; the data is always removed)
`;

const { values } = parseArgs({
  options: {
    brokers: { type: 'string', default: 'kafka,brook' },
    partitions: { type: 'string', default: '1000,10000' },
    records: { type: 'string', default: '1000000' },
    'record-size': { type: 'string', default: '1024' },
    'metadata-requests': { type: 'string', default: '50' },
    'recovery-gib': { type: 'string', default: '10' },
    out: { type: 'string', default: join(repoRoot, 'bench/results/partitions.json') },
    'keep-logs': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

const brokers = values.brokers.split(',').map((b) => b.trim()) as BrokerName[];
for (const b of brokers) if (b !== 'kafka' && b !== 'brook') throw new Error(`--brokers: unknown broker ${b}`);
const counts = values.partitions.split(',').map(Number);
if (counts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--partitions: not a list of positive integers: ${values.partitions}`);
const records = Number(values.records);
const recordSize = Number(values['record-size']);
const metadataRequests = Number(values['metadata-requests']);
const recoveryGiB = Number(values['recovery-gib']);
const GIB = 1024 ** 3;
const TOPIC = 'bench-partitions';
/** Partitions per create/alter step (see measure()). */
const CREATE_STEP = 5_000;

function log(line: string): void { process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`); }

async function withAdmin<T>(bootstrap: string, body: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING, requestTimeout: 120_000, retry: { retries: 0 } }).admin();
  await admin.connect();
  try {
    return await body(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Polls `probe` until it returns a value (errors count as "not yet"); the elapsed ms and the value. */
async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  let last = '';
  while (performance.now() - t0 < timeoutMs) {
    try {
      const v = await probe();
      if (v !== undefined) return { ms: performance.now() - t0, value: v };
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what}: not after ${timeoutMs} ms (${last})`);
}

/** Every partition's log end offset, or undefined while some partition answers an error. */
async function logEnds(bootstrap: string, partitions: number): Promise<Map<number, string> | undefined> {
  return withAdmin(bootstrap, async (admin) => {
    const offsets = await admin.fetchTopicOffsets(TOPIC);
    if (offsets.length !== partitions) return undefined;
    return new Map(offsets.map((o) => [o.partition, o.offset]));
  });
}

async function produce(broker: RunningBroker, n: number): Promise<{ recordsPerSec: number; mibPerSec: number; p99Ms: number; cpuSecondsPerGiB: number; peakRssBytes: number }> {
  const sampler = new RssSampler(broker.pid, 200);
  const cpu0 = cpuSeconds(broker.pid);
  const run = await runToolOrThrow(toolClasses.producerPerf, [
    '--topic', TOPIC, '--num-records', String(n), '--record-size', String(recordSize), '--throughput', '-1',
    '--producer-props', `bootstrap.servers=${broker.bootstrap}`, 'acks=1',
  ], undefined, 1_800_000);
  const cpu = cpuSeconds(broker.pid) - cpu0;
  const { peakRssBytes } = sampler.stop();
  const s = parseProducerSummary(run.stdout);
  return { recordsPerSec: s.recordsPerSec, mibPerSec: s.mibPerSec, p99Ms: s.p99Ms, cpuSecondsPerGiB: cpu / ((n * recordSize) / GIB), peakRssBytes };
}

type Result = Record<string, number | string>;

async function measure(name: BrokerName, partitions: number): Promise<Result> {
  const r: Result = { broker: name, partitions };
  log(`== ${name}, ${partitions} partitions: starting`);
  let broker = name === 'kafka' ? await startKafka({ heapOpts: KAFKA_HEAP_OPTS }) : await startBrook({ settings: [] });
  try {
    r.startupEmptyMs = Math.round(broker.startupMs);
    const t0 = performance.now();
    // Kafka's controller refuses an operation of more than 10,000 records ("Unable to perform
    // excessively large batch operation"): a topic of more partitions is created, on both brokers
    // alike, with CREATE_STEP partitions and grown by CREATE_STEP at a time (CreatePartitions).
    let made = Math.min(partitions, CREATE_STEP);
    await runToolOrThrow(toolClasses.topics, ['--bootstrap-server', broker.bootstrap, '--create', '--topic', TOPIC,
      '--partitions', String(made), '--replication-factor', '1'], undefined, 600_000);
    while (made < partitions) {
      made = Math.min(partitions, made + CREATE_STEP);
      await runToolOrThrow(toolClasses.topics, ['--bootstrap-server', broker.bootstrap, '--alter', '--topic', TOPIC,
        '--partitions', String(made)], undefined, 600_000);
    }
    r.topicCreateMs = Math.round(performance.now() - t0);
    const led = await until('every partition led', 600_000, () => withAdmin(broker.bootstrap, async (admin) => {
      const md = await admin.fetchTopicMetadata({ topics: [TOPIC] });
      const ps = md.topics[0]?.partitions ?? [];
      return ps.length === partitions && ps.every((p) => p.leader >= 0) ? true : undefined;
    }));
    r.allLedMs = Math.round(r.topicCreateMs + led.ms);
    r.idleRssMiB = Math.round(rssBytes(broker.pid) / 2 ** 20);
    r.idleFds = openFds(broker.pid);
    log(`[${name}] topic of ${partitions} created in ${r.topicCreateMs} ms, all led at ${r.allLedMs} ms; idle RSS ${r.idleRssMiB} MiB, ${r.idleFds} fds`);

    const md = await metadataLatency(broker.bootstrap, TOPIC, metadataRequests);
    r.metadataMedianMs = Number(md.medianMs.toFixed(2));
    r.metadataP99Ms = Number(md.p99Ms.toFixed(2));
    log(`[${name}] Metadata of the topic: median ${r.metadataMedianMs} ms, p99 ${r.metadataP99Ms} ms (${md.partitions} partitions listed)`);

    const p = await produce(broker, records);
    Object.assign(r, { produceRecordsPerSec: Math.round(p.recordsPerSec), produceMiBPerSec: p.mibPerSec, produceP99Ms: p.p99Ms,
      produceCpuSecondsPerGiB: Number(p.cpuSecondsPerGiB.toFixed(2)), producePeakRssMiB: Math.round(p.peakRssBytes / 2 ** 20) });
    r.loadedFds = openFds(broker.pid);
    log(`[${name}] produce: ${r.produceRecordsPerSec} rec/s (${p.mibPerSec} MiB/s), p99 ${p.p99Ms} ms, ${r.produceCpuSecondsPerGiB} CPU s/GiB, peak RSS ${r.producePeakRssMiB} MiB, ${r.loadedFds} fds`);

    if (recoveryGiB > 0) {
      const more = Math.max(0, Math.ceil((recoveryGiB * GIB) / recordSize) - records);
      if (more > 0) {
        log(`[${name}] filling to ${recoveryGiB} GiB: ${more} more records`);
        await produce(broker, more);
      }
      const before = await until('log ends before the kill', 120_000, () => logEnds(broker.bootstrap, partitions));
      await broker.kill();
      log(`[${name}] SIGKILLed; starting again on the same data`);
      broker = await broker.restart();
      r.recoveryReadyMs = Math.round(broker.startupMs);
      const served = await until('every partition served at its log end', 1_800_000, async () => {
        const ends = await logEnds(broker.bootstrap, partitions);
        if (!ends) return undefined;
        const lost = [...before.value].filter(([p, end]) => ends.get(p) !== end);
        return lost.length === 0 ? ends : undefined;
      });
      r.recoveryAllServedMs = Math.round(r.recoveryReadyMs + served.ms);
      r.recoveredRssMiB = Math.round(rssBytes(broker.pid) / 2 ** 20);
      r.recoveredFds = openFds(broker.pid);
      log(`[${name}] recovery after SIGKILL with ${recoveryGiB} GiB: answering after ${r.recoveryReadyMs} ms, every partition served at its log end after ${r.recoveryAllServedMs} ms; RSS ${r.recoveredRssMiB} MiB, ${r.recoveredFds} fds`);
    }
  } finally {
    await broker.stop();
    removeWorkDir(broker, values['keep-logs']);
  }
  return r;
}

const results: Result[] = [];
for (const n of counts) {
  for (const b of brokers) {
    try {
      results.push(await measure(b, n));
    } catch (err) {
      log(`[${b}] ${n} partitions FAILED: ${(err as Error).message}`);
      results.push({ broker: b, partitions: n, error: (err as Error).message.slice(0, 2000) });
    }
  }
}

const rows: Array<[string, string, 'higher' | 'lower', number | undefined]> = [
  ['topic create → all led', 'allLedMs', 'lower', undefined],
  ['idle RSS (MiB)', 'idleRssMiB', 'lower', 0.5],
  ['idle open fds', 'idleFds', 'lower', undefined],
  ['Metadata median (ms)', 'metadataMedianMs', 'lower', undefined],
  ['Metadata p99 (ms)', 'metadataP99Ms', 'lower', undefined],
  ['produce (records/s)', 'produceRecordsPerSec', 'higher', 1.0],
  ['produce p99 (ms)', 'produceP99Ms', 'lower', undefined],
  ['broker CPU s/GiB produced', 'produceCpuSecondsPerGiB', 'lower', undefined],
  ['peak RSS under load (MiB)', 'producePeakRssMiB', 'lower', 0.5],
  ['open fds after load', 'loadedFds', 'lower', undefined],
  ['recovery: answering (ms)', 'recoveryReadyMs', 'lower', 1.0],
  ['recovery: all partitions served (ms)', 'recoveryAllServedMs', 'lower', 1.0],
];
const out: string[] = [];
for (const n of counts) {
  const k = results.find((r) => r.broker === 'kafka' && r.partitions === n);
  const b = results.find((r) => r.broker === 'brook' && r.partitions === n);
  out.push('', `### ${n.toLocaleString('en-US')} partitions, one broker (records ${records.toLocaleString('en-US')} x ${recordSize} B; recovery with ${recoveryGiB} GiB)`, '',
    '| metric | Kafka | Brook | Brook/Kafka | target | met |', '|---|--:|--:|--:|--:|:-:|');
  for (const [label, key, better, target] of rows) {
    const kv = k?.[key];
    const bv = b?.[key];
    const ratio = typeof kv === 'number' && typeof bv === 'number' && kv > 0 ? bv / kv : undefined;
    const met = ratio === undefined || target === undefined ? '' : (better === 'higher' ? ratio >= target : ratio <= target) ? 'yes' : 'NO';
    out.push(`| ${label} | ${kv ?? 'n/a'} | ${bv ?? 'n/a'} | ${ratio === undefined ? '' : `${ratio.toFixed(2)}x`} | ${target === undefined ? '' : `${better === 'higher' ? '>=' : '<='} ${target}x`} | ${met} |`);
  }
  for (const r of [k, b]) if (r?.error) out.push('', `${r.broker} failed: ${String(r.error).split('\n')[0]}`);
}
process.stdout.write(`${out.join('\n')}\n`);
if (values.out !== '-') {
  writeFileSync(values.out, `${JSON.stringify({ date: new Date().toISOString(), records, recordSize, recoveryGiB, metadataRequests, results }, null, 2)}\n`);
  log(`results: ${values.out}`);
}
