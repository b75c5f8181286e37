/**
 * PartitionLog: one partition replica's log (Kafka's UnifiedLog) — the log start offset, the
 * producer state and leader epoch cache, and the policies over the segment list: appends, when
 * to roll, flush and delete, truncation, and the cleaner's swap. Three layers: LogLoader
 * (log-loader.ts: recovery on open), LocalLog (local-log.ts: the segment list, reads, the
 * recovery point, group-commit flush, delayed file deletes) and this class. What an append may
 * write and what retention lets go: log-validator.ts; an append's producer-state analysis and the
 * snapshot files: producer-state.ts. Files and their byte formats: log-files.ts and the modules it names.
 *
 * Concurrency contract
 *   - Everything runs on one event loop. append(), truncateTo(), deleteRecordsBefore(),
 *     enforceRetention() and assignEpochStartOffset() are synchronous, so mutations are
 *     serialized by construction and offsets are assigned in call order. append() writes with
 *     fs.writeSync into the page cache, so any read started after it returns sees the data.
 *   - read() and offsetForTimestamp() are async and safe against concurrent retention and
 *     compaction (see LocalLog).
 *
 * Durability: an append is in the page cache when append() returns (it survives kill -9, not a
 * power loss, unless fsynced); flush.messages / flush.ms decide what is fsynced before it is
 * acknowledged — see flush-policy.ts. `flushedOffset` (Kafka's recovery point) is the offset
 * below which everything is on disk; it is checkpointed, and recovery verifies what lies above.
 *
 * Compaction (log-cleaner.ts): the cleaner reads non-active segments (holding references),
 * writes a replacement to `<base>.log.cleaned`, fsyncs it, then replaceSegments() swaps it in
 * synchronously (LocalLog.swapIn). Appends and reads never wait for the cleaner.
 */
import fs from 'node:fs';
import path from 'node:path';
import { KafkaError } from '../errors.ts';
import type { LogConfig } from './log-config.ts';
import type { LogSegment } from './log-segment.ts';
import { stampOffsetAndEpoch, stampLogAppendTime, validateReplicatedBatches } from './record-batch.ts';
import { controlTypeOf, encodeMarkerBatch } from './records.ts';
import type { AbortedTxn } from './txn-index.ts';
import { checkReplicatedAppend, prepareClientAppend, retentionVerdict } from './log-validator.ts';
import { ProducerStateManager, ProducerAppendBatch } from './producer-state.ts';
import { LeaderEpochCache } from './leader-epoch-cache.ts';
import { fsyncDir, OffsetCheckpoints } from './checkpoint-file.ts';
import { LOG_START_OFFSET_CHECKPOINT, RECOVERY_POINT_CHECKPOINT } from './log-files.ts';
import { loadLog, newLog, rebuildProducerState, type LoadedLog } from './log-loader.ts';
import { LocalLog, unrefTimeout } from './local-log.ts';
import { FlushPolicy, RollFlusher, SNAPSHOTS_KEPT } from './flush-policy.ts';
import { CleanerCheckpoint } from './cleaner-checkpoint.ts';
import { storageFailure } from './errors.ts';
import type { ReadOptions, ReadPartsResult, ReadResult } from './local-log.ts';

export type { ReadOptions, ReadPartsResult, ReadResult } from './local-log.ts';
export type { AppendOptions, AppendResult, CleanerView, PartitionLogOptions, RetentionResult } from './partition-log-types.ts';
import type { AppendOptions, AppendResult, CleanerView, PartitionLogOptions, RetentionResult } from './partition-log-types.ts';

export class PartitionLog {
  readonly dir: string;
  readonly name: string;
  private config: LogConfig;
  private readonly clock: () => number;
  private local!: LocalLog;
  private startOffset = 0n;
  private flushPolicy!: FlushPolicy;
  private rollFlusher!: RollFlusher;
  private readonly producers: ProducerStateManager;
  private readonly epochs: LeaderEpochCache;
  private closed = false;
  /** close() or delete() has started: no more appends. */
  private closing = false;
  private cleanerState!: CleanerCheckpoint;
  private checkpoints!: OffsetCheckpoints;

  private constructor(dir: string, config: LogConfig, opts: Pick<PartitionLogOptions, 'name' | 'clock'>) {
    this.dir = dir;
    this.name = opts.name ?? path.basename(dir);
    this.config = config;
    this.clock = opts.clock ?? Date.now;
    this.producers = new ProducerStateManager(dir);
    this.epochs = new LeaderEpochCache(dir);
  }

  // ---------------------------------------------------------------- open / recovery

