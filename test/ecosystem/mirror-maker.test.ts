/**
 * MirrorMaker 2 (connect-mirror of test/tools/connect/pom.xml) between two 3-broker fleets, run as
 * users run it: `org.apache.kafka.connect.mirror.MirrorMaker mm2.properties` with the replication
 * flow `src->dst` and MM2's defaults (topic config sync, ACL sync, checkpoints, heartbeats, 3
 * replicas for its internal topics). Only the intervals are shortened, so the test does not wait
 * a minute per checkpoint: checkpoints and group offset syncs every 5 s, and the group offset sync
 * (`sync.group.offsets.enabled=true`) turned on so the translated offsets land in the target's group.
 *
 * On the source: a topic with non-default configs and records, a consumer group (Kafka's console
 * consumer) that read it all and committed. On the target:
 * - `src.<topic>` exists with those configs synced;
 * - every record is copied, in order per partition;
 * - the group's offsets are translated: never past the source's committed offset (a consumer that
 *   moves over skips nothing), and at most `offset.lag.max` (100, the default) + 1 behind it once
 *   MM2's offset syncs up to the commit have reached its checkpoints;
 * - MM2's log has no ERROR line.
 * Against Brook: two `brook local` fleets; BROOK_TEST_TARGET=kafka: two Apache Kafka fleets.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import kafkajs from 'kafkajs';
import type { Admin } from 'kafkajs';
import { stopAllBrokers, tempDir } from '../harness/brook.ts';
import { errorLines, startMirrorMaker } from '../harness/connect.ts';
import type { JvmProcess } from '../harness/connect.ts';
import { startFleet } from '../harness/fleet.ts';
import type { FleetHandle } from '../harness/fleet.ts';
import { createTopicAndWait } from '../harness/topics.ts';
import { expectSuccess, kafkaTool, kcat, requireKcat } from '../harness/tools.ts';

const { Kafka, logLevel, ConfigResourceTypes } = kafkajs;

const TOPIC = 'orders';
const MIRRORED = `src.${TOPIC}`;
const GROUP = 'billing';
/** Non-default configs of the source topic that MM2 must copy (its default filter leaves out min.insync.replicas, message.timestamp.type, throttles). */
const TOPIC_CONFIGS: Record<string, string> = {
  'retention.ms': '3600000',
  'max.message.bytes': '2000000',
  'compression.type': 'gzip',
  'segment.bytes': '10485760',
  'cleanup.policy': 'delete',
  'min.compaction.lag.ms': '1000',
};
const RECORDS = 1200;

let source: FleetHandle;
let targetFleet: FleetHandle;
let sourceAdmin: Admin;
let targetAdmin: Admin;
let mm2: JvmProcess;
let committed: Map<number, bigint>;

