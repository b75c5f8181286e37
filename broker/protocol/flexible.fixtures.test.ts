/** Hand-made flexible-version frames (fixtures/flexible.hex) decode and encode byte for byte. */
import { describe, expect, test } from '@jest/globals';
import { loadHexFixtures } from './fixture-file.ts';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse, parseRequestHeader } from './index.ts';

const fixtures = loadHexFixtures('flexible.hex');
const fx = (name: string) => fixtures.get(name)!;
const withSize = (frame: Buffer) => {
  const size = Buffer.alloc(4);
  size.writeInt32BE(frame.length);
  return Buffer.concat([size, frame]).toString('hex');
};

const TOPIC_ID = '01234567-89ab-cdef-0123-456789abcdef';

interface RequestCase { name: string; apiKey: number; version: number; correlationId: number; clientId: string | null; body: Record<string, unknown> }
interface ResponseCase { name: string; apiKey: number; version: number; correlationId: number; body: Record<string, unknown> }

const requests: RequestCase[] = [
  { name: 'apiVersionsV3Request', apiKey: 18, version: 3, correlationId: 1, clientId: 'c1',
    body: { clientSoftwareName: 'brook-test', clientSoftwareVersion: '1.0' } },
  { name: 'metadataV12Request', apiKey: 3, version: 12, correlationId: 7, clientId: null,
    body: { topics: [{ topicId: '00000000-0000-0000-0000-000000000000', name: 'orders' }], allowAutoTopicCreation: true, includeTopicAuthorizedOperations: false } },
  { name: 'produceV9Request', apiKey: 0, version: 9, correlationId: 10, clientId: 'c1',
    body: { transactionalId: null, acks: -1, timeoutMs: 30000, topicData: [{ name: 'orders', partitionData: [{ index: 2, records: Buffer.from('deadbeef', 'hex') }] }] } },
  { name: 'fetchV15Request', apiKey: 1, version: 15, correlationId: 11, clientId: 'replic',
    body: {
      clusterId: null, replicaState: { replicaId: 2, replicaEpoch: 7n }, maxWaitMs: 500, minBytes: 1, maxBytes: 0x7fffffff,
      isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topicId: TOPIC_ID, partitions: [{ partition: 0, currentLeaderEpoch: 5, fetchOffset: 100n, lastFetchedEpoch: 4, logStartOffset: -1n, partitionMaxBytes: 1048576 }] }],
      forgottenTopicsData: [], rackId: '',
    } },
];

const responses: ResponseCase[] = [
  { name: 'apiVersionsV3Response', apiKey: 18, version: 3, correlationId: 1,
    body: { errorCode: 0, apiKeys: [{ apiKey: 0, minVersion: 0, maxVersion: 11 }, { apiKey: 18, minVersion: 0, maxVersion: 4 }], throttleTimeMs: 0, finalizedFeaturesEpoch: 5n, zkMigrationReady: true } },
  { name: 'fetchV16Response', apiKey: 1, version: 16, correlationId: 12,
    body: {
      throttleTimeMs: 0, errorCode: 0, sessionId: 0,
      responses: [{ topicId: TOPIC_ID, partitions: [{
        partitionIndex: 0, errorCode: 6, highWatermark: 100n, lastStableOffset: 100n, logStartOffset: 0n,
        divergingEpoch: { epoch: 3, endOffset: 80n }, currentLeader: { leaderId: 2, leaderEpoch: 9 },
        abortedTransactions: null, preferredReadReplica: -1, records: Buffer.from('aabbcc', 'hex'),
      }] }],
      nodeEndpoints: [{ nodeId: 2, host: 'brook-2', port: 9092, rack: null }],
    } },
  { name: 'createTopicsV5Response', apiKey: 19, version: 5, correlationId: 3,
    body: { throttleTimeMs: 0, topics: [{ name: 'a', errorCode: 36, errorMessage: 'Topic exists!', topicConfigErrorCode: 40, numPartitions: -1, replicationFactor: -1, configs: null }] } },
];

describe('flexible fixtures', () => {
  test('every fixture is used', () => {
    expect(new Set([...requests, ...responses].map((c) => c.name))).toEqual(new Set(fixtures.keys()));
  });

  test.each(requests)('$name', ({ name, apiKey, version, correlationId, clientId, body }) => {
    const frame = fx(name);
    const h = parseRequestHeader(frame);
    expect(h).toEqual({ apiKey, apiVersion: version, correlationId, clientId, bodyOffset: h.bodyOffset, supported: true });
    expect(decodeRequest(apiKey, version, frame, h.bodyOffset)).toMatchObject(body);
    expect(Buffer.concat(encodeRequest(apiKey, version, correlationId, clientId, body as never)).toString('hex')).toBe(withSize(frame));
  });

  test.each(responses)('$name', ({ name, apiKey, version, correlationId, body }) => {
    const frame = fx(name);
    expect(Buffer.concat(encodeResponse(apiKey, version, correlationId, body as never)).toString('hex')).toBe(withSize(frame));
    const decoded = decodeResponse(apiKey, version, frame);
    expect(decoded.correlationId).toBe(correlationId);
    expect(decoded.body).toMatchObject(body);
  });

  test('records in a response are passed through as separate chunks, not copied', () => {
    const records = [Buffer.from('aa', 'hex'), Buffer.from('bbcc', 'hex')];
    const bufs = encodeResponse(1, 16, 12, { responses: [{ topicId: TOPIC_ID, partitions: [{ partitionIndex: 0, records }] }] });
    expect(bufs).toContain(records[0]);
    expect(bufs).toContain(records[1]);
  });
});
