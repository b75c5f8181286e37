/**
 * Broker and topic configuration: one catalogue of the Kafka config names Brook understands,
 * their defaults, types and documentation. Broker settings come from a properties file and
 * `--set key=value`; a topic's effective config is its own overrides over the broker's
 * `log.*` defaults, exactly as Kafka resolves them (and as DescribeConfigs reports them).
 */
import { readFileSync } from 'node:fs';
import { KafkaError } from './errors.ts';

export type ConfigType = 'boolean' | 'int' | 'long' | 'string' | 'list';

export interface BrokerSetting {
  readonly name: string;
  readonly type: ConfigType;
  readonly default: string | null;
  readonly doc: string;
  /** Settable at run time through the Kafka API (a dynamic broker config, kept in the metadata store). */
  readonly dynamic?: boolean;
}

export interface TopicSetting {
  readonly name: string;
  readonly type: ConfigType;
  /** The broker setting that supplies the default (Kafka's "synonym"); null: none, `default` applies. */
  readonly brokerSynonym: string | null;
  readonly default?: string;
  readonly doc: string;
  readonly validValues?: readonly string[];
  /** A value must match this (whole). */
  readonly pattern?: RegExp;
}

const LONG_MAX = '9223372036854775807';

/** Kafka's throttled-replicas list: `*`, or `partition:broker` entries comma-separated (empty: none). */
const THROTTLED_REPLICAS = /^(\*|(\s*\d+\s*:\s*\d+\s*)(,\s*\d+\s*:\s*\d+\s*)*)?$/;

