/**
 * The two brokers under test, started the same way from the benchmark's point of view: spawn,
 * wait until the broker answers ApiVersions and lists itself in Metadata (see wire-probe.ts),
 * hand back its pid and bootstrap address, stop with SIGTERM (SIGKILL after a grace period).
 *
 * - Apache Kafka: KRaft, one process with process.roles=broker,controller, listeners on two
 *   free loopback ports, log dir in a fresh temp dir formatted with `StorageTool format
 *   --standalone`; the JVM gets the heap and GC flags of Kafka's kafka-server-start.sh.
 * - Brook: `node broker/cli.ts broker ...` on port 0; its port comes from the
 *   `brook broker 0 listening on 127.0.0.1:<port>` line it prints when ready.
 *
 * Each broker's stdout and stderr go to <workDir>/broker.log; the last lines are kept in memory
 * for error reports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { brookLauncher } from '../test/harness/paths.ts';
import { freePort } from '../test/harness/ports.ts';
import { kafkaLibs, repoRoot, runToolOrThrow, toolClasses } from './kafka-tools.ts';
import { probeBroker } from './wire-probe.ts';

const HOST = '127.0.0.1';
const STARTUP_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 30_000;

/** kafka-server-start.sh: KAFKA_HEAP_OPTS default. */
export const KAFKA_HEAP_OPTS = ['-Xmx1G', '-Xms1G'];
/** kafka-run-class.sh (Kafka 4.x): KAFKA_JVM_PERFORMANCE_OPTS default. */
export const KAFKA_JVM_PERFORMANCE_OPTS = [
  '-server', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-XX:InitiatingHeapOccupancyPercent=35',
  '-XX:+ExplicitGCInvokesConcurrent', '-Djava.awt.headless=true',
];

export type BrokerName = 'kafka' | 'brook';

export type RunningBroker = {
  name: BrokerName;
  pid: number;
  bootstrap: string;
  workDir: string;
  logFile: string;
  /** Spawn → ApiVersions answered and Metadata lists the broker. */
  startupMs: number;
  /** Extra start-up facts (Kafka: storage format time; Brook: time of its "listening" line). */
  startupNotes: Record<string, number>;
  /** Last lines of the broker's stdout/stderr. */
  recentOutput(): string;
  /** True while the process has not exited. */
  alive(): boolean;
  stop(): Promise<{ code: number | null; signal: string | null; stopMs: number; killed: boolean }>;
  /** SIGKILL, and wait for the process to be gone (a crash: nothing is flushed or closed). */
  kill(): Promise<void>;
  /** Starts the broker again on the same data (after stop or kill); its start-up is timed as the first was. */
  restart(): Promise<RunningBroker>;
};

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Keeps the last lines of a child's output and copies all of it to a log file. */
function captureOutput(child: ChildProcess, logFile: string, onLine?: (line: string) => void): () => string {
  const log = createWriteStream(logFile);
  const recent: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    if (stream === null) continue;
    createInterface({ input: stream }).on('line', (line) => {
      log.write(`${line}\n`);
      recent.push(line);
      if (recent.length > 200) recent.shift();
      onLine?.(line);
    });
  }
  child.on('close', () => log.end());
  return () => recent.join('\n');
}

function exitTracker(child: ChildProcess): { exited: () => boolean; whenExited: Promise<{ code: number | null; signal: string | null }> } {
  let done = false;
  const whenExited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
    child.on('error', (err) => {
      // spawn failure (e.g. ENOENT): there is no process to wait for
      done = true;
      resolve({ code: null, signal: `spawn error: ${err.message}` });
    });
  });
  return { exited: () => done, whenExited };
}

async function stopChild(child: ChildProcess, whenExited: Promise<{ code: number | null; signal: string | null }>,
  exited: () => boolean): Promise<{ code: number | null; signal: string | null; stopMs: number; killed: boolean }> {
  const t0 = performance.now();
  if (exited()) return { ...(await whenExited), stopMs: 0, killed: false };
  child.kill('SIGTERM');
  const graceful = await Promise.race([whenExited, sleep(STOP_GRACE_MS).then(() => undefined)]);
  if (graceful !== undefined) return { ...graceful, stopMs: performance.now() - t0, killed: false };
  child.kill('SIGKILL');
  return { ...(await whenExited), stopMs: performance.now() - t0, killed: true };
}

