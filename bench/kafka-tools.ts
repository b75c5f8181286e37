/**
 * Apache Kafka's own command-line tools, run from the jars that `node scripts/ensure-deps.mjs
 * --test` copies from Maven Central into .cache/kafka-<version>/libs, and parsers for their output.
 *
 * Every tool runs as `java <heap> -cp 'libs/*' <main class> <args>` with the heap its shell
 * wrapper in Kafka's distribution gives it (kafka-producer-perf-test.sh and
 * kafka-consumer-perf-test.sh: -Xmx512M; kafka-run-class.sh default: -Xmx256M).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { cacheDir } from '../scripts/cache-dir.mjs';
import { processTree } from './proc-stats.ts';

export const repoRoot = join(import.meta.dirname, '..');

export function kafkaVersion(): string {
  const pom = readFileSync(join(repoRoot, 'test/tools/kafka/pom.xml'), 'utf8');
  const match = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom);
  if (match === null) throw new Error('test/tools/kafka/pom.xml has no <kafka.version>');
  return match[1];
}

export function kafkaLibs(): string {
  const libs = join(cacheDir(), `kafka-${kafkaVersion()}`, 'libs');
  if (!existsSync(libs) || !readdirSync(libs).some((f) => f.startsWith('kafka-tools-'))) {
    throw new Error(`Kafka jars missing in ${libs}: run \`node scripts/ensure-deps.mjs --test\` first`);
  }
  return libs;
}

export const toolClasses = {
  storage: 'kafka.tools.StorageTool',
  topics: 'org.apache.kafka.tools.TopicCommand',
  producerPerf: 'org.apache.kafka.tools.ProducerPerformance',
  consumerPerf: 'org.apache.kafka.tools.ConsumerPerformance',
} as const;

const PERF_TOOL_HEAP = ['-Xmx512M'];
const DEFAULT_TOOL_HEAP = ['-Xmx256M'];

/** cpuSeconds: the tool JVM's user+system time (GNU time), undefined where /usr/bin/time is missing. */
export type ToolRun = { code: number | null; stdout: string; stderr: string; cpuSeconds: number | undefined };

const GNU_TIME = '/usr/bin/time';
const haveGnuTime = existsSync(GNU_TIME);

/** SLF4J's "no binding" notice: the jars carry slf4j-api 1.7 with slf4j-simple 2.0, so tools log nothing. */
function isSlf4jNoise(line: string): boolean {
  return line.startsWith('SLF4J: ');
}

const KEEP_LINES = 1000;

function pushBounded(lines: string[], line: string): void {
  lines.push(line);
  if (lines.length > KEEP_LINES) lines.shift();
}

/**
 * Runs one tool to completion; each stdout line is also passed to onLine as it arrives. Keeps
 * the last 1000 lines of each stream (a producer against a failing broker prints a stack trace
 * per record). After timeoutMs the tool is killed and the run reports code null.
 */
export function runTool(mainClass: string, args: string[], onLine?: (line: string) => void,
  timeoutMs = 600_000): Promise<ToolRun> {
  const heap = mainClass === toolClasses.producerPerf || mainClass === toolClasses.consumerPerf
    ? PERF_TOOL_HEAP : DEFAULT_TOOL_HEAP;
  const javaArgs = [...heap, '-cp', join(kafkaLibs(), '*'), mainClass, ...args];
  // GNU time writes the JVM's CPU time to a file of its own, so the tool's output stays clean.
  const timeFile = haveGnuTime ? join(mkdtempSync(join(tmpdir(), 'brook-bench-time-')), 'cpu') : undefined;
  const child = timeFile === undefined
    ? spawn('java', javaArgs, { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(GNU_TIME, ['-f', '%U %S', '-o', timeFile, 'java', ...javaArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  const err: string[] = [];
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    // the JVM runs under GNU time: kill the whole tree, not only `time`
    for (const pid of child.pid === undefined ? [] : processTree(child.pid).reverse()) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone already */ }
    }
  }, timeoutMs);
  createInterface({ input: child.stdout }).on('line', (line) => {
    pushBounded(out, line);
    onLine?.(line);
  });
  createInterface({ input: child.stderr }).on('line', (line) => {
    if (!isSlf4jNoise(line)) pushBounded(err, line);
  });
  return new Promise((resolve, reject) => {
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) err.push(`[bench] killed after ${timeoutMs} ms`);
      resolve({ code, stdout: out.join('\n'), stderr: err.join('\n'), cpuSeconds: readCpuFile(timeFile) });
    });
  });
}