export const brokerSettings: readonly BrokerSetting[] = [
  { name: 'auto.create.topics.enable', type: 'boolean', default: 'true', doc: 'Create a topic (num.partitions, default.replication.factor) when a client asks for metadata of, or produces to, a topic that does not exist. On by default, as in Kafka; set false to have topics only declared (Topic resources or CreateTopics).' },
  { name: 'num.partitions', type: 'int', default: '1', doc: 'Partitions of auto-created topics and of CreateTopics requests that leave the count to the broker (-1).' },
  { name: 'default.replication.factor', type: 'int', default: '1', doc: 'Replication factor of auto-created topics and of CreateTopics requests that leave it to the broker (-1).' },
  { name: 'delete.topic.enable', type: 'boolean', default: 'true', doc: 'Allow DeleteTopics.' },
  { name: 'message.max.bytes', type: 'int', default: '1048588', doc: 'Largest record batch the broker accepts (topic: max.message.bytes).' },
  { name: 'log.segment.bytes', type: 'int', default: '1073741824', doc: 'Segment size at which a new segment is rolled (topic: segment.bytes).' },
  { name: 'log.roll.ms', type: 'long', default: '604800000', doc: 'Age at which the active segment is rolled even if not full (topic: segment.ms).' },
  { name: 'log.retention.ms', type: 'long', default: '604800000', doc: 'Delete segments whose newest record is older than this; -1 keeps them forever (topic: retention.ms).' },
  { name: 'log.retention.bytes', type: 'long', default: '-1', doc: 'Delete old segments while a partition is larger than this; -1 means no size limit (topic: retention.bytes).' },
  { name: 'log.retention.check.interval.ms', type: 'long', default: '300000', doc: 'How often retention is enforced.' },
  { name: 'log.flush.interval.messages', type: 'long', default: LONG_MAX, doc: 'fsync after this many messages; 1 makes every acknowledged batch durable before the response (topic: flush.messages).' },
  { name: 'log.flush.interval.ms', type: 'long', default: LONG_MAX, doc: 'fsync data older than this (topic: flush.ms).' },
  { name: 'log.message.timestamp.type', type: 'string', default: 'CreateTime', doc: 'CreateTime keeps the producer\'s timestamps; LogAppendTime stamps the broker\'s clock (topic: message.timestamp.type).' },
  { name: 'log.index.interval.bytes', type: 'int', default: '4096', doc: 'Bytes of log between offset-index entries (topic: index.interval.bytes).' },
  { name: 'log.index.size.max.bytes', type: 'int', default: '10485760', doc: 'Maximum size of an offset index file (topic: segment.index.bytes).' },
  { name: 'log.cleanup.policy', type: 'list', default: 'delete', doc: 'delete (retention) or compact (topic: cleanup.policy).' },
  { name: 'log.cleaner.delete.retention.ms', type: 'long', default: '86400000', doc: 'How long tombstones are kept on compacted topics (topic: delete.retention.ms).' },
  { name: 'log.cleaner.enable', type: 'boolean', default: 'true', doc: 'Run the log cleaner, which compacts topics with cleanup.policy=compact.' },
  { name: 'log.cleaner.backoff.ms', type: 'long', default: '15000', doc: 'How long the log cleaner sleeps when no log needs cleaning.' },
  { name: 'log.cleaner.min.cleanable.ratio', type: 'string', default: '0.5', doc: 'A log is cleaned once its dirty bytes reach this fraction of its cleanable bytes; a number from 0 to 1 (topic: min.cleanable.dirty.ratio).' },
  { name: 'log.cleaner.min.compaction.lag.ms', type: 'long', default: '0', doc: 'A record stays uncompacted at least this long (topic: min.compaction.lag.ms).' },
  { name: 'log.cleaner.max.compaction.lag.ms', type: 'long', default: LONG_MAX, doc: 'A record is compacted at most this long after it was written (topic: max.compaction.lag.ms).' },
  { name: 'min.insync.replicas', type: 'int', default: '1', doc: 'Replicas that must be in sync for acks=all writes (topic: min.insync.replicas).' },
  { name: 'unclean.leader.election.enable', type: 'boolean', default: 'false', doc: 'Allow an out-of-sync replica to become leader, losing data (topic: unclean.leader.election.enable).' },
  { name: 'compression.type', type: 'string', default: 'producer', doc: 'Batches are stored as the producer compressed them (topic: compression.type).' },
  { name: 'socket.request.max.bytes', type: 'int', default: '104857600', doc: 'Largest request frame; larger frames close the connection.' },
  { name: 'fetch.max.bytes', type: 'int', default: '57671680', doc: 'Upper bound on the bytes one Fetch response returns.' },
  { name: 'offsets.topic.num.partitions', type: 'int', default: '50', doc: 'Partitions of __consumer_offsets (fixed once the topic exists).' },
  { name: 'offsets.topic.replication.factor', type: 'int', default: '3', doc: 'Replication factor of __consumer_offsets. The topic is created on the first FindCoordinator once this many brokers are alive; until then groups get COORDINATOR_NOT_AVAILABLE. A single-broker setup needs 1.' },
  { name: 'offsets.commit.timeout.ms', type: 'int', default: '5000', doc: 'An offset commit or group state write is answered once every in-sync replica of its __consumer_offsets partition has it (acks=all); past this wait the client gets COORDINATOR_NOT_AVAILABLE and retries.' },
  { name: 'offsets.topic.segment.bytes', type: 'int', default: '104857600', doc: 'Segment size of __consumer_offsets, kept small so compaction runs often.' },
  { name: 'transaction.state.log.num.partitions', type: 'int', default: '50', doc: 'Partitions of __transaction_state (fixed once the topic exists).' },
  { name: 'transaction.state.log.replication.factor', type: 'int', default: '3', doc: 'Replication factor of __transaction_state. The topic is created on the first FindCoordinator for a transactional id once this many brokers are alive; until then producers get COORDINATOR_NOT_AVAILABLE. A single-broker setup needs 1.' },
  { name: 'transaction.state.log.min.isr', type: 'int', default: '2', doc: 'min.insync.replicas of __transaction_state: a transaction state change is acknowledged once this many replicas have it.' },
  { name: 'transaction.state.log.segment.bytes', type: 'int', default: '104857600', doc: 'Segment size of __transaction_state, kept small so compaction runs often.' },
  { name: 'transaction.max.timeout.ms', type: 'int', default: '900000', doc: 'Largest transaction.timeout.ms a producer may ask for (INVALID_TRANSACTION_TIMEOUT above it).' },
  { name: 'transaction.abort.timed.out.transaction.cleanup.interval.ms', type: 'int', default: '10000', doc: 'How often the transaction coordinator aborts transactions open longer than their timeout.' },
  { name: 'transaction.state.log.write.timeout.ms', type: 'int', default: '5000', doc: 'How long a transaction state write waits for the in-sync replicas before the client is told to retry (COORDINATOR_NOT_AVAILABLE).' },
  { name: 'offsets.retention.minutes', type: 'int', default: '10080', doc: 'Committed offsets of an empty group expire this long after their commit.' },
  { name: 'offsets.retention.check.interval.ms', type: 'long', default: '600000', doc: 'How often expired offsets are removed.' },
  { name: 'offset.metadata.max.bytes', type: 'int', default: '4096', doc: 'Largest metadata string stored with a committed offset.' },
  { name: 'group.min.session.timeout.ms', type: 'int', default: '6000', doc: 'Smallest session timeout a consumer may ask for.' },
  { name: 'group.max.session.timeout.ms', type: 'int', default: '1800000', doc: 'Largest session timeout a consumer may ask for.' },
  { name: 'group.initial.rebalance.delay.ms', type: 'int', default: '3000', doc: 'How long the first rebalance of an empty group waits for more members to join.' },
  { name: 'group.max.size', type: 'int', default: '2147483647', doc: 'Most members a group may have.' },
  { name: 'broker.session.timeout.ms', type: 'int', default: '4000', doc: 'A broker that has not renewed its liveness lease for this long is considered dead; its partitions fail over.' },
  { name: 'broker.heartbeat.interval.ms', type: 'int', default: '1000', doc: 'How often a broker renews its liveness lease and bids for the controller lease.' },
  { name: 'replica.lag.time.max.ms', type: 'long', default: '30000', doc: 'A follower that has not caught up with the leader for this long leaves the ISR.' },
  { name: 'replica.high.watermark.checkpoint.interval.ms', type: 'long', default: '5000', doc: 'How often each partition\'s high watermark is written to replication-offset-checkpoint in the data directory (also on clean shutdown); a restarted replica resumes from it.' },
  { name: 'replica.fetch.wait.max.ms', type: 'int', default: '500', doc: 'Longest a follower\'s fetch waits at the leader for new data.' },
  { name: 'replica.fetch.max.bytes', type: 'int', default: '1048576', doc: 'Bytes a follower asks for per partition and fetch.' },
  { name: 'leader.replication.throttled.rate', type: 'long', default: LONG_MAX, dynamic: true, doc: 'Bytes per second this broker sends as leader to the replicas listed in topics\' leader.replication.throttled.replicas (followers outside the ISR only). Dynamic: IncrementalAlterConfigs on this broker, or on the cluster default.' },
  { name: 'follower.replication.throttled.rate', type: 'long', default: LONG_MAX, dynamic: true, doc: 'Bytes per second this broker fetches as follower for the replicas listed in topics\' follower.replication.throttled.replicas (while outside the ISR). Dynamic, as leader.replication.throttled.rate.' },
  { name: 'replica.alter.log.dirs.io.max.bytes.per.second', type: 'long', default: LONG_MAX, dynamic: true, doc: 'Kafka\'s throttle for moving replicas between log directories of one broker. Brook keeps one log directory per broker, so nothing moves between directories: accepted (Kafka\'s tools set and clear it) and has no effect.' },
  { name: 'auto.leader.rebalance.enable', type: 'boolean', default: 'true', doc: 'Move leadership back to the preferred (first) replica when it is in sync.' },
  { name: 'leader.imbalance.check.interval.seconds', type: 'long', default: '300', doc: 'How often the controller checks for preferred leaders.' },
  { name: 'controlled.shutdown.enable', type: 'boolean', default: 'true', doc: 'A stopping broker hands its leaderships to other in-sync replicas first.' },
  { name: 'broker.rack', type: 'string', default: null, doc: 'Rack (zone) of this broker, reported in metadata.' },
  { name: 'listeners', type: 'string', default: null, doc: 'Listeners to bind, NAME://HOST:PORT comma-separated (e.g. INTERNAL://0.0.0.0:9092,EXTERNAL://0.0.0.0:9094). Unset: one PLAINTEXT listener from --listen (default 0.0.0.0:9092).' },
  { name: 'advertised.listeners', type: 'string', default: null, doc: 'Addresses clients are told per listener, NAME://HOST:PORT; a client gets those of the listener it connected on. A listener left out advertises its bind address (0.0.0.0: this host\'s first non-loopback address).' },
  { name: 'listener.security.protocol.map', type: 'string', default: null, doc: 'Security protocol per listener name, NAME:PROTOCOL comma-separated. Unset: each protocol name maps to itself. Only PLAINTEXT is served for now.' },
  { name: 'inter.broker.listener.name', type: 'string', default: null, doc: 'The listener brokers replicate over. Unset: the listener named PLAINTEXT, else the first listener.' },
  { name: 'cluster.id', type: 'string', default: null, doc: 'Cluster id; taken from the metadata store when unset.' },
];

