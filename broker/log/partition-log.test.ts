import { afterAll, describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { KafkaError } from '../errors.ts';
import { PartitionLog, defaultLogConfig, type LogConfig } from './index.ts';
import { encodeBatch, sizedBatch, splitBatches } from './testing/record-batch-builder.ts';
import { readBatchHeader, storedBatchProblem, TIMESTAMP_TYPE_MASK, computeBatchCrc } from './record-batch.ts';

const require = createRequire(import.meta.url);

let dirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'brook-log-'));
  dirs.push(d);
  return path.join(d, 'topic-0');
}
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function config(overrides: Partial<LogConfig> = {}): LogConfig {
  return { ...defaultLogConfig, ...overrides };
}

/** The bytes a stored batch should have: the client's batch with offset and epoch stamped. */
function stamped(batch: Buffer, baseOffset: bigint, epoch: number): Buffer {
  const copy = Buffer.from(batch);
  copy.writeBigInt64BE(baseOffset, 0);
  copy.writeInt32BE(epoch, 12);
  return copy;
}

function expectKafkaError(fn: () => unknown, name: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(KafkaError);
    expect((err as KafkaError).errorName).toBe(name);
    return;
  }
  throw new Error(`expected KafkaError ${name}`);
}

async function expectKafkaRejection(p: Promise<unknown>, name: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ errorName: name });
}

/**
 * Reads `maxBytes` from `offset` twice, into memory and as file ranges (each read back from its
 * descriptor, then released): both name the same bytes, size and next offset. Returns where the
 * read ended and how many file ranges it had.
 */
async function expectFilesNameTheReadBytes(log: PartitionLog, offset: bigint, maxBytes: number, opts: { maxOffset?: bigint; minOneBatch?: boolean } = {}):
  Promise<{ nextOffset: bigint; ranges: number }> {
  const plain = await log.readParts(offset, maxBytes, opts);
  const files = await log.readParts(offset, maxBytes, { ...opts, files: true });
  let ranges = 0;
  const sent = Buffer.concat(files.parts.map((part) => {
    if (Buffer.isBuffer(part)) return part;
    ranges++;
    const b = Buffer.alloc(part.length);
    expect(fs.readSync(part.fd, b, 0, part.length, part.position)).toBe(part.length);
    part.release();
    return b;
  }));
  expect(sent.equals(Buffer.concat(plain.parts as Buffer[]))).toBe(true);
  expect(files.size).toBe(plain.size);
  expect(files.nextOffset).toBe(plain.nextOffset);
  return { nextOffset: files.nextOffset, ranges };
}

async function readAll(log: PartitionLog, from = log.logStartOffset): Promise<Buffer[]> {
  const out: Buffer[] = [];
  let offset = from;
  while (offset < log.logEndOffset) {
    const r = await log.read(offset, 1 << 20);
    expect(r.records.length).toBeGreaterThan(0);
    out.push(...splitBatches(r.records));
    offset = r.nextOffset;
  }
  return out;
}

