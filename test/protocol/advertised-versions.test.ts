/**
 * Every Produce and Fetch version the broker advertises in ApiVersions is answered with a frame
 * that independent decoders read (issue 10, item 8): the Apache Kafka Java client's own response
 * parser (test/java/ResponseDecoder.java, every version it knows) and kafkajs's response decoders
 * (Produce v0-7, Fetch v4-11). A real broker process, real requests over TCP; one case per
 * advertised version, generated from the ApiVersions answer.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createRequire } from 'node:module';
import { Kafka, logLevel } from 'kafkajs';
import { apiSchema, decodeResponse, encodeRequest } from '../../broker/protocol/index.ts';
import { encodeRecordBatch } from '../../broker/log/records.ts';
import { startBroker, stopAllBrokers, target } from '../harness/brook.ts';
import type { BrokerHandle } from '../harness/brook.ts';
import { javaProgram } from '../harness/tools.ts';
import { WireConnection, frameKafkajsRequest, frameRequest, parseApiVersionsV0 } from '../harness/wire.ts';
import type { KafkajsRequest } from '../harness/wire.ts';

const require = createRequire(import.meta.url);
const Long = require('kafkajs/src/utils/long.js') as { fromNumber(n: number): unknown };
const kafkajsResponse = (api: string, v: number) => require(`kafkajs/src/protocol/requests/${api}/v${v}/response.js`) as { decode: (b: Buffer) => Promise<any> };

const PRODUCE = 0;
const FETCH = 1;
const TOPIC = 'versions';
const UNSUPPORTED_VERSION = 35;

let broker: BrokerHandle;
let advertised: Map<number, { min: number; max: number }>;
let topicId = '';
/** Raw response frames (header + body) by api key and version, with their correlation ids. */
const frames = new Map<string, { correlationId: number; frame: Buffer }>();
/**
 * Versions advertised only so that librdkafka enables its codecs (Produce v0-2): Brook answers
 * UNSUPPORTED_VERSION per partition in the version's own format; Apache Kafka 4.x
 * (BROOK_TEST_TARGET=kafka) closes the connection instead.
 */
const closedByKafka = new Set<string>();
let produced = 0;

/** Sends one framed request and returns the raw response frame (correlation id, header, body). */
async function roundTripFrame(request: Buffer, what: string): Promise<Buffer> {
  const conn = await WireConnection.connect(broker.bootstrap);
  try {
    conn.write(request);
    const r = await conn.next(15_000);
    if (r === 'closed' || r === 'timeout') throw new Error(`${what}: no response (${r})`);
    const frame = Buffer.alloc(4 + r.body.length);
    frame.writeInt32BE(r.correlationId, 0);
    r.body.copy(frame, 4);
    return frame;
  } finally {
    conn.close();
  }
}

function roundTrip(apiKey: number, version: number, body: unknown, correlationId: number): Promise<Buffer> {
  return roundTripFrame(Buffer.concat(encodeRequest(apiKey, version, correlationId, 'versions-test', body as never)), `api ${apiKey} v${version}`);
}

const kafkajsRequest = (api: string, v: number) => require(`kafkajs/src/protocol/requests/${api}/v${v}/request.js`) as (args: unknown) => KafkajsRequest;

/**
 * Produce and Fetch requests at version `v`: encoded by kafkajs where it has the version (v0-7
 * and v0-11), by Brook's codec above that.
 */
async function sendProduce(v: number, correlationId: number): Promise<Buffer> {
  const value = `produce v${v}`;
  if (v <= 7) {
    return roundTripFrame(await frameKafkajsRequest(kafkajsRequest('produce', v)({ acks: 1, timeout: 5000, transactionalId: undefined,
      producerId: Long.fromNumber(-1), producerEpoch: 0, topicData: [{ topic: TOPIC, partitions: [{ partition: 0, messages: [{ key: null, value }] }] }] }), correlationId), `Produce v${v}`);
  }
  const records = encodeRecordBatch([{ key: null, value: Buffer.from(value) }], BigInt(Date.now()));
  return roundTrip(PRODUCE, v, { transactionalId: null, acks: 1, timeoutMs: 5000, topicData: [{ name: TOPIC, partitionData: [{ index: 0, records }] }] }, correlationId);
}

