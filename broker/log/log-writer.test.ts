import { afterAll, describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LogWriter, MAX_IOV, type WriteTarget, type WriterFs } from './log-writer.ts';
import { KafkaError } from '../errors.ts';
import { PartitionLog, defaultLogConfig, type LogConfig } from './index.ts';
import { sizedBatch, splitBatches } from './testing/record-batch-builder.ts';
import { storageFailure } from './errors.ts';
import { LogSegment } from './log-segment.ts';
import { readBatchHeader } from './record-batch.ts';

let dirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'brook-writer-'));
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

function ioError(code: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: injected`) as NodeJS.ErrnoException;
  e.code = code;
  e.syscall = 'write';
  return e;
}

/**
 * node:fs with a gate on writev: while closed, writes are held (the test decides when they land);
 * `fail` makes the next writev fail with that error; `shortBy` makes the next writev of several buffers write that many bytes fewer.
 */
class GatedFs implements WriterFs {
  closed = false;
  readonly held: Array<() => void> = [];
  /** Every writev: its position and buffer count. */
  readonly calls: Array<{ position: number; buffers: number; bytes: number }> = [];
  fail: NodeJS.ErrnoException | null = null;
  shortBy = 0;

  writev(fd: number, buffers: readonly Buffer[], position: number, cb: (err: NodeJS.ErrnoException | null, n: number) => void): void {
    this.calls.push({ position, buffers: buffers.length, bytes: buffers.reduce((n, b) => n + b.length, 0) });
    const go = (): void => {
      if (this.fail) {
        const err = this.fail;
        this.fail = null;
        setImmediate(() => cb(err, 0));
        return;
      }
      if (this.shortBy > 0 && buffers.length > 1) {
        // Write all but the last `shortBy` bytes: the writer must continue from there.
        const all = Buffer.concat(buffers as Buffer[]);
        const n = all.length - this.shortBy;
        this.shortBy = 0;
        fs.write(fd, all, 0, n, position, (err, written) => cb(err, written));
        return;
      }
      fs.writev(fd, buffers as Buffer[], position, cb);
    };
    if (this.closed) this.held.push(go); else go();
  }

  writeSync(fd: number, buffer: Buffer, offset: number, length: number, position: number): number {
    return fs.writeSync(fd, buffer, offset, length, position);
  }

  ftruncateSync(fd: number, len: number): void { fs.ftruncateSync(fd, len); }

  /** Lets every held write go, and later ones straight through. */
  open(): void {
    this.closed = false;
    for (const go of this.held.splice(0)) go();
  }
}

/** A WriteTarget over a plain file, counting its references. */
class FileTarget implements WriteTarget {
  readonly fd: number;
  refs = 0;
  writtenSize = 0;
  constructor(file: string) { this.fd = fs.openSync(file, 'w+'); }
  retain(): boolean { this.refs++; return true; }
  release(): void { this.refs--; }
  markWritten(size: number): void { if (size > this.writtenSize) this.writtenSize = size; }
}

/** Awaits a state (never a fixed sleep): polls `cond` once per turn of the event loop. */
async function until(cond: () => boolean, what: string, turns = 100_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (cond()) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Lets the event loop and libuv's pool run a while: a real fs round trip through the pool, a few times. */
async function letPoolRun(dir: string): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await fs.promises.stat(dir);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

const failAs = (err: unknown): Error => storageFailure('t-0', '/x', 'append', err);

describe('LogWriter', () => {
  test('writes land in append order, one writev in flight, queued contiguous writes batched into one writev', async () => {
    const dir = tmpDir();
    fs.mkdirSync(dir, { recursive: true });
    const target = new FileTarget(path.join(dir, 'f'));
    const gated = new GatedFs();
    gated.closed = true;
    const writer = new LogWriter(0n, { fail: failAs, fs: gated });
    const chunks = Array.from({ length: 50 }, (_, i) => Buffer.alloc(100 + i, i));
    let pos = 0;
    for (let i = 0; i < chunks.length; i++) {
      writer.enqueue(target, pos, chunks[i]!, BigInt(i + 1));
      pos += chunks[i]!.length;
    }
    // The first write went out alone; the other 49 wait behind it.
    expect(gated.calls).toEqual([{ position: 0, buffers: 1, bytes: 100 }]);
    expect(writer.writtenEndOffset).toBe(0n);
    expect(target.refs).toBe(50);
    const all = writer.written(50n);
    gated.open();
    await all;
    // Then all of the rest as one writev.
    expect(gated.calls.length).toBe(2);
    expect(gated.calls[1]).toEqual({ position: 100, buffers: 49, bytes: pos - 100 });
    expect(fs.readFileSync(path.join(dir, 'f'))).toEqual(Buffer.concat(chunks));
    expect(target.writtenSize).toBe(pos);
    expect(target.refs).toBe(0);
    await writer.idle();
    fs.closeSync(target.fd);
  });

  test(`a writev carries at most ${MAX_IOV} buffers; a short write continues where it stopped`, async () => {
    const dir = tmpDir();
    fs.mkdirSync(dir, { recursive: true });
    const target = new FileTarget(path.join(dir, 'f'));
    const gated = new GatedFs();
    gated.closed = true;
    const writer = new LogWriter(0n, { fail: failAs, fs: gated });
    const n = MAX_IOV + 10;
    const chunks = Array.from({ length: n }, (_, i) => Buffer.from([i & 0xff, (i >> 8) & 0xff]));
    for (let i = 0; i < n; i++) writer.enqueue(target, i * 2, chunks[i]!, BigInt(i + 1));
    gated.shortBy = 3; // the first batched writev stops 3 bytes short, inside its next-to-last buffer
    gated.open();
    await writer.written(BigInt(n));
    expect(Math.max(...gated.calls.map((c) => c.buffers))).toBe(MAX_IOV);
    expect(gated.calls.map((c) => c.buffers)).toEqual([1, MAX_IOV, 2, n - 1 - MAX_IOV]);
    expect(fs.readFileSync(path.join(dir, 'f'))).toEqual(Buffer.concat(chunks));
    fs.closeSync(target.fd);
  });

  test('EIO fails the write, every write queued behind it and every later wait with KAFKA_STORAGE_ERROR; earlier writes stay acknowledged', async () => {
    const dir = tmpDir();
    fs.mkdirSync(dir, { recursive: true });
    const target = new FileTarget(path.join(dir, 'f'));
    const gated = new GatedFs();
    const writer = new LogWriter(0n, { fail: failAs, fs: gated });
    writer.enqueue(target, 0, Buffer.alloc(10, 1), 1n);
    await writer.written(1n);
    gated.closed = true;
    writer.enqueue(target, 10, Buffer.alloc(10, 2), 2n); // in flight, will fail
    writer.enqueue(target, 20, Buffer.alloc(10, 3), 3n); // queued behind it
    const second = writer.written(2n);
    const third = writer.written(3n);
    gated.fail = ioError('EIO');
    gated.open();
    await expect(second).rejects.toMatchObject({ errorName: 'KAFKA_STORAGE_ERROR' });
    await expect(third).rejects.toMatchObject({ errorName: 'KAFKA_STORAGE_ERROR' });
    expect(writer.failure).toBeInstanceOf(KafkaError);
    expect(writer.writtenEndOffset).toBe(1n);
    await expect(writer.written(1n)).resolves.toBeUndefined();
    expect(() => writer.enqueue(target, 30, Buffer.alloc(1), 4n)).toThrow(KafkaError);
    await writer.idle();
    expect(target.refs).toBe(0);
    fs.closeSync(target.fd);
  });
});

describe('LogSegment: reads bounded by the written size', () => {
  test('a batch reserved but only partly in the file is not served; it is once markWritten covers it', async () => {
    const dir = tmpDir();
    fs.mkdirSync(dir, { recursive: true });
    const seg = LogSegment.create(dir, 0n, Date.now());
    const first = sizedBatch(1, 2, 100);
    const second = sizedBatch(2, 2, 100);
    second.writeBigInt64BE(2n, 0);
    const header = (b: Buffer): { baseOffset: bigint; lastOffsetDelta: number; maxTimestamp: bigint; size: number } => {
      const h = readBatchHeader(b, 0);
      return { baseOffset: h.baseOffset, lastOffsetDelta: h.lastOffsetDelta, maxTimestamp: h.maxTimestamp, size: b.length };
    };
    seg.append(first, [header(first)], 4096);
    const at = seg.reserve(second.length, [header(second)], 4096);
    expect(seg.size).toBe(first.length + second.length);
    expect(seg.writtenSize).toBe(first.length);
    // Half of the second batch reached the file (a write still landing).
    fs.writeSync(seg.fd, second, 0, second.length >> 1, at);
    const r = await seg.read(0n, 1 << 20, 1n << 62n, true);
    expect(r!.records).toEqual(first);
    expect(await seg.read(2n, 1 << 20, 1n << 62n, true)).toBeNull();
    expect((await seg.readRange(0, 1 << 20)).length).toBe(first.length);
    fs.writeSync(seg.fd, second, second.length >> 1, second.length - (second.length >> 1), at + (second.length >> 1));
    seg.markWritten(at + second.length);
    expect((await seg.read(2n, 1 << 20, 1n << 62n, true))!.records).toEqual(second);
    seg.close();
  });
});

describe('PartitionLog with writes off the event loop', () => {
  test('an acknowledgement (flushed) waits for the write; reads and the written end never include bytes not yet written', async () => {
    const gated = new GatedFs();
    const log = await PartitionLog.open(tmpDir(), config(), { writerFs: gated });
    const first = log.append(sizedBatch(1, 2, 50), { leaderEpoch: 0 });
    await log.flushed(first.lastOffset);
    gated.closed = true;
    const r = log.append(sizedBatch(2, 3, 50), { leaderEpoch: 0 });
    expect(log.logEndOffset).toBe(5n);
    expect(log.writtenEndOffset).toBe(2n);
    let acked = false;
    const ack = log.flushed(r.lastOffset)!.then(() => { acked = true; });
    let read: { nextOffset: bigint } | null = null;
    const reading = log.read(2n, 1 << 20).then((x) => { read = x; });
    await letPoolRun(log.dir);
    expect(acked).toBe(false);
    expect(read).toBeNull();
    // What a segment serves stops at its written size: a consumer bounded by the written end sees only batch 1.
    const bounded = await log.read(0n, 1 << 20, { maxOffset: log.writtenEndOffset });
    expect(splitBatches(bounded.records).length).toBe(1);
    expect(bounded.nextOffset).toBe(2n);
    gated.open();
    await ack;
    await reading;
    expect(read!.nextOffset).toBe(5n);
    expect(log.writtenEndOffset).toBe(5n);
    await log.close();
  });

  test('flush.messages=1: the fdatasync comes after the write, never before (the recovery point waits for it)', async () => {
    const gated = new GatedFs();
    const log = await PartitionLog.open(tmpDir(), config({ flushMessages: 1 }), { writerFs: gated });
    gated.closed = true;
    const r = log.append(sizedBatch(1, 2, 50), { leaderEpoch: 0 });
    expect(r.flushRequired).toBe(true);
    let done = false;
    const flushed = log.flushed(r.lastOffset)!.then(() => { done = true; });
    await letPoolRun(log.dir);
    expect(done).toBe(false);
    expect(log.flushedOffset).toBe(0n);
    gated.open();
    await flushed;
    expect(log.flushedOffset).toBe(2n);
    await log.close();
  });

  test('truncateTo while writes are in flight and queued: the cut holds, later appends follow it, and a reopen finds the same log', async () => {
    const dir = tmpDir();
    const gated = new GatedFs();
    const log = await PartitionLog.open(dir, config({ segmentBytes: 1000 }), { writerFs: gated });
    gated.closed = true;
    const batches = Array.from({ length: 8 }, (_, i) => sizedBatch(i, 1, 200));
    for (const b of batches) log.append(Buffer.from(b), { leaderEpoch: 0 });
    expect(gated.calls.length).toBe(1); // one in flight, the rest queued
    log.truncateTo(3n);
    expect(log.logEndOffset).toBe(3n);
    expect(log.writtenEndOffset).toBe(3n);
    log.append(sizedBatch(100, 1, 200), { leaderEpoch: 0 });
    gated.open(); // the write that was in flight lands now, after the truncation
    await log.flushed(3n);
    const r = await log.read(0n, 1 << 20);
    const got = splitBatches(r.records);
    expect(got.length).toBe(4);
    expect(r.nextOffset).toBe(4n);
    await log.close();
    const again = await PartitionLog.open(dir, config({ segmentBytes: 1000 }));
    expect(again.logEndOffset).toBe(4n);
    const back = await again.read(0n, 1 << 20);
    expect(back.records).toEqual(r.records);
    await again.close();
  });

  test('truncateTo below the write in flight: when that write lands after the cut, the file is cut again before the next write', async () => {
    const dir = tmpDir();
    const gated = new GatedFs();
    const log = await PartitionLog.open(dir, config(), { writerFs: gated });
    const kept = log.append(sizedBatch(0, 1, 200), { leaderEpoch: 0 });
    await log.flushed(kept.lastOffset);
    gated.closed = true;
    for (let i = 1; i < 4; i++) log.append(sizedBatch(i, 1, 200), { leaderEpoch: 0 });
    log.truncateTo(1n); // the write in flight (offset 1) lies wholly above the cut
    const smaller = sizedBatch(100, 1, 20);
    log.append(Buffer.from(smaller), { leaderEpoch: 0 }); // at the cut, smaller than what the late write puts there
    gated.open();
    await log.flushed(1n);
    const file = path.join(dir, '00000000000000000000.log');
    const r = await log.read(0n, 1 << 20);
    expect(fs.statSync(file).size).toBe(r.records.length);
    expect(fs.readFileSync(file)).toEqual(r.records);
    await log.close();
    const again = await PartitionLog.open(dir, config());
    expect(again.logEndOffset).toBe(2n);
    await again.close();
  });

  test('two truncations while one write is in flight: when it lands late, what was written since is written again', async () => {
    const dir = tmpDir();
    const gated = new GatedFs();
    const log = await PartitionLog.open(dir, config(), { writerFs: gated });
    const kept = log.append(sizedBatch(0, 1, 200), { leaderEpoch: 0 });
    await log.flushed(kept.lastOffset);
    gated.closed = true;
    for (let i = 1; i < 4; i++) log.append(sizedBatch(i, 1, 200), { leaderEpoch: 0 }); // offset 1 in flight
    log.truncateTo(1n);
    log.append(sizedBatch(100, 1, 20), { leaderEpoch: 0 }); // offset 1 again, where the late write lands
    log.append(sizedBatch(101, 1, 20), { leaderEpoch: 0 });
    log.truncateTo(2n); // written synchronously at once, then offset 2 cut
    const before = await log.read(0n, 1 << 20);
    expect(splitBatches(before.records).length).toBe(2);
    gated.open();
    const z = log.append(sizedBatch(102, 1, 20), { leaderEpoch: 0 });
    await log.flushed(z.lastOffset); // lands after the late write and its repair
    const after = await log.read(0n, 1 << 20);
    expect(after.records.subarray(0, before.records.length)).toEqual(before.records);
    expect(fs.statSync(path.join(dir, '00000000000000000000.log')).size).toBe(after.records.length);
    await log.close();
    fs.rmSync(path.join(dir, 'recovery-point-checkpoint')); // make the reopen verify every batch
    const again = await PartitionLog.open(dir, config());
    expect(again.logEndOffset).toBe(3n);
    await again.close();
  });

  test('close waits for pending writes: everything appended before close is in the files after it', async () => {
    const dir = tmpDir();
    const gated = new GatedFs();
    const log = await PartitionLog.open(dir, config(), { writerFs: gated });
    gated.closed = true;
    for (let i = 0; i < 5; i++) log.append(sizedBatch(i, 2, 100), { leaderEpoch: 0 });
    let closed = false;
    const closing = log.close().then(() => { closed = true; });
    await letPoolRun(dir);
    expect(closed).toBe(false);
    gated.open();
    await closing;
    const again = await PartitionLog.open(dir, config());
    expect(again.logEndOffset).toBe(10n);
    expect(splitBatches((await again.read(0n, 1 << 20)).records).length).toBe(5);
    await again.close();
  });

  test('ENOSPC on a write: its appends and those queued behind fail with KAFKA_STORAGE_ERROR, the log goes offline, and a reopen keeps every acknowledged batch', async () => {
    const dir = tmpDir();
    const gated = new GatedFs();
    const log = await PartitionLog.open(dir, config(), { writerFs: gated });
    const ok = log.append(sizedBatch(1, 2, 100), { leaderEpoch: 0 });
    await log.flushed(ok.lastOffset);
    gated.closed = true;
    const a = log.append(sizedBatch(2, 2, 100), { leaderEpoch: 0 });
    const b = log.append(sizedBatch(3, 2, 100), { leaderEpoch: 0 });
    const ackA = log.flushed(a.lastOffset)!;
    const ackB = log.flushed(b.lastOffset)!;
    gated.fail = ioError('ENOSPC');
    gated.open();
    await expect(ackA).rejects.toMatchObject({ errorName: 'KAFKA_STORAGE_ERROR' });
    await expect(ackB).rejects.toMatchObject({ errorName: 'KAFKA_STORAGE_ERROR' });
    expect(() => log.append(sizedBatch(4, 1, 10), { leaderEpoch: 0 })).toThrow(expect.objectContaining({ errorName: 'KAFKA_STORAGE_ERROR' }) as never);
    await expect(log.read(0n, 100)).rejects.toMatchObject({ errorName: 'KAFKA_STORAGE_ERROR' });
    await expect(log.close()).rejects.toMatchObject({ errorName: 'KAFKA_STORAGE_ERROR' });
    const again = await PartitionLog.open(dir, config());
    expect(again.logEndOffset).toBe(2n);
    await again.close();
  });
});
