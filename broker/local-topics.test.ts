/**
 * LocalTopics against a MemoryStore's topic watch and a real LogManager on a temp directory:
 * the logs of new topics are opened ahead of their turn (concurrently, not one topic after the
 * other), every event is still applied in order, and a name deleted and created again while
 * events are queued gets a fresh log, not the old one's data. A partition reassigned away ends
 * every wait on it at once.
 */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BrokerSettings } from './config.ts';
import { DelayedFetchQueue } from './delayed-operations.ts';
import type { KafkaError } from './errors.ts';
import { LocalTopics } from './local-topics.ts';
import { LogManager } from './log-manager.ts';
import { sizedBatch } from './log/testing/record-batch-builder.ts';
import { createLogger } from './logger.ts';
import { MemoryStore, type PartitionState } from './metadata/index.ts';

const NODE = 0;
let dataDir = '';
let local: LocalTopics | null = null;

beforeEach(() => { dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'brook-local-topics-')); });
afterEach(async () => {
  local?.stop();
  await local?.settled();
  await local?.close(true);
  local = null;
  fs.rmSync(dataDir, { recursive: true, force: true });
});

function placement(partitions: number): PartitionState[] {
  return Array.from({ length: partitions }, (_, i) => ({ partition: i, replicas: [NODE], leader: NODE, isr: [NODE], leaderEpoch: 0, partitionEpoch: 0 }));
}

/** A LogManager whose opens each take `delayMs` (of the topic) longer, counting how many run at once. */
async function slowLogs(delayMs: (topic: string) => number): Promise<{ logs: LogManager; maxConcurrent: () => number }> {
  const logs = new LogManager({ dataDir, logger: createLogger('local-topics-test', 'error'), clock: Date.now });
  await logs.start();
  const open = logs.open.bind(logs);
  let running = 0;
  let max = 0;
  logs.open = async (...args) => {
    running++;
    max = Math.max(max, running);
    try {
      await sleep(delayMs(args[0]));
      return await open(...args);
    } finally {
      running--;
    }
  };
  return { logs, maxConcurrent: () => max };
}

async function start(store: MemoryStore, logs: LogManager): Promise<{ local: LocalTopics; applied: string[] }> {
  const applied: string[] = [];
  local = new LocalTopics({
    nodeId: NODE, settings: new BrokerSettings({}), store, logs, cleaner: null, clock: Date.now,
    log: createLogger('local-topics-test', 'error'), leaderDuties: new Map(),
    applied: (topic) => { applied.push(`${topic.spec.name}/${topic.topicId}`); },
    dropped: () => undefined,
  });
  local.start();
  await local.settled();
  return { local, applied };
}

describe('LocalTopics', () => {
  test('a burst of 20 new topics has their logs opened concurrently, and applied in the order they were created', async () => {
    const store = new MemoryStore();
    const { logs, maxConcurrent } = await slowLogs(() => 20);
    const { local, applied } = await start(store, logs);
    const created = [];
    for (let i = 0; i < 20; i++) created.push(await store.createTopic({ name: `t${i}`, partitions: 2, replicationFactor: 1, configs: {} }, placement(2)));
    await local.settled();
    expect(applied).toEqual(created.map((t) => `${t.spec.name}/${t.topicId}`));
    expect([...local.partitions()].map((p) => p.name).sort()).toEqual(created.flatMap((t) => [`${t.spec.name}-0`, `${t.spec.name}-1`]).sort());
    // one at a time (the apply chain alone) would be 1; each topic's apply waited for the one before it
    expect(maxConcurrent()).toBeGreaterThan(10);
  });

  test('a topic deleted and created again while the events are queued gets a new, empty log, and its old data is gone', async () => {
    const store = new MemoryStore();
    // 'other' is slow to open: the events behind it wait, and a log opened early for the second
    // 'again' would be made (over the first one's directory) before the deletion is applied
    const { logs } = await slowLogs((topic) => (topic === 'other' ? 300 : 0));
    const { local } = await start(store, logs);
    const first = await store.createTopic({ name: 'again', partitions: 1, replicationFactor: 1, configs: {} }, placement(1));
    await local.settled();
    const old = local.partition('again', 0)!;
    old.log.append(sizedBatch(0, 5, 100), { leaderEpoch: 0 });
    expect(old.log.logEndOffset).toBe(5n);
    // create → delete → create, all queued before the first is applied
    const other = await store.createTopic({ name: 'other', partitions: 1, replicationFactor: 1, configs: {} }, placement(1));
    await store.deleteTopic('again');
    const second = await store.createTopic({ name: 'again', partitions: 1, replicationFactor: 1, configs: {} }, placement(1));
    await local.settled();
    expect(second.topicId).not.toBe(first.topicId);
    const now = local.partition('again', 0)!;
    expect(now).not.toBe(old);
    expect(now.topicId).toBe(second.topicId);
    expect(now.log.logEndOffset).toBe(0n);
    expect(fs.readFileSync(path.join(dataDir, 'again-0', 'partition.metadata'), 'utf8')).toContain(second.topicId);
    expect(local.partition('other', 0)?.topicId).toBe(other.topicId);
  });

  test('a partition reassigned away from this broker ends the waits on it at once: a pending acks=all produce gets NOT_LEADER_OR_FOLLOWER and a parked fetch wakes (both waited out their timeouts before)', async () => {
    const store = new MemoryStore();
    const logs = new LogManager({ dataDir, logger: createLogger('local-topics-test', 'error'), clock: Date.now });
    await logs.start();
    const { local } = await start(store, logs);
    // led here, with a follower (1) that never fetches: nothing appended can be acknowledged at acks=all
    const created = await store.createTopic({ name: 'moving', partitions: 1, replicationFactor: 2, configs: {} },
      [{ partition: 0, replicas: [NODE, 1], leader: NODE, isr: [NODE, 1], leaderEpoch: 0, partitionEpoch: 0 }]);
    await local.settled();
    const p = local.partition('moving', 0)!;
    expect(p.isLeader).toBe(true);
    const appended = p.log.append(sizedBatch(0, 5, 100), { leaderEpoch: 0 });
    const started = Date.now();
    const outcome = (wait: Promise<unknown>) => wait.then(() => 'done', (err: KafkaError) => err.errorName ?? String(err));
    const produce = outcome(p.replicated(appended.lastOffset + 1n, 30_000)).then((o) => ({ o, ms: Date.now() - started }));
    const fetch = new DelayedFetchQueue().wait([p], 30_000).then(() => Date.now() - started);
    const settledYet = await Promise.race([produce.then(() => true), fetch.then(() => true), sleep(200).then(() => false)]);
    expect(settledYet).toBe(false);

    // the reassignment completes without this broker: the state this replica last had still names it leader
    await store.updateTopic('moving', created.version, { partitions: [{ partition: 0, replicas: [1], leader: 1, isr: [1], leaderEpoch: 1, partitionEpoch: 1 }] });
    await local.settled();
    expect(local.partition('moving', 0)).toBeUndefined();
    const answered = await produce;
    expect(answered.o).toBe('NOT_LEADER_OR_FOLLOWER');
    expect(answered.ms).toBeLessThan(5_000);
    expect(await fetch).toBeLessThan(5_000);
    // whoever still holds the object sees a non-leader, and a new wait fails at once
    expect(p.isLeader).toBe(false);
    await expect(outcome(p.replicated(appended.lastOffset + 1n, 30_000))).resolves.toBe('NOT_LEADER_OR_FOLLOWER');
  });
});
