/**
 * Kafka Connect in distributed mode, unchanged, on a 3-broker fleet (Brook's `brook local`, or with
 * BROOK_TEST_TARGET=kafka three Apache Kafka nodes): two workers of one group (the jars of
 * test/tools/connect/pom.xml, REST on free loopback ports), the file source connector reading a
 * file into a topic it creates with `topic.creation.default.*` settings, the file sink writing the
 * topic to another file.
 * - the topic exists as the connector asked (3 partitions, replication factor 3, compression.type
 *   lz4, min.insync.replicas 2), and its batches are stored lz4-compressed although Connect's
 *   producer sends them uncompressed;
 * - Connect's config, offset and status topics exist, compacted (cleanup.policy=compact, described);
 * - SIGKILL of the worker that runs the source task while it copies: every task runs on the other
 *   worker, and the sink file ends with every line of the source file, the lines appended after the
 *   kill too;
 * - the workers run with exactly-once source support (KIP-618, `exactly.once.source.support=enabled`,
 *   the connector `exactly.once.support=required`): the source task writes in transactions, and the
 *   topic read with read_committed holds every line exactly once, even across the SIGKILL.
 * The workers start once for the file (a JVM start is slow here).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import type { Admin } from 'kafkajs';
import { stopAllBrokers, tempDir } from '../harness/brook.ts';
import { connectRest, errorLines, startConnectWorker } from '../harness/connect.ts';
import type { ConnectWorker } from '../harness/connect.ts';
import { startFleet } from '../harness/fleet.ts';
import type { FleetHandle } from '../harness/fleet.ts';
import { expectSuccess, kcat } from '../harness/tools.ts';
import { batchHeaders, fetchPartition } from '../harness/wire.ts';

const { Kafka, logLevel, ConfigResourceTypes } = kafkajs;

const GROUP = 'connect-eco';
const TOPIC = 'connect-lines';

let fleet: FleetHandle;
let admin: Admin;
let dir: string;
const workers: ConnectWorker[] = [];
let source: string;
let sink: string;

interface ConnectorStatus { connector: { state: string; worker_id: string }; tasks: Array<{ id: number; state: string; worker_id: string; trace?: string }> }

async function waitUntil(what: string, cond: () => Promise<boolean> | boolean, timeoutMs: number, detail: () => string | Promise<string> = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${await detail()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `line ${from + i} ${'x'.repeat(i % 50)}`);
const sinkLines = () => (existsSync(sink) ? readFileSync(sink, 'utf8').split('\n').filter((l) => l !== '') : []);
const logs = () => workers.map((w, i) => `--- worker ${i} (errors)\n${errorLines(w.log()).join('\n')}\n--- worker ${i} (tail)\n${w.log().slice(-3000)}`).join('\n');

async function status(worker: ConnectWorker, name: string): Promise<ConnectorStatus> {
  return connectRest<ConnectorStatus>(worker.url, 'GET', `/connectors/${name}/status`);
}

beforeAll(async () => {
  dir = tempDir('connect-');
  source = join(dir, 'source.txt');
  sink = join(dir, 'sink.txt');
  fleet = await startFleet(3);
  admin = new Kafka({ brokers: fleet.bootstrap.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const start = (name: string) => startConnectWorker({
    dir, name, bootstrap: fleet.bootstrap, groupId: GROUP,
    settings: {
      'offset.flush.interval.ms': '1000',
      // KIP-618: source tasks write their records and offsets in transactions, zombies are fenced
      'exactly.once.source.support': 'enabled',
      // a departed worker's tasks are reassigned after this delay (default 5 min, for rolling restarts)
      'scheduled.rebalance.max.delay.ms': '10000',
    },
  });
  workers.push(await start('worker-a'));
  workers.push(await start('worker-b'));
}, 400_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop('SIGKILL')));
  await admin?.disconnect();
  await fleet?.stop();
  await stopAllBrokers();
}, 120_000);

describe('Kafka Connect, 2 distributed workers', () => {
  test('file source -> topic (created with topic.creation.* settings) -> file sink: the sink has every line', async () => {
    writeFileSync(source, lines(0, 1000).join('\n') + '\n');
    await connectRest(workers[0]!.url, 'PUT', '/connectors/file-source/config', {
      'connector.class': 'org.apache.kafka.connect.file.FileStreamSourceConnector',
      file: source,
      topic: TOPIC,
      'tasks.max': '1',
      'topic.creation.default.partitions': '3',
      'topic.creation.default.replication.factor': '3',
      'topic.creation.default.compression.type': 'lz4',
      'topic.creation.default.min.insync.replicas': '2',
      'exactly.once.support': 'required',
      'batch.size': '100', // lines per poll, one transaction each: the copy takes a while, so the SIGKILL below lands in it
    });
    // the sink starts once the source created the topic: the sink's consumer would otherwise have the broker
    // auto-create it (allow.auto.create.topics) with num.partitions, as Kafka does
    await waitUntil(`${TOPIC} created by the source task`, async () => {
      const meta = await admin.fetchTopicMetadata({ topics: [TOPIC] }).catch(() => undefined);
      return (meta?.topics[0]?.partitions.length ?? 0) > 0;
    }, 120_000, logs);
    await connectRest(workers[1]!.url, 'PUT', '/connectors/file-sink/config', {
      'connector.class': 'org.apache.kafka.connect.file.FileStreamSinkConnector',
      file: sink,
      topics: TOPIC,
      'tasks.max': '2',
    });
    await waitUntil('the sink file to have the 1000 lines', () => new Set(sinkLines()).size >= 1000, 120_000, logs);
    expect(new Set(sinkLines())).toEqual(new Set(lines(0, 1000)));

    const meta = await admin.fetchTopicMetadata({ topics: [TOPIC] });
    const partitions = meta.topics[0]!.partitions;
    expect(partitions).toHaveLength(3);
    for (const p of partitions) expect(p.replicas).toHaveLength(3);
    const described = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: TOPIC }] });
    const entries = new Map(described.resources[0]!.configEntries.map((e) => [e.configName, e]));
    expect(entries.get('compression.type')?.configValue).toBe('lz4');
    expect(entries.get('min.insync.replicas')?.configValue).toBe('2');

    // Connect's producer sends batches uncompressed (its default): the broker stores them as lz4 (codec 3).
    // Fetch v4 reads uncommitted data too, transactional batches included
    const bootstraps = fleet.bootstrap.split(',');
    let batches = 0;
    for (const p of partitions) {
      const fetched = await fetchPartition(bootstraps[p.leader]!, TOPIC, p.partitionId, 0n);
      // data batches (transactional: bit 4) carry lz4; commit markers (control batches, bit 5) stay uncompressed
      for (const b of batchHeaders(fetched.records).filter((h) => (h.attributes & 0x20) === 0)) {
        expect([b.attributes & 7, b.attributes & 0x10]).toEqual([3, 0x10]);
        batches++;
      }
    }
    expect(batches).toBeGreaterThan(0);
  }, 240_000);

  test('Connect\'s config, offset and status topics exist with cleanup.policy=compact', async () => {
    const internal = [`${GROUP}-configs`, `${GROUP}-offsets`, `${GROUP}-status`];
    const described = await admin.describeConfigs({ includeSynonyms: false,
      resources: internal.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })) });
    for (const name of internal) {
      const resource = described.resources.find((r) => r.resourceName === name);
      expect(resource?.errorCode).toBe(0);
      expect([name, resource!.configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue]).toEqual([name, 'compact']);
    }
    // Connect's defaults: 1 partition for configs, 25 for offsets, 5 for status, replication factor 3
    const meta = await admin.fetchTopicMetadata({ topics: internal });
    expect(meta.topics.map((t) => [t.name, t.partitions.length, t.partitions[0]!.replicas.length]).sort())
      .toEqual([[`${GROUP}-configs`, 1, 3], [`${GROUP}-offsets`, 25, 3], [`${GROUP}-status`, 5, 3]]);
  }, 60_000);

  test('SIGKILL of the worker running the source task while it copies: its tasks move to the other, the sink ends with every line, the topic holds each once', async () => {
    await waitUntil('both connectors RUNNING with all tasks', async () => {
      const s = [await status(workers[0]!, 'file-source'), await status(workers[0]!, 'file-sink')];
      return s.every((c) => c.connector.state === 'RUNNING' && c.tasks.length > 0 && c.tasks.every((t) => t.state === 'RUNNING'));
    }, 60_000, logs);
    const sourceWorker = (await status(workers[0]!, 'file-source')).tasks[0]!.worker_id;
    const victim = workers.find((w) => w.workerId === sourceWorker)!;
    const survivor = workers.find((w) => w !== victim)!;
    expect(victim).toBeDefined();

    // kill it while it copies: 19,000 more lines, SIGKILL once the first of them reach the sink
    appendFileSync(source, lines(1000, 20_000).join('\n') + '\n');
    await waitUntil('the source task to be copying the new lines', () => new Set(sinkLines()).size > 1000, 60_000, logs);
    await victim.stop('SIGKILL');
    appendFileSync(source, lines(20_000, 20_500).join('\n') + '\n');

    await waitUntil('every task RUNNING on the surviving worker', async () => {
      const s = [await status(survivor, 'file-source'), await status(survivor, 'file-sink')];
      return s.every((c) => c.tasks.length > 0 && c.tasks.every((t) => t.state === 'RUNNING' && t.worker_id === survivor.workerId));
    }, 150_000, async () => `${JSON.stringify([await status(survivor, 'file-source'), await status(survivor, 'file-sink')])}\n${logs()}`);
    await waitUntil('the sink file to have all 20,500 lines', () => new Set(sinkLines()).size >= 20_500, 150_000, logs);
    // the sink is at-least-once: it may repeat a line, never lose or invent one
    expect(new Set(sinkLines())).toEqual(new Set(lines(0, 20_500)));
    // the source is exactly-once: the topic's committed records hold each line once, though the task was killed
    const committed = expectSuccess(await kcat(['-b', fleet.bootstrap, '-C', '-t', TOPIC, '-o', 'beginning', '-e', '-q',
      '-X', 'isolation.level=read_committed', '-f', '%s\n'], { timeoutMs: 60_000 })).stdout.toString('utf8').split('\n').filter(Boolean);
    expect(committed.length).toBe(20_500);
    expect(committed.sort()).toEqual(lines(0, 20_500).sort());
    expect(errorLines(survivor.log())).toEqual([]);
  }, 360_000);
});
