/** Type-level checks of the inferred request/response types (checked by `npm run typecheck`). */
import { describe, expect, test } from '@jest/globals';
import type { FetchResponse, MetadataRequest, ProduceRequest } from './index.ts';
import { ApiKey, decodeRequest, decodeResponse, encodeRequest, encodeResponse, parseRequestHeader } from './index.ts';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
const assertType = <T extends true>(): T => true as T;

describe('inferred types', () => {
  test('decoded requests and responses are typed from the schema data', () => {
    const wire = Buffer.concat(encodeRequest(ApiKey.Produce, 9, 1, 'c', {
      acks: 1, timeoutMs: 1000, topicData: [{ name: 't', partitionData: [{ index: 0, records: [Buffer.from('ab')] }] }],
    }));
    const frame = wire.subarray(4);
    const req = decodeRequest(ApiKey.Produce, 9, frame, parseRequestHeader(frame).bodyOffset);
    assertType<Equal<typeof req, ProduceRequest>>();
    assertType<Equal<typeof req.transactionalId, string | null>>();
    assertType<Equal<typeof req.acks, number>>();
    assertType<Equal<(typeof req.topicData)[number]['partitionData'][number]['records'], Buffer | null>>();
    assertType<Equal<MetadataRequest['topics'], { topicId: string; name: string | null }[] | null>>();
    assertType<Equal<FetchResponse['responses'][number]['partitions'][number]['highWatermark'], bigint>>();
    assertType<Equal<FetchResponse['responses'][number]['partitions'][number]['divergingEpoch'], { epoch: number; endOffset: bigint }>>();
    expect(req.topicData[0]!.partitionData[0]!.records!.toString()).toBe('ab');

    const res = encodeResponse(ApiKey.Fetch, 12, 5, { responses: [{ topic: 't', partitions: [{ partitionIndex: 0, highWatermark: 3n }] }] });
    const decoded = decodeResponse(ApiKey.Fetch, 12, Buffer.concat(res).subarray(4));
    assertType<Equal<typeof decoded.body, FetchResponse>>();
    expect(decoded.body.responses[0]!.partitions[0]!.highWatermark).toBe(3n);
    // @ts-expect-error int64 fields take bigint, not number
    expect(() => encodeResponse(ApiKey.Fetch, 12, 5, { responses: [{ topic: 't', partitions: [{ highWatermark: 3 }] }] })).toThrow();
  });
});