describe('PartitionLog append/read', () => {
  test('round trip is byte-exact, offsets are assigned in order', async () => {
    const log = await PartitionLog.open(tmpDir(), config());
    const batches = [sizedBatch(1, 3, 100), sizedBatch(2, 1, 10), sizedBatch(3, 5, 50)];
    const originals = batches.map((b) => Buffer.from(b));
    const results = batches.map((b) => log.append(b, { leaderEpoch: 7 }));
    expect(results.map((r) => [r.baseOffset, r.lastOffset, r.recordCount])).toEqual([[0n, 2n, 3], [3n, 3n, 1], [4n, 8n, 5]]);
    expect(log.logEndOffset).toBe(9n);
    const read = await log.read(0n, 1 << 20);
    expect(read.records).toEqual(Buffer.concat([stamped(originals[0]!, 0n, 7), stamped(originals[1]!, 3n, 7), stamped(originals[2]!, 4n, 7)]));
    expect(read.nextOffset).toBe(9n);
    // Reading from the middle of a batch returns the whole batch.
    const mid = await log.read(5n, 1 << 20);
    expect(mid.records).toEqual(stamped(originals[2]!, 4n, 7));
    // Every stored batch still has a valid CRC.
    for (const b of splitBatches(read.records)) expect(storedBatchProblem(b, 0, b.length)).toBeNull();
    await log.close();
  });

  test('a batch encoded by kafkajs (a real peer, gzip-compressed too) passes through untouched', async () => {
    const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js');
    const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js');
    const log = await PartitionLog.open(tmpDir(), config());
    for (const compression of [0, 1]) {
      const records = [0, 1, 2].map((i) => Record({ offsetDelta: i, key: Buffer.from(`k${i}`), value: Buffer.from(`value ${i}`) }));
      const enc = await RecordBatch({ compression, records, lastOffsetDelta: 2, firstTimestamp: 1000, maxTimestamp: 1000 });
      const bytes = Buffer.from(enc.buffer);
      const copy = Buffer.from(bytes);
      const r = log.append(bytes, { leaderEpoch: 1 });
      expect(r.recordCount).toBe(3);
      const read = await log.read(r.baseOffset, 1 << 20);
      expect(read.records).toEqual(stamped(copy, r.baseOffset, 1));
    }
    await log.close();
  });

  test('read bounds: maxBytes, minOneBatch, maxOffset, out of range, empty at log end', async () => {
    const log = await PartitionLog.open(tmpDir(), config());
    for (let i = 0; i < 10; i++) log.append(sizedBatch(i, 2, 500), { leaderEpoch: 0 });
    const size = (await log.read(0n, 1 << 20)).records.length / 10;
    expect((await log.read(0n, size * 3 + 10)).records.length).toBe(size * 3);
    expect((await log.read(0n, 10, { minOneBatch: false })).records.length).toBe(0);
    expect((await log.read(0n, 10, { minOneBatch: true })).records.length).toBe(size);
    const hw = await log.read(0n, 1 << 20, { maxOffset: 6n });
    expect(splitBatches(hw.records).map((b) => readBatchHeader(b, 0).baseOffset)).toEqual([0n, 2n, 4n]);
    expect(hw.nextOffset).toBe(6n);
    const atEnd = await log.read(20n, 1000);
    expect(atEnd.records.length).toBe(0);
    await expectKafkaRejection(log.read(21n, 1000), 'OFFSET_OUT_OF_RANGE');
    await expectKafkaRejection(log.read(-1n, 1000), 'OFFSET_OUT_OF_RANGE');
    await log.close();
  });

  test('a request is all or nothing: one bad batch rejects the whole append', async () => {
    const log = await PartitionLog.open(tmpDir(), config());
    const good = sizedBatch(1, 2, 10);
    const bad = sizedBatch(2, 2, 10);
    bad[bad.length - 1]! ^= 0xff;
    expectKafkaError(() => log.append(Buffer.concat([good, bad]), { leaderEpoch: 0 }), 'CORRUPT_MESSAGE');
    expect(log.logEndOffset).toBe(0n);
    expect(log.sizeInBytes).toBe(0);
    await log.close();
  });

  test('CORRUPT_MESSAGE: CRC, trailing bytes, truncated batch, bad counts; MESSAGE_TOO_LARGE; control batches', async () => {
    const log = await PartitionLog.open(tmpDir(), config({ maxMessageBytes: 2000 }));
    const flipped = sizedBatch(1, 1, 10);
    flipped[70]! ^= 1;
    expectKafkaError(() => log.append(flipped, { leaderEpoch: 0 }), 'CORRUPT_MESSAGE');
    expectKafkaError(() => log.append(Buffer.concat([sizedBatch(1, 1, 10), Buffer.from([1, 2, 3])]), { leaderEpoch: 0 }), 'CORRUPT_MESSAGE');
    expectKafkaError(() => log.append(sizedBatch(1, 1, 10).subarray(0, 70), { leaderEpoch: 0 }), 'CORRUPT_MESSAGE');
    expectKafkaError(() => log.append(Buffer.alloc(0), { leaderEpoch: 0 }), 'CORRUPT_MESSAGE');
    const badCount = sizedBatch(1, 2, 10);
    badCount.writeInt32BE(5, 57);
    badCount.writeUInt32BE(computeBatchCrc(badCount, 0, badCount.length), 17);
    expectKafkaError(() => log.append(badCount, { leaderEpoch: 0 }), 'CORRUPT_MESSAGE');
    expectKafkaError(() => log.append(sizedBatch(1, 3, 1000), { leaderEpoch: 0 }), 'MESSAGE_TOO_LARGE');
    expectKafkaError(() => log.append(encodeBatch([{ value: 'x' }], { attributes: 0x20 }), { leaderEpoch: 0 }), 'INVALID_RECORD');
    const magic1 = sizedBatch(1, 1, 10);
    magic1.writeInt8(1, 16);
    expectKafkaError(() => log.append(magic1, { leaderEpoch: 0 }), 'UNSUPPORTED_FOR_MESSAGE_FORMAT');
    expect(log.logEndOffset).toBe(0n);
    await log.close();
  });

  test('LogAppendTime stamps the attribute bit and maxTimestamp, with a valid CRC', async () => {
    const log = await PartitionLog.open(tmpDir(), config({ messageTimestampType: 'LogAppendTime' }), { clock: () => 1_700_000_000_123 });
    const batch = encodeBatch([{ value: 'a', timestamp: 5 }, { value: 'b', timestamp: 6 }]);
    const r = log.append(batch, { leaderEpoch: 3 });
    expect(r.logAppendTime).toBe(1_700_000_000_123n);
    const stored = (await log.read(0n, 1 << 20)).records;
    const h = readBatchHeader(stored, 0);
    expect(h.attributes & TIMESTAMP_TYPE_MASK).toBe(TIMESTAMP_TYPE_MASK);
    expect(h.maxTimestamp).toBe(1_700_000_000_123n);
    expect(h.baseTimestamp).toBe(5n);
    expect(storedBatchProblem(stored, 0, stored.length)).toBeNull();
    await log.close();
  });
});

