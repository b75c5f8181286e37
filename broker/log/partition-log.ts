/**
 * PartitionLog: one partition replica's log directory (Kafka's UnifiedLog + LocalLog): the
 * ordered list of segments, the log start offset, the flush/recovery point, the producer state
 * and the leader epoch cache. Files and their byte formats: log-files.ts and the modules it
 * names (log-segment.ts, offset-index.ts, time-index.ts, producer-state.ts,
 * leader-epoch-cache.ts, checkpoint-file.ts).
 *
 * Concurrency contract
 *   - Everything runs on one event loop. append(), truncateTo(), deleteRecordsBefore(),
 *     enforceRetention() and assignEpochStartOffset() are synchronous, so mutations are
 *     serialized by construction and offsets are assigned in call order. append() writes with
 *     fs.writeSync into the page cache, so any read started after it returns sees the data.
 *   - read() and offsetForTimestamp() are async; they work on the segment list as it was when
 *     they started and hold a reference on each segment they touch, so retention can delete a
 *     segment under a reader without its fd being closed or reused.
 *
 * Flush / durability contract
 *   - An append is in the page cache when append() returns: it survives a crash of the process
 *     (kill -9) but not of the machine, unless it was fsynced.
 *   - flush.messages=N: once N or more messages are unflushed, the append that crossed the
 *     threshold returns `flushRequired: true` and an fdatasync covering it starts at once
 *     (group commit: concurrent callers share one fdatasync). The caller must not acknowledge
 *     it before `await log.flushUpTo(result.lastOffset + 1n)` resolves. With flush.messages=1
 *     every append is flushRequired. Appends that did not cross the threshold are acknowledged
 *     at once (exactly Kafka's promise).
 *   - flush.ms=T: data is fdatasynced at most T ms after it was appended (a timer).
 *   - Default (both Long.MAX): no fsync on the produce path; recovery on open truncates any torn
 *     tail, like Kafka. Rolled segments are fdatasynced in the background right after the roll.
 *   - `flushedOffset` (Kafka's recovery point) is the offset below which everything is on disk;
 *     it is checkpointed, and on open every segment that may hold data at or above it is
 *     verified batch by batch (length + CRC-32C) and its invalid tail truncated.
 *
 * Compaction (log-cleaner.ts): the cleaner reads non-active segments (holding references),
 * writes a replacement to `<base>.log.cleaned`, fsyncs it, then replaceSegments() swaps it in
 * synchronously: rename to `.log.swap` (the commit point), delete the old segments (readers that
 * hold them keep their fds), rename to `.log`, write its indexes, and splice the segment list. A
 * reader that finds a segment gone re-reads the segment list, so it continues in the cleaned one.
 * Appends and reads never wait for the cleaner. Compacted topics reject records without a key
 * (INVALID_RECORD), decompressing compressed batches to check, as Kafka does.
 *
 * Recovery on open: an interrupted swap is finished first (a `.log.swap` replaces the segments
 * whose base offsets lie in [its base, its end offset), then becomes a `.log`); leftover
 * .tmp/.deleted/.cleaned files are removed; segments are loaded; segments at
 * or after the recovery point (always the active one) are verified and their indexes rebuilt;
 * other segments' indexes are checked and rebuilt if missing or corrupt; producer state is
 * loaded from the newest valid snapshot <= log end and the log after it is replayed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { KafkaError } from '../errors.ts';
import type { LogConfig } from './log-config.ts';
import { LogSegment, scanBatchesSync } from './log-segment.ts';
import {
  validateClientBatches, validateReplicatedBatches, stampOffsetAndEpoch, stampLogAppendTime, firstRecordAtOrAfter, lastOffsetOf,
} from './record-batch.ts';
import { firstKeylessRecord } from './records.ts';
import { ProducerStateManager, ProducerAppendBatch } from './producer-state.ts';
import { LeaderEpochCache } from './leader-epoch-cache.ts';
import { readCheckpoint, writeCheckpoint, fsyncDir } from './checkpoint-file.ts';
import {
  parseOffsetFileName, parseSwapFileName, isTransientFile, producerSnapshotFile, logFile, offsetIndexFile, timeIndexFile,
  LOG_START_OFFSET_CHECKPOINT, RECOVERY_POINT_CHECKPOINT, CLEANER_OFFSET_CHECKPOINT, TMP_SUFFIX, SWAP_SUFFIX,
} from './log-files.ts';

export interface AppendOptions {
  /** The leader epoch stamped into every batch (partitionLeaderEpoch). */
  readonly leaderEpoch: number;
  /** Append time in ms (LogAppendTime, segment.ms); defaults to the log's clock. */
  readonly now?: number;
}

export interface AppendResult {
  readonly baseOffset: bigint;
  readonly lastOffset: bigint;
  /** The broker's append time under LogAppendTime, -1n under CreateTime. */
  readonly logAppendTime: bigint;
  /** True when the batch repeated one of its producer's last 5: nothing was written. */
  readonly duplicate: boolean;
  readonly recordCount: number;
  /**
   * True when flush.messages requires this append to be fsynced before it is acknowledged:
   * hold the response until `log.flushUpTo(lastOffset + 1n)` resolves.
   */
  readonly flushRequired: boolean;
}

export interface ReadOptions {
  /** Exclusive upper bound (the high watermark for consumers); defaults to the log end. */
  readonly maxOffset?: bigint;
  /** Return the first batch even if it is larger than maxBytes (KIP-74). Default true. */
  readonly minOneBatch?: boolean;
}

