/**
 * What a leader does to a client's batches beyond checking them, as Kafka's LogValidator does:
 *
 * - compression.type other than `producer`: a batch whose codec differs is re-compressed with the
 *   topic's codec (its records section decompressed and compressed again; every header field but
 *   attributes' codec bits, batchLength and the CRC stays as the producer wrote it, so producer id,
 *   epoch and sequences survive). Control batches are left alone. snappy is written with xerial
 *   framing, as the Java broker's SnappyOutputStream writes it.
 * - message.timestamp.before.max.ms / after.max.ms on CreateTime topics: a record whose timestamp
 *   is further from the broker's clock than allowed fails the request with INVALID_TIMESTAMP and
 *   Kafka's message. When only the after bound is finite (Kafka's default), the batch's
 *   maxTimestamp (covered by the CRC) bounds every record and no record is decoded.
 *
 * Pure functions of the bytes, the config and the clock; a new buffer is returned when a batch
 * changes, the input is never modified.
 */
import { KafkaError } from '../errors.ts';
import type { CompressionType, LogConfig } from './log-config.ts';
import { COMPRESSION_CODEC_MASK, CONTROL_MASK, CRC_OFFSET, ATTRIBUTES_OFFSET, LENGTH_OFFSET, LOG_OVERHEAD, RECORDS_OFFSET, TIMESTAMP_TYPE_MASK, readBatchHeader } from './record-batch.ts';
import type { BatchHeader } from './record-batch.ts';
import { CODEC_GZIP, CODEC_LZ4, CODEC_NONE, CODEC_SNAPPY, CODEC_ZSTD, compressRecords, decompressRecords } from './compression.ts';
import { readRawRecords } from './records.ts';
import { crc32c } from '@node-rs/crc32';

const CODEC_OF: Record<Exclude<CompressionType, 'producer'>, number> = {
  uncompressed: CODEC_NONE, gzip: CODEC_GZIP, snappy: CODEC_SNAPPY, lz4: CODEC_LZ4, zstd: CODEC_ZSTD,
};

/** The codec a topic's compression.type asks for, or null for `producer` (keep the batch's). */
export function targetCodec(type: CompressionType): number | null {
  return type === 'producer' ? null : CODEC_OF[type];
}

/**
 * The batches as the topic stores them: re-compressed where the topic's compression.type asks for
 * another codec. Returns the input (same buffer, same headers) when nothing changes.
 */
export function convertCompression(records: Buffer, headers: readonly BatchHeader[], config: LogConfig): { records: Buffer; headers: BatchHeader[] } {
  const codec = targetCodec(config.compressionType);
  const needs = (h: BatchHeader) => codec !== null && (h.attributes & CONTROL_MASK) === 0 && (h.attributes & COMPRESSION_CODEC_MASK) !== codec;
  if (!headers.some(needs)) return { records, headers: [...headers] };
  const parts = headers.map((h) => {
    const batch = records.subarray(h.position, h.position + h.size);
    if (!needs(h)) return batch;
    const { bytes } = decompressRecords(h.attributes & COMPRESSION_CODEC_MASK, batch.subarray(RECORDS_OFFSET));
    const section = compressRecords(codec!, bytes, codec === CODEC_SNAPPY ? 'xerial' : 'plain', { gzip: config.gzipLevel, zstd: config.zstdLevel });
    const out = Buffer.allocUnsafe(RECORDS_OFFSET + section.length);
    batch.copy(out, 0, 0, RECORDS_OFFSET);
    section.copy(out, RECORDS_OFFSET);
    out.writeInt32BE(out.length - LOG_OVERHEAD, LENGTH_OFFSET);
    out.writeInt16BE((h.attributes & ~COMPRESSION_CODEC_MASK) | codec!, ATTRIBUTES_OFFSET);
    out.writeUInt32BE(crc32c(out.subarray(ATTRIBUTES_OFFSET)) >>> 0, CRC_OFFSET);
    return out;
  });
  const converted = Buffer.concat(parts);
  const out: BatchHeader[] = [];
  for (let position = 0; position < converted.length;) {
    const h = readBatchHeader(converted, position);
    out.push(h);
    position += h.size;
  }
  return { records: converted, headers: out };
}

/**
 * Kafka's timestamp check (LogValidator.validateTimestamp) of CreateTime batches against
 * message.timestamp.before.max.ms / after.max.ms; throws INVALID_TIMESTAMP naming the first
 * record out of range. LogAppendTime topics and records without a timestamp (-1) are not checked.
 */
export function checkTimestamps(records: Buffer, headers: readonly BatchHeader[], config: LogConfig, now: number): void {
  if (config.messageTimestampType !== 'CreateTime') return;
  const before = config.timestampBeforeMaxMs;
  const after = config.timestampAfterMaxMs;
  if (before === Infinity && after === Infinity) return;
  const low = before === Infinity ? null : BigInt(now) - BigInt(before);
  const high = after === Infinity ? null : BigInt(now) + BigInt(after);
  const outOfRange = (ts: bigint) => ts !== -1n && ((low !== null && ts < low) || (high !== null && ts > high));
  for (const h of headers) {
    if ((h.attributes & (CONTROL_MASK | TIMESTAMP_TYPE_MASK)) !== 0) continue;
    if (low === null && !outOfRange(h.maxTimestamp)) continue;
    const { records: raws } = readRawRecords(records, h.position, h);
    for (const r of raws) {
      const ts = h.baseTimestamp + BigInt(r.timestampDelta);
      if (outOfRange(ts)) {
        const range = `[${low ?? -(2n ** 63n)}, ${high ?? 2n ** 63n - 1n}]`;
        throw new KafkaError('INVALID_TIMESTAMP',
          `Timestamp ${ts} of message with offset ${h.baseOffset + BigInt(r.offsetDelta)} is out of range. The timestamp should be within ${range}`);
      }
    }
  }
}
