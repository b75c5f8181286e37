/**
 * Records inside a RecordBatch v2: the broker's own encoder (for records it writes itself, such
 * as group metadata and committed offsets) and a decoder (for loading those back, and for
 * compaction). Client batches on the produce/fetch path are never decoded.
 *
 * Record format (after the 61-byte batch header, possibly compressed as one block):
 *   length varint | attributes int8 | timestampDelta varlong | offsetDelta varint |
 *   keyLength varint (-1 = null) | key | valueLength varint (-1 = null) | value |
 *   headerCount varint | headers: (keyLength varint | key utf8 | valueLength varint | value)
 * Varints are zig-zag encoded.
 *
 * The records section may be compressed as one block (attributes bits 0-2): compression.ts.
 * Only the log cleaner and compacted-topic key validation decompress; nothing on the fetch path.
 */
import { crc32c } from '@node-rs/crc32';
import { KafkaError } from '../errors.ts';
import { StorageError } from './errors.ts';
import { CODEC_NONE, compressRecords, decompressRecords, type Framing } from './compression.ts';
import {
  type BatchHeader, ATTRIBUTES_OFFSET, BASE_TIMESTAMP_OFFSET, COMPRESSION_CODEC_MASK, CONTROL_MASK, CRC_OFFSET, RECORDS_OFFSET, TIMESTAMP_TYPE_MASK,
  TRANSACTIONAL_MASK,
  readBatchHeader,
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

/** The producer fields of a batch: idempotent (sequence >= 0), transactional, or a control batch. */
export interface BatchProducer {
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly transactional: boolean;
  readonly control?: boolean;
}

/**
 * Builds one uncompressed batch (no producer id unless `producer`) holding `records` at offsets
 * 0..n-1; the log stamps the real base offset and leader epoch on append.
 */
export function encodeRecordBatch(records: readonly NewRecord[], timestamp: bigint, producer: BatchProducer | null = null): Buffer {
  if (records.length === 0) throw new StorageError('BROOK_ERR_EMPTY_BATCH', 'a record batch needs at least one record');
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
  out.writeInt16BE((producer?.transactional ? TRANSACTIONAL_MASK : 0) | (producer?.control ? CONTROL_MASK : 0), ATTRIBUTES_OFFSET);
  out.writeInt32BE(records.length - 1, 23);
  out.writeBigInt64BE(timestamp, BASE_TIMESTAMP_OFFSET);
  out.writeBigInt64BE(maxTimestamp, 35);
  out.writeBigInt64BE(producer?.producerId ?? -1n, 43);
  out.writeInt16BE(producer?.producerEpoch ?? -1, 51);
  out.writeInt32BE(producer?.baseSequence ?? -1, 53);
  out.writeInt32BE(records.length, 57);
  recordsBytes.copy(out, RECORDS_OFFSET);
  out.writeUInt32BE(crc32c(out.subarray(ATTRIBUTES_OFFSET)), CRC_OFFSET);
  return out;
}

/** Control record types (the int16 after the version in a control record's key). */
export const CONTROL_ABORT = 0;
export const CONTROL_COMMIT = 1;

/**
 * A transaction marker: a control batch of one record whose key is version i16 (0) | type i16
 * (0 abort, 1 commit) and value version i16 (0) | coordinatorEpoch i32 (Kafka's EndTransactionMarker).
 */
export function encodeMarkerBatch(producerId: bigint, producerEpoch: number, commit: boolean, coordinatorEpoch: number, timestamp: bigint): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(commit ? CONTROL_COMMIT : CONTROL_ABORT, 2);
  const value = Buffer.alloc(6);
  value.writeInt16BE(0, 0);
  value.writeInt32BE(coordinatorEpoch, 2);
  return encodeRecordBatch([{ key, value }], timestamp, { producerId, producerEpoch, baseSequence: -1, transactional: true, control: true });
}

