/**
 * Metadata request latency for one topic, as a client that asks for it often sees it: `requests`
 * Metadata v12 requests, one at a time on one connection, timed from send to the parsed answer.
 * Used by bench/partitions.ts (one broker) and bench/replicated.ts (RF 3 on three).
 */
import { KafkaConnection } from '../broker/client/index.ts';
import { ZERO_UUID } from '../broker/protocol/index.ts';

export type MetadataLatency = { medianMs: number; p99Ms: number; partitions: number };

export async function metadataLatency(bootstrap: string, topic: string, requests: number): Promise<MetadataLatency> {
  const [host, port] = bootstrap.split(',')[0]!.split(':');
  const conn = new KafkaConnection({ host: host!, port: Number(port), clientId: 'bench-metadata-latency', requestTimeoutMs: 60_000 });
  const times: number[] = [];
  let partitions = 0;
  try {
    for (let i = 0; i < requests; i++) {
      const t0 = performance.now();
      const r = await conn.send(3, 12, {
        topics: [{ topicId: ZERO_UUID, name: topic }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false,
      }) as { topics: Array<{ partitions: unknown[] }> };
      times.push(performance.now() - t0);
      partitions = r.topics[0]?.partitions.length ?? 0;
    }
  } finally {
    conn.close();
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
  return { medianMs: at(0.5), p99Ms: at(0.99), partitions };
}
