/**
 * LocalLog: the ordered list of a partition's segments and what is on disk of them (Kafka's
 * LocalLog): the active segment, the recovery point (the offset below which every batch is
 * fsynced), reads across segments, rolling, deleting the oldest segments, truncation and the
 * swap of cleaned segments. Policies (what to append, when to roll, flush or delete) belong to
 * PartitionLog; file formats to log-segment.ts and log-files.ts.
 *
 * Concurrency contract
 *   - One event loop. Every mutation of the segment list is synchronous.
 *   - read() and offsetForTimestamp() are async: they work on the list as it was when they
 *     started and hold a reference on each segment they touch (retain/release), so a segment
 *     deleted or replaced under a reader keeps its fd; a reader that finds a segment gone
 *     re-reads the list and continues from the same offset (in the cleaned segment).
 *   - A segment deleted with a file.delete.delay.ms (Kafka's asynchronous delete) keeps its
 *     `.deleted` file that long: the list holds a reader reference on it, released when the
 *     delay ends or the log closes; the file is unlinked when its last reference goes.
 *   - flushUpTo() is a group commit: concurrent callers share one fdatasync pass, which first
 *     yields to the event loop so appends already on their way join it, and fsyncs the
 *     directory when a segment file was created since the last pass.
 */
import fs from 'node:fs';
import { KafkaError } from '../errors.ts';
import { fsyncDir, fsyncDirAsync } from './checkpoint-file.ts';
import { storageFailure } from './errors.ts';
import { SWAP_SUFFIX } from './log-files.ts';
import { LogSegment, type FileRange } from './log-segment.ts';
import type { ReadBufferPool } from './read-buffer-pool.ts';
import { firstRecordAtOrAfter, lastOffsetOf } from './record-batch.ts';
import type { AbortedTxn } from './txn-index.ts';

export interface ReadOptions {
  /** Exclusive upper bound (the high watermark for consumers); defaults to the log end. */
  readonly maxOffset?: bigint;
  /** Return the first batch even if it is larger than maxBytes (KIP-74). Default true. */
  readonly minOneBatch?: boolean;
  /**
   * readParts only: read into buffers leased from this pool; the caller releases every part
   * (after the socket write that carried it, or at once when it throws the read away).
   */
  readonly pool?: ReadBufferPool;
  /**
   * readParts only: leave the batches in the page cache, each segment's as a FileRange (sent with
   * sendfile) found by LogSegment.locate without reading the records; a range holds its segment
   * open until released. The caller releases every part either way.
   */
  readonly files?: boolean;
}

export interface ReadResult {
  /** Whole record batches, byte-identical to what was stored. */
  readonly records: Buffer;
  /** Offset after the last batch returned (the next fetch offset); == the requested offset if empty. */
  readonly nextOffset: bigint;
  readonly logStartOffset: bigint;
  readonly logEndOffset: bigint;
}

/** A read as the segments hold it: one part per segment touched, never copied together. */
export interface ReadPartsResult {
  /** Whole record batches, byte-identical to what was stored, in order; no empty parts. FileRanges only with `files`. */
  readonly parts: Array<Buffer | FileRange>;
  /** Total bytes of `parts`. */
  readonly size: number;
  readonly nextOffset: bigint;
  readonly logStartOffset: bigint;
  readonly logEndOffset: bigint;
}

const NO_RECORDS = Buffer.alloc(0);

/** Runs `fn` after `ms`; returns a cancel. */
export type Schedule = (fn: () => void, ms: number) => () => void;

/** The default Schedule: a timer that does not keep the process alive. */
export const unrefTimeout: Schedule = (fn, ms) => { const t = setTimeout(fn, ms); t.unref(); return () => clearTimeout(t); };

interface FlushWaiter {
  readonly offset: bigint;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

export class LocalLog {
  readonly dir: string;
  readonly name: string;
  private segments: LogSegment[];
  /** Offset below which every batch is known to be fsynced (Kafka's recovery point). */
  recoveryPoint: bigint;
  /** A segment file was created since the directory was last fsynced. */
  private dirDirty = false;
  private flushWaiters: FlushWaiter[] = [];
  private flushing = false;
  private readonly schedule: Schedule;
  /** Deleted segments held for file.delete.delay.ms, with the cancel of their release. */
  private readonly delayedDeletes = new Map<LogSegment, () => void>();