describe('segments, indexes, retention', () => {
  test('rolls by segment.bytes; reads cross segments', async () => {
    const log = await PartitionLog.open(tmpDir(), config({ segmentBytes: 5000 }));
    const originals: Buffer[] = [];
    for (let i = 0; i < 20; i++) {
      const b = sizedBatch(i, 2, 500);
      originals.push(Buffer.from(b));
      log.append(b, { leaderEpoch: 0 });
    }
    expect(log.segmentCount).toBeGreaterThan(3);
    const all = await readAll(log);
    expect(all).toEqual(originals.map((b, i) => stamped(b, BigInt(i * 2), 0)));
    const cross = await log.read(0n, 1 << 20);
    expect(splitBatches(cross.records).length).toBe(20);
    await log.close();
  });

  test('rolls by segment.ms using batch timestamps and the clock', async () => {
    let now = 1_000_000;
    const log = await PartitionLog.open(tmpDir(), config({ segmentMs: 1000 }), { clock: () => now });
    log.append(encodeBatch([{ value: 'a', timestamp: now }]), { leaderEpoch: 0 });
    now += 500;
    log.append(encodeBatch([{ value: 'b', timestamp: now }]), { leaderEpoch: 0 });
    expect(log.segmentCount).toBe(1);
    now += 600;
    log.append(encodeBatch([{ value: 'c', timestamp: now }]), { leaderEpoch: 0 });
    expect(log.segmentCount).toBe(2);
    expect(log.segmentBaseOffsets).toEqual([0n, 2n]);
    await log.close();
  });

  test('retention by time deletes old segments but never the active one', async () => {
    let now = 10_000_000;
    const log = await PartitionLog.open(tmpDir(), config({ segmentBytes: 3000, retentionMs: 60_000 }), { clock: () => now });
    for (let i = 0; i < 12; i++) {
      log.append(encodeBatch([{ value: Buffer.alloc(900), timestamp: now }]), { leaderEpoch: 0 });
      now += 10_000;
    }
    const before = log.segmentCount;
    expect(before).toBeGreaterThan(3);
    const r = log.enforceRetention(now);
    expect(r.deletedSegments.length).toBeGreaterThan(0);
    expect(log.logStartOffset).toBe(log.segmentBaseOffsets[0]);
    expect(r.logStartOffset).toBe(log.logStartOffset);
    // Everything left is younger than retention, except possibly the active segment.
    await expectKafkaRejection(log.read(0n, 100), 'OFFSET_OUT_OF_RANGE');
    const all = log.enforceRetention(now + 10_000_000);
    expect(log.segmentCount).toBe(1);
    expect(all.logStartOffset).toBe(log.segmentBaseOffsets[0]);
    expect(fs.readdirSync(log.dir).filter((f) => f.endsWith('.log')).length).toBe(1);
    await log.close();
  });

  test('retention by size keeps at most retention.bytes (plus the active segment)', async () => {
    const log = await PartitionLog.open(tmpDir(), config({ segmentBytes: 3000, retentionBytes: 6000, retentionMs: -1 }));
    for (let i = 0; i < 30; i++) log.append(sizedBatch(i, 1, 900), { leaderEpoch: 0 });
    log.enforceRetention(Date.now());
    expect(log.sizeInBytes).toBeLessThanOrEqual(6000 + 3000);
    expect(log.sizeInBytes).toBeGreaterThanOrEqual(6000);
    const batches = await readAll(log);
    expect(readBatchHeader(batches[0]!, 0).baseOffset).toBe(log.logStartOffset);
    await log.close();
  });

  test('deleteRecordsBefore advances the log start offset, survives restart, deletes whole segments', async () => {
    const dir = tmpDir();
    let log = await PartitionLog.open(dir, config({ segmentBytes: 3000 }));
    for (let i = 0; i < 20; i++) log.append(sizedBatch(i, 1, 900), { leaderEpoch: 0 });
    const segmentsBefore = log.segmentCount;
    log.deleteRecordsBefore(9n);
    expect(log.logStartOffset).toBe(9n);
    expect(log.segmentCount).toBeLessThan(segmentsBefore);
    await expectKafkaRejection(log.read(8n, 100), 'OFFSET_OUT_OF_RANGE');
    expect(readBatchHeader((await log.read(9n, 100)).records, 0).baseOffset).toBe(9n);
    expectKafkaError(() => log.deleteRecordsBefore(21n), 'OFFSET_OUT_OF_RANGE');
    await log.close();
    log = await PartitionLog.open(dir, config({ segmentBytes: 3000 }));
    expect(log.logStartOffset).toBe(9n);
    expect(log.logEndOffset).toBe(20n);
    await log.close();
  });

  test('index lookup agrees with a linear scan (property)', async () => {
    const log = await PartitionLog.open(tmpDir(), config({ segmentBytes: 64 * 1024, indexIntervalBytes: 700 }));
    const starts: { base: bigint; last: bigint }[] = [];
    let seed = 0;
    await fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 600 })), { minLength: 1, maxLength: 30 }), async (specs) => {
      for (const [count, size] of specs) {
        const r = log.append(sizedBatch(seed++, count, size), { leaderEpoch: 0 });
        starts.push({ base: r.baseOffset, last: r.lastOffset });
      }
      for (let k = 0; k < 20; k++) {
        const target = BigInt(Math.floor(Math.random() * Number(log.logEndOffset)));
        const expected = starts.find((s) => s.last >= target)!;
        const got = await log.read(target, 1, { minOneBatch: true });
        expect(readBatchHeader(got.records, 0).baseOffset).toBe(expected.base);
      }
    }), { numRuns: 30 });
    expect(log.segmentCount).toBeGreaterThan(1);
    await log.close();
  });

  test('readParts with files (sendfile ranges found from headers) names the same bytes as reading them (property)', async () => {
    const log = await PartitionLog.open(tmpDir(), config({ segmentBytes: 128 * 1024, indexIntervalBytes: 1500 }));
    let seed = 0;
    // batches from ~80 bytes to ~40 KiB: several per index interval, and larger than the locate chunk (16 KiB)
    for (let i = 0; i < 120; i++) log.append(sizedBatch(seed++, 1 + (i % 7), [10, 300, 2000, 6000][i % 4]!), { leaderEpoch: 0 });
    expect(log.segmentCount).toBeGreaterThan(5);
    const end = log.logEndOffset;
    let ranges = 0;
    await fc.assert(fc.asyncProperty(
      fc.bigInt({ min: 0n, max: end }), fc.integer({ min: 0, max: 200_000 }), fc.bigInt({ min: 0n, max: end }), fc.boolean(),
      async (offset, maxBytes, maxOffset, minOneBatch) => {
        ranges += (await expectFilesNameTheReadBytes(log, offset, maxBytes, { maxOffset, minOneBatch })).ranges;
      }), { numRuns: 300 });
    expect(ranges).toBeGreaterThan(50); // the file ranges were exercised, not only in-chunk bytes
    await log.close();
  });

  test('readParts with files, each fetch from where the last ended (a consumer), names the bytes reads do, also after truncation re-appends other batches at the same offsets', async () => {
    const log = await PartitionLog.open(tmpDir(), config({ segmentBytes: 4 * 1024 * 1024, indexIntervalBytes: 4096 }));
    let seed = 0;
    /** Batches `from` to `to` - 1: batch i holds 1 + i % 5 records, so every batch's base offset depends on i alone. */
    const appendSome = (from: number, to: number, sizes: number[]): void => {
      for (let i = from; i < to; i++) log.append(sizedBatch(seed++, 1 + (i % 5), sizes[i % sizes.length]!), { leaderEpoch: 0 });
    };
    let ranges = 0;
    /** One fetch from `offset` with and without files: the same bytes; returns where it ended. */
    const fetchBoth = async (offset: bigint, maxBytes: number): Promise<bigint> => {
      const r = await expectFilesNameTheReadBytes(log, offset, maxBytes);
      ranges += r.ranges;
      expect(r.nextOffset).toBeGreaterThan(offset);
      return r.nextOffset;
    };
    /** Fetches the whole log in sequence, as a consumer; returns the offsets it fetched from. */
    const sequentialPass = async (maxBytes: number): Promise<bigint[]> => {
      const from: bigint[] = [];
      for (let offset = 0n; offset < log.logEndOffset; offset = await fetchBoth(offset, maxBytes)) from.push(offset);
      return from;
    };
    appendSome(0, 300, [700, 3000, 9000, 150]);
    expect(log.segmentCount).toBe(1);
    const fetchedFrom = await sequentialPass(60_000);
    expect(ranges).toBeGreaterThan(20);
    // the log is cut at batch 100 and batches of other sizes take the same offsets again: where the
    // fetches above started now lies elsewhere in the file
    let cut = 0n;
    for (let i = 0; i < 100; i++) cut += BigInt(1 + (i % 5));
    log.truncateTo(cut);
    appendSome(100, 300, [5000, 90, 12_000]);
    const again = fetchedFrom.filter((o) => o >= cut);
    expect(again.length).toBeGreaterThan(5);
    for (const offset of again) await fetchBoth(offset, 60_000);
    ranges = 0;
    await sequentialPass(45_000);
    expect(ranges).toBeGreaterThan(20);
    await log.close();
  });

  test('offsetForTimestamp: first record at or after, across segments and after reopen', async () => {
    const dir = tmpDir();
    let log = await PartitionLog.open(dir, config({ segmentBytes: 4000, indexIntervalBytes: 100 }));
    // Batch i has records with timestamps 1000*i + {0, 10, 20}.
    for (let i = 0; i < 30; i++) {
      log.append(encodeBatch([0, 10, 20].map((d) => ({ value: Buffer.alloc(200), timestamp: 1000 * i + d }))), { leaderEpoch: 0 });
    }
    const check = async (): Promise<void> => {
      expect(await log.offsetForTimestamp(0n)).toEqual({ offset: 0n, timestamp: 0n });
      expect(await log.offsetForTimestamp(5005n)).toEqual({ offset: 16n, timestamp: 5010n });
      expect(await log.offsetForTimestamp(5021n)).toEqual({ offset: 18n, timestamp: 6000n });
      expect(await log.offsetForTimestamp(29020n)).toEqual({ offset: 89n, timestamp: 29020n });
      expect(await log.offsetForTimestamp(29021n)).toBeNull();
    };
    await check();
    expect(log.segmentCount).toBeGreaterThan(2);
    await log.close();
    log = await PartitionLog.open(dir, config({ segmentBytes: 4000, indexIntervalBytes: 100 }));
    await check();
    await log.close();
  });
});

