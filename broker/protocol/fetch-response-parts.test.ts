import { describe, expect, test } from '@jest/globals';
import { decodeResponse, encodeResponse } from './index.ts';

/**
 * The Fetch handler hands each partition's records to the encoder as parts (one per segment
 * read, in leased buffers) instead of one concatenated buffer; the bytes on the wire must be
 * exactly those of the concatenated form, at every version the broker serves.
 */
function batchLike(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

type Parts = Buffer[] | null;

function body(records: (p: Parts) => Buffer | Buffer[] | null, readCommitted: boolean) {
  const partitions: Array<{ index: number; errorCode: number; parts: Parts; aborted?: Array<{ producerId: bigint; firstOffset: bigint }> }> = [
    { index: 0, errorCode: 0, parts: [batchLike(700, 1), batchLike(300, 2), batchLike(5000, 3)], aborted: [{ producerId: 7n, firstOffset: 12n }] },
    { index: 1, errorCode: 0, parts: [] }, // nothing to read
    { index: 2, errorCode: 6, parts: null }, // NOT_LEADER_OR_FOLLOWER
    { index: 3, errorCode: 0, parts: [batchLike(70_000, 4)] },
    { index: 4, errorCode: 1, parts: null }, // OFFSET_OUT_OF_RANGE
  ];
  return {
    throttleTimeMs: 0, errorCode: 0, sessionId: 0,
    responses: [
      { topic: 'a', topicId: '6f1b6a8e-3c1f-4a57-9a39-0c7f1f3e2d11', partitions: partitions.map((p) => ({
        partitionIndex: p.index, errorCode: p.errorCode, highWatermark: 100n, lastStableOffset: 90n, logStartOffset: 0n,
        abortedTransactions: readCommitted ? p.aborted ?? [] : null, preferredReadReplica: -1, records: records(p.parts),
        divergingEpoch: { epoch: -1, endOffset: -1n },
      })) },
      { topic: 'b', topicId: '00000000-0000-0000-0000-000000000001', partitions: [{
        partitionIndex: 0, errorCode: 0, highWatermark: 5n, lastStableOffset: 5n, logStartOffset: 0n,
        abortedTransactions: readCommitted ? [] : null, preferredReadReplica: -1, records: records([batchLike(61, 9), batchLike(61, 10)]),
        divergingEpoch: { epoch: 3, endOffset: 40n },
      }] },
    ],
  };
}

const concatenated = (p: Parts): Buffer | null => (p === null ? null : Buffer.concat(p));

describe('Fetch response with records in parts', () => {
  for (const readCommitted of [false, true]) {
    for (let version = 4; version <= 16; version++) {
      test(`v${version}${readCommitted ? ' read_committed' : ''}: byte-identical to the concatenated records, and decodes the same`, () => {
        const parts = encodeResponse(1, version, 42, body((p) => p, readCommitted));
        const whole = encodeResponse(1, version, 42, body(concatenated, readCommitted));
        const wire = Buffer.concat(parts);
        expect(wire.equals(Buffer.concat(whole))).toBe(true);
        // the record parts are passed through, not copied into the encoder's buffers
        const first = body((p) => p, readCommitted).responses[0]!.partitions[3]!.records as Buffer[];
        expect(first[0]!.length).toBe(70_000);
        expect(parts.some((c) => c.length === 70_000)).toBe(true);
        const decoded = decodeResponse(1, version, wire.subarray(4));
        expect(decoded.correlationId).toBe(42);
        const a = decoded.body.responses[0]!.partitions;
        expect(a.map((p) => p.errorCode)).toEqual([0, 0, 6, 0, 1]);
        expect(a[0]!.records!.equals(Buffer.concat([batchLike(700, 1), batchLike(300, 2), batchLike(5000, 3)]))).toBe(true);
        expect(a[1]!.records!.length).toBe(0);
        expect(a[2]!.records).toBeNull();
        if (readCommitted) expect(a[0]!.abortedTransactions).toEqual([{ producerId: 7n, firstOffset: 12n }]);
        else expect(a[0]!.abortedTransactions).toBeNull();
      });
    }
  }
});