/** The control type (CONTROL_ABORT / CONTROL_COMMIT) of the control batch at `position`, or -1 if unreadable. */
export function controlTypeOf(buf: Buffer, position: number): number {
  const key = decodeBatchRecords(buf, position)[0]?.key;
  return key && key.length >= 4 ? key.readInt16BE(2) : -1;
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
  return decompressRecords(codec, data).bytes;
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

// ---------------------------------------------------------------- raw records (compaction)

/** Bit 6 of the attributes: baseTimestamp holds the delete horizon (KIP-534). */
export const DELETE_HORIZON_MASK = 0x40;

/**
 * One record as stored, for the cleaner: its key, whether its value is null, and its bytes, so
 * that a kept record is copied without re-serializing (only its timestamp delta is rewritten
 * when the batch's base timestamp changes).
 */
export interface RawRecord {
  readonly offsetDelta: number;
  /** timestamp - batch baseTimestamp. */
  readonly timestampDelta: number;
  readonly key: Buffer | null;
  readonly valueIsNull: boolean;
  /** The source of the record bytes (the decompressed records section or the batch). */
  readonly source: Buffer;
  /** Where the record's attributes byte starts in `source` (after the length varint). */
  readonly start: number;
  /** Where the offsetDelta starts in `source` (after the timestamp delta). */
  readonly restStart: number;
  readonly end: number;
}

/** A varint as a JS number (exact below 2^53, which bounds any delta or length we accept). */
function readVarNumber(buf: Buffer, at: { pos: number }): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (at.pos >= buf.length) throw new KafkaError('CORRUPT_MESSAGE', 'record varint runs past the end of the batch');
    const b = buf[at.pos++]!;
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
    scale *= 128;
  }
  throw new KafkaError('CORRUPT_MESSAGE', 'record varint too long');
}

/**
 * The records of the batch at `position` (the whole batch in `buf`), decompressed if needed.
 * Returns the framing found, for re-encoding.
 */
export function readRawRecords(buf: Buffer, position: number, h: BatchHeader = readBatchHeader(buf, position)): { records: RawRecord[]; framing: Framing } {
  const codec = h.attributes & COMPRESSION_CODEC_MASK;
  const section = buf.subarray(position + RECORDS_OFFSET, position + h.size);
  const { bytes, framing } = codec === CODEC_NONE ? { bytes: section, framing: 'plain' as Framing } : decompressRecords(codec, section);
  const records: RawRecord[] = [];
  const at = { pos: 0 };
  for (let i = 0; i < h.recordsCount; i++) {
    const length = readVarNumber(bytes, at);
    const start = at.pos;
    const end = start + length;
    if (length < 0 || end > bytes.length) throw new KafkaError('CORRUPT_MESSAGE', `record ${i} of length ${length} runs past the batch end`);
    at.pos += 1; // attributes
    const timestampDelta = readVarNumber(bytes, at);
    const restStart = at.pos;
    const offsetDelta = readVarNumber(bytes, at);
    const keyLength = readVarNumber(bytes, at);
    let key: Buffer | null = null;
    if (keyLength >= 0) {
      if (at.pos + keyLength > end) throw new KafkaError('CORRUPT_MESSAGE', `record ${i}: key runs past the record`);
      key = bytes.subarray(at.pos, at.pos + keyLength);
      at.pos += keyLength;
    }
    const valueLength = readVarNumber(bytes, at);
    records.push({ offsetDelta, timestampDelta, key, valueIsNull: valueLength < 0, source: bytes, start, restStart, end });
    at.pos = end;
  }
  return { records, framing };
}

/**
 * Index of the first record without a key in the batch at `position`, or -1. Decompresses
 * compressed batches (compacted topics only call this, as Kafka validates them).
 */
export function firstKeylessRecord(buf: Buffer, position: number, h: BatchHeader = readBatchHeader(buf, position)): number {
  const { records } = readRawRecords(buf, position, h);
  return records.findIndex((r) => r.key === null);
}

export interface RebuildOptions {
  /** Records kept, in offset order (from readRawRecords of this batch). */
  readonly records: readonly RawRecord[];
  readonly framing: Framing;
  /** Set the delete horizon: baseTimestamp becomes it and attribute bit 6 is set. */
  readonly deleteHorizonMs?: bigint;
}

