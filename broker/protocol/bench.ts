/**
 * Micro-benchmark of the hot paths: decode a Produce request, encode a Fetch response.
 * Run: `npx node broker/protocol/bench.ts` (numbers go in README.md).
 */
import { decodeRequest, encodeRequest, encodeResponse, parseRequestHeader, precompileAll } from './index.ts';

precompileAll();

/** Best of 7 rounds (the machine is shared; the best round is the least disturbed one). */
function bench(name: string, iterations: number, fn: () => unknown): void {
  for (let i = 0; i < Math.min(iterations, 20_000); i++) fn(); // warm up
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 7; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / iterations);
  }
  console.log(`${name.padEnd(58)} ${(1e9 / best).toFixed(0).padStart(10)} ops/s ${best.toFixed(0).padStart(8)} ns/op`);
}

const batch = Buffer.alloc(16 * 1024, 7);
function produceFrame(version: number, topics: number, partitions: number): Buffer {
  const topicData = [];
  for (let t = 0; t < topics; t++) {
    const partitionData = [];
    for (let p = 0; p < partitions; p++) partitionData.push({ index: p, records: batch });
    topicData.push({ name: `topic-${t}`, partitionData });
  }
  return Buffer.concat(encodeRequest(0, version, 1, 'producer-1', { acks: -1, timeoutMs: 30000, topicData })).subarray(4);
}

for (const version of [7, 9, 11]) {
  for (const [t, p] of [[1, 1], [1, 10], [5, 20]] as const) {
    const frame = produceFrame(version, t, p);
    bench(`decode Produce v${version} ${t} topic(s) x ${p} partition(s)`, 50_000, () => {
      const h = parseRequestHeader(frame);
      return decodeRequest(0, version, frame, h.bodyOffset);
    });
  }
}

const TOPIC_ID = '01234567-89ab-cdef-0123-456789abcdef';
const chunk = Buffer.alloc(64 * 1024, 3);
function fetchBody(version: number, topics: number, partitions: number) {
  const responses = [];
  for (let t = 0; t < topics; t++) {
    const parts = [];
    for (let p = 0; p < partitions; p++) {
      parts.push({ partitionIndex: p, errorCode: 0, highWatermark: 1000n, lastStableOffset: 1000n, logStartOffset: 0n, abortedTransactions: null, records: [chunk, chunk] });
    }
    responses.push({ topic: `topic-${t}`, topicId: TOPIC_ID, partitions: parts });
  }
  return { throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses };
}

for (const version of [11, 12, 16]) {
  for (const [t, p] of [[1, 1], [1, 10], [5, 20]] as const) {
    const body = fetchBody(version, t, p);
    bench(`encode Fetch v${version} response ${t} topic(s) x ${p} partition(s)`, 50_000, () => encodeResponse(1, version, 1, body));
  }
}
