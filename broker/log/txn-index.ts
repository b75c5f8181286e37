/**
 * The aborted-transaction index of one segment (Kafka's `<baseOffset>.txnindex`): one entry per
 * abort marker in that segment, so a read_committed fetch can tell the consumer which producers'
 * records to drop in the range it returns. Owned by its LogSegment: created, truncated, flushed
 * and deleted with it (log-segment.ts).
 *
 * File format: a sequence of 34-byte entries (big-endian, Kafka's AbortedTxn layout): version i16
 * (=0) | producerId i64 | firstOffset i64 | lastOffset i64 | lastStableOffset i64. `lastOffset` is
 * the offset of the abort marker, `firstOffset` that of the transaction's first batch (possibly in
 * an earlier segment); entries are appended in marker order. A torn trailing entry is ignored and
 * cut on load; entries at or past the segment's end (a tail lost in a crash) are dropped.
 *
 * Durability: appends go to the page cache (fs.writeSync, like the segment's .log); flush() /
 * flushSync() fsync them and are called whenever the segment is flushed, so an abort marker below
 * the recovery point always has its entry on disk. Above the recovery point, recovery rebuilds the
 * index from the markers (log-loader.ts). Rewrites (truncation) are atomic: tmp + fsync + rename.
 *
 * An index that is not `persisted` (the log cleaner's replacement segment) lives in memory until
 * writeAtomically() puts it under its final name after the swap.
 *
 * Concurrency: one owner (the segment's writer), synchronous writes.
 */
import fs from 'node:fs';
import { KafkaError } from '../errors.ts';
import { TMP_SUFFIX } from './log-files.ts';
import { writeFileAtomically } from './offset-index.ts';
import { fdatasyncAsync } from './segment-io.ts';

export const ABORTED_TXN_ENTRY_SIZE = 34;
const VERSION = 0;

export interface AbortedTxn {
  readonly producerId: bigint;
  readonly firstOffset: bigint;
  readonly lastOffset: bigint;
  readonly lastStableOffset: bigint;
}

export interface TxnIndexSearchResult {
  readonly entries: AbortedTxn[];
  /** An entry's last stable offset reached the upper bound: later segments cannot add any. */
  readonly complete: boolean;
}

export class TransactionIndex {
  readonly file: string;
  private entries: AbortedTxn[] = [];
  private persisted: boolean;
  /** Appended since the last fsync. */
  private dirty = false;

  private constructor(file: string, persisted: boolean) {
    this.file = file;
    this.persisted = persisted;
  }

  /** A new, empty index of a new segment (any stale file of that name is removed). */
  static create(file: string): TransactionIndex {
    fs.rmSync(file, { force: true });
    return TransactionIndex.absent(file);
  }

  /** A new, empty index whose file is known not to exist (its segment's directory was just made). */
  static absent(file: string): TransactionIndex { return new TransactionIndex(file, true); }

  /** An index kept in memory until writeAtomically() (a cleaned segment's). */
  static inMemory(file: string): TransactionIndex { return new TransactionIndex(file, false); }

  /** Reads the file (absent = empty), keeping whole entries whose marker is below `segmentEnd`. */
  static load(file: string, segmentEnd: bigint): TransactionIndex {
    const idx = new TransactionIndex(file, true);
    let buf: Buffer;
    try {
      buf = fs.readFileSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return idx;
      throw err;
    }
    idx.entries = decodeAbortedTxns(buf);
    const whole = idx.entries.length * ABORTED_TXN_ENTRY_SIZE === buf.length;
    if (!idx.truncateTo(segmentEnd) && !whole) idx.rewrite();
    return idx;
  }

  get size(): number { return this.entries.length; }
  get isPersisted(): boolean { return this.persisted; }
  get all(): readonly AbortedTxn[] { return this.entries; }

