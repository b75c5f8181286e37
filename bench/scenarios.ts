/**
 * The load one broker gets, identical for every broker: create the topics with TopicCommand,
 * an unmeasured warm-up produce, then per acks setting a max-throughput produce run and a
 * fixed-rate latency run, then (optionally) a ConsumerPerformance run over the acks=1 topic,
 * whose segment files the bench reads into the page cache first (--consume-cache, bench/page-cache.ts).
 *
 * Every measured run is bracketed by reads of the broker's CPU time, so each result carries
 * the broker CPU seconds it cost. A run that fails is recorded with the tool's and the broker's
 * last output and the remaining runs still go ahead while the broker lives.
 */
import type { RunningBroker } from './brokers.ts';
import {
  parseConsumerSummary, parseProducerSummary, runToolOrThrow, toolClasses,
  type ConsumerSummary, type ProducerSummary,
} from './kafka-tools.ts';
import type { Acks, BenchOptions } from './options.ts';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describeResidency, readThrough, residency, topicSegmentFiles, type Residency } from './page-cache.ts';
import { cpuTimes, machineBusyCores, machineCpu } from './proc-stats.ts';

const GIB = 1024 ** 3;

export type RunCost = {
  /** Broker utime+stime spent during the run. */
  cpuSeconds: number;
  wallSeconds: number;
  /** Record payload moved: records x record size. */
  payloadBytes: number;
  cpuSecondsPerGiB: number;
  /**
   * The part of cpuSeconds spent in the kernel (stime): its system calls and, over loopback, the
   * receiving side's TCP processing whenever the kernel runs it in the sender's soft interrupt.
   * Absent in results written before session 18.
   */
  systemCpuSeconds?: number;
  /** CPU seconds of the load tool's JVM (ProducerPerformance / ConsumerPerformance). */
  toolCpuSeconds: number | undefined;
  /** CPU seconds used by everything else on the machine meanwhile: neither broker nor load tool. */
  otherCpuSeconds: number;
  /** Cores busy on the machine just before the run (after sync and the quiet wait). */
  busyCoresBefore: number;
};

export type ProduceRun = RunCost & {
  acks: Acks;
  mode: 'throughput' | 'latency';
  /** 1-based repetition number (--repeat). */
  round: number;
  /** --throughput given to ProducerPerformance (-1 = unthrottled). */
  targetRate: number;
  summary: ProducerSummary;
};

export type ConsumeRun = RunCost & {
  /** 1-based repetition number (--repeat). */
  round: number;
  summary: ConsumerSummary;
  /**
   * The consumed topic's segment bytes in the page cache (bench/page-cache.ts): `before` the
   * bench read them through (--consume-cache warm) or did not (as-is), and at the run's `start`.
   * Absent in results written before session 19, or where fincore is missing.
   */
  pageCache?: { before: Residency | undefined; start: Residency | undefined };
};

export type RunFailure = { stage: string; message: string; brokerAlive: boolean; brokerOutput: string };

export type LoadResult = {
  topicCreateSeconds: number | undefined;
  produce: ProduceRun[];
  /** One per --repeat; results written before session 10 hold a single run here, not a list. */
  consume: ConsumeRun[];
  failures: RunFailure[];
};

