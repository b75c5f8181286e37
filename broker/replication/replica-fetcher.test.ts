import { afterAll, describe, expect, test } from '@jest/globals';
import { createServer, type Socket } from 'node:net';
import { createLogger } from '../logger.ts';
import type { Partition } from '../partition.ts';
import { decodeRequest, encodeResponse, parseRequestHeader } from '../protocol/index.ts';
import { ReplicaFetcher } from './replica-fetcher.ts';

/**
 * Fetch lanes: a follower's partitions on one leader are spread over several connections, and
 * each partition is asked for by one lane only (one fetch in flight per partition: the fetch
 * offset is what the leader counts as replicated). A plain TCP server stands in for the leader
 * and records which partitions each lane (client id) asks for; it answers no fetch but closes
 * the connection, so the lane reconnects and asks again for every partition it holds.
 */
const sockets: Socket[] = [];
const asked = new Map<string, Set<string>>();
/** Calls `onFetch` with each Fetch request the socket carries (other APIs are not answered). */
function onFetchRequests(s: Socket, onFetch: (req: ReturnType<typeof decodeRequest<1>>, h: ReturnType<typeof parseRequestHeader>) => void): void {
  let buf = Buffer.alloc(0);
  s.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    while (!s.destroyed && buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
      const frame = buf.subarray(4, 4 + buf.readInt32BE(0));
      buf = buf.subarray(4 + frame.length);
      const h = parseRequestHeader(frame);
      if (h.apiKey === 1) onFetch(decodeRequest(1, h.apiVersion, frame, h.bodyOffset), h);
    }
  });
  s.on('error', () => {});
}

const server = createServer((s) => {
  sockets.push(s);
  onFetchRequests(s, (req, h) => {
    const lane = h.clientId ?? '';
    if (!asked.has(lane)) asked.set(lane, new Set());
    for (const t of req.topics) for (const p of t.partitions) asked.get(lane)!.add(`${t.topic}-${p.partition}`);
    s.destroy();
  });
});

function fakePartition(topic: string, index: number): Partition {
  return {
    topic, index, name: `${topic}-${index}`, isLeader: false, leaderEpoch: 0, state: { isr: [] },
    log: { logEndOffset: 0n, latestEpoch: 0, logStartOffset: 0n },
  } as unknown as Partition;
}

afterAll(() => {
  for (const s of sockets) s.destroy();
  server.close();
});

describe('ReplicaFetcher lanes', () => {
  test('partitions are spread over one connection per lane, each partition fetched by exactly one', async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const fetcher = new ReplicaFetcher({
      nodeId: 1, leaderId: 0, host: '127.0.0.1', port, maxWaitMs: 500, maxBytes: 1 << 20,
      logger: createLogger('test', 'error'), clock: () => Date.now(), lanes: 2,
    });
    const all = [...Array.from({ length: 8 }, (_, i) => fakePartition('a', i)), ...Array.from({ length: 5 }, (_, i) => fakePartition('bb', i))];
    for (const p of all) fetcher.add(p);
    const seen = () => [...asked.values()].reduce((n, s) => n + s.size, 0);
    for (let i = 0; i < 500 && seen() < all.length; i++) await new Promise((r) => setTimeout(r, 10));
    expect(asked.size).toBe(2);
    const [one, two] = [...asked.values()];
    expect(one!.size).toBeGreaterThan(0);
    expect(two!.size).toBeGreaterThan(0);
    for (const name of one!) expect(two!.has(name)).toBe(false);
    expect(new Set([...one!, ...two!])).toEqual(new Set(all.map((p) => `${p.topic}-${p.index}`)));
    expect(new Set(fetcher.partitions)).toEqual(new Set(all));
    await fetcher.stop();
  });
});

/**
 * A fake leader that keeps fetch sessions as Kafka's does (a session opened at epoch 0, then the
 * named partitions upserted and the forgotten ones removed) and answers every fetch, 100 ms
 * later, with no partition: what it holds is what the lane's incremental fetches must keep right.
 */
describe('ReplicaFetcher fetch sessions', () => {
  test('a replica re-created under the same topic and index stays in the leader\'s session (never named and forgotten in one fetch)', async () => {
    const requests: Array<{ epoch: number; named: string[]; forgotten: string[] }> = [];
    const session = new Set<string>();
    const leader = createServer((s) => onFetchRequests(s, (req, h) => {
      const named = req.topics.flatMap((t) => t.partitions.map((p) => `${t.topic}-${p.partition}`));
      const forgotten = req.forgottenTopicsData.flatMap((t) => t.partitions.map((p) => `${t.topic}-${p}`));
      requests.push({ epoch: req.sessionEpoch, named, forgotten });
      if (req.sessionEpoch === 0) session.clear();
      for (const n of named) session.add(n);
      for (const n of forgotten) session.delete(n);
      setTimeout(() => {
        if (!s.destroyed) s.write(Buffer.concat(encodeResponse(1, h.apiVersion, h.correlationId, { throttleTimeMs: 0, errorCode: 0, sessionId: 7, responses: [] })));
      }, 100);
    }));
    await new Promise<void>((r) => leader.listen(0, '127.0.0.1', r));
    const fetcher = new ReplicaFetcher({
      nodeId: 1, leaderId: 0, host: '127.0.0.1', port: (leader.address() as { port: number }).port, maxWaitMs: 100, maxBytes: 1 << 20,
      logger: createLogger('test', 'error'), clock: () => Date.now(), lanes: 1,
    });
    try {
      const before = fakePartition('t', 0);
      fetcher.add(before);
      fetcher.add(fakePartition('t', 1));
      for (let i = 0; i < 200 && (session.size < 2 || requests.length < 4); i++) await new Promise((r) => setTimeout(r, 10));
      expect(requests[0]!.epoch).toBe(0);
      expect(requests.at(-1)).toMatchObject({ named: [], forgotten: [] });
      // the replica of t-0 is re-created (a new Partition object) between two fetches
      const seen = requests.length;
      fetcher.remove(before);
      fetcher.add(fakePartition('t', 0));
      for (let i = 0; i < 200 && requests.length < seen + 3; i++) await new Promise((r) => setTimeout(r, 10));
      for (const r of requests) expect(r.named.filter((n) => r.forgotten.includes(n))).toEqual([]);
      expect([...session].sort()).toEqual(['t-0', 't-1']);
    } finally {
      await fetcher.stop();
      leader.close();
    }
  });
});
