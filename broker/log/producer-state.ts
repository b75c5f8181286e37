/**
 * Idempotent-producer state of one partition (Kafka's ProducerStateManager): per producerId the
 * current epoch and the metadata of the last 5 batches appended, used to de-duplicate retries
 * and to reject gaps and zombie producers.
 *
 * Rules (Kafka 3.x, ProducerAppendInfo / UnifiedLog.analyzeAndValidateProducerState):
 *   - a batch equal (same epoch, same first and last sequence) to one of the last 5 batches is a
 *     duplicate: the append succeeds with the ORIGINAL offsets and nothing is written;
 *   - epoch older than the current one → INVALID_PRODUCER_EPOCH;
 *   - a newer epoch must start at sequence 0 → else OUT_OF_ORDER_SEQUENCE_NUMBER;
 *   - same epoch: firstSeq must be lastSeq + 1 (wrapping to 0 after int32 max) → else
 *     OUT_OF_ORDER_SEQUENCE_NUMBER;
 *   - a producerId with no state at all (new, or its batches were removed by retention /
 *     DeleteRecords) is accepted at any sequence, as Kafka does since KIP-360 (2.5+);
 *     UNKNOWN_PRODUCER_ID is never returned.
 *   - transactions: a producer's first transactional batch after a marker opens a transaction
 *     at its base offset (`currentTxnFirstOffset`); the next control batch (commit or abort
 *     marker) closes it. The smallest open first offset is the partition's first unstable
 *     offset, which bounds the last stable offset (LSO). A marker with an epoch older than the
 *     producer's is rejected (INVALID_PRODUCER_EPOCH); a newer one fences the older epoch.
 * Producer-id expiry (producer.id.expiration.ms) is not implemented yet.
 *
 * Snapshot file `<offset>.snapshot` holds the state after every batch below `offset`; this
 * module owns those files (listing, writing, deleting), as Kafka's ProducerStateManager does.
 * Byte format (big-endian):
 *   version i16 (=2; 1 is read too) | crc u32 (CRC-32C of every byte after it) | producerCount i32 |
 *   per producer: producerId i64 | epoch i16 | lastTimestamp i64 |
 *     currentTxnFirstOffset i64 (v2 only; -1 = no open transaction) | batchCount i8 |
 *     per batch: firstSeq i32 | lastSeq i32 | baseOffset i64 | lastOffsetDelta i32 | timestamp i64
 * Written to a .tmp file, fsynced and renamed, so a snapshot is either whole or absent; a
 * snapshot with a bad CRC is ignored (the log is replayed from an older one instead).
 *
 * Concurrency: one owner (the PartitionLog), used synchronously; `stage()` works on copies so a
 * rejected produce request leaves the state untouched until `commit()`.
 */
import fs from 'node:fs';
import { crc32c } from '@node-rs/crc32';
import { KafkaError } from '../errors.ts';
import { type BatchHeader, lastSequenceOf, incrementSequence, isControl, isTransactional, NO_PRODUCER_EPOCH } from './record-batch.ts';
import { compareOffsets, parseOffsetFileName, producerSnapshotFile, TMP_SUFFIX } from './log-files.ts';
import { writeFileAtomicallyAsync } from './offset-index.ts';
import { StorageError } from './errors.ts';
import { CONTROL_ABORT } from './records.ts';
import type { AbortedTxn } from './txn-index.ts';

export const NUM_BATCHES_TO_RETAIN = 5;
const SNAPSHOT_VERSION = 2;
const NO_TXN = -1n;

export interface ProducerBatchMetadata {
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly baseOffset: bigint;
  readonly lastOffset: bigint;
  /** The batch's maxTimestamp as stored (the append time under LogAppendTime). */
  readonly timestamp: bigint;
}

export interface ProducerStateEntry {
  readonly producerId: bigint;
  epoch: number;
  lastTimestamp: bigint;
  /** Base offset of the producer's open transaction in this partition, or -1. */
  currentTxnFirstOffset: bigint;
  /** Oldest first, at most NUM_BATCHES_TO_RETAIN. */
  batches: ProducerBatchMetadata[];
}