async function waitUntil(what: string, cond: () => Promise<boolean>, timeoutMs: number, detail: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${detail()}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

const mmErrors = () => `--- MirrorMaker ERROR lines\n${errorLines(mm2.log()).join('\n')}\n--- MirrorMaker log (end)\n${mm2.log().slice(-5000)}`;

/** partition -> [key:value, ...] in offset order, read with kcat to the end of the partitions. */
async function records(bootstrap: string, topic: string): Promise<Map<number, string[]>> {
  const r = expectSuccess(await kcat(['-b', bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p\t%k:%s\n'], { timeoutMs: 60_000 }));
  const byPartition = new Map<number, string[]>();
  for (const line of r.stdout.toString('utf8').split('\n').filter(Boolean)) {
    const [p, kv] = line.split('\t') as [string, string];
    byPartition.set(Number(p), [...(byPartition.get(Number(p)) ?? []), kv]);
  }
  return byPartition;
}

async function groupOffsets(admin: Admin, topic: string): Promise<Map<number, bigint>> {
  const [t] = await admin.fetchOffsets({ groupId: GROUP, topics: [topic] });
  return new Map((t?.partitions ?? []).filter((p) => p.offset !== '-1').map((p) => [p.partition, BigInt(p.offset)]));
}

beforeAll(async () => {
  requireKcat();
  [source, targetFleet] = await Promise.all([startFleet(3), startFleet(3)]);
  sourceAdmin = new Kafka({ brokers: source.bootstrap.split(','), logLevel: logLevel.NOTHING }).admin();
  targetAdmin = new Kafka({ brokers: targetFleet.bootstrap.split(','), logLevel: logLevel.NOTHING }).admin();
  await Promise.all([sourceAdmin.connect(), targetAdmin.connect()]);

  await createTopicAndWait(sourceAdmin, { topic: TOPIC, numPartitions: 3, replicationFactor: 3,
    configEntries: Object.entries(TOPIC_CONFIGS).map(([name, value]) => ({ name, value })) });
  const input = Array.from({ length: RECORDS }, (_, i) => `key-${i % 37}:order-${i}`).join('\n') + '\n';
  expectSuccess(await kcat(['-b', source.bootstrap, '-P', '-t', TOPIC, '-K', ':'], { input }));
  // a group that read the whole topic: Kafka's console consumer commits its positions on exit
  const consumed = await kafkaTool('org.apache.kafka.tools.consumer.ConsoleConsumer', ['--bootstrap-server', source.bootstrap,
    '--topic', TOPIC, '--group', GROUP, '--from-beginning', '--max-messages', String(RECORDS)], { timeoutMs: 120_000 });
  expect([consumed.code, consumed.stdout.toString().split('\n').filter(Boolean).length]).toEqual([0, RECORDS]);
  committed = await groupOffsets(sourceAdmin, TOPIC);
  expect([...committed.values()].reduce((a, b) => a + b, 0n)).toBe(BigInt(RECORDS));

  mm2 = startMirrorMaker(tempDir('mm2-'), {
    clusters: 'src, dst',
    'src.bootstrap.servers': source.bootstrap,
    'dst.bootstrap.servers': targetFleet.bootstrap,
    'src->dst.enabled': 'true',
    'emit.checkpoints.interval.seconds': '5',
    'sync.group.offsets.enabled': 'true',
    'sync.group.offsets.interval.seconds': '5',
  });
}, 400_000);

afterAll(async () => {
  await mm2?.stop('SIGKILL');
  await Promise.all([sourceAdmin?.disconnect(), targetAdmin?.disconnect()]);
  await Promise.all([source?.stop(), targetFleet?.stop()]);
  await stopAllBrokers();
}, 120_000);

describe('MirrorMaker 2 between two clusters, default settings', () => {
  test(`${MIRRORED} exists on the target with the source topic's configs synced`, async () => {
    const configsOf = async (admin: Admin, topic: string) => {
      const described = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }] });
      return Object.fromEntries(described.resources[0]!.configEntries
        .filter((e) => e.configName in TOPIC_CONFIGS).map((e) => [e.configName, e.configValue]));
    };
    await waitUntil(`${MIRRORED} with its configs`, async () => {
      const c = await configsOf(targetAdmin, MIRRORED);
      return Object.keys(TOPIC_CONFIGS).every((k) => c[k] === TOPIC_CONFIGS[k]);
    }, 300_000, mmErrors);
    expect(await configsOf(targetAdmin, MIRRORED)).toEqual(TOPIC_CONFIGS);
    expect(await configsOf(sourceAdmin, TOPIC)).toEqual(TOPIC_CONFIGS);
    const meta = await targetAdmin.fetchTopicMetadata({ topics: [MIRRORED] });
    expect(meta.topics[0]!.partitions).toHaveLength(3);
  }, 320_000);

  test('every record is copied, in order per partition', async () => {
    const want = await records(source.bootstrap, TOPIC);
    expect([...want.values()].reduce((n, l) => n + l.length, 0)).toBe(RECORDS);
    await waitUntil('all records on the target', async () => {
      const offsets = await targetAdmin.fetchTopicOffsets(MIRRORED);
      return offsets.reduce((n, p) => n + Number(p.high), 0) >= RECORDS;
    }, 180_000, mmErrors);
    const got = await records(targetFleet.bootstrap, MIRRORED);
    expect(new Map([...got].sort())).toEqual(new Map([...want].sort()));
  }, 240_000);

  test('the consumer group\'s committed offsets are translated onto the target', async () => {
    // MM2 translates from its offset syncs, emitted at least every offset.lag.max (100) records and for the
    // last record at each offset commit: never past the source's commit (a consumer that moves over skips
    // nothing), and at most 101 behind it once the syncs up to the commit have reached the checkpoint
    // task. A checkpoint taken before that (the commit's own sync is sent at MM2's next offset commit,
    // and at most 10 syncs are in flight at a time) lags further, so the bound is waited for; being
    // past the commit, in any checkpoint seen while waiting, fails the test.
    let translated = new Map<number, bigint>();
    const bounds = () => [...committed].map(([p, o]) => [p, String(o), String(translated.get(p))]);
    const overshoots: string[] = [];
    await waitUntil(`group ${GROUP}'s offsets on ${MIRRORED}, within offset.lag.max + 1 of the source's`, async () => {
      translated = await groupOffsets(targetAdmin, MIRRORED);
      for (const [p, o] of committed) if ((translated.get(p) ?? -1n) > o) overshoots.push(JSON.stringify(bounds()));
      return [...committed].every(([p, o]) => translated.has(p) && o - translated.get(p)! <= 101n);
    }, 180_000, () => `[partition, committed on the source, translated on the target]: ${JSON.stringify(bounds())}\n${mmErrors()}`);
    expect(overshoots).toEqual([]);
    for (const [partition, offset] of committed) {
      const t = translated.get(partition)!;
      expect([partition, t <= offset && offset - t <= 101n, bounds()]).toEqual([partition, true, bounds()]);
    }
  }, 240_000);

  test('MirrorMaker\'s log has no ERROR line', () => {
    expect(mm2.process.exited()).toBe(false);
    expect(mm2.log()).toContain('MirrorSourceConnector');
    expect(errorLines(mm2.log())).toEqual([]);
  });
});
