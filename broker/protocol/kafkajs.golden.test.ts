/**
 * Golden bytes against a real peer: kafkajs 2.2.4's own request encoders (classic versions).
 * Each request kafkajs encodes must decode to the expected object and re-encode to the very
 * same bytes; responses Brook encodes must decode in kafkajs's response decoders.
 */
import { describe, expect, test } from '@jest/globals';
import { createRequire } from 'node:module';
import { decodeRequest, encodeRequest, encodeResponse, parseRequestHeader } from './index.ts';

const require = createRequire(import.meta.url);
type KafkajsRequest = { apiKey: number; apiVersion: number; encode: () => Promise<unknown> };
const frameRequest = require('kafkajs/src/protocol/request.js') as (a: { correlationId: number; clientId: string; request: KafkajsRequest }) => Promise<{ buffer: Buffer }>;
const requestOf = (api: string, v: number) => require(`kafkajs/src/protocol/requests/${api}/v${v}/request.js`) as (args: unknown) => KafkajsRequest;
const responseOf = (api: string, v: number) => require(`kafkajs/src/protocol/requests/${api}/v${v}/response.js`) as { decode: (b: Buffer) => Promise<any> };
const Long = require('kafkajs/src/utils/long.js') as { fromString(s: string): unknown; fromNumber(n: number): unknown };

async function kafkajsBytes(api: string, version: number, args: unknown): Promise<Buffer> {
  const request = requestOf(api, version)(args);
  const enc = await frameRequest({ correlationId: 42, clientId: 'golden-client', request });
  return enc.buffer;
}

/** Decode kafkajs's bytes with Brook, check the header, re-encode with Brook, compare bytes. */
function roundTripAgainst(apiKey: number, version: number, wire: Buffer): Record<string, unknown> {
  const frame = wire.subarray(4);
  const h = parseRequestHeader(frame);
  expect(h).toMatchObject({ apiKey, apiVersion: version, correlationId: 42, clientId: 'golden-client', supported: true });
  const body = decodeRequest(apiKey, version, frame, h.bodyOffset) as Record<string, unknown>;
  const ours = Buffer.concat(encodeRequest(apiKey, version, 42, 'golden-client', body));
  expect(ours.toString('hex')).toBe(wire.toString('hex'));
  return body;
}

const messages = [
  { key: 'k1', value: 'v1', timestamp: 1_700_000_000_000, headers: { h: 'x' } },
  { key: null, value: 'second value', timestamp: 1_700_000_000_001 },
];

