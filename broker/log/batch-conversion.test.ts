import { describe, expect, test } from '@jest/globals';
import { KafkaError } from '../errors.ts';
import { checkTimestamps, convertCompression } from './batch-conversion.ts';
import { defaultLogConfig, type LogConfig } from './log-config.ts';
import { CONTROL_MASK, computeBatchCrc, readBatchHeader } from './record-batch.ts';
import { decodeBatchRecords } from './records.ts';
import { encodeBatch } from './testing/record-batch-builder.ts';

const config = (o: Partial<LogConfig>): LogConfig => ({ ...defaultLogConfig, ...o });

function batches(...bufs: Buffer[]) {
  const records = Buffer.concat(bufs);
  const headers = [];
  for (let position = 0; position < records.length; position += headers.at(-1)!.size) headers.push(readBatchHeader(records, position));
  return { records, headers };
}

describe('convertCompression', () => {
  const idempotent = encodeBatch(Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: `value ${i} `.repeat(10), timestamp: 1000 + i })),
    { producerId: 7n, producerEpoch: 2, baseSequence: 40 });

  test.each([['gzip', 1], ['snappy', 2], ['lz4', 3], ['zstd', 4]] as const)('compression.type=%s re-compresses an uncompressed batch, keeping producer id, epoch, sequence, timestamps and records', (type, codec) => {
    const { records, headers } = batches(idempotent);
    const out = convertCompression(records, headers, config({ compressionType: type }));
    expect(out.records).not.toBe(records);
    const h = out.headers[0]!;
    const before = headers[0]!;
    expect(h.attributes & 7).toBe(codec);
    expect({ pid: h.producerId, epoch: h.producerEpoch, seq: h.baseSequence, count: h.recordsCount, last: h.lastOffsetDelta, base: h.baseTimestamp, max: h.maxTimestamp })
      .toEqual({ pid: 7n, epoch: 2, seq: 40, count: 50, last: 49, base: before.baseTimestamp, max: before.maxTimestamp });
    expect(computeBatchCrc(out.records, 0, h.size)).toBe(h.crc);
    expect(decodeBatchRecords(out.records, 0)).toEqual(decodeBatchRecords(records, 0));
    // And back: the topic's codec none undoes it, byte for byte.
    const back = convertCompression(out.records, out.headers, config({ compressionType: 'uncompressed' }));
    expect(back.records).toEqual(records);
  });

  test.each([['gzip', 'gzipLevel', 1, 9], ['zstd', 'zstdLevel', -5, 19]] as const)('compression.%s.level is the level the broker re-compresses with', (type, key, low, high) => {
    const big = encodeBatch(Array.from({ length: 400 }, (_, i) => ({ value: `${i % 13} some fairly repetitive text ${i * 7919 % 1000} `.repeat(4) })));
    const { records, headers } = batches(big);
    const at = (level: number) => convertCompression(records, headers, config({ compressionType: type, [key]: level }));
    const fast = at(low);
    const small = at(high);
    expect(small.records.length).toBeLessThan(fast.records.length);
    for (const out of [fast, small]) expect(decodeBatchRecords(out.records, 0)).toEqual(decodeBatchRecords(records, 0));
  });

  test('compression.type=producer, or a batch already in the topic\'s codec, is left as it came (same buffer)', () => {
    const { records, headers } = batches(idempotent);
    expect(convertCompression(records, headers, config({ compressionType: 'producer' })).records).toBe(records);
    expect(convertCompression(records, headers, config({ compressionType: 'uncompressed' })).records).toBe(records);
  });

  test('control batches are not re-compressed; the batches around them are', () => {
    const control = encodeBatch([{ key: Buffer.from([0, 0, 0, 1]), value: Buffer.from([0, 0, 0, 0, 0, 0]) }], { attributes: CONTROL_MASK | 0x10, producerId: 7n, producerEpoch: 2 });
    const { records, headers } = batches(idempotent, control, idempotent);
    const out = convertCompression(records, headers, config({ compressionType: 'zstd' }));
    expect(out.headers.map((h) => h.attributes & 7)).toEqual([4, 0, 4]);
    expect(out.records.subarray(out.headers[1]!.position, out.headers[1]!.position + out.headers[1]!.size)).toEqual(control);
    let position = 0;
    for (const h of out.headers) {
      expect(readBatchHeader(out.records, position)).toEqual(h);
      position += h.size;
    }
    expect(position).toBe(out.records.length);
  });
});

describe('checkTimestamps', () => {
  const now = 10_000_000;
  const batch = (timestamps: number[]) => batches(encodeBatch(timestamps.map((timestamp, i) => ({ value: `v${i}`, timestamp })), { baseTimestamp: timestamps[0] }));

  test('after.max.ms refuses a record too far ahead with INVALID_TIMESTAMP and Kafka\'s message', () => {
    const { records, headers } = batch([now, now + 5000, now + 1000]);
    let error: unknown;
    try { checkTimestamps(records, headers, config({ timestampAfterMaxMs: 2000 }), now); } catch (err) { error = err; }
    expect(error).toBeInstanceOf(KafkaError);
    expect((error as KafkaError).errorName).toBe('INVALID_TIMESTAMP');
    expect((error as KafkaError).detail).toBe(`Timestamp ${now + 5000} of message with offset 1 is out of range. The timestamp should be within [-9223372036854775808, ${now + 2000}]`);
    expect(() => checkTimestamps(records, headers, config({ timestampAfterMaxMs: 5000 }), now)).not.toThrow();
  });

  test('before.max.ms checks every record, not only the batch\'s first and max timestamps', () => {
    const { records, headers } = batch([now, now - 9000, now]);
    expect(() => checkTimestamps(records, headers, config({ timestampBeforeMaxMs: 8000 }), now))
      .toThrow(`Timestamp ${now - 9000} of message with offset 1 is out of range. The timestamp should be within [${now - 8000}, ${now + 3_600_000}]`.replace(`${now + 3_600_000}`, '9223372036854775807'));
    expect(() => checkTimestamps(records, headers, config({ timestampBeforeMaxMs: 9000 }), now)).not.toThrow();
  });

  test('LogAppendTime topics and records without a timestamp (-1) are not checked', () => {
    const { records, headers } = batch([now - 1_000_000]);
    expect(() => checkTimestamps(records, headers, config({ timestampBeforeMaxMs: 10, messageTimestampType: 'LogAppendTime' }), now)).not.toThrow();
    const none = batch([-1]);
    expect(() => checkTimestamps(none.records, none.headers, config({ timestampBeforeMaxMs: 10, timestampAfterMaxMs: 10 }), now)).not.toThrow();
  });
});
