/**
 * RecordBatch v2 (magic 2) header access and validation. Batches are treated as opaque bytes:
 * the broker only reads the 61-byte header, checks it, and patches fields in place.
 *
 * Byte format (big-endian), offsets from the start of the batch:
 *   baseOffset i64 @0 | batchLength i32 @8 (batch size = batchLength + 12) |
 *   partitionLeaderEpoch i32 @12 | magic i8 @16 | crc u32 @17 (CRC-32C of bytes 21..end) |
 *   attributes i16 @21 (bits 0-2 codec, bit 3 timestamp type, bit 4 transactional, bit 5 control) |
 *   lastOffsetDelta i32 @23 | baseTimestamp i64 @27 | maxTimestamp i64 @35 | producerId i64 @43 |
 *   producerEpoch i16 @51 | baseSequence i32 @53 | recordsCount i32 @57 | records @61
 *
 * baseOffset and partitionLeaderEpoch are outside the CRC, so stamping them needs no CRC update;
 * the LogAppendTime stamp (attributes + maxTimestamp) is inside it and recomputes the CRC.
 * Nothing here keeps state; functions may be called from anywhere.
 */
import { crc32c } from '@node-rs/crc32';
import { KafkaError } from '../errors.ts';

export const BASE_OFFSET_OFFSET = 0;
export const LENGTH_OFFSET = 8;
export const PARTITION_LEADER_EPOCH_OFFSET = 12;
export const MAGIC_OFFSET = 16;
export const CRC_OFFSET = 17;
export const ATTRIBUTES_OFFSET = 21;
export const LAST_OFFSET_DELTA_OFFSET = 23;
export const BASE_TIMESTAMP_OFFSET = 27;
export const MAX_TIMESTAMP_OFFSET = 35;
export const PRODUCER_ID_OFFSET = 43;
export const PRODUCER_EPOCH_OFFSET = 51;
export const BASE_SEQUENCE_OFFSET = 53;
export const RECORDS_COUNT_OFFSET = 57;
export const RECORDS_OFFSET = 61;
/** Size of baseOffset + batchLength, the part not counted by batchLength. */
export const LOG_OVERHEAD = 12;
export const BATCH_HEADER_SIZE = RECORDS_OFFSET;

export const COMPRESSION_CODEC_MASK = 0x07;
export const TIMESTAMP_TYPE_MASK = 0x08;
export const TRANSACTIONAL_MASK = 0x10;
export const CONTROL_MASK = 0x20;

export const NO_PRODUCER_ID = -1n;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;
export const NO_PARTITION_LEADER_EPOCH = -1;

/** The header fields the log uses. */
export interface BatchHeader {
  /** Position of the batch in the buffer it was read from. */
  readonly position: number;
  readonly baseOffset: bigint;
  /** Whole batch size in bytes (batchLength + 12). */
  readonly size: number;
  readonly partitionLeaderEpoch: number;
  readonly magic: number;
  readonly crc: number;
  readonly attributes: number;
  readonly lastOffsetDelta: number;
  readonly baseTimestamp: bigint;
  readonly maxTimestamp: bigint;
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly recordsCount: number;
}

export function lastOffsetOf(h: BatchHeader): bigint {
  return h.baseOffset + BigInt(h.lastOffsetDelta);
}

export function isControl(h: BatchHeader): boolean {
  return (h.attributes & CONTROL_MASK) !== 0;
}

export function isTransactional(h: BatchHeader): boolean {
  return (h.attributes & TRANSACTIONAL_MASK) !== 0;
}

/** Last sequence number of a batch, wrapping at int32 max like Kafka's DefaultRecordBatch. */
export function lastSequenceOf(h: BatchHeader): number {
  if (h.baseSequence === NO_SEQUENCE) return NO_SEQUENCE;
  return incrementSequence(h.baseSequence, h.lastOffsetDelta);
}

export function incrementSequence(sequence: number, increment: number): number {
  if (sequence > 0x7fffffff - increment) return increment - (0x7fffffff - sequence) - 1;
  return sequence + increment;
}

/**
 * Reads the header of the batch at `position`. The caller guarantees that at least
 * BATCH_HEADER_SIZE bytes are available there.
 */
export function readBatchHeader(buf: Buffer, position: number): BatchHeader {
  return {
    position,
    baseOffset: buf.readBigInt64BE(position + BASE_OFFSET_OFFSET),
    size: buf.readInt32BE(position + LENGTH_OFFSET) + LOG_OVERHEAD,
    partitionLeaderEpoch: buf.readInt32BE(position + PARTITION_LEADER_EPOCH_OFFSET),
    magic: buf.readInt8(position + MAGIC_OFFSET),
    crc: buf.readUInt32BE(position + CRC_OFFSET),
    attributes: buf.readInt16BE(position + ATTRIBUTES_OFFSET),
    lastOffsetDelta: buf.readInt32BE(position + LAST_OFFSET_DELTA_OFFSET),
    baseTimestamp: buf.readBigInt64BE(position + BASE_TIMESTAMP_OFFSET),
    maxTimestamp: buf.readBigInt64BE(position + MAX_TIMESTAMP_OFFSET),
    producerId: buf.readBigInt64BE(position + PRODUCER_ID_OFFSET),
    producerEpoch: buf.readInt16BE(position + PRODUCER_EPOCH_OFFSET),
    baseSequence: buf.readInt32BE(position + BASE_SEQUENCE_OFFSET),
    recordsCount: buf.readInt32BE(position + RECORDS_COUNT_OFFSET),
  };
}