function cloneEntry(e: ProducerStateEntry): ProducerStateEntry {
  return { producerId: e.producerId, epoch: e.epoch, lastTimestamp: e.lastTimestamp, currentTxnFirstOffset: e.currentTxnFirstOffset, batches: e.batches.slice() };
}

function inSequence(lastSeq: number, nextSeq: number): boolean {
  return nextSeq === lastSeq + 1 || (nextSeq === 0 && lastSeq === 0x7fffffff);
}

/** Pending changes of one append; applied by ProducerStateManager.commit(). */
export class ProducerAppendBatch {
  readonly updates = new Map<bigint, ProducerStateEntry>();
}

/** Where one batch of a client append goes: its offsets, its stored maxTimestamp, its bytes. */
export interface PlannedBatch {
  readonly baseOffset: bigint;
  readonly lastOffsetDelta: number;
  readonly maxTimestamp: bigint;
  readonly size: number;
  readonly position: number;
}

/** A client append as analyzeAppend() plans it: the batches' offsets and the staged producer state, or a duplicate. */
export type AppendPlan =
  | { readonly duplicate: ProducerBatchMetadata }
  | {
    readonly duplicate: null; readonly pending: ProducerAppendBatch; readonly batches: PlannedBatch[];
    /** Offset after the last batch. */
    readonly nextOffset: bigint;
    readonly maxTimestamp: bigint;
  };

export class ProducerStateManager {
  readonly dir: string;
  private readonly producers = new Map<bigint, ProducerStateEntry>();

  constructor(dir: string) {
    this.dir = dir;
  }

  get producerCount(): number { return this.producers.size; }

  entry(producerId: bigint): Readonly<ProducerStateEntry> | undefined {
    return this.producers.get(producerId);
  }

  private current(pending: ProducerAppendBatch, producerId: bigint): ProducerStateEntry | undefined {
    return pending.updates.get(producerId) ?? this.producers.get(producerId);
  }

  /**
   * The original batch if `h` (from a client) repeats one of the producer's last 5 batches.
   * Looks at committed state and at earlier batches of the same request.
   */
  findDuplicate(pending: ProducerAppendBatch, h: BatchHeader): ProducerBatchMetadata | null {
    if (h.producerId < 0n) return null;
    const e = this.current(pending, h.producerId);
    if (!e || e.epoch !== h.producerEpoch) return null;
    const lastSeq = lastSequenceOf(h);
    for (const b of e.batches) if (b.firstSeq === h.baseSequence && b.lastSeq === lastSeq) return b;
    return null;
  }

  /** Checks a client batch against the producer's state (see the rules above); throws KafkaError. */
  check(pending: ProducerAppendBatch, h: BatchHeader): void {
    if (h.producerId < 0n) return;
    const e = this.current(pending, h.producerId);
    if (!e) return; // unknown producer: any sequence (KIP-360)
    if (h.producerEpoch < e.epoch) {
      throw new KafkaError('INVALID_PRODUCER_EPOCH',
        `producer ${h.producerId}: epoch ${h.producerEpoch} is older than current epoch ${e.epoch}`);
    }
    if (h.producerEpoch !== e.epoch) {
      if (h.baseSequence !== 0 && e.epoch !== NO_PRODUCER_EPOCH) {
        throw new KafkaError('OUT_OF_ORDER_SEQUENCE_NUMBER',
          `producer ${h.producerId}: new epoch ${h.producerEpoch} must start at sequence 0, got ${h.baseSequence}`);
      }
      return;
    }
    const last = e.batches.at(-1);
    if (last && !inSequence(last.lastSeq, h.baseSequence)) {
      throw new KafkaError('OUT_OF_ORDER_SEQUENCE_NUMBER',
        `producer ${h.producerId} epoch ${h.producerEpoch}: expected sequence ${incrementSequence(last.lastSeq, 1)}, got ${h.baseSequence}`);
    }
  }