  /** Opens (creating or recovering, see LogLoader) the log in `dir`. */
  static async open(dir: string, config: LogConfig, opts: PartitionLogOptions = {}): Promise<PartitionLog> {
    const log = new PartitionLog(dir, config, opts);
    try {
      let loaded: LoadedLog;
      if (opts.fresh) {
        loaded = await newLog(dir, log.clock());
      } else {
        await fs.promises.mkdir(dir, { recursive: true });
        loaded = loadLog(dir, config, log.clock(), log.producers, log.epochs);
      }
      log.local = new LocalLog(dir, log.name, loaded.segments, loaded.recoveryPoint, opts.schedule ?? unrefTimeout);
      log.flushPolicy = new FlushPolicy(log.local, () => log.closed);
      log.rollFlusher = new RollFlusher(log.local, log.producers, (offset) => log.checkpoints.write(RECOVERY_POINT_CHECKPOINT, offset), (what, err) => log.storageError(what, err));
      log.startOffset = loaded.startOffset;
      // The leader epochs go to disk before a recovery point: recovery derives only the epochs at or
      // above the checkpointed recovery point from the batches (leader-epoch-recovery.ts).
      log.checkpoints = new OffsetCheckpoints(dir, [[RECOVERY_POINT_CHECKPOINT, loaded.recoveryPoint], [LOG_START_OFFSET_CHECKPOINT, loaded.startOffset]],
        (file) => { if (file === RECOVERY_POINT_CHECKPOINT) log.epochs.flush(); });
      log.cleanerState = new CleanerCheckpoint(dir, loaded.firstDirty);
    } catch (err) {
      throw log.storageError('open', err);
    }
    return log;
  }

  // ---------------------------------------------------------------- getters

  get logStartOffset(): bigint { return this.startOffset; }
  get logEndOffset(): bigint { return this.local.logEndOffset; }
  /** Offset below which every batch is known to be fsynced (Kafka's recovery point). */
  get flushedOffset(): bigint { return this.local.recoveryPoint; }
  get sizeInBytes(): number { return this.local.sizeInBytes; }
  get segmentCount(): number { return this.local.segmentCount; }
  get currentConfig(): LogConfig { return this.config; }
  /** Base offsets of the segments, oldest first. */
  get segmentBaseOffsets(): bigint[] { return this.local.list().map((s) => s.baseOffset); }
  get producerState(): ProducerStateManager { return this.producers; }
  get leaderEpochs(): LeaderEpochCache { return this.epochs; }

  updateConfig(config: LogConfig): void {
    this.config = config;
    this.flushPolicy.configChanged(config);
  }

  // ---------------------------------------------------------------- append

  /**
   * Validates, de-duplicates, assigns offsets, stamps and writes a produce request's record
   * batches for this partition, all or nothing. Stamps the batches in place (or a re-compressed
   * copy when compression.type asks for another codec). See the contracts at the top of this file.
   */
  append(received: Buffer, opts: AppendOptions): AppendResult {
    this.ensureWritable();
    const now = opts.now ?? this.clock();
    const { records, headers } = prepareClientAppend(received, this.config, this.name, opts.coordinator ?? false, now);
    const logAppendTime = this.config.messageTimestampType === 'LogAppendTime' ? BigInt(now) : -1n;
    const plan = this.producers.analyzeAppend(headers, this.logEndOffset, logAppendTime);
    if (plan.duplicate) {
      const dup = plan.duplicate;
      return {
        baseOffset: dup.baseOffset, lastOffset: dup.lastOffset, logAppendTime: logAppendTime >= 0n ? dup.timestamp : -1n,
        duplicate: true, recordCount: Number(dup.lastOffset - dup.baseOffset) + 1,
        flushRequired: this.flushPolicy.requiresFlush(dup.lastOffset, this.config),
      };
    }
    const next = plan.nextOffset;
    const first = plan.batches[0]!.baseOffset;
    const lastOffset = next - 1n;

    this.maybeRoll(records.length, plan.maxTimestamp, lastOffset, now);
    for (const p of plan.batches) {
      stampOffsetAndEpoch(records, p.position, p.baseOffset, opts.leaderEpoch);
      if (logAppendTime >= 0n) stampLogAppendTime(records, p.position, p.size, logAppendTime);
    }
    this.local.append(records, plan.batches, this.config.indexIntervalBytes);
    this.producers.commit(plan.pending);
    if (opts.leaderEpoch >= 0 && opts.leaderEpoch !== this.epochs.latestEpoch) this.epochs.assign(opts.leaderEpoch, first);
    const recordCount = Number(next - first);
    const flushRequired = this.flushPolicy.appended(recordCount, next, this.config);
    return { baseOffset: first, lastOffset, logAppendTime, duplicate: false, recordCount, flushRequired };
  }

