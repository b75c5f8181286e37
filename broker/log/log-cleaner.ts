/**
 * LogCleaner: log compaction for cleanup.policy=compact and compact,delete (Kafka's LogCleaner
 * and LogCleanerManager), run in the background on the broker's event loop.
 *
 * GOALS: keep the latest record per key in the cleanable part of each compacted log; remove
 * tombstones delete.retention.ms after the clean that first kept them; never block produce or
 * fetch; leave a consistent log after a crash at any point.
 *
 * CONSTRAINTS: the active segment is never cleaned, nor anything from the first segment whose
 * largest timestamp is younger than min.compaction.lag.ms, nor at or past the register()
 * caller's `uncleanableFrom` (the high watermark, so truncatable data is never compacted) or the
 * first unstable offset (an open transaction's data is never compacted).
 * Offsets are preserved: cleaned segments have gaps. Batches are read and written whole.
 *
 * ALGORITHM (one clean of one log):
 *   1. Plan: dirty section = whole segments from the first dirty offset (cleaner-offset-
 *      checkpoint) up to the first uncleanable offset. Dirty ratio = dirty bytes / (bytes below
 *      the first dirty offset + dirty bytes). The cleaner picks the registered log with the
 *      highest ratio among those at or above min.cleanable.dirty.ratio, or whose first dirty
 *      batch is older than max.compaction.lag.ms, or whose kept tombstones reached their horizon.
 *   2. Offset map: key → latest offset over the dirty segments, whole segments at a time until
 *      `maxMapEntries` keys (the rest waits for the next clean).
 *   3. Every segment below the map's end is cleaned, in groups whose total size fits
 *      segment.bytes (and index size, and an int32 offset range), each group into one new
 *      segment with the group's base offset. A record is kept when its key's latest offset is its
 *      own (or the key is not in the map); records without a key are dropped; a tombstone is kept
 *      until its batch's delete horizon (KIP-534: attribute bit 6, horizon in baseTimestamp, set
 *      to now + delete.retention.ms when a clean first keeps it) has passed.
 *      A batch keeping every record (and needing no horizon) is copied byte for byte; one losing
 *      records is re-encoded with its codec (records.ts rebuildBatch: same base offset,
 *      lastOffsetDelta, producer id/epoch/sequence); one losing all is dropped, unless it is its
 *      producer's last batch, which stays as an empty batch header so idempotent producer state
 *      survives compaction and reopen (Kafka's RETAIN_EMPTY). Aborted transactional data goes; a
 *      transaction marker stays while its transaction has a batch left, then gets a delete horizon
 *      and goes after it like a tombstone (compaction.ts), its aborted-transaction index entry
 *      with it: the cleaned segment's txn index holds the entries of the abort markers it kept.
 *   4. Each group is written to `<base>.log.cleaned`, fsynced and swapped in by
 *      PartitionLog.replaceSegments (rename to `.swap`, delete old, rename to `.log`); a crash
 *      leaves either the old segments (+ a `.cleaned` removed on open) or a `.swap` that open()
 *      finishes. Then the first dirty offset is checkpointed.
 *
 * Concurrency contract: one clean per log at a time (cleanNow calls queue behind each other);
 * the background loop cleans one log at a time. Segment data is read with async I/O in chunks
 * of `ioChunkBytes`, and the cleaner yields to the event loop (setImmediate) after every chunk
 * read and after at most MAX_SLICE_MS of work, so produce and fetch keep running. Readers and retention keep
 * working during a clean: the cleaner holds references on the segments it reads, and a clean
 * whose segments changed under it (retention, truncation, close) is abandoned, not committed.
 */
import fs from 'node:fs';
import type { PartitionLog } from './partition-log.ts';
import { LogSegment } from './log-segment.ts';
import { isControl, readBatchHeader } from './record-batch.ts';
import { readRawRecords } from './records.ts';
import type { AbortedTxn } from './txn-index.ts';
import {
  abortedBatches, CleanedTransactions, filterBatch, forEachStoredBatch, groupSegments, planClean, safeOffset, type CleanablePlan, type CleanStats, type FilterContext,
} from './compaction.ts';

export { groupSegments, planClean, type CleanablePlan } from './compaction.ts';

export interface CleanerLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string, err?: unknown): void;
}

export interface LogCleanerOptions {
  /** Wall clock in ms (tombstone horizons, compaction lags). Default Date.now. */
  readonly clock?: () => number;
  /** log.cleaner.backoff.ms: how long the loop sleeps when no log needs cleaning. Default 15000. */
  readonly backoffMs?: number;
  readonly logger?: CleanerLogger;
  /** Most distinct keys held in one offset map (Kafka's dedupe buffer). Default 2,000,000. */
  readonly maxMapEntries?: number;
  /** Bytes read per I/O chunk between yields to the event loop. Default 512 KiB. */
  readonly ioChunkBytes?: number;
  /** Called with the result of every clean that did work (for metrics). */
  readonly onClean?: (result: CleanResult) => void;
}