export const topicSettings: readonly TopicSetting[] = [
  { name: 'cleanup.policy', type: 'list', brokerSynonym: 'log.cleanup.policy', doc: 'delete or compact (or both).', validValues: ['delete', 'compact', 'compact,delete', 'delete,compact'] },
  { name: 'compression.type', type: 'string', brokerSynonym: 'compression.type', doc: 'producer: store batches as the producer compressed them.', validValues: ['producer'] },
  { name: 'delete.retention.ms', type: 'long', brokerSynonym: 'log.cleaner.delete.retention.ms', doc: 'How long tombstones are kept on compacted topics.' },
  { name: 'flush.messages', type: 'long', brokerSynonym: 'log.flush.interval.messages', doc: 'fsync after this many messages.' },
  { name: 'flush.ms', type: 'long', brokerSynonym: 'log.flush.interval.ms', doc: 'fsync data older than this.' },
  { name: 'index.interval.bytes', type: 'int', brokerSynonym: 'log.index.interval.bytes', doc: 'Bytes of log between offset-index entries.' },
  { name: 'max.compaction.lag.ms', type: 'long', brokerSynonym: 'log.cleaner.max.compaction.lag.ms', doc: 'Compact a record at most this long after it was written.' },
  { name: 'max.message.bytes', type: 'int', brokerSynonym: 'message.max.bytes', doc: 'Largest record batch accepted.' },
  { name: 'message.timestamp.type', type: 'string', brokerSynonym: 'log.message.timestamp.type', doc: 'CreateTime or LogAppendTime.', validValues: ['CreateTime', 'LogAppendTime'] },
  { name: 'min.cleanable.dirty.ratio', type: 'string', brokerSynonym: 'log.cleaner.min.cleanable.ratio', doc: 'Clean once dirty bytes reach this fraction of the cleanable log (0 to 1).' },
  { name: 'min.compaction.lag.ms', type: 'long', brokerSynonym: 'log.cleaner.min.compaction.lag.ms', doc: 'Leave a record uncompacted at least this long.' },
  { name: 'min.insync.replicas', type: 'int', brokerSynonym: 'min.insync.replicas', doc: 'Replicas that must be in sync for acks=all writes.' },
  { name: 'retention.bytes', type: 'long', brokerSynonym: 'log.retention.bytes', doc: 'Delete old segments while the partition is larger than this; -1: no limit.' },
  { name: 'retention.ms', type: 'long', brokerSynonym: 'log.retention.ms', doc: 'Delete segments older than this; -1: keep forever.' },
  { name: 'segment.bytes', type: 'int', brokerSynonym: 'log.segment.bytes', doc: 'Segment size.' },
  { name: 'segment.index.bytes', type: 'int', brokerSynonym: 'log.index.size.max.bytes', doc: 'Maximum offset index size.' },
  { name: 'segment.ms', type: 'long', brokerSynonym: 'log.roll.ms', doc: 'Roll the active segment after this long.' },
  { name: 'unclean.leader.election.enable', type: 'boolean', brokerSynonym: 'unclean.leader.election.enable', doc: 'Allow out-of-sync replicas to lead.' },
  { name: 'leader.replication.throttled.replicas', type: 'list', brokerSynonym: null, default: '', pattern: THROTTLED_REPLICAS,
    doc: 'Replicas (partition:broker,... or *) whose replication is throttled on the leader side, at the leader\'s leader.replication.throttled.rate.' },
  { name: 'follower.replication.throttled.replicas', type: 'list', brokerSynonym: null, default: '', pattern: THROTTLED_REPLICAS,
    doc: 'Replicas (partition:broker,... or *) whose replication is throttled on the follower side, at the follower\'s follower.replication.throttled.rate.' },
];

