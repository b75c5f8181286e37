/**
 * One segment of a partition log (Kafka's LogSegment): `<base>.log` holding record batches
 * exactly as stored, plus its offset index, time index and aborted-transaction index (see
 * offset-index.ts, time-index.ts, txn-index.ts). The txn index is the only one that cannot be
 * derived from the .log alone (an entry names its transaction's first offset, which may lie in an
 * earlier segment), so the segment appends, truncates, flushes and deletes it with the .log and
 * recovery rebuilds it with the producer state (log-loader.ts).
 *
 * .log byte format: record batches v2 back to back (record-batch.ts), no framing of our own.
 * Batch base offsets strictly increase. Index entries are added every index.interval.bytes:
 * before appending a batch, if more than that many bytes were appended since the last entry,
 * the batch gets an offset-index entry (baseOffset → position) and the time index gets
 * (largest timestamp so far, offset where it was first reached) if that timestamp grew.
 *
 * Concurrency contract: one writer (the PartitionLog, synchronously: appends use fs.writeSync
 * into the page cache at the segment's end, so any later read sees them); any number of async
 * readers, which use positional reads bounded by the size they observed when they started and
 * hold a reference (retain/release) so that a deleted segment's fd stays open until the last
 * reader is done. Truncation while a read is in flight may let that read return the removed
 * bytes (as in Kafka); callers bound reads by the high watermark.
 *
 * The log cleaner writes a replacement segment to `<base>.log.cleaned` (createCleaned), renames
 * it to `.log.swap` and then to `.log` (renameFile) while its fd stays open; its index files
 * (txn index first) are written under their final names only after that last rename (see
 * PartitionLog.replaceSegments); a crash before they are leaves no offset index, which makes
 * recovery rebuild all of them.
 */
import fs from 'node:fs';
import { promisify } from 'node:util';
import { KafkaError } from '../errors.ts';
import {
  type BatchHeader, BATCH_HEADER_SIZE, LOG_OVERHEAD, LENGTH_OFFSET, LAST_OFFSET_DELTA_OFFSET, readBatchHeader, lastOffsetOf,
} from './record-batch.ts';
import { OffsetIndex, OFFSET_INDEX_ENTRY_SIZE, writeFileAtomically } from './offset-index.ts';
import { TimeIndex } from './time-index.ts';
import { TransactionIndex } from './txn-index.ts';
import type { LogConfig } from './log-config.ts';
import { logFile, offsetIndexFile, timeIndexFile, txnIndexFile, DELETED_SUFFIX, TMP_SUFFIX, CLEANED_SUFFIX } from './log-files.ts';
import { controlTypeOf } from './records.ts';
import {
  READ_HEADER_CHUNK, fdatasyncAsync, findInChunk, readFully, readFullySync, scanBatchesSync, scannedLength, type ScanResult,
} from './segment-io.ts';
import type { ReadBufferPool } from './read-buffer-pool.ts';

/** How much locate() reads to find the first batch: the index puts it within index.interval.bytes (4 KiB by default). */
const LOCATE_CHUNK = 16 * 1024;
/** Batch starts locate() remembers where its walks ended (see `nextStarts`). */
const NEXT_STARTS_KEPT = 64;

/** A byte range of a segment file, left in the page cache for sendfile (ReadOptions.files); `release()` once, when done. */
export interface FileRange {
  readonly fd: number;
  readonly position: number;
  readonly length: number;
  release(): void;
}

export { scanBatchesSync, type ScanResult } from './segment-io.ts';

export interface SegmentLoadOptions {
  readonly indexIntervalBytes: number;
  /** Verify every batch (length, CRC) and truncate at the first bad one; rebuild the indexes. */
  readonly recover: boolean;
  readonly now: number;
  /** With `recover`: told of every valid batch the recovery scan keeps, in order (the loader rebuilds leader epochs from them). */
  readonly onRecoveredBatch?: (h: BatchHeader) => void;
}

export interface ReadSlice {
  readonly records: Buffer;
  readonly firstOffset: bigint;
  /** Offset after the last batch returned (== firstOffset when empty). */
  readonly nextOffset: bigint;
}

