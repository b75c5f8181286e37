/**
 * The aborted-transactions index of one partition (Kafka's `.txnindex`, kept as one file per
 * partition rather than per segment): one entry per abort marker, so a read_committed fetch can
 * tell the consumer which producers' records to drop in the range it returns.
 *
 * File `aborted-transactions.txnindex`, a sequence of 34-byte entries (big-endian, Kafka's
 * AbortedTxn layout): version i16 (=0) | producerId i64 | firstOffset i64 | lastOffset i64 |
 * lastStableOffset i64. `lastOffset` is the offset of the abort marker; entries are appended in
 * marker order. A torn trailing entry is ignored and cut on load; entries at or past the log end
 * (a tail lost in a crash, a truncation) are dropped by truncateTo(). Entries wholly below the log
 * start offset are skipped by readers.
 *
 * Concurrency: one owner (the PartitionLog), synchronous writes (fs.writeSync into the page
 * cache, like the segment it describes).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ABORTED_TXN_INDEX } from './log-files.ts';

const ENTRY_SIZE = 34;
const VERSION = 0;

export interface AbortedTxn {
  readonly producerId: bigint;
  readonly firstOffset: bigint;
  readonly lastOffset: bigint;
  readonly lastStableOffset: bigint;
}

export class AbortedTxnIndex {
  readonly file: string;
  private entries: AbortedTxn[] = [];

  constructor(dir: string) { this.file = path.join(dir, ABORTED_TXN_INDEX); }

  get size(): number { return this.entries.length; }

  /** Reads the file; keeps whole entries below `logEndOffset` and rewrites it if anything was dropped. */
  load(logEndOffset: bigint): void {
    let buf: Buffer;
    try {
      buf = fs.readFileSync(this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') { this.entries = []; return; }
      throw err;
    }
    const out: AbortedTxn[] = [];
    for (let p = 0; p + ENTRY_SIZE <= buf.length; p += ENTRY_SIZE) {
      if (buf.readInt16BE(p) !== VERSION) break;
      out.push({
        producerId: buf.readBigInt64BE(p + 2), firstOffset: buf.readBigInt64BE(p + 10),
        lastOffset: buf.readBigInt64BE(p + 18), lastStableOffset: buf.readBigInt64BE(p + 26),
      });
    }
    this.entries = out;
    if (out.length * ENTRY_SIZE !== buf.length) this.rewrite();
    this.truncateTo(logEndOffset);
  }

  append(e: AbortedTxn): void {
    if (this.entries.some((x) => x.lastOffset === e.lastOffset)) return; // replayed marker
    this.entries.push(e);
    const fd = fs.openSync(this.file, 'a');
    try {
      fs.writeSync(fd, encode([e]));
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Drops the entries whose marker lies at or after `offset`. */
  truncateTo(offset: bigint): void {
    const kept = this.entries.filter((e) => e.lastOffset < offset);
    if (kept.length === this.entries.length) return;
    this.entries = kept;
    this.rewrite();
  }

  clear(): void {
    this.entries = [];
    fs.rmSync(this.file, { force: true });
  }

  /**
   * The aborted transactions a read of [fetchOffset, upperBound) must report (Kafka's
   * collectAbortedTxns): those whose marker is at or after fetchOffset and whose data starts
   * below upperBound.
   */
  collect(fetchOffset: bigint, upperBound: bigint): AbortedTxn[] {
    return this.entries.filter((e) => e.lastOffset >= fetchOffset && e.firstOffset < upperBound);
  }

  private rewrite(): void {
    const tmp = this.file + '.tmp';
    fs.writeFileSync(tmp, encode(this.entries));
    fs.renameSync(tmp, this.file);
  }
}

function encode(entries: readonly AbortedTxn[]): Buffer {
  const buf = Buffer.alloc(entries.length * ENTRY_SIZE);
  entries.forEach((e, i) => {
    const p = i * ENTRY_SIZE;
    buf.writeInt16BE(VERSION, p);
    buf.writeBigInt64BE(e.producerId, p + 2);
    buf.writeBigInt64BE(e.firstOffset, p + 10);
    buf.writeBigInt64BE(e.lastOffset, p + 18);
    buf.writeBigInt64BE(e.lastStableOffset, p + 26);
  });
  return buf;
}
