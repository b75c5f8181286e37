/**
 * Offset index of one segment: 8-byte entries (int32 offset relative to the segment's base
 * offset, int32 byte position of a batch in the .log file), strictly increasing in both, sparse
 * (one entry per index.interval.bytes of log). An entry (o, p) says: the batch with baseOffset
 * base+o starts at p. lookup(x) answers the last entry with offset <= x; the reader then scans
 * batch headers forward from there.
 *
 * File handling: the index lives in memory and is written whole (tmp + fsync + rename, so a
 * file is either complete or absent) when its segment stops being active and on close. It is
 * derived data: the active segment's index is always rebuilt from the log on open, and a
 * non-active segment's index file is checked (size, ordering, bounds) and rebuilt if it fails.
 * Concurrency: one writer (the segment's owner); lookups are synchronous and never see a
 * half-appended entry.
 */
import fs from 'node:fs';
import { TMP_SUFFIX } from './log-files.ts';
import { IndexEntries } from './index-entries.ts';

export const OFFSET_INDEX_ENTRY_SIZE = 8;

export class OffsetIndex extends IndexEntries {
  constructor(baseOffset: bigint, initialCapacity = 0) {
    super(baseOffset, OFFSET_INDEX_ENTRY_SIZE, initialCapacity);
  }

  relativeOffsetAt(i: number): number { return this.buf.readInt32BE(i * OFFSET_INDEX_ENTRY_SIZE); }
  positionAt(i: number): number { return this.buf.readInt32BE(i * OFFSET_INDEX_ENTRY_SIZE + 4); }

  lastEntry(): { offset: bigint; position: number } | null {
    if (this.count === 0) return null;
    return { offset: this.baseOffset + BigInt(this.relativeOffsetAt(this.count - 1)), position: this.positionAt(this.count - 1) };
  }

  append(offset: bigint, position: number): void {
    const rel = this.relative(offset);
    if (this.count > 0 && (rel <= this.relativeOffsetAt(this.count - 1) || position <= this.positionAt(this.count - 1))) {
      throw new RangeError(`offset index entries must increase: (${offset}, ${position}) after ${JSON.stringify(this.lastEntry(), (_k, v) => typeof v === 'bigint' ? v.toString() : v)}`);
    }
    const at = this.slot();
    this.buf.writeInt32BE(rel, at);
    this.buf.writeInt32BE(position, at + 4);
    this.appended();
  }

  /** The last entry with offset <= target, or (baseOffset, 0) when there is none. */
  lookup(target: bigint): { offset: bigint; position: number } {
    const rel = target - this.baseOffset;
    const i = this.lastAtOrBelow((j) => this.relativeOffsetAt(j), rel > 0x7fffffffn ? 0x7fffffff : rel < -1n ? -1 : Number(rel));
    return i < 0 ? { offset: this.baseOffset, position: 0 } : this.entryAt(i);
  }

  /** The last entry with position <= `position`, or null when there is none. */
  floorByPosition(position: number): { offset: bigint; position: number } | null {
    const i = this.lastAtOrBelow((j) => this.positionAt(j), position);
    return i < 0 ? null : this.entryAt(i);
  }

  private entryAt(i: number): { offset: bigint; position: number } {
    return { offset: this.baseOffset + BigInt(this.relativeOffsetAt(i)), position: this.positionAt(i) };
  }

  /** Index of the last entry whose `valueAt` (increasing with the index) is <= target; -1 if none. */
  private lastAtOrBelow(valueAt: (i: number) => number, target: number): number {
    if (this.count === 0 || valueAt(0) > target) return -1;
    let lo = 0;
    let hi = this.count - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (valueAt(mid) <= target) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  /** Removes entries with offset >= `offset`, or with position >= `position`. */
  truncate(offset: bigint, position: number): void {
    while (this.count > 0) {
      const i = this.count - 1;
      if (this.baseOffset + BigInt(this.relativeOffsetAt(i)) >= offset || this.positionAt(i) >= position) this.count--;
      else break;
    }
  }

  /**
   * Decodes an index file's bytes; null if they cannot be this segment's index (size not a
   * multiple of 8, entries not increasing, positions past `logSize`).
   */
  static decode(baseOffset: bigint, bytes: Buffer, logSize: number): OffsetIndex | null {
    if (bytes.length % OFFSET_INDEX_ENTRY_SIZE !== 0) return null;
    const index = new OffsetIndex(baseOffset, bytes.length / OFFSET_INDEX_ENTRY_SIZE);
    let prevRel = -1;
    let prevPos = -1;
    for (let p = 0; p < bytes.length; p += OFFSET_INDEX_ENTRY_SIZE) {
      const rel = bytes.readInt32BE(p);
      const pos = bytes.readInt32BE(p + 4);
      if (rel <= prevRel || pos <= prevPos || pos >= logSize) return null;
      prevRel = rel;
      prevPos = pos;
    }
    index.load(bytes);
    return index;
  }
}

/** Writes `bytes` to `file` atomically: tmp file, fsync, rename. */
export function writeFileAtomically(file: string, bytes: Buffer): void {
  const tmp = file + TMP_SUFFIX;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, bytes);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/** writeFileAtomically without blocking the event loop (producer snapshots after a roll). */
export async function writeFileAtomicallyAsync(file: string, bytes: Buffer): Promise<void> {
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