const brokerByName = new Map(brokerSettings.map((s) => [s.name, s]));
const topicByName = new Map(topicSettings.map((s) => [s.name, s]));

/** Kafka's hour/minute spellings that Brook accepts and folds into the `.ms` name. */
const durationAliases: Record<string, [string, number]> = {
  'log.retention.hours': ['log.retention.ms', 3_600_000],
  'log.retention.minutes': ['log.retention.ms', 60_000],
  'log.roll.hours': ['log.roll.ms', 3_600_000],
};

export class ConfigError extends Error {
  readonly code = 'BROOK_ERR_CONFIG';
  constructor(message: string) { super(message); this.name = 'ConfigError'; }
}

function checkType(name: string, type: ConfigType, value: string): string | null {
  switch (type) {
    case 'boolean':
      return value === 'true' || value === 'false' ? null : `${name} must be true or false, got '${value}'`;
    case 'int': {
      const n = Number(value);
      return /^-?\d+$/.test(value) && n >= -(2 ** 31) && n < 2 ** 31 ? null : `${name} must be a 32-bit integer, got '${value}'`;
    }
    case 'long':
      return /^-?\d+$/.test(value) && BigInt(value) >= -(2n ** 63n) && BigInt(value) < 2n ** 63n
        ? null : `${name} must be a 64-bit integer, got '${value}'`;
    default:
      return null;
  }
}

