/**
 * Golden bytes from real clients other than kafkajs, captured once into fixtures/*.hex:
 * librdkafka 2.0.2 (kcat; flexible ApiVersions v3, InitProducerId v4, OffsetFetch v7, and a
 * consumer-group session) and the Apache Kafka Java client 4.1.1 (the top flexible versions:
 * ApiVersions v4, Metadata v12, InitProducerId v5, Produce v11, ListOffsets v8, Fetch v16).
 * Each frame must decode to what the client meant and re-encode byte for byte.
 */
import { describe, expect, test } from '@jest/globals';
import { decodeRequest, encodeRequest, parseRequestHeader } from './index.ts';
import { loadHexFixtures } from './fixture-file.ts';

const librdkafka: Record<string, Record<string, unknown>> = {
  apiVersionsV3Request: { clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.0.2' },
  metadataV4Request: { topics: [{ name: 'golden' }], allowAutoTopicCreation: true },
  initProducerIdV4Request: { transactionalId: null, producerId: -1n, producerEpoch: -1 },
  produceV7Request: { transactionalId: null, acks: -1, timeoutMs: 30000, topicData: [{ name: 'golden', partitionData: [{ index: 0 }] }] },
  listOffsetsV2Request: { replicaId: -1, topics: [{ name: 'golden', partitions: [{ partitionIndex: 0, timestamp: -2n }] }] },
  fetchV11Request: { replicaId: -1, topics: [{ topic: 'golden', partitions: [{ partition: 0, fetchOffset: 0n }] }] },
  findCoordinatorV2Request: { key: 'golden-group', keyType: 0 },
  findCoordinatorV2RequestAgain: { key: 'golden-group', keyType: 0 },
  joinGroupV5Request: { groupId: 'golden-group', memberId: '', groupInstanceId: null, protocolType: 'consumer' },
  joinGroupV5RequestRejoin: { groupId: 'golden-group', memberId: 'm-1', protocolType: 'consumer' },
  syncGroupV3Request: { groupId: 'golden-group', generationId: 1, memberId: 'm-1' },
  heartbeatV3Request: { groupId: 'golden-group', generationId: 1, memberId: 'm-1', groupInstanceId: null },
  offsetFetchV7Request: { groupId: 'golden-group', topics: [{ name: 'golden', partitionIndexes: [0] }], requireStable: true },
  leaveGroupV1Request: { groupId: 'golden-group', memberId: 'm-1' },
};

const java: Record<string, Record<string, unknown>> = {
  apiVersionsV4Request: { clientSoftwareName: 'apache-kafka-java', clientSoftwareVersion: '4.1.1' },
  metadataV12Request: { topics: [], allowAutoTopicCreation: true, includeTopicAuthorizedOperations: false },
  initProducerIdV5Request: { transactionalId: null, transactionTimeoutMs: 2147483647, producerId: -1n, producerEpoch: -1 },
  produceV11Request: { transactionalId: null, acks: -1, timeoutMs: 30000, topicData: [{ name: 'golden', partitionData: [{ index: 0 }] }] },
  listOffsetsV8Request: { replicaId: -1, isolationLevel: 0, topics: [{ name: 'golden', partitions: [{ partitionIndex: 0, currentLeaderEpoch: 0, timestamp: -2n }] }] },
  fetchV16Request: {
    clusterId: null, replicaState: { replicaId: -1, replicaEpoch: -1n }, maxWaitMs: 500, minBytes: 1, maxBytes: 52428800, sessionId: 0, sessionEpoch: 0,
    topics: [{ topicId: '01234567-89ab-cdef-0123-456789abcdef', partitions: [{ partition: 0, currentLeaderEpoch: 0, fetchOffset: 0n, lastFetchedEpoch: -1, partitionMaxBytes: 1048576 }] }],
  },
};

const clients = [
  { name: 'librdkafka 2.0.2', file: 'librdkafka.hex', clientIds: ['rdkafka'], expected: librdkafka },
  { name: 'Java client 4.1.1', file: 'java-kafka-clients-4.1.1.hex', clientIds: ['adminclient-1', 'perf-producer-client', 'console-consumer'], expected: java },
];

for (const { name: client, file, clientIds, expected } of clients) {
  const fixtures = loadHexFixtures(file);
  describe(`golden: ${client} requests`, () => {
    test('every fixture has expectations', () => {
      expect(new Set(fixtures.keys())).toEqual(new Set(Object.keys(expected)));
    });

    test.each([...fixtures.keys()])('%s', (name) => {
      const frame = fixtures.get(name)!;
      const h = parseRequestHeader(frame);
      expect(h.supported).toBe(true);
      expect(clientIds).toContain(h.clientId);
      const body = decodeRequest(h.apiKey, h.apiVersion, frame, h.bodyOffset);
      expect(body).toMatchObject(expected[name]!);
      const again = Buffer.concat(encodeRequest(h.apiKey, h.apiVersion, h.correlationId, h.clientId, body));
      expect(again.subarray(4).toString('hex')).toBe(frame.toString('hex'));
    });
  });
}

describe('golden: record batches', () => {
  test('the produced record batch is the frame slice holding the message', () => {
    const frame = loadHexFixtures('librdkafka.hex').get('produceV7Request')!;
    const h = parseRequestHeader(frame);
    const body = decodeRequest(0, 7, frame, h.bodyOffset);
    const batch = body.topicData[0]!.partitionData[0]!.records!;
    expect(batch.readInt8(16)).toBe(2); // magic
    expect(batch.includes('hello-brook')).toBe(true);
  });
});
