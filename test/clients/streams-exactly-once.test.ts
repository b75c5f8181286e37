/**
 * Kafka Streams exactly_once_v2 on three broker processes (issue 13's headline proof): the word
 * count of test/java/WordCount.java (repartition topic, changelog, output, all RF 3 with
 * min.insync.replicas 2) runs while the test SIGKILLs the leader of an input partition and, later,
 * the broker coordinating the application's transactional id, restarting each. At the end the
 * output topic read with read_committed holds, for every word, the counts 1, 2, ..., n in order
 * with n its true count in the input topic: exact final counts and no duplicate or lost update.
 * Runs against Brook (broker processes on a real kube-apiserver) and, with
 * BROOK_TEST_TARGET=kafka, against three Apache Kafka processes.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import type { Admin, Producer } from 'kafkajs';
import { startProcessFleet, type ProcessFleetHandle } from '../harness/fleet.ts';
import { kafkaLibsDir } from '../harness/paths.ts';
import { createTopicAndWait } from '../harness/topics.ts';
import { compileJavaPrograms, expectSuccess, javaProgram, kafkaTool } from '../harness/tools.ts';

const { Kafka, logLevel } = kafkajs;

const APP = 'wordcount';
const INPUT = 'wc-lines';
const OUTPUT = 'wc-counts';
const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet',
  'kilo', 'lima', 'mike', 'november', 'oscar', 'papa', 'quebec', 'romeo', 'sierra', 'tango'];

let fleet: ProcessFleetHandle;
let admin: Admin;
let kafka: InstanceType<typeof Kafka>;
let producer: Producer;
let streams: ChildProcess | null = null;
let streamsOut = '';
let streamsErr = '';
let stateDir: string;
let feeder: { stop(): Promise<number> } | undefined;

beforeAll(async () => {
  compileJavaPrograms();
  fleet = await startProcessFleet(3, {
    'default.replication.factor': '3',
    'min.insync.replicas': '2',
    'offsets.topic.replication.factor': '3',
    'transaction.state.log.replication.factor': '3',
    'transaction.state.log.min.isr': '2',
    'transaction.state.log.num.partitions': '5',
    'offsets.topic.num.partitions': '5',
    'group.initial.rebalance.delay.ms': '0',
    'auto.create.topics.enable': 'false',
  });
  kafka = new Kafka({ brokers: fleet.bootstrap.split(','), logLevel: logLevel.NOTHING,
    retry: { retries: 60, initialRetryTime: 100, maxRetryTime: 1000 } });
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  stateDir = mkdtempSync(join(tmpdir(), 'brook-streams-'));
}, 300_000);

afterAll(async () => {
  await feeder?.stop().catch(() => 0);
  await killStreams();
  await producer?.disconnect();
  await admin?.disconnect();
  await fleet?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
}, 60_000);

async function waitFor(cond: () => Promise<boolean> | boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\nstreams stdout:\n${streamsOut}\nstreams stderr:\n${streamsErr.slice(-6000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Line i: five words picked from WORDS by i, so the true counts are known and uneven. */
const line = (i: number) => Array.from({ length: 5 }, (_, k) => WORDS[(i * (k + 3) + k * k) % WORDS.length]).join(' ');

/** Whether a kafkajs error, or one it wraps, is OUT_OF_ORDER_SEQUENCE_NUMBER. */
function outOfOrderSequence(e: unknown): boolean {
  for (let c = e as { type?: string; cause?: unknown } | undefined; c; c = c.cause as typeof c) {
    if (c.type === 'OUT_OF_ORDER_SEQUENCE_NUMBER') return true;
  }
  return false;
}

/**
 * Sends lines 0, 1, 2, ... to the input topic, 10 every 100 ms, until stopped; resolves to the
 * count acknowledged. kafkajs's idempotent producer does not recover from OUT_OF_ORDER_SEQUENCE_NUMBER
 * after a leader moves (it keeps its producer id and sequence; tulios/kafkajs#598), which stopped
 * the feeder, and so the output, in one CI run against Apache Kafka. On that error the feeder
 * starts a new producer (a new producer id) and sends the batch again: the input then may hold
 * a batch twice, which the true counts below include, since they are read back from the topic.
 */
function feedLines(): { stop(): Promise<number> } {
  let stopped = false;
  let next = 0;
  let restarts = 0;
  const done = (async () => {
    while (!stopped) {
      const messages = Array.from({ length: 10 }, (_, j) => ({ key: `line-${next + j}`, value: line(next + j) }));
      try {
        await producer.send({ topic: INPUT, acks: -1, messages });
      } catch (e) {
        if (!outOfOrderSequence(e) || ++restarts > 5) throw e;
        console.warn(`input producer: ${(e as Error).message}; starting a new idempotent producer (${restarts})`);
        await producer.disconnect().catch(() => undefined);
        producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
        await producer.connect();
        continue;
      }
      next += messages.length;
      await new Promise((r) => setTimeout(r, 100));
    }
    return next;
  })();
  return { stop: () => { stopped = true; return done; } };
}

const unhex = (h: string) => (h === 'null' ? '' : Buffer.from(h.slice(2), 'hex').toString('utf8'));

/** The topic's records as [key, value] in partition-then-offset order. */
async function readTopic(topic: string, isolation: string): Promise<Array<[string, string]>> {
  const r = expectSuccess(await javaProgram('AssignConsumer', [fleet.bootstrap, topic, '90000', `isolation.level=${isolation}`], { timeoutMs: 120_000 }));
  return r.stdout.toString().split('\n').filter((l) => l)
    .map((l) => l.split(' '))
    .sort((a, b) => Number(a[0]) - Number(b[0]) || Number(a[1]) - Number(b[1]))
    .map((f) => [unhex(f[3]!), unhex(f[4]!)]);
}

