/**
 * Per-topic log configuration, named after Kafka's topic configs. Values in milliseconds and
 * bytes are plain numbers (all fit in a double exactly below 2^53); `Infinity` stands for Kafka's
 * Long.MAX_VALUE ("never") and -1 keeps Kafka's "unlimited" meaning where Kafka uses it.
 */
import { KafkaError } from '../errors.ts';

export type TimestampType = 'CreateTime' | 'LogAppendTime';
export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete';
/** compression.type: `producer` keeps each batch's codec; any other re-compresses batches with another codec. */
export type CompressionType = 'producer' | 'uncompressed' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
const COMPRESSION_TYPES: readonly CompressionType[] = ['producer', 'uncompressed', 'gzip', 'snappy', 'lz4', 'zstd'];

export interface LogConfig {
  /** retention.ms; -1 keeps data forever. */
  readonly retentionMs: number;
  /** retention.bytes; -1 means no size limit. */
  readonly retentionBytes: number;
  /** segment.bytes: roll when the active segment would exceed this. */
  readonly segmentBytes: number;
  /** segment.ms: roll when the active segment's first timestamp is this old. */
  readonly segmentMs: number;
  /** max.message.bytes: largest record batch accepted. */
  readonly maxMessageBytes: number;
  readonly messageTimestampType: TimestampType;
  readonly cleanupPolicy: CleanupPolicy;
  /** flush.messages: fsync once this many messages are unflushed (1 = every append). Infinity = never. */
  readonly flushMessages: number;
  /** flush.ms: fsync data older than this. Infinity = never. */
  readonly flushMs: number;
  /** index.interval.bytes: bytes between offset/time index entries. */
  readonly indexIntervalBytes: number;
  /** segment.index.bytes: roll when an offset index reaches this size. */
  readonly segmentIndexBytes: number;
  /** delete.retention.ms: how long a tombstone survives after the clean that first kept it. */
  readonly deleteRetentionMs: number;
  /** min.cleanable.dirty.ratio: clean once dirty bytes / cleanable bytes reach this (0..1). */
  readonly minCleanableDirtyRatio: number;
  /** min.compaction.lag.ms: a record stays uncompacted at least this long. */
  readonly minCompactionLagMs: number;
  /** max.compaction.lag.ms: a record is compacted (and its segment rolled) within this long. Infinity = no bound. */
  readonly maxCompactionLagMs: number;
  /** compression.type: the codec stored batches get from a client append. */
  readonly compressionType: CompressionType;
  /** compression.gzip.level (-1: zlib's default) and compression.zstd.level, for re-compressed batches. */
  readonly gzipLevel: number;
  readonly zstdLevel: number;
  /** message.timestamp.before.max.ms / after.max.ms: how far a CreateTime record may be from the broker's clock. Infinity = no bound. */
  readonly timestampBeforeMaxMs: number;
  readonly timestampAfterMaxMs: number;
  /** file.delete.delay.ms: how long a segment removed by retention stays on disk (renamed .deleted). */
  readonly fileDeleteDelayMs: number;
}

export const defaultLogConfig: LogConfig = Object.freeze({
  retentionMs: 7 * 24 * 60 * 60 * 1000,
  retentionBytes: -1,
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * 24 * 60 * 60 * 1000,
  maxMessageBytes: 1048588,
  messageTimestampType: 'CreateTime',
  cleanupPolicy: 'delete',
  flushMessages: Infinity,
  flushMs: Infinity,
  indexIntervalBytes: 4096,
  segmentIndexBytes: 10 * 1024 * 1024,
  deleteRetentionMs: 24 * 60 * 60 * 1000,
  minCleanableDirtyRatio: 0.5,
  minCompactionLagMs: 0,
  maxCompactionLagMs: Infinity,
  compressionType: 'producer',
  gzipLevel: -1,
  zstdLevel: 3,
  timestampBeforeMaxMs: Infinity,
  // No bound in the log layer alone; the broker's catalogue (config.ts) supplies Kafka's 1 h default.
  timestampAfterMaxMs: Infinity,
  fileDeleteDelayMs: 60_000,
});

const INT32_MAX = 0x7fffffff;
const LONG_MAX = 9223372036854775807n;

function parseLong(name: string, value: string, min: number): number {
  const trimmed = value.trim();
  if (!/^-?\d+$/.test(trimmed)) throw new KafkaError('INVALID_CONFIG', `${name}=${value}: not an integer`);
  if (trimmed.length <= 15) {
    // exact as a double (below 2^53): the common case, parsed thousands of times when topics are created in bulk
    const n = Number(trimmed);
    if (n < min) throw new KafkaError('INVALID_CONFIG', `${name}=${value}: must be >= ${min}`);
    return n;
  }
  const big = BigInt(trimmed);
  if (big < BigInt(min)) throw new KafkaError('INVALID_CONFIG', `${name}=${value}: must be >= ${min}`);
  if (big > LONG_MAX) throw new KafkaError('INVALID_CONFIG', `${name}=${value}: larger than a long`);
  // Long.MAX_VALUE (and anything not exactly representable) means "no limit".
  return big >= LONG_MAX || big > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(big);
}

