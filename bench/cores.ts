/**
 * One broker on 1 core vs 2 cores: `npm run bench:cores -- --help`.
 *
 * For each broker (Apache Kafka, then Brook; never both at once) and each CPU set (`taskset -c 0`,
 * then `taskset -c 0,1`), starts the broker fresh under that CPU set, puts bench/loadgen.ts's
 * replayed produce load on it for a warm-up and a measured window, and records produce
 * throughput, the broker's CPU seconds per GiB and the cores it kept busy, and the load
 * generator's own CPU per GiB. Prints the 2-core/1-core throughput ratio for each broker.
 *
 * Where the load generator runs: with the broker on CPU 0 it is pinned to CPU 1
 * (`--loadgen-cpus`), so it never takes the broker's core; with the broker on CPUs 0,1 it is
 * unpinned and shares them with the broker (there are no other cores here), which is why it has
 * to be cheap: its CPU per GiB is printed next to the broker's.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { KAFKA_HEAP_OPTS, removeWorkDir, startBrook, startKafka, type BrokerName, type RunningBroker } from './brokers.ts';
import type { PhaseResult } from './loadgen.ts';
import { machineBusyCores } from './proc-stats.ts';
import { repoRoot } from './kafka-tools.ts';

const HELP = `Usage: npm run bench:cores -- [flags]

Each broker under taskset -c 0 and then -c 0,1, loaded by bench/loadgen.ts (pre-encoded produce
requests replayed); prints throughput, broker CPU s/GiB and the 1 -> 2 core scaling ratio.

  --brokers LIST          (default: kafka,brook)
  --cpu-sets LIST         CPU sets to run, ';'-separated (default: "0;0,1")
  --loadgen-cpus LIST     where the load generator runs when the broker's CPU set leaves cores
                          free (default: the cores the broker does not have; unpinned otherwise)
  --seconds S             measured window (default: 20)
  --warmup-seconds S      (default: 8)
  --repeat N              runs of each case, each on a fresh broker (default: 1)
  --partitions N          (default: 8)
  --connections N         load generator connections (default: 4)
  --in-flight N           requests in flight per connection (default: 4)
  --batch-records N       1 KiB records per batch (default: 16)
  --acks 1|all            (default: 1)
  --compression C         none, lz4, zstd (default: none)
  --topic-config K=V      a config of the benchmark's topic, on both brokers, e.g.
                          compression.type=zstd (repeatable)
  --brook-set KEY=VALUE   (repeatable)
  --brook-cpu-prof DIR    run Brook under node --cpu-prof (profiles in DIR/<cpu set>/)
  --quiet-cores C         wait before each run until other processes use at most C cores (default: 0.3)
  --quiet-wait SECONDS    ... for at most this long (default: 60)
  --out FILE              results JSON (default: bench/results/cores.json; "-" = none)
`;

type Case = {
  broker: BrokerName;
  cpuSet: string;
  loadgenCpus: string | undefined;
  run: number;
  result: PhaseResult | undefined;
  brokerCores: number | undefined;
  error: string | undefined;
  busyBefore: number;
};

const t0 = performance.now();
function log(line: string): void {
  process.stdout.write(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
}

function parse(argv: string[]) {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: {
      brokers: { type: 'string', default: 'kafka,brook' }, 'cpu-sets': { type: 'string', default: '0;0,1' },
      'loadgen-cpus': { type: 'string' }, seconds: { type: 'string', default: '20' }, 'warmup-seconds': { type: 'string', default: '8' },
      repeat: { type: 'string', default: '1' }, partitions: { type: 'string', default: '8' }, connections: { type: 'string', default: '4' },
      'in-flight': { type: 'string', default: '4' }, 'batch-records': { type: 'string', default: '16' }, acks: { type: 'string', default: '1' },
      compression: { type: 'string', default: 'none' },
      'topic-config': { type: 'string', multiple: true, default: [] }, 'brook-set': { type: 'string', multiple: true, default: [] },
      'brook-cpu-prof': { type: 'string' }, 'quiet-cores': { type: 'string', default: '0.3' }, 'quiet-wait': { type: 'string', default: '60' },
      out: { type: 'string', default: 'bench/results/cores.json' }, help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const brokers = values.brokers.split(',').map((b) => b.trim());
  for (const b of brokers) if (b !== 'kafka' && b !== 'brook') throw new Error(`--brokers: unknown broker ${b}`);
  const cpuSets = values['cpu-sets'].split(';').map((s) => s.trim()).filter((s) => s !== '');
  for (const s of cpuSets) if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(s)) throw new Error(`--cpu-sets: not a taskset CPU list: ${s}`);
  return { ...values, brokers: brokers as BrokerName[], cpuSets, repeat: Number(values.repeat) };
}

/** CPUs of a taskset list ("0,2-3" → [0,2,3]). */
function cpusOf(list: string): number[] {
  return list.split(',').flatMap((part) => {
    const [a, b] = part.split('-').map(Number);
    return b === undefined ? [a!] : Array.from({ length: b - a! + 1 }, (_, i) => a! + i);
  });
}

