/**
 * Consumer-group rebalance time, Brook vs Apache Kafka on the same machine, one after the other:
 * 10 kafkajs consumers join one group on an 8-partition topic at once; the time is from the
 * first `run()` to the moment every member has joined and the 8 partitions are all assigned
 * (kafkajs GROUP_JOIN events). One warm-up round, then several rounds with a fresh group each;
 * prints the medians and
 * the ratio Brook/Kafka (target ≤ 1.0×).
 *
 *   npm run bench:groups [-- --rounds 5 --members 10]
 */
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { startBrook, startKafka, KAFKA_HEAP_OPTS, BROOK_BASE_SETTINGS } from './brokers.ts';
import type { RunningBroker } from './brokers.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string' }, members: { type: 'string' }, help: { type: 'boolean' } } });
if (values.help) {
  process.stdout.write('Usage: npm run bench:groups [-- --rounds N (5) --members N (10)]\n');
  process.exit(0);
}
const ROUNDS = Number(values.rounds ?? 5);
const MEMBERS = Number(values.members ?? 10);
const PARTITIONS = 8;

async function rebalanceMs(bootstrap: string, topic: string, groupId: string): Promise<number> {
  const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING, clientId: 'bench-groups' });
  const consumers = Array.from({ length: MEMBERS }, () => kafka.consumer({ groupId, sessionTimeout: 30_000, rebalanceTimeout: 60_000 }));
  await Promise.all(consumers.map(async (c) => { await c.connect(); await c.subscribe({ topic, fromBeginning: true }); }));
  const assigned = new Map<number, number>();
  const started = Date.now();
  const settled = new Promise<number>((resolve) => {
    consumers.forEach((c, i) => {
      c.on(c.events.GROUP_JOIN, (e) => {
        const parts = Object.values(e.payload.memberAssignment as Record<string, number[]>).reduce((n, p) => n + p.length, 0);
        assigned.set(i, parts);
        const total = [...assigned.values()].reduce((a, b) => a + b, 0);
        if (assigned.size === MEMBERS && total === PARTITIONS) resolve(Date.now() - started);
      });
    });
  });
  await Promise.all(consumers.map((c) => c.run({ eachMessage: async () => undefined })));
  const ms = await settled;
  await Promise.all(consumers.map((c) => c.disconnect()));
  return ms;
}

async function measure(broker: RunningBroker): Promise<number[]> {
  const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'bench-groups', numPartitions: PARTITIONS }] });
  await admin.disconnect();
  // warm-up (unmeasured): creates __consumer_offsets and warms both sides up
  await rebalanceMs(broker.bootstrap, 'bench-groups', 'bench-group-warmup');
  const times: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const ms = await rebalanceMs(broker.bootstrap, 'bench-groups', `bench-group-${r}`);
    process.stderr.write(`[groups] ${broker.name} round ${r + 1}/${ROUNDS}: ${ms} ms\n`);
    times.push(ms);
  }
  return times;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const results: Record<string, number[]> = {};
for (const name of ['kafka', 'brook'] as const) {
  process.stderr.write(`[groups] starting ${name}\n`);
  const broker = name === 'kafka' ? await startKafka({ heapOpts: KAFKA_HEAP_OPTS }) : await startBrook({ settings: BROOK_BASE_SETTINGS });
  try {
    results[name] = await measure(broker);
  } finally {
    await broker.stop();
  }
}
const k = median(results.kafka!);
const b = median(results.brook!);
process.stdout.write(`rebalance of a ${MEMBERS}-member group on ${PARTITIONS} partitions (median of ${ROUNDS}):\n`);
process.stdout.write(`  Kafka ${k} ms   Brook ${b} ms   Brook/Kafka ${(b / k).toFixed(2)}x (target <= 1.0x)\n`);
process.exit(0);