export interface ReadResult {
  /** Whole record batches, byte-identical to what was stored. */
  readonly records: Buffer;
  /** Offset after the last batch returned (the next fetch offset); == the requested offset if empty. */
  readonly nextOffset: bigint;
  readonly logStartOffset: bigint;
  readonly logEndOffset: bigint;
}

export interface RetentionResult {
  /** Base offsets of the segments deleted. */
  readonly deletedSegments: bigint[];
  readonly deletedBytes: number;
  readonly logStartOffset: bigint;
}

export interface PartitionLogOptions {
  readonly clock?: () => number;
  /** For messages, e.g. `orders-3`. */
  readonly name?: string;
}

/** What the log cleaner plans a clean from (see log-cleaner.ts); a snapshot, not live state. */
export interface CleanerView {
  /** Every segment but the active one, oldest first. */
  readonly segments: readonly LogSegment[];
  readonly activeBaseOffset: bigint;
  readonly logStartOffset: bigint;
  /** The log below this offset has been compacted (cleaner-offset-checkpoint). */
  readonly firstDirtyOffset: bigint;
  readonly config: LogConfig;
  /** Per producer id, the last offset of its last batch: such batches are kept, if only as an empty header. */
  readonly producerLastOffsets: ReadonlyMap<bigint, bigint>;
  /** Changes whenever the log is truncated: a clean planned before must not be committed. */
  readonly generation: number;
}

interface FlushWaiter {
  readonly offset: bigint;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

const SNAPSHOTS_KEPT = 2;

export class PartitionLog {
  readonly dir: string;
  readonly name: string;
  private config: LogConfig;
  private readonly clock: () => number;
  private segments: LogSegment[] = [];
  private startOffset = 0n;
  private recoveryPoint = 0n;
  private unflushedMessages = 0;
  private flushTimer: NodeJS.Timeout | null = null;
  private flushWaiters: FlushWaiter[] = [];
  private flushing = false;
  /** Offset (exclusive) below which flush.messages promised durability before acknowledgement. */
  private durableRequiredUpTo = 0n;
  private background: Promise<void> = Promise.resolve();
  private backgroundError: Error | null = null;
  private readonly producers: ProducerStateManager;
  private readonly epochs: LeaderEpochCache;
  private closed = false;
  /** close() or delete() has started: no more appends. */
  private closing = false;
  /** A segment file was created since the directory was last fsynced. */
  private dirDirty = false;
  /** First offset not yet compacted (cleaner-offset-checkpoint). */
  private firstDirty = 0n;
  /** Bumped by every truncation, so that a clean planned before it is not committed. */
  private generation = 0;
  /** Earliest delete horizon of the tombstones the last clean kept (ms), null if none. */
  private tombstoneHorizon: number | null = null;

  private constructor(dir: string, config: LogConfig, opts: PartitionLogOptions) {
    this.dir = dir;
    this.name = opts.name ?? path.basename(dir);
    this.config = config;
    this.clock = opts.clock ?? Date.now;
    this.producers = new ProducerStateManager(dir);
    this.epochs = new LeaderEpochCache(dir);
  }

  // ---------------------------------------------------------------- open / recovery

  /** Opens (creating or recovering) the log in `dir`. */
  static async open(dir: string, config: LogConfig, opts: PartitionLogOptions = {}): Promise<PartitionLog> {
    const log = new PartitionLog(dir, config, opts);
    try {
      await fs.promises.mkdir(dir, { recursive: true });
      log.load();
    } catch (err) {
      for (const s of log.segments) s.close();
      throw log.storageError('open', err);
    }
    return log;
  }

  private load(): void {
    this.finishInterruptedSwaps();
    const names = fs.readdirSync(this.dir);
    const logBases: bigint[] = [];
    const others: { name: string; offset: bigint; kind: string }[] = [];
    for (const name of names) {
      if (isTransientFile(name)) { fs.rmSync(path.join(this.dir, name), { force: true }); continue; }
      const parsed = parseOffsetFileName(name);
      if (!parsed) continue;
      if (parsed.kind === 'log') logBases.push(parsed.offset);
      else others.push({ name, ...parsed });
    }
    logBases.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const bases = new Set(logBases);
    for (const f of others) {
      if ((f.kind === 'index' || f.kind === 'timeindex') && !bases.has(f.offset)) fs.rmSync(path.join(this.dir, f.name), { force: true });
    }

    const startCp = this.readOffsetCheckpoint(LOG_START_OFFSET_CHECKPOINT);
    const recoveryCp = this.readOffsetCheckpoint(RECOVERY_POINT_CHECKPOINT) ?? 0n;
    const now = this.clock();
    for (let i = 0; i < logBases.length; i++) {
      const base = logBases[i]!;
      const last = i === logBases.length - 1;
      const prevEnd = this.segments.at(-1)?.nextOffset;
      const recover = last || logBases[i + 1]! > recoveryCp || (prevEnd !== undefined && base < prevEnd);
      const { segment, truncated } = LogSegment.load(this.dir, base, { indexIntervalBytes: this.config.indexIntervalBytes, recover, now });
      if (prevEnd !== undefined && base < prevEnd) {
        // Overlapping segments cannot be served consistently; keep the earlier data.
        segment.close();
        this.deleteSegmentFiles(base);
        this.deleteFrom(i + 1, logBases);
        break;
      }
      this.segments.push(segment);
      if (truncated > 0 && !last) {
        // A corrupt batch in the middle: everything after it is unreachable.
        this.deleteFrom(i + 1, logBases);
        break;
      }
    }
    if (this.segments.length === 0) this.segments.push(LogSegment.create(this.dir, startCp ?? 0n, now));
    this.startOffset = startCp ?? this.segments[0]!.baseOffset;
    if (this.startOffset < this.segments[0]!.baseOffset) this.startOffset = this.segments[0]!.baseOffset;
    if (this.startOffset > this.logEndOffset) {
      // The log lost its tail below a DeleteRecords point: start over at the log start offset.
      for (const s of this.segments) s.delete();
      this.segments = [LogSegment.create(this.dir, this.startOffset, now)];
    }
    this.epochs.load();
    this.epochs.truncateFromEnd(this.logEndOffset);
    this.epochs.truncateFromStart(this.startOffset);
    this.reloadProducerState();
    // Everything recovered is now made durable, so the next open only verifies new data.
    for (const s of this.segments) if (s.nextOffset > recoveryCp) s.flushSync();
    this.recoveryPoint = this.logEndOffset;
    this.writeOffsetCheckpoint(RECOVERY_POINT_CHECKPOINT, this.recoveryPoint);
    this.writeOffsetCheckpoint(LOG_START_OFFSET_CHECKPOINT, this.startOffset);
    const dirty = this.readOffsetCheckpoint(CLEANER_OFFSET_CHECKPOINT) ?? this.startOffset;
    this.firstDirty = dirty > this.logEndOffset ? this.logEndOffset : dirty;
  }