/** Polls the wire probe until the broker is ready; fails early if the process exits. */
async function waitReady(name: string, port: () => number | undefined, exited: () => boolean,
  recentOutput: () => string, t0: number): Promise<number> {
  let lastReason = 'no port yet';
  while (performance.now() - t0 < STARTUP_TIMEOUT_MS) {
    if (exited()) throw new Error(`${name} exited during start-up (${lastReason}); output:\n${recentOutput()}`);
    const p = port();
    if (p !== undefined) {
      const result = await probeBroker(HOST, p, 1000);
      if (result.ready) return performance.now() - t0;
      lastReason = result.reason;
    }
    await sleep(20);
  }
  throw new Error(`${name} not ready after ${STARTUP_TIMEOUT_MS} ms (${lastReason}); output:\n${recentOutput()}`);
}

function kafkaServerProperties(dataDir: string, port: number, controllerPort: number): string {
  // Kafka 4.x config/server.properties (combined KRaft node), on loopback, with this run's
  // ports and log dir; flush settings left at their defaults (no fsync per message).
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.bootstrap.servers=${HOST}:${controllerPort}`,
    `listeners=PLAINTEXT://${HOST}:${port},CONTROLLER://${HOST}:${controllerPort}`,
    'inter.broker.listener.name=PLAINTEXT',
    `advertised.listeners=PLAINTEXT://${HOST}:${port},CONTROLLER://${HOST}:${controllerPort}`,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'num.network.threads=3',
    'num.io.threads=8',
    'socket.send.buffer.bytes=102400',
    'socket.receive.buffer.bytes=102400',
    'socket.request.max.bytes=104857600',
    `log.dirs=${dataDir}`,
    'num.partitions=1',
    'num.recovery.threads.per.data.dir=1',
    'offsets.topic.replication.factor=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'log.retention.hours=168',
    'log.segment.bytes=1073741824',
    'log.retention.check.interval.ms=300000',
    // Not in the shipped file: lets ConsumerPerformance's group form without the 3 s wait.
    'group.initial.rebalance.delay.ms=0',
    '',
  ].join('\n');
}

/** `cpuList`: start the broker under `taskset -c LIST` (its threads, and what it sizes by the cores it sees, get only those CPUs). */
export type KafkaOptions = { heapOpts: string[]; cpuList?: string };

/** The command and arguments, under `taskset -c cpuList` when one is given (taskset execs: the pid stays the broker's). */
function pinned(cpuList: string | undefined, command: string, args: string[]): [string, string[]] {
  return cpuList === undefined ? [command, args] : ['taskset', ['-c', cpuList, command, ...args]];
}

export async function startKafka(options: KafkaOptions): Promise<RunningBroker> {
  const workDir = mkdtempSync(join(tmpdir(), 'brook-bench-kafka-'));
  const dataDir = join(workDir, 'data');
  mkdirSync(dataDir);
  const port = await freePort();
  const controllerPort = await freePort();
  const propertiesFile = join(workDir, 'server.properties');
  writeFileSync(propertiesFile, kafkaServerProperties(dataDir, port, controllerPort));

  const uuid = await runToolOrThrow(toolClasses.storage, ['random-uuid']);
  const clusterId = uuid.stdout.trim().split('\n').at(-1) ?? '';
  const formatStart = performance.now();
  await runToolOrThrow(toolClasses.storage, ['format', '--standalone', '--cluster-id', clusterId, '--config', propertiesFile]);
  const formatMs = performance.now() - formatStart;
  return spawnKafka(options, workDir, propertiesFile, port, { storageFormatMs: formatMs });
}