  /**
   * Writes a transaction marker (commit or abort control batch) for `producerId` at `producerEpoch`
   * (WriteTxnMarkers, on the leader). Closes the producer's open transaction here; an abort adds
   * it to the aborted-transactions index. INVALID_PRODUCER_EPOCH if the producer has a newer epoch.
   */
  appendMarker(producerId: bigint, producerEpoch: number, commit: boolean, coordinatorEpoch: number, opts: AppendOptions): AppendResult {
    this.ensureWritable();
    const now = opts.now ?? this.clock();
    const firstOffset = this.producers.checkMarker(producerId, producerEpoch);
    const records = encodeMarkerBatch(producerId, producerEpoch, commit, coordinatorEpoch, BigInt(now));
    const [h] = validateReplicatedBatches(records, 0n, this.name);
    const offset = this.logEndOffset;
    this.maybeRoll(records.length, BigInt(now), offset, now);
    stampOffsetAndEpoch(records, 0, offset, opts.leaderEpoch);
    this.local.append(records, [{ baseOffset: offset, lastOffsetDelta: 0, maxTimestamp: BigInt(now), size: records.length }], this.config.indexIntervalBytes);
    const pending = new ProducerAppendBatch();
    this.producers.stage(pending, h!, offset, BigInt(now));
    this.producers.commit(pending);
    // an abort is indexed in the active segment, which holds its marker
    if (!commit && firstOffset >= 0n) this.local.active.txnIndex.append(this.producers.abortedTxn(producerId, firstOffset, offset));
    if (opts.leaderEpoch >= 0 && opts.leaderEpoch !== this.epochs.latestEpoch) this.epochs.assign(opts.leaderEpoch, offset);
    const flushRequired = this.flushPolicy.appended(1, offset + 1n, this.config);
    return { baseOffset: offset, lastOffset: offset, logAppendTime: -1n, duplicate: false, recordCount: 1, flushRequired };
  }

  /** The first offset of the oldest open transaction, or null: the last stable offset is min(this, high watermark). */
  get firstUnstableOffset(): bigint | null { return this.producers.firstUnstableOffset(); }

  /** The aborted transactions a read_committed fetch of [fetchOffset, upperBound) reports. */
  abortedTransactions(fetchOffset: bigint, upperBound: bigint): AbortedTxn[] {
    return this.local.collectAbortedTxns(fetchOffset, upperBound).filter((e) => e.lastOffset >= this.startOffset);
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
    const { headers, firstOffset, lastOffset, maxTimestamp, recordCount } = checkReplicatedAppend(records, this.logEndOffset, this.config, this.name);
    this.maybeRoll(records.length, maxTimestamp, lastOffset, now);
    this.local.append(records, headers, this.config.indexIntervalBytes);
    for (const h of headers) {
      const aborted = this.producers.replayCompletingTxn(h, () => controlTypeOf(records, h.position));
      if (aborted) this.local.active.txnIndex.append(aborted);
      if (h.partitionLeaderEpoch >= 0 && h.partitionLeaderEpoch !== this.epochs.latestEpoch) this.epochs.assign(h.partitionLeaderEpoch, h.baseOffset);
    }
    const flushRequired = this.flushPolicy.appended(recordCount, lastOffset + 1n, this.config);
    return { firstOffset, lastOffset, recordCount, flushRequired };
  }

  private maybeRoll(messagesSize: number, maxTimestampInMessages: bigint, maxOffsetInMessages: bigint, now: number): void {
    if (this.local.active.shouldRoll(this.config, messagesSize, maxTimestampInMessages, maxOffsetInMessages, now)) this.roll(now);
  }

  /** Starts a new active segment at the log end; the old one is sealed and flushed in the background. */
  private roll(now: number): void {
    const snapshot = this.producers.encodeSnapshot();
    this.rollFlusher.rolled(this.local.roll(now), snapshot);
  }

  // ---------------------------------------------------------------- flush

  /** Resolves once every batch below `offset` is fsynced (group commit); see FlushPolicy.flushUpTo. */
  flushUpTo(offset: bigint): Promise<void> { return this.flushPolicy.flushUpTo(offset); }

  /**
   * For the produce path: what to await before acknowledging the append that ended at
   * `lastOffset` (it crossed flush.messages, or duplicates such an append); see FlushPolicy.flushed.
   */
  flushed(lastOffset: bigint): Promise<void> | null { return this.flushPolicy.flushed(lastOffset); }

