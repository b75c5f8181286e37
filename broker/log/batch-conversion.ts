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
 * changes, the input is never modified. The re-compression may also be done ahead, on a worker
 * thread (batch-pool.ts): the worker runs the same function on a copy of the bytes and the event
 * loop then takes its result (markConverted) instead of compressing again.
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

/** What the re-compression of a topic's batches depends on: its compression.type and levels. */
export type CompressionSettings = Pick<LogConfig, 'compressionType' | 'gzipLevel' | 'zstdLevel'>;

/** The settings `config` re-compresses with, or null when it keeps the producer's codec. */
export function recompressionOf(config: CompressionSettings): CompressionSettings | null {
  if (config.compressionType === 'producer') return null;
  return { compressionType: config.compressionType, gzipLevel: config.gzipLevel, zstdLevel: config.zstdLevel };
}

const sameSettings = (a: CompressionSettings, b: CompressionSettings): boolean =>
  a.compressionType === b.compressionType && a.gzipLevel === b.gzipLevel && a.zstdLevel === b.zstdLevel;

/** Record sets of produce requests a worker already converted, with the settings it used. */
const preConverted = new WeakMap<Buffer, { settings: CompressionSettings; records: Buffer }>();

/**
 * Records `converted` as convertCompression's result for `received` (the very Buffer later given
 * to it) under `settings`: computed by a worker thread from a copy of the same bytes. Used only
 * while the topic's settings are still these.
 */
export function markConverted(received: Buffer, settings: CompressionSettings, converted: Buffer): void {
  preConverted.set(received, { settings, records: converted });
}

/** Where convertCompression's result came from: nothing to change, computed here, or a worker's. */
export type ConvertedBy = 'unchanged' | 'event-loop' | 'worker';

/**
 * The batches as the topic stores them: re-compressed where the topic's compression.type asks for
 * another codec. Returns the input (same buffer, same headers) when nothing changes.
 */
export function convertCompression(records: Buffer, headers: readonly BatchHeader[], config: CompressionSettings): { records: Buffer; headers: BatchHeader[]; by: ConvertedBy } {
  const codec = targetCodec(config.compressionType);
  const needs = (h: BatchHeader) => codec !== null && (h.attributes & CONTROL_MASK) === 0 && (h.attributes & COMPRESSION_CODEC_MASK) !== codec;
  if (!headers.some(needs)) return { records, headers: [...headers], by: 'unchanged' };
  const ahead = preConverted.get(records);
  if (ahead !== undefined && sameSettings(ahead.settings, config)) return { records: ahead.records, headers: headersOf(ahead.records), by: 'worker' };
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
  return { records: converted, headers: headersOf(converted), by: 'event-loop' };
}

/** The headers of whole batches that tile `records`. */
export function headersOf(records: Buffer): BatchHeader[] {
  const out: BatchHeader[] = [];
  for (let position = 0; position < records.length;) {
    const h = readBatchHeader(records, position);
    out.push(h);
    position += h.size;
  }
  return out;
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