  constructor(dir: string, name: string, segments: LogSegment[], recoveryPoint: bigint, schedule: Schedule) {
    this.dir = dir;
    this.name = name;
    this.segments = segments;
    this.recoveryPoint = recoveryPoint;
    this.schedule = schedule;
  }

  get active(): LogSegment { return this.segments[this.segments.length - 1]!; }
  get logEndOffset(): bigint { return this.active.nextOffset; }
  get first(): LogSegment { return this.segments[0]!; }
  get sizeInBytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.size;
    return n;
  }
  get segmentCount(): number { return this.segments.length; }
  /** The segments, oldest first (a copy). */
  list(): LogSegment[] { return this.segments.slice(); }

  storageError(what: string, err: unknown): Error { return storageFailure(this.name, this.dir, what, err); }

  append(records: Buffer, batches: readonly { baseOffset: bigint; lastOffsetDelta: number; maxTimestamp: bigint; size: number }[], indexIntervalBytes: number): void {
    try {
      this.active.append(records, batches, indexIntervalBytes);
    } catch (err) {
      throw this.storageError('append', err);
    }
  }

  /** Seals the active segment and starts a new one at the log end; returns the sealed one. */
  roll(now: number): LogSegment {
    const old = this.active;
    old.seal();
    this.segments.push(LogSegment.create(this.dir, this.logEndOffset, now));
    this.dirDirty = true;
    return old;
  }

  // ---------------------------------------------------------------- read

  /**
   * Whole batches from the batch containing `offset`, at most `maxBytes` (but at least one batch
   * with minOneBatch), none reaching `maxOffset`. Throws OFFSET_OUT_OF_RANGE outside
   * [startOffset, logEndOffset]; empty at logEndOffset.
   */
  async read(offset: bigint, maxBytes: number, opts: ReadOptions, startOffset: () => bigint): Promise<ReadResult> {
    const r = await this.readParts(offset, maxBytes, { maxOffset: opts.maxOffset, minOneBatch: opts.minOneBatch }, startOffset);
    const parts = r.parts as Buffer[]; // no `files`: every part is bytes
    const records = parts.length === 1 ? parts[0]! : Buffer.concat(parts, r.size);
    return { records, nextOffset: r.nextOffset, logStartOffset: r.logStartOffset, logEndOffset: r.logEndOffset };
  }

  /** As read(), but the bytes of each segment stay a separate part (the Fetch path writes them as they are). */
  async readParts(offset: bigint, maxBytes: number, opts: ReadOptions, startOffset: () => bigint): Promise<ReadPartsResult> {
    const leo = this.logEndOffset;
    if (offset < startOffset() || offset > leo) {
      throw new KafkaError('OFFSET_OUT_OF_RANGE', `${this.name}: offset ${offset} not in [${startOffset()}, ${leo}]`);
    }
    const maxOffset = opts.maxOffset !== undefined && opts.maxOffset < leo ? opts.maxOffset : leo;
    const minOneBatch = opts.minOneBatch ?? true;
    let segments = this.segments.slice();
    let i = segmentIndexFor(segments, offset);
    const parts: Array<Buffer | FileRange> = [];
    let size = 0;
    let cur = offset;
    try {
      while (i < segments.length && cur < maxOffset) {
        const seg = segments[i]!;
        if (!seg.retain()) {
          if (cur < startOffset()) throw new KafkaError('OFFSET_OUT_OF_RANGE', `${this.name}: offset ${cur} was deleted`);
          // Replaced by the cleaner: continue from the current segment list (its segments are live now).
          segments = this.segments.slice();
          i = segmentIndexFor(segments, cur);
          continue;
        }
        let slice: { records: Buffer | FileRange; nextOffset: bigint } | null;
        try {
          const located = opts.files ? await seg.locate(cur, maxBytes - size, maxOffset, minOneBatch && parts.length === 0, opts.pool) : undefined;
          if (located === undefined) {
            slice = await seg.read(cur, maxBytes - size, maxOffset, minOneBatch && parts.length === 0, opts.pool);
          } else if (located === null || located.length === 0) {
            slice = located === null ? null : { records: NO_RECORDS, nextOffset: located.nextOffset };
          } else if (located.bytes) {
            slice = { records: located.bytes, nextOffset: located.nextOffset };
          } else {
            const range = seg.range(located.position, located.length);
            if (range === null) throw new Error(`segment ${seg.baseOffset} deleted while retained`);
            slice = { records: range, nextOffset: located.nextOffset };
          }
        } catch (err) {
          throw this.storageError('read', err);
        } finally {
          seg.release();
        }
        if (slice === null) { i++; continue; } // nothing at or after `cur` in this segment
        if (slice.records.length === 0) break;
        parts.push(slice.records);
        size += slice.records.length;
        cur = slice.nextOffset;
        if (cur < seg.nextOffset || size >= maxBytes) break;
        i++;
      }
    } catch (err) {
      for (const part of parts) {
        if (Buffer.isBuffer(part)) opts.pool?.release(part);
        else part.release();
      }
      throw err;
    }
    return { parts, size, nextOffset: cur, logStartOffset: startOffset(), logEndOffset: this.logEndOffset };
  }

