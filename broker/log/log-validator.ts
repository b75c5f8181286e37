/**
 * What a partition log accepts (Kafka's LogValidator): the checks an append makes before it
 * assigns offsets. Pure functions of the bytes, the topic's config and the log end; they throw
 * the Kafka error a producer or a follower gets, and the log is untouched when they do.
 *
 * - From a client (Produce): every batch whole, magic v2, CRC-valid and within
 *   max.message.bytes (record-batch.ts validateClientBatches); the request within segment.bytes
 *   (RECORD_LIST_TOO_LARGE); on a compacted topic, no record without a key (INVALID_RECORD,
 *   decompressing compressed batches to check, as Kafka does).
 *   Then the batches are converted as the topic stores them (batch-conversion.ts: timestamps
 *   checked, re-compressed to compression.type, MESSAGE_TOO_LARGE if that outgrows
 *   max.message.bytes): prepareClientAppend.
 * - From a leader (replication): batches as stored, base offsets increasing from the log end
 *   (validateReplicatedBatches), and within segment.bytes.
 * - Retention: which of the oldest segments retention.ms / retention.bytes let go.
 */
import { KafkaError } from '../errors.ts';
import type { LogConfig } from './log-config.ts';
import type { LogSegment } from './log-segment.ts';
import { lastOffsetOf, validateClientBatches, validateReplicatedBatches, type BatchHeader } from './record-batch.ts';
import { firstKeylessRecord } from './records.ts';
import { checkTimestamps, convertCompression } from './batch-conversion.ts';

/** The headers of a produce request's batches for partition `name`, once it may be appended. */
export function checkClientAppend(records: Buffer, config: LogConfig, name: string, coordinator = false): BatchHeader[] {
  const headers = validateClientBatches(records, { maxBatchBytes: config.maxMessageBytes, coordinator });
  checkSegmentFits(records, config, name);
  if (config.cleanupPolicy !== 'delete') {
    headers.forEach((h, batchIndex) => {
      const record = firstKeylessRecord(records, h.position, h);
      if (record >= 0) {
        throw new KafkaError('INVALID_RECORD',
          `Compacted topic cannot accept message without key in topic partition ${name} (batch ${batchIndex}, record ${record}).`);
      }
    });
  }
  return headers;
}

/**
 * A produce request's batches for partition `name` as the log will store them (the input buffer
 * itself, or a re-compressed copy), with their headers, once they may be appended at `now`.
 */
export function prepareClientAppend(received: Buffer, config: LogConfig, name: string, coordinator: boolean, now: number): { records: Buffer; headers: BatchHeader[] } {
  const checked = checkClientAppend(received, config, name, coordinator);
  checkTimestamps(received, checked, config, now);
  const converted = convertCompression(received, checked, config);
  if (converted.records !== received) {
    const big = converted.headers.find((h) => h.size > config.maxMessageBytes);
    if (big) throw new KafkaError('MESSAGE_TOO_LARGE', `${name}: re-compressed batch of ${big.size} bytes exceeds max.message.bytes ${config.maxMessageBytes}`);
  }
  return converted;
}

/** Batches replicated from the leader as they are (Kafka's LogAppendInfo of them). */
export interface ReplicatedAppend {
  readonly headers: BatchHeader[];
  readonly firstOffset: bigint;
  readonly lastOffset: bigint;
  /** The largest batch maxTimestamp. */
  readonly maxTimestamp: bigint;
  readonly recordCount: number;
}

/** Batches replicated from the leader, once they may be appended at `logEndOffset`. */
export function checkReplicatedAppend(records: Buffer, logEndOffset: bigint, config: LogConfig, name: string): ReplicatedAppend {
  const headers = validateReplicatedBatches(records, logEndOffset, name);
  checkSegmentFits(records, config, name);
  let maxTimestamp = -1n;
  let recordCount = 0;
  for (const h of headers) {
    if (h.maxTimestamp > maxTimestamp) maxTimestamp = h.maxTimestamp;
    recordCount += h.lastOffsetDelta + 1;
  }
  return { headers, firstOffset: headers[0]!.baseOffset, lastOffset: lastOffsetOf(headers.at(-1)!), maxTimestamp, recordCount };
}

function checkSegmentFits(records: Buffer, config: LogConfig, name: string): void {
  if (records.length > config.segmentBytes) {
    throw new KafkaError('RECORD_LIST_TOO_LARGE', `${name}: ${records.length} bytes exceed segment.bytes ${config.segmentBytes}`);
  }
}

/**
 * Retention's verdict on the oldest segments, asked oldest first: true while retention.ms (the
 * segment's largest timestamp is older) or retention.bytes (the log stays at or above it without
 * the segment) lets the segment go. Nothing goes unless cleanup.policy includes delete.
 */
export function retentionVerdict(config: LogConfig, sizeInBytes: number, now: number): (seg: LogSegment) => boolean {
  const deleteAllowed = config.cleanupPolicy.includes('delete');
  const retentionMs = config.retentionMs;
  const retentionBytes = config.retentionBytes;
  let excess = sizeInBytes - retentionBytes;
  return (seg) => {
    if (!deleteAllowed) return false;
    if (retentionMs >= 0 && retentionMs !== Infinity && now - seg.largestTimestamp > retentionMs) {
      excess -= seg.size;
      return true;
    }
    if (retentionBytes >= 0 && excess - seg.size >= 0) {
      excess -= seg.size;
      return true;
    }
    return false;
  };
}