export interface RegisterOptions {
  /**
   * Offset from which the log must not be compacted yet, typically the high watermark (Kafka
   * uses the last stable offset): data a follower might still truncate is never cleaned.
   */
  readonly uncleanableFrom?: () => bigint;
}

/** What one clean did; metrics-friendly numbers (Kafka's CleanerStats). */
export interface CleanResult {
  readonly log: string;
  /** False when there was nothing to clean. */
  readonly cleaned: boolean;
  /** True when the log changed under the clean (truncation, retention, close) and it was abandoned. */
  readonly aborted: boolean;
  readonly firstDirtyOffset: bigint;
  /** The log below this offset is compacted now (the new first dirty offset). */
  readonly cleanedUpTo: bigint;
  readonly dirtyRatio: number;
  readonly segmentsRead: number;
  readonly segmentsWritten: number;
  /** Bytes of log cleaned (read while cleaning; the map pass is counted in mapBytesRead). */
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly mapBytesRead: number;
  readonly mapKeys: number;
  readonly recordsRead: number;
  readonly recordsKept: number;
  readonly recordsRemoved: number;
  readonly tombstonesRemoved: number;
  /** Transaction markers removed (their transaction's data gone, their delete horizon passed). */
  readonly markersRemoved: number;
  /** Records without a key (written before the topic was compacted): removed. */
  readonly keylessRemoved: number;
  readonly batchesCopied: number;
  readonly batchesRebuilt: number;
  readonly batchesRemoved: number;
  readonly durationMs: number;
}

const WRITE_CHUNK = 1 << 20;

class Aborted extends Error {
  constructor() { super('clean abandoned: the log changed'); this.name = 'Aborted'; }
}

interface Registration {
  readonly log: PartitionLog;
  readonly opts: RegisterOptions;
  /** The clean running or queued for this log (cleans of one log never overlap). */
  running: Promise<unknown>;
  stopping: boolean;
  failed: boolean;
}

export class LogCleaner {
  private readonly clock: () => number;
  private readonly backoffMs: number;
  private readonly logger: CleanerLogger | undefined;
  private readonly maxMapEntries: number;
  private readonly ioChunkBytes: number;
  private readonly onClean: ((r: CleanResult) => void) | undefined;
  private readonly logs = new Map<PartitionLog, Registration>();
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;

  constructor(opts: LogCleanerOptions = {}) {
    this.clock = opts.clock ?? Date.now;
    this.backoffMs = opts.backoffMs ?? 15000;
    this.logger = opts.logger;
    this.maxMapEntries = opts.maxMapEntries ?? 2_000_000;
    this.ioChunkBytes = opts.ioChunkBytes ?? 512 * 1024;
    this.onClean = opts.onClean;
  }

  /**
   * Starts cleaning `log` when it needs it (only compacted logs are ever cleaned). A compacted log
   * wakes the loop; a delete-only one does not (each wake scans every registered log, so waking
   * for each of N new topics cost O(N²)); it is looked at on the loop's next pass, which is when a
   * log whose cleanup.policy changes to compact is seen too.
   */
  register(log: PartitionLog, opts: RegisterOptions = {}): void {
    if (this.logs.has(log)) return;
    this.logs.set(log, { log, opts, running: Promise.resolve(), stopping: false, failed: false });
    if (log.currentConfig.cleanupPolicy !== 'delete') this.wake?.();
  }

  /** Stops cleaning `log`; resolves once a clean of it in progress has stopped (await before closing the log). */
  async unregister(log: PartitionLog): Promise<void> {
    const reg = this.logs.get(log);
    if (!reg) return;
    reg.stopping = true;
    this.logs.delete(log);
    await reg.running.catch(() => undefined);
  }

  /** Starts the background loop: clean the dirtiest log, or sleep log.cleaner.backoff.ms. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops the loop; resolves when the clean in progress (if any) has finished or been abandoned. */
  async stop(): Promise<void> {
    this.running = false;
    for (const reg of this.logs.values()) reg.stopping = true;
    this.wake?.();
    await this.loop;
    this.loop = null;
    await Promise.all([...this.logs.values()].map((r) => r.running.catch(() => undefined)));
    for (const reg of this.logs.values()) reg.stopping = false;
  }

