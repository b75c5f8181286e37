/**
 * kcat's balanced consumer (`-G`, librdkafka's KafkaConsumer with the classic group protocol)
 * against a real broker: one member reads everything and commits on exit (checked with
 * OffsetFetch); a second run of the same group reads only what came after the commit; two members
 * split the partitions and together read each record once.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import kafkajs from 'kafkajs';
import type { Admin } from 'kafkajs';
import { startBackground } from '../harness/background.ts';
import type { BackgroundProcess } from '../harness/background.ts';
import { startBroker, stopAllBrokers } from '../harness/brook.ts';
import type { BrokerHandle } from '../harness/brook.ts';
import { createTopicAndWait } from '../harness/topics.ts';
import { describeRun, expectSuccess, kcat, requireKcat } from '../harness/tools.ts';

const { Kafka, logLevel } = kafkajs;

let broker: BrokerHandle;
let admin: Admin;

beforeAll(async () => {
  requireKcat();
  broker = await startBroker({ set: { 'auto.create.topics.enable': 'false', 'group.initial.rebalance.delay.ms': '0' } });
  admin = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
}, 120_000);

afterAll(async () => {
  await admin?.disconnect();
  await stopAllBrokers();
});

let seq = 0;
const name = (what: string) => `kcat-g-${what}-${process.pid}-${seq++}`;

async function createTopic(what: string, numPartitions: number): Promise<string> {
  const topic = name(what);
  expect(await createTopicAndWait(admin, { topic, numPartitions })).toBe(true);
  return topic;
}

/** Produces `perPartition[p]` records to partition p with kcat, keys `k<p>-<n>`, values `<tag>-p<p>-<n>`; returns the lines `p offset key value` expected back. */
async function produce(topic: string, perPartition: number[], tag: string, firstOffsets: number[] = perPartition.map(() => 0)): Promise<string[]> {
  const expected: string[] = [];
  for (const [partition, count] of perPartition.entries()) {
    const lines = Array.from({ length: count }, (_, i) => `k${partition}-${firstOffsets[partition] + i}:${tag}-p${partition}-${firstOffsets[partition] + i}`);
    // Idempotent: a produce retried under load (a timed-out request the broker did write) must not
    // duplicate records; Apache Kafka's log once held the first 25 of a partition twice.
    const r = expectSuccess(await kcat(['-b', broker.bootstrap, '-P', '-X', 'enable.idempotence=true', '-t', topic, '-p', String(partition), '-K:'], { input: lines.join('\n') + '\n' }));
    // Errors and failed deliveries, not librdkafka's retried warnings (%4: e.g. Kafka's "Coordinator
    // load in progress: retrying" while the idempotent producer gets its id).
    expect(r.stderr).not.toMatch(/ERROR|[Dd]elivery failed|^%[0-3]\|/m);
    lines.forEach((l, i) => expected.push(`${partition} ${firstOffsets[partition] + i} ${l.replace(':', ' ')}`));
  }
  return expected;
}

const FORMAT = '%p %o %k %s\\n';

function lines(out: Buffer | string): string[] {
  return out.toString().split('\n').filter((l) => l.length > 0);
}

/** Sorts `p offset key value` lines by partition, then offset. */
function byPartitionOffset(ls: string[]): string[] {
  const key = (l: string) => l.split(' ').slice(0, 2).map(Number);
  return [...ls].sort((a, b) => { const [pa, oa] = key(a); const [pb, ob] = key(b); return pa - pb || oa - ob; });
}

async function committed(groupId: string, topic: string): Promise<number[]> {
  const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return t.partitions.sort((a, b) => a.partition - b.partition).map((p) => Number(p.offset));
}

/** `kcat -G` until every assigned partition is at its end (-e). */
function groupConsume(groupId: string, topic: string) {
  return kcat(['-b', broker.bootstrap, '-G', groupId, '-X', 'auto.offset.reset=earliest', '-e', '-q', '-f', FORMAT, topic], { timeoutMs: 60_000 });
}

/** The partitions of `topic` in a member's latest "assigned:" rebalance line on stderr, or null before the first. */
function latestAssignment(member: BackgroundProcess, topic: string): number[] | null {
  const assigned = member.stderr().split('\n').filter((l) => /rebalanced.*assigned:/.test(l));
  if (assigned.length === 0) return null;
  const last = assigned[assigned.length - 1];
  const escaped = topic.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return [...last.matchAll(new RegExp(`${escaped} ?\\[(\\d+)\\]`, 'g'))].map((m) => Number(m[1])).sort((a, b) => a - b);
}