describe('golden: kafkajs request encoders', () => {
  test.each([0, 1, 2, 3, 4, 5, 6, 7])('Produce v%d', async (v) => {
    const wire = await kafkajsBytes('produce', v, {
      acks: -1, timeout: 30000, transactionalId: v >= 3 ? 'tx-1' : undefined,
      producerId: Long.fromNumber(-1), producerEpoch: 0,
      topicData: [
        { topic: 'orders', partitions: [{ partition: 0, messages }, { partition: 3, messages: messages.slice(1) }] },
        { topic: 'audit', partitions: [{ partition: 1, messages }] },
      ],
    });
    const body = roundTripAgainst(0, v, wire) as any;
    expect(body.acks).toBe(-1);
    expect(body.timeoutMs).toBe(30000);
    expect(body.transactionalId).toBe(v >= 3 ? 'tx-1' : null);
    expect(body.topicData.map((t: any) => t.name)).toEqual(['orders', 'audit']);
    expect(body.topicData[0].partitionData.map((p: any) => p.index)).toEqual([0, 3]);
    const records: Buffer = body.topicData[0].partitionData[0].records;
    expect(Buffer.isBuffer(records)).toBe(true);
    // A slice of the frame, not a copy.
    expect(records.buffer).toBe(wire.buffer);
    if (v >= 3) expect(records.readInt8(16)).toBe(2); // record batch magic
  });

  test.each([4, 5, 6, 7, 8, 9, 10, 11])('Fetch v%d', async (v) => {
    const wire = await kafkajsBytes('fetch', v, {
      replicaId: -1, maxWaitTime: 500, minBytes: 1, maxBytes: 52428800, isolationLevel: 1,
      sessionId: 0, sessionEpoch: -1, rackId: 'rack-a',
      topics: [{ topic: 'orders', partitions: [
        { partition: 0, fetchOffset: '1234567890123', maxBytes: 1048576, currentLeaderEpoch: 3, logStartOffset: '5' },
        { partition: 1, fetchOffset: '0', maxBytes: 1048576 },
      ] }],
    });
    const body = roundTripAgainst(1, v, wire) as any;
    expect(body).toMatchObject({ replicaId: -1, maxWaitMs: 500, minBytes: 1, maxBytes: 52428800, isolationLevel: 1 });
    expect(body.topics[0].topic).toBe('orders');
    expect(body.topics[0].partitions[0].fetchOffset).toBe(1234567890123n);
    if (v >= 9) expect(body.topics[0].partitions[0].currentLeaderEpoch).toBe(3);
    if (v >= 11) expect(body.rackId).toBe('rack-a');
  });

  test.each([0, 1, 2, 3, 4, 5, 6])('Metadata v%d', async (v) => {
    const wire = await kafkajsBytes('metadata', v, { topics: ['orders', 'audit'], allowAutoTopicCreation: false });
    const body = roundTripAgainst(3, v, wire) as any;
    expect(body.topics.map((t: any) => t.name)).toEqual(['orders', 'audit']);
    expect(body.allowAutoTopicCreation).toBe(v >= 4 ? false : true);
  });

  test.each([0, 1, 2])('ApiVersions v%d', async (v) => {
    const wire = await kafkajsBytes('apiVersions', v, {});
    roundTripAgainst(18, v, wire);
  });

  test.each([1, 2, 3])('ListOffsets v%d', async (v) => {
    const wire = await kafkajsBytes('listOffsets', v, {
      replicaId: -1, isolationLevel: 1,
      topics: [{ topic: 'orders', partitions: [{ partition: 2, timestamp: -2 }] }],
    });
    const body = roundTripAgainst(2, v, wire) as any;
    expect(body.topics[0].partitions[0]).toMatchObject({ partitionIndex: 2, timestamp: -2n });
  });
});

describe('golden: more kafkajs request encoders (byte-identical re-encode)', () => {
  const meta = Buffer.from('0001000000010006746f7069633100000000', 'hex');
  const cases: [string, number, number[], unknown, Record<string, unknown>][] = [
    ['createTopics', 19, [2, 3], { topics: [{ topic: 'new', numPartitions: 3, replicationFactor: 1, replicaAssignment: [{ partition: 0, replicas: [1, 2] }], configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }], validateOnly: true, timeout: 5000 },
      { timeoutMs: 5000, validateOnly: true }],
    ['deleteTopics', 20, [1], { topics: ['a', 'b'], timeout: 5000 }, { topicNames: ['a', 'b'] }],
    ['initProducerId', 22, [0, 1], { transactionalId: 'tx', transactionTimeout: 60000 }, { transactionalId: 'tx', transactionTimeoutMs: 60000 }],
    ['joinGroup', 11, [0, 1, 2, 3, 4, 5], { groupId: 'g', sessionTimeout: 30000, rebalanceTimeout: 60000, memberId: '', groupInstanceId: null, protocolType: 'consumer', groupProtocols: [{ name: 'range', metadata: meta }] },
      { groupId: 'g', sessionTimeoutMs: 30000, protocolType: 'consumer' }],
    ['syncGroup', 14, [0, 1, 2, 3], { groupId: 'g', generationId: 4, memberId: 'm-1', groupAssignment: [{ memberId: 'm-1', memberAssignment: meta }] }, { generationId: 4, memberId: 'm-1' }],
    ['heartbeat', 12, [0, 1, 2, 3], { groupId: 'g', groupGenerationId: 4, memberId: 'm-1', groupInstanceId: null }, { generationId: 4 }],
    ['offsetCommit', 8, [2, 3, 4, 5], { groupId: 'g', groupGenerationId: 4, memberId: 'm-1', retentionTime: -1, topics: [{ topic: 'orders', partitions: [{ partition: 0, offset: '42', metadata: null }] }] },
      { groupId: 'g', generationIdOrMemberEpoch: 4 }],
    ['offsetFetch', 9, [1, 2, 3, 4], { groupId: 'g', topics: [{ topic: 'orders', partitions: [{ partition: 0 }, { partition: 1 }] }] }, { groupId: 'g' }],
    ['findCoordinator', 10, [0, 1, 2], { groupId: 'g', coordinatorKey: 'g', coordinatorType: 0 }, { key: 'g' }],
    ['describeConfigs', 32, [1, 2], { resources: [{ type: 2, name: 'orders', configNames: ['retention.ms'] }], includeSynonyms: true }, {}],
    ['alterConfigs', 33, [0, 1], { resources: [{ type: 2, name: 'orders', configEntries: [{ name: 'retention.ms', value: '1000' }] }], validateOnly: false }, {}],
    ['createPartitions', 37, [0, 1], { topicPartitions: [{ topic: 'orders', count: 6, assignments: [[1], [2]] }], validateOnly: false, timeout: 5000 }, { timeoutMs: 5000 }],
    ['deleteRecords', 21, [0, 1], { topics: [{ topic: 'orders', partitions: [{ partition: 0, offset: '7' }] }], timeout: 5000 }, { timeoutMs: 5000 }],
    ['listGroups', 16, [0, 1, 2], {}, {}],
    ['describeGroups', 15, [0, 1, 2], { groupIds: ['g1', 'g2'] }, { groups: ['g1', 'g2'] }],
    ['deleteGroups', 42, [0, 1], ['g1'], { groupsNames: ['g1'] }],
  ];
  for (const [api, apiKey, versions, args, expected] of cases) {
    test.each(versions)(`${api} v%d`, async (v) => {
      const wire = await kafkajsBytes(api, v, args);
      expect(roundTripAgainst(apiKey, v, wire)).toMatchObject(expected);
    });
  }
});