/** CRC-32C of bytes 21..end of the batch at `position` with `size` bytes. */
export function computeBatchCrc(buf: Buffer, position: number, size: number): number {
  return crc32c(buf.subarray(position + ATTRIBUTES_OFFSET, position + size)) >>> 0;
}

/**
 * Why a batch at some position of a stored segment cannot be used, or null when it is whole
 * and valid. Used by recovery: the first non-null answer marks where the log must be truncated.
 * `available` is how many bytes of the file there are from `position`.
 */
export function storedBatchProblem(buf: Buffer, position: number, available: number): string | null {
  if (available < LOG_OVERHEAD) return `only ${available} bytes left, less than a batch length prefix`;
  const size = buf.readInt32BE(position + LENGTH_OFFSET) + LOG_OVERHEAD;
  if (size < BATCH_HEADER_SIZE) return `batch size ${size} smaller than the ${BATCH_HEADER_SIZE}-byte header`;
  if (size > available) return `batch of ${size} bytes but only ${available} bytes left (torn write)`;
  const magic = buf.readInt8(position + MAGIC_OFFSET);
  if (magic !== 2) return `magic ${magic}, expected 2`;
  const stored = buf.readUInt32BE(position + CRC_OFFSET);
  const actual = computeBatchCrc(buf, position, size);
  if (stored !== actual) return `CRC mismatch: stored ${stored}, computed ${actual}`;
  return null;
}

/** Record sets of produce requests whose every batch a worker found whole and CRC-valid (batch-pool.ts). */
const crcVerified = new WeakSet<Buffer>();

/**
 * Marks `records` (the very Buffer later given to validateClientBatches) as verified by a
 * BatchWorkerPool worker: validateClientBatches then skips recomputing its batches' CRCs.
 */
export function markCrcVerified(records: Buffer): void {
  crcVerified.add(records);
}

export interface ValidateOptions {
  /** max.message.bytes: the largest batch accepted. */
  readonly maxBatchBytes: number;
  /**
   * A coordinator's own write (Kafka's AppendOrigin.COORDINATOR): transactional offset commits
   * carry the producer's id and epoch but no sequence.
   */
  readonly coordinator?: boolean;
}

/**
 * Splits a produce request's `records` into batches and validates each the way Kafka checks
 * client batches (the CRC only when no worker verified it: markCrcVerified). Throws KafkaError (CORRUPT_MESSAGE, MESSAGE_TOO_LARGE, INVALID_RECORD,
 * UNSUPPORTED_FOR_MESSAGE_FORMAT) on the first problem; never modifies `records`.
 */
export function validateClientBatches(records: Buffer, opts: ValidateOptions): BatchHeader[] {
  const batches: BatchHeader[] = [];
  let position = 0;
  if (records.length === 0) throw new KafkaError('CORRUPT_MESSAGE', 'empty record set');
  const preVerified = crcVerified.has(records);
  while (position < records.length) {
    const left = records.length - position;
    if (left < BATCH_HEADER_SIZE) {
      throw new KafkaError('CORRUPT_MESSAGE', `${left} trailing bytes at position ${position}, less than a batch header`);
    }
    const size = records.readInt32BE(position + LENGTH_OFFSET) + LOG_OVERHEAD;
    if (size < BATCH_HEADER_SIZE) {
      throw new KafkaError('CORRUPT_MESSAGE', `batch at position ${position} declares size ${size}, smaller than its header`);
    }
    if (size > opts.maxBatchBytes) {
      throw new KafkaError('MESSAGE_TOO_LARGE', `batch of ${size} bytes exceeds max.message.bytes ${opts.maxBatchBytes}`);
    }
    if (size > left) {
      throw new KafkaError('CORRUPT_MESSAGE', `batch at position ${position} declares ${size} bytes but only ${left} remain`);
    }
    const h = readBatchHeader(records, position);
    if (h.magic !== 2) {
      throw new KafkaError('UNSUPPORTED_FOR_MESSAGE_FORMAT', `batch at position ${position} has magic ${h.magic}; only v2 is accepted`);
    }
    if (!preVerified) {
      const crc = computeBatchCrc(records, position, size);
      if (crc !== h.crc) {
        throw new KafkaError('CORRUPT_MESSAGE', `batch at position ${position}: CRC-32C ${crc} does not match stored ${h.crc}`);
      }
    }
    if (h.recordsCount <= 0 || h.lastOffsetDelta + 1 !== h.recordsCount) {
      throw new KafkaError('CORRUPT_MESSAGE',
        `batch at position ${position}: lastOffsetDelta ${h.lastOffsetDelta} + 1 != recordsCount ${h.recordsCount} (must be > 0)`);
    }
    if (isControl(h)) throw new KafkaError('INVALID_RECORD', 'clients may not produce control batches');
    if (h.producerId >= 0n && h.baseSequence < 0 && !opts.coordinator) {
      throw new KafkaError('INVALID_RECORD', `batch with producerId ${h.producerId} has invalid baseSequence ${h.baseSequence}`);
    }
    batches.push(h);
    position += size;
  }
  return batches;
}