  /**
   * Finishes a swap the log cleaner committed but did not complete (Kafka's LogLoader rule): a
   * `<base>.log.swap` was fsynced before it got that name, so it is whole; it replaces every
   * segment whose base offset is in [base, its end offset). Segments of the cleaned group past
   * its end (their records were all removed) survive unchanged, which is consistent: they hold
   * only the original, uncompacted data after every offset the swap holds.
   */
  private finishInterruptedSwaps(): void {
    const swaps: bigint[] = [];
    for (const name of fs.readdirSync(this.dir)) {
      const base = parseSwapFileName(name);
      if (base !== null) swaps.push(base);
    }
    if (swaps.length === 0) return;
    swaps.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const base of swaps) {
      const swapFile = logFile(this.dir, base) + SWAP_SUFFIX;
      let end = base;
      const fd = fs.openSync(swapFile, 'r+');
      try {
        const size = fs.fstatSync(fd).size;
        const r = scanBatchesSync(fd, 0, size, true, base, (h) => { end = lastOffsetOf(h) + 1n; });
        if (r.validEnd < size) fs.ftruncateSync(fd, r.validEnd);
      } finally {
        fs.closeSync(fd);
      }
      for (const name of fs.readdirSync(this.dir)) {
        const p = parseOffsetFileName(name);
        if (!p || p.kind === 'snapshot') continue;
        if (p.offset === base || (p.offset > base && p.offset < end)) fs.rmSync(path.join(this.dir, name), { force: true });
      }
      fs.renameSync(swapFile, logFile(this.dir, base));
    }
    fsyncDir(this.dir);
  }

  private deleteFrom(index: number, logBases: bigint[]): void {
    for (const base of logBases.slice(index)) this.deleteSegmentFiles(base);
  }

  private deleteSegmentFiles(base: bigint): void {
    for (const file of [logFile(this.dir, base), offsetIndexFile(this.dir, base), timeIndexFile(this.dir, base)]) {
      fs.rmSync(file, { force: true });
    }
  }

  private readOffsetCheckpoint(file: string): bigint | null {
    try {
      const rows = readCheckpoint(path.join(this.dir, file));
      if (!rows || rows.length !== 1) return null;
      return BigInt(rows[0]![0]!);
    } catch {
      return null; // unreadable checkpoint: fall back to the safe default
    }
  }

  private writeOffsetCheckpoint(file: string, offset: bigint): void {
    writeCheckpoint(path.join(this.dir, file), [[offset]]);
  }

  private snapshotOffsets(): bigint[] {
    const out: bigint[] = [];
    for (const name of fs.readdirSync(this.dir)) {
      const p = parseOffsetFileName(name);
      if (p?.kind === 'snapshot') out.push(p.offset);
    }
    return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Producer state = newest valid snapshot <= log end + replay of the log after it. */
  private reloadProducerState(): void {
    const leo = this.logEndOffset;
    this.producers.clear();
    let from = this.startOffset;
    const snapshots = this.snapshotOffsets();
    for (const s of snapshots) if (s > leo) fs.rmSync(producerSnapshotFile(this.dir, s), { force: true });
    for (const s of snapshots.filter((o) => o <= leo).reverse()) {
      try {
        this.producers.loadSnapshot(fs.readFileSync(producerSnapshotFile(this.dir, s)));
        from = s;
        break;
      } catch {
        fs.rmSync(producerSnapshotFile(this.dir, s), { force: true });
      }
    }
    for (const seg of this.segments) {
      if (seg.nextOffset <= from) continue;
      seg.forEachBatchFrom(from, (h) => this.producers.replay(h));
    }
    this.producers.truncateHead(this.startOffset);
  }

  // ---------------------------------------------------------------- getters

  get logStartOffset(): bigint { return this.startOffset; }
  get logEndOffset(): bigint { return this.active.nextOffset; }
  /** Offset below which every batch is known to be fsynced (Kafka's recovery point). */
  get flushedOffset(): bigint { return this.recoveryPoint; }
  get sizeInBytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.size;
    return n;
  }
  get segmentCount(): number { return this.segments.length; }
  get currentConfig(): LogConfig { return this.config; }
  /** Base offsets of the segments, oldest first. */
  get segmentBaseOffsets(): bigint[] { return this.segments.map((s) => s.baseOffset); }
  get producerState(): ProducerStateManager { return this.producers; }
  get leaderEpochs(): LeaderEpochCache { return this.epochs; }
  private get active(): LogSegment { return this.segments[this.segments.length - 1]!; }