const openFile = promisify(fs.open);

export class LogSegment {
  readonly dir: string;
  readonly baseOffset: bigint;
  /** Clock time when this segment object was created or loaded (fallback for segment.ms). */
  readonly created: number;
  private readonly fd: number;
  private sizeBytes = 0;
  private next: bigint;
  private offsetIdx: OffsetIndex;
  private timeIdx: TimeIndex;
  private readonly txnIdx: TransactionIndex;
  private maxTs = -1n;
  private offsetOfMaxTs: bigint;
  private bytesSinceLastIndexEntry = 0;
  private firstBatchMaxTimestamp: bigint | null = null;
  private refs = 1;
  /**
   * The batches at which locate()'s walks stopped (the first one that did not fit), by base
   * offset: where the next fetch of the same consumer or follower starts, so that locate() finds
   * it without reading. Bounded (oldest dropped first); emptied when the segment is truncated.
   */
  private readonly nextStarts = new Map<bigint, { position: number; header: BatchHeader }>();
  private deletedFile: string | null = null;
  /** '' for a live segment; CLEANED_SUFFIX / SWAP_SUFFIX while the cleaner is replacing segments. */
  private fileSuffix = '';

  private constructor(dir: string, baseOffset: bigint, fd: number, now: number, txnIdx: TransactionIndex) {
    this.dir = dir;
    this.baseOffset = baseOffset;
    this.fd = fd;
    this.created = now;
    this.next = baseOffset;
    this.offsetOfMaxTs = baseOffset;
    this.offsetIdx = new OffsetIndex(baseOffset);
    this.timeIdx = new TimeIndex(baseOffset);
    this.txnIdx = txnIdx;
  }

  get size(): number { return this.sizeBytes; }
  /** Offset after the last batch of this segment (its base offset when empty). */
  get nextOffset(): bigint { return this.next; }
  /** Largest batch maxTimestamp in the segment, -1 when unknown/empty. */
  get maxTimestamp(): bigint { return this.maxTs; }
  get offsetIndex(): OffsetIndex { return this.offsetIdx; }
  get timeIndex(): TimeIndex { return this.timeIdx; }
  /** The aborted transactions whose abort marker is in this segment. */
  get txnIndex(): TransactionIndex { return this.txnIdx; }
  get isEmpty(): boolean { return this.sizeBytes === 0; }
  /** Kafka's rollingBasedTimestamp: the first batch's maxTimestamp, if any. */
  get rollingBaseTimestamp(): bigint | null { return this.firstBatchMaxTimestamp; }
  get logPath(): string { return logFile(this.dir, this.baseOffset) + this.fileSuffix; }

  static create(dir: string, baseOffset: bigint, now: number): LogSegment {
    const file = logFile(dir, baseOffset);
    const fd = fs.openSync(file, 'w+');
    for (const f of [offsetIndexFile(dir, baseOffset), timeIndexFile(dir, baseOffset)]) fs.rmSync(f, { force: true });
    return new LogSegment(dir, baseOffset, fd, now, TransactionIndex.create(txnIndexFile(dir, baseOffset)));
  }

  /**
   * A new, empty segment in a directory made empty just now (no stale index to remove), its file
   * created on libuv's pool: creating an inode costs 0.1-1 ms of kernel time on ext4 here (more
   * right after many deletions), which the event loop does not wait for when many topics are created.
   */
  static async createInNewDir(dir: string, baseOffset: bigint, now: number): Promise<LogSegment> {
    const fd = await openFile(logFile(dir, baseOffset), 'w+');
    return new LogSegment(dir, baseOffset, fd, now, TransactionIndex.absent(txnIndexFile(dir, baseOffset)));
  }

  /** A new, empty segment written to `<base>.log.cleaned` (the log cleaner's output). */
  static createCleaned(dir: string, baseOffset: bigint, now: number): LogSegment {
    const fd = fs.openSync(logFile(dir, baseOffset) + CLEANED_SUFFIX, 'w+');
    const seg = new LogSegment(dir, baseOffset, fd, now, TransactionIndex.inMemory(txnIndexFile(dir, baseOffset)));
    seg.fileSuffix = CLEANED_SUFFIX;
    return seg;
  }