/** Runs kafka.Kafka on a formatted work dir (its ports are in the properties file). */
async function spawnKafka(options: KafkaOptions, workDir: string, propertiesFile: string, port: number,
  startupNotes: Record<string, number>): Promise<RunningBroker> {
  const logFile = join(workDir, 'broker.log');
  const t0 = performance.now();
  const child = spawn(...pinned(options.cpuList, 'java', [...options.heapOpts, ...KAFKA_JVM_PERFORMANCE_OPTS,
    '-cp', join(kafkaLibs(), '*'), 'kafka.Kafka', propertiesFile]), { stdio: ['ignore', 'pipe', 'pipe'] });
  const { exited, whenExited } = exitTracker(child);
  const recentOutput = captureOutput(child, logFile);
  if (child.pid === undefined) throw new Error('java did not start');
  try {
    const startupMs = await waitReady('kafka', () => port, exited, recentOutput, t0);
    return {
      name: 'kafka', pid: child.pid, bootstrap: `${HOST}:${port}`, workDir, logFile, startupMs, startupNotes,
      recentOutput, alive: () => !exited(),
      stop: () => stopChild(child, whenExited, exited),
      kill: () => killChild(child, whenExited),
      restart: () => spawnKafka(options, workDir, propertiesFile, port, {}),
    };
  } catch (err) {
    await stopChild(child, whenExited, exited);
    throw err;
  }
}

async function killChild(child: ChildProcess, whenExited: Promise<unknown>): Promise<void> {
  child.kill('SIGKILL');
  await whenExited;
}

export type BrookOptions = { settings: string[]; cpuProfileDir?: string; cpuList?: string };

/** Settings every benchmarked Brook gets, to match the Kafka config above; --brook-set comes after. */
export const BROOK_BASE_SETTINGS = ['group.initial.rebalance.delay.ms=0', 'offsets.topic.replication.factor=1'];

export const BROOK_LISTENING = /^brook broker 0 listening on 127\.0\.0\.1:(\d+)\s*$/;

export function brookCommand(dataDir: string, options: BrookOptions): { command: string; args: string[]; env: NodeJS.ProcessEnv } {
  const { command, env } = brookLauncher(options.cpuProfileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`]);
  return {
    command, env,
    args: ['broker', '--id', '0',
      '--listen', `${HOST}:0`, '--advertised-listener', `${HOST}:0`, '--data-dir', dataDir,
      '--metrics-port', '0', ...[...BROOK_BASE_SETTINGS, ...options.settings].flatMap((s) => ['--set', s])],
  };
}

export async function startBrook(options: BrookOptions): Promise<RunningBroker> {
  const workDir = mkdtempSync(join(tmpdir(), 'brook-bench-brook-'));
  mkdirSync(join(workDir, 'data'));
  if (options.cpuProfileDir !== undefined) mkdirSync(options.cpuProfileDir, { recursive: true });
  return spawnBrook(options, workDir);
}

/** Runs a Brook broker on `workDir`/data (port 0: a new port each start). */
async function spawnBrook(options: BrookOptions, workDir: string): Promise<RunningBroker> {
  const logFile = join(workDir, 'broker.log');
  const { command, args, env } = brookCommand(join(workDir, 'data'), options);

  let port: number | undefined;
  let listeningLineMs: number | undefined;
  const t0 = performance.now();
  const child = spawn(...pinned(options.cpuList, command, args), { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const { exited, whenExited } = exitTracker(child);
  const recentOutput = captureOutput(child, logFile, (line) => {
    const m = BROOK_LISTENING.exec(line);
    if (m !== null && port === undefined) {
      port = Number(m[1]);
      listeningLineMs = performance.now() - t0;
    }
  });
  if (child.pid === undefined) throw new Error(`${command} did not start`);
  try {
    const startupMs = await waitReady('brook', () => port, exited, recentOutput, t0);
    return {
      name: 'brook', pid: child.pid, bootstrap: `${HOST}:${port}`, workDir, logFile, startupMs,
      startupNotes: { listeningLineMs: listeningLineMs ?? Number.NaN },
      recentOutput, alive: () => !exited(),
      stop: () => stopChild(child, whenExited, exited),
      kill: () => killChild(child, whenExited),
      restart: () => spawnBrook(options, workDir),
    };
  } catch (err) {
    await stopChild(child, whenExited, exited);
    throw err;
  }
}

export function removeWorkDir(broker: RunningBroker, keepLogs: boolean): void {
  rmSync(join(broker.workDir, 'data'), { recursive: true, force: true });
  if (!keepLogs) rmSync(broker.workDir, { recursive: true, force: true });
}