  updateConfig(config: LogConfig): void {
    this.config = config;
    if (this.unflushedMessages >= config.flushMessages) this.startFlush(this.logEndOffset);
  }

  // ---------------------------------------------------------------- append

  /**
   * Validates, de-duplicates, assigns offsets, stamps and writes a produce request's record
   * batches for this partition, all or nothing. Stamps `records` in place. See the contracts
   * at the top of this file.
   */
  append(records: Buffer, opts: AppendOptions): AppendResult {
    this.ensureWritable();
    const now = opts.now ?? this.clock();
    const headers = validateClientBatches(records, { maxBatchBytes: this.config.maxMessageBytes });
    if (records.length > this.config.segmentBytes) {
      throw new KafkaError('RECORD_LIST_TOO_LARGE', `${this.name}: ${records.length} bytes exceed segment.bytes ${this.config.segmentBytes}`);
    }
    if (this.config.cleanupPolicy !== 'delete') {
      headers.forEach((h, batchIndex) => {
        const record = firstKeylessRecord(records, h.position, h);
        if (record >= 0) {
          throw new KafkaError('INVALID_RECORD',
            `Compacted topic cannot accept message without key in topic partition ${this.name} (batch ${batchIndex}, record ${record}).`);
        }
      });
    }
    const logAppendTime = this.config.messageTimestampType === 'LogAppendTime' ? BigInt(now) : -1n;
    const pending = new ProducerAppendBatch();
    const planned: { baseOffset: bigint; lastOffsetDelta: number; maxTimestamp: bigint; size: number; position: number }[] = [];
    let next = this.logEndOffset;
    let maxTimestamp = -1n;
    for (const h of headers) {
      if (h.producerId >= 0n) {
        const dup = this.producers.findDuplicate(pending, h);
        if (dup) {
          return {
            baseOffset: dup.baseOffset, lastOffset: dup.lastOffset, logAppendTime: logAppendTime >= 0n ? dup.timestamp : -1n,
            duplicate: true, recordCount: Number(dup.lastOffset - dup.baseOffset) + 1,
            flushRequired: this.config.flushMessages !== Infinity && dup.lastOffset >= this.recoveryPoint,
          };
        }
        this.producers.check(pending, h);
      }
      const ts = logAppendTime >= 0n ? logAppendTime : h.maxTimestamp;
      this.producers.stage(pending, h, next, ts);
      planned.push({ baseOffset: next, lastOffsetDelta: h.lastOffsetDelta, maxTimestamp: ts, size: h.size, position: h.position });
      if (ts > maxTimestamp) maxTimestamp = ts;
      next += BigInt(h.recordsCount);
    }
    const first = planned[0]!.baseOffset;
    const lastOffset = next - 1n;

    this.maybeRoll(records.length, maxTimestamp, lastOffset, now);
    for (const p of planned) {
      stampOffsetAndEpoch(records, p.position, p.baseOffset, opts.leaderEpoch);
      if (logAppendTime >= 0n) stampLogAppendTime(records, p.position, p.size, logAppendTime);
    }
    this.write(records, planned);
    this.producers.commit(pending);
    if (opts.leaderEpoch >= 0 && opts.leaderEpoch !== this.epochs.latestEpoch) this.epochs.assign(opts.leaderEpoch, first);
    const recordCount = Number(next - first);
    const flushRequired = this.applyFlushPolicy(recordCount, next);
    return { baseOffset: first, lastOffset, logAppendTime, duplicate: false, recordCount, flushRequired };
  }

  /**
   * Appends batches replicated from the leader, as they are: offsets, leader epochs and
   * timestamps are the leader's. Checks each batch's length, magic and CRC (CORRUPT_MESSAGE) and
   * that base offsets increase from the log end (gaps are allowed: compacted leaders have them).
   * Producer state and the leader epoch cache follow the batches; no idempotence checks.
   */
  appendAsFollower(records: Buffer, opts: { now?: number } = {}): { firstOffset: bigint; lastOffset: bigint; recordCount: number; flushRequired: boolean } {
    this.ensureWritable();
    const now = opts.now ?? this.clock();
    const headers = validateReplicatedBatches(records, this.logEndOffset, this.name);
    if (records.length > this.config.segmentBytes) {
      throw new KafkaError('RECORD_LIST_TOO_LARGE', `${this.name}: ${records.length} bytes exceed segment.bytes ${this.config.segmentBytes}`);
    }
    let maxTimestamp = -1n;
    let recordCount = 0;
    for (const h of headers) {
      if (h.maxTimestamp > maxTimestamp) maxTimestamp = h.maxTimestamp;
      recordCount += h.lastOffsetDelta + 1;
    }
    const first = headers[0]!.baseOffset;
    const lastOffset = lastOffsetOf(headers.at(-1)!);
    this.maybeRoll(records.length, maxTimestamp, lastOffset, now);
    this.write(records, headers);
    for (const h of headers) {
      this.producers.replay(h);
      if (h.partitionLeaderEpoch >= 0 && h.partitionLeaderEpoch !== this.epochs.latestEpoch) this.epochs.assign(h.partitionLeaderEpoch, h.baseOffset);
    }
    const flushRequired = this.applyFlushPolicy(recordCount, lastOffset + 1n);
    return { firstOffset: first, lastOffset, recordCount, flushRequired };
  }

