/**
 * The consumer group protocol (KIP-848) with the Apache Kafka Java consumer (test/tools/kafka/pom.xml's
 * version) and `group.protocol=consumer`: three members in separate JVMs (test/java/GroupMember.java)
 * join one after the other and one leaves, while records keep arriving; every member commits
 * synchronously after each batch. The group rebalances on each join and leave (the server-side
 * `uniform` assignor spreads 6 partitions 6 / 3+3 / 2+2+2 / 3+3), every acknowledged record is
 * consumed, and none twice (a partition moves only after its owner committed and revoked it).
 * `kafka-consumer-groups --describe` shows the group, its members and its committed offsets.
 * Also run against Apache Kafka (BROOK_TEST_TARGET=kafka).
 */
import { afterAll, afterEach, beforeAll, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import kafkajs from 'kafkajs';
import type { Admin, Producer } from 'kafkajs';
import { startBroker, stopAllBrokers } from '../harness/brook.ts';
import type { BrokerHandle } from '../harness/brook.ts';
import { kafkaLibsDir } from '../harness/paths.ts';
import { createTopicAndWait } from '../harness/topics.ts';
import { compileJavaPrograms, expectSuccess, kafkaTool } from '../harness/tools.ts';

const { Kafka, logLevel } = kafkajs;
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

const PARTITIONS = 6;
let broker: BrokerHandle;
let admin: Admin;
let producer: Producer;

beforeAll(async () => {
  compileJavaPrograms();
  // heartbeats every second (Kafka's default is 5 s), so that reconciliation steps are quick
  broker = await startBroker({ set: {
    'auto.create.topics.enable': 'false', 'group.initial.rebalance.delay.ms': '0',
    'group.consumer.heartbeat.interval.ms': '1000', 'group.consumer.min.heartbeat.interval.ms': '1000',
  } });
  const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
}, 300_000);

afterAll(async () => {
  await producer?.disconnect();
  await admin?.disconnect();
  await stopAllBrokers();
});

/** A GroupMember JVM, its output parsed as it arrives. */
class Member {
  readonly name: string;
  readonly child: ChildProcess;
  readonly owned = new Set<number>();
  /** `partition:offset` → key, in the order consumed. */
  readonly records: Array<{ partition: number; offset: number; key: string }> = [];
  readonly events: string[] = [];
  private out = '';
  private err = '';
  readonly exited: Promise<number | null>;

  constructor(name: string, args: string[]) {
    this.name = name;
    const classes = compileJavaPrograms();
    this.child = spawn('java', ['-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
      '-cp', `${classes}:${kafkaLibsDir()}/*`, 'GroupMember', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8');
    this.child.stderr!.setEncoding('utf8');
    this.child.stdout!.on('data', (s: string) => {
      this.out += s;
      let nl: number;
      while ((nl = this.out.indexOf('\n')) >= 0) {
        this.line(this.out.slice(0, nl));
        this.out = this.out.slice(nl + 1);
      }
    });
    this.child.stderr!.on('data', (s: string) => { this.err += s; });
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  private line(l: string): void {
    const [kind, a, b, c] = l.split(' ');
    const parts = (s: string | undefined) => (s && s !== '-' ? s.split(',').map(Number) : []);
    if (kind === 'record') this.records.push({ partition: Number(a), offset: Number(b), key: c! });
    else this.events.push(l);
    if (kind === 'assigned') for (const p of parts(a)) this.owned.add(p);
    if (kind === 'revoked' || kind === 'lost') for (const p of parts(a)) this.owned.delete(p);
  }

  /** Closes stdin: the member closes its consumer (leaving the group) and exits. */
  async stop(): Promise<void> {
    this.child.stdin!.end();
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([this.exited, new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), 60_000); })]);
    clearTimeout(timer);
    if (code !== 0) throw new Error(`${this.name} did not stop cleanly (${code}):\n${this.events.join('\n')}\n${this.err.slice(-4000)}`);
  }

  describe(): string { return `${this.name}: owns [${[...this.owned].sort()}] ${this.records.length} records; events ${this.events.join(' | ')}\n${this.err.slice(-2000)}`; }
}

const members: Member[] = [];
afterEach(() => { for (const m of members.splice(0)) if (m.child.exitCode === null) m.child.kill('SIGKILL'); });