  /** Adds the entry of an abort marker (ignored if one for that marker offset is there already). */
  append(e: AbortedTxn): void {
    const last = this.entries.at(-1);
    if (last && last.lastOffset >= e.lastOffset) {
      if (this.entries.some((x) => x.lastOffset === e.lastOffset)) return; // replayed marker
      throw new KafkaError('KAFKA_STORAGE_ERROR', `txn index ${this.file}: entry for marker ${e.lastOffset} after one for ${last.lastOffset}`);
    }
    this.entries.push(e);
    if (!this.persisted) return;
    const fd = fs.openSync(this.file, 'a');
    try {
      fs.writeSync(fd, encodeAbortedTxns([e]));
    } finally {
      fs.closeSync(fd);
    }
    this.dirty = true;
  }

  /** Drops the entries whose marker lies at or after `offset`; true if the file was rewritten. */
  truncateTo(offset: bigint): boolean {
    const kept = this.entries.filter((e) => e.lastOffset < offset);
    if (kept.length === this.entries.length) return false;
    this.entries = kept;
    this.rewrite();
    return true;
  }

  /** Empties the index (before recovery rebuilds it from the segment's markers). */
  reset(): void {
    this.entries = [];
    this.dirty = false;
    if (this.persisted) fs.rmSync(this.file, { force: true });
  }

  /**
   * Kafka's TransactionIndex.collectAbortedTxns: the entries whose marker is at or after
   * `fetchOffset` and whose data starts below `upperBound`.
   */
  collect(fetchOffset: bigint, upperBound: bigint): TxnIndexSearchResult {
    const entries: AbortedTxn[] = [];
    for (const e of this.entries) {
      if (e.lastOffset >= fetchOffset && e.firstOffset < upperBound) entries.push(e);
      if (e.lastStableOffset >= upperBound) return { entries, complete: true };
    }
    return { entries, complete: false };
  }

  /** fsyncs appended entries (with the segment's flush). */
  async flush(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    let fd: number;
    try {
      fd = await new Promise<number>((resolve, reject) => fs.open(this.file, 'r', (err, n) => (err ? reject(err) : resolve(n))));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // the segment was deleted meanwhile
      throw err;
    }
    try {
      await fdatasyncAsync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  flushSync(): void {
    if (!this.dirty) return;
    this.dirty = false;
    const fd = fs.openSync(this.file, 'r');
    try {
      fs.fdatasyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Writes the whole index under its file name (tmp + fsync + rename); from now on it is persisted. */
  writeAtomically(): void {
    this.persisted = true;
    this.rewrite();
  }

  /** Removes the file (the segment is deleted). */
  delete(): void {
    fs.rmSync(this.file, { force: true });
    fs.rmSync(this.file + TMP_SUFFIX, { force: true });
  }

  private rewrite(): void {
    if (!this.persisted) return;
    this.dirty = false;
    if (this.entries.length === 0) fs.rmSync(this.file, { force: true });
    else writeFileAtomically(this.file, encodeAbortedTxns(this.entries));
  }
}

/** Whole version-0 entries from the start of `buf` (a torn or unknown tail ends it). */
export function decodeAbortedTxns(buf: Buffer): AbortedTxn[] {
  const out: AbortedTxn[] = [];
  for (let p = 0; p + ABORTED_TXN_ENTRY_SIZE <= buf.length; p += ABORTED_TXN_ENTRY_SIZE) {
    if (buf.readInt16BE(p) !== VERSION) break;
    out.push({
      producerId: buf.readBigInt64BE(p + 2), firstOffset: buf.readBigInt64BE(p + 10),
      lastOffset: buf.readBigInt64BE(p + 18), lastStableOffset: buf.readBigInt64BE(p + 26),
    });
  }
  return out;
}

export function encodeAbortedTxns(entries: readonly AbortedTxn[]): Buffer {
  const buf = Buffer.alloc(entries.length * ABORTED_TXN_ENTRY_SIZE);
  entries.forEach((e, i) => {
    const p = i * ABORTED_TXN_ENTRY_SIZE;
    buf.writeInt16BE(VERSION, p);
    buf.writeBigInt64BE(e.producerId, p + 2);
    buf.writeBigInt64BE(e.firstOffset, p + 10);
    buf.writeBigInt64BE(e.lastOffset, p + 18);
    buf.writeBigInt64BE(e.lastStableOffset, p + 26);
  });
  return buf;
}