export function topicName(acks: Acks): string {
  return acks === '1' ? 'bench-acks-1' : 'bench-acks-all';
}
const WARMUP_TOPIC = 'bench-warmup';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function runLoad(broker: RunningBroker, options: BenchOptions, consume: boolean,
  log: (line: string) => void): Promise<LoadResult> {
  const result: LoadResult = { topicCreateSeconds: undefined, produce: [], consume: [], failures: [] };
  const tag = `[${broker.name}]`;

  /** Runs a stage; on error records it and reports false. */
  const stage = async (name: string, body: () => Promise<void>): Promise<boolean> => {
    if (!broker.alive()) {
      result.failures.push({ stage: name, message: 'skipped: broker process has exited', brokerAlive: false, brokerOutput: broker.recentOutput() });
      return false;
    }
    try {
      await body();
      return true;
    } catch (err) {
      const message = (err as Error).message;
      log(`${tag} ${name} FAILED: ${message.split('\n')[0]}`);
      await sleep(500); // let the broker's last words reach its log
      result.failures.push({ stage: name, message, brokerAlive: broker.alive(), brokerOutput: broker.recentOutput() });
      return false;
    }
  };

  /**
   * Wraps a tool run with CPU and wall-clock accounting. Before it: `sync` (so the previous
   * run's dirty pages are not written back during this one) and a wait until the machine is
   * quiet (other work on a 2-core machine skews every number).
   */
  const measured = async <T>(payloadBytes: number, run: () => Promise<{ value: T; toolCpuSeconds: number | undefined }>,
    hooks: { beforeQuietWait?: () => void; atStart?: () => void } = {}): Promise<RunCost & { value: T }> => {
    spawnSync('sync');
    hooks.beforeQuietWait?.();
    const busyCoresBefore = await waitQuiet(options, (line) => log(`${tag} ${line}`));
    hooks.atStart?.();
    const cpu0 = cpuTimes(broker.pid);
    const machine0 = machineCpu().busySeconds;
    const t0 = performance.now();
    const { value, toolCpuSeconds } = await run();
    const wallSeconds = (performance.now() - t0) / 1000;
    const cpu1 = cpuTimes(broker.pid);
    const systemCpuSeconds = cpu1.system - cpu0.system;
    const cpu = cpu1.user - cpu0.user + systemCpuSeconds;
    const otherCpuSeconds = Math.max(0, machineCpu().busySeconds - machine0 - cpu - (toolCpuSeconds ?? 0));
    return {
      value, cpuSeconds: cpu, wallSeconds, payloadBytes, cpuSecondsPerGiB: cpu / (payloadBytes / GIB), systemCpuSeconds,
      toolCpuSeconds, otherCpuSeconds, busyCoresBefore,
    };
  };

  const topics = [...(options.warmupRecords > 0 ? [WARMUP_TOPIC] : []), ...options.acks.map(topicName)];
  const topicsOk = await stage('create topics', async () => {
    const t0 = performance.now();
    for (const topic of topics) {
      await runToolOrThrow(toolClasses.topics, ['--bootstrap-server', broker.bootstrap, '--create',
        '--topic', topic, '--partitions', String(options.partitions), '--replication-factor', '1'], undefined, 120_000);
    }
    result.topicCreateSeconds = (performance.now() - t0) / 1000;
    log(`${tag} created ${topics.join(', ')} (${options.partitions} partitions, RF 1) in ${result.topicCreateSeconds.toFixed(1)} s`);
  });
  if (!topicsOk) return result;

  const produce = (topic: string, records: number, rate: number, acks: Acks, label: string): Promise<{ value: ProducerSummary; toolCpuSeconds: number | undefined }> =>
    runToolOrThrow(toolClasses.producerPerf, ['--topic', topic, '--num-records', String(records),
      '--record-size', String(options.recordSize), '--throughput', String(rate),
      '--producer-props', `bootstrap.servers=${broker.bootstrap}`, `acks=${acks}`],
    (line) => log(`${tag} ${label}: ${line}`),
    // generous: 10x the time at 5k records/s, at least 3 minutes
    Math.max(180_000, (records / 5000) * 10_000),
    ).then((run) => ({ value: parseProducerSummary(run.stdout), toolCpuSeconds: run.cpuSeconds }));

  if (options.warmupRecords > 0) {
    await stage('warm-up', async () => {
      await produce(WARMUP_TOPIC, options.warmupRecords, -1, '1', 'warm-up');
    });
  }

  for (const acks of options.acks) {
    for (let round = 1; round <= options.repeat; round++) {
      const of = options.repeat > 1 ? ` (${round}/${options.repeat})` : '';
      await stage(`produce acks=${acks} max throughput${of}`, async () => {
        const m = await measured(options.records * options.recordSize,
          () => produce(topicName(acks), options.records, -1, acks, `acks=${acks} max${of}`));
        result.produce.push({ acks, mode: 'throughput', round, targetRate: -1, summary: m.value, ...costOf(m) });
        log(`${tag} acks=${acks} max${of}: ${fmt(m.value.recordsPerSec)} rec/s, broker CPU ${m.cpuSeconds.toFixed(1)} s ` +
          `(${m.cpuSecondsPerGiB.toFixed(2)} s/GiB), producer JVM ${m.toolCpuSeconds?.toFixed(1) ?? '?'} s, ` +
          `rest of machine ${m.otherCpuSeconds.toFixed(1)} s, wall ${m.wallSeconds.toFixed(1)} s`);
      });
    }
    for (let round = 1; options.latencyRecords > 0 && round <= options.repeat; round++) {
      const of = options.repeat > 1 ? ` (${round}/${options.repeat})` : '';
      await stage(`produce acks=${acks} at ${options.latencyRate} rec/s${of}`, async () => {
        const m = await measured(options.latencyRecords * options.recordSize,
          () => produce(topicName(acks), options.latencyRecords, options.latencyRate, acks, `acks=${acks} @${options.latencyRate}/s${of}`));
        result.produce.push({ acks, mode: 'latency', round, targetRate: options.latencyRate, summary: m.value, ...costOf(m) });
        log(`${tag} acks=${acks} @${options.latencyRate}/s${of}: p50 ${m.value.p50Ms} ms, p99 ${m.value.p99Ms} ms`);
      });
    }
  }

  const acks = options.acks.includes('1') ? '1' : options.acks[0];
  for (let round = 1; consume && round <= options.repeat; round++) {
    const of = options.repeat > 1 ? ` (${round}/${options.repeat})` : '';
    await stage(`consume ${topicName(acks)}${of}`, async () => {
      const segments = topicSegmentFiles(join(broker.workDir, 'data'), topicName(acks));
      const pageCache: NonNullable<ConsumeRun['pageCache']> = { before: undefined, start: undefined };
      const cacheHooks = {
        beforeQuietWait: () => {
          pageCache.before = residency(segments);
          if (options.consumeCache === 'warm') readThrough(segments);
        },
        atStart: () => {
          pageCache.start = residency(segments);
          log(`${tag} consume${of}: ${topicName(acks)} in the page cache: ${describeResidency(pageCache.before)}` +
            (options.consumeCache === 'warm' ? `, read through: ${describeResidency(pageCache.start)} at the start` : ''));
        },
      };
      const m = await measured(options.records * options.recordSize, async () => {
        // a new group each round: every round reads the topic from its start
        const run = await runToolOrThrow(toolClasses.consumerPerf, ['--bootstrap-server', broker.bootstrap,
          '--topic', topicName(acks), '--messages', String(options.records), '--group', `bench-consumer-${Date.now()}`,
          '--timeout', '30000'], (line) => log(`${tag} consume${of}: ${line}`), Math.max(180_000, (options.records / 5000) * 10_000));
        return { value: parseConsumerSummary(run.stdout), toolCpuSeconds: run.cpuSeconds };
      }, cacheHooks);
      if (m.value.records < options.records) throw new Error(`consumed ${m.value.records} of ${options.records} records`);
      result.consume.push({ round, summary: m.value, ...costOf(m), pageCache });
      log(`${tag} consume${of}: ${fmt(m.value.fetchRecordsPerSec)} rec/s (fetch phase), broker CPU ${m.cpuSeconds.toFixed(1)} s ` +
        `(${m.cpuSecondsPerGiB.toFixed(2)} s/GiB, of which kernel ${kernelPerGiB(m)?.toFixed(2) ?? '?'})`);
    });
  }
  return result;
}