  /** Records a batch (with its final offsets) in `pending`. Used for client appends and replay. */
  stage(pending: ProducerAppendBatch, h: BatchHeader, baseOffset: bigint, timestamp: bigint): void {
    if (h.producerId < 0n) return;
    let e = pending.updates.get(h.producerId);
    if (!e) {
      const committed = this.producers.get(h.producerId);
      e = committed ? cloneEntry(committed) : { producerId: h.producerId, epoch: h.producerEpoch, lastTimestamp: -1n, currentTxnFirstOffset: NO_TXN, batches: [] };
      pending.updates.set(h.producerId, e);
    }
    if (e.epoch !== h.producerEpoch) {
      e.epoch = h.producerEpoch;
      e.batches = [];
    }
    e.lastTimestamp = timestamp;
    if (isControl(h)) {
      e.currentTxnFirstOffset = NO_TXN;
      return;
    }
    if (isTransactional(h) && e.currentTxnFirstOffset < 0n) e.currentTxnFirstOffset = baseOffset;
    if (h.baseSequence < 0) return;
    e.batches.push({
      firstSeq: h.baseSequence, lastSeq: lastSequenceOf(h),
      baseOffset, lastOffset: baseOffset + BigInt(h.lastOffsetDelta), timestamp,
    });
    if (e.batches.length > NUM_BATCHES_TO_RETAIN) e.batches.shift();
  }

  /**
   * Kafka's analyzeAndValidateProducerState for a client append whose first batch goes at
   * `firstOffset`: each batch's offsets and stored maxTimestamp (`logAppendTime` when >= 0,
   * else the batch's own) and the producer state it stages, or the earlier batch the request
   * repeats (the append is a duplicate: nothing is written). Throws as check() does.
   */
  analyzeAppend(headers: readonly BatchHeader[], firstOffset: bigint, logAppendTime: bigint): AppendPlan {
    const pending = new ProducerAppendBatch();
    const batches: PlannedBatch[] = [];
    let next = firstOffset;
    let maxTimestamp = -1n;
    for (const h of headers) {
      if (h.producerId >= 0n) {
        const dup = this.findDuplicate(pending, h);
        if (dup) return { duplicate: dup };
        this.check(pending, h);
      }
      const ts = logAppendTime >= 0n ? logAppendTime : h.maxTimestamp;
      this.stage(pending, h, next, ts);
      batches.push({ baseOffset: next, lastOffsetDelta: h.lastOffsetDelta, maxTimestamp: ts, size: h.size, position: h.position });
      if (ts > maxTimestamp) maxTimestamp = ts;
      next += BigInt(h.recordsCount);
    }
    return { duplicate: null, pending, batches, nextOffset: next, maxTimestamp };
  }

  commit(pending: ProducerAppendBatch): void {
    for (const [id, e] of pending.updates) this.producers.set(id, e);
  }

  /**
   * Checks a transaction marker of `producerId` at `epoch` (Kafka's checkProducerEpoch for
   * control records) and returns the first offset of the transaction it closes, or -1 if the
   * producer has none open here.
   */
  checkMarker(producerId: bigint, epoch: number): bigint {
    const e = this.producers.get(producerId);
    if (!e) return NO_TXN;
    if (epoch < e.epoch) {
      throw new KafkaError('INVALID_PRODUCER_EPOCH', `producer ${producerId}: marker epoch ${epoch} is older than current epoch ${e.epoch}`);
    }
    return e.currentTxnFirstOffset;
  }

  /** The first offset of the oldest open transaction, or null when none is open (the LSO's bound). */
  firstUnstableOffset(): bigint | null {
    let first: bigint | null = null;
    for (const e of this.producers.values()) {
      if (e.currentTxnFirstOffset >= 0n && (first === null || e.currentTxnFirstOffset < first)) first = e.currentTxnFirstOffset;
    }
    return first;
  }

  /** Every producer with state in this partition (DescribeProducers). */
  entries(): Iterable<Readonly<ProducerStateEntry>> { return this.producers.values(); }

