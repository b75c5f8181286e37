/**
 * Golden bytes from a second real client: request frames librdkafka 2.0.2 sent (captured once
 * into fixtures/librdkafka.hex), including flexible ApiVersions v3, InitProducerId v4 and
 * OffsetFetch v7, and a consumer-group session. Each
 * must decode to what the client meant and re-encode byte for byte.
 */
import { describe, expect, test } from '@jest/globals';
import { decodeRequest, encodeRequest, parseRequestHeader } from './index.ts';
import { loadHexFixtures } from './fixture-file.ts';

const fixtures = loadHexFixtures('librdkafka.hex');

const expected: Record<string, Record<string, unknown>> = {
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

describe('golden: librdkafka 2.0.2 requests', () => {
  test('every fixture has expectations', () => {
    expect(new Set(fixtures.keys())).toEqual(new Set(Object.keys(expected)));
  });

  test.each([...fixtures.keys()])('%s', (name) => {
    const frame = fixtures.get(name)!;
    const h = parseRequestHeader(frame);
    expect(h).toMatchObject({ clientId: 'rdkafka', supported: true });
    const body = decodeRequest(h.apiKey, h.apiVersion, frame, h.bodyOffset);
    expect(body).toMatchObject(expected[name]!);
    const again = Buffer.concat(encodeRequest(h.apiKey, h.apiVersion, h.correlationId, h.clientId, body));
    expect(again.subarray(4).toString('hex')).toBe(frame.toString('hex'));
  });

  test('the produced record batch is the frame slice holding the message', () => {
    const frame = fixtures.get('produceV7Request')!;
    const h = parseRequestHeader(frame);
    const body = decodeRequest(0, 7, frame, h.bodyOffset);
    const batch = body.topicData[0]!.partitionData[0]!.records!;
    expect(batch.readInt8(16)).toBe(2); // magic
    expect(batch.includes('hello-brook')).toBe(true);
  });
});
