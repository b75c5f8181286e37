/**
 * LogWriter: the ordered writer of one partition's appended bytes, off the event loop. An append
 * assigns offsets and updates the indexes synchronously (PartitionLog); its bytes are queued here
 * and written with positional `fs.writev` on libuv's thread pool, so the event loop never waits
 * for the page cache or the disk.
 *
 * Contract
 *   - One write in flight per partition; queued writes go in append order. Consecutive queued
 *     writes to the same segment at contiguous positions go out as one writev (at most
 *     MAX_IOV buffers and about MAX_WRITE_BYTES), so a busy partition makes few syscalls.
 *   - `writtenEndOffset` is the offset below which every appended batch is in the page cache (it
 *     survives kill -9); it only grows, except through truncated(). `written(offset)` resolves
 *     once it reaches `offset`. Each segment learns its written size (LogSegment.markWritten),
 *     which bounds its readers.
 *   - The first failed write (EIO, ENOSPC, ...) fails it and every write queued behind it, and
 *     every later written() wait, with the error `fail` makes of it (KAFKA_STORAGE_ERROR); the
 *     writer accepts nothing after that and `failure` keeps the error (the log is offline).
 *   - drainSync() writes everything not yet known written with fs.writeSync, including the bytes
 *     of the write in flight (the same bytes at the same position: rewriting them is harmless),
 *     so that synchronous paths (truncation) see complete files. The write in flight still lands
 *     later; when it does, before any later write starts, the writer writes again the part of
 *     what drainSync wrote since that lies under the late bytes, as far as the segment's written
 *     size still reaches, and cuts the segment back to its written size if a truncation cut below
 *     the late write's end.
 *   - idle() resolves once nothing is queued or in flight (never rejects): close and delete
 *     await it before closing file descriptors; a queued write holds a reference on its segment.
 */
import fs from 'node:fs';

/** The writer's view of a segment: where its bytes go and who learns they are written. */
export interface WriteTarget {
  readonly fd: number;
  retain(): boolean;
  release(): void;
  /** Every byte below `size` is in the file. */
  markWritten(size: number): void;
  /** The size readers may see (after a truncation, smaller than what a landed write covered). */
  readonly writtenSize: number;
}

interface PendingWrite {
  readonly target: WriteTarget;
  readonly position: number;
  readonly bytes: Buffer;
  /** Offset after the last batch in `bytes`. */
  readonly endOffset: bigint;
}

interface Waiter {
  readonly offset: bigint;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

/** The file-system calls the writer makes (tests inject failures). */
export interface WriterFs {
  writev(fd: number, buffers: readonly Buffer[], position: number, cb: (err: NodeJS.ErrnoException | null, bytesWritten: number) => void): void;
  writeSync(fd: number, buffer: Buffer, offset: number, length: number, position: number): number;
  ftruncateSync(fd: number, len: number): void;
}

const nodeFs: WriterFs = {
  writev: (fd, buffers, position, cb) => fs.writev(fd, buffers as Buffer[], position, cb),
  writeSync: (fd, buffer, offset, length, position) => fs.writeSync(fd, buffer, offset, length, position),
  ftruncateSync: (fd, len) => fs.ftruncateSync(fd, len),
};

/** Most buffers per writev (IOV_MAX is 1024 on Linux). */
export const MAX_IOV = 1024;
/** A writev stops taking queued buffers once it holds this many bytes. */
export const MAX_WRITE_BYTES = 4 << 20;

export class LogWriter {
  private readonly fsys: WriterFs;
  private readonly fail: (err: unknown) => Error;
  private readonly onWritten: () => void;
  private queue: PendingWrite[] = [];
  private inFlight: PendingWrite[] | null = null;
  /** Set by drainSync(): the write in flight was already rewritten and accounted for. */
  private inFlightStale = false;
  /**
   * Writes drainSync() made while a stale write was in flight, in order, with their references:
   * the stale write may land over them, so they are written again (as far as they still count)
   * when it does.
   */
  private replay: PendingWrite[] = [];
  private waiters: Waiter[] = [];
  private idleWaiters: Array<() => void> = [];
  private writtenEnd: bigint;
  private error: Error | null = null;

