/**
 * Consumer groups with kafkajs 2.2.4: a group of consumers on a 6-partition topic reads every
 * record exactly once and in order per partition while producers write, a member leaves and
 * another joins; committed offsets survive a broker restart; a member that stops heartbeating is
 * removed after its session timeout and its partitions go to the others.
 *
 * "Exactly once" is checked through the commits: a member commits the offset after a batch before
 * it counts the batch, so a record counts as read only if the coordinator accepted the commit for
 * it. A coordinator that fences stale members (generations, member ids) and hands partitions over
 * at committed offsets makes the counted records equal the produced ones, each once, in order.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import kafkajs from 'kafkajs';
import type { Admin, Consumer, Kafka as KafkaClient, Producer } from 'kafkajs';
import { startBroker, stopAllBrokers } from '../harness/brook.ts';
import type { BrokerHandle } from '../harness/brook.ts';
import { createTopicAndWait } from '../harness/topics.ts';

const { Kafka, logLevel } = kafkajs;
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

const PARTITIONS = 6;

let broker: BrokerHandle;

beforeAll(async () => {
  broker = await startBroker({ set: { 'auto.create.topics.enable': 'false', 'group.initial.rebalance.delay.ms': '0' } });
}, 120_000);

afterAll(async () => {
  await stopAllBrokers();
});

function client(bootstrap: string, clientId: string): KafkaClient {
  return new Kafka({ clientId, brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 200 } });
}

let seq = 0;
const name = (what: string) => `groups-kafkajs-${what}-${process.pid}-${seq++}`;

async function withAdmin<T>(bootstrap: string, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = client(bootstrap, 'groups-admin').admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Polls `predicate` every 100 ms; fails with `describe()` after `timeoutMs`. */
/**
 * Waits until the group's coordinator answers DescribeGroups (without an error): Apache Kafka loads
 * a __consumer_offsets partition a while after its first FindCoordinator, and kafkajs's consumer
 * gives up (a CRASH event) on COORDINATOR_LOAD_IN_PROGRESS in some of its paths, which is not what
 * these tests are about.
 */
