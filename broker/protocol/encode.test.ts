import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { ALL_APIS } from './apis/index.ts';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse, parseRequestHeader, ProtocolEncodeError, ZERO_UUID } from './index.ts';

const encodeErr = (fn: () => unknown) => expect(fn).toThrow(ProtocolEncodeError);

describe('encoding', () => {
  test('missing fields take the schema default; fields absent from a version are ignored', () => {
    const wire = Buffer.concat(encodeRequest(1, 4, 1, null, { topics: [{ topic: 't', topicId: 'ignored-in-v4', partitions: [{ partition: 3 }] }] }));
    const frame = wire.subarray(4);
    const body = decodeRequest(1, 4, frame, parseRequestHeader(frame).bodyOffset);
    expect(body).toMatchObject({ replicaId: -1, maxBytes: 0x7fffffff, isolationLevel: 0, sessionEpoch: -1, rackId: '', forgottenTopicsData: [] });
    expect(body.topics[0]).toEqual({ topic: 't', topicId: ZERO_UUID, partitions: [{ partition: 3, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 0 }] });
  });

  test('an empty body encodes as all defaults', () => {
    const res = decodeResponse(0, 11, Buffer.concat(encodeResponse(0, 11, 1, {})).subarray(4));
    expect(res.body).toEqual({ responses: [], throttleTimeMs: 0, nodeEndpoints: [] });
  });

  test('omitted records encode as empty, explicit null as null', () => {
    const enc = (records?: Buffer | null) => decodeResponse(1, 11, Buffer.concat(encodeResponse(1, 11, 1,
      { responses: [{ topic: 't', partitions: [records === undefined ? { partitionIndex: 0 } : { partitionIndex: 0, records }] }] })).subarray(4));
    expect(enc().body.responses[0]!.partitions[0]!.records).toEqual(Buffer.alloc(0));
    expect(enc(null).body.responses[0]!.partitions[0]!.records).toBeNull();
  });

  test('tagged fields equal to their default are not written', () => {
    const a = Buffer.concat(encodeResponse(1, 12, 1, { responses: [{ topic: 't', partitions: [{ currentLeader: { leaderId: -1, leaderEpoch: -1 } }] }] }));
    const b = Buffer.concat(encodeResponse(1, 12, 1, { responses: [{ topic: 't', partitions: [{}] }] }));
    expect(a.equals(b)).toBe(true);
  });

  test('bad values throw ProtocolEncodeError', () => {
    encodeErr(() => encodeRequest(0, 9, 1, null, { acks: 70000 }));
    encodeErr(() => encodeRequest(0, 9, 1, null, { acks: 1.5 }));
    encodeErr(() => encodeRequest(0, 9, 1, null, { topicData: [{ name: null as never }] }));
    encodeErr(() => encodeRequest(0, 9, 1, null, { topicData: 'x' as never }));
    encodeErr(() => encodeRequest(0, 9, 1, null, { topicData: [{ name: 't', partitionData: [{ records: 'x' as never }] }] }));
    encodeErr(() => encodeResponse(0, 9, 1, { responses: [{ partitionResponses: [{ baseOffset: 1 as never }] }] }));
    encodeErr(() => encodeResponse(0, 9, 1, { responses: [{ partitionResponses: [{ baseOffset: 2n ** 63n }] }] }));
    encodeErr(() => encodeRequest(1, 13, 1, null, { topics: [{ topicId: 'not-a-uuid' }] }));
    encodeErr(() => encodeRequest(3, 1, 1, null, { topics: [{ name: 'x'.repeat(40000) }] }));
    encodeErr(() => encodeRequest(99 as number, 0, 1, null, {}));
    encodeErr(() => encodeRequest(0, 13, 1, null, {})); // Produce v13 (topic ids) is not served
  });

  test('int64 values beyond 2^53 round-trip exactly', () => {
    for (const v of [2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n, -(2n ** 53n) - 1n, 9007199254740993n, -1n, 0n]) {
      const res = decodeResponse(0, 9, Buffer.concat(encodeResponse(0, 9, 1, { responses: [{ name: 't', partitionResponses: [{ baseOffset: v }] }] })).subarray(4));
      expect(res.body.responses[0]!.partitionResponses[0]!.baseOffset).toBe(v);
    }
  });

  test('garbage bodies never throw anything but ProtocolEncodeError', () => {
    const anyValue = fc.anything({ withBigInt: true, withTypedArray: true, maxDepth: 3 });
    for (const spec of ALL_APIS.slice(0, 8)) {
      fc.assert(fc.property(anyValue, fc.dictionary(fc.constantFrom(...spec.request.map((f) => f.name)), anyValue), (junk, dict) => {
        for (const body of [junk, dict]) {
          try {
            encodeRequest(spec.apiKey, Number(spec.validVersions.split(/[-+]/)[0]), 1, 'x', body);
          } catch (err) {
            if (!(err instanceof ProtocolEncodeError)) throw err;
          }
        }
      }), { numRuns: 100 });
    }
  });

  test('large bodies outgrow the slab and still round-trip', () => {
    const topics = Array.from({ length: 5000 }, (_, i) => ({ errorCode: 0, name: `topic-${i}`, topicId: ZERO_UUID, isInternal: false,
      partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 1, leaderEpoch: 3, replicaNodes: [1, 2, 3], isrNodes: [1, 2], offlineReplicas: [] }], topicAuthorizedOperations: -2147483648 }));
    const bufs = encodeResponse(3, 12, 9, { topics, brokers: [{ nodeId: 1, host: 'h', port: 1, rack: null }] });
    const frame = Buffer.concat(bufs);
    expect(frame.readInt32BE(0)).toBe(frame.length - 4);
    expect(frame.length).toBeGreaterThan(256 * 1024);
    expect(decodeResponse(3, 12, frame.subarray(4)).body.topics).toEqual(topics);
  });

  test('encoded buffers stay valid after later encodes (slab is never reused under a live buffer)', () => {
    const first = encodeResponse(3, 1, 1, { brokers: [{ nodeId: 1, host: 'a', port: 1 }] });
    const copy = Buffer.concat(first);
    for (let i = 0; i < 5000; i++) encodeResponse(3, 1, i, { brokers: [{ nodeId: i, host: 'host-'.repeat(20), port: 2 }] });
    expect(Buffer.concat(first).equals(copy)).toBe(true);
  });
});
