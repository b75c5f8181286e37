import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { KafkaError } from '../errors.ts';
import {
  validateClientBatches, readBatchHeader, lastSequenceOf, incrementSequence, stampLogAppendTime, storedBatchProblem,
  firstRecordAtOrAfter, validateReplicatedBatches,
} from './record-batch.ts';
import { encodeBatch, sizedBatch } from './testing/record-batch-builder.ts';

describe('record batch v2', () => {
  test('header fields are read at the documented offsets', () => {
    const b = encodeBatch([{ value: 'a', timestamp: 100 }, { value: 'b', timestamp: 250 }],
      { producerId: 77n, producerEpoch: 3, baseSequence: 9, baseOffset: 5n, partitionLeaderEpoch: 2 });
    const h = readBatchHeader(b, 0);
    expect(h).toMatchObject({
      baseOffset: 5n, size: b.length, partitionLeaderEpoch: 2, magic: 2, attributes: 0, lastOffsetDelta: 1,
      baseTimestamp: 100n, maxTimestamp: 250n, producerId: 77n, producerEpoch: 3, baseSequence: 9, recordsCount: 2,
    });
    expect(lastSequenceOf(h)).toBe(10);
  });

  test('sequence arithmetic wraps at int32 max', () => {
    expect(incrementSequence(0x7fffffff, 1)).toBe(0);
    expect(incrementSequence(0x7ffffffe, 3)).toBe(1);
    expect(incrementSequence(5, 3)).toBe(8);
  });

  test('several batches in one buffer are split in order', () => {
    const buf = Buffer.concat([sizedBatch(1, 2, 10), sizedBatch(2, 3, 10)]);
    expect(validateClientBatches(buf, { maxBatchBytes: 1 << 20 }).map((h) => h.recordsCount)).toEqual([2, 3]);
  });

  test('fuzz: any corruption of a valid request is either accepted whole or rejected with a KafkaError', () => {
    const valid = Buffer.concat([sizedBatch(1, 2, 30), sizedBatch(2, 1, 5)]);
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      fc.nat(valid.length),
      (flips, cut) => {
        const buf = Buffer.from(valid.subarray(0, Math.max(1, cut)));
        for (const [pos, v] of flips) if (pos < buf.length) buf[pos] = v;
        try {
          const batches = validateClientBatches(buf, { maxBatchBytes: 1 << 20 });
          expect(batches.reduce((n, h) => n + h.size, 0)).toBe(buf.length);
        } catch (err) {
          expect(err).toBeInstanceOf(KafkaError);
        }
      },
    ), { numRuns: 2000 });
  });

  test('fuzz: arbitrary bytes never crash the validators', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const buf = Buffer.from(bytes);
      for (const fn of [() => validateClientBatches(buf, { maxBatchBytes: 1000 }), () => validateReplicatedBatches(buf, 0n, 't-0')]) {
        try { fn(); } catch (err) { expect(err).toBeInstanceOf(KafkaError); }
      }
      expect(() => storedBatchProblem(Buffer.concat([buf, Buffer.alloc(61)]), 0, buf.length)).not.toThrow();
    }), { numRuns: 2000 });
  });

  test('LogAppendTime stamping keeps the batch valid', () => {
    const b = sizedBatch(1, 3, 10);
    stampLogAppendTime(b, 0, b.length, 123456n);
    expect(storedBatchProblem(b, 0, b.length)).toBeNull();
    expect(readBatchHeader(b, 0).maxTimestamp).toBe(123456n);
  });

  test('firstRecordAtOrAfter walks uncompressed records', () => {
    const b = encodeBatch([{ value: 'a', timestamp: 10 }, { value: 'b', timestamp: 30 }, { value: 'c', timestamp: 20 }], { baseOffset: 100n });
    expect(firstRecordAtOrAfter(b, 0, 15n)).toEqual({ offset: 101n, timestamp: 30n });
    expect(firstRecordAtOrAfter(b, 0, 10n)).toEqual({ offset: 100n, timestamp: 10n });
    expect(firstRecordAtOrAfter(b, 0, 31n)).toBeNull();
    expect(firstRecordAtOrAfter(encodeBatch([{ value: 'x' }], { attributes: 1 }), 0, 0n)).toBeNull();
  });
});
