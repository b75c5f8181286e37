/**
 * Consumer-group rebalance time, Brook vs Apache Kafka on the same machine, one after the other.
 *
 * kafkajs mode (default): 10 kafkajs consumers join one group on an 8-partition topic at once; the
 * time is from the first `run()` to the moment every member has joined and the 8 partitions are
 * all assigned (kafkajs GROUP_JOIN events). One warm-up round, then several rounds with a fresh
 * group each; prints the medians and the ratio Brook/Kafka (target ≤ 1.0×).
 *
 * Java mode (--java): the Apache Kafka Java consumer (test/tools/kafka/pom.xml's version), N
 * consumers in one JVM (test/java/RebalanceBench.java) on an N-partition topic, with
 * group.protocol=classic and =consumer (KIP-848); the time is from the first subscribe() to every
 * member owning exactly one partition. Both brokers run with their defaults (heartbeat interval
 * 5 s for the consumer protocol, group.initial.rebalance.delay.ms=0). One warm-up round per
 * protocol and size, then --rounds rounds; prints medians and ratios (consumer/classic, Brook/Kafka).
 *
 *   npm run bench:groups [-- --rounds 5 --members 10]
 *   npm run bench:groups -- --java [--rounds 3 --sizes 10,100]
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { compileJavaPrograms } from '../test/harness/tools.ts';
import { kafkaLibsDir, kafkaVersion } from '../test/harness/paths.ts';
import { startBrook, startKafka, KAFKA_HEAP_OPTS, BROOK_BASE_SETTINGS } from './brokers.ts';
import type { RunningBroker } from './brokers.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string' }, members: { type: 'string' }, java: { type: 'boolean' },
  sizes: { type: 'string' }, help: { type: 'boolean' } } });
if (values.help) {
  process.stdout.write('Usage: npm run bench:groups [-- --rounds N (5) --members N (10)]\n'
    + '       npm run bench:groups -- --java [--rounds N (3) --sizes 10,100]\n');
  process.exit(0);
}
if (values.java) {
  await javaBench();
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

function median(xs: number[]): number { return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!; }

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

/** Runs RebalanceBench in one JVM: `rounds` rounds of `members` consumers with `protocol`; the times in ms. */
function javaRounds(bootstrap: string, topic: string, group: string, protocol: string, members: number, rounds: number): Promise<number[]> {
  const classes = compileJavaPrograms();
  return new Promise((resolve, reject) => {
    const child = spawn('java', ['-Xmx1G', '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-cp', `${classes}:${kafkaLibsDir()}/*`, 'RebalanceBench',
      bootstrap, topic, group, protocol, String(members), String(rounds), '300000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`RebalanceBench ${protocol} ${members} exited ${code}:\n${out}\n${err.slice(-3000)}`));
      else resolve(out.split('\n').filter((l) => l.startsWith('round ')).map((l) => Number(l.split(' ')[2])));
    });
  });
}

async function javaBench(): Promise<void> {
  const rounds = Number(values.rounds ?? 3);
  const sizes = (values.sizes ?? '10,100').split(',').map(Number);
  const protocols = ['classic', 'consumer'] as const;
  const results = new Map<string, number>(); // broker/protocol/size → median ms
  for (const name of ['kafka', 'brook'] as const) {
    process.stderr.write(`[groups] starting ${name}\n`);
    const broker = name === 'kafka' ? await startKafka({ heapOpts: KAFKA_HEAP_OPTS }) : await startBrook({ settings: BROOK_BASE_SETTINGS });
    try {
      const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: sizes.map((n) => ({ topic: `bench-rebalance-${n}`, numPartitions: n })), waitForLeaders: true });
      await admin.disconnect();
      for (const size of sizes) {
        for (const protocol of protocols) {
          // one warm-up round (unmeasured), then the measured ones, in one JVM
          const times = (await javaRounds(broker.bootstrap, `bench-rebalance-${size}`, `bench-${protocol}-${size}`, protocol, size, rounds + 1)).slice(1);
          process.stderr.write(`[groups] ${name} ${protocol} ${size} members: ${times.join(', ')} ms\n`);
          results.set(`${name}/${protocol}/${size}`, median(times));
        }
      }
    } finally {
      await broker.stop();
    }
  }
  process.stdout.write(`Java consumer ${kafkaVersion()}: a group of N members forming on an N-partition topic, from the first subscribe() to every member owning one partition (median of ${rounds}, after a warm-up)\n`);
  process.stdout.write('| members | protocol | Kafka ms | Brook ms | Brook/Kafka |\n|---|---|---|---|---|\n');
  for (const size of sizes) {
    for (const protocol of protocols) {
      const k = results.get(`kafka/${protocol}/${size}`)!;
      const b = results.get(`brook/${protocol}/${size}`)!;
      process.stdout.write(`| ${size} | ${protocol} | ${k} | ${b} | ${(b / k).toFixed(2)}x |\n`);
    }
  }
  for (const name of ['kafka', 'brook']) {
    for (const size of sizes) {
      const ratio = results.get(`${name}/consumer/${size}`)! / results.get(`${name}/classic/${size}`)!;
      process.stdout.write(`${name}, ${size} members: consumer/classic ${ratio.toFixed(2)}x\n`);
    }
  }
}
