/**
 * Brook vs Apache Kafka on this machine: `npm run bench -- --help`.
 *
 * Starts each broker in turn (never both at once), puts the same load on it with Kafka's own
 * perf tools (scenarios.ts), records start-up time, broker CPU and peak RSS, stops it, and at
 * the end prints the Brook/Kafka comparison and writes it with all raw numbers as JSON.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import {
  brookCommand, KAFKA_JVM_PERFORMANCE_OPTS, removeWorkDir, startBrook, startKafka,
  type BrokerName, type RunningBroker,
} from './brokers.ts';
import { kafkaLibs, kafkaVersion, repoRoot } from './kafka-tools.ts';
import { HELP, parseOptions, type BenchOptions } from './options.ts';
import { RssSampler } from './proc-stats.ts';
import { compare, renderTable, type BrokerReport } from './report.ts';
import { runLoad, waitQuiet } from './scenarios.ts';

const benchStart = performance.now();
function log(line: string): void {
  const t = ((performance.now() - benchStart) / 1000).toFixed(1).padStart(6);
  process.stdout.write(`[${t}s] ${line}\n`);
}

function machine(): Record<string, string | number> {
  const javaVersion = spawnSync('java', ['-version'], { encoding: 'utf8' }).stderr.split('\n')[0] ?? 'unknown';
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['describe', '--always', '--dirty'], { cwd: repoRoot, encoding: 'utf8' }).trim();
  } catch { /* not a git checkout */ }
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    kernel: release(),
    node: process.version,
    java: javaVersion,
    kafka: kafkaVersion(),
    brookCommit: commit,
  };
}

function commandOf(name: BrokerName, options: BenchOptions): string {
  if (name === 'kafka') {
    return `java ${[...options.kafkaHeap, ...KAFKA_JVM_PERFORMANCE_OPTS].join(' ')} -cp '${kafkaLibs()}/*' kafka.Kafka server.properties`;
  }
  const { command, args, env } = brookCommand('DIR', { settings: options.brookSettings, cpuProfileDir: options.brookCpuProfileDir });
  const nodeOptions = env.NODE_OPTIONS ? `NODE_OPTIONS='${env.NODE_OPTIONS}' ` : '';
  return nodeOptions + [command, ...args].map((a) => a.replace(`${repoRoot}/`, '')).join(' ');
}

let current: RunningBroker | undefined;
process.on('SIGINT', () => {
  log('interrupted: stopping the broker');
  const broker = current;
  void (broker?.stop() ?? Promise.resolve()).finally(() => {
    if (broker !== undefined) removeWorkDir(broker, false);
    process.exit(130);
  });
});

async function benchBroker(name: BrokerName, options: BenchOptions): Promise<BrokerReport> {
  const report: BrokerReport = {
    name, command: commandOf(name, options), error: undefined, startupMs: undefined, startupSamplesMs: [], startupNotes: {},
    peakRssBytes: undefined, hwmBytes: undefined, load: undefined, stop: undefined,
  };
  log(`== ${name}: starting (${report.command})`);
  const start = (): Promise<RunningBroker> => (name === 'kafka'
    ? startKafka({ heapOpts: options.kafkaHeap })
    : startBrook({
      settings: options.brookSettings,
      cpuProfileDir: options.brookCpuProfileDir === undefined ? undefined : resolve(options.brookCpuProfileDir),
    }));
  let broker: RunningBroker | undefined;
  for (let round = 1; round <= options.startupRuns; round++) {
    spawnSync('sync');
    await waitQuiet(options, (line) => log(`[${name}] ${line}`));
    try {
      broker = await start();
    } catch (err) {
      report.error = `start-up failed: ${(err as Error).message}`;
      log(`[${name}] ${report.error}`);
      return report;
    }
    report.startupSamplesMs.push(broker.startupMs);
    report.startupNotes = broker.startupNotes;
    const notes = Object.entries(broker.startupNotes).map(([k, v]) => `${k} ${v.toFixed(0)} ms`).join(', ');
    log(`[${name}] ready on ${broker.bootstrap} (pid ${broker.pid}) after ${broker.startupMs.toFixed(0)} ms` +
      `${notes === '' ? '' : ` (${notes})`}${options.startupRuns > 1 ? ` [start-up ${round}/${options.startupRuns}]` : ''}; logs in ${broker.logFile}`);
    if (round < options.startupRuns) {
      current = broker;
      await broker.stop();
      current = undefined;
      removeWorkDir(broker, false);
    }
  }
  if (broker === undefined) return report;
  current = broker;
  const sampler = new RssSampler(broker.pid, 200);
  report.startupMs = options.aggregate === 'best' ? Math.min(...report.startupSamplesMs)
    : [...report.startupSamplesMs].sort((a, b) => a - b)[Math.floor((report.startupSamplesMs.length - 1) / 2)];

  const consume = options.consumer === 'both' || (options.consumer === 'kafka' && name === 'kafka');
  try {
    report.load = await runLoad(broker, options, consume, log);
  } finally {
    const rss = sampler.stop();
    report.peakRssBytes = rss.peakRssBytes;
    report.hwmBytes = rss.hwmBytes;
    report.stop = await broker.stop();
    current = undefined;
    log(`[${name}] stopped (code ${report.stop.code}, signal ${report.stop.signal}) in ${report.stop.stopMs.toFixed(0)} ms` +
      `${report.stop.killed ? ' — did not exit on SIGTERM, killed' : ''}; peak RSS ${(rss.peakRssBytes / 1024 ** 2).toFixed(0)} MiB`);
    const failed = report.load === undefined || report.load.failures.length > 0;
    removeWorkDir(broker, options.keepLogs || failed);
    if (failed) log(`[${name}] kept ${broker.workDir} for inspection`);
  }
  return report;
}

