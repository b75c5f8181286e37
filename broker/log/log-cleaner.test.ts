import { afterAll, describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { crc32c } from '@node-rs/crc32';
import snappyjs from 'snappyjs';
import lz4js from 'lz4js';
import { KafkaError } from '../errors.ts';
import { PartitionLog, LogCleaner, defaultLogConfig, type LogConfig, type CleanResult } from './index.ts';
import { encodeBatch, splitBatches, type TestRecord, type TestBatchOptions } from './testing/record-batch-builder.ts';
import { decodeBatchRecords, type Record } from './records.ts';
import { readBatchHeader, storedBatchProblem } from './record-batch.ts';
import { lz4Compress, snappyDecompress } from '../../test/harness/codecs.ts';

let dirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'brook-cleaner-'));
  dirs.push(d);
  return path.join(d, 'compacted-0');
}
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs = [];
});

const T0 = 1_700_000_000_000;

function compactConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  return { ...defaultLogConfig, cleanupPolicy: 'compact', segmentBytes: 64 * 1024, segmentMs: 60_000, deleteRetentionMs: 1000, ...overrides };
}

class Clock {
  now = T0;
  readonly fn = (): number => this.now;
}

async function readBatches(log: PartitionLog, maxBytes = 1 << 20): Promise<Buffer[]> {
  const out: Buffer[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const r = await log.read(offset, maxBytes);
    if (r.records.length === 0) break;
    out.push(...splitBatches(r.records));
    offset = r.nextOffset;
  }
  return out;
}

async function readRecords(log: PartitionLog): Promise<Record[]> {
  const out: Record[] = [];
  for (const b of await readBatches(log)) {
    expect(storedBatchProblem(b, 0, b.length)).toBeNull();
    out.push(...decodeBatchRecords(b));
  }
  return out;
}

/** Appends then rolls: a batch far in the future makes the next append roll the segment (segment.ms). */
function rollWithSentinel(log: PartitionLog, ts: number): void {
  log.append(encodeBatch([{ key: '__sentinel', value: 'x', timestamp: ts }]), { leaderEpoch: 0 });
}

/** The latest record per key, from a model of what was produced. */
type Model = Map<string, { offset: bigint; value: string | null }>;