  /**
   * `writtenEndOffset` starts at `endOffset` (the log end on open: everything there is written).
   * `fail` turns an I/O error into the error appends fail with; `onWritten` runs after each write
   * that moved `writtenEndOffset` (the partition advances its high watermark, wakes fetches).
   */
  constructor(endOffset: bigint, opts: { fail: (err: unknown) => Error; onWritten?: () => void; fs?: WriterFs }) {
    this.writtenEnd = endOffset;
    this.fail = opts.fail;
    this.onWritten = opts.onWritten ?? (() => {});
    this.fsys = opts.fs ?? nodeFs;
  }

  get writtenEndOffset(): bigint { return this.writtenEnd; }
  /** The error that stopped the writer, or null. */
  get failure(): Error | null { return this.error; }
  get pending(): boolean { return this.inFlight !== null || this.queue.length > 0; }

  /** Queues `bytes` for `target` at `position`; `endOffset` is the offset after its last batch. Throws once failed. */
  enqueue(target: WriteTarget, position: number, bytes: Buffer, endOffset: bigint): void {
    if (this.error) throw this.error;
    if (!target.retain()) throw new Error('segment was deleted before its write was queued');
    this.queue.push({ target, position, bytes, endOffset });
    if (this.inFlight === null) this.pump();
  }

  /** Resolves once every batch below `offset` is written; rejects with the failure if the writer failed first. */
  written(offset: bigint): Promise<void> {
    if (offset <= this.writtenEnd) return Promise.resolve();
    if (this.error) return Promise.reject(this.error);
    return new Promise<void>((resolve, reject) => this.waiters.push({ offset, resolve, reject }));
  }

