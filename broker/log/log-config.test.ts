import { describe, expect, test } from '@jest/globals';
import { KafkaError } from '../errors.ts';
import { defaultLogConfig, logConfigFromTopicConfigs } from './log-config.ts';

describe('logConfigFromTopicConfigs', () => {
  test('defaults match Kafka', () => {
    expect(defaultLogConfig).toMatchObject({
      retentionMs: 604800000, retentionBytes: -1, segmentBytes: 1073741824, segmentMs: 604800000, maxMessageBytes: 1048588,
      messageTimestampType: 'CreateTime', cleanupPolicy: 'delete', flushMessages: Infinity, flushMs: Infinity,
      indexIntervalBytes: 4096, segmentIndexBytes: 10485760,
      deleteRetentionMs: 86400000, minCleanableDirtyRatio: 0.5, minCompactionLagMs: 0, maxCompactionLagMs: Infinity,
    });
  });

  test('translates Kafka topic config names; Long.MAX means never; unknown keys are ignored', () => {
    const c = logConfigFromTopicConfigs({
      'retention.ms': '-1', 'retention.bytes': '1000000', 'segment.bytes': '1048576', 'segment.ms': '3600000',
      'max.message.bytes': '2000000', 'message.timestamp.type': 'LogAppendTime', 'cleanup.policy': 'delete,compact',
      'flush.messages': '1', 'flush.ms': '9223372036854775807', 'index.interval.bytes': '100', 'segment.index.bytes': '4096',
      'min.insync.replicas': '2', 'delete.retention.ms': '1000', 'min.cleanable.dirty.ratio': '0.25',
      'min.compaction.lag.ms': '5000', 'max.compaction.lag.ms': '9223372036854775807',
      'compression.type': 'zstd', 'compression.gzip.level': '9', 'compression.zstd.level': '-5', 'file.delete.delay.ms': '0',
      'message.timestamp.before.max.ms': '86400000', 'message.timestamp.after.max.ms': '9223372036854775807',
    });
    expect(c).toEqual({
      retentionMs: -1, retentionBytes: 1000000, segmentBytes: 1048576, segmentMs: 3600000, maxMessageBytes: 2000000,
      messageTimestampType: 'LogAppendTime', cleanupPolicy: 'compact,delete', flushMessages: 1, flushMs: Infinity,
      indexIntervalBytes: 100, segmentIndexBytes: 4096,
      deleteRetentionMs: 1000, minCleanableDirtyRatio: 0.25, minCompactionLagMs: 5000, maxCompactionLagMs: Infinity,
      compressionType: 'zstd', gzipLevel: 9, zstdLevel: -5, fileDeleteDelayMs: 0, timestampBeforeMaxMs: 86400000, timestampAfterMaxMs: Infinity,
    });
  });

  test.each([
    ['retention.ms', 'abc'], ['retention.ms', '-2'], ['segment.bytes', '10'], ['segment.bytes', '3000000000'],
    ['flush.messages', '0'], ['message.timestamp.type', 'Now'], ['cleanup.policy', 'forever'], ['max.message.bytes', '1.5'],
    ['min.cleanable.dirty.ratio', '1.5'], ['min.cleanable.dirty.ratio', 'half'], ['delete.retention.ms', '-1'], ['max.compaction.lag.ms', '0'],
    ['compression.type', 'brotli'], ['message.timestamp.after.max.ms', '-1'], ['file.delete.delay.ms', '-1'],
  ])('%s=%s is INVALID_CONFIG naming the key', (key, value) => {
    let error: unknown;
    try { logConfigFromTopicConfigs({ [key]: value }); } catch (err) { error = err; }
    expect(error).toBeInstanceOf(KafkaError);
    expect((error as KafkaError).errorName).toBe('INVALID_CONFIG');
    expect((error as KafkaError).message).toContain(key);
  });
});