  /** The open transactions: producer id → first offset. */
  openTransactions(): Array<{ producerId: bigint; epoch: number; firstOffset: bigint; lastTimestamp: bigint }> {
    const out = [];
    for (const e of this.producers.values()) {
      if (e.currentTxnFirstOffset >= 0n) out.push({ producerId: e.producerId, epoch: e.epoch, firstOffset: e.currentTxnFirstOffset, lastTimestamp: e.lastTimestamp });
    }
    return out;
  }

  /** The aborted-transactions index entry of an abort marker at `markerOffset` just applied (its LSO is after it). */
  abortedTxn(producerId: bigint, firstOffset: bigint, markerOffset: bigint): AbortedTxn {
    return { producerId, firstOffset, lastOffset: markerOffset, lastStableOffset: this.firstUnstableOffset() ?? markerOffset + 1n };
  }

  /**
   * As replay(), for a stored batch; when it is an abort marker (`controlType` reads its type)
   * closing a transaction open here, returns that transaction's aborted-index entry, else null.
   */
  replayCompletingTxn(h: BatchHeader, controlType: () => number): AbortedTxn | null {
    const openedAt = isControl(h) && h.producerId >= 0n ? this.producers.get(h.producerId)?.currentTxnFirstOffset ?? NO_TXN : NO_TXN;
    this.replay(h);
    return openedAt >= 0n && controlType() === CONTROL_ABORT ? this.abortedTxn(h.producerId, openedAt, h.baseOffset) : null;
  }

  /** Replays one stored batch (recovery, replication): no checks, just state. */
  replay(h: BatchHeader): void {
    if (h.producerId < 0n) return;
    const pending = new ProducerAppendBatch();
    this.stage(pending, h, h.baseOffset, h.maxTimestamp);
    this.commit(pending);
  }

  clear(): void {
    this.producers.clear();
  }

  /** Per producer, the last offset of its last batch (the log cleaner keeps that batch). */
  lastBatchOffsets(): Map<bigint, bigint> {
    const out = new Map<bigint, bigint>();
    for (const e of this.producers.values()) {
      const last = e.batches.at(-1);
      if (last) out.set(e.producerId, last.lastOffset);
    }
    return out;
  }

  /** Drops batch metadata for offsets below `logStartOffset`, and producers left with none. */
  truncateHead(logStartOffset: bigint): void {
    for (const [id, e] of this.producers) {
      e.batches = e.batches.filter((b) => b.lastOffset >= logStartOffset);
      if (e.batches.length === 0 && e.currentTxnFirstOffset < 0n) this.producers.delete(id);
    }
  }

  // ---- snapshots ----

  encodeSnapshot(): Buffer {
    let size = 2 + 4 + 4;
    for (const e of this.producers.values()) size += 8 + 2 + 8 + 8 + 1 + e.batches.length * 28;
    const buf = Buffer.alloc(size);
    let p = 0;
    buf.writeInt16BE(SNAPSHOT_VERSION, p); p += 2;
    p += 4; // crc
    buf.writeInt32BE(this.producers.size, p); p += 4;
    for (const e of this.producers.values()) {
      buf.writeBigInt64BE(e.producerId, p); p += 8;
      buf.writeInt16BE(e.epoch, p); p += 2;
      buf.writeBigInt64BE(e.lastTimestamp, p); p += 8;
      buf.writeBigInt64BE(e.currentTxnFirstOffset, p); p += 8;
      buf.writeInt8(e.batches.length, p); p += 1;
      for (const b of e.batches) {
        buf.writeInt32BE(b.firstSeq, p); p += 4;
        buf.writeInt32BE(b.lastSeq, p); p += 4;
        buf.writeBigInt64BE(b.baseOffset, p); p += 8;
        buf.writeInt32BE(Number(b.lastOffset - b.baseOffset), p); p += 4;
        buf.writeBigInt64BE(b.timestamp, p); p += 8;
      }
    }
    buf.writeUInt32BE(crc32c(buf.subarray(6)) >>> 0, 2);
    return buf;
  }