async function sendFetch(v: number, correlationId: number): Promise<Buffer> {
  if (v <= 11) {
    return roundTripFrame(await frameKafkajsRequest(kafkajsRequest('fetch', v)({ replicaId: -1, maxWaitTime: 0, minBytes: 0, maxBytes: 1 << 20,
      isolationLevel: 0, topics: [{ topic: TOPIC, partitions: [{ partition: 0, fetchOffset: '0', maxBytes: 1 << 20 }] }] }), correlationId), `Fetch v${v}`);
  }
  return roundTrip(FETCH, v, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: TOPIC, topicId, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [], rackId: '',
  }, correlationId);
}

/** The body after the response header: header v1 (flexible versions) has a tagged-fields byte. */
function responseBody(apiKey: number, version: number, frame: Buffer): Buffer {
  const flexible = apiKey === PRODUCE ? version >= 9 : version >= 12;
  return frame.subarray(flexible ? 5 : 4);
}

/** The advertised versions of `apiKey` (up to the newest Brook's codec can encode a request for). */
function versionsOf(apiKey: number): number[] {
  const range = advertised.get(apiKey)!;
  const known = apiSchema(apiKey)!;
  const out: number[] = [];
  for (let v = range.min; v <= Math.min(range.max, known.maxVersion); v++) out.push(v);
  return out;
}

beforeAll(async () => {
  broker = await startBroker({ set: { 'auto.create.topics.enable': 'false' } });
  const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
  await admin.disconnect();

  const conn = await WireConnection.connect(broker.bootstrap);
  try {
    const body = await conn.roundTrip(frameRequest(18, 0, 1, Buffer.alloc(0)), 1);
    advertised = new Map(parseApiVersionsV0(body).apis.map((a) => [a.apiKey, { min: a.min, max: a.max }]));
  } finally {
    conn.close();
  }
  const metadata = await roundTrip(3, 12, { topics: [{ topicId: '00000000-0000-0000-0000-000000000000', name: TOPIC }], allowAutoTopicCreation: false,
    includeTopicAuthorizedOperations: false }, 2);
  // Brook's codec only learns the topic id that Fetch v13+ addresses the topic by
  topicId = (decodeResponse(3, 12, metadata).body as { topics: Array<{ topicId: string }> }).topics[0]!.topicId;

  let correlationId = 100;
  for (const v of versionsOf(PRODUCE)) {
    if (target === 'kafka' && v < 3) {
      await expect(sendProduce(v, ++correlationId)).rejects.toThrow('no response (closed)');
      closedByKafka.add(`${PRODUCE}/${v}`);
      continue;
    }
    const frame = await sendProduce(v, ++correlationId);
    frames.set(`${PRODUCE}/${v}`, { correlationId, frame });
    if (v >= 3) produced++;
  }
  for (const v of versionsOf(FETCH)) {
    const frame = await sendFetch(v, ++correlationId);
    frames.set(`${FETCH}/${v}`, { correlationId, frame });
  }
}, 120_000);

afterAll(async () => { await stopAllBrokers(); });

/** Decodes every collected frame with the Java client's parser: key `api/version` → its output line. */
let javaDecoded: Map<string, string> | null = null;
async function javaDecode(): Promise<Map<string, string>> {
  if (javaDecoded) return javaDecoded;
  const keys = [...frames.keys()];
  const input = keys.map((k) => {
    const [api, v] = k.split('/');
    const { correlationId, frame } = frames.get(k)!;
    return `${api} ${v} ${correlationId} ${frame.toString('hex')}`;
  }).join('\n');
  const r = await javaProgram('ResponseDecoder', [], { input });
  if (r.code !== 0) throw new Error(`ResponseDecoder failed (${r.code}): ${r.stderr}`);
  const lines = r.stdout.toString().trim().split('\n');
  javaDecoded = new Map(keys.map((k, i) => [k, lines[i] ?? '']));
  return javaDecoded;
}