describe('recovery', () => {
  async function filled(dir: string, cfg: LogConfig): Promise<{ originals: Buffer[] }> {
    const log = await PartitionLog.open(dir, cfg);
    const originals: Buffer[] = [];
    for (let i = 0; i < 30; i++) {
      const b = sizedBatch(i, 2, 300);
      originals.push(Buffer.from(b));
      log.append(b, { leaderEpoch: 0 });
    }
    await log.close();
    return { originals };
  }
  const cfg = config({ segmentBytes: 8000, indexIntervalBytes: 500 });
  const lastLog = (dir: string): string => path.join(dir, fs.readdirSync(dir).filter((f) => f.endsWith('.log')).sort().at(-1)!);

  test('torn tail (file cut mid-batch) is truncated to the last whole batch', async () => {
    const dir = tmpDir();
    const { originals } = await filled(dir, cfg);
    const file = lastLog(dir);
    const size = fs.statSync(file).size;
    fs.truncateSync(file, size - 100);
    const log = await PartitionLog.open(dir, cfg);
    expect(log.logEndOffset).toBe(58n);
    const all = await readAll(log);
    expect(all).toEqual(originals.slice(0, 29).map((b, i) => stamped(b, BigInt(i * 2), 0)));
    // The log keeps working after recovery.
    const r = log.append(sizedBatch(99, 1, 10), { leaderEpoch: 0 });
    expect(r.baseOffset).toBe(58n);
    await log.close();
  });

  test('a flipped byte (CRC mismatch) in the active segment truncates from that batch', async () => {
    const dir = tmpDir();
    const { originals } = await filled(dir, cfg);
    const file = lastLog(dir);
    const buf = fs.readFileSync(file);
    const batches = splitBatches(buf);
    const victim = batches.length - 3;
    const pos = batches.slice(0, victim).reduce((n, b) => n + b.length, 0) + 100;
    buf[pos]! ^= 0x40;
    fs.writeFileSync(file, buf);
    const log = await PartitionLog.open(dir, cfg);
    expect(log.logEndOffset).toBe(BigInt((30 - 3) * 2));
    const all = await readAll(log);
    expect(all).toEqual(originals.slice(0, 27).map((b, i) => stamped(b, BigInt(i * 2), 0)));
    await log.close();
  });

  test('a partition opened and closed without writes writes no file (a broker with thousands of partitions stops in seconds: it took 36 s for 2,000 when every close rewrote its snapshot, indexes and checkpoints with fsyncs)', async () => {
    const dir = tmpDir();
    await filled(dir, cfg);
    const before = new Map(fs.readdirSync(dir).map((f) => [f, fs.statSync(path.join(dir, f)).mtimeMs]));
    await new Promise((r) => setTimeout(r, 20));
    const reopened = await PartitionLog.open(dir, cfg);
    expect(reopened.logEndOffset).toBe(60n);
    await reopened.close();
    const after = new Map(fs.readdirSync(dir).map((f) => [f, fs.statSync(path.join(dir, f)).mtimeMs]));
    expect(after).toEqual(before);
    // a new, empty partition opened and closed leaves only its first segment
    const empty = tmpDir();
    const log = await PartitionLog.open(empty, cfg);
    await log.close();
    expect(fs.readdirSync(empty).sort()).toEqual(['00000000000000000000.log']);
  });

  test('deleted or corrupt index files are rebuilt', async () => {
    const dir = tmpDir();
    const { originals } = await filled(dir, cfg);
    // the rolled segments' index files (the active segment's are rebuilt on every open, never written)
    const indexes = fs.readdirSync(dir).filter((f) => f.endsWith('.index') || f.endsWith('.timeindex')).sort();
    expect(indexes.length).toBeGreaterThanOrEqual(4);
    fs.rmSync(path.join(dir, indexes[0]!));
    fs.writeFileSync(path.join(dir, indexes[1]!), Buffer.from('garbage!garbage!x'));
    fs.writeFileSync(path.join(dir, indexes[2]!), Buffer.alloc(16, 0xff));
    const log = await PartitionLog.open(dir, cfg);
    const all = await readAll(log);
    expect(all).toEqual(originals.map((b, i) => stamped(b, BigInt(i * 2), 0)));
    for (let o = 0n; o < 60n; o += 7n) {
      expect(readBatchHeader((await log.read(o, 1)).records, 0).baseOffset).toBe(o - (o % 2n));
    }
    expect(await log.offsetForTimestamp(0n)).toEqual({ offset: 0n, timestamp: 0n });
    await log.close();
    // Rebuilt files are re-derived again.
    const again = await PartitionLog.open(dir, cfg);
    expect((await readAll(again)).length).toBe(30);
    await again.close();
  });

  test('stray .tmp / .deleted files and orphan indexes are cleaned up', async () => {
    const dir = tmpDir();
    await filled(dir, cfg);
    fs.writeFileSync(path.join(dir, '00000000000000000000.log.deleted'), 'x');
    fs.writeFileSync(path.join(dir, 'leader-epoch-checkpoint.tmp'), 'x');
    fs.writeFileSync(path.join(dir, '00000000000000999999.index'), 'x');
    const log = await PartitionLog.open(dir, cfg);
    const files = fs.readdirSync(dir);
    expect(files.some((f) => f.endsWith('.deleted') || f.endsWith('.tmp') || f.startsWith('00000000000000999999'))).toBe(false);
    expect(log.logEndOffset).toBe(60n);
    await log.close();
  });
});