  /** Flushes everything appended so far, and the checkpoints. */
  async flush(): Promise<void> {
    await this.flushUpTo(this.logEndOffset);
    await this.rollFlusher.idle();
    if (!this.closed) this.checkpoints.write(RECOVERY_POINT_CHECKPOINT, this.local.recoveryPoint);
  }

  // ---------------------------------------------------------------- read

  /** Whole batches from the batch containing `offset`, within [logStartOffset, logEndOffset]; see LocalLog.read. */
  async read(offset: bigint, maxBytes: number, opts: ReadOptions = {}): Promise<ReadResult> {
    this.ensureOpen();
    return this.local.read(offset, maxBytes, opts, () => this.startOffset);
  }

  /**
   * As read(), with the bytes of each segment as a separate part, read into buffers from
   * `opts.pool` when given (see LocalLog.readParts: the caller then releases every part).
   */
  async readParts(offset: bigint, maxBytes: number, opts: ReadOptions = {}): Promise<ReadPartsResult> {
    this.ensureOpen();
    return this.local.readParts(offset, maxBytes, opts, () => this.startOffset);
  }

  /** ListOffsets by timestamp: the first record with timestamp >= `timestamp`, or null; see LocalLog.offsetForTimestamp. */
  async offsetForTimestamp(timestamp: bigint): Promise<{ offset: bigint; timestamp: bigint } | null> {
    this.ensureOpen();
    return this.local.offsetForTimestamp(timestamp, () => this.startOffset);
  }

  /**
   * ListOffsets MAX_TIMESTAMP (KIP-734): the first record carrying the log's largest timestamp,
   * with that timestamp (precise as offsetForTimestamp is). null for an empty log.
   */
  async offsetOfMaxTimestamp(): Promise<{ offset: bigint; timestamp: bigint } | null> {
    this.ensureOpen();
    const max = this.local.maxTimestamp;
    return max < 0n ? null : this.local.offsetForTimestamp(max, () => this.startOffset);
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
    return this.deleteSegmentsWhile(retentionVerdict(this.config, this.sizeInBytes, now));
  }

  /** Deletes oldest segments while `predicate` holds or they lie below the log start offset. */
  private deleteSegmentsWhile(predicate: (seg: LogSegment) => boolean): RetentionResult {
    const { deleted, bytes } = this.local.deleteOldestWhile((seg, nextBase) => nextBase <= this.startOffset || predicate(seg),
      this.config.fileDeleteDelayMs);
    if (this.local.first.baseOffset > this.startOffset) this.advanceLogStart(this.local.first.baseOffset);
    if (deleted.length > 0) this.producers.deleteOldSnapshots(SNAPSHOTS_KEPT);
    return { deletedSegments: deleted, deletedBytes: bytes, logStartOffset: this.startOffset };
  }