/** Resolved broker settings; `get` returns the effective value (explicit or default). */
export class BrokerSettings {
  private readonly values = new Map<string, string>();

  constructor(explicit: Record<string, string> = {}) {
    for (const [rawName, value] of Object.entries(explicit)) {
      const alias = durationAliases[rawName];
      if (alias) {
        if (!/^\d+$/.test(value)) throw new ConfigError(`${rawName} must be a whole number, got '${value}'`);
        this.set(alias[0], String(BigInt(value) * BigInt(alias[1])));
      } else {
        this.set(rawName, value);
      }
    }
  }

  private set(name: string, value: string): void {
    const setting = brokerByName.get(name);
    if (!setting) {
      throw new ConfigError(`unknown broker setting '${name}' (known: ${[...brokerByName.keys()].join(', ')})`);
    }
    const problem = checkType(name, setting.type, value);
    if (problem) throw new ConfigError(problem);
    this.values.set(name, value);
  }

  get(name: string): string | null {
    if (this.values.has(name)) return this.values.get(name)!;
    const setting = brokerByName.get(name);
    if (!setting) throw new ConfigError(`unknown broker setting '${name}'`);
    return setting.default;
  }

  isExplicit(name: string): boolean { return this.values.has(name); }

  int(name: string): number { return Number(this.get(name)); }
  bool(name: string): boolean { return this.get(name) === 'true'; }

  /** A topic's effective configs: its overrides over these broker defaults. */
  topicConfigs(overrides: Readonly<Record<string, string>>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const s of topicSettings) out[s.name] = overrides[s.name] ?? (s.brokerSynonym ? this.get(s.brokerSynonym) : s.default) ?? '';
    return out;
  }
}

/** Validates topic config overrides from CreateTopics / AlterConfigs / Topic resources. */
export function validateTopicConfigs(configs: Readonly<Record<string, string | null>>): void {
  for (const [name, value] of Object.entries(configs)) {
    const setting = topicByName.get(name);
    if (!setting) throw new KafkaError('INVALID_CONFIG', `Unknown topic config name: ${name}`);
    if (value === null) continue;
    const problem = checkType(name, setting.type, value);
    if (problem) throw new KafkaError('INVALID_CONFIG', `Invalid value ${value} for configuration ${name}: ${problem}`);
    if (setting.pattern && !setting.pattern.test(value)) {
      throw new KafkaError('INVALID_CONFIG', `Invalid value ${value} for configuration ${name}: ${setting.doc}`);
    }
    if (setting.validValues && !setting.validValues.includes(value)) {
      throw new KafkaError('INVALID_CONFIG',
        `Invalid value ${value} for configuration ${name}: must be one of ${setting.validValues.join(', ')}`);
    }
  }
}

export function topicSetting(name: string): TopicSetting | undefined { return topicByName.get(name); }
export function brokerSetting(name: string): BrokerSetting | undefined { return brokerByName.get(name); }

/** Validates a dynamic broker config value (IncrementalAlterConfigs / AlterConfigs on a BROKER resource). */
export function validateDynamicBrokerConfig(name: string, value: string): void {
  const setting = brokerByName.get(name);
  if (!setting) throw new KafkaError('INVALID_CONFIG', `Unknown broker config name: ${name}`);
  if (!setting.dynamic) throw new KafkaError('INVALID_REQUEST', `Cannot update these configs dynamically: ${name} (set it at start: config file or --set)`);
  const problem = checkType(name, setting.type, value);
  if (problem) throw new KafkaError('INVALID_CONFIG', `Invalid value ${value} for configuration ${name}: ${problem}`);
  if (setting.type === 'long' && BigInt(value) < 0n) throw new KafkaError('INVALID_CONFIG', `Invalid value ${value} for configuration ${name}: must be at least 0`);
}

/** Reads a Java-style properties file (key=value, # and ! comments). */
export function readPropertiesFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith('!')) return;
    const eq = trimmed.search(/[=:]/);
    if (eq <= 0) throw new ConfigError(`${path}:${i + 1}: expected key=value, got '${trimmed}'`);
    out[trimmed.slice(0, eq).trim()] = trimmed.slice(eq + 1).trim();
  });
  return out;
}
