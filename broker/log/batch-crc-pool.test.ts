import { afterEach, describe, expect, test } from '@jest/globals';
import { BatchCrcPool, crcThreadsFor } from './batch-crc-pool.ts';
import { CRC_OFFSET, validateClientBatches } from './record-batch.ts';
import { encodeRecordBatch } from './records.ts';
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

describe('BatchCrcPool', () => {
  let pool: BatchCrcPool;
  afterEach(async () => { await pool?.close(); });

  test('a record set the worker verified skips the CRC on the event loop; a corrupted one is still refused there with CORRUPT_MESSAGE', async () => {
    pool = new BatchCrcPool(2);
    const good = batches(3);
    const bad = batches(3);
    bad[bad.length - 5] ^= 0xff; // a record byte of the last batch: its CRC no longer matches
    await pool.verify([good, bad]);
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
    pool = new BatchCrcPool(1);
    const torn = batches(2).subarray(0, -10);
    await pool.verify([torn]);
    expect(errorOf(() => validate(torn))?.message).toMatch(/declares \d+ bytes but only \d+ remain/);
  });

  test('many requests over several workers each get their own answer', async () => {
    pool = new BatchCrcPool(3);
    const sets = Array.from({ length: 40 }, (_, i) => batches(1 + (i % 4), 200 + i * 50));
    const corrupt = new Set([3, 17, 31]);
    for (const i of corrupt) sets[i]![sets[i]!.length - 1] ^= 0x01;
    await Promise.all(sets.map((s) => pool.verify([s])));
    sets.forEach((s, i) => expect(errorOf(() => validate(s))?.errorName).toBe(corrupt.has(i) ? 'CORRUPT_MESSAGE' : undefined));
  });

  test('a closed pool resolves what was in flight unverified and verifies nothing more', async () => {
    pool = new BatchCrcPool(1);
    const sets = Array.from({ length: 20 }, () => batches(8));
    const inFlight = Promise.all(sets.map((s) => pool.verify([s])));
    await pool.close();
    await inFlight; // resolves, never rejects
    expect(pool.enabled).toBe(false);
    const late = batches(1);
    late.writeUInt32BE((late.readUInt32BE(CRC_OFFSET) + 1) >>> 0, CRC_OFFSET);
    await pool.verify([late]);
    expect(errorOf(() => validate(late))?.errorName).toBe('CORRUPT_MESSAGE');
  });

  test('brook.worker.threads: used as given within 0..64', () => {
    expect(crcThreadsFor(0)).toBe(0);
    expect(crcThreadsFor(2)).toBe(2);
    expect(crcThreadsFor(-3)).toBe(0);
    expect(crcThreadsFor(1000)).toBe(64);
  });
});