describe('idempotent producers', () => {
  const pid = 42n;
  const batch = (seq: number, count: number, epoch = 0, seed = seq): Buffer =>
    sizedBatch(seed, count, 20, { producerId: pid, producerEpoch: epoch, baseSequence: seq });

  test('duplicates return the original offsets and write nothing', async () => {
    const log = await PartitionLog.open(tmpDir(), config());
    const first = log.append(batch(0, 3), { leaderEpoch: 0 });
    log.append(batch(3, 2), { leaderEpoch: 0 });
    const size = log.sizeInBytes;
    const dup = log.append(batch(0, 3), { leaderEpoch: 0 });
    expect(dup).toMatchObject({ duplicate: true, baseOffset: first.baseOffset, lastOffset: first.lastOffset, recordCount: 3 });
    expect(log.sizeInBytes).toBe(size);
    expect(log.logEndOffset).toBe(5n);
    await log.close();
  });

  test('gaps are OUT_OF_ORDER_SEQUENCE_NUMBER, old epochs are fenced, a new epoch starts at 0', async () => {
    const log = await PartitionLog.open(tmpDir(), config());
    log.append(batch(0, 2, 1), { leaderEpoch: 0 });
    expectKafkaError(() => log.append(batch(5, 1, 1), { leaderEpoch: 0 }), 'OUT_OF_ORDER_SEQUENCE_NUMBER');
    expectKafkaError(() => log.append(batch(2, 1, 0), { leaderEpoch: 0 }), 'INVALID_PRODUCER_EPOCH');
    expectKafkaError(() => log.append(batch(2, 1, 2), { leaderEpoch: 0 }), 'OUT_OF_ORDER_SEQUENCE_NUMBER');
    log.append(batch(0, 1, 2), { leaderEpoch: 0 });
    expectKafkaError(() => log.append(batch(2, 1, 1), { leaderEpoch: 0 }), 'INVALID_PRODUCER_EPOCH');
    expect(log.logEndOffset).toBe(3n);
    // An unknown producer may start at any sequence (KIP-360, Kafka 2.5+).
    log.append(sizedBatch(1, 1, 10, { producerId: 7n, producerEpoch: 0, baseSequence: 100 }), { leaderEpoch: 0 });
    // Only the last 5 batches are remembered.
    for (let s = 1; s <= 6; s++) log.append(batch(s, 1, 2), { leaderEpoch: 0 });
    expect(log.append(batch(2, 1, 2), { leaderEpoch: 0 }).duplicate).toBe(true);
    expectKafkaError(() => log.append(batch(1, 1, 2), { leaderEpoch: 0 }), 'OUT_OF_ORDER_SEQUENCE_NUMBER');
    await log.close();
  });

  test('sequence numbers wrap at int32 max', async () => {
    const log = await PartitionLog.open(tmpDir(), config());
    log.append(batch(0x7fffffff - 1, 2), { leaderEpoch: 0 });
    log.append(batch(0, 1), { leaderEpoch: 0 });
    const wrapped = sizedBatch(5, 3, 10, { producerId: 9n, producerEpoch: 0, baseSequence: 0x7fffffff });
    log.append(wrapped, { leaderEpoch: 0 });
    log.append(sizedBatch(6, 1, 10, { producerId: 9n, producerEpoch: 0, baseSequence: 2 }), { leaderEpoch: 0 });
    expect(log.append(sizedBatch(5, 3, 10, { producerId: 9n, producerEpoch: 0, baseSequence: 0x7fffffff }), { leaderEpoch: 0 }).duplicate).toBe(true);
    await log.close();
  });

  test('state survives close/reopen (snapshot) and an unclean stop (replay)', async () => {
    const dir = tmpDir();
    const cfg = config({ segmentBytes: 1000 });
    let log = await PartitionLog.open(dir, cfg);
    let seq = 0;
    for (let i = 0; i < 20; i++) { log.append(batch(seq, 2, 0, i), { leaderEpoch: 0 }); seq += 2; }
    expect(log.segmentCount).toBeGreaterThan(2);
    await log.close();
    log = await PartitionLog.open(dir, cfg);
    expect(log.append(batch(seq - 2, 2, 0, 19), { leaderEpoch: 0 })).toMatchObject({ duplicate: true, baseOffset: 38n });
    expectKafkaError(() => log.append(batch(seq + 1, 1), { leaderEpoch: 0 }), 'OUT_OF_ORDER_SEQUENCE_NUMBER');
    for (let i = 0; i < 3; i++) { log.append(batch(seq, 2, 0, 100 + i), { leaderEpoch: 0 }); seq += 2; }
    // Unclean stop: no close(), no snapshot at the log end; drop the latest snapshots too.
    for (const f of fs.readdirSync(dir)) if (f.endsWith('.snapshot')) fs.rmSync(path.join(dir, f));
    log = await PartitionLog.open(dir, cfg);
    expect(log.append(batch(seq - 2, 2, 0, 102), { leaderEpoch: 0 })).toMatchObject({ duplicate: true, baseOffset: 44n });
    expectKafkaError(() => log.append(batch(seq + 4, 1), { leaderEpoch: 0 }), 'OUT_OF_ORDER_SEQUENCE_NUMBER');
    expectKafkaError(() => log.append(batch(seq, 1, -1, 1), { leaderEpoch: 0 }), 'INVALID_PRODUCER_EPOCH');
    expect(log.append(batch(seq, 1, 0, 200), { leaderEpoch: 0 }).baseOffset).toBe(46n);
    await log.close();
  });
});