describe('golden: kafkajs response decoders read what Brook encodes', () => {
  const payload = (bufs: Buffer[]) => Buffer.concat(bufs).subarray(8); // size + correlation id

  test.each([1, 5, 6])('Metadata v%d', async (v) => {
    const bufs = encodeResponse(3, v, 7, {
      throttleTimeMs: 0,
      brokers: [{ nodeId: 1, host: 'broker-1', port: 9092, rack: 'r1' }],
      clusterId: 'brook', controllerId: 1,
      topics: [{ errorCode: 0, name: 'orders', isInternal: false, partitions: [
        { errorCode: 0, partitionIndex: 0, leaderId: 1, replicaNodes: [1], isrNodes: [1], offlineReplicas: [] },
      ] }],
    });
    const decoded = await responseOf('metadata', v).decode(payload(bufs));
    expect(decoded.brokers).toEqual([{ nodeId: 1, host: 'broker-1', port: 9092, rack: 'r1' }]);
    expect(decoded.controllerId).toBe(1);
    expect(decoded.topicMetadata[0].topic).toBe('orders');
    expect(decoded.topicMetadata[0].partitionMetadata[0]).toMatchObject({ partitionId: 0, leader: 1, replicas: [1], isr: [1] });
  });

  test.each([4, 7, 11])('Fetch v%d', async (v) => {
    const bufs = encodeResponse(1, v, 7, {
      responses: [{ topic: 'orders', partitions: [
        { partitionIndex: 0, errorCode: 0, highWatermark: 10n, lastStableOffset: 10n, logStartOffset: 0n, abortedTransactions: [], records: [] },
      ] }],
    });
    const decoded = await responseOf('fetch', v).decode(payload(bufs));
    expect(decoded.responses[0].topicName).toBe('orders');
    expect(decoded.responses[0].partitions[0]).toMatchObject({ partition: 0, errorCode: 0, highWatermark: '10', messages: [] });
  });

  test.each([0, 1, 2])('ApiVersions v%d', async (v) => {
    const bufs = encodeResponse(18, v, 7, { errorCode: 0, apiKeys: [{ apiKey: 0, minVersion: 0, maxVersion: 9 }, { apiKey: 18, minVersion: 0, maxVersion: 4 }] });
    const decoded = await responseOf('apiVersions', v).decode(payload(bufs));
    expect(decoded.apiVersions).toEqual([{ apiKey: 0, minVersion: 0, maxVersion: 9 }, { apiKey: 18, minVersion: 0, maxVersion: 4 }]);
  });
});
