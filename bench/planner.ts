/**
 * Rebalance planner time: 10,000 partitions (RF 3) on 50 brokers in 5 racks, from skewed starts.
 * Pure CPU, no brokers; each scenario is planned `--runs` times (default 5) and the table shows
 * the first run (cold: the JIT has not warmed up; scenarios run in order, so only the
 * first scenario's is truly cold), the fastest and the median wall time, and the process CPU time
 * (user + system) of the fastest and median run, which a loaded machine inflates less than the
 * wall time; input generation is not timed.
 *
 *   node bench/planner.ts [--partitions 10000] [--brokers 50] [--runs 5]
 */
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { placeReplicas, planRebalance, seededRandom } from '../broker/placement/index.ts';
import type { CurrentPartition, PlannerBroker, RebalancePlan } from '../broker/placement/index.ts';

const { values } = parseArgs({ options: { partitions: { type: 'string' }, brokers: { type: 'string' }, runs: { type: 'string' } } });
const PARTITIONS = Number(values.partitions ?? 10_000);
const BROKERS = Number(values.brokers ?? 50);
const RUNS = Number(values.runs ?? 5);
const RACKS = 5;
const RF = 3;
const TOPICS = 100;
const MIB = 1024 ** 2;


const all: PlannerBroker[] = Array.from({ length: BROKERS }, (_, id) => ({ id, rack: `zone-${id % RACKS}` }));

/** Topics placed on the first `on` brokers (as if the cluster had only those), sizes skewed (a few large topics). */
function assignment(on: number, rnd: () => number): CurrentPartition[] {
  const out: CurrentPartition[] = [];
  const perTopic = Math.ceil(PARTITIONS / TOPICS);
  for (let t = 0; out.length < PARTITIONS; t++) {
    const count = Math.min(perTopic, PARTITIONS - out.length);
    const placed = placeReplicas({ brokers: all.slice(0, on), partitions: count, replicationFactor: RF, random: rnd });
    const topicScale = rnd() < 0.1 ? 1000 : 10; // one topic in ten is large
    placed.forEach((replicas, partition) => out.push({
      topic: `topic-${t}`, partition, replicas, leader: replicas[0]!, isr: replicas,
      sizeBytes: BigInt(Math.floor(rnd() * topicScale * MIB)),
    }));
  }
  return out;
}

interface Scenario { name: string; brokers: PlannerBroker[]; partitions: CurrentPartition[] }
const scenarios: Scenario[] = [
  { name: `scale-up: placed on 10 brokers, ${BROKERS} now`, brokers: all, partitions: assignment(10, seededRandom(1)) },
  { name: `skewed: placed on ${BROKERS}, 10 hot brokers hold a second copy set`, brokers: all, partitions: skewed(seededRandom(2)) },
  { name: `drain: ${BROKERS} balanced, the last 5 draining`, brokers: all.map((b) => ({ ...b, draining: b.id >= BROKERS - 5 })), partitions: assignment(BROKERS, seededRandom(3)) },
];

/** Balanced placement, then a third of the partitions moved wholesale onto brokers 0-9 (rack-spread kept). */
function skewed(rnd: () => number): CurrentPartition[] {
  return assignment(BROKERS, rnd).map((p, i) => {
    if (i % 3 !== 0) return p;
    const replicas = [i % 10, (i + 1) % 10, (i + 2) % 10];
    return { ...p, replicas, leader: replicas[0]!, isr: replicas };
  });
}

console.log(`planner: ${PARTITIONS} partitions, RF ${RF}, ${BROKERS} brokers in ${RACKS} racks, ${RUNS} runs per scenario (node ${process.version}; ${cpus().length} cores, load average ${loadavg()[0]!.toFixed(1)})\n`);
console.log('| scenario | first run ms | best ms | median ms | CPU ms, best / median | partitions moved | replicas moved | GiB moved (of total) | replicas/broker after | leaders/broker after | heaviest broker bytes / mean, before → after | est. at 50 MiB/s | balanced |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const s of scenarios) {
  const times: number[] = [];
  const cpu: number[] = [];
  let plan: RebalancePlan | undefined;
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    plan = planRebalance({ brokers: s.brokers, partitions: s.partitions, random: seededRandom(100 + r), throttleBytesPerSecond: 50 * MIB });
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  const first = times[0]!;
  times.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const p = plan!;
  const active = p.brokers.filter((b) => b.state === 'active');
  const range = (f: (b: (typeof active)[number]) => number): string => `${Math.min(...active.map(f))}-${Math.max(...active.map(f))}`;
  const totalBytes = s.partitions.reduce((sum, q) => sum + Number(q.sizeBytes) * q.replicas.length, 0);
  const mean = totalBytes / active.length;
  const heaviest = (f: (b: (typeof active)[number]) => bigint): string => (Math.max(...p.brokers.map((b) => Number(f(b)))) / mean).toFixed(2);
  const gib = (x: number): string => (x / 1024 ** 3).toFixed(0);
  console.log(`| ${s.name} | ${first.toFixed(0)} | ${times[0]!.toFixed(0)} | ${times[Math.floor(times.length / 2)]!.toFixed(0)} | ${cpu[0]!.toFixed(0)} / ${cpu[Math.floor(cpu.length / 2)]!.toFixed(0)} | ${p.totals.partitionsMoved} | ${p.totals.replicasMoved} | ${gib(Number(p.totals.bytesMoved))} (of ${gib(totalBytes)}) | ${range((b) => b.after.replicas)} | ${range((b) => b.after.leaders)} | ${heaviest((b) => b.before.bytes)} → ${heaviest((b) => b.after.bytes)} | ${(p.estimatedSeconds! / 3600).toFixed(1)} h | ${p.balanced}${p.issues.length ? ` (${p.issues.map((i) => i.code).join(', ')})` : ''} |`);
}
