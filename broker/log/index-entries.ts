/** The buffer of an index with no entries yet: shared, since nothing is ever written into 0 bytes. */
const NO_ENTRIES = Buffer.alloc(0);

/** Entries an index's buffer first grows to (Kafka's indexes are sparse: one per 4 KiB of log). */
const FIRST_CAPACITY = 16;

/**
 * What the offset and time indexes share (Kafka's AbstractIndex): fixed-size big-endian entries
 * in a growable in-memory buffer, each naming an offset as an int32 relative to the segment's
 * base offset; an index file's bytes are exactly its entries, in order. One writer; a subclass
 * writes an entry's fields at the position slot() gives, then calls appended(). An empty index
 * holds no buffer of its own (a broker with 10,000 idle partitions keeps 20,000 of them), and
 * gets one at its first entry.
 */
export class IndexEntries {
  readonly baseOffset: bigint;
  private readonly entrySize: number;
  protected buf: Buffer;
  protected count = 0;

  constructor(baseOffset: bigint, entrySize: number, initialCapacity: number) {
    this.baseOffset = baseOffset;
    this.entrySize = entrySize;
    this.buf = initialCapacity > 0 ? Buffer.alloc(initialCapacity * entrySize) : NO_ENTRIES;
  }

  get entries(): number { return this.count; }
  get sizeInBytes(): number { return this.count * this.entrySize; }

  encode(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.sizeInBytes));
  }

  /** `offset` relative to the base offset; RangeError when an int32 cannot hold it. */
  protected relative(offset: bigint): number {
    const rel = Number(offset - this.baseOffset);
    if (rel < 0 || rel > 0x7fffffff) throw new RangeError(`offset ${offset} not representable relative to ${this.baseOffset}`);
    return rel;
  }

  /** The byte position of the next entry, the buffer grown to hold it. */
  protected slot(): number {
    if ((this.count + 1) * this.entrySize > this.buf.length) {
      const bigger = Buffer.alloc(Math.max(this.buf.length * 2, FIRST_CAPACITY * this.entrySize));
      this.buf.copy(bigger, 0, 0, this.sizeInBytes);
      this.buf = bigger;
    }
    return this.count * this.entrySize;
  }

  protected appended(): void { this.count++; }

  /** Takes a file's bytes, already checked by the subclass's decode, as the entries. */
  protected load(bytes: Buffer): void {
    bytes.copy(this.buf);
    this.count = bytes.length / this.entrySize;
  }
}
