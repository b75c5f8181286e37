/**
 * Chaos across processes on the Kubernetes store: three broker processes (RF 3, min ISR 2),
 * idempotent acks=all producers writing throughout — kafkajs, and the Apache Kafka Java client
 * (test/java/KeyedProducer, one record per request) — and a checker that, 20 times, takes
 * down the leader of a partition — SIGKILL and a restart on the same data, or SIGSTOP long
 * enough for a new leader to be elected and then SIGCONT (the old leader must step down and
 * follow). At the end the shared checker (test/harness/chaos-checker.ts) reads the segment files
 * of every replica in the ISR: they are byte-identical up to the high watermark, every record
 * either client had acknowledged is at the partition and offset its acknowledgement named, and
 * nothing appears twice. kcat then reads every partition as a consumer and sees each
 * acknowledged record at its offset.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { checkAcknowledged, replicaFromDirectory, waitForReplicas } from '../harness/chaos-checker.ts';
import type { AckedRecord, PartitionEvidence } from '../harness/chaos-checker.ts';
import { describeRun, expectSuccess, javaProgram, requireKcat, run } from '../harness/tools.ts';
import { useApiServer } from './jest.ts';
import { partitionStates, startBrokerFleet, waitFor, type FleetNode } from './broker-processes.ts';

const api = useApiServer();
const ns = 'chaos';
const KILLS = 20;
const PARTITIONS = 3;

let fleet: Awaited<ReturnType<typeof startBrokerFleet>>;

async function kill9(node: FleetNode): Promise<void> {
  const child = node.child!;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  node.child = null;
}

/** Partition state as the Topic resource's status has it. */
const chaosStates = () => partitionStates(api(), ns, 'chaos');

beforeAll(async () => {
  requireKcat();
  fleet = await startBrokerFleet(api(), { namespace: ns });
}, 120_000);

afterAll(() => fleet?.stop());