describe('kcat -G (balanced consumer)', () => {
  test('one member reads everything in order and commits; a second run reads only what came after the commit', async () => {
    const topic = await createTopic('single', 3);
    const groupId = name('single-group');
    const first = await produce(topic, [40, 70, 100], 'first');

    const r1 = expectSuccess(await groupConsume(groupId, topic));
    const read1 = lines(r1.stdout);
    expect(read1.length).toBe(first.length);
    // per-partition order as produced
    for (const p of [0, 1, 2]) expect(read1.filter((l) => l.startsWith(`${p} `))).toEqual(first.filter((l) => l.startsWith(`${p} `)));
    expect(await committed(groupId, topic)).toEqual([40, 70, 100]);

    const second = await produce(topic, [5, 0, 7], 'second', [40, 70, 100]);
    const r2 = expectSuccess(await groupConsume(groupId, topic));
    expect(byPartitionOffset(lines(r2.stdout))).toEqual(byPartitionOffset(second));
    expect(await committed(groupId, topic)).toEqual([45, 70, 107]);

    // the group is known to the broker, Empty now that kcat left
    const described = (await admin.describeGroups([groupId])).groups[0];
    expect({ state: described.state, protocolType: described.protocolType, members: described.members.length })
      .toEqual({ state: 'Empty', protocolType: 'consumer', members: 0 });
  }, 120_000);

  test('two members split 4 partitions 2/2 and together read every record once', async () => {
    const topic = await createTopic('pair', 4);
    const groupId = name('pair-group');
    const args = ['-b', broker.bootstrap, '-G', groupId, '-X', 'auto.offset.reset=earliest', '-u', '-f', FORMAT, topic];
    const a = startBackground('kcat', args);
    const b = startBackground('kcat', args);
    try {
      const split = () => {
        const pa = latestAssignment(a, topic);
        const pb = latestAssignment(b, topic);
        return pa !== null && pb !== null && pa.length === 2 && pb.length === 2
          && [...pa, ...pb].sort((x, y) => x - y).join() === '0,1,2,3';
      };
      await a.waitFor('a 2/2 split between the two members', split, 60_000);
      await b.waitFor('a 2/2 split between the two members', split, 1000);
      const expected = await produce(topic, [30, 40, 50, 60], 'pair');
      const readA = () => lines(a.stdout());
      const readB = () => lines(b.stdout());
      await a.waitFor('every record read by one of the members', () => readA().length + readB().length >= expected.length, 60_000);
      await new Promise((r) => setTimeout(r, 1000));

      const assignedA = latestAssignment(a, topic) ?? [];
      const assignedB = latestAssignment(b, topic) ?? [];
      expect(new Set(readA().map((l) => Number(l.split(' ')[0])))).toEqual(new Set(assignedA));
      expect(new Set(readB().map((l) => Number(l.split(' ')[0])))).toEqual(new Set(assignedB));
      expect(byPartitionOffset([...readA(), ...readB()])).toEqual(byPartitionOffset(expected));
      for (const p of [0, 1, 2, 3]) {
        const reader = assignedA.includes(p) ? readA() : readB();
        expect(reader.filter((l) => l.startsWith(`${p} `))).toEqual(expected.filter((l) => l.startsWith(`${p} `)));
      }
    } finally {
      const stopped = await Promise.all([a.stop('SIGTERM'), b.stop('SIGTERM')]);
      expect(stopped.map((s) => s.signal)).toEqual([null, null]);
    }
    // both committed on their way out
    expect(await committed(groupId, topic)).toEqual([30, 40, 50, 60]);
  }, 120_000);

  test('kcat -G on an empty topic: exits with -e at the end, no records, no errors', async () => {
    const topic = await createTopic('empty', 2);
    const r = await groupConsume(name('empty-group'), topic);
    expect({ code: r.code, timedOut: r.timedOut, stdout: r.stdout.toString() }).toEqual({ code: 0, timedOut: false, stdout: '' });
    expect(describeRun(r)).not.toMatch(/%[0-3]\|/);
  }, 60_000);
});