/**
 * Splits and checks batches replicated from a leader (offsets already assigned): whole batches,
 * magic 2, valid CRC, lastOffsetDelta >= 0, base offsets >= `logEndOffset` and increasing.
 * Throws KafkaError('CORRUPT_MESSAGE') on any problem; never modifies `records`.
 */
export function validateReplicatedBatches(records: Buffer, logEndOffset: bigint, name: string): BatchHeader[] {
  const batches: BatchHeader[] = [];
  let position = 0;
  let next = logEndOffset;
  if (records.length === 0) throw new KafkaError('CORRUPT_MESSAGE', `${name}: empty replicated record set`);
  while (position < records.length) {
    const problem = storedBatchProblem(records, position, records.length - position);
    if (problem) throw new KafkaError('CORRUPT_MESSAGE', `${name}: replicated batch at position ${position}: ${problem}`);
    const h = readBatchHeader(records, position);
    if (h.lastOffsetDelta < 0) throw new KafkaError('CORRUPT_MESSAGE', `${name}: negative lastOffsetDelta at position ${position}`);
    if (h.baseOffset < next) {
      throw new KafkaError('CORRUPT_MESSAGE', `${name}: replicated batch base offset ${h.baseOffset} is below the expected ${next}`);
    }
    next = lastOffsetOf(h) + 1n;
    batches.push(h);
    position += h.size;
  }
  return batches;
}

/** Writes baseOffset and partitionLeaderEpoch into the batch at `position` (outside the CRC). */
export function stampOffsetAndEpoch(buf: Buffer, position: number, baseOffset: bigint, leaderEpoch: number): void {
  buf.writeBigInt64BE(baseOffset, position + BASE_OFFSET_OFFSET);
  buf.writeInt32BE(leaderEpoch, position + PARTITION_LEADER_EPOCH_OFFSET);
}

/**
 * message.timestamp.type=LogAppendTime: set the timestamp-type bit and maxTimestamp = now, then
 * recompute the CRC (both are inside it). Records keep their deltas; readers use maxTimestamp.
 */
export function stampLogAppendTime(buf: Buffer, position: number, size: number, now: bigint): void {
  const attributes = buf.readInt16BE(position + ATTRIBUTES_OFFSET);
  buf.writeInt16BE(attributes | TIMESTAMP_TYPE_MASK, position + ATTRIBUTES_OFFSET);
  buf.writeBigInt64BE(now, position + MAX_TIMESTAMP_OFFSET);
  buf.writeUInt32BE(computeBatchCrc(buf, position, size), position + CRC_OFFSET);
}

function readVarint(buf: Buffer, at: { pos: number }): number {
  let value = 0;
  let shift = 0;
  for (;;) {
    if (at.pos >= buf.length) throw new KafkaError('CORRUPT_MESSAGE', 'varint runs past the end of the batch');
    const b = buf[at.pos++]!;
    value |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) break;
    shift += 7;
    if (shift > 28) throw new KafkaError('CORRUPT_MESSAGE', 'varint too long');
  }
  return (value >>> 1) ^ -(value & 1);
}

function readVarlong(buf: Buffer, at: { pos: number }): bigint {
  let value = 0n;
  let shift = 0n;
  for (;;) {
    if (at.pos >= buf.length) throw new KafkaError('CORRUPT_MESSAGE', 'varlong runs past the end of the batch');
    const b = buf[at.pos++]!;
    value |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) break;
    shift += 7n;
    if (shift > 63n) throw new KafkaError('CORRUPT_MESSAGE', 'varlong too long');
  }
  return (value >> 1n) ^ -(value & 1n);
}

/**
 * For an uncompressed CreateTime batch (the whole batch in `buf` from `position`), the offset and
 * timestamp of the first record with timestamp >= target; null if none or if the batch cannot be
 * walked without decompression (compressed or LogAppendTime batches — the caller falls back to
 * batch granularity).
 */
export function firstRecordAtOrAfter(buf: Buffer, position: number, target: bigint): { offset: bigint; timestamp: bigint } | null {
  const h = readBatchHeader(buf, position);
  if ((h.attributes & COMPRESSION_CODEC_MASK) !== 0 || (h.attributes & TIMESTAMP_TYPE_MASK) !== 0) return null;
  const at = { pos: position + RECORDS_OFFSET };
  for (let i = 0; i < h.recordsCount; i++) {
    const length = readVarint(buf, at);
    const next = at.pos + length;
    at.pos += 1; // attributes int8
    const timestampDelta = readVarlong(buf, at);
    const offsetDelta = readVarint(buf, at);
    const timestamp = h.baseTimestamp + timestampDelta;
    if (timestamp >= target) return { offset: h.baseOffset + BigInt(offsetDelta), timestamp };
    at.pos = next;
  }
  return null;
}