/** What the Java client knows of each API (Kafka 4.x dropped the oldest versions; 4.4.0 has the same Produce and Fetch ranges as 4.1.1). */
const JAVA_VERSIONS: Record<number, { min: number; max: number }> = { [PRODUCE]: { min: 3, max: 12 }, [FETCH]: { min: 4, max: 17 } };

describe('advertised Produce and Fetch versions', () => {
  test('ApiVersions advertises Fetch only from v4, as Kafka 4 does: v0-3 are not answered in their own format', () => {
    expect(advertised.get(FETCH)!.min).toBe(4);
    expect(advertised.get(PRODUCE)!.min).toBe(0);
  });

  test('fetch_v0_3_advertised_but_undecodable: every advertised Produce and Fetch version is read by an independent decoder (the Java client where it knows the version, else kafkajs)', async () => {
    const decoded = await javaDecode();
    const failures: string[] = [];
    for (const api of [PRODUCE, FETCH]) {
      for (const v of versionsOf(api)) {
        if (closedByKafka.has(`${api}/${v}`)) continue;
        if (v < JAVA_VERSIONS[api]!.min || v > JAVA_VERSIONS[api]!.max) {
          // older than the Java client knows: kafkajs must read it (and it must say what it is)
          const kafkajsMax = api === PRODUCE ? 7 : 11;
          if (v > kafkajsMax) { failures.push(`${api} v${v}: no independent decoder`); continue; }
          try {
            const res = await kafkajsResponse(api === PRODUCE ? 'produce' : 'fetch', v).decode(responseBody(api, v, frames.get(`${api}/${v}`)!.frame));
            const p = api === PRODUCE ? res.topics?.[0]?.partitions?.[0] : res.responses?.[0]?.partitions?.[0];
            if (p?.partition !== 0 || typeof p.errorCode !== 'number') failures.push(`${api} v${v}: kafkajs read ${JSON.stringify(res)}`);
          } catch (err) {
            failures.push(`${api} v${v}: kafkajs cannot decode the answer: ${(err as Error).message}`);
          }
          continue;
        }
        const line = decoded.get(`${api}/${v}`)!;
        const m = /^ok (\d+) 0:(-?\d+):(-?\d+):(\d+)$/.exec(line);
        if (!m) { failures.push(`${api} v${v}: ${line}`); continue; }
        const [, remaining, error, offset, records] = m;
        if (remaining !== '0') failures.push(`${api} v${v}: ${remaining} bytes left over`);
        if (error !== '0') failures.push(`${api} v${v}: error ${error}`);
        if (api === FETCH && (Number(offset) !== produced || Number(records) !== produced)) failures.push(`${api} v${v}: hw ${offset}, ${records} records, expected ${produced}`);
        if (api === PRODUCE && Number(offset) < 0) failures.push(`${api} v${v}: base offset ${offset}`);
      }
    }
    expect(failures).toEqual([]);
  }, 120_000);

  test('every advertised Produce version kafkajs knows (v0-7) decodes in kafkajs; v0-2 carry UNSUPPORTED_VERSION per partition', async () => {
    for (const v of versionsOf(PRODUCE).filter((x) => x <= 7 && !closedByKafka.has(`${PRODUCE}/${x}`))) {
      const res = await kafkajsResponse('produce', v).decode(responseBody(PRODUCE, v, frames.get(`${PRODUCE}/${v}`)!.frame));
      const p = res.topics[0].partitions[0];
      expect({ v, partition: p.partition, errorCode: p.errorCode }).toEqual({ v, partition: 0, errorCode: v < 3 ? UNSUPPORTED_VERSION : 0 });
    }
  });

  test('every advertised Fetch version kafkajs knows (v4-11) decodes in kafkajs with every record', async () => {
    for (const v of versionsOf(FETCH).filter((x) => x <= 11)) {
      const res = await kafkajsResponse('fetch', v).decode(responseBody(FETCH, v, frames.get(`${FETCH}/${v}`)!.frame));
      const p = res.responses[0].partitions[0];
      expect({ v, errorCode: p.errorCode, highWatermark: p.highWatermark, records: p.messages.length })
        .toEqual({ v, errorCode: 0, highWatermark: String(produced), records: produced });
    }
  });
});
