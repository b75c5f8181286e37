/**
 * Malformed and hostile input over raw sockets. Whatever one connection sends, the broker answers
 * with Kafka's error or closes that connection — each case asserts which, per target where Brook
 * and Apache Kafka differ on purpose — and keeps serving everyone else: after every case a
 * second, fresh connection must complete an ApiVersions round trip.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import produceV3 from 'kafkajs/src/protocol/requests/produce/v3/request.js';
import { startBroker, stopAllBrokers, target } from '../harness/brook.ts';
import type { BrokerHandle } from '../harness/brook.ts';
import { WireConnection, fetchV4Request, frameKafkajsRequest, frameRequest, parseApiVersionsV0, parseFetchV4 } from '../harness/wire.ts';

let broker: BrokerHandle;
let correlation = 100;

beforeAll(async () => {
  broker = await startBroker({ set: { 'auto.create.topics.enable': 'false' } });
}, 180_000);

afterAll(async () => {
  await stopAllBrokers();
});

/** A fresh connection does an ApiVersions v0 round trip and sees Produce, Fetch and ApiVersions. */
async function expectStillServing(): Promise<void> {
  const conn = await WireConnection.connect(broker.bootstrap);
  try {
    const id = correlation++;
    const parsed = parseApiVersionsV0(await conn.roundTrip(frameRequest(18, 0, id, Buffer.alloc(0)), id));
    expect(parsed.errorCode).toBe(0);
    expect(parsed.apis.map((a) => a.apiKey)).toEqual(expect.arrayContaining([0, 1, 3, 18]));
  } finally {
    conn.close();
  }
  expect(broker.exited()).toBe(false);
}

/** Brook's answer to a request it cannot parse the API of: UNSUPPORTED_VERSION (35) for that correlation id. */
function expectUnsupportedVersion(r: Awaited<ReturnType<WireConnection['next']>>, correlationId: number): void {
  if (r === 'closed' || r === 'timeout') throw new Error(`expected an UNSUPPORTED_VERSION response for correlation id ${correlationId}, got ${r}`);
  expect({ correlationId: r.correlationId, errorCode: r.body.readInt16BE(0) }).toEqual({ correlationId, errorCode: 35 });
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n, 0);
  return b;
}

function kafkaString(s: string): Buffer {
  const body = Buffer.from(s);
  const len = Buffer.alloc(2);
  len.writeInt16BE(body.length, 0);
  return Buffer.concat([len, body]);
}

/** CreateTopics v2 for one topic; returns [name, error code] per topic of the response. */
async function createTopicRaw(conn: WireConnection, name: string, partitions = 1): Promise<Array<{ name: string; errorCode: number }>> {
  const rf = Buffer.alloc(2);
  rf.writeInt16BE(1, 0);
  const body = Buffer.concat([
    int32(1), kafkaString(name), int32(partitions), rf, int32(0), int32(0), // topic, assignments [], configs []
    int32(10_000), Buffer.from([0]), // timeout, validate_only
  ]);
  const id = correlation++;
  const r = await conn.roundTrip(frameRequest(19, 2, id, body), id);
  let pos = 4; // throttle
  const n = r.readInt32BE(pos); pos += 4;
  const out = [];
  for (let i = 0; i < n; i++) {
    const len = r.readInt16BE(pos); pos += 2;
    const topic = r.subarray(pos, pos + len).toString(); pos += len;
    const errorCode = r.readInt16BE(pos); pos += 2;
    const msgLen = r.readInt16BE(pos); pos += 2;
    if (msgLen > 0) pos += msgLen;
    out.push({ name: topic, errorCode });
  }
  return out;
}

/**
 * Sends a produce to a just-created topic again while it has no leader yet: Apache Kafka answers
 * NOT_LEADER_OR_FOLLOWER (6) or UNKNOWN_TOPIC_OR_PARTITION (3) for a moment after CreateTopics,
 * before looking at the batch. Up to 10 s.
 */
async function untilLed(send: () => Promise<{ errorCode: number; baseOffset: bigint }>): Promise<{ errorCode: number; baseOffset: bigint }> {
  let answer = await send();
  for (let i = 0; i < 40 && (answer.errorCode === 6 || answer.errorCode === 3); i++) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    answer = await send();
  }
  return answer;
}