describe('LogCleaner: compaction', () => {
  test('100k records over 1k keys with tombstones: exactly the latest value per live key, offsets preserved; tombstones go after delete.retention.ms', async () => {
    const clock = new Clock();
    const dir = tmpDir();
    const log = await PartitionLog.open(dir, compactConfig({ segmentBytes: 256 * 1024 }), { clock: clock.fn });
    const model: Model = new Map();
    let n = 0;
    const deleted = new Set<number>();
    for (let b = 0; b < 1000; b++) {
      const records: TestRecord[] = [];
      for (let i = 0; i < 100; i++, n++) {
        const key = (n * 7919) % 1000;
        // Near the end every key divisible by 10 is deleted; then half of them come back, and
        // the other half is deleted again.
        const tombstone = (n >= 98_000 && n < 99_000 && key % 10 === 0) || (n >= 99_000 && key % 20 === 10);
        records.push({ key: `key-${key}`, value: tombstone ? null : `value-${n}`, timestamp: T0 + n });
        if (tombstone) deleted.add(key); else deleted.delete(key);
      }
      const r = log.append(encodeBatch(records), { leaderEpoch: 0 });
      records.forEach((rec, i) => model.set(rec.key as string, { offset: r.baseOffset + BigInt(i), value: rec.value as string | null }));
    }
    rollWithSentinel(log, T0 + 10_000_000);
    rollWithSentinel(log, T0 + 20_000_000); // the first sentinel is now in a rolled segment too
    model.set('__sentinel', { offset: log.logEndOffset - 1n, value: 'x' });
    expect(deleted.size).toBe(50);
    const before = log.sizeInBytes;
    const segmentsBefore = log.segmentCount;

    const cleaner = new LogCleaner({ clock: clock.fn });
    const result = await cleaner.cleanNow(log);
    expect(result).toMatchObject({ cleaned: true, aborted: false, recordsRead: 100_001, mapKeys: 1001 });
    expect(result.recordsKept).toBe(1001);
    expect(result.bytesWritten).toBeLessThan(result.bytesRead);
    expect(log.sizeInBytes).toBeLessThan(before / 20);
    expect(log.segmentCount).toBeLessThan(segmentsBefore);

    const check = async (expectTombstones: boolean): Promise<void> => {
      const records = await readRecords(log);
      const seen = new Map<string, Record>();
      let last = -1n;
      for (const r of records) {
        expect(r.offset).toBeGreaterThan(last); // offsets increase; gaps where records went
        last = r.offset;
        const key = r.key!.toString();
        if (key === '__sentinel' && r.offset === log.logEndOffset - 1n) continue; // the active segment
        expect(seen.has(key)).toBe(false); // exactly one record per key
        seen.set(key, r);
      }
      for (const [key, m] of model) {
        if (key === '__sentinel') continue;
        const got = seen.get(key);
        if (m.value === null && !expectTombstones) { expect(got).toBeUndefined(); continue; }
        expect(got).toBeDefined();
        expect(got!.offset).toBe(m.offset); // offsets preserved
        expect(got!.value === null ? null : got!.value.toString()).toBe(m.value);
      }
      expect(seen.size).toBe(expectTombstones ? 1001 : 1001 - deleted.size);
    };
    await check(true);

    // Before the horizon a clean keeps the tombstones; after delete.retention.ms they go.
    clock.now += 999;
    expect((await cleaner.cleanNow(log)).tombstonesRemoved).toBe(0);
    await check(true);
    clock.now += 2;
    const second = await cleaner.cleanNow(log);
    expect(second.tombstonesRemoved).toBe(deleted.size);
    await check(false);

    // The same after reopening.
    await log.close();
    const reopened = await PartitionLog.open(dir, compactConfig({ segmentBytes: 256 * 1024 }), { clock: clock.fn });
    expect(fs.readdirSync(dir).filter((f) => /\.(cleaned|swap|deleted)$/.test(f))).toEqual([]);
    const again = await readRecords(reopened);
    expect(again.length).toBe(1001 - deleted.size + 1);
    await reopened.close();
  });

  test('records without a key are rejected on compacted topics (INVALID_RECORD), compressed or not; accepted under delete', async () => {
    const log = await PartitionLog.open(tmpDir(), compactConfig());
    for (const codec of [0, 1, 2, 3, 4]) {
      const batch = compress(encodeBatch([{ key: 'a', value: '1' }, { key: null, value: '2' }]), codec);
      let error: unknown;
      try { log.append(batch, { leaderEpoch: 0 }); } catch (err) { error = err; }
      expect(error).toBeInstanceOf(KafkaError);
      expect((error as KafkaError).errorName).toBe('INVALID_RECORD');
    }
    expect(log.logEndOffset).toBe(0n);
    log.append(compress(encodeBatch([{ key: 'a', value: '1' }]), 3), { leaderEpoch: 0 });
    await log.close();
    const plain = await PartitionLog.open(tmpDir(), { ...compactConfig(), cleanupPolicy: 'delete' });
    expect(plain.append(encodeBatch([{ key: null, value: 'x' }]), { leaderEpoch: 0 }).baseOffset).toBe(0n);
    await plain.close();
  });

  test.each([
    ['gzip', 1], ['snappy (raw)', 2], ['snappy (xerial)', -2], ['lz4', 3], ['zstd', 4],
  ])('%s batches are compacted and re-encoded with the same codec', async (_name, codecArg) => {
    const codec = Math.abs(codecArg);
    const clock = new Clock();
    const log = await PartitionLog.open(tmpDir(), compactConfig(), { clock: clock.fn });
    const model: Model = new Map();
    for (let b = 0; b < 40; b++) {
      const records: TestRecord[] = [];
      for (let i = 0; i < 50; i++) {
        const key = `k${(b * 50 + i) % 120}`;
        records.push({ key, value: b === 39 && i < 5 ? null : `v${b}-${i}-${'x'.repeat(40)}`, timestamp: T0 + b });
      }
      const r = log.append(compress(encodeBatch(records), codecArg), { leaderEpoch: 0 });
      records.forEach((rec, i) => model.set(rec.key as string, { offset: r.baseOffset + BigInt(i), value: rec.value as string | null }));
    }
    rollWithSentinel(log, T0 + 10_000_000);
    const result = await new LogCleaner({ clock: clock.fn }).cleanNow(log);
    expect(result.batchesRebuilt).toBeGreaterThan(0);
    const batches = await readBatches(log);
    const seen = new Map<string, Record>();
    for (const b of batches.slice(0, -1)) {
      const h = readBatchHeader(b, 0);
      expect(h.attributes & 7).toBe(codec);
      expect(storedBatchProblem(b, 0, b.length)).toBeNull();
      // An independent decoder reads what we wrote.
      const section = b.subarray(61);
      const raw = independentDecompress(codec, section);
      if (codecArg === -2) expect(section.subarray(1, 7).toString()).toBe('SNAPPY');
      if (codecArg === 2) expect(section.subarray(1, 7).toString()).not.toBe('SNAPPY');
      const uncompressed = Buffer.concat([withCodec(b.subarray(0, 61), 0), raw]);
      uncompressed.writeInt32BE(uncompressed.length - 12, 8);
      const viaIndependent = decodeBatchRecords(uncompressed);
      const ours = decodeBatchRecords(b);
      expect(viaIndependent).toEqual(ours);
      for (const r of ours) seen.set(r.key!.toString(), r);
    }
    expect(seen.size).toBe(120);
    for (const [key, m] of model) {
      expect(seen.get(key)!.offset).toBe(m.offset);
      expect(seen.get(key)!.value?.toString() ?? null).toBe(m.value);
    }
    await log.close();
  });

  test('idempotent producer state survives compaction and reopen (last batch kept, even emptied)', async () => {
    const clock = new Clock();
    const dir = tmpDir();
    const log = await PartitionLog.open(dir, compactConfig(), { clock: clock.fn });
    const pid = 4242n;
    const idem = (seq: number, keys: string[], opts: TestBatchOptions = {}): Buffer =>
      encodeBatch(keys.map((k) => ({ key: k, value: `${k}@${seq}`, timestamp: T0 })), { producerId: pid, producerEpoch: 3, baseSequence: seq, ...opts });
    for (let seq = 0; seq < 15; seq += 3) log.append(idem(seq, ['a', 'b', 'c']), { leaderEpoch: 0 });
    // A plain producer overwrites every key: the idempotent producer's batches all become redundant.
    log.append(encodeBatch(['a', 'b', 'c'].map((k) => ({ key: k, value: 'plain', timestamp: T0 }))), { leaderEpoch: 0 });
    rollWithSentinel(log, T0 + 10_000_000);
    const result = await new LogCleaner({ clock: clock.fn }).cleanNow(log);
    expect(result.batchesRebuilt).toBe(1); // the producer's last batch, kept as an empty header
    const stored = (await readBatches(log)).map((b) => readBatchHeader(b, 0));
    const empty = stored.find((h) => h.producerId === pid)!;
    expect(empty).toMatchObject({ baseOffset: 12n, lastOffsetDelta: 2, recordsCount: 0, baseSequence: 12, producerEpoch: 3 });
    expect(stored.filter((h) => h.producerId === pid)).toHaveLength(1);
    await log.close();
    // Replay from the compacted log only (no snapshots).
    for (const f of fs.readdirSync(dir)) if (f.endsWith('.snapshot')) fs.rmSync(path.join(dir, f));
    const reopened = await PartitionLog.open(dir, compactConfig(), { clock: clock.fn });
    const dup = reopened.append(idem(12, ['a', 'b', 'c']), { leaderEpoch: 0 });
    expect(dup).toMatchObject({ duplicate: true, baseOffset: 12n, lastOffset: 14n });
    let error: unknown;
    try { reopened.append(idem(16, ['a']), { leaderEpoch: 0 }); } catch (err) { error = err; }
    expect((error as KafkaError).errorName).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect(reopened.append(idem(15, ['a']), { leaderEpoch: 0 }).duplicate).toBe(false);
    await reopened.close();
  });

  test('compaction removes aborted transactional data (it no longer shadows the committed value of its key) and keeps the markers', async () => {
    const clock = new Clock();
    const log = await PartitionLog.open(tmpDir(), compactConfig(), { clock: clock.fn });
    const txn = (pid: bigint, seq: number, keys: string[], tag: string): Buffer =>
      encodeBatch(keys.map((k) => ({ key: k, value: `${k}-${tag}`, timestamp: T0 })), { producerId: pid, producerEpoch: 0, baseSequence: seq, attributes: 0x10 });
    log.append(txn(1n, 0, ['a', 'b'], 'committed'), { leaderEpoch: 0 });       // 0-1
    log.appendMarker(1n, 0, true, 0, { leaderEpoch: 0 });                         // 2 commit
    log.append(txn(2n, 0, ['a', 'c'], 'aborted'), { leaderEpoch: 0 });         // 3-4
    log.append(encodeBatch([{ key: 'd', value: 'd-plain', timestamp: T0 }]), { leaderEpoch: 0 }); // 5
    log.append(txn(2n, 2, ['b'], 'aborted'), { leaderEpoch: 0 });              // 6
    log.appendMarker(2n, 0, false, 0, { leaderEpoch: 0 });                        // 7 abort
    rollWithSentinel(log, T0 + 10_000_000);                                       // 8
    expect(log.firstUnstableOffset).toBeNull();
    const result = await new LogCleaner({ clock: clock.fn }).cleanNow(log);
    expect(result.cleaned).toBe(true);
    const batches = await readBatches(log);
    const data = batches.filter((b) => (readBatchHeader(b, 0).attributes & 0x20) === 0);
    const records = data.flatMap((b) => decodeBatchRecords(b)).map((r) => `${r.offset} ${r.key?.toString()}=${r.value?.toString()}`);
    expect(records).toEqual(['0 a=a-committed', '1 b=b-committed', '5 d=d-plain', '8 __sentinel=x']);
    const controls = batches.map((b) => readBatchHeader(b, 0)).filter((h) => (h.attributes & 0x20) !== 0);
    expect(controls.map((h) => [h.baseOffset, h.producerId])).toEqual([[2n, 1n], [7n, 2n]]);
    // a read_committed reader still learns of the abort
    expect(log.abortedTransactions(0n, log.logEndOffset)).toEqual([{ producerId: 2n, firstOffset: 3n, lastOffset: 7n, lastStableOffset: 8n }]);
    await log.close();
  });

  test('a crash in the middle of a swap recovers to a consistent log (.cleaned left, .swap with or without old segments)', async () => {
    const clock = new Clock();
    const original = tmpDir();
    const log = await PartitionLog.open(original, compactConfig({ segmentBytes: 16 * 1024 }), { clock: clock.fn });
    for (let b = 0; b < 200; b++) {
      log.append(encodeBatch(Array.from({ length: 10 }, (_, i) => ({ key: `k${(b * 10 + i) % 50}`, value: `v${b}.${i}`, timestamp: T0 }))), { leaderEpoch: 0 });
    }
    rollWithSentinel(log, T0 + 10_000_000);
    await log.close();
    const uncleanedRecords = await recordsOfDir(original, clock);

    // The outcome of a clean that finished, for reference.
    const reference = copyDir(original);
    const refLog = await PartitionLog.open(reference, compactConfig({ segmentBytes: 1 << 20 }), { clock: clock.fn });
    const res = await new LogCleaner({ clock: clock.fn }).cleanNow(refLog);
    expect(res.segmentsWritten).toBe(1);
    await refLog.close();
    const cleanedRecords = await recordsOfDir(reference, clock);
    const cleanedSegment = fs.readFileSync(path.join(reference, '00000000000000000000.log'));
    const oldLogs = fs.readdirSync(original).filter((f) => f.endsWith('.log')).sort();

    // 1. Crash while writing the cleaned segment: the .cleaned file is removed, the log is as it was.
    const a = copyDir(original);
    fs.writeFileSync(path.join(a, '00000000000000000000.log.cleaned'), cleanedSegment.subarray(0, 1000));
    expect(await recordsOfDir(a, clock)).toEqual(uncleanedRecords);
    expect(fs.readdirSync(a).some((f) => f.endsWith('.cleaned'))).toBe(false);

    // 2. Crash right after the commit point: the .swap and every old segment exist.
    const b = copyDir(original);
    fs.writeFileSync(path.join(b, '00000000000000000000.log.swap'), cleanedSegment);
    expect(await recordsOfDir(b, clock)).toEqual(cleanedRecords);

    // 3. Crash after some old segments were deleted (renamed .deleted), before the .swap became the .log.
    const c = copyDir(original);
    fs.writeFileSync(path.join(c, '00000000000000000000.log.swap'), cleanedSegment);
    for (const f of oldLogs.slice(0, 3)) fs.renameSync(path.join(c, f), path.join(c, f + '.deleted'));
    expect(await recordsOfDir(c, clock)).toEqual(cleanedRecords);
    expect(fs.readdirSync(c).filter((f) => /\.(swap|deleted)$/.test(f))).toEqual([]);
  });

  test('a reader during compaction reads consistent data, and produce keeps working while the cleaner runs', async () => {
    const clock = new Clock();
    const log = await PartitionLog.open(tmpDir(), compactConfig({ segmentBytes: 32 * 1024 }), { clock: clock.fn });
    const model: Model = new Map();
    const produce = (b: number): void => {
      const records = Array.from({ length: 20 }, (_, i) => ({ key: `k${(b * 20 + i) % 300}`, value: `v${b}.${i}`, timestamp: T0 }));
      const r = log.append(encodeBatch(records), { leaderEpoch: 0 });
      records.forEach((rec, i) => model.set(rec.key, { offset: r.baseOffset + BigInt(i), value: rec.value }));
    };
    for (let b = 0; b < 3000; b++) produce(b);
    rollWithSentinel(log, T0 + 10_000_000);
    const modelAtClean = new Map(model);
    const endAtClean = log.logEndOffset;

    const cleaner = new LogCleaner({ clock: clock.fn, ioChunkBytes: 16 * 1024 });
    let cleaning = true;
    const clean = cleaner.cleanNow(log).finally(() => { cleaning = false; });

    // Readers: full passes in 4 KiB fetches; every pass must be a consistent view.
    let passes = 0;
    const reader = (async () => {
      while (cleaning) {
        const lastSeen = new Map<string, Record>();
        let prev = -1n;
        let offset = log.logStartOffset;
        while (offset < endAtClean) {
          const r = await log.read(offset, 4096, { maxOffset: endAtClean });
          if (r.records.length === 0) break;
          for (const b of splitBatches(r.records)) {
            expect(storedBatchProblem(b, 0, b.length)).toBeNull();
            for (const rec of decodeBatchRecords(b)) {
              expect(rec.offset).toBeGreaterThan(prev);
              prev = rec.offset;
              lastSeen.set(rec.key!.toString(), rec);
            }
          }
          offset = r.nextOffset;
        }
        for (const [key, m] of modelAtClean) {
          if (key === '__sentinel') continue;
          expect(lastSeen.get(key)?.offset).toBe(m.offset);
        }
        passes++;
      }
    })();

    // Producers: keep appending while the clean runs.
    let appendsDuringClean = 0;
    let b = 3000;
    while (cleaning) {
      produce(b++);
      appendsDuringClean++;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const result: CleanResult = await clean;
    await reader;
    expect(result.cleaned).toBe(true);
    expect(result.aborted).toBe(false);
    expect(passes).toBeGreaterThan(0);
    expect(appendsDuringClean).toBeGreaterThan(10);

    // Everything is there: the compacted part and what was appended during the clean.
    const seen = new Map<string, Record>();
    for (const r of await readRecords(log)) seen.set(r.key!.toString(), r);
    for (const [key, m] of model) expect(seen.get(key)?.offset).toBe(m.offset);
    await log.close();
  });

  test('min.compaction.lag.ms, the uncleanable offset and the dirty ratio decide what the background loop cleans', async () => {
    const clock = new Clock();
    const log = await PartitionLog.open(tmpDir(), compactConfig({ minCompactionLagMs: 3_600_000 }), { clock: clock.fn });
    for (let b = 0; b < 100; b++) {
      log.append(encodeBatch(Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `v${b}`, timestamp: T0 }))), { leaderEpoch: 0 });
    }
    rollWithSentinel(log, T0 + 10_000_000);
    const cleaner = new LogCleaner({ clock: clock.fn, backoffMs: 10 });
    // Too recent (the sentinel segment's timestamps are in the future, the others are young).
    expect((await cleaner.cleanNow(log)).cleaned).toBe(false);
    expect(cleaner.filthiestLog()).toBeNull();
    clock.now = T0 + 3_600_001;
    cleaner.register(log, { uncleanableFrom: () => 0n });
    expect(cleaner.filthiestLog()).toBeNull(); // nothing below the high watermark
    await cleaner.unregister(log);
    const results: CleanResult[] = [];
    const loop = new LogCleaner({ clock: clock.fn, backoffMs: 10, onClean: (r) => results.push(r) });
    loop.register(log);
    expect(loop.filthiestLog()?.plan.dirtyRatio).toBe(1);
    loop.start();
    while (results.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await loop.stop();
    expect(results[0]!.recordsKept).toBe(10);
    expect(loop.filthiestLog()).toBeNull(); // clean now: ratio 0
    await log.close();
  });

  test('registering delete-only logs does not wake the loop to scan every log; a compacted one does', async () => {
    const clock = new Clock();
    const cleaner = new LogCleaner({ clock: clock.fn, backoffMs: 60_000 });
    let scans = 0;
    const scan = cleaner.filthiestLog.bind(cleaner);
    cleaner.filthiestLog = () => { scans++; return scan(); };
    cleaner.start();
    const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
    await settle();
    expect(scans).toBe(1); // the first pass, then asleep for backoffMs
    const logs: PartitionLog[] = [];
    for (let i = 0; i < 50; i++) {
      logs.push(await PartitionLog.open(tmpDir() + `-delete-${i}`, { ...defaultLogConfig, cleanupPolicy: 'delete' }, { clock: clock.fn }));
      cleaner.register(logs.at(-1)!);
    }
    await settle();
    expect(scans).toBe(1);
    logs.push(await PartitionLog.open(tmpDir() + '-compact', compactConfig(), { clock: clock.fn }));
    cleaner.register(logs.at(-1)!);
    await settle();
    expect(scans).toBe(2);
    await cleaner.stop();
    for (const log of logs) await log.close();
  });
});