function writeVarNumber(out: Buffer, pos: number, n: number): number {
  let v = n >= 0 ? n * 2 : -n * 2 - 1;
  while (v >= 0x80) {
    out[pos++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  out[pos++] = v;
  return pos;
}

function varNumberSize(n: number): number {
  let v = n >= 0 ? n * 2 : -n * 2 - 1;
  let size = 1;
  while (v >= 0x80) { v = Math.floor(v / 128); size++; }
  return size;
}

/**
 * Re-encodes the batch `h` (whose bytes are in `buf` at `position`) with only `opts.records`,
 * as Kafka's cleaner does (MemoryRecords.filterTo): same base offset, partition leader epoch,
 * codec, timestamp type, producer id/epoch/base sequence and lastOffsetDelta (so the
 * producer's last sequence survives); recordsCount and, under CreateTime, maxTimestamp follow
 * the records kept. With no records, writes Kafka's empty batch header (uncompressed).
 */
export function rebuildBatch(buf: Buffer, position: number, h: BatchHeader, opts: RebuildOptions): Buffer {
  const codec = h.attributes & COMPRESSION_CODEC_MASK;
  const logAppendTime = (h.attributes & TIMESTAMP_TYPE_MASK) !== 0;
  const oldBase = h.baseTimestamp;
  let attributes = h.attributes;
  let baseTimestamp = oldBase;
  if (opts.deleteHorizonMs !== undefined) {
    attributes |= DELETE_HORIZON_MASK;
    baseTimestamp = opts.deleteHorizonMs;
  }
  const shift = Number(oldBase - baseTimestamp);
  let maxDelta = -Infinity;
  let size = 0;
  for (const r of opts.records) {
    if (r.timestampDelta > maxDelta) maxDelta = r.timestampDelta;
    const inner = shift === 0 ? r.end - r.start : 1 + varNumberSize(r.timestampDelta + shift) + (r.end - r.restStart);
    size += varNumberSize(inner) + inner;
  }
  const body = Buffer.allocUnsafe(size);
  let p = 0;
  for (const r of opts.records) {
    if (shift === 0) {
      p = writeVarNumber(body, p, r.end - r.start);
      p += r.source.copy(body, p, r.start, r.end);
    } else {
      const delta = r.timestampDelta + shift;
      p = writeVarNumber(body, p, 1 + varNumberSize(delta) + (r.end - r.restStart));
      body[p++] = r.source[r.start]!;
      p = writeVarNumber(body, p, delta);
      p += r.source.copy(body, p, r.restStart, r.end);
    }
  }
  let maxTimestamp: bigint;
  let section: Buffer;
  if (opts.records.length === 0) {
    // Kafka's DefaultRecordBatch.writeEmptyHeader: no codec, no horizon, timestamps = maxTimestamp.
    attributes = h.attributes & ~(COMPRESSION_CODEC_MASK | DELETE_HORIZON_MASK);
    baseTimestamp = h.maxTimestamp;
    maxTimestamp = h.maxTimestamp;
    section = body;
  } else {
    maxTimestamp = logAppendTime ? h.maxTimestamp : oldBase + BigInt(maxDelta);
    section = compressRecords(codec, body, opts.framing);
  }
  const out = Buffer.allocUnsafe(RECORDS_OFFSET + section.length);
  buf.copy(out, 0, position, position + RECORDS_OFFSET);
  out.writeInt32BE(out.length - 12, 8);
  out.writeInt16BE(attributes, ATTRIBUTES_OFFSET);
  out.writeBigInt64BE(baseTimestamp, BASE_TIMESTAMP_OFFSET);
  out.writeBigInt64BE(maxTimestamp, 35);
  out.writeInt32BE(opts.records.length, 57);
  section.copy(out, RECORDS_OFFSET);
  out.writeUInt32BE(crc32c(out.subarray(ATTRIBUTES_OFFSET)) >>> 0, CRC_OFFSET);
  return out;
}

/** The delete horizon of a batch (KIP-534), or null when it has none. */
export function deleteHorizonOf(h: BatchHeader): bigint | null {
  return (h.attributes & DELETE_HORIZON_MASK) !== 0 ? h.baseTimestamp : null;
}