  /** Replaces the state with a decoded snapshot; throws if it is not a valid snapshot. */
  loadSnapshot(buf: Buffer): void {
    if (buf.length < 10) throw new StorageError('BROOK_ERR_CORRUPT_SNAPSHOT', 'snapshot too short');
    const version = buf.readInt16BE(0);
    if (version !== SNAPSHOT_VERSION && version !== 1) throw new StorageError('BROOK_ERR_CORRUPT_SNAPSHOT', `unknown snapshot version ${buf.readInt16BE(0)}`);
    if ((crc32c(buf.subarray(6)) >>> 0) !== buf.readUInt32BE(2)) throw new StorageError('BROOK_ERR_CORRUPT_SNAPSHOT', 'snapshot CRC mismatch');
    const producers = new Map<bigint, ProducerStateEntry>();
    let p = 6;
    const count = buf.readInt32BE(p); p += 4;
    for (let i = 0; i < count; i++) {
      const producerId = buf.readBigInt64BE(p); p += 8;
      const epoch = buf.readInt16BE(p); p += 2;
      const lastTimestamp = buf.readBigInt64BE(p); p += 8;
      let currentTxnFirstOffset = NO_TXN;
      if (version >= 2) { currentTxnFirstOffset = buf.readBigInt64BE(p); p += 8; }
      const n = buf.readInt8(p); p += 1;
      const batches: ProducerBatchMetadata[] = [];
      for (let j = 0; j < n; j++) {
        const firstSeq = buf.readInt32BE(p); p += 4;
        const lastSeq = buf.readInt32BE(p); p += 4;
        const baseOffset = buf.readBigInt64BE(p); p += 8;
        const delta = buf.readInt32BE(p); p += 4;
        const timestamp = buf.readBigInt64BE(p); p += 8;
        batches.push({ firstSeq, lastSeq, baseOffset, lastOffset: baseOffset + BigInt(delta), timestamp });
      }
      producers.set(producerId, { producerId, epoch, lastTimestamp, currentTxnFirstOffset, batches });
    }
    if (p !== buf.length) throw new StorageError('BROOK_ERR_CORRUPT_SNAPSHOT', 'snapshot has trailing bytes');
    this.producers.clear();
    for (const [k, v] of producers) this.producers.set(k, v);
  }

  /** Offsets of the snapshot files, oldest first. */
  snapshotOffsets(): bigint[] { return snapshotOffsets(this.dir); }

  /** Writes `encoded` (an encodeSnapshot() taken earlier) as `<offset>.snapshot`, atomically. */
  async writeEncodedSnapshot(offset: bigint, encoded: Buffer): Promise<void> {
    await writeFileAtomicallyAsync(producerSnapshotFile(this.dir, offset), encoded);
  }

  /** Deletes all but the newest `kept` snapshot files. */
  deleteOldSnapshots(kept: number): void {
    const offsets = this.snapshotOffsets();
    for (const o of offsets.slice(0, Math.max(0, offsets.length - kept))) fs.rmSync(producerSnapshotFile(this.dir, o), { force: true });
  }

  /** Deletes every snapshot file. */
  deleteSnapshots(): void {
    for (const o of this.snapshotOffsets()) fs.rmSync(producerSnapshotFile(this.dir, o), { force: true });
  }

  /** Writes `<offset>.snapshot` atomically (tmp + fsync + rename). */
  writeSnapshot(offset: bigint): void {
    const file = producerSnapshotFile(this.dir, offset);
    const tmp = file + TMP_SUFFIX;
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(fd, this.encodeSnapshot());
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  }
}

/** Offsets of the producer snapshots in `dir`, oldest first. */
export function snapshotOffsets(dir: string): bigint[] {
  const out: bigint[] = [];
  for (const name of fs.readdirSync(dir)) {
    const p = parseOffsetFileName(name);
    if (p?.kind === 'snapshot') out.push(p.offset);
  }
  return out.sort(compareOffsets);
}