async function main(): Promise<number> {
  let options: BenchOptions | 'help';
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(HELP);
    return 0;
  }

  if (options.fromJson !== undefined) return rerender(options, options.fromJson);

  const reports = new Map<BrokerName, BrokerReport>();
  for (const name of options.brokers) reports.set(name, await benchBroker(name, options));

  const rows = compare(options, reports.get('kafka'), reports.get('brook'));
  const table = renderTable(rows);
  process.stdout.write(`\n${table}\n`);
  for (const r of reports.values()) {
    if (r.error !== undefined) process.stdout.write(`\n${r.name}: ${r.error}\n`);
    for (const f of r.load?.failures ?? []) {
      process.stdout.write(`\n${r.name}: ${f.stage} failed (broker ${f.brokerAlive ? 'still running' : 'exited'}):\n${f.message}\n` +
        `--- ${r.name} output (last lines) ---\n${f.brokerOutput.split('\n').slice(-30).join('\n')}\n`);
    }
  }

  if (options.out !== undefined) {
    const out = resolve(options.out);
    mkdirSync(dirname(out), { recursive: true });
    const { out: _out, fromJson: _from, ...settings } = options;
    writeFileSync(out, `${JSON.stringify({
      generatedAt: new Date().toISOString(),
      command: ['npm run bench --', ...process.argv.slice(2)].join(' ').replace(/ --$/, ''),
      machine: machine(),
      settings,
      comparison: rows,
      table,
      brokers: Object.fromEntries(reports),
    }, null, 2)}\n`);
    log(`results written to ${out}`);
  }
  const failed = [...reports.values()].some((r) => r.error !== undefined || (r.load?.failures.length ?? 0) > 0);
  return failed ? 1 : 0;
}

type ResultsFile = {
  settings: Omit<BenchOptions, 'out'>;
  comparison: unknown;
  table: string;
  brokers: Partial<Record<BrokerName, BrokerReport>>;
};

/** --from-json: the comparison again from stored raw results, e.g. with another --aggregate. */
function rerender(cli: BenchOptions, file: string): number {
  const results = JSON.parse(readFileSync(file, 'utf8')) as ResultsFile;
  const settings: BenchOptions = { ...results.settings, aggregate: cli.aggregate, out: cli.out, fromJson: undefined };
  const rows = compare(settings, results.brokers.kafka, results.brokers.brook);
  const table = renderTable(rows);
  process.stdout.write(`${table}\n`);
  if (cli.out !== undefined) {
    const out = resolve(cli.out);
    mkdirSync(dirname(out), { recursive: true });
    const { out: _out, fromJson: _from, ...kept } = settings;
    writeFileSync(out, `${JSON.stringify({ ...results, settings: kept, comparison: rows, table }, null, 2)}\n`);
    log(`results written to ${out}`);
  }
  return 0;
}

process.exitCode = await main();