describe('truncation and leader epochs', () => {
  test('truncateTo removes the tail, reloads producer state and epochs', async () => {
    const dir = tmpDir();
    const log = await PartitionLog.open(dir, config({ segmentBytes: 2000 }));
    for (let i = 0; i < 10; i++) log.append(sizedBatch(i, 2, 300, { producerId: 1n, producerEpoch: 0, baseSequence: i * 2 }), { leaderEpoch: 1 });
    log.assignEpochStartOffset(2, log.logEndOffset);
    for (let i = 10; i < 20; i++) log.append(sizedBatch(i, 2, 300, { producerId: 1n, producerEpoch: 0, baseSequence: i * 2 }), { leaderEpoch: 2 });
    expect(log.endOffsetForEpoch(1)).toEqual({ leaderEpoch: 1, endOffset: 20n });
    expect(log.endOffsetForEpoch(2)).toEqual({ leaderEpoch: 2, endOffset: 40n });
    expect(log.endOffsetForEpoch(3)).toEqual({ leaderEpoch: -1, endOffset: -1n });
    expect(log.endOffsetForEpoch(0)).toEqual({ leaderEpoch: 0, endOffset: 0n });
    log.truncateTo(15n); // inside batch 7 (offsets 14-15): the whole batch goes
    expect(log.logEndOffset).toBe(14n);
    expect(log.endOffsetForEpoch(1)).toEqual({ leaderEpoch: 1, endOffset: 14n });
    expect(log.endOffsetForEpoch(2)).toEqual({ leaderEpoch: -1, endOffset: -1n });
    const all = await readAll(log);
    expect(all.length).toBe(7);
    // The producer may continue right after the surviving batches.
    expect(log.append(sizedBatch(7, 2, 300, { producerId: 1n, producerEpoch: 0, baseSequence: 14 }), { leaderEpoch: 3 }).baseOffset).toBe(14n);
    expect(log.endOffsetForEpoch(1)).toEqual({ leaderEpoch: 1, endOffset: 14n });
    expect(log.endOffsetForEpoch(2)).toEqual({ leaderEpoch: 1, endOffset: 14n });
    await log.close();
    const again = await PartitionLog.open(dir, config({ segmentBytes: 2000 }));
    expect(again.endOffsetForEpoch(3)).toEqual({ leaderEpoch: 3, endOffset: 16n });
    expect(again.logEndOffset).toBe(16n);
    again.truncateTo(0n);
    expect(again.logEndOffset).toBe(0n);
    expect(again.endOffsetForEpoch(3)).toEqual({ leaderEpoch: -1, endOffset: -1n });
    await again.close();
  });
});

