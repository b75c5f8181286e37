/** Command-line flags of `npm run bench -- ...`: their defaults, parsing and --help text. */
import { parseArgs } from 'node:util';
import type { BrokerName } from './brokers.ts';

export type Acks = '1' | 'all';
export type ConsumerMode = 'kafka' | 'both' | 'none';

export type BenchOptions = {
  brokers: BrokerName[];
  records: number;
  recordSize: number;
  partitions: number;
  acks: Acks[];
  warmupRecords: number;
  latencyRate: number;
  latencyRecords: number;
  consumer: ConsumerMode;
  /** warm: read the consumed topic's segments into the page cache before each consume run; as-is: do not. */
  consumeCache: 'warm' | 'as-is';
  repeat: number;
  startupRuns: number;
  aggregate: 'best' | 'median';
  quietCores: number;
  quietWaitSeconds: number;
  kafkaHeap: string[];
  brookSettings: string[];
  brookCpuProfileDir: string | undefined;
  out: string | undefined;
  keepLogs: boolean;
  /** Re-render the comparison from a results JSON instead of running brokers. */
  fromJson: string | undefined;
};

export const HELP = `Usage: npm run bench -- [flags]

Runs Apache Kafka (KRaft, one combined node) and then one Brook broker on 127.0.0.1, drives each
with Kafka's ProducerPerformance / ConsumerPerformance, and prints Brook/Kafka ratios.
Needs the Kafka jars: node scripts/ensure-deps.mjs --test

Flags:
  --brokers LIST          brokers to run, in order (default: kafka,brook)
  --records N             records per max-throughput produce run, per acks (default: 1000000)
  --record-size BYTES     record value size (default: 1024)
  --partitions N          partitions of each benchmark topic, replication factor 1 (default: 8)
  --acks LIST             acks settings to run (default: 1,all)
  --warmup-records N      unmeasured produce run first, to warm JIT and page cache (default: 200000; 0 = none)
  --latency-rate R        records/s of the fixed-rate latency run (default: 10000)
  --latency-records N     records in the fixed-rate latency run (default: 150000; 0 = skip it)
  --repeat N              runs of each measured produce and consume case (default: 2)
  --startup-runs N        times each broker is started (and stopped again) to time start-up;
                          the last start gets the load (default: 3)
  --aggregate HOW         which of the repeats the table shows: best (highest throughput, lowest
                          latency and CPU: the least disturbed run on a shared machine) or median
                          (default: best); the JSON has every run
  --quiet-cores C         before each measured run, wait until other processes use at most C cores
                          (default: 0.3) ...
  --quiet-wait SECONDS    ... for at most this long, then measure anyway with a warning (default: 120)
  --consumer MODE         ConsumerPerformance on: kafka (default, from before Brook had consumer
                          groups; Brook's column shows n/a), both, none
  --consume-cache HOW     warm (default): before each consume run, read the topic's segment files
                          through so that the run reads from the page cache, as a consumer of recent
                          data does (the VMs here page out memory unused for a minute: see
                          bench/page-cache.ts); as-is: leave the page cache as the produce runs left it.
                          Either way the log says how much of the topic was cached.
  --kafka-heap OPTS       Kafka JVM heap flags (default: "-Xmx1G -Xms1G", as kafka-server-start.sh)
  --brook-set KEY=VALUE   passed to the Brook broker as --set KEY=VALUE (repeatable)
  --brook-cpu-prof DIR    run Brook under node --cpu-prof, profiles written to DIR on shutdown
  --out FILE              results JSON (default: bench/results/latest.json; "-" = do not write)
  --from-json FILE        run nothing: rebuild the table from FILE's raw results (with this
                          --aggregate) and write it to --out
  --keep-logs             keep each broker's temp dir (config, broker.log); data is always removed
  -h, --help              this text

Measured per broker (each measured run is preceded by \`sync\` and the quiet wait): start-up (spawn -> ApiVersions answered and Metadata lists the broker),
produce throughput (ProducerPerformance --throughput -1), p50/p99 latency at --latency-rate,
broker CPU seconds (utime+stime from /proc) per GiB of record payload, peak RSS (VmRSS sampled
every 200 ms, process tree).
`;