/** Like runTool, but a non-zero exit is an error carrying the tool's output. */
export async function runToolOrThrow(mainClass: string, args: string[], onLine?: (line: string) => void,
  timeoutMs?: number): Promise<ToolRun> {
  const run = await runTool(mainClass, args, onLine, timeoutMs);
  if (run.code !== 0) {
    const shortName = mainClass.slice(mainClass.lastIndexOf('.') + 1);
    throw new Error(`${shortName} ${args.join(' ')} exited with ${run.code}\n` +
      `--- stdout ---\n${tail(run.stdout)}\n--- stderr ---\n${tail(run.stderr)}`);
  }
  return run;
}

function readCpuFile(file: string | undefined): number | undefined {
  if (file === undefined) return undefined;
  try {
    const fields = readFileSync(file, 'utf8').trim().split('\n').at(-1)?.split(' ').map(Number) ?? [];
    return fields.length === 2 && fields.every(Number.isFinite) ? fields[0] + fields[1] : undefined;
  } catch {
    return undefined;
  } finally {
    rmSync(dirname(file), { recursive: true, force: true });
  }
}

export function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}

/** The summary line ProducerPerformance prints last. MB there is 2^20 bytes. */
export type ProducerSummary = {
  records: number;
  recordsPerSec: number;
  mibPerSec: number;
  avgLatencyMs: number;
  maxLatencyMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  p999Ms: number;
};

const PRODUCER_SUMMARY = new RegExp(
  '^(\\d+) records sent, ([\\d.]+) records/sec \\(([\\d.]+) MB/sec\\), ([\\d.]+) ms avg latency, ' +
  '([\\d.]+) ms max latency, (\\d+) ms 50th, (\\d+) ms 95th, (\\d+) ms 99th, (\\d+) ms 99\\.9th\\.$', 'm');

export function parseProducerSummary(stdout: string): ProducerSummary {
  const m = PRODUCER_SUMMARY.exec(stdout);
  if (m === null) throw new Error(`no ProducerPerformance summary line in:\n${tail(stdout)}`);
  const n = m.slice(1).map(Number);
  return {
    records: n[0], recordsPerSec: n[1], mibPerSec: n[2], avgLatencyMs: n[3], maxLatencyMs: n[4],
    p50Ms: n[5], p95Ms: n[6], p99Ms: n[7], p999Ms: n[8],
  };
}

/**
 * ConsumerPerformance's CSV line (with its header): start.time, end.time, data.consumed.in.MB,
 * MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec,
 * fetch.nMsg.sec. The fetch.* rates exclude the consumer group join.
 */
export type ConsumerSummary = {
  records: number;
  mib: number;
  recordsPerSec: number;
  mibPerSec: number;
  rebalanceMs: number;
  fetchMs: number;
  fetchRecordsPerSec: number;
  fetchMibPerSec: number;
};

export function parseConsumerSummary(stdout: string): ConsumerSummary {
  const lines = stdout.split('\n');
  const headerAt = lines.findIndex((l) => l.startsWith('start.time'));
  if (headerAt < 0 || headerAt + 1 >= lines.length) throw new Error(`no ConsumerPerformance summary in:\n${tail(stdout)}`);
  const header = lines[headerAt].split(',').map((s) => s.trim());
  const values = lines[headerAt + 1].split(',').map((s) => s.trim());
  const field = (name: string): number => {
    const at = header.indexOf(name);
    if (at < 0) throw new Error(`ConsumerPerformance output lacks ${name}: ${lines[headerAt]}`);
    return Number(values[at]);
  };
  return {
    records: field('data.consumed.in.nMsg'),
    mib: field('data.consumed.in.MB'),
    recordsPerSec: field('nMsg.sec'),
    mibPerSec: field('MB.sec'),
    rebalanceMs: field('rebalance.time.ms'),
    fetchMs: field('fetch.time.ms'),
    fetchRecordsPerSec: field('fetch.nMsg.sec'),
    fetchMibPerSec: field('fetch.MB.sec'),
  };
}