  private write(records: Buffer, batches: readonly { baseOffset: bigint; lastOffsetDelta: number; maxTimestamp: bigint; size: number }[]): void {
    try {
      this.active.append(records, batches, this.config.indexIntervalBytes);
    } catch (err) {
      throw this.storageError('append', err);
    }
  }

  /** Counts unflushed messages; starts the flush flush.messages asks for, or arms flush.ms. */
  private applyFlushPolicy(recordCount: number, end: bigint): boolean {
    this.unflushedMessages += recordCount;
    if (this.unflushedMessages >= this.config.flushMessages) {
      this.durableRequiredUpTo = end;
      this.startFlush(end);
      return true;
    }
    if (this.config.flushMs !== Infinity && this.flushTimer === null) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = null;
        this.flushUpTo(this.logEndOffset).catch(() => { /* surfaced to the next flush caller */ });
      }, this.config.flushMs);
      this.flushTimer.unref();
    }
    return false;
  }

  /** Kafka's LogSegment.shouldRoll, then roll. */
  private maybeRoll(messagesSize: number, maxTimestampInMessages: bigint, maxOffsetInMessages: bigint, now: number): void {
    const seg = this.active;
    if (seg.isEmpty) return;
    const rollBase = seg.rollingBaseTimestamp;
    const waited = rollBase !== null && rollBase >= 0n ? Number(maxTimestampInMessages - rollBase) : now - seg.created;
    // Compacted logs also roll by max.compaction.lag.ms, so the cleaner can reach every record in time.
    const rollMs = this.config.cleanupPolicy === 'delete' ? this.config.segmentMs : Math.min(this.config.segmentMs, this.config.maxCompactionLagMs);
    const shouldRoll = seg.size > this.config.segmentBytes - messagesSize
      || waited > rollMs
      || seg.isIndexFull(this.config.segmentIndexBytes)
      || maxOffsetInMessages - seg.baseOffset > 0x7fffffffn;
    if (shouldRoll) this.roll(now);
  }

  /** Starts a new active segment at the log end; the old one is sealed and flushed in the background. */
  private roll(now: number): void {
    const old = this.active;
    const base = this.logEndOffset;
    old.seal();
    const snapshot = this.producers.encodeSnapshot();
    this.segments.push(LogSegment.create(this.dir, base, now));
    this.dirDirty = true;
    old.retain();
    this.runInBackground(async () => {
      try {
        old.writeIndexes();
        await old.flush();
        await writeFileAtomicallyAsync(producerSnapshotFile(this.dir, base), snapshot);
        // Background tasks run in roll order, so every earlier segment is flushed already.
        if (this.recoveryPoint < old.nextOffset && this.recoveryPoint >= old.baseOffset) {
          this.recoveryPoint = old.nextOffset;
          this.writeOffsetCheckpoint(RECOVERY_POINT_CHECKPOINT, this.recoveryPoint);
        }
        this.deleteOldSnapshots();
      } finally {
        old.release();
      }
    });
  }

  private runInBackground(task: () => Promise<void>): void {
    this.background = this.background.then(task).catch((err: unknown) => {
      this.backgroundError = this.storageError('background flush', err);
    });
  }

  private deleteOldSnapshots(): void {
    const offsets = this.snapshotOffsets();
    for (const o of offsets.slice(0, Math.max(0, offsets.length - SNAPSHOTS_KEPT))) {
      fs.rmSync(producerSnapshotFile(this.dir, o), { force: true });
    }
  }

  // ---------------------------------------------------------------- flush

  /**
   * Resolves once every batch below `offset` is fsynced (starting a flush if none covers it).
   * Concurrent callers share fdatasync calls (group commit).
   */
  flushUpTo(offset: bigint): Promise<void> {
    if (offset <= this.recoveryPoint) return Promise.resolve();
    if (this.closed) return Promise.reject(new KafkaError('KAFKA_STORAGE_ERROR', `${this.name}: log is closed`));
    return new Promise<void>((resolve, reject) => {
      this.flushWaiters.push({ offset, resolve, reject });
      this.startFlush(offset);
    });
  }

  /**
   * For the produce path: a promise to await before acknowledging the append that ended at
   * `lastOffset` when the flush policy requires it to be durable first (it crossed
   * flush.messages, or is a duplicate of such an append still being flushed); null when it may
   * be acknowledged at once.
   */
  flushed(lastOffset: bigint): Promise<void> | null {
    const end = lastOffset + 1n;
    if (end <= this.recoveryPoint || end > this.durableRequiredUpTo) return null;
    return this.flushUpTo(end);
  }

  private startFlush(_upTo: bigint): void {
    this.unflushedMessages = 0;
    if (this.flushTimer) { clearTimeout(this.flushTimer); this.flushTimer = null; }
    if (this.flushing) return;
    this.flushing = true;
    void this.flushLoop();
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
      const e = this.storageError('flush', err);
      for (const w of this.flushWaiters.splice(0)) w.reject(e);
    } finally {
      this.flushing = false;
    }
  }

  /** Flushes everything appended so far, and the checkpoints. */
  async flush(): Promise<void> {
    await this.flushUpTo(this.logEndOffset);
    await this.background;
    if (!this.closed) this.writeOffsetCheckpoint(RECOVERY_POINT_CHECKPOINT, this.recoveryPoint);
  }

  // ---------------------------------------------------------------- read

  /**
   * Whole batches from the batch containing `offset`, at most `maxBytes` (but at least one batch
   * with minOneBatch), none reaching `maxOffset`. Throws OFFSET_OUT_OF_RANGE outside
   * [logStartOffset, logEndOffset]; empty at logEndOffset.
   */
  async read(offset: bigint, maxBytes: number, opts: ReadOptions = {}): Promise<ReadResult> {
    this.ensureOpen();
    const leo = this.logEndOffset;
    if (offset < this.startOffset || offset > leo) {
      throw new KafkaError('OFFSET_OUT_OF_RANGE', `${this.name}: offset ${offset} not in [${this.startOffset}, ${leo}]`);
    }
    const maxOffset = opts.maxOffset !== undefined && opts.maxOffset < leo ? opts.maxOffset : leo;
    const minOneBatch = opts.minOneBatch ?? true;
    let segments = this.segments.slice();
    let i = this.segmentIndexFor(segments, offset);
    const chunks: Buffer[] = [];
    let remaining = maxBytes;
    let cur = offset;
    while (i < segments.length && cur < maxOffset) {
      const seg = segments[i]!;
      if (!seg.retain()) {
        if (cur < this.startOffset) throw new KafkaError('OFFSET_OUT_OF_RANGE', `${this.name}: offset ${cur} was deleted`);
        // Replaced by the cleaner: continue from the current segment list (its segments are live now).
        segments = this.segments.slice();
        i = this.segmentIndexFor(segments, cur);
        continue;
      }
      let slice;
      try {
        slice = await seg.read(cur, remaining, maxOffset, minOneBatch && chunks.length === 0);
      } catch (err) {
        throw this.storageError('read', err);
      } finally {
        seg.release();
      }
      if (slice === null) { i++; continue; } // nothing at or after `cur` in this segment
      if (slice.records.length === 0) break;
      chunks.push(slice.records);
      remaining -= slice.records.length;
      cur = slice.nextOffset;
      if (cur < seg.nextOffset || remaining <= 0) break;
      i++;
    }
    const records = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    return { records, nextOffset: cur, logStartOffset: this.startOffset, logEndOffset: this.logEndOffset };
  }

  private segmentIndexFor(segments: readonly LogSegment[], offset: bigint): number {
    let lo = 0;
    let hi = segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (segments[mid]!.baseOffset <= offset) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  /**
   * ListOffsets by timestamp: the first record with timestamp >= `timestamp` (record-exact for
   * uncompressed CreateTime batches; otherwise the first batch whose maxTimestamp >= timestamp,
   * reported with its base offset and maxTimestamp). null if there is none.
   */
  async offsetForTimestamp(timestamp: bigint): Promise<{ offset: bigint; timestamp: bigint } | null> {
    this.ensureOpen();
    let segments = this.segments.slice();
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i]!;
      if (seg.maxTimestamp < timestamp) continue;
      if (!seg.retain()) {
        // Deleted or replaced by the cleaner: look again from the same offset in the current list.
        segments = this.segments.slice();
        i = Math.max(-1, this.segmentIndexFor(segments, seg.baseOffset) - 1);
        continue;
      }
      try {
        const found = await seg.findByTimestamp(timestamp);
        if (!found) continue;
        const exact = firstRecordAtOrAfter(found.bytes, 0, timestamp);
        const hit = exact ?? { offset: found.header.baseOffset, timestamp: found.header.maxTimestamp };
        if (lastOffsetOf(found.header) < this.startOffset) continue;
        return { offset: hit.offset < this.startOffset ? this.startOffset : hit.offset, timestamp: hit.timestamp };
      } finally {
        seg.release();
      }
    }
    return null;
  }

  // ---------------------------------------------------------------- retention, DeleteRecords, truncation

  /**
   * DeleteRecords: moves the log start offset to `offset` (checkpointed) and deletes the
   * segments wholly below it (never the active one). OFFSET_OUT_OF_RANGE past the log end.
   */
  deleteRecordsBefore(offset: bigint): RetentionResult {
    this.ensureWritable();
    if (offset > this.logEndOffset || offset < 0n) {
      throw new KafkaError('OFFSET_OUT_OF_RANGE', `${this.name}: cannot delete records before ${offset}; log ends at ${this.logEndOffset}`);
    }
    if (offset > this.startOffset) this.advanceLogStart(offset);
    return this.deleteSegmentsWhile(() => false);
  }

  /** Applies retention.ms / retention.bytes and the log start offset. Never deletes the active segment. */
  enforceRetention(now: number): RetentionResult {
    if (this.closing) return { deletedSegments: [], deletedBytes: 0, logStartOffset: this.startOffset };
    this.ensureOpen();
    const deleteAllowed = this.config.cleanupPolicy.includes('delete');
    const retentionMs = this.config.retentionMs;
    const retentionBytes = this.config.retentionBytes;
    let excess = this.sizeInBytes - retentionBytes;
    return this.deleteSegmentsWhile((seg) => {
      if (!deleteAllowed) return false;
      if (retentionMs >= 0 && retentionMs !== Infinity && now - this.largestTimestampOf(seg) > retentionMs) {
        excess -= seg.size;
        return true;
      }
      if (retentionBytes >= 0 && excess - seg.size >= 0) {
        excess -= seg.size;
        return true;
      }
      return false;
    });
  }

  /** Kafka's segment.largestTimestamp: the max batch timestamp, or the file's mtime without one. */
  private largestTimestampOf(seg: LogSegment): number {
    if (seg.maxTimestamp >= 0n) return Number(seg.maxTimestamp);
    return fs.statSync(seg.logPath).mtimeMs;
  }

  /** Deletes oldest segments while `predicate` holds or they lie below the log start offset. */
  private deleteSegmentsWhile(predicate: (seg: LogSegment) => boolean): RetentionResult {
    const deleted: bigint[] = [];
    let bytes = 0;
    while (this.segments.length > 1) {
      const seg = this.segments[0]!;
      const nextBase = this.segments[1]!.baseOffset;
      if (!(nextBase <= this.startOffset || predicate(seg))) break;
      this.segments.shift();
      deleted.push(seg.baseOffset);
      bytes += seg.size;
      try {
        seg.delete();
      } catch (err) {
        throw this.storageError('delete segment', err);
      }
    }
    if (this.segments[0]!.baseOffset > this.startOffset) this.advanceLogStart(this.segments[0]!.baseOffset);
    if (deleted.length > 0) this.deleteOldSnapshots();
    return { deletedSegments: deleted, deletedBytes: bytes, logStartOffset: this.startOffset };
  }

  private advanceLogStart(offset: bigint): void {
    this.startOffset = offset;
    this.writeOffsetCheckpoint(LOG_START_OFFSET_CHECKPOINT, offset);
    this.producers.truncateHead(offset);
    this.epochs.truncateFromStart(offset);
  }

  /**
   * Removes every batch at or after `offset` (the batch containing it goes too); used by
   * followers on leader change. A no-op at or past the log end.
   */
  truncateTo(offset: bigint): void {
    this.ensureWritable();
    if (offset < 0n) throw new KafkaError('OFFSET_OUT_OF_RANGE', `${this.name}: cannot truncate to ${offset}`);
    if (offset >= this.logEndOffset) {
      // Nothing to cut, but an epoch this replica started as leader without writing anything
      // (an entry at the log end) must go, or the follower keeps naming it and diverging (Kafka
      // does the same in UnifiedLog.truncateTo).
      this.epochs.truncateFromEnd(this.logEndOffset);
      return;
    }
    try {
      if (offset < this.segments[0]!.baseOffset) {
        this.replaceAllSegmentsAt(offset);
      } else {
        while (this.segments.length > 1 && this.active.baseOffset > offset) this.segments.pop()!.delete();
        this.active.truncateTo(offset, this.config.indexIntervalBytes);
        if (this.startOffset > this.logEndOffset) {
          this.startOffset = this.logEndOffset;
          this.writeOffsetCheckpoint(LOG_START_OFFSET_CHECKPOINT, this.startOffset);
        }
      }
      if (this.recoveryPoint > this.logEndOffset) {
        this.recoveryPoint = this.logEndOffset;
        this.writeOffsetCheckpoint(RECOVERY_POINT_CHECKPOINT, this.recoveryPoint);
      }
      this.epochs.truncateFromEnd(this.logEndOffset);
      this.reloadProducerState();
      this.generation++;
      if (this.firstDirty > this.logEndOffset) this.setFirstDirty(this.logEndOffset);
    } catch (err) {
      throw this.storageError('truncate', err);
    }
  }

  /**
   * Deletes everything and restarts the log empty at `offset` (log start = log end = offset);
   * for a follower whose fetch offset fell outside the leader's log (Kafka's
   * truncateFullyAndStartAt).
   */
  truncateFullyAndStartAt(offset: bigint): void {
    this.ensureWritable();
    if (offset < 0n) throw new KafkaError('OFFSET_OUT_OF_RANGE', `${this.name}: cannot start at ${offset}`);
    try {
      this.replaceAllSegmentsAt(offset);
      this.recoveryPoint = offset;
      this.writeOffsetCheckpoint(RECOVERY_POINT_CHECKPOINT, offset);
      this.epochs.truncateFromEnd(offset);
      this.epochs.truncateFromStart(offset);
      for (const s of this.snapshotOffsets()) fs.rmSync(producerSnapshotFile(this.dir, s), { force: true });
      this.producers.clear();
      this.generation++;
      this.setFirstDirty(offset);
    } catch (err) {
      throw this.storageError('truncate fully', err);
    }
  }

  private replaceAllSegmentsAt(offset: bigint): void {
    for (const s of this.segments) s.delete();
    this.segments = [LogSegment.create(this.dir, offset, this.clock())];
    this.dirDirty = true;
    this.startOffset = offset;
    this.writeOffsetCheckpoint(LOG_START_OFFSET_CHECKPOINT, offset);
  }

  // ---------------------------------------------------------------- compaction (for LogCleaner)

  /** The state a clean is planned from; see CleanerView. */
  cleanerView(): CleanerView {
    this.ensureOpen();
    let firstDirty = this.firstDirty < this.startOffset ? this.startOffset : this.firstDirty;
    if (firstDirty > this.logEndOffset) firstDirty = this.logEndOffset;
    return {
      segments: this.segments.slice(0, -1), activeBaseOffset: this.active.baseOffset, logStartOffset: this.startOffset,
      firstDirtyOffset: firstDirty, config: this.config, producerLastOffsets: this.producers.lastBatchOffsets(),
      generation: this.generation,
    };
  }

  /** True while the log accepts a clean (open, not closing). */
  get cleanable(): boolean { return !this.closing && !this.closed && this.backgroundError === null; }

  /** Earliest delete horizon (ms) among the tombstones the last clean kept; null if none. */
  get earliestTombstoneHorizon(): number | null { return this.tombstoneHorizon; }

  /**
   * Records the outcome of a clean planned at `generation`: the log below `firstDirty` is now
   * compacted (checkpointed), and the earliest tombstone horizon it kept. Ignored if the log was
   * truncated since.
   */
  markCleaned(firstDirty: bigint, generation: number, tombstoneHorizon: number | null): void {
    if (generation !== this.generation || !this.cleanable) return;
    this.tombstoneHorizon = tombstoneHorizon;
    this.setFirstDirty(firstDirty > this.logEndOffset ? this.logEndOffset : firstDirty);
  }

  private setFirstDirty(offset: bigint): void {
    this.firstDirty = offset;
    this.writeOffsetCheckpoint(CLEANER_OFFSET_CHECKPOINT, offset);
  }

  /**
   * Swaps `cleaned` (written and fsynced as `<base>.log.cleaned` by the cleaner, base = the
   * first old segment's) in for `old`, which must still be consecutive, non-active segments of
   * this log and the log untruncated since `generation`; otherwise the cleaned file is discarded
   * and false returned. The swap itself is synchronous (see the top of this file); a failure in
   * it takes the log offline (KAFKA_STORAGE_ERROR) and is repaired by recovery on open.
   */
  async replaceSegments(old: readonly LogSegment[], cleaned: LogSegment, generation: number): Promise<boolean> {
    // Roll tasks of these segments (index writes, flush) must not run after the swap.
    await this.background;
    const i = old.length > 0 ? this.segments.indexOf(old[0]!) : -1;
    const intact = this.cleanable && generation === this.generation && i >= 0 && i + old.length < this.segments.length
      && old.every((s, k) => this.segments[i + k] === s);
    if (!intact) {
      cleaned.discard();
      return false;
    }
    try {
      cleaned.renameFile(SWAP_SUFFIX);
      fsyncDir(this.dir);
      for (const s of old) s.delete();
      cleaned.renameFile('');
      cleaned.writeIndexes();
      fsyncDir(this.dir);
    } catch (err) {
      this.backgroundError = this.storageError('replace segments', err);
      throw this.backgroundError;
    } finally {
      this.segments.splice(i, old.length, cleaned);
    }
    return true;
  }

  // ---------------------------------------------------------------- leader epochs

  /** Records that `epoch` starts at `offset` (new leader: offset = log end). */
  assignEpochStartOffset(epoch: number, offset: bigint): void {
    this.ensureWritable();
    this.epochs.assign(epoch, offset);
  }

  /** OffsetForLeaderEpoch semantics; see LeaderEpochCache.endOffsetFor. */
  endOffsetForEpoch(epoch: number): { leaderEpoch: number; endOffset: bigint } {
    return this.epochs.endOffsetFor(epoch, this.logEndOffset);
  }

  get latestEpoch(): number { return this.epochs.latestEpoch; }

  // ---------------------------------------------------------------- lifecycle

  /** Flushes, writes indexes, a producer snapshot and the checkpoints, and closes the files. */
  async close(): Promise<void> {
    if (this.closed || this.closing) return;
    this.closing = true;
    await this.flush();
    await this.background;
    this.closed = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    try {
      const active = this.active;
      active.writeIndexes();
      this.producers.writeSnapshot(this.logEndOffset);
      this.deleteOldSnapshots();
      this.writeOffsetCheckpoint(RECOVERY_POINT_CHECKPOINT, this.recoveryPoint);
      fsyncDir(this.dir);
    } finally {
      for (const s of this.segments) s.close();
    }
    if (this.backgroundError) throw this.backgroundError;
  }

  /**
   * Lets go of the files the way a crash leaves them: no flush, no index, producer snapshot or
   * checkpoint written; the next open runs recovery. Background work already started (a rolled
   * segment's flush) is awaited so that nothing writes to the files afterwards.
   */
  async abandon(): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    this.closed = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    await this.background.catch(() => undefined);
    for (const s of this.segments) s.close();
    for (const w of this.flushWaiters.splice(0)) w.reject(new KafkaError('KAFKA_STORAGE_ERROR', `${this.name}: log abandoned`));
  }

  /** Closes the files without flushing and removes the directory. */
  async delete(): Promise<void> {
    this.closing = true;
    if (!this.closed) {
      this.closed = true;
      if (this.flushTimer) clearTimeout(this.flushTimer);
      await this.background.catch(() => undefined);
      for (const s of this.segments) s.close();
      for (const w of this.flushWaiters.splice(0)) w.reject(new KafkaError('KAFKA_STORAGE_ERROR', `${this.name}: log deleted`));
    }
    await fs.promises.rm(this.dir, { recursive: true, force: true });
  }

  private ensureWritable(): void {
    if (this.closing) throw new KafkaError('KAFKA_STORAGE_ERROR', `${this.name}: log ${this.dir} is closing`);
    this.ensureOpen();
  }

  private ensureOpen(): void {
    if (this.closed) throw new KafkaError('KAFKA_STORAGE_ERROR', `${this.name}: log ${this.dir} is closed`);
    if (this.backgroundError) throw this.backgroundError;
  }

  /** Wraps an I/O failure with the partition and directory; KafkaErrors pass through. */
  private storageError(what: string, err: unknown): Error {
    if (err instanceof KafkaError) return err;
    const e = new KafkaError('KAFKA_STORAGE_ERROR', `${this.name} (${this.dir}): ${what} failed: ${(err as Error).message}`);
    (e as Error & { cause?: unknown }).cause = err;
    return e;
  }
}

async function fsyncDirAsync(dir: string): Promise<void> {
  let fh: fs.promises.FileHandle | null = null;
  try {
    fh = await fs.promises.open(dir, 'r');
    await fh.sync();
  } catch {
    // Some file systems cannot fsync a directory; the data files are still synced.
  } finally {
    await fh?.close();
  }
}

async function writeFileAtomicallyAsync(file: string, bytes: Buffer): Promise<void> {
  const tmp = file + TMP_SUFFIX;
  const fh = await fs.promises.open(tmp, 'w');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.promises.rename(tmp, file);
}