describe('flush policy', () => {
  test('flush.messages=1: every append requires a flush before ack; flushUpTo advances flushedOffset', async () => {
    const log = await PartitionLog.open(tmpDir(), config({ flushMessages: 1 }));
    const r = log.append(sizedBatch(1, 3, 10), { leaderEpoch: 0 });
    expect(r.flushRequired).toBe(true);
    const waiting = log.flushed(r.lastOffset);
    expect(waiting).not.toBeNull();
    await waiting;
    expect(log.flushedOffset).toBeGreaterThanOrEqual(3n);
    expect(log.flushed(r.lastOffset)).toBeNull();
    await log.close();
  });

  test('default policy: no flush on the produce path', async () => {
    const log = await PartitionLog.open(tmpDir(), config());
    const r = log.append(sizedBatch(1, 3, 10), { leaderEpoch: 0 });
    expect(r.flushRequired).toBe(false);
    expect(log.flushed(r.lastOffset)).toBeNull();
    await log.flush();
    expect(log.flushedOffset).toBe(3n);
    await log.close();
  });

  test('flush.messages=N flushes when N messages are pending', async () => {
    const log = await PartitionLog.open(tmpDir(), config({ flushMessages: 5 }));
    expect(log.append(sizedBatch(1, 2, 10), { leaderEpoch: 0 }).flushRequired).toBe(false);
    expect(log.append(sizedBatch(2, 2, 10), { leaderEpoch: 0 }).flushRequired).toBe(false);
    const r = log.append(sizedBatch(3, 2, 10), { leaderEpoch: 0 });
    expect(r.flushRequired).toBe(true);
    await log.flushed(r.lastOffset);
    expect(log.flushedOffset).toBe(6n);
    await log.close();
  });

  test('delete() removes the directory', async () => {
    const dir = tmpDir();
    const log = await PartitionLog.open(dir, config());
    log.append(sizedBatch(1, 1, 10), { leaderEpoch: 0 });
    await log.delete();
    expect(fs.existsSync(dir)).toBe(false);
  });
});

describe('replication', () => {
  test('appendAsFollower stores the leader bytes as they are, follows epochs and producer state', async () => {
    const leader = await PartitionLog.open(tmpDir(), config({ segmentBytes: 3000 }));
    const follower = await PartitionLog.open(tmpDir(), config({ segmentBytes: 3000 }));
    for (let i = 0; i < 6; i++) leader.append(sizedBatch(i, 2, 300, { producerId: 5n, producerEpoch: 0, baseSequence: i * 2 }), { leaderEpoch: 1 });
    leader.assignEpochStartOffset(3, leader.logEndOffset);
    for (let i = 6; i < 12; i++) leader.append(sizedBatch(i, 2, 300, { producerId: 5n, producerEpoch: 0, baseSequence: i * 2 }), { leaderEpoch: 3 });
    let offset = 0n;
    while (offset < leader.logEndOffset) {
      const r = await leader.read(offset, 2000);
      follower.appendAsFollower(Buffer.from(r.records));
      offset = r.nextOffset;
    }
    expect(follower.logEndOffset).toBe(leader.logEndOffset);
    expect(Buffer.concat(await readAll(follower))).toEqual(Buffer.concat(await readAll(leader)));
    expect(follower.endOffsetForEpoch(1)).toEqual(leader.endOffsetForEpoch(1));
    expect(follower.endOffsetForEpoch(1)).toEqual({ leaderEpoch: 1, endOffset: 12n });
    // Re-sending what the follower has is rejected; a corrupt batch is rejected.
    const again = (await leader.read(0n, 100)).records;
    expectKafkaError(() => follower.appendAsFollower(Buffer.from(again)), 'CORRUPT_MESSAGE');
    // The follower, once leader, de-duplicates the producer's retry of its last batch.
    expect(follower.append(sizedBatch(11, 2, 300, { producerId: 5n, producerEpoch: 0, baseSequence: 22 }), { leaderEpoch: 4 }))
      .toMatchObject({ duplicate: true, baseOffset: 22n });
    await leader.close();
    await follower.close();
  });
});

