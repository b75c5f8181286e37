/**
 * Time index of one segment: 12-byte entries (int64 timestamp, int32 offset relative to the
 * segment's base offset), both non-decreasing, timestamps strictly increasing, sparse. An entry
 * (t, o) says: the largest batch maxTimestamp among batches before base+o is < t, and the batch
 * at base+o reaches t (o is the first offset where the running maximum reached t). The last
 * entry therefore carries the segment's largest timestamp, which retention.ms uses; it is always
 * appended when the segment stops being active.
 *
 * File handling and concurrency: as for the offset index (in memory; written whole, atomically,
 * when the segment becomes inactive and on close; rebuilt from the log when missing or invalid;
 * the active segment's is always rebuilt on open). One writer.
 */
import { IndexEntries } from './index-entries.ts';

export const TIME_INDEX_ENTRY_SIZE = 12;

export class TimeIndex extends IndexEntries {
  constructor(baseOffset: bigint, initialCapacity = 0) {
    super(baseOffset, TIME_INDEX_ENTRY_SIZE, initialCapacity);
  }

  timestampAt(i: number): bigint { return this.buf.readBigInt64BE(i * TIME_INDEX_ENTRY_SIZE); }
  relativeOffsetAt(i: number): number { return this.buf.readInt32BE(i * TIME_INDEX_ENTRY_SIZE + 8); }

  lastEntry(): { timestamp: bigint; offset: bigint } | null {
    if (this.count === 0) return null;
    return { timestamp: this.timestampAt(this.count - 1), offset: this.baseOffset + BigInt(this.relativeOffsetAt(this.count - 1)) };
  }

  /** Appends (timestamp, offset) if timestamp is larger than the last entry's; else no-op. */
  maybeAppend(timestamp: bigint, offset: bigint): void {
    if (this.count > 0 && timestamp <= this.timestampAt(this.count - 1)) return;
    const rel = this.relative(offset);
    if (this.count > 0 && rel < this.relativeOffsetAt(this.count - 1)) throw new RangeError('time index offsets must not decrease');
    const at = this.slot();
    this.buf.writeBigInt64BE(timestamp, at);
    this.buf.writeInt32BE(rel, at + 8);
    this.appended();
  }

  /**
   * An offset from which a forward scan finds the first batch with maxTimestamp >= target:
   * the offset of the last entry with timestamp < target (every earlier batch is < target),
   * or the base offset.
   */
  lookup(target: bigint): bigint {
    if (this.count === 0 || this.timestampAt(0) >= target) return this.baseOffset;
    let lo = 0;
    let hi = this.count - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.timestampAt(mid) < target) lo = mid; else hi = mid - 1;
    }
    return this.baseOffset + BigInt(this.relativeOffsetAt(lo));
  }

  /** Removes entries with offset >= `offset`. */
  truncate(offset: bigint): void {
    while (this.count > 0 && this.baseOffset + BigInt(this.relativeOffsetAt(this.count - 1)) >= offset) this.count--;
  }

  /** Decodes a time index file; null if malformed (size, ordering, offsets past `nextOffset`). */
  static decode(baseOffset: bigint, bytes: Buffer, nextOffset: bigint): TimeIndex | null {
    if (bytes.length % TIME_INDEX_ENTRY_SIZE !== 0) return null;
    const index = new TimeIndex(baseOffset, bytes.length / TIME_INDEX_ENTRY_SIZE);
    let prevTs: bigint | null = null;
    let prevRel = 0;
    for (let p = 0; p < bytes.length; p += TIME_INDEX_ENTRY_SIZE) {
      const ts = bytes.readBigInt64BE(p);
      const rel = bytes.readInt32BE(p + 8);
      if ((prevTs !== null && ts <= prevTs) || rel < prevRel || baseOffset + BigInt(rel) >= nextOffset) return null;
      prevTs = ts;
      prevRel = rel;
    }
    index.load(bytes);
    return index;
  }
}