/** Produce v3 response for one topic-partition: error code and base offset. */
function parseProduceV3(body: Buffer): { errorCode: number; baseOffset: bigint } {
  let pos = 0;
  expect(body.readInt32BE(pos)).toBe(1); pos += 4;
  pos += 2 + body.readInt16BE(pos);
  expect(body.readInt32BE(pos)).toBe(1); pos += 4;
  pos += 4; // partition
  const errorCode = body.readInt16BE(pos); pos += 2;
  const baseOffset = body.readBigInt64BE(pos);
  return { errorCode, baseOffset };
}

async function produceFrame(topic: string, value: string, id: number): Promise<Buffer> {
  return frameKafkajsRequest(produceV3({
    acks: -1,
    timeout: 10_000,
    topicData: [{ topic, partitions: [{ partition: 0, messages: [{ key: 'k', value, timestamp: 1_700_000_000_000 }] }] }],
  }), id);
}

describe('malformed frames', () => {
  test('truncated frame, then the client closes', async () => {
    const conn = await WireConnection.connect(broker.bootstrap);
    conn.write(Buffer.concat([int32(100), Buffer.from([0, 18, 0, 0, 0, 0])]));
    await new Promise((r) => setTimeout(r, 100));
    conn.close();
    await expectStillServing();
  });

  test.each([
    ['oversized length 0x7fffffff', 0x7fffffff],
    ['negative length -1', -1],
    ['negative length -2147483648', -0x80000000],
  ])('%s: the broker closes that connection', async (_name, size) => {
    const conn = await WireConnection.connect(broker.bootstrap);
    conn.write(Buffer.concat([int32(size), Buffer.alloc(64, 1)]));
    expect(await conn.waitClosed(10_000)).toBe(true);
    await expectStillServing();
  });

  // An API key that does not exist: Brook answers UNSUPPORTED_VERSION (the design's rule: never a
  // dropped socket without an answer); Apache Kafka cannot parse the header and closes the connection.
  test(target === 'kafka'
    ? 'garbage bytes (API key -1): Kafka closes that connection, and keeps serving'
    : 'garbage bytes (API key -1): UNSUPPORTED_VERSION (35) for correlation id 1, and keeps serving', async () => {
    const conn = await WireConnection.connect(broker.bootstrap);
    const garbage = Buffer.concat([int32(12), Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff])]);
    conn.write(garbage);
    const r = await conn.next(10_000);
    if (target === 'kafka') {
      expect(r).toBe('closed');
    } else {
      expectUnsupportedVersion(r, 1);
    }
    conn.close();
    await expectStillServing();
  });
});