function parseRatio(name: string, value: string): number {
  const n = Number(value.trim());
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) {
    throw new KafkaError('INVALID_CONFIG', `${name}=${value}: must be a number between 0 and 1`);
  }
  return n;
}

function parseInt32(name: string, value: string, min: number): number {
  const n = parseLong(name, value, min);
  if (n > INT32_MAX) throw new KafkaError('INVALID_CONFIG', `${name}=${value}: larger than an int (${INT32_MAX})`);
  return n;
}

/**
 * Translates Kafka topic configs (`retention.ms`, `segment.bytes`, ...) into a LogConfig on top
 * of `base`. Unknown keys are ignored (they belong to other layers, e.g. min.insync.replicas);
 * invalid values throw KafkaError('INVALID_CONFIG') naming the key and value.
 */
export function logConfigFromTopicConfigs(map: Readonly<Record<string, string>>, base: LogConfig = defaultLogConfig): LogConfig {
  const c: { -readonly [K in keyof LogConfig]: LogConfig[K] } = { ...base };
  for (const [key, value] of Object.entries(map)) {
    switch (key) {
      case 'retention.ms': c.retentionMs = parseLong(key, value, -1); break;
      case 'retention.bytes': c.retentionBytes = parseLong(key, value, -1); break;
      case 'segment.bytes': c.segmentBytes = parseInt32(key, value, 14); break;
      case 'segment.ms': c.segmentMs = parseLong(key, value, 1); break;
      case 'max.message.bytes': c.maxMessageBytes = parseInt32(key, value, 0); break;
      case 'flush.messages': c.flushMessages = parseLong(key, value, 1); break;
      case 'flush.ms': c.flushMs = parseLong(key, value, 0); break;
      case 'index.interval.bytes': c.indexIntervalBytes = parseInt32(key, value, 0); break;
      case 'segment.index.bytes': c.segmentIndexBytes = parseInt32(key, value, 4); break;
      case 'delete.retention.ms': c.deleteRetentionMs = parseLong(key, value, 0); break;
      case 'min.cleanable.dirty.ratio': c.minCleanableDirtyRatio = parseRatio(key, value); break;
      case 'min.compaction.lag.ms': c.minCompactionLagMs = parseLong(key, value, 0); break;
      case 'max.compaction.lag.ms': c.maxCompactionLagMs = parseLong(key, value, 1); break;
      case 'compression.type':
        if (!(COMPRESSION_TYPES as readonly string[]).includes(value)) {
          throw new KafkaError('INVALID_CONFIG', `${key}=${value}: must be one of ${COMPRESSION_TYPES.join(', ')}`);
        }
        c.compressionType = value as CompressionType;
        break;
      case 'compression.gzip.level': c.gzipLevel = parseInt32(key, value, -1); break;
      case 'compression.zstd.level': c.zstdLevel = parseInt32(key, value, -131072); break;
      case 'message.timestamp.before.max.ms': c.timestampBeforeMaxMs = parseLong(key, value, 0); break;
      case 'message.timestamp.after.max.ms': c.timestampAfterMaxMs = parseLong(key, value, 0); break;
      case 'file.delete.delay.ms': c.fileDeleteDelayMs = parseLong(key, value, 0); break;
      case 'message.timestamp.type':
        if (value !== 'CreateTime' && value !== 'LogAppendTime') {
          throw new KafkaError('INVALID_CONFIG', `${key}=${value}: must be CreateTime or LogAppendTime`);
        }
        c.messageTimestampType = value;
        break;
      case 'cleanup.policy': {
        const parts = [...new Set(value.split(',').map((s) => s.trim()))].sort();
        const joined = parts.join(',');
        if (joined !== 'delete' && joined !== 'compact' && joined !== 'compact,delete') {
          throw new KafkaError('INVALID_CONFIG', `${key}=${value}: must be delete, compact or compact,delete`);
        }
        c.cleanupPolicy = joined;
        break;
      }
      default: break;
    }
  }
  return Object.freeze(c);
}

/** What topicLogConfig needs of the broker's settings (BrokerSettings). */
export interface TopicConfigSource {
  topicConfigs(overrides: Readonly<Record<string, string>>): Record<string, string>;
  derive<T>(key: string, make: () => T): T;
}

/**
 * A topic's effective configs (its overrides over the broker's topic defaults) and the LogConfig
 * they make, computed once per distinct set of overrides until the broker's settings change. Both
 * are shared between topics: read them, never modify them. Throws as logConfigFromTopicConfigs.
 */
export function topicLogConfig(settings: TopicConfigSource, overrides: Readonly<Record<string, string>>): { effective: Readonly<Record<string, string>>; logConfig: LogConfig } {
  return settings.derive(`topic-log-config:${JSON.stringify(overrides)}`, () => {
    const effective = Object.freeze(settings.topicConfigs(overrides));
    return { effective, logConfig: logConfigFromTopicConfigs(effective) };
  });
}
