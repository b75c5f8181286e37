/**
 * Failover time of a local 3-broker fleet with default settings (broker.session.timeout.ms,
 * broker.heartbeat.interval.ms): the leader of a partition is crashed (no controlled shutdown)
 * and the time until the metadata names a new leader is measured; the broker is restarted and
 * allowed back into the ISR between rounds. Also counts metadata-store writes per failover.
 *
 *   npm run bench:failover [-- --rounds 5]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalFleet } from '../broker/local-fleet.ts';
import { MemoryStore } from '../broker/metadata/index.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string' } } });
const ROUNDS = Number(values.rounds ?? 5);
const dataDir = mkdtempSync(join(tmpdir(), 'brook-failover-'));
const store = new MemoryStore();
let writes = 0;
const update = store.updateTopic.bind(store);
store.updateTopic = (...args) => { writes++; return update(...args); };

const fleet = new LocalFleet({ brokers: 3, host: '127.0.0.1', basePort: 0, metricsBasePort: null, dataDir, store, settings: {}, logLevel: 'error' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean): Promise<void> { while (!cond()) await sleep(5); }

await fleet.startAll();
await until(() => fleet.brokers.every((b) => b.liveBrokers().length === 3));
await fleet.brokers[0]!.admin.create({ name: 'failover', numPartitions: 3, replicationFactor: 3, assignments: [], configs: {} });
const state = () => fleet.brokers[0]!.topic('failover')?.partitions[0];
await until(() => state() !== undefined);
const times: number[] = [];
const writesPer: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const victim = state()!.leader;
  const before = writes;
  const t0 = performance.now();
  await fleet.crash(victim);
  await until(() => { const s = fleet.brokers[0]!.topic('failover')!.partitions[0]!; return s.leader >= 0 && s.leader !== victim; });
  times.push(Math.round(performance.now() - t0));
  writesPer.push(writes - before);
  await fleet.start(victim);
  await until(() => fleet.brokers.every((b) => b.topic('failover')!.partitions.every((p) => p.isr.length === 3)));
  process.stderr.write(`[failover] round ${r + 1}/${ROUNDS}: ${times.at(-1)} ms, ${writesPer.at(-1)} topic writes\n`);
}
await fleet.stopAll();
rmSync(dataDir, { recursive: true, force: true });
const sorted = [...times].sort((a, b) => a - b);
process.stdout.write(`failover (crash -> new leader in metadata), defaults: median ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted.at(-1)} ms (target <= 5000 ms); topic writes per failover: ${writesPer.join(', ')}\n`);
process.exit(0);
