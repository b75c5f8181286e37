/** Partition log storage: the public surface. */
export { PartitionLog } from './partition-log.ts';
export type {
  AppendOptions, AppendResult, ReadOptions, ReadPartsResult, ReadResult, RetentionResult, PartitionLogOptions,
} from './partition-log.ts';
export { ReadBufferPool, fetchReadBuffers } from './read-buffer-pool.ts';
export { defaultLogConfig, logConfigFromTopicConfigs, topicLogConfig } from './log-config.ts';
export type { LogConfig, TimestampType, CleanupPolicy, TopicConfigSource } from './log-config.ts';
export {
  readBatchHeader, validateClientBatches, lastOffsetOf, BATCH_HEADER_SIZE, LOG_OVERHEAD,
} from './record-batch.ts';
export type { BatchHeader } from './record-batch.ts';
export { UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET } from './leader-epoch-cache.ts';
export { LogCleaner, planClean } from './log-cleaner.ts';
export type {
  LogCleanerOptions, RegisterOptions, CleanResult, CleanablePlan, CleanerLogger,
} from './log-cleaner.ts';
export { HIGH_WATERMARK_CHECKPOINT, readHighWatermarks, writeHighWatermarks, hwKey } from './high-watermark-checkpoint.ts';
export type { HighWatermarks } from './high-watermark-checkpoint.ts';
export { claimPartitionDir, listPartitionDirs, PARTITION_METADATA } from './partition-metadata.ts';