  /** The registered compacted log most in need of cleaning, with its plan; null if none. */
  filthiestLog(): { log: PartitionLog; plan: CleanablePlan } | null {
    const now = this.clock();
    let best: { log: PartitionLog; plan: CleanablePlan } | null = null;
    for (const reg of this.logs.values()) {
      const log = reg.log;
      if (reg.failed || !log.cleanable || log.currentConfig.cleanupPolicy === 'delete') continue;
      let plan: CleanablePlan;
      try { plan = planClean(log, now, reg.opts.uncleanableFrom); } catch { continue; }
      const needed = (plan.dirtyBytes > 0 && plan.dirtyRatio >= log.currentConfig.minCleanableDirtyRatio)
        || plan.compactionLagExceeded || plan.tombstonesDue;
      if (!needed) continue;
      const score = plan.compactionLagExceeded || plan.tombstonesDue ? Math.max(plan.dirtyRatio, 1) : plan.dirtyRatio;
      const bestScore = best ? (best.plan.compactionLagExceeded || best.plan.tombstonesDue ? Math.max(best.plan.dirtyRatio, 1) : best.plan.dirtyRatio) : -1;
      if (score > bestScore) best = { log, plan };
    }
    return best;
  }

  /**
   * Cleans `log` now, whatever its dirty ratio (still never the active segment, data younger
   * than min.compaction.lag.ms, or past `uncleanableFrom`). Queues behind a clean of the same
   * log already running. The log need not be registered.
   */
  cleanNow(log: PartitionLog): Promise<CleanResult> {
    let reg = this.logs.get(log);
    const temporary = !reg;
    if (!reg) reg = { log, opts: {}, running: Promise.resolve(), stopping: false, failed: false };
    const r = reg;
    const p = r.running.catch(() => undefined).then(() => this.clean(r));
    r.running = p;
    if (temporary) void p.catch(() => undefined);
    return p;
  }

  private async run(): Promise<void> {
    while (this.running) {
      let worked = false;
      const next = this.filthiestLog();
      if (next) {
        const reg = this.logs.get(next.log)!;
        try {
          const result = await this.cleanNow(next.log);
          worked = result.cleaned && !result.aborted;
        } catch (err) {
          // Like Kafka's uncleanable partitions: stop trying this log until it is registered again.
          reg.failed = true;
          this.logger?.error(`log cleaner: cleaning ${next.log.name} failed; it will not be cleaned again until re-registered`, err);
        }
      }
      if (!worked && this.running) await this.sleep(this.backoffMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void { clearTimeout(timer); resolve(); }
      this.wake = () => { this.wake = null; done(); };
    });
  }

  private async clean(reg: Registration): Promise<CleanResult> {
    const { log } = reg;
    const started = performance.now();
    const now = this.clock();
    const plan = planClean(log, now, reg.opts.uncleanableFrom);
    const view = plan.view;
    const config = view.config;
    const stats: CleanStats = {
      segmentsRead: 0, segmentsWritten: 0, bytesRead: 0, bytesWritten: 0, mapBytesRead: 0, recordsRead: 0, recordsKept: 0,
      recordsRemoved: 0, tombstonesRemoved: 0, keylessRemoved: 0, batchesCopied: 0, batchesRebuilt: 0, batchesRemoved: 0, markersRemoved: 0,
    };
    const result = (cleaned: boolean, aborted: boolean, cleanedUpTo: bigint, mapKeys: number): CleanResult => ({
      log: log.name, cleaned, aborted, firstDirtyOffset: plan.firstDirtyOffset, cleanedUpTo, dirtyRatio: plan.dirtyRatio,
      ...stats, mapKeys, durationMs: performance.now() - started,
    });
    const stop = (): boolean => reg.stopping || !log.cleanable;
    if (config.cleanupPolicy === 'delete') return result(false, false, plan.firstDirtyOffset, 0);
    if (plan.dirtySegments.length === 0 && plan.cleanBytes === 0) return result(false, false, plan.firstDirtyOffset, 0);

    // 2. The offset map over the dirty segments, whole segments at a time; aborted transactional
    // data is not mapped (it must not shadow a committed value) and is removed in step 3.
    const isAborted = abortedBatches(log.abortedTransactions(log.logStartOffset, view.activeBaseOffset));
    const map = new Map<string, number>();
    let mapped = 0;
    try {
      for (const seg of plan.dirtySegments) {
        if (!seg.retain()) throw new Aborted();
        try {
          await forEachStoredBatch(seg, this.ioChunkBytes, stop, (buf, pos, h) => {
            if (isControl(h) || h.recordsCount === 0 || isAborted(h)) return;
            const base = safeOffset(h.baseOffset);
            for (const r of readRawRecords(buf, pos, h).records) {
              if (r.key !== null) map.set(r.key.toString('latin1'), base + r.offsetDelta);
            }
          });
        } finally {
          seg.release();
        }
        if (stop()) throw new Aborted();
        stats.mapBytesRead += seg.size;
        mapped++;
        if (map.size >= this.maxMapEntries) break;
      }
    } catch (err) {
      if (err instanceof Aborted) return result(false, true, plan.firstDirtyOffset, map.size);
      throw err;
    }
    const segments = view.segments;
    let cleanUpTo = plan.firstDirtyOffset;
    if (mapped > 0) {
      const lastMapped = segments.indexOf(plan.dirtySegments[mapped - 1]!);
      cleanUpTo = lastMapped + 1 < segments.length ? segments[lastMapped + 1]!.baseOffset : view.activeBaseOffset;
    }

    // 3 + 4. Clean every segment below cleanUpTo, group by group, swapping each in.
    const groups = groupSegments(segments.filter((s) => s.baseOffset < cleanUpTo), config.segmentBytes, config.segmentIndexBytes);
    let horizon: number | null = null;
    const ctx: FilterContext = {
      map, now, deleteRetentionMs: config.deleteRetentionMs, producerLastOffsets: view.producerLastOffsets, isAborted, stats,
      txns: new CleanedTransactions(),
      noteHorizon: (h) => { if (horizon === null || h < horizon) horizon = h; },
    };
    for (const group of groups) {
      const ok = await this.cleanGroup(log, group, view.generation, config.indexIntervalBytes, ctx, stop);
      if (!ok) return result(stats.segmentsWritten > 0, true, plan.firstDirtyOffset, map.size);
    }
    log.markCleaned(cleanUpTo, view.generation, horizon);
    const done = result(true, false, cleanUpTo, map.size);
    this.logger?.info(`log cleaner: ${log.name} cleaned up to ${cleanUpTo}: ${done.bytesRead} bytes read, ${done.bytesWritten} written, `
      + `${done.recordsKept} records kept, ${done.recordsRemoved} removed (${done.tombstonesRemoved} tombstones) in ${done.durationMs.toFixed(0)} ms`);
    this.onClean?.(done);
    return done;
  }

