import { afterEach, describe, expect, test } from '@jest/globals';
import { BatchWorkerPool, workerThreadsFor, type WorkDone } from './batch-pool.ts';
import { convertCompression, recompressionOf, type CompressionSettings } from './batch-conversion.ts';
import { defaultLogConfig } from './log-config.ts';
import { CRC_OFFSET, RECORDS_OFFSET, computeBatchCrc, validateClientBatches } from './record-batch.ts';
import { decodeBatchRecords, encodeRecordBatch } from './records.ts';
import { KafkaError } from '../errors.ts';

function batches(n: number, valueBytes = 1000): Buffer {
  return Buffer.concat(Array.from({ length: n }, (_, i) =>
    encodeRecordBatch([{ key: null, value: Buffer.alloc(valueBytes, i) }, { key: null, value: Buffer.from(`r${i}`) }], 1_700_000_000_000n)));
}

const validate = (records: Buffer): unknown => validateClientBatches(records, { maxBatchBytes: 1 << 20 });

function errorOf(fn: () => unknown): KafkaError | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err as KafkaError;
  }
}

describe('BatchWorkerPool: CRC-32C', () => {
  let pool: BatchWorkerPool;
  afterEach(async () => { await pool?.close(); });

  test('a record set the worker verified skips the CRC on the event loop; a corrupted one is still refused there with CORRUPT_MESSAGE', async () => {
    pool = new BatchWorkerPool(2);
    const good = batches(3);
    const bad = batches(3);
    bad[bad.length - 5] ^= 0xff; // a record byte of the last batch: its CRC no longer matches
    await pool.prepare([good, bad]);
    // the worker's verdict is what validateClientBatches trusts: spoil good's stored CRC after the
    // fact and it still passes (no recomputation), while bad is recomputed and refused
    good.writeUInt32BE((good.readUInt32BE(CRC_OFFSET) + 1) >>> 0, CRC_OFFSET);
    expect(() => validate(good)).not.toThrow();
    const err = errorOf(() => validate(bad));
    expect(err).toBeInstanceOf(KafkaError);
    expect(err?.errorName).toBe('CORRUPT_MESSAGE');
    expect(err?.message).toMatch(/CRC-32C \d+ does not match stored \d+/);
  });

  test('without a worker verdict nothing is skipped: the same spoiled CRC is refused', () => {
    const records = batches(2);
    records.writeUInt32BE((records.readUInt32BE(CRC_OFFSET) + 1) >>> 0, CRC_OFFSET);
    expect(errorOf(() => validate(records))?.errorName).toBe('CORRUPT_MESSAGE');
  });

  test('a torn record set (last batch cut short) is not marked: the event loop reports CORRUPT_MESSAGE with its own message', async () => {
    pool = new BatchWorkerPool(1);
    const torn = batches(2).subarray(0, -10);
    await pool.prepare([torn]);
    expect(errorOf(() => validate(torn))?.message).toMatch(/declares \d+ bytes but only \d+ remain/);
  });

  test('many requests over several workers each get their own answer', async () => {
    pool = new BatchWorkerPool(3);
    const sets = Array.from({ length: 40 }, (_, i) => batches(1 + (i % 4), 200 + i * 50));
    const corrupt = new Set([3, 17, 31]);
    for (const i of corrupt) sets[i]![sets[i]!.length - 1] ^= 0x01;
    await Promise.all(sets.map((s) => pool.prepare([s])));
    sets.forEach((s, i) => expect(errorOf(() => validate(s))?.errorName).toBe(corrupt.has(i) ? 'CORRUPT_MESSAGE' : undefined));
  });

  test('a closed pool resolves what was in flight unverified and verifies nothing more', async () => {
    pool = new BatchWorkerPool(1);
    const sets = Array.from({ length: 20 }, () => batches(8));
    const inFlight = Promise.all(sets.map((s) => pool.prepare([s])));
    await pool.close();
    await inFlight; // resolves, never rejects
    expect(pool.enabled).toBe(false);
    const late = batches(1);
    late.writeUInt32BE((late.readUInt32BE(CRC_OFFSET) + 1) >>> 0, CRC_OFFSET);
    await pool.prepare([late]);
    expect(errorOf(() => validate(late))?.errorName).toBe('CORRUPT_MESSAGE');
  });

  test('brook.worker.threads: used as given within 0..64', () => {
    expect(workerThreadsFor(0)).toBe(0);
    expect(workerThreadsFor(2)).toBe(2);
    expect(workerThreadsFor(-3)).toBe(0);
    expect(workerThreadsFor(1000)).toBe(64);
  });
});