  private advanceLogStart(offset: bigint): void {
    this.startOffset = offset;
    this.checkpoints.write(LOG_START_OFFSET_CHECKPOINT, offset);
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
      if (offset < this.local.first.baseOffset) {
        this.replaceAllSegmentsAt(offset);
      } else {
        this.local.truncateTo(offset, this.config.indexIntervalBytes);
        if (this.startOffset > this.logEndOffset) {
          this.startOffset = this.logEndOffset;
          this.checkpoints.write(LOG_START_OFFSET_CHECKPOINT, this.startOffset);
        }
      }
      if (this.local.recoveryPoint > this.logEndOffset) {
        this.local.recoveryPoint = this.logEndOffset;
        this.checkpoints.write(RECOVERY_POINT_CHECKPOINT, this.local.recoveryPoint);
      }
      this.epochs.truncateFromEnd(this.logEndOffset);
      rebuildProducerState(this.dir, this.producers, this.local.list(), this.startOffset);
      this.cleanerState.truncated(this.logEndOffset);
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
      this.local.recoveryPoint = offset;
      this.checkpoints.write(RECOVERY_POINT_CHECKPOINT, offset);
      this.epochs.truncateFromEnd(offset);
      this.epochs.truncateFromStart(offset);
      this.producers.deleteSnapshots();
      this.producers.clear();
      this.cleanerState.restartedAt(offset);
    } catch (err) {
      throw this.storageError('truncate fully', err);
    }
  }

  private replaceAllSegmentsAt(offset: bigint): void {
    this.local.replaceAllAt(offset, this.clock());
    this.startOffset = offset;
    this.checkpoints.write(LOG_START_OFFSET_CHECKPOINT, offset);
  }

  // ---------------------------------------------------------------- compaction (for LogCleaner)

  /** The state a clean is planned from; see CleanerView. */
  cleanerView(): CleanerView {
    this.ensureOpen();
    return {
      segments: this.local.list().slice(0, -1), activeBaseOffset: this.local.active.baseOffset, logStartOffset: this.startOffset,
      firstDirtyOffset: this.cleanerState.firstDirty(this.startOffset, this.logEndOffset), config: this.config,
      producerLastOffsets: this.producers.lastBatchOffsets(), generation: this.cleanerState.generation,
    };
  }

  /** True while the log accepts a clean (open, not closing). */
  get cleanable(): boolean { return !this.closing && !this.closed && this.rollFlusher.failure === null; }

  /** Earliest delete horizon (ms) among the tombstones the last clean kept; null if none. */
  get earliestTombstoneHorizon(): number | null { return this.cleanerState.earliestTombstoneHorizon; }

  /**
   * Records the outcome of a clean planned at `generation`: the log below `firstDirty` is now
   * compacted (checkpointed), and the earliest tombstone horizon it kept. Ignored if the log was
   * truncated since.
   */
  markCleaned(firstDirty: bigint, generation: number, tombstoneHorizon: number | null): void {
    if (this.cleanable) this.cleanerState.cleaned(firstDirty, generation, tombstoneHorizon, this.logEndOffset);
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
    await this.rollFlusher.idle();
    if (!(this.cleanable && generation === this.cleanerState.generation && this.local.holdsConsecutive(old))) {
      cleaned.discard();
      return false;
    }
    try {
      this.local.swapIn(old, cleaned);
    } catch (err) {
      throw this.rollFlusher.fail(this.storageError('replace segments', err));
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

  /**
   * Flushes, writes a producer snapshot and the checkpoints, and closes the files. What the next
   * open would find the same is not written again (a closed partition that took no writes costs no
   * fsync: a broker with thousands of partitions stops in seconds); the active segment's indexes
   * are not written at all, since every open recovers the active segment and rebuilds them.
   */
  async close(): Promise<void> {
    if (this.closed || this.closing) return;
    this.closing = true;
    await this.flush();
    await this.rollFlusher.idle();
    this.closed = true;
    this.flushPolicy.stop();
    try {
      const end = this.logEndOffset;
      // a snapshot at the log end already describes this state (truncation removes the ones above it)
      const snapshot = !(end === 0n && this.producers.producerCount === 0) && !this.producers.snapshotOffsets().includes(end);
      if (snapshot) {
        this.producers.writeSnapshot(end);
        this.producers.deleteOldSnapshots(SNAPSHOTS_KEPT);
      }
      this.checkpoints.write(RECOVERY_POINT_CHECKPOINT, this.local.recoveryPoint);
      if (snapshot) fsyncDir(this.dir);
    } finally {
      this.local.close();
    }
    if (this.rollFlusher.failure) throw this.rollFlusher.failure;
  }

  /**
   * Lets go of the files the way a crash leaves them: no flush, no index, producer snapshot or
   * checkpoint written; the next open runs recovery. Background work already started (a rolled
   * segment's flush) is awaited so that nothing writes to the files afterwards.
   */
  async abandon(): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    await this.letGo('abandoned');
  }

  /** Closes the files without flushing and removes the directory. */
  async delete(): Promise<void> {
    this.closing = true;
    if (!this.closed) await this.letGo('deleted');
    await fs.promises.rm(this.dir, { recursive: true, force: true });
  }

  /** Closes the files writing nothing, once started background work is done; waiting flushes fail. */
  private async letGo(how: string): Promise<void> {
    this.closed = true;
    this.flushPolicy.stop();
    await this.rollFlusher.idle();
    this.local.close();
    this.local.rejectFlushWaiters(new KafkaError('KAFKA_STORAGE_ERROR', `${this.name}: log ${how}`));
  }

  private ensureWritable(): void {
    if (this.closing) throw new KafkaError('KAFKA_STORAGE_ERROR', `${this.name}: log ${this.dir} is closing`);
    this.ensureOpen();
  }

  private ensureOpen(): void {
    if (this.closed) throw new KafkaError('KAFKA_STORAGE_ERROR', `${this.name}: log ${this.dir} is closed`);
    if (this.rollFlusher.failure) throw this.rollFlusher.failure;
  }

  /** Wraps an I/O failure with the partition and directory; KafkaErrors pass through. */
  private storageError(what: string, err: unknown): Error { return storageFailure(this.name, this.dir, what, err); }
}