describe('more recovery and lifecycle', () => {
  test('after an unclean stop a corrupt batch in an older segment truncates there and drops later segments', async () => {
    const dir = tmpDir();
    const cfg = config({ segmentBytes: 3000 });
    const log = await PartitionLog.open(dir, cfg);
    for (let i = 0; i < 20; i++) log.append(sizedBatch(i, 1, 900), { leaderEpoch: 0 });
    await log.close();
    // Unclean: the recovery point is unknown, so every segment is verified.
    fs.rmSync(path.join(dir, 'recovery-point-checkpoint'));
    const logs = fs.readdirSync(dir).filter((f) => f.endsWith('.log')).sort();
    expect(logs.length).toBeGreaterThan(3);
    const victim = path.join(dir, logs[1]!);
    const bytes = fs.readFileSync(victim);
    const second = splitBatches(bytes)[0]!.length + 80;
    bytes[second]! ^= 0xff;
    fs.writeFileSync(victim, bytes);
    const reopened = await PartitionLog.open(dir, cfg);
    const firstOfVictim = BigInt(logs[1]!.slice(0, 20));
    expect(reopened.logEndOffset).toBe(firstOfVictim + 1n);
    expect(reopened.segmentCount).toBe(2);
    expect((await readAll(reopened)).length).toBe(Number(firstOfVictim) + 1);
    await reopened.close();
  });

  test('a read in flight keeps a segment readable while retention deletes it', async () => {
    const dir = tmpDir();
    const log = await PartitionLog.open(dir, config({ segmentBytes: 3000, fileDeleteDelayMs: 0 }));
    const originals: Buffer[] = [];
    for (let i = 0; i < 10; i++) {
      const b = sizedBatch(i, 1, 900);
      originals.push(Buffer.from(b));
      log.append(b, { leaderEpoch: 0 });
    }
    const reading = log.read(0n, 1500, { minOneBatch: true });
    log.deleteRecordsBefore(8n);
    expect(log.segmentBaseOffsets[0]).toBeGreaterThan(0n);
    const r = await reading;
    expect(splitBatches(r.records)[0]).toEqual(stamped(originals[0]!, 0n, 0));
    await log.flush(); // background roll work also holds segment references
    expect(fs.readdirSync(dir).some((f) => f.endsWith('.deleted'))).toBe(false);
    await expectKafkaRejection(log.read(0n, 100), 'OFFSET_OUT_OF_RANGE');
    await log.close();
  });

  test('file.delete.delay.ms keeps a segment removed by retention on disk as .deleted until the delay ends', async () => {
    const dir = tmpDir();
    const timers: Array<{ fn: () => void; ms: number; cancelled: boolean }> = [];
    const schedule = (fn: () => void, ms: number) => {
      const t = { fn, ms, cancelled: false };
      timers.push(t);
      return () => { t.cancelled = true; };
    };
    const log = await PartitionLog.open(dir, config({ segmentBytes: 3000, fileDeleteDelayMs: 45_000 }), { schedule });
    for (let i = 0; i < 10; i++) log.append(sizedBatch(i, 1, 900), { leaderEpoch: 0 });
    await log.flush();
    log.deleteRecordsBefore(8n);
    expect(log.segmentBaseOffsets[0]).toBeGreaterThan(0n);
    const deleted = () => fs.readdirSync(dir).filter((f) => f.endsWith('.deleted')).sort();
    expect(deleted().length).toBeGreaterThan(0);
    expect(timers.map((t) => t.ms)).toEqual(deleted().map(() => 45_000));
    await expectKafkaRejection(log.read(0n, 100), 'OFFSET_OUT_OF_RANGE');
    for (const t of timers) t.fn();
    expect(deleted()).toEqual([]);
    await log.close();
  });

  test('file.delete.delay.ms: closing the log removes the .deleted files it still held', async () => {
    const dir = tmpDir();
    const log = await PartitionLog.open(dir, config({ segmentBytes: 3000, fileDeleteDelayMs: 3_600_000 }));
    for (let i = 0; i < 10; i++) log.append(sizedBatch(i, 1, 900), { leaderEpoch: 0 });
    await log.flush();
    log.deleteRecordsBefore(8n);
    expect(fs.readdirSync(dir).some((f) => f.endsWith('.deleted'))).toBe(true);
    await log.close();
    expect(fs.readdirSync(dir).some((f) => f.endsWith('.deleted'))).toBe(false);
  });

  test('flush.ms flushes in the background', async () => {
    const log = await PartitionLog.open(tmpDir(), config({ flushMs: 10 }));
    const r = log.append(sizedBatch(1, 1, 10), { leaderEpoch: 0 });
    expect(r.flushRequired).toBe(false);
    for (let i = 0; i < 200 && log.flushedOffset < 1n; i++) await new Promise((res) => setTimeout(res, 10));
    expect(log.flushedOffset).toBe(1n);
    await log.close();
  });

  test('truncateFullyAndStartAt restarts an empty log at an offset, across restart', async () => {
    const dir = tmpDir();
    const log = await PartitionLog.open(dir, config());
    for (let i = 0; i < 3; i++) log.append(sizedBatch(i, 2, 10, { producerId: 3n, producerEpoch: 0, baseSequence: i * 2 }), { leaderEpoch: 1 });
    log.truncateFullyAndStartAt(1000n);
    expect([log.logStartOffset, log.logEndOffset, log.segmentCount]).toEqual([1000n, 1000n, 1]);
    expect(log.append(sizedBatch(9, 1, 10), { leaderEpoch: 2 }).baseOffset).toBe(1000n);
    await log.close();
    const again = await PartitionLog.open(dir, config());
    expect([again.logStartOffset, again.logEndOffset]).toEqual([1000n, 1001n]);
    expect(again.endOffsetForEpoch(2)).toEqual({ leaderEpoch: 2, endOffset: 1001n });
    await again.close();
  });
});