describe('BatchWorkerPool: re-compression', () => {
  let pool: BatchWorkerPool;
  afterEach(async () => { await pool?.close(); });

  const zstd: CompressionSettings = recompressionOf({ ...defaultLogConfig, compressionType: 'zstd' })!;
  const gzip9: CompressionSettings = recompressionOf({ ...defaultLogConfig, compressionType: 'gzip', gzipLevel: 9 })!;
  const headersOf = (records: Buffer) => validateClientBatches(records, { maxBatchBytes: 1 << 20 });

  test('a set the worker re-compressed is taken as it is (by: worker), byte for byte what the event loop would have made', async () => {
    const done: WorkDone[] = [];
    pool = new BatchWorkerPool(2, (d) => done.push(d));
    const a = batches(4);
    const b = batches(2, 3000);
    const plain = batches(3);
    await pool.prepare([a, plain, b], [zstd, null, gzip9]);
    const here = (set: Buffer, s: CompressionSettings) => convertCompression(Buffer.from(set), headersOf(set), s);
    for (const [set, settings] of [[a, zstd], [b, gzip9]] as const) {
      const out = convertCompression(set, headersOf(set), settings);
      expect(out.by).toBe('worker');
      const expected = here(set, settings);
      expect(expected.by).toBe('event-loop');
      expect(out.records).toEqual(expected.records);
      expect(out.headers).toEqual(expected.headers);
      expect(decodeBatchRecords(out.records, 0)).toEqual(decodeBatchRecords(set, 0));
    }
    // the set not asked to be converted is not
    expect(convertCompression(plain, headersOf(plain), zstd).by).toBe('event-loop');
    expect(done).toEqual([{ verifiedBytes: a.length + plain.length + b.length, convertedBytes: a.length + b.length }]);
  });

  test('the worker\'s result is not used once the topic\'s settings changed: the event loop converts with the new ones', async () => {
    pool = new BatchWorkerPool(1);
    const set = batches(3);
    await pool.prepare([set], [zstd]);
    const now = recompressionOf({ ...defaultLogConfig, compressionType: 'zstd', zstdLevel: 9 })!;
    const out = convertCompression(set, headersOf(set), now);
    expect(out.by).toBe('event-loop');
    expect(out.records).toEqual(convertCompression(Buffer.from(set), headersOf(set), now).records);
  });

  test('a compressed section that does not decompress (CRC-valid) is left to the event loop, which refuses it as without workers', async () => {
    const done: WorkDone[] = [];
    pool = new BatchWorkerPool(1, (d) => done.push(d));
    const one = batches(1, 4000);
    const good = convertCompression(one, headersOf(one), gzip9).records;
    // garble the gzip section, then make the CRC right again: whole and CRC-valid, but not gzip
    const bad = Buffer.from(good);
    bad.fill(0x5a, RECORDS_OFFSET + 10, RECORDS_OFFSET + 30);
    bad.writeUInt32BE(crcOf(bad), CRC_OFFSET);
    await pool.prepare([bad], [zstd]);
    expect(done).toEqual([{ verifiedBytes: bad.length, convertedBytes: 0 }]);
    const onLoop = errorOf(() => convertCompression(bad, headersOf(bad), zstd));
    expect(onLoop).toBeInstanceOf(Error);
    const without = errorOf(() => convertCompression(Buffer.from(bad), headersOf(bad), zstd));
    expect(onLoop?.message).toBe(without?.message);
  });

  test('a corrupt set is neither verified nor converted: the event loop refuses it with CORRUPT_MESSAGE', async () => {
    pool = new BatchWorkerPool(1);
    const bad = batches(2);
    bad[bad.length - 3] ^= 0xff;
    await pool.prepare([bad], [zstd]);
    expect(errorOf(() => validate(bad))?.errorName).toBe('CORRUPT_MESSAGE');
  });
});

function crcOf(batch: Buffer): number {
  return computeBatchCrc(batch, 0, batch.length);
}