test(`${KILLS} leader kills (SIGKILL) and pauses (SIGSTOP) across processes lose no acknowledged record of either client on any in-sync replica and duplicate nothing`, async () => {
  const bootstrap = fleet.bootstrap();
  const kafka = new Kafka({ brokers: bootstrap, logLevel: logLevel.NOTHING, retry: { retries: 100, initialRetryTime: 100, maxRetryTime: 1000 } });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: ['chaos', 'chaos-java'].map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] })) });
  await admin.disconnect();
  await waitFor(async () => (await chaosStates()).every((p) => p.isr.length === 3) && (await chaosStates()).length === PARTITIONS, 'the topic placed and in sync');

  // The Java client retries through every failover within its delivery timeout; it prints
  // "i partition offset" for each acknowledged record once all are acknowledged.
  const JAVA_RECORDS = 6000;
  const javaRun = javaProgram('KeyedProducer', [bootstrap.join(','), 'chaos-java', String(JAVA_RECORDS),
    'batch.size=1', 'linger.ms=0', 'max.in.flight.requests.per.connection=1', 'delivery.timeout.ms=300000', 'request.timeout.ms=10000'], { timeoutMs: 540_000 });

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const acked: AckedRecord[] = [];
  let producing = true;
  let failed = 0;
  const load = (async () => {
    for (let i = 0; producing; i++) {
      const partition = i % PARTITIONS;
      const value = `p${partition}-${i}`;
      try {
        const [meta] = await producer.send({ topic: 'chaos', acks: -1, timeout: 10_000, messages: [{ value, partition }] });
        acked.push({ client: 'kafkajs', partition: meta!.partition, offset: BigInt(meta!.baseOffset!), value });
      } catch {
        failed++;
      }
    }
  })();

  for (let round = 0; round < KILLS; round++) {
    const p = round % PARTITIONS;
    const states = await chaosStates();
    const victim = fleet.nodes[states[p]!.leader]!;
    const before = acked.length;
    if (round % 2 === 0) {
      await kill9(victim);
      await waitFor(async () => { const s = (await chaosStates())[p]!; return s.leader >= 0 && s.leader !== victim.id; }, `failover of partition ${p} after SIGKILL`);
      await fleet.start(victim);
    } else {
      victim.child!.kill('SIGSTOP');
      try {
        await waitFor(async () => { const s = (await chaosStates())[p]!; return s.leader >= 0 && s.leader !== victim.id; }, `failover of partition ${p} after SIGSTOP`);
      } finally {
        victim.child!.kill('SIGCONT');
      }
    }
    await waitFor(async () => (await chaosStates()).every((s) => s.isr.length === 3), `every ISR whole again (round ${round})`, 60_000);
    await waitFor(() => acked.length >= before + 10, 'progress after the failover');
  }
  producing = false;
  await load;
  await producer.disconnect();
  const java = await javaRun;
  if (java.code !== 0) throw new Error(`the Java producer failed:\n${describeRun(java)}`);
  const javaAcks: AckedRecord[] = java.stdout.toString().trim().split('\n').map((l) => {
    const [i, partition, offset] = l.split(' ');
    return { client: 'java', partition: Number(partition), offset: BigInt(offset!), value: `value-${i}` };
  });
  expect(javaAcks).toHaveLength(JAVA_RECORDS);

  const admin2 = kafka.admin();
  await admin2.connect();
  let bytesCompared = 0;
  try {
    for (const [topic, records] of [['chaos', acked], ['chaos-java', javaAcks]] as const) {
      // every replica back in the ISR, and each read from its segment files once it has caught up
      try {
        await waitFor(async () => (await partitionStates(api(), ns, topic)).every((s) => s.isr.length === 3), `every ISR of ${topic} whole again`, 60_000);
      } catch (err) {
        const logs = fleet.nodes.map((n) => `--- broker ${n.id} (stderr, last lines)\n${n.log.split('\n').slice(-15).join('\n')}`).join('\n');
        throw new Error(`${(err as Error).message}: ${JSON.stringify(await partitionStates(api(), ns, topic))}\n${logs}`);
      }
      const evidence = await waitForReplicas(async (): Promise<PartitionEvidence[]> => {
        const states = await partitionStates(api(), ns, topic);
        const offsets = await admin2.fetchTopicOffsets(topic);
        return states.map((s) => {
          const highWatermark = BigInt(offsets.find((o) => o.partition === s.partition)!.high);
          const inSync = [s.leader, ...s.isr.filter((r) => r !== s.leader)];
          return {
            partition: s.partition,
            highWatermark,
            inSync: inSync.map((id) => replicaFromDirectory(`broker ${id}`, join(fleet.nodes[id]!.dataDir, `${topic}-${s.partition}`), highWatermark)),
          };
        });
      }, records);
      expect({ topic, inSync: evidence.map((e) => e.inSync.length) }).toEqual({ topic, inSync: [3, 3, 3] });
      const report = checkAcknowledged(records, evidence);
      expect({ topic, problems: report.problems }).toEqual({ topic, problems: [] });
      expect({ topic, verified: report.verified }).toEqual({ topic, verified: records.length * 3 });
      bytesCompared += report.bytesCompared;

      // and a consumer (kcat) reads each acknowledged record at its offset
      for (let p = 0; p < PARTITIONS; p++) {
        const read = await run('kcat', ['-b', bootstrap.join(','), '-C', '-t', topic, '-p', String(p), '-o', 'beginning', '-e', '-f', '%o %s\\n'], { timeoutMs: 60_000 });
        expectSuccess(read);
        const byOffset = new Map(read.stdout.toString().split('\n').filter((l) => l !== '').map((l) => [BigInt(l.split(' ')[0]!), l.split(' ')[1]!]));
        const wrong = records.filter((a) => a.partition === p && byOffset.get(a.offset) !== a.value);
        expect({ topic, partition: p, missingOrDifferent: wrong.slice(0, 10) }).toEqual({ topic, partition: p, missingOrDifferent: [] });
      }
    }
  } finally {
    await admin2.disconnect();
  }
  process.stderr.write(`chaos (processes, Kubernetes store): kafkajs ${acked.length} records acknowledged (${failed} sends failed), Java ${JAVA_RECORDS} acknowledged, across ${KILLS} kills/pauses; ${bytesCompared} replica bytes compared\n`);
}, 600_000);