  /** Resolves once nothing is queued or in flight; never rejects. */
  idle(): Promise<void> {
    if (!this.pending) return Promise.resolve();
    return new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Writes every queued and in-flight byte synchronously (see the contract above); afterwards
   * `writtenEndOffset` is the log end. Throws (and fails the writer) on an I/O error.
   */
  drainSync(): void {
    if (this.error) throw this.error;
    if (!this.pending) return;
    const rewrite = this.inFlight !== null && !this.inFlightStale ? this.inFlight : [];
    const queued = this.queue;
    const items = [...rewrite, ...queued];
    this.queue = [];
    if (items.length === 0) return;
    try {
      for (const w of items) {
        let done = 0;
        while (done < w.bytes.length) done += this.fsys.writeSync(w.target.fd, w.bytes, done, w.bytes.length - done, w.position + done);
      }
    } catch (err) {
      // The in-flight write still holds its references; release only the queued ones here.
      this.failAll(err, queued);
      throw this.error!;
    }
    for (const w of items) w.target.markWritten(w.position + w.bytes.length);
    if (this.inFlight !== null) {
      // The in-flight write lands later, perhaps over what was just written: keep the queued
      // writes (and their references) to write again then.
      this.inFlightStale = true;
      for (const w of queued) this.replay.push(w);
    } else {
      for (const w of queued) w.target.release();
    }
    this.advance(items[items.length - 1]!.endOffset);
    if (this.inFlight === null) this.settleIdle();
  }

  /**
   * The log was truncated or restarted at `endOffset` (after drainSync(), with nothing queued):
   * that is its written end now.
   */
  resetTo(endOffset: bigint): void {
    if (this.queue.length > 0) throw new Error('LogWriter.resetTo with writes queued');
    this.writtenEnd = endOffset;
  }

  private pump(): void {
    const first = this.queue[0];
    if (!first) {
      this.settleIdle();
      return;
    }
    // The longest run of writes to one segment at contiguous positions, within the limits.
    let n = 1;
    let bytes = first.bytes.length;
    while (n < this.queue.length && n < MAX_IOV && bytes < MAX_WRITE_BYTES) {
      const prev = this.queue[n - 1]!;
      const w = this.queue[n]!;
      if (w.target !== first.target || w.position !== prev.position + prev.bytes.length) break;
      bytes += w.bytes.length;
      n++;
    }
    const batch = this.queue.splice(0, n);
    this.inFlight = batch;
    this.inFlightStale = false;
    this.writeAll(batch, first.target.fd, first.position, batch.map((w) => w.bytes));
  }

  /** writev of `buffers` at `position`, continuing after a short write. */
  private writeAll(batch: PendingWrite[], fd: number, position: number, buffers: Buffer[]): void {
    this.fsys.writev(fd, buffers, position, (err, n) => {
      if (err) {
        this.landed(batch, err);
        return;
      }
      let rest = n;
      let i = 0;
      while (i < buffers.length && rest >= buffers[i]!.length) rest -= buffers[i++]!.length;
      if (i === buffers.length) {
        this.landed(batch, null);
        return;
      }
      const remaining = [buffers[i]!.subarray(rest), ...buffers.slice(i + 1)];
      this.writeAll(batch, fd, position + n, remaining);
    });
  }

  private landed(batch: PendingWrite[], err: Error | null): void {
    this.inFlight = null;
    if (this.inFlightStale) {
      this.inFlightStale = false;
      // drainSync() already wrote and accounted for these bytes. What it wrote since may lie
      // under what this write just put back (write that part again, in order, as far as it is
      // still below the segment's written size), and a truncation since may have cut below it
      // (cut again) — before anything else is written.
      const replay = this.replay;
      this.replay = [];
      let failed: unknown = null;
      if (!err) {
        try {
          const target = batch[0]!.target;
          const lateFrom = batch[0]!.position;
          const lateTo = Math.min(lateFrom + batch.reduce((n, w) => n + w.bytes.length, 0), target.writtenSize);
          for (const w of replay) {
            if (w.target !== target) continue;
            const from = Math.max(w.position, lateFrom);
            const to = Math.min(w.position + w.bytes.length, lateTo);
            let done = 0;
            while (from + done < to) done += this.fsys.writeSync(target.fd, w.bytes, from - w.position + done, to - from - done, from + done);
          }
          for (const w of batch) if (w.position + w.bytes.length > w.target.writtenSize) this.fsys.ftruncateSync(w.target.fd, w.target.writtenSize);
        } catch (e) {
          failed = e;
        }
      }
      for (const w of batch) w.target.release();
      for (const w of replay) w.target.release();
      if (failed !== null) {
        this.failAll(failed, []);
        return;
      }
      this.pump();
      return;
    }
    if (err) {
      this.failAll(err, batch);
      return;
    }
    for (const w of batch) {
      w.target.markWritten(w.position + w.bytes.length);
      w.target.release();
    }
    this.advance(batch[batch.length - 1]!.endOffset);
    this.pump();
  }

  private advance(end: bigint): void {
    if (end <= this.writtenEnd) return;
    this.writtenEnd = end;
    if (this.waiters.length > 0) {
      const waiting = this.waiters;
      this.waiters = [];
      for (const w of waiting) (w.offset <= end ? w.resolve() : this.waiters.push(w));
    }
    this.onWritten();
  }

  /** Fails the writer: `failed` (already taken off the queue) and everything queued; every waiter rejects. */
  private failAll(err: unknown, failed: readonly PendingWrite[]): void {
    this.error ??= this.fail(err);
    for (const w of failed) w.target.release();
    for (const w of this.queue.splice(0)) w.target.release();
    for (const w of this.waiters.splice(0)) w.reject(this.error);
    if (this.inFlight === null) this.settleIdle();
  }

  private settleIdle(): void {
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
