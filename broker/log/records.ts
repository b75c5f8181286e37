/**
 * Records inside a RecordBatch v2: the broker's own encoder (for records it writes itself, such
 * as group metadata and committed offsets) and a decoder (for loading those back, and for
 * compaction). Client batches on the produce/fetch path are never decoded.
 *
 * Record format (after the 61-byte batch header, possibly compressed as one block):
 *   length varint | attributes int8 | timestampDelta varlong | offsetDelta varint |
 *   keyLength varint (-1 = null) | key | valueLength varint (-1 = null) | value |
 *   headerCount varint | headers: (keyLength varint | key utf8 | valueLength varint | value)
 * Varints are zig-zag encoded. Decompression: gzip and zstd through node:zlib (Node 24); snappy
 * and lz4 batches are reported as unsupported here until compaction needs them.
 */
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { crc32c } from '@node-rs/crc32';
import { KafkaError } from '../errors.ts';
import {
  ATTRIBUTES_OFFSET, BASE_TIMESTAMP_OFFSET, COMPRESSION_CODEC_MASK, CRC_OFFSET, RECORDS_OFFSET, readBatchHeader,
} from './record-batch.ts';

export interface RecordHeader { readonly key: string; readonly value: Buffer | null }

export interface Record {
  readonly offset: bigint;
  readonly timestamp: bigint;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly RecordHeader[];
}

export interface NewRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: readonly RecordHeader[];
  /** Defaults to the batch timestamp. */
  readonly timestamp?: bigint;
}

// ---------------------------------------------------------------- encoding

class ByteSink {
  private buf = Buffer.allocUnsafe(256);
  pos = 0;
  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  varlong(n: bigint): void {
    let v = n >= 0n ? n << 1n : ((-n) << 1n) - 1n;
    this.ensure(10);
    while (v >= 0x80n) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }
  varint(n: number): void { this.varlong(BigInt(n)); }
  bytes(b: Buffer | null): void {
    if (b === null) { this.varint(-1); return; }
    this.varint(b.length);
    this.raw(b);
  }
  raw(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }
  int8(n: number): void { this.ensure(1); this.buf.writeInt8(n, this.pos); this.pos += 1; }
  result(): Buffer { return this.buf.subarray(0, this.pos); }
}

/**
 * Builds one uncompressed batch (no producer id) holding `records` at offsets 0..n-1; the log
 * stamps the real base offset and leader epoch on append.
 */
export function encodeRecordBatch(records: readonly NewRecord[], timestamp: bigint): Buffer {
  if (records.length === 0) throw new Error('BROOK_ERR_EMPTY_BATCH: a record batch needs at least one record');
  const body = new ByteSink();
  let maxTimestamp = timestamp;
  records.forEach((r, i) => {
    const ts = r.timestamp ?? timestamp;
    if (ts > maxTimestamp) maxTimestamp = ts;
    const rec = new ByteSink();
    rec.int8(0);
    rec.varlong(ts - timestamp);
    rec.varint(i);
    rec.bytes(r.key);
    rec.bytes(r.value);
    const headers = r.headers ?? [];
    rec.varint(headers.length);
    for (const h of headers) {
      rec.bytes(Buffer.from(h.key, 'utf8'));
      rec.bytes(h.value);
    }
    const encoded = rec.result();
    body.varint(encoded.length);
    body.raw(encoded);
  });
  const recordsBytes = body.result();
  const out = Buffer.alloc(RECORDS_OFFSET + recordsBytes.length);
  out.writeBigInt64BE(0n, 0);
  out.writeInt32BE(out.length - 12, 8);
  out.writeInt32BE(-1, 12);
  out.writeInt8(2, 16);
  out.writeInt16BE(0, ATTRIBUTES_OFFSET);
  out.writeInt32BE(records.length - 1, 23);
  out.writeBigInt64BE(timestamp, BASE_TIMESTAMP_OFFSET);
  out.writeBigInt64BE(maxTimestamp, 35);
  out.writeBigInt64BE(-1n, 43);
  out.writeInt16BE(-1, 51);
  out.writeInt32BE(-1, 53);
  out.writeInt32BE(records.length, 57);
  recordsBytes.copy(out, RECORDS_OFFSET);
  out.writeUInt32BE(crc32c(out.subarray(ATTRIBUTES_OFFSET)), CRC_OFFSET);
  return out;
}

// ---------------------------------------------------------------- decoding

class ByteSource {
  pos: number;
  private readonly buf: Buffer;
  constructor(buf: Buffer, pos: number) { this.buf = buf; this.pos = pos; }
  private fail(what: string): never {
    throw new KafkaError('CORRUPT_MESSAGE', `record decoding: ${what} at byte ${this.pos}`);
  }
  varlong(): bigint {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) this.fail('truncated varint');
      const b = this.buf[this.pos++]!;
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) break;
      shift += 7n;
      if (shift > 63n) this.fail('varint too long');
    }
    return (v >> 1n) ^ -(v & 1n);
  }
  varint(): number { return Number(this.varlong()); }
  bytes(): Buffer | null {
    const n = this.varint();
    if (n < 0) return null;
    if (this.pos + n > this.buf.length) this.fail(`length ${n} past the end`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

function decompress(codec: number, data: Buffer): Buffer {
  switch (codec) {
    case 0: return data;
    case 1: return gunzipSync(data);
    case 4: return zstdDecompressSync(data);
    default:
      throw new KafkaError('UNSUPPORTED_COMPRESSION_TYPE', `record decoding of compression codec ${codec} is not supported`);
  }
}

/** Decodes every record of the batch at `position` in `buf`. */
export function decodeBatchRecords(buf: Buffer, position = 0): Record[] {
  const h = readBatchHeader(buf, position);
  const data = decompress(h.attributes & COMPRESSION_CODEC_MASK, buf.subarray(position + RECORDS_OFFSET, position + h.size));
  const src = new ByteSource(data, 0);
  const out: Record[] = [];
  for (let i = 0; i < h.recordsCount; i++) {
    const length = src.varint();
    const end = src.pos + length;
    if (length < 0 || end > data.length) throw new KafkaError('CORRUPT_MESSAGE', `record ${i} length ${length} past the batch end`);
    src.pos += 1; // attributes
    const timestampDelta = src.varlong();
    const offsetDelta = src.varint();
    const key = src.bytes();
    const value = src.bytes();
    const headerCount = src.varint();
    const headers: RecordHeader[] = [];
    for (let j = 0; j < headerCount; j++) {
      const k = src.bytes();
      headers.push({ key: k ? k.toString('utf8') : '', value: src.bytes() });
    }
    src.pos = end;
    out.push({ offset: h.baseOffset + BigInt(offsetDelta), timestamp: h.baseTimestamp + timestampDelta, key, value, headers });
  }
  return out;
}

/** Calls `visit` for each batch position in a buffer of whole batches (as read from the log). */
export function forEachBatch(buf: Buffer, visit: (position: number) => void): void {
  let pos = 0;
  while (pos + RECORDS_OFFSET <= buf.length) {
    const size = buf.readInt32BE(pos + 8) + 12;
    if (pos + size > buf.length) break;
    visit(pos);
    pos += size;
  }
}