  /** Renames the .log file to `<base>.log<suffix>` ('' = its live name); the fd stays open. */
  renameFile(suffix: string): void {
    const target = logFile(this.dir, this.baseOffset) + suffix;
    fs.renameSync(this.logPath, target);
    this.fileSuffix = suffix;
  }

  /** Closes and removes a segment that never went live (an aborted clean). */
  discard(): void {
    fs.rmSync(this.logPath, { force: true });
    this.release();
  }

  /** Up to `length` bytes of the .log at `position` (fewer at the end of the file). */
  readRange(position: number, length: number): Promise<Buffer> {
    return readFully(this.fd, position, length);
  }

  /**
   * Opens an existing segment. With `recover`, verifies every batch, truncates an invalid tail
   * and rebuilds both indexes; otherwise loads the index files, rebuilding any that is missing
   * or fails its checks. Returns the number of bytes truncated and why.
   */
  static load(dir: string, baseOffset: bigint, opts: SegmentLoadOptions): { segment: LogSegment; truncated: number; problem: string | null } {
    const fd = fs.openSync(logFile(dir, baseOffset), 'r+');
    let seg: LogSegment;
    try {
      // Entries past the segment's end are cut below, once the end is known.
      seg = new LogSegment(dir, baseOffset, fd, opts.now, TransactionIndex.load(txnIndexFile(dir, baseOffset), 1n << 62n));
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    const result = LogSegment.loadData(seg, fd, opts);
    seg.txnIdx.truncateTo(seg.nextOffset);
    return result;
  }

  private static loadData(seg: LogSegment, fd: number, opts: SegmentLoadOptions): { segment: LogSegment; truncated: number; problem: string | null } {
    const fileSize = fs.fstatSync(fd).size;
    if (opts.recover) {
      const r = seg.rebuild(fileSize, true, opts.indexIntervalBytes, opts.onRecoveredBatch);
      const truncated = fileSize - r.validEnd;
      if (truncated > 0) fs.ftruncateSync(fd, r.validEnd);
      return { segment: seg, truncated, problem: r.problem };
    }
    seg.sizeBytes = fileSize;
    if (!seg.loadIndexes(opts.indexIntervalBytes)) {
      const r = seg.rebuild(fileSize, false, opts.indexIntervalBytes);
      if (r.validEnd < fileSize) {
        fs.ftruncateSync(fd, r.validEnd);
        return { segment: seg, truncated: fileSize - r.validEnd, problem: r.problem };
      }
    }
    return { segment: seg, truncated: 0, problem: null };
  }

  /** Loads and checks index files; false if they must be rebuilt. */
  private loadIndexes(indexIntervalBytes: number): boolean {
    let offsetBytes: Buffer;
    let timeBytes: Buffer;
    try {
      offsetBytes = fs.readFileSync(offsetIndexFile(this.dir, this.baseOffset));
      timeBytes = fs.readFileSync(timeIndexFile(this.dir, this.baseOffset));
    } catch {
      return false;
    }
    const offsetIdx = OffsetIndex.decode(this.baseOffset, offsetBytes, this.sizeBytes);
    if (!offsetIdx) return false;
    // Walk the headers after the last indexed batch to find the end offset; the entry must
    // point at a batch with exactly that base offset.
    const last = offsetIdx.lastEntry() ?? { offset: this.baseOffset, position: 0 };
    let next = this.baseOffset;
    let firstHeaderOk = offsetIdx.entries === 0;
    let bytesSince = 0;
    const r = scanBatchesSync(this.fd, last.position, this.sizeBytes, false, this.baseOffset, (h, pos) => {
      if (pos === last.position && h.baseOffset === last.offset) firstHeaderOk = true;
      next = lastOffsetOf(h) + 1n;
      bytesSince += h.size;
    });
    if (r.problem || !firstHeaderOk) return false;
    const timeIdx = TimeIndex.decode(this.baseOffset, timeBytes, next === this.baseOffset ? this.baseOffset + 1n : next);
    if (!timeIdx) return false;
    if (this.sizeBytes > 0 && timeIdx.entries === 0) return false; // rolled segments always end with their max
    this.offsetIdx = offsetIdx;
    this.timeIdx = timeIdx;
    this.next = next;
    const lastTime = timeIdx.lastEntry();
    if (lastTime) {
      this.maxTs = lastTime.timestamp;
      this.offsetOfMaxTs = lastTime.offset;
    }
    this.bytesSinceLastIndexEntry = offsetIdx.entries === 0 ? this.sizeBytes : bytesSince;
    if (this.sizeBytes >= BATCH_HEADER_SIZE) {
      const head = Buffer.allocUnsafe(BATCH_HEADER_SIZE);
      readFullySync(this.fd, head, BATCH_HEADER_SIZE, 0);
      this.firstBatchMaxTimestamp = readBatchHeader(head, 0).maxTimestamp;
    }
    void indexIntervalBytes;
    return true;
  }

  /** Rebuilds the indexes (and size, end offset, timestamps) by scanning the .log. */
  private rebuild(fileSize: number, verify: boolean, indexIntervalBytes: number, visit?: (h: BatchHeader) => void): ScanResult {
    this.offsetIdx = new OffsetIndex(this.baseOffset);
    this.timeIdx = new TimeIndex(this.baseOffset);
    this.sizeBytes = 0;
    this.next = this.baseOffset;
    this.maxTs = -1n;
    this.offsetOfMaxTs = this.baseOffset;
    this.bytesSinceLastIndexEntry = 0;
    this.firstBatchMaxTimestamp = null;
    const r = scanBatchesSync(this.fd, 0, fileSize, verify, this.baseOffset, (h, pos) => {
      this.onBatchAppended(h.baseOffset, lastOffsetOf(h), h.maxTimestamp, pos, h.size, indexIntervalBytes);
      visit?.(h);
    });
    this.sizeBytes = r.validEnd;
    return r;
  }

  /** Index bookkeeping for a batch just written at `position`. */
  private onBatchAppended(baseOffset: bigint, lastOffset: bigint, maxTimestamp: bigint, position: number, size: number, indexIntervalBytes: number): void {
    if (this.firstBatchMaxTimestamp === null) this.firstBatchMaxTimestamp = maxTimestamp;
    if (maxTimestamp > this.maxTs) {
      this.maxTs = maxTimestamp;
      this.offsetOfMaxTs = baseOffset;
    }
    if (this.bytesSinceLastIndexEntry > indexIntervalBytes) {
      this.offsetIdx.append(baseOffset, position);
      this.timeIdx.maybeAppend(this.maxTs, this.offsetOfMaxTs);
      this.bytesSinceLastIndexEntry = 0;
    }
    this.bytesSinceLastIndexEntry += size;
    this.next = lastOffset + 1n;
    this.sizeBytes = position + size;
  }

  /** True if the offset index cannot take another entry under segment.index.bytes. */
  /** Kafka's LogSegment.shouldRoll: whether an append of `messagesSize` bytes must go to a new segment. */
  shouldRoll(config: LogConfig, messagesSize: number, maxTimestampInMessages: bigint, maxOffsetInMessages: bigint, now: number): boolean {
    if (this.isEmpty) return false;
    const rollBase = this.rollingBaseTimestamp;
    const waited = rollBase !== null && rollBase >= 0n ? Number(maxTimestampInMessages - rollBase) : now - this.created;
    // Compacted logs also roll by max.compaction.lag.ms, so the cleaner can reach every record in time.
    const rollMs = config.cleanupPolicy === 'delete' ? config.segmentMs : Math.min(config.segmentMs, config.maxCompactionLagMs);
    return this.size > config.segmentBytes - messagesSize
      || waited > rollMs
      || this.isIndexFull(config.segmentIndexBytes)
      || maxOffsetInMessages - this.baseOffset > 0x7fffffffn;
  }

  /** Kafka's segment.largestTimestamp: the max batch timestamp, or the file's mtime without one. */
  get largestTimestamp(): number {
    if (this.maxTimestamp >= 0n) return Number(this.maxTimestamp);
    return fs.statSync(this.logPath).mtimeMs;
  }

  isIndexFull(segmentIndexBytes: number): boolean {
    return this.offsetIdx.sizeInBytes + OFFSET_INDEX_ENTRY_SIZE > segmentIndexBytes;
  }

  /**
   * Appends already-validated, stamped batches (`bytes` holds them back to back, described by
   * `headers` with their final base offsets). Synchronous: the data is in the page cache when
   * this returns.
   */
  append(bytes: Buffer, headers: readonly { baseOffset: bigint; lastOffsetDelta: number; maxTimestamp: bigint; size: number }[], indexIntervalBytes: number): void {
    const start = this.sizeBytes;
    let written = 0;
    try {
      while (written < bytes.length) written += fs.writeSync(this.fd, bytes, written, bytes.length - written, start + written);
    } catch (err) {
      try { fs.ftruncateSync(this.fd, start); } catch { /* the directory will be recovered on restart */ }
      throw err;
    }
    let pos = start;
    for (const h of headers) {
      this.onBatchAppended(h.baseOffset, h.baseOffset + BigInt(h.lastOffsetDelta), h.maxTimestamp, pos, h.size, indexIntervalBytes);
      pos += h.size;
    }
  }

  /** Position of the first batch with lastOffset >= `offset`, and its header; null if none. */
  async findBatch(offset: bigint, sizeLimit: number, from?: number): Promise<{ position: number; header: BatchHeader } | null> {
    let pos = from ?? this.offsetIdx.lookup(offset).position;
    while (pos < sizeLimit) {
      const chunk = await readFully(this.fd, pos, Math.min(READ_HEADER_CHUNK, sizeLimit - pos));
      let p = 0;
      while (p + BATCH_HEADER_SIZE <= chunk.length) {
        const h = readBatchHeader(chunk, p);
        if (h.size < BATCH_HEADER_SIZE) throw new KafkaError('CORRUPT_MESSAGE', `bad batch size ${h.size} at ${pos + p} in ${this.logPath}`);
        if (lastOffsetOf(h) >= offset) return { position: pos + p, header: { ...h, position: pos + p } };
        p += h.size;
      }
      if (p === 0) return null;
      pos += p;
    }
    return null;
  }

  /**
   * Whole batches starting at the batch containing `offset`: at most `maxBytes` (at least one
   * batch if `minOneBatch`), only batches whose last offset is below `maxOffset`. With `pool`,
   * non-empty records are a view of a buffer leased from it (the caller releases it).
   */
  async read(offset: bigint, maxBytes: number, maxOffset: bigint, minOneBatch: boolean, pool?: ReadBufferPool): Promise<ReadSlice | null> {
    const sizeLimit = this.sizeBytes;
    // One read from the index position usually holds both the batch lookup and the data.
    const start = this.offsetIdx.lookup(offset).position;
    const chunk = start < sizeLimit
      ? await readFully(this.fd, start, Math.min(sizeLimit - start, READ_HEADER_CHUNK + Math.max(0, maxBytes)), pool)
      : Buffer.alloc(0);
    let found;
    try {
      found = findInChunk(chunk, start, offset, this.logPath) ?? await this.findBatch(offset, sizeLimit, start + scannedLength(chunk));
    } catch (err) {
      pool?.release(chunk);
      throw err;
    }
    if (!found) {
      pool?.release(chunk);
      return null;
    }
    const { position, header } = found;
    const empty = { records: Buffer.alloc(0), firstOffset: header.baseOffset, nextOffset: header.baseOffset };
    const want = Math.min(sizeLimit - position, Math.max(maxBytes, minOneBatch ? header.size : 0));
    if (lastOffsetOf(header) >= maxOffset || want < header.size) {
      pool?.release(chunk);
      return empty;
    }
    const segmentEnd = this.next;
    const inChunk = position - start;
    let buf: Buffer;
    if (inChunk >= 0 && inChunk + want <= chunk.length) {
      buf = chunk.subarray(inChunk, inChunk + want);
    } else {
      pool?.release(chunk);
      buf = await readFully(this.fd, position, want, pool);
    }
    // Walk the batch lengths only; offsets matter when the bound falls inside this segment.
    const checkOffsets = maxOffset < segmentEnd;
    let end = 0;
    let lastStart = -1;
    while (end + BATCH_HEADER_SIZE <= buf.length) {
      const size = buf.readInt32BE(end + LENGTH_OFFSET) + LOG_OVERHEAD;
      if (size < BATCH_HEADER_SIZE || end + size > buf.length) break;
      if (checkOffsets && buf.readBigInt64BE(end) + BigInt(buf.readInt32BE(end + LAST_OFFSET_DELTA_OFFSET)) >= maxOffset) break;
      lastStart = end;
      end += size;
    }
    if (end === 0) {
      pool?.release(buf);
      return empty;
    }
    const nextOffset = buf.readBigInt64BE(lastStart) + BigInt(buf.readInt32BE(lastStart + LAST_OFFSET_DELTA_OFFSET)) + 1n;
    return { records: buf.subarray(0, end), firstOffset: header.baseOffset, nextOffset };
  }

  /**
   * As read(), without reading the records: where in this segment's file lie the whole batches
   * read() would return, for a transfer straight from the page cache (sendfile); null when nothing
   * here is at or after `offset`. Only batch headers are read: one chunk to find the first batch,
   * and, unless the rest of the segment fits, one (usually) to find the end: from the last offset
   * index entry within reach (a batch start, and below `maxOffset`) batch headers are walked
   * forward while whole batches fit in `maxBytes` and end below `maxOffset`. When all of it lies
   * in the first chunk (a small fetch) that chunk's view is returned as `bytes` (leased from
   * `pool`, as read()'s records), and no transfer from the file is needed.
   */
  async locate(offset: bigint, maxBytes: number, maxOffset: bigint, minOneBatch: boolean, pool?: ReadBufferPool):
    Promise<{ position: number; length: number; nextOffset: bigint; bytes?: Buffer } | null> {
    const sizeLimit = this.sizeBytes;
    // a big fetch where an earlier one stopped: no read to find its first batch
    const known = maxBytes > LOCATE_CHUNK ? this.nextStarts.get(offset) : undefined;
    if (known !== undefined && known.position + known.header.size <= sizeLimit) {
      return this.locateEnd(known.position, known.header, maxBytes, maxOffset, minOneBatch, pool);
    }
    const start = this.offsetIdx.lookup(offset).position;
    if (start >= sizeLimit) return null;
    const chunk = await readFully(this.fd, start, Math.min(sizeLimit - start, LOCATE_CHUNK), pool);
    let kept = false;
    try {
      const found = findInChunk(chunk, start, offset, this.logPath) ?? await this.findBatch(offset, sizeLimit, start + scannedLength(chunk));
      if (!found) return null;
      const located = await this.locateEnd(found.position, found.header, maxBytes, maxOffset, minOneBatch, pool);
      // what lies within the chunk already read is sent from it: a small fetch costs no sendfile
      const at = located.position - start;
      if (located.length > 0 && at >= 0 && at + located.length <= chunk.length) {
        kept = true;
        return { ...located, bytes: chunk.subarray(at, at + located.length) };
      }
      return located;
    } finally {
      if (!kept) pool?.release(chunk);
    }
  }

  /** locate(): the end of what is returned from the batch at `position`. */
  private async locateEnd(position: number, header: BatchHeader, maxBytes: number, maxOffset: bigint, minOneBatch: boolean, pool?: ReadBufferPool):
    Promise<{ position: number; length: number; nextOffset: bigint }> {
    const sizeLimit = this.sizeBytes;
    const want = Math.min(sizeLimit - position, Math.max(maxBytes, minOneBatch ? header.size : 0));
    const checkOffsets = maxOffset < this.next;
    if (want < header.size || lastOffsetOf(header) >= maxOffset) return { position, length: 0, nextOffset: header.baseOffset };
    if (!checkOffsets && position + want === sizeLimit) return { position, length: want, nextOffset: this.next };
    const limit = position + want;
    let end = position + header.size;
    let nextOffset = lastOffsetOf(header) + 1n;
    // the last index entry within maxBytes and, when the bound falls in this segment, at or below
    // maxOffset (the batches before such an entry all end below it)
    let jump = this.offsetIdx.floorByPosition(limit);
    if (jump !== null && checkOffsets) {
      const below = this.offsetIdx.lookup(maxOffset);
      if (below.position < jump.position) jump = below;
    }
    if (jump !== null && jump.position > end) {
      end = jump.position;
      nextOffset = jump.offset;
    }
    while (end + BATCH_HEADER_SIZE <= limit) {
      const from = end;
      const walked = await this.withChunk(from, limit, pool, (chunk) => {
        let p = 0;
        let next = nextOffset;
        while (p + BATCH_HEADER_SIZE <= chunk.length) {
          const h = readBatchHeader(chunk, p);
          if (h.size < BATCH_HEADER_SIZE) throw new KafkaError('CORRUPT_MESSAGE', `bad batch size ${h.size} at ${from + p} in ${this.logPath}`);
          if (from + p + h.size > limit || lastOffsetOf(h) >= maxOffset) {
            this.rememberNextStart(from + p, h);
            return { p, next, done: true };
          }
          p += h.size;
          next = lastOffsetOf(h) + 1n;
        }
        return { p, next, done: false };
      });
      end = from + walked.p;
      nextOffset = walked.next;
      if (walked.done || walked.p === 0) break;
    }
    return { position, length: end - position, nextOffset };
  }

  private rememberNextStart(position: number, header: BatchHeader): void {
    if (this.nextStarts.size >= NEXT_STARTS_KEPT) this.nextStarts.delete(this.nextStarts.keys().next().value!);
    this.nextStarts.set(header.baseOffset, { position, header });
  }

  /** Runs `fn` on up to LOCATE_CHUNK bytes of the file from `position` (not past `limit`), then gives the chunk back. */
  private async withChunk<T>(position: number, limit: number, pool: ReadBufferPool | undefined, fn: (chunk: Buffer) => T | Promise<T>): Promise<T> {
    const chunk = await readFully(this.fd, position, Math.min(limit - position, LOCATE_CHUNK), pool);
    try {
      return await fn(chunk);
    } finally {
      pool?.release(chunk);
    }
  }

  /**
   * `length` bytes of this segment's file from `position`, holding a reader reference until
   * `release()` (called once); null if the segment is already deleted.
   */
  range(position: number, length: number): FileRange | null {
    if (!this.retain()) return null;
    let released = false;
    return {
      fd: this.fd, position, length,
      release: () => {
        if (released) return;
        released = true;
        this.release();
      },
    };
  }

  /** First record/batch at or after `timestamp` in this segment (batch granularity header). */
  async findByTimestamp(timestamp: bigint): Promise<{ header: BatchHeader; bytes: Buffer } | null> {
    const sizeLimit = this.sizeBytes;
    const from = this.timeIdx.lookup(timestamp);
    let pos = this.offsetIdx.lookup(from).position;
    while (pos < sizeLimit) {
      const chunk = await readFully(this.fd, pos, Math.min(READ_HEADER_CHUNK, sizeLimit - pos));
      let p = 0;
      while (p + BATCH_HEADER_SIZE <= chunk.length) {
        const h = readBatchHeader(chunk, p);
        if (h.size < BATCH_HEADER_SIZE) return null;
        if (h.maxTimestamp >= timestamp) {
          const bytes = p + h.size <= chunk.length ? chunk.subarray(p, p + h.size) : await readFully(this.fd, pos + p, h.size);
          return { header: { ...h, position: pos + p }, bytes };
        }
        p += h.size;
      }
      if (p === 0) return null;
      pos += p;
    }
    return null;
  }

  /** The control record type (CONTROL_COMMIT / CONTROL_ABORT) of a control batch of this segment (sync; recovery). */
  controlTypeSync(h: BatchHeader): number {
    const buf = Buffer.allocUnsafe(h.size);
    readFullySync(this.fd, buf, h.size, h.position);
    return controlTypeOf(buf, 0);
  }

  /** Visits every batch header with lastOffset >= `fromOffset` (sync; open/truncate paths). */
  forEachBatchFrom(fromOffset: bigint, visit: (h: BatchHeader) => void): void {
    const start = this.offsetIdx.lookup(fromOffset).position;
    scanBatchesSync(this.fd, start, this.sizeBytes, false, this.baseOffset, (h) => {
      if (lastOffsetOf(h) >= fromOffset) visit(h);
    });
  }

  /**
   * Removes every batch with lastOffset >= `offset` (the batch containing `offset` goes too),
   * then rebuilds the indexes. Returns the bytes removed.
   */
  truncateTo(offset: bigint, indexIntervalBytes: number): number {
    if (offset >= this.next) return 0;
    let cut = this.sizeBytes;
    const start = this.offsetIdx.lookup(offset).position;
    let found = false;
    scanBatchesSync(this.fd, start, this.sizeBytes, false, this.baseOffset, (h, pos) => {
      if (!found && lastOffsetOf(h) >= offset) { cut = pos; found = true; }
    });
    const before = this.sizeBytes;
    this.nextStarts.clear(); // batches at or past the cut may be appended again, elsewhere or other
    fs.ftruncateSync(this.fd, cut);
    this.rebuild(cut, false, indexIntervalBytes);
    this.txnIdx.truncateTo(this.next);
    return before - cut;
  }

  /** Kafka's onBecomeInactiveSegment: make the time index end with the segment's max. */
  seal(): void {
    if (this.sizeBytes > 0) this.timeIdx.maybeAppend(this.maxTs, this.offsetOfMaxTs);
  }

  /**
   * Writes the offset and time index files atomically (tmp + fsync + rename), after the txn
   * index when it has lived in memory (a cleaned segment's): an offset index on disk thus means
   * the txn index is there too.
   */
  writeIndexes(): void {
    if (this.fileSuffix === '' && !this.txnIdx.isPersisted) this.txnIdx.writeAtomically();
    writeFileAtomically(offsetIndexFile(this.dir, this.baseOffset), this.offsetIdx.encode());
    writeFileAtomically(timeIndexFile(this.dir, this.baseOffset), this.timeIdx.encode());
  }

  /** fdatasync of the .log, then of the txn index entries appended since (async, on the thread pool). */
  async flush(): Promise<void> {
    await fdatasyncAsync(this.fd);
    await this.txnIdx.flush();
  }

  flushSync(): void {
    fs.fdatasyncSync(this.fd);
    this.txnIdx.flushSync();
  }

  /** Takes a reader reference; false if the segment is already deleted. */
  retain(): boolean {
    if (this.deletedFile !== null) return false;
    this.refs++;
    return true;
  }

  release(): void {
    if (--this.refs === 0) {
      fs.closeSync(this.fd);
      if (this.deletedFile) fs.rmSync(this.deletedFile, { force: true });
    }
  }

  /** Closes the segment (the owner's reference). */
  close(): void {
    this.release();
  }

  /**
   * Deletes the segment: its indexes at once, its .log renamed to `.log.deleted` (never loaded
   * again) and unlinked when the last reader releases it.
   */
  delete(): void {
    for (const f of [offsetIndexFile(this.dir, this.baseOffset), timeIndexFile(this.dir, this.baseOffset)]) {
      fs.rmSync(f, { force: true });
      fs.rmSync(f + TMP_SUFFIX, { force: true });
    }
    if (this.txnIdx.isPersisted) this.txnIdx.delete();
    const deleted = this.logPath + DELETED_SUFFIX;
    fs.renameSync(this.logPath, deleted);
    this.deletedFile = deleted;
    this.release();
  }
}