async function waitQuiet(quietCores: number, quietWaitSeconds: number): Promise<number> {
  const start = performance.now();
  let warned = false;
  for (;;) {
    const busy = await machineBusyCores(1000);
    if (busy <= quietCores) return busy;
    if ((performance.now() - start) / 1000 >= quietWaitSeconds) {
      log(`machine still busy (${busy.toFixed(2)} cores in use by other processes); measuring anyway`);
      return busy;
    }
    if (!warned) log(`waiting for the machine to quiet down (${busy.toFixed(2)} cores busy, want <= ${quietCores})`);
    warned = true;
  }
}

/** Runs bench/loadgen.ts as a child (under taskset when `cpuList`), returns its measured phase. */
function runLoadgenChild(broker: RunningBroker, cpuList: string | undefined, args: string[]): Promise<PhaseResult> {
  const node = join(repoRoot, 'node_modules/.bin/node');
  const loadgenArgs = [join(repoRoot, 'bench/loadgen.ts'), '--bootstrap', broker.bootstrap, '--broker-pid', String(broker.pid), ...args];
  const [command, argv] = cpuList === undefined ? [node, loadgenArgs] : ['taskset', ['-c', cpuList, node, ...loadgenArgs]];
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let measured: PhaseResult | undefined;
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  createInterface({ input: child.stdout }).on('line', (line) => {
    const r = JSON.parse(line) as PhaseResult;
    log(`  ${r.phase}: ${Math.round(r.recordsPerSecond).toLocaleString('en-US')} records/s, ${r.mibPerSecond.toFixed(1)} MiB/s, ` +
      `broker ${r.brokerCpuSecondsPerGiB?.toFixed(2)} CPU s/GiB (${((r.brokerCpuSeconds ?? 0) / r.seconds).toFixed(2)} cores; main thread ${r.brokerMainThreadCpuSecondsPerGiB?.toFixed(2)}), ` +
      `loadgen ${r.loadgenCpuSecondsPerGiB.toFixed(2)} CPU s/GiB${Object.keys(r.errors).length > 0 ? `, errors ${JSON.stringify(r.errors)}` : ''}`);
    if (r.phase === 'measure') measured = r;
  });
  return new Promise((resolveRun, reject) => {
    child.on('close', (code) => {
      if (measured !== undefined && code === 0) resolveRun(measured);
      else reject(new Error(`loadgen exited with ${code}${measured !== undefined ? ` (errors ${JSON.stringify(measured.errors)})` : ''}: ${stderr.trim()}`));
    });
  });
}