  /**
   * The first record with timestamp >= `timestamp` (record-exact for uncompressed CreateTime
   * batches; otherwise the first batch whose maxTimestamp >= timestamp, reported with its base
   * offset and maxTimestamp), never below `startOffset`. null if there is none.
   */
  async offsetForTimestamp(timestamp: bigint, startOffset: () => bigint): Promise<{ offset: bigint; timestamp: bigint } | null> {
    let segments = this.segments.slice();
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i]!;
      if (seg.maxTimestamp < timestamp) continue;
      if (!seg.retain()) {
        // Deleted or replaced by the cleaner: look again from the same offset in the current list.
        segments = this.segments.slice();
        i = Math.max(-1, segmentIndexFor(segments, seg.baseOffset) - 1);
        continue;
      }
      try {
        const found = await seg.findByTimestamp(timestamp);
        if (!found) continue;
        const exact = firstRecordAtOrAfter(found.bytes, 0, timestamp);
        const hit = exact ?? { offset: found.header.baseOffset, timestamp: found.header.maxTimestamp };
        const start = startOffset();
        if (lastOffsetOf(found.header) < start) continue;
        return { offset: hit.offset < start ? start : hit.offset, timestamp: hit.timestamp };
      } finally {
        seg.release();
      }
    }
    return null;
  }

  /**
   * Kafka's collectAbortedTxns: the aborted transactions a read of [fetchOffset, upperBound)
   * overlaps, from the txn indexes of the segment holding fetchOffset onward until one says no
   * later entry can overlap (an abort's data precedes its marker, possibly by many segments).
   */
  collectAbortedTxns(fetchOffset: bigint, upperBound: bigint): AbortedTxn[] {
    const out: AbortedTxn[] = [];
    const segments = this.segments;
    for (let i = segmentIndexFor(segments, fetchOffset); i < segments.length; i++) {
      const r = segments[i]!.txnIndex.collect(fetchOffset, upperBound);
      for (const e of r.entries) out.push(e);
      if (r.complete) break;
    }
    return out;
  }

  /** The largest batch maxTimestamp of any segment, -1 for an empty log. */
  get maxTimestamp(): bigint {
    let max = -1n;
    for (const seg of this.segments) if (seg.maxTimestamp > max) max = seg.maxTimestamp;
    return max;
  }

  // ---------------------------------------------------------------- deletion, truncation, swap

  /**
   * Deletes the oldest segments (never the active one) while `shouldDelete` says so, each file
   * kept for `deleteDelayMs` (file.delete.delay.ms; see the top of this file).
   */
  deleteOldestWhile(shouldDelete: (seg: LogSegment, nextBase: bigint) => boolean, deleteDelayMs: number): { deleted: bigint[]; bytes: number } {
    const deleted: bigint[] = [];
    let bytes = 0;
    while (this.segments.length > 1) {
      const seg = this.segments[0]!;
      if (!shouldDelete(seg, this.segments[1]!.baseOffset)) break;
      this.segments.shift();
      deleted.push(seg.baseOffset);
      bytes += seg.size;
      try {
        this.holdForDeleteDelay(seg, deleteDelayMs);
        seg.delete();
      } catch (err) {
        throw this.storageError('delete segment', err);
      }
    }
    return { deleted, bytes };
  }

  private holdForDeleteDelay(seg: LogSegment, delay: number): void {
    if (delay <= 0 || !seg.retain()) return;
    const cancel = this.schedule(() => this.releaseDelayedDelete(seg), Math.min(delay, 0x7fffffff));
    this.delayedDeletes.set(seg, cancel);
  }

  private releaseDelayedDelete(seg: LogSegment): void {
    const cancel = this.delayedDeletes.get(seg);
    if (!cancel) return;
    this.delayedDeletes.delete(seg);
    cancel();
    seg.release();
  }

  /** Removes every batch at or after `offset`, which must not be below the first segment's base. */
  truncateTo(offset: bigint, indexIntervalBytes: number): void {
    while (this.segments.length > 1 && this.active.baseOffset > offset) this.segments.pop()!.delete();
    this.active.truncateTo(offset, indexIntervalBytes);
  }

  /** Deletes every segment and starts one, empty, at `offset`. */
  replaceAllAt(offset: bigint, now: number): void {
    for (const s of this.segments) s.delete();
    this.segments = [LogSegment.create(this.dir, offset, now)];
    this.dirDirty = true;
  }

  /** True when `old` are still consecutive, non-active segments of this log. */
  holdsConsecutive(old: readonly LogSegment[]): boolean {
    const i = old.length > 0 ? this.segments.indexOf(old[0]!) : -1;
    return i >= 0 && i + old.length < this.segments.length && old.every((s, k) => this.segments[i + k] === s);
  }

  /**
   * Swaps `cleaned` (`<base>.log.cleaned`, fsynced) in for `old` (see holdsConsecutive): rename
   * to `.log.swap` (the commit point), delete the old segments (readers that hold them keep their
   * fds), rename to `.log`, write its indexes, splice the list. Synchronous; a failure leaves the
   * files for recovery on open to finish.
   */
  swapIn(old: readonly LogSegment[], cleaned: LogSegment): void {
    const i = this.segments.indexOf(old[0]!);
    try {
      cleaned.renameFile(SWAP_SUFFIX);
      fsyncDir(this.dir);
      for (const s of old) s.delete();
      cleaned.renameFile('');
      cleaned.writeIndexes();
      fsyncDir(this.dir);
    } finally {
      this.segments.splice(i, old.length, cleaned);
    }
  }

  /** Closes the segments and ends every file.delete.delay.ms wait now: the `.deleted` files go. */
  close(): void {
    for (const s of this.segments) s.close();
    for (const seg of [...this.delayedDeletes.keys()]) this.releaseDelayedDelete(seg);
  }

  // ---------------------------------------------------------------- flush

  /** Resolves once every batch below `offset` is fsynced (group commit, see the top of this file). */
  flushUpTo(offset: bigint): Promise<void> {
    if (offset <= this.recoveryPoint) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.flushWaiters.push({ offset, resolve, reject });
      this.startFlush();
    });
  }

  /** Starts a flush pass of everything appended so far, unless one is running. */
  startFlush(): void {
    if (this.flushing) return;
    this.flushing = true;
    void this.flushLoop();
  }

  /** Fails every waiting flushUpTo (the log is closing, deleted or abandoned). */
  rejectFlushWaiters(err: Error): void {
    for (const w of this.flushWaiters.splice(0)) w.reject(err);
  }

  private async flushLoop(): Promise<void> {
    try {
      for (;;) {
        // Let the event loop run first, so that appends already on their way (callers resumed
        // by the previous flush, requests just read from sockets) join this fdatasync.
        await new Promise<void>((resolve) => setImmediate(resolve));
        const target = this.logEndOffset;
        if (target > this.recoveryPoint) {
          if (this.dirDirty) {
            // New segment files must survive a power loss too: fsync the directory entry.
            this.dirDirty = false;
            await fsyncDirAsync(this.dir);
          }
          const dirty = this.segments.filter((s) => s.nextOffset > this.recoveryPoint && s.retain());
          try {
            await Promise.all(dirty.map((s) => s.flush()));
          } finally {
            for (const s of dirty) s.release();
          }
          if (target > this.recoveryPoint) this.recoveryPoint = target;
        }
        const waiting = this.flushWaiters;
        this.flushWaiters = [];
        const later: FlushWaiter[] = [];
        for (const w of waiting) (w.offset <= this.recoveryPoint ? w.resolve() : later.push(w));
        this.flushWaiters.push(...later);
        if (this.flushWaiters.length === 0) break;
      }
    } catch (err) {
      this.rejectFlushWaiters(this.storageError('flush', err));
    } finally {
      this.flushing = false;
    }
  }
}

function segmentIndexFor(segments: readonly LogSegment[], offset: bigint): number {
  let lo = 0;
  let hi = segments.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (segments[mid]!.baseOffset <= offset) lo = mid; else hi = mid - 1;
  }
  return lo;
}