function positiveInt(name: string, value: string, allowZero = false): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1)) throw new Error(`--${name} wants ${allowZero ? 'a non-negative' : 'a positive'} integer, got ${value}`);
  return n;
}

function aggregateOf(value: string): 'best' | 'median' {
  if (value !== 'best' && value !== 'median') throw new Error(`--aggregate: want best or median, got ${value}`);
  return value;
}

function nonNegative(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} wants a non-negative number, got ${value}`);
  return n;
}

export function parseOptions(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      brokers: { type: 'string', default: 'kafka,brook' },
      records: { type: 'string', default: '1000000' },
      'record-size': { type: 'string', default: '1024' },
      partitions: { type: 'string', default: '8' },
      acks: { type: 'string', default: '1,all' },
      'warmup-records': { type: 'string', default: '200000' },
      'latency-rate': { type: 'string', default: '10000' },
      'latency-records': { type: 'string', default: '150000' },
      consumer: { type: 'string', default: 'kafka' },
      'consume-cache': { type: 'string', default: 'warm' },
      repeat: { type: 'string', default: '2' },
      aggregate: { type: 'string', default: 'best' },
      'startup-runs': { type: 'string', default: '3' },
      'quiet-cores': { type: 'string', default: '0.3' },
      'quiet-wait': { type: 'string', default: '120' },
      'kafka-heap': { type: 'string', default: '-Xmx1G -Xms1G' },
      'brook-set': { type: 'string', multiple: true, default: [] },
      'brook-cpu-prof': { type: 'string' },
      out: { type: 'string', default: 'bench/results/latest.json' },
      'keep-logs': { type: 'boolean', default: false },
      'from-json': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';

  const brokers = values.brokers.split(',').map((s) => s.trim());
  for (const b of brokers) if (b !== 'kafka' && b !== 'brook') throw new Error(`--brokers: unknown broker ${b}`);
  const acks = values.acks.split(',').map((s) => s.trim());
  for (const a of acks) if (a !== '1' && a !== 'all') throw new Error(`--acks: want 1 and/or all, got ${a}`);
  const consumer = values.consumer;
  if (consumer !== 'kafka' && consumer !== 'both' && consumer !== 'none') throw new Error(`--consumer: want kafka, both or none, got ${consumer}`);
  const consumeCache = values['consume-cache'];
  if (consumeCache !== 'warm' && consumeCache !== 'as-is') throw new Error(`--consume-cache: want warm or as-is, got ${consumeCache}`);
  for (const s of values['brook-set']) if (!s.includes('=')) throw new Error(`--brook-set wants KEY=VALUE, got ${s}`);

  return {
    brokers: brokers as BrokerName[],
    records: positiveInt('records', values.records),
    recordSize: positiveInt('record-size', values['record-size']),
    partitions: positiveInt('partitions', values.partitions),
    acks: acks as Acks[],
    warmupRecords: positiveInt('warmup-records', values['warmup-records'], true),
    latencyRate: positiveInt('latency-rate', values['latency-rate']),
    latencyRecords: positiveInt('latency-records', values['latency-records'], true),
    consumer,
    consumeCache,
    repeat: positiveInt('repeat', values.repeat),
    aggregate: aggregateOf(values.aggregate),
    startupRuns: positiveInt('startup-runs', values['startup-runs']),
    quietCores: nonNegative('quiet-cores', values['quiet-cores']),
    quietWaitSeconds: nonNegative('quiet-wait', values['quiet-wait']),
    kafkaHeap: values['kafka-heap'].split(/\s+/).filter((s) => s !== ''),
    brookSettings: values['brook-set'],
    brookCpuProfileDir: values['brook-cpu-prof'],
    out: values.out === '-' ? undefined : values.out,
    keepLogs: values['keep-logs'],
    fromJson: values['from-json'],
  };
}