async function waitUntil(what: string, cond: () => boolean, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${members.map((m) => m.describe()).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every partition owned by exactly one live member, with these counts. */
function spread(live: Member[], counts: number[]): boolean {
  const owners = live.flatMap((m) => [...m.owned]);
  return owners.length === PARTITIONS && new Set(owners).size === PARTITIONS
    && JSON.stringify(live.map((m) => m.owned.size).sort()) === JSON.stringify([...counts].sort());
}

let sent = 0;
/** Produces `n` records (keys r<sent>...) spread over the partitions; returns their `partition:offset` → key. */
async function produce(topic: string, n: number, acked: Map<string, string>): Promise<void> {
  const messages = Array.from({ length: n }, (_, i) => ({ key: `r${sent + i}`, value: `v${sent + i}`, partition: (sent + i) % PARTITIONS }));
  sent += n;
  const result = await producer.send({ topic, acks: -1, messages });
  // kafkajs reports the base offset per partition; the records of a partition are consecutive
  for (const r of result) {
    const mine = messages.filter((m) => m.partition === r.partition);
    mine.forEach((m, i) => acked.set(`${r.partition}:${Number(r.baseOffset) + i}`, m.key));
  }
}

test('three Java consumers with group.protocol=consumer: the group rebalances on each join and leave, every record is consumed once, commits hold; kafka-consumer-groups --describe shows the group', async () => {
  const topic = `kip848-${process.pid}`;
  const group = `kip848-group-${process.pid}`;
  await createTopicAndWait(admin, { topic, numPartitions: PARTITIONS, replicationFactor: 1 });
  const acked = new Map<string, string>();
  await produce(topic, 300, acked);

  const start = (name: string) => {
    const m = new Member(name, [broker.bootstrap, topic, group, 'consumer', name]);
    members.push(m);
    return m;
  };
  const a = start('member-a');
  await waitUntil('member-a owns every partition', () => spread([a], [6]));
  await produce(topic, 300, acked);
  const b = start('member-b');
  await waitUntil('a and b own 3 partitions each', () => spread([a, b], [3, 3]));
  await produce(topic, 300, acked);
  const c = start('member-c');
  await waitUntil('a, b and c own 2 partitions each', () => spread([a, b, c], [2, 2, 2]));
  await produce(topic, 300, acked);
  await waitUntil('every record so far consumed', () => members.reduce((n, m) => n + m.records.length, 0) >= acked.size);

  // kafka-consumer-groups shows the consumer-protocol group, its three members and its offsets
  const groups = (...args: string[]) => kafkaTool('org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', ['--bootstrap-server', broker.bootstrap, ...args]);
  const state = expectSuccess(await groups('--describe', '--group', group, '--state'));
  // GROUP COORDINATOR (ID) ASSIGNMENT-STRATEGY STATE #MEMBERS
  expect(state.stdout.toString()).toMatch(new RegExp(`${group}\\s+\\S+\\s+\\(\\d+\\)\\s+uniform\\s+Stable\\s+3\\b`));
  const described = expectSuccess(await groups('--describe', '--group', group, '--members'));
  for (const m of [a, b, c]) expect(described.stdout.toString()).toMatch(new RegExp(`${group}\\s+\\S+\\s+\\S+\\s+${m.name}\\s+2\\b`));
  const offsets = expectSuccess(await groups('--describe', '--group', group));
  const offsetRows = offsets.stdout.toString().split('\n').filter((l) => l.startsWith(group) && l.includes(topic));
  expect(offsetRows).toHaveLength(PARTITIONS);
  for (const row of offsetRows) expect(row.split(/\s+/)[5]).toBe('0'); // LAG: all committed

  await b.stop();
  await waitUntil('a and c own 3 partitions each after b left', () => spread([a, c], [3, 3]));
  await produce(topic, 300, acked);
  await waitUntil('every record consumed', () => members.reduce((n, m) => n + m.records.length, 0) >= acked.size, 120_000);
  await a.stop();
  await c.stop();

  const consumed = new Map<string, string[]>();
  for (const m of members) for (const r of m.records) consumed.set(`${r.partition}:${r.offset}`, [...(consumed.get(`${r.partition}:${r.offset}`) ?? []), `${m.name}:${r.key}`]);
  const missing = [...acked.keys()].filter((k) => !consumed.has(k));
  const twice = [...consumed].filter(([, by]) => by.length > 1);
  const wrongKey = [...acked].filter(([k, key]) => consumed.has(k) && !consumed.get(k)!.every((by) => by.endsWith(`:${key}`)));
  expect({ missing, twice, wrongKey }).toEqual({ missing: [], twice: [], wrongKey: [] });
  expect(members.flatMap((m) => m.events).filter((e) => e.startsWith('commit-failed') || e.startsWith('lost'))).toEqual([]);

  // the group's commits stand: a new member starts where the others stopped and has nothing to read
  const last = expectSuccess(await groups('--describe', '--group', group, '--offsets'));
  const rows = last.stdout.toString().split('\n').filter((l) => l.startsWith(group) && l.includes(topic));
  expect(rows.map((l) => l.split(/\s+/)[5])).toEqual(Array(PARTITIONS).fill('0'));
}, 480_000);