/** Each word's count updates in output order. */
async function countUpdates(): Promise<Map<string, number[]>> {
  const updates = new Map<string, number[]>();
  for (const [word, count] of await readTopic(OUTPUT, 'read_committed')) {
    updates.set(word, [...(updates.get(word) ?? []), Number(count)]);
  }
  return updates;
}

async function leaderOf(topic: string, partition: number): Promise<number> {
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  return meta.topics[0]!.partitions.find((p) => p.partitionId === partition)!.leader;
}

/** The broker coordinating the Streams application's transactional id (kafka-transactions.sh list). */
async function streamsCoordinator(): Promise<number> {
  const r = expectSuccess(await kafkaTool('org.apache.kafka.tools.TransactionsCommand', ['--bootstrap-server', fleet.bootstrap, 'list']));
  const row = r.stdout.toString().split('\n').map((l) => l.trim().split(/\s+/)).find((f) => f[0]?.startsWith(`${APP}-`));
  if (!row) throw new Error(`no transaction of ${APP} listed:\n${r.stdout.toString()}`);
  return Number(row[1]);
}

/** Starts WordCount (the same state directory each time), collecting its output. */
function startStreams(): void {
  streamsOut = '';
  streams = spawn('java', ['-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
    '-cp', `${compileJavaPrograms()}:${kafkaLibsDir()}/*`, 'WordCount', fleet.bootstrap, APP, INPUT, OUTPUT, stateDir, '3',
],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  streams.stdout!.setEncoding('utf8');
  streams.stderr!.setEncoding('utf8');
  streams.stdout!.on('data', (s: string) => { streamsOut += s; });
  streams.stderr!.on('data', (s: string) => { streamsErr = (streamsErr + s).slice(-100_000); });
}

async function killStreams(): Promise<void> {
  const child = streams;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

/** Kills a broker, waits until the topics' partitions are led elsewhere, restarts it. */
async function killAndRestart(broker: number): Promise<void> {
  await fleet.kill(broker);
  await waitFor(async () => {
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [INPUT, OUTPUT] });
      return meta.topics.every((t) => t.partitions.every((p) => p.leader !== broker && p.leader >= 0));
    } catch {
      return false;
    }
  }, `leaders moved off broker ${broker}`, 60_000);
  await fleet.restart(broker);
}

test('Kafka Streams exactly_once_v2 word count keeps exact counts while the input leader and the transaction coordinator are SIGKILLed', async () => {
  for (const topic of [INPUT, OUTPUT]) {
    expect(await createTopicAndWait(admin, { topic, numPartitions: 3, replicationFactor: 3,
      configEntries: [{ name: 'min.insync.replicas', value: '2' }] }, 60_000)).toBe(true);
  }
  feeder = feedLines();

  startStreams();
  const outputEnd = async () => (await admin.fetchTopicOffsets(OUTPUT)).reduce((n, p) => n + Number(p.high), 0);
  const progress = async (what: string) => {
    const before = await outputEnd();
    await waitFor(async () => await outputEnd() > before, what, 120_000);
  };
  await waitFor(async () => streamsOut.includes('state RUNNING') && await outputEnd() > 0, 'the Streams app running and writing', 180_000);

  // while lines keep arriving: SIGKILL the leader of input partition 0, then the transaction coordinator
  const inputLeader = await leaderOf(INPUT, 0);
  await killAndRestart(inputLeader);
  await progress('output after the input leader came back');
  const coordinator = await streamsCoordinator();
  await killAndRestart(coordinator);
  await progress('output after the transaction coordinator came back');
  // and the application itself, which restores its counts from the changelog
  await killStreams();
  startStreams();
  await progress('output after the Streams app restarted');
  const sent = await feeder.stop();

  // the true counts, from what the input topic holds: Streams counts what is there. Its end
  // normally covers every line the feeder had acknowledged (a new leader's high watermark may lag
  // for a moment); a shortfall is the input producer's loss (seen once against Apache Kafka with
  // kafkajs's idempotent producer across the kills), reported, not this test's subject.
  const inputEnd = async () => (await admin.fetchTopicOffsets(INPUT)).reduce((n, p) => n + Number(p.high), 0);
  await waitFor(async () => await inputEnd() >= sent, 'the input end', 60_000).catch(async () => {
    console.warn(`the input topic holds ${await inputEnd()} lines of the ${sent} the feeder had acknowledged`);
  });
  const truth = new Map<string, number>();
  for (const [, text] of await readTopic(INPUT, 'read_uncommitted')) {
    for (const word of text.toLowerCase().split(/\W+/).filter((w) => w)) truth.set(word, (truth.get(word) ?? 0) + 1);
  }

  let updates = new Map<string, number[]>();
  await waitFor(async () => {
    updates = await countUpdates();
    return [...truth].every(([word, n]) => (updates.get(word)?.at(-1) ?? 0) >= n);
  }, 'every word counted up to its true count in the output', 240_000);
  expect(new Set(updates.keys())).toEqual(new Set(truth.keys()));
  for (const [word, n] of truth) {
    expect({ word, counts: updates.get(word) }).toEqual({ word, counts: Array.from({ length: n }, (_, i) => i + 1) });
  }
  expect(streams!.exitCode).toBeNull();
}, 900_000);