// ---------------------------------------------------------------- helpers

function copyDir(src: string): string {
  const dst = tmpDir();
  fs.cpSync(src, dst, { recursive: true });
  return dst;
}

async function recordsOfDir(dir: string, clock: Clock): Promise<{ offset: bigint; key: string; value: string | null }[]> {
  const log = await PartitionLog.open(dir, compactConfig({ segmentBytes: 16 * 1024 }), { clock: clock.fn });
  const out = (await readRecords(log)).map((r) => ({ offset: r.offset, key: r.key!.toString(), value: r.value?.toString() ?? null }));
  await log.close();
  return out;
}

const XERIAL_HEADER = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);

/** Compresses a test batch's records with an implementation independent of records.ts; codec -2 = xerial snappy. */
function compress(batch: Buffer, codec: number): Buffer {
  const section = batch.subarray(61);
  let compressed: Buffer;
  switch (codec) {
    case 0: return batch;
    case 1: compressed = zlib.gzipSync(section); break;
    case 2: compressed = Buffer.from(snappyjs.compress(section)); break;
    case -2: {
      const parts = [XERIAL_HEADER];
      for (let i = 0; i < section.length; i += 1000) {
        const block = Buffer.from(snappyjs.compress(section.subarray(i, i + 1000)));
        const len = Buffer.alloc(4);
        len.writeInt32BE(block.length);
        parts.push(len, block);
      }
      compressed = Buffer.concat(parts);
      break;
    }
    case 3: compressed = lz4Compress(section); break;
    case 4: compressed = zlib.zstdCompressSync(section); break;
    default: throw new Error(`codec ${codec}`);
  }
  const out = Buffer.concat([withCodec(batch.subarray(0, 61), Math.abs(codec)), compressed]);
  out.writeInt32BE(out.length - 12, 8);
  out.writeUInt32BE(crc32c(out.subarray(21)) >>> 0, 17);
  return out;
}

function withCodec(header: Buffer, codec: number): Buffer {
  const h = Buffer.from(header);
  h.writeInt16BE((h.readInt16BE(21) & ~7) | codec, 21);
  return h;
}

function independentDecompress(codec: number, data: Buffer): Buffer {
  switch (codec) {
    case 1: return zlib.gunzipSync(data);
    case 2: return snappyDecompress(data);
    case 3: return Buffer.from(lz4js.decompress(data));
    case 4: return zlib.zstdDecompressSync(data);
    default: throw new Error(`codec ${codec}`);
  }
}