  /** Cleans one group of segments into one new segment and swaps it in; false if abandoned. */
  private async cleanGroup(
    log: PartitionLog, group: readonly LogSegment[], generation: number, indexIntervalBytes: number, ctx: FilterContext, stop: () => boolean,
  ): Promise<boolean> {
    const cleaned = LogSegment.createCleaned(log.dir, group[0]!.baseOffset, this.clock());
    // The group's aborted-transaction entries follow their markers into the cleaned segment.
    const abortEntries = new Map<bigint, AbortedTxn>();
    for (const seg of group) for (const e of seg.txnIndex.all) abortEntries.set(e.lastOffset, e);
    let pending: Buffer[] = [];
    let pendingHeaders: { baseOffset: bigint; lastOffsetDelta: number; maxTimestamp: bigint; size: number }[] = [];
    let pendingBytes = 0;
    const flushPending = (): void => {
      if (pendingBytes === 0) return;
      cleaned.append(pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes), pendingHeaders, indexIntervalBytes);
      ctx.stats.bytesWritten += pendingBytes;
      pending = [];
      pendingHeaders = [];
      pendingBytes = 0;
    };
    let handedOver = false;
    try {
      for (const seg of group) {
        if (!seg.retain()) return false;
        try {
          await forEachStoredBatch(seg, this.ioChunkBytes, stop, (buf, pos, h) => {
            const out = filterBatch(buf, pos, h, ctx);
            if (out === null) return;
            const oh = out === buf ? h : readBatchHeader(out, 0);
            const abort = isControl(oh) ? abortEntries.get(oh.baseOffset) : undefined;
            if (abort) cleaned.txnIndex.append(abort);
            const bytes = out === buf ? buf.subarray(pos, pos + h.size) : out;
            pending.push(bytes);
            pendingHeaders.push({ baseOffset: oh.baseOffset, lastOffsetDelta: oh.lastOffsetDelta, maxTimestamp: oh.maxTimestamp, size: bytes.length });
            pendingBytes += bytes.length;
            if (pendingBytes >= WRITE_CHUNK) flushPending();
          });
        } finally {
          seg.release();
        }
        if (stop()) return false;
        ctx.stats.bytesRead += seg.size;
        ctx.stats.segmentsRead++;
      }
      flushPending();
      cleaned.seal();
      await cleaned.flush();
      // Keep the replaced segments' modification time (retention by time falls back to it).
      const mtime = fs.statSync(group.at(-1)!.logPath).mtime;
      fs.utimesSync(cleaned.logPath, mtime, mtime);
      handedOver = true; // replaceSegments swaps it in or discards it
      const swapped = await log.replaceSegments(group, cleaned, generation);
      if (swapped) ctx.stats.segmentsWritten++;
      return swapped;
    } catch (err) {
      if (err instanceof Aborted) return false;
      throw err;
    } finally {
      if (!handedOver) {
        try { cleaned.discard(); } catch { /* already discarded by replaceSegments, or the directory is gone */ }
      }
    }
  }
}