describe('protocol errors', () => {
  test(target === 'kafka'
    ? 'unknown API key: Kafka closes that connection'
    : 'unknown API key: UNSUPPORTED_VERSION (35), the connection stays open', async () => {
    const conn = await WireConnection.connect(broker.bootstrap);
    try {
      const id = correlation++;
      conn.write(frameRequest(9999, 0, id, Buffer.alloc(8)));
      const r = await conn.next(10_000);
      if (target === 'kafka') {
        expect(r).toBe('closed');
      } else {
        expectUnsupportedVersion(r, id);
        // and the same connection goes on serving
        const id2 = correlation++;
        expect(parseApiVersionsV0(await conn.roundTrip(frameRequest(18, 0, id2, Buffer.alloc(0)), id2)).errorCode).toBe(0);
      }
    } finally {
      conn.close();
    }
    await expectStillServing();
  });

  test('ApiVersions v99: a v0-shaped UNSUPPORTED_VERSION response naming the ApiVersions range', async () => {
    const conn = await WireConnection.connect(broker.bootstrap);
    try {
      // what a newer Java client sends: header v2 and a flexible body (client software name/version)
      const body = Buffer.concat([Buffer.from([5]), Buffer.from('java'), Buffer.from([4]), Buffer.from('9.9'), Buffer.from([0])]);
      const id = correlation++;
      const response = await conn.roundTrip(frameRequest(18, 99, id, body, { flexibleHeader: true }), id);
      const parsed = parseApiVersionsV0(response);
      expect(parsed.errorCode).toBe(35);
      const own = parsed.apis.find((a) => a.apiKey === 18);
      expect(own).toBeDefined();
      expect(own?.min).toBe(0);
      expect(own?.max).toBeGreaterThanOrEqual(3);
      expect(own?.max).toBeLessThan(99);

      // the same connection then negotiates at the version named
      const id2 = correlation++;
      const ok = parseApiVersionsV0(await conn.roundTrip(frameRequest(18, 0, id2, Buffer.alloc(0)), id2));
      expect(ok.errorCode).toBe(0);
      expect(ok.apis.find((a) => a.apiKey === 18)).toEqual(own);
    } finally {
      conn.close();
    }
    await expectStillServing();
  });

  test('corrupt CRC in a produced batch: CORRUPT_MESSAGE (2), nothing appended', async () => {
    const topic = `bad-crc-${process.pid}`;
    const conn = await WireConnection.connect(broker.bootstrap);
    try {
      expect(await createTopicRaw(conn, topic)).toEqual([{ name: topic, errorCode: 0 }]);
      const marker = 'CORRUPT-ME-PLEASE';
      const sendCorrupt = async () => {
        const id = correlation++;
        const frame = await produceFrame(topic, marker, id);
        const at = frame.indexOf(Buffer.from(marker));
        expect(at).toBeGreaterThan(0);
        frame[at] ^= 0x20; // 'C' -> 'c': the CRC no longer matches
        return parseProduceV3(await conn.roundTrip(frame, id));
      };
      expect((await untilLed(sendCorrupt)).errorCode).toBe(2);

      const id2 = correlation++;
      const good = parseProduceV3(await conn.roundTrip(await produceFrame(topic, 'fine', id2), id2));
      expect(good).toEqual({ errorCode: 0, baseOffset: 0n });
    } finally {
      conn.close();
    }
    await expectStillServing();
  });

  test.each([
    ['a slash', 'bad/name'],
    ['a space', 'bad name'],
    ['"."', '.'],
    ['".."', '..'],
    ['the empty name', ''],
    ['250 characters', 'x'.repeat(250)],
    ['non-ASCII', 'tøpic'],
  ])('invalid topic name (%s): INVALID_TOPIC_EXCEPTION (17)', async (_what, name) => {
    const conn = await WireConnection.connect(broker.bootstrap);
    try {
      expect(await createTopicRaw(conn, name)).toEqual([{ name, errorCode: 17 }]);
    } finally {
      conn.close();
    }
    await expectStillServing();
  });

  test('fetch beyond the log end: OFFSET_OUT_OF_RANGE (1)', async () => {
    const topic = `oor-${process.pid}`;
    const conn = await WireConnection.connect(broker.bootstrap);
    try {
      expect(await createTopicRaw(conn, topic)).toEqual([{ name: topic, errorCode: 0 }]);
      const produceOne = async () => {
        const id0 = correlation++;
        return parseProduceV3(await conn.roundTrip(await produceFrame(topic, 'one', id0), id0));
      };
      expect(await untilLed(produceOne)).toEqual({ errorCode: 0, baseOffset: 0n });

      const id = correlation++;
      const beyond = parseFetchV4(await conn.roundTrip(fetchV4Request(topic, 0, 1000n, id), id));
      expect(beyond.errorCode).toBe(1);
      expect(beyond.records.length).toBe(0);

      const id2 = correlation++;
      const negative = parseFetchV4(await conn.roundTrip(fetchV4Request(topic, 0, -5n, id2), id2));
      expect(negative.errorCode).toBe(1);

      // at the log end: no error, no records, high watermark 1
      const id3 = correlation++;
      const atEnd = parseFetchV4(await conn.roundTrip(fetchV4Request(topic, 0, 1n, id3), id3));
      expect({ errorCode: atEnd.errorCode, highWatermark: atEnd.highWatermark, bytes: atEnd.records.length })
        .toEqual({ errorCode: 0, highWatermark: 1n, bytes: 0 });
    } finally {
      conn.close();
    }
    await expectStillServing();
  });

  test('many hostile connections at once do not disturb a well-behaved one', async () => {
    const hostile = await Promise.all(Array.from({ length: 20 }, () => WireConnection.connect(broker.bootstrap)));
    hostile.forEach((c, i) => c.write(i % 2 ? int32(0x7fffffff) : Buffer.concat([int32(50), Buffer.alloc(10)])));
    await expectStillServing();
    hostile.forEach((c) => c.close());
    await expectStillServing();
  });

  // Brook's own (Apache Kafka has no HTTP metrics endpoint): not part of the run against Kafka.
  if (target === 'brook') {
    test('the metrics endpoint still answers after all of the above', async () => {
      const res = await fetch(broker.metricsUrl);
      expect(res.status).toBe(200);
      expect((await res.text()).length).toBeGreaterThan(0);
    });
  }
});