/** The kernel's (stime's) CPU seconds per GiB of a run; undefined in results written before session 18. */
export function kernelPerGiB(r: RunCost): number | undefined {
  return r.systemCpuSeconds === undefined ? undefined : r.systemCpuSeconds / (r.payloadBytes / GIB);
}

function costOf(m: RunCost): RunCost {
  return {
    cpuSeconds: m.cpuSeconds, wallSeconds: m.wallSeconds, payloadBytes: m.payloadBytes,
    cpuSecondsPerGiB: m.cpuSecondsPerGiB, systemCpuSeconds: m.systemCpuSeconds, toolCpuSeconds: m.toolCpuSeconds, otherCpuSeconds: m.otherCpuSeconds,
    busyCoresBefore: m.busyCoresBefore,
  };
}

/** Samples machine load each second until it is at most --quiet-cores, for up to --quiet-wait seconds. */
export async function waitQuiet(options: BenchOptions, log: (line: string) => void): Promise<number> {
  const t0 = performance.now();
  let warned = false;
  for (;;) {
    const busy = await machineBusyCores(1000);
    if (busy <= options.quietCores) return busy;
    if ((performance.now() - t0) / 1000 >= options.quietWaitSeconds) {
      log(`machine still busy (${busy.toFixed(2)} cores in use by other processes); measuring anyway`);
      return busy;
    }
    if (!warned) {
      log(`waiting for the machine to quiet down (${busy.toFixed(2)} cores busy, want <= ${options.quietCores})`);
      warned = true;
    }
  }
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