async function coordinatorLoaded(bootstrap: string, groupId: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    // kafkajs's describeGroups throws on the coordinator's error codes
    const answered = await withAdmin(bootstrap, async (admin) => (await admin.describeGroups([groupId])).groups.length === 1).catch(() => false);
    if (answered) return;
    if (Date.now() > deadline) throw new Error(`the coordinator of ${groupId} did not answer DescribeGroups within 60 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function until(what: string, predicate: () => boolean, timeoutMs: number, describe: () => unknown = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${JSON.stringify(describe())}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Produced records by partition, in offset order: value `<tag>:p<partition>:<n>`, key `k<partition>-<n>`. */
class Produced {
  readonly byPartition: string[][] = Array.from({ length: PARTITIONS }, () => []);
  get total(): number { return this.byPartition.reduce((n, p) => n + p.length, 0); }
}

/** Sends `perPartition[p]` records to each partition p (one acked request per round, in order). */
async function produceRound(producer: Producer, topic: string, produced: Produced, perPartition: number[], tag: string): Promise<void> {
  const messages = perPartition.flatMap((count, partition) => Array.from({ length: count }, () => {
    const n = produced.byPartition[partition].length;
    produced.byPartition[partition].push(`${tag}:p${partition}:${n}`);
    return { partition, key: `k${partition}-${n}`, value: `${tag}:p${partition}:${n}` };
  }));
  await producer.send({ topic, acks: -1, messages });
}

/** Writes one record to every partition every `intervalMs` until stopped. */
function produceContinuously(producer: Producer, topic: string, produced: Produced, intervalMs = 25): { stop(): Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) {
      await produceRound(producer, topic, produced, Array(PARTITIONS).fill(1), 'live');
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return { async stop() { running = false; await loop; } };
}

interface Read { member: string; partition: number; offset: number; key: string; value: string }

interface Member {
  name: string;
  consumer: Consumer;
  /** Partitions of the latest assignment (GROUP_JOIN). */
  assignment: number[];
  memberId: string;
  joins: number;
  /** Error types of commits the coordinator refused. */
  refused: string[];
  crashes: string[];
}

interface MemberOptions {
  sessionTimeout?: number;
  /** Called before each batch is committed; a member that awaits here stops heartbeating. */
  beforeCommit?: () => Promise<void>;
}

/**
 * A group member that commits each batch's next offset before counting the batch in `reads`.
 * A refused commit throws, so kafkajs rejoins and the batch is fetched again by its new owner.
 */
async function startMember(kafka: KafkaClient, memberName: string, groupId: string, topic: string, reads: Read[], opts: MemberOptions = {}): Promise<Member> {
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: opts.sessionTimeout ?? 10_000,
    rebalanceTimeout: 20_000,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 200,
    retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  const member: Member = { name: memberName, consumer, assignment: [], memberId: '', joins: 0, refused: [], crashes: [] };
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    member.assignment = [...(e.payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b);
    member.memberId = e.payload.memberId;
    member.joins++;
  });
  consumer.on(consumer.events.CRASH, (e) => { member.crashes.push(String(e.payload.error)); });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary, isRunning }) => {
      if (batch.messages.length === 0 || !isRunning()) return;
      if (opts.beforeCommit) await opts.beforeCommit();
      const last = batch.messages[batch.messages.length - 1].offset;
      const next = String(Number(last) + 1);
      try {
        await commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition: batch.partition, offset: next }] }] });
      } catch (e) {
        member.refused.push((e as { type?: string }).type ?? String(e));
        throw e;
      }
      for (const m of batch.messages) {
        reads.push({ member: memberName, partition: batch.partition, offset: Number(m.offset), key: String(m.key), value: String(m.value) });
      }
      resolveOffset(last);
    },
  });
  return member;
}

/** Reads grouped by partition in the order they were counted, as `offset key value`. */
function readsByPartition(reads: readonly Read[]): string[][] {
  const out: string[][] = Array.from({ length: PARTITIONS }, () => []);
  for (const r of reads) out[r.partition].push(`${r.offset} ${r.key} ${r.value}`);
  return out;
}

function expectedByPartition(produced: Produced, from: number[] = Array(PARTITIONS).fill(0)): string[][] {
  return produced.byPartition.map((values, partition) =>
    values.slice(from[partition]).map((v, i) => `${from[partition] + i} k${partition}-${from[partition] + i} ${v}`));
}

/** True when the members' latest assignments split all partitions, `sizes` each (in member order). */
function splitAs(members: readonly Member[], sizes: readonly number[]): boolean {
  const all = members.flatMap((m) => m.assignment).sort((a, b) => a - b);
  return members.every((m, i) => m.assignment.length === sizes[i])
    && JSON.stringify(all) === JSON.stringify(Array.from({ length: PARTITIONS }, (_, i) => i));
}

/**
 * OffsetFetch through the admin client, retried while the coordinator is loading or moving (as
 * after a restart: Apache Kafka reloads its __consumer_offsets partitions). kafkajs names those
 * errors GROUP_LOAD_IN_PROGRESS (14), GROUP_COORDINATOR_NOT_AVAILABLE (15) and
 * NOT_COORDINATOR_FOR_GROUP (16).
 */
const retriableCoordinatorTypes = ['GROUP_LOAD_IN_PROGRESS', 'GROUP_COORDINATOR_NOT_AVAILABLE', 'NOT_COORDINATOR_FOR_GROUP'];
async function committedOffsets(bootstrap: string, groupId: string, topic: string): Promise<number[]> {
  return withAdmin(bootstrap, async (admin) => {
    const deadline = Date.now() + 120_000;
    for (;;) {
      try {
        const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
        return t.partitions.sort((a, b) => a.partition - b.partition).map((p) => Number(p.offset));
      } catch (e) {
        const type = (e as { type?: string }).type ?? '';
        if (!retriableCoordinatorTypes.includes(type) || Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  });
}

describe('a kafkajs consumer group', () => {
  test('3 consumers on 6 partitions read every record exactly once, in order, while one leaves and another joins', async () => {
    const topic = name('churn');
    const groupId = name('churn-group');
    await withAdmin(broker.bootstrap, (admin) => createTopicAndWait(admin, { topic, numPartitions: PARTITIONS }));
    await coordinatorLoaded(broker.bootstrap, groupId);
    const kafka = client(broker.bootstrap, 'groups-churn');
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const produced = new Produced();
    const reads: Read[] = [];
    const members: Member[] = [];
    const state = () => ({ produced: produced.total, read: reads.length, members: members.map((m) => ({ name: m.name, assignment: m.assignment, refused: m.refused, crashes: m.crashes })) });
    try {
      // some backlog before anyone reads, then a steady stream
      await produceRound(producer, topic, produced, [50, 60, 70, 80, 90, 100], 'backlog');
      const stream = produceContinuously(producer, topic, produced);
      try {
        for (const n of ['c1', 'c2', 'c3']) members.push(await startMember(kafka, n, groupId, topic, reads));
        const [c1, c2, c3] = members;
        await until('3 members with 2 partitions each', () => splitAs([c1, c2, c3], [2, 2, 2]), 60_000, state);
        let mark = reads.length;
        await until('progress with 3 members', () => reads.length > mark + 300, 60_000, state);

        // c2 leaves (LeaveGroup on disconnect); c1 and c3 take its partitions
        await c2.consumer.disconnect();
        await until('c1 and c3 with 3 partitions each', () => splitAs([c1, c3], [3, 3]), 60_000, state);
        mark = reads.length;
        await until('progress after c2 left', () => reads.length > mark + 300, 60_000, state);

        // c4 joins
        const c4 = await startMember(kafka, 'c4', groupId, topic, reads);
        members.push(c4);
        await until('c1, c3, c4 with 2 partitions each', () => splitAs([c1, c3, c4], [2, 2, 2]), 60_000, state);
        mark = reads.length;
        await until('progress after c4 joined', () => reads.length > mark + 300, 60_000, state);
      } finally {
        await stream.stop();
      }
      await until('every produced record read', () => reads.length >= produced.total, 60_000, state);
      // a little longer: anything read twice would show up now
      await new Promise((r) => setTimeout(r, 1500));

      expect(readsByPartition(reads)).toEqual(expectedByPartition(produced));
      // every member that held partitions read some of them; c2's reads ended when it left
      expect(new Set(reads.map((r) => r.member))).toEqual(new Set(['c1', 'c2', 'c3', 'c4']));
      expect(await committedOffsets(broker.bootstrap, groupId, topic)).toEqual(produced.byPartition.map((p) => p.length));
      expect(members.flatMap((m) => m.crashes)).toEqual([]);
    } finally {
      await Promise.all(members.map((m) => m.consumer.disconnect()));
      await producer.disconnect();
    }
  }, 300_000);

  test('a member that stops heartbeating is removed after its session timeout; its partitions are reassigned and its late commit is refused', async () => {
    const topic = name('stuck');
    const groupId = name('stuck-group');
    await withAdmin(broker.bootstrap, (admin) => createTopicAndWait(admin, { topic, numPartitions: PARTITIONS }));
    const kafka = client(broker.bootstrap, 'groups-stuck');
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const produced = new Produced();
    const reads: Read[] = [];
    let stallArmed = false;
    let stalledAt = 0;
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => { release = resolve; });
    const sessionTimeout = 6000;
    let healthy: Member | undefined;
    let stuck: Member | undefined;
    const state = () => ({ produced: produced.total, read: reads.length, healthy: healthy?.assignment, stuck: stuck?.assignment, stalledAt, refused: stuck?.refused });
    try {
      await produceRound(producer, topic, produced, Array(PARTITIONS).fill(10), 'before');
      healthy = await startMember(kafka, 'healthy', groupId, topic, reads, { sessionTimeout: 30_000 });
      stuck = await startMember(kafka, 'stuck', groupId, topic, reads, {
        sessionTimeout,
        beforeCommit: async () => {
          if (!stallArmed) return;
          if (stalledAt === 0) stalledAt = Date.now();
          await released; // no heartbeats from here on: kafkajs heartbeats between batches
        },
      });
      const h = healthy;
      const s = stuck;
      await until('both members with 3 partitions', () => splitAs([h, s], [3, 3]), 60_000, state);
      await until('the backlog read', () => reads.length === produced.total, 60_000, state);
      const joinsBefore = h.joins;
      stallArmed = true;
      await produceRound(producer, topic, produced, Array(PARTITIONS).fill(10), 'during');
      await until('the stuck member to stall', () => stalledAt > 0, 30_000, state);

      await until('the healthy member to own all 6 partitions', () => h.joins > joinsBefore && h.assignment.length === PARTITIONS, sessionTimeout + 30_000, state);
      const removedAfter = Date.now() - stalledAt;
      // the last heartbeat was at most one interval (500 ms) before the stall
      expect(removedAfter).toBeGreaterThanOrEqual(sessionTimeout - 1000);
      await produceRound(producer, topic, produced, Array(PARTITIONS).fill(10), 'after');
      await until('every produced record read', () => reads.length >= produced.total, 60_000, state);
      await new Promise((r) => setTimeout(r, 1000));
      expect(readsByPartition(reads)).toEqual(expectedByPartition(produced));
      expect(reads.filter((r) => r.member === 'stuck' && !r.value.startsWith('before:'))).toEqual([]);

      const described = await withAdmin(broker.bootstrap, (admin) => admin.describeGroups([groupId]));
      expect(described.groups[0].state).toBe('Stable');
      expect(described.groups[0].members.map((m) => m.memberId)).toEqual([h.memberId]);
      expect(await committedOffsets(broker.bootstrap, groupId, topic)).toEqual(produced.byPartition.map((p) => p.length));

      // the removed member wakes up: its commit is refused because it is no longer a member
      const stuckMemberId = s.memberId;
      release();
      await until('the late commit to be refused', () => s.refused.length > 0, 30_000, state);
      expect(s.refused[0]).toBe('UNKNOWN_MEMBER_ID');
      expect(stuckMemberId).not.toBe('');
      expect(await committedOffsets(broker.bootstrap, groupId, topic)).toEqual(produced.byPartition.map((p) => p.length));
    } finally {
      release();
      await Promise.all([healthy, stuck].map((m) => m?.consumer.disconnect()));
      await producer.disconnect();
    }
  }, 180_000);
});

describe('committed offsets across a broker restart', () => {
  test('SIGTERM, restart on the same data dir: a new member resumes exactly after the committed offsets (default initial rebalance delay)', async () => {
    // default group.initial.rebalance.delay.ms (3000): every first join of the group waits for it
    // (set explicitly: the Kafka reference harness otherwise starts with 0)
    const restartSettings = { 'auto.create.topics.enable': 'false', 'group.initial.rebalance.delay.ms': '3000' };
    const first = await startBroker({ set: restartSettings });
    const topic = name('restart');
    const groupId = name('restart-group');
    const produced = new Produced();
    const reads: Read[] = [];
    const before = [50, 51, 52, 53, 54, 55];
    const afterCommit = [20, 21, 22, 23, 24, 25];
    {
      await withAdmin(first.bootstrap, (admin) => createTopicAndWait(admin, { topic, numPartitions: PARTITIONS }));
      const kafka = client(first.bootstrap, 'groups-restart-1');
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      await produceRound(producer, topic, produced, before, 'before');
      const members: Member[] = [];
      try {
        const joinStarted = Date.now();
        members.push(await startMember(kafka, 'a', groupId, topic, reads), await startMember(kafka, 'b', groupId, topic, reads));
        await until('both members assigned', () => splitAs(members, [3, 3]) || members.some((m) => m.assignment.length === PARTITIONS), 60_000);
        expect(Date.now() - joinStarted).toBeGreaterThanOrEqual(2900);
        await until('the first round read', () => reads.length >= produced.total, 60_000, () => reads.length);
        await new Promise((r) => setTimeout(r, 1000));
      } finally {
        await Promise.all(members.map((m) => m.consumer.disconnect()));
      }
      expect(readsByPartition(reads)).toEqual(expectedByPartition(produced));
      // records written after the last commit: the new member must start exactly here
      await produceRound(producer, topic, produced, afterCommit, 'after');
      await producer.disconnect();
      expect(await committedOffsets(first.bootstrap, groupId, topic)).toEqual(before);
    }
    expect(await first.stop()).toBe(0);

    const second = await startBroker({ dataDir: first.dataDir, port: first.port, set: restartSettings });
    expect(await committedOffsets(second.bootstrap, groupId, topic)).toEqual(before);
    const kafka = client(second.bootstrap, 'groups-restart-2');
    const resumed: Read[] = [];
    const member = await startMember(kafka, 'resumed', groupId, topic, resumed);
    try {
      const expected = afterCommit.reduce((a, b) => a + b, 0);
      await until('the records after the commit', () => resumed.length >= expected, 60_000, () => ({ read: resumed.length, assignment: member.assignment }));
      await new Promise((r) => setTimeout(r, 1500));
      expect(readsByPartition(resumed)).toEqual(expectedByPartition(produced, before));
      expect(await committedOffsets(second.bootstrap, groupId, topic)).toEqual(before.map((n, p) => n + afterCommit[p]));
    } finally {
      await member.consumer.disconnect();
      await second.stop();
    }
  }, 300_000);
});
