/**
 * Followers fetch in incremental fetch sessions (KIP-227): on three real brokers (one process, a
 * MemoryStore), once a topic is in sync and idle, every follower fetch the leaders get is an
 * incremental one naming no partition, and every answer carries none; after a write the answers
 * carry just the partition written, and the followers get every record; a session the leader
 * dropped is replaced by a new one without losing replication.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { fetchHandler } from '../handlers/fetch.ts';
import { createTopic, kafkaClient, startTestFleet, waitFor, type TestFleet } from './fleet-testing.ts';

type Seen = { replicaId: number; sessionId: number; sessionEpoch: number; partitions: string[]; answered: string[] };

let t: TestFleet | null = null;
const original = fetchHandler.handle;
let seen: Seen[] = [];

afterEach(async () => {
  fetchHandler.handle = original;
  await t?.close();
  t = null;
});

/** Records every follower fetch any broker of the process gets (they share the handler). */
function recordFollowerFetches(): void {
  fetchHandler.handle = async (req, ctx) => {
    const replicaId = ctx.apiVersion >= 15 ? req.replicaState?.replicaId ?? -1 : req.replicaId;
    const res = await original.call(fetchHandler, req, ctx);
    if (replicaId >= 0 && res) {
      seen.push({ replicaId, sessionId: req.sessionId, sessionEpoch: req.sessionEpoch,
        partitions: req.topics.flatMap((x) => x.partitions.map((p) => `${x.topic}-${p.partition}`)),
        answered: (res.responses ?? []).flatMap((x) => (x.partitions ?? []).map((p) => `${x.topic}-${p.partitionIndex}`)) });
    }
    return res;
  };
}

const TOPIC = 'idle';
const inSync = (f: TestFleet['fleet'], n: bigint) => f.brokers.every((b) =>
  Array.from({ length: 12 }, (_, i) => b.partition(TOPIC, i)).every((p) => !p || p.log.logEndOffset === (p.index === 5 ? n : 0n)));

describe('follower fetch sessions', () => {
  test('idle followers send session fetches naming no partition and get answers with none; after a write only its partition is answered, and replicated', async () => {
    t = await startTestFleet();
    const f = t.fleet;
    await createTopic(f, TOPIC, 12);
    recordFollowerFetches();
    await new Promise((r) => setTimeout(r, 1000));
    seen = [];
    await new Promise((r) => setTimeout(r, 1000));
    const idle = seen;
    expect(idle.length).toBeGreaterThan(5);
    for (const s of idle) {
      expect(s.sessionId).not.toBe(0);
      expect(s.sessionEpoch).toBeGreaterThan(0);
      expect(s.partitions).toEqual([]);
      expect(s.answered).toEqual([]);
    }

    seen = [];
    const producer = kafkaClient(f).producer();
    await producer.connect();
    await producer.send({ topic: TOPIC, acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ partition: 5, value: `v${i}` })) });
    await producer.disconnect();
    await waitFor(() => inSync(f, 10n), 'both followers of partition 5 at offset 10, the others still empty');
    const answered = new Set(seen.flatMap((s) => s.answered).filter((p) => p.startsWith(`${TOPIC}-`)));
    expect([...answered]).toEqual([`${TOPIC}-5`]);
  }, 60_000);

  test('a session the leader dropped is replaced by a new one, and replication goes on', async () => {
    t = await startTestFleet();
    const f = t.fleet;
    await createTopic(f, TOPIC, 12);
    recordFollowerFetches();
    await waitFor(() => seen.some((s) => s.sessionEpoch > 1), 'an incremental follower fetch');
    await new Promise((r) => setTimeout(r, 1000)); // every lane's session fetched in by now (replica.fetch.wait.max.ms 100)
    const before = new Set(seen.map((s) => s.sessionId).filter((id) => id !== 0));
    for (const b of f.brokers) for (const id of before) b.fetchSessions.remove(id);
    seen = [];
    await waitFor(() => seen.some((s) => s.sessionEpoch > 1 && !before.has(s.sessionId)), 'incremental follower fetches in a new session');
    const producer = kafkaClient(f).producer();
    await producer.connect();
    await producer.send({ topic: TOPIC, acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ partition: 5, value: `v${i}` })) });
    await producer.disconnect();
    await waitFor(() => inSync(f, 10n), 'both followers of partition 5 at offset 10');
    // the lanes opened new sessions with full fetches (epoch 0) and went on incrementally in them
    expect(seen.some((s) => s.sessionEpoch === 0 && s.partitions.length > 0)).toBe(true);
    expect(seen.filter((s) => s.sessionEpoch > 1 && !before.has(s.sessionId)).length).toBeGreaterThan(0);
  }, 60_000);
});