let current: RunningBroker | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping the broker`);
    const broker = current;
    void (broker?.stop() ?? Promise.resolve()).finally(() => {
      if (broker !== undefined) removeWorkDir(broker, false);
      process.exit(130);
    });
  });
}

async function main(): Promise<number> {
  let o: ReturnType<typeof parse>;
  try {
    o = parse(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (o.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const all = cpus().map((_, i) => i);
  const uptime = readFileSync('/proc/loadavg', 'utf8').trim();
  log(`machine: ${all.length} CPUs, load average ${uptime}`);
  const loadgenArgs = ['--create-topic', '--topic', 'cores', '--partitions', o.partitions, '--connections', o.connections, '--in-flight', o['in-flight'],
    '--batch-records', o['batch-records'], '--acks', o.acks, '--compression', o.compression, '--seconds', o.seconds, '--warmup-seconds', o['warmup-seconds'],
    ...o['topic-config'].flatMap((kv) => ['--topic-config', kv])];
  const cases: Case[] = [];
  for (const name of o.brokers) {
    for (const cpuSet of o.cpuSets) {
      for (let run = 1; run <= o.repeat; run++) {
        const free = all.filter((c) => !cpusOf(cpuSet).includes(c));
        const loadgenCpus = o['loadgen-cpus'] ?? (free.length > 0 ? free.join(',') : undefined);
        const c: Case = { broker: name, cpuSet, loadgenCpus, run, result: undefined, brokerCores: undefined, error: undefined, busyBefore: 0 };
        cases.push(c);
        c.busyBefore = await waitQuiet(Number(o['quiet-cores']), Number(o['quiet-wait']));
        const profDir = o['brook-cpu-prof'] === undefined ? undefined : resolve(o['brook-cpu-prof'], cpuSet.replace(/,/g, '+'));
        if (profDir !== undefined) mkdirSync(profDir, { recursive: true });
        let broker: RunningBroker | undefined;
        try {
          broker = name === 'kafka'
            ? await startKafka({ heapOpts: KAFKA_HEAP_OPTS, cpuList: cpuSet })
            : await startBrook({ settings: o['brook-set'], cpuList: cpuSet, cpuProfileDir: profDir });
          current = broker;
          log(`== ${name} on CPUs ${cpuSet} (run ${run}/${o.repeat}), pid ${broker.pid}; load generator ${loadgenCpus === undefined ? 'unpinned' : `on CPUs ${loadgenCpus}`}`);
          c.result = await runLoadgenChild(broker, loadgenCpus, loadgenArgs);
          c.brokerCores = (c.result.brokerCpuSeconds ?? 0) / c.result.seconds;
        } catch (err) {
          c.error = (err as Error).message;
          log(`${name} on ${cpuSet}: ${c.error}`);
        } finally {
          if (broker !== undefined) {
            await broker.stop();
            current = undefined;
            removeWorkDir(broker, false);
          }
        }
      }
    }
  }

  const lines = [
    '| broker | CPUs | run | records/s | MiB/s | broker CPU s/GiB | main thread CPU s/GiB | broker cores busy | loadgen CPU s/GiB | others busy before (cores) |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...cases.map((c) => c.result === undefined ? `| ${c.broker} | ${c.cpuSet} | ${c.run} | failed: ${c.error} | | | | | | |`
      : `| ${c.broker} | ${c.cpuSet} | ${c.run} | ${Math.round(c.result.recordsPerSecond).toLocaleString('en-US')} | ${c.result.mibPerSecond.toFixed(1)} | ` +
        `${c.result.brokerCpuSecondsPerGiB?.toFixed(2)} | ${c.result.brokerMainThreadCpuSecondsPerGiB?.toFixed(2)} | ${c.brokerCores?.toFixed(2)} | ${c.result.loadgenCpuSecondsPerGiB.toFixed(2)} | ${c.busyBefore.toFixed(2)} |`),
  ];
  const best = (broker: BrokerName, cpuSet: string): number | undefined => {
    const rates = cases.filter((c) => c.broker === broker && c.cpuSet === cpuSet && c.result !== undefined).map((c) => c.result!.recordsPerSecond);
    return rates.length === 0 ? undefined : Math.max(...rates);
  };
  const scaling: Record<string, number | undefined> = {};
  if (o.cpuSets.length >= 2) {
    const [one, two] = [o.cpuSets[0]!, o.cpuSets.at(-1)!];
    for (const name of o.brokers) {
      const a = best(name, one);
      const b = best(name, two);
      scaling[name] = a === undefined || b === undefined ? undefined : b / a;
      lines.push('', `${name}: ${two} vs ${one} throughput (best runs): ${scaling[name]?.toFixed(2) ?? 'n/a'}x`);
    }
  }
  process.stdout.write(`\n${lines.join('\n')}\n`);
  if (o.out !== '-') {
    const out = resolve(o.out);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify({ generatedAt: new Date().toISOString(), command: ['npm run bench:cores --', ...process.argv.slice(2)].join(' '),
      loadAverageAtStart: uptime, cases, scaling }, null, 2)}\n`);
    log(`results written to ${out}`);
  }
  return cases.some((c) => c.error !== undefined) ? 1 : 0;
}

process.exitCode = await main();
