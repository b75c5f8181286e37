/**
 * Broker and topic configuration: one catalogue of the Kafka config names Brook understands,
 * their defaults, types and documentation. Broker settings come from a properties file and
 * `--set key=value`; a topic's effective config is its own overrides over the broker's
 * `log.*` defaults, exactly as Kafka resolves them (and as DescribeConfigs reports them).
 */
import { readFileSync } from 'node:fs';
import { KafkaError } from './errors.ts';

export type ConfigType = 'boolean' | 'int' | 'long' | 'double' | 'string' | 'list';

export interface BrokerSetting {
  readonly name: string;
  readonly type: ConfigType;
  readonly default: string | null;
  readonly doc: string;
  /** Settable at run time through the Kafka API (a dynamic broker config, kept in the metadata store). */
  readonly dynamic?: boolean;
  /** Accepted and described, but Brook does not act on it: why. */
  readonly noEffect?: string;
  /**
   * Kafka declares no default for this name itself (an hours/minutes alias supplies it, e.g.
   * log.retention.hours for log.retention.ms), so DescribeConfigs lists no DEFAULT_CONFIG synonym.
   */
  readonly defaultFromAlias?: boolean;
  /** Apache Kafka 4.1's default where Brook's differs on purpose, and why. */
  readonly kafkaDefault?: { readonly value: string; readonly reason: string };
  /** Kafka's PASSWORD type: described with a null value and isSensitive. */
  readonly sensitive?: boolean;
}

export interface TopicSetting {
  readonly name: string;
  readonly type: ConfigType;
  /** The broker setting that supplies the default (Kafka's "synonym"); null: none, `default` applies. */
  readonly brokerSynonym: string | null;
  readonly default?: string;
  readonly doc: string;
  /** A string value must be one of these (Kafka's ValidString). */
  readonly validValues?: readonly string[];
  /** Each item of a list value must be one of these (Kafka's ValidList). */
  readonly listValues?: readonly string[];
  /** A value must match this (whole). */
  readonly pattern?: RegExp;
  /** Kafka's Range: inclusive bounds of a number (as decimal strings, compared exactly). */
  readonly min?: string;
  readonly max?: string;
  /** -1 is valid besides [min, max] (compression.gzip.level). */
  readonly orMinusOne?: boolean;
  /** Accepted, stored and described, but Brook does not act on it: why. */
  readonly noEffect?: string;
}

const LONG_MAX = '9223372036854775807';

/** Kafka's throttled-replicas list: `*`, or `partition:broker` entries comma-separated (empty: none). */
const THROTTLED_REPLICAS = /^(\*|(\s*\d+\s*:\s*\d+\s*)(,\s*\d+\s*:\s*\d+\s*)*)?$/;

export const brokerSettings: readonly BrokerSetting[] = [
  { name: 'auto.create.topics.enable', type: 'boolean', default: 'true', doc: 'Create a topic (num.partitions, default.replication.factor) when a client asks for metadata of, or produces to, a topic that does not exist. On by default, as in Kafka; set false to have topics only declared (Topic resources or CreateTopics).' },
  { name: 'num.partitions', type: 'int', default: '1', doc: 'Partitions of auto-created topics and of CreateTopics requests that leave the count to the broker (-1).' },
  { name: 'default.replication.factor', type: 'int', default: '1', doc: 'Replication factor of auto-created topics and of CreateTopics requests that leave it to the broker (-1).' },
  { name: 'num.io.threads', type: 'int', default: '8', doc: 'Kafka\'s request handler threads.', noEffect: 'Brook handles requests on one event loop; brook.worker.threads moves the CRC-32C and the re-compression of produced batches to worker threads.' },
  { name: 'brook.worker.threads', type: 'int', default: '0', doc: 'Worker threads that do the byte work of produced record batches off the event loop: their CRC-32C, and their re-compression when a topic\'s compression.type differs from the producer\'s codec (0: the event loop does it all, at most 64). Off by default: measured on 2 cores, handing a request to a worker (copy and postMessage) cost the event loop more than the CRC alone saved; re-compressing topics gain from it (see docs/benchmarks.md). Appends stay in arrival order either way.' },
  { name: 'brook.fetch.sendfile', type: 'boolean', default: 'true', doc: 'Send fetched records to consumers from the page cache with sendfile(2), on libuv\'s thread pool, instead of reading them into memory and writing them (Kafka\'s zero-copy transfer). Applies to plain TCP listeners (TLS must encrypt in user space) and read_uncommitted consumers; needs the native add-on (scripts/build-native.mjs; without it Brook logs why and reads).' },
  { name: 'delete.topic.enable', type: 'boolean', default: 'true', doc: 'Allow DeleteTopics.' },
  { name: 'message.max.bytes', type: 'int', default: '1048588', dynamic: true, doc: 'Largest record batch the broker accepts (topic: max.message.bytes).' },
  { name: 'log.segment.bytes', type: 'int', default: '1073741824', dynamic: true, doc: 'Segment size at which a new segment is rolled (topic: segment.bytes).' },
  { name: 'log.roll.ms', type: 'long', default: '604800000', dynamic: true, defaultFromAlias: true, doc: 'Age at which the active segment is rolled even if not full (topic: segment.ms).' },
  { name: 'log.retention.ms', type: 'long', default: '604800000', dynamic: true, defaultFromAlias: true, doc: 'Delete segments whose newest record is older than this; -1 keeps them forever (topic: retention.ms).' },
  { name: 'log.retention.bytes', type: 'long', default: '-1', dynamic: true, doc: 'Delete old segments while a partition is larger than this; -1 means no size limit (topic: retention.bytes).' },
  { name: 'log.retention.check.interval.ms', type: 'long', default: '300000', doc: 'How often retention is enforced.' },
  { name: 'log.flush.interval.messages', type: 'long', default: LONG_MAX, dynamic: true, doc: 'fsync after this many messages; 1 makes every acknowledged batch durable before the response (topic: flush.messages).' },
  { name: 'log.flush.interval.ms', type: 'long', default: LONG_MAX, dynamic: true, defaultFromAlias: true, doc: 'fsync data older than this (topic: flush.ms).' },
  { name: 'log.message.timestamp.type', type: 'string', default: 'CreateTime', dynamic: true, doc: 'CreateTime keeps the producer\'s timestamps; LogAppendTime stamps the broker\'s clock (topic: message.timestamp.type).' },
  { name: 'log.index.interval.bytes', type: 'int', default: '4096', dynamic: true, doc: 'Bytes of log between offset-index entries (topic: index.interval.bytes).' },
  { name: 'log.index.size.max.bytes', type: 'int', default: '10485760', dynamic: true, doc: 'Maximum size of an offset index file (topic: segment.index.bytes).' },
  { name: 'log.cleanup.policy', type: 'list', default: 'delete', dynamic: true, doc: 'delete (retention) or compact (topic: cleanup.policy).' },
  { name: 'log.cleaner.delete.retention.ms', type: 'long', default: '86400000', dynamic: true, doc: 'How long tombstones are kept on compacted topics (topic: delete.retention.ms).' },
  { name: 'log.cleaner.enable', type: 'boolean', default: 'true', doc: 'Run the log cleaner, which compacts topics with cleanup.policy=compact.' },
  { name: 'log.cleaner.backoff.ms', type: 'long', default: '15000', doc: 'How long the log cleaner sleeps when no log needs cleaning.' },
  { name: 'log.cleaner.min.cleanable.ratio', type: 'double', default: '0.5', dynamic: true, doc: 'A log is cleaned once its dirty bytes reach this fraction of its cleanable bytes; a number from 0 to 1 (topic: min.cleanable.dirty.ratio).' },
  { name: 'log.cleaner.min.compaction.lag.ms', type: 'long', default: '0', dynamic: true, doc: 'A record stays uncompacted at least this long (topic: min.compaction.lag.ms).' },
  { name: 'log.cleaner.max.compaction.lag.ms', type: 'long', default: LONG_MAX, dynamic: true, doc: 'A record is compacted at most this long after it was written (topic: max.compaction.lag.ms).' },
  { name: 'log.segment.delete.delay.ms', type: 'long', default: '60000', dynamic: true, doc: 'How long a segment removed by retention stays on disk, renamed *.deleted, before its files are deleted (topic: file.delete.delay.ms).' },
  { name: 'log.roll.jitter.ms', type: 'long', default: '0', dynamic: true, defaultFromAlias: true, doc: 'Random jitter subtracted from log.roll.ms (topic: segment.jitter.ms).', noEffect: 'segments roll at segment.ms exactly, without jitter.' },
  { name: 'log.preallocate', type: 'boolean', default: 'false', dynamic: true, doc: 'Preallocate segment files (topic: preallocate).', noEffect: 'segments grow as they are written.' },
  { name: 'log.message.timestamp.before.max.ms', type: 'long', default: LONG_MAX, dynamic: true, doc: 'CreateTime topics refuse records timestamped more than this before the broker\'s clock (topic: message.timestamp.before.max.ms).' },
  { name: 'log.message.timestamp.after.max.ms', type: 'long', default: '3600000', dynamic: true, doc: 'CreateTime topics refuse records timestamped more than this after the broker\'s clock (topic: message.timestamp.after.max.ms).' },
  { name: 'compression.gzip.level', type: 'int', default: '-1', dynamic: true, doc: 'gzip level of batches the broker re-compresses (topic: compression.gzip.level).' },
  { name: 'compression.lz4.level', type: 'int', default: '9', dynamic: true, doc: 'lz4 level of batches the broker re-compresses (topic: compression.lz4.level).', noEffect: 'one lz4 level (lz4-napi\'s).' },
  { name: 'compression.zstd.level', type: 'int', default: '3', dynamic: true, doc: 'zstd level of batches the broker re-compresses (topic: compression.zstd.level).' },
  { name: 'log.local.retention.ms', type: 'long', default: '-2', dynamic: true, doc: 'Tiered storage (topic: local.retention.ms).', noEffect: 'tiered storage is not implemented.' },
  { name: 'log.local.retention.bytes', type: 'long', default: '-2', dynamic: true, doc: 'Tiered storage (topic: local.retention.bytes).', noEffect: 'tiered storage is not implemented.' },
  { name: 'min.insync.replicas', type: 'int', default: '1', dynamic: true, doc: 'Replicas that must be in sync for acks=all writes (topic: min.insync.replicas).' },
  { name: 'unclean.leader.election.enable', type: 'boolean', default: 'false', dynamic: true, doc: 'Allow an out-of-sync replica to become leader, losing data (topic: unclean.leader.election.enable).' },
  { name: 'compression.type', type: 'string', default: 'producer', dynamic: true, doc: 'Codec of stored batches: producer keeps the producer\'s; uncompressed, gzip, snappy, lz4 or zstd makes the broker re-compress batches with another codec (topic: compression.type).' },
  { name: 'socket.send.buffer.bytes', type: 'int', default: '-1', doc: 'SO_SNDBUF of every accepted connection, clients\' and followers\' (-1: the operating system\'s default, which Linux autotunes up to net.ipv4.tcp_wmem\'s maximum; Kafka\'s default is 102400). Set through the native add-on; without it the setting is logged and not applied.' },
  { name: 'socket.request.max.bytes', type: 'int', default: '104857600', doc: 'Largest request frame; larger frames close the connection.' },
  { name: 'fetch.max.bytes', type: 'int', default: '57671680', doc: 'Upper bound on the bytes one Fetch response returns.' },
  { name: 'max.incremental.fetch.session.cache.slots', type: 'int', default: '1000', doc: 'Incremental fetch sessions (KIP-227) kept; a new one beyond this replaces the one used longest ago; 0 turns sessions off (every fetch is a full one).' },
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
  { name: 'transaction.partition.verification.enable', type: 'boolean', default: 'true', dynamic: true, doc: 'Before a producer\'s first transactional batch to a partition, the leader asks the transaction coordinator whether the partition is in the producer\'s ongoing transaction (KIP-890) and refuses the batch with INVALID_TXN_STATE if not: a late or stray write cannot open a transaction nobody will end (a hanging transaction). false skips the check, as in Kafka.' },
  { name: 'transaction.state.log.write.timeout.ms', type: 'int', default: '5000', doc: 'How long a transaction state write waits for the in-sync replicas before the client is told to retry (COORDINATOR_NOT_AVAILABLE).' },
  { name: 'offsets.retention.minutes', type: 'int', default: '10080', doc: 'Committed offsets of an empty group expire this long after their commit.' },
  { name: 'offsets.retention.check.interval.ms', type: 'long', default: '600000', doc: 'How often expired offsets are removed.' },
  { name: 'offset.metadata.max.bytes', type: 'int', default: '4096', doc: 'Largest metadata string stored with a committed offset.' },
  { name: 'group.min.session.timeout.ms', type: 'int', default: '6000', doc: 'Smallest session timeout a consumer may ask for.' },
  { name: 'group.max.session.timeout.ms', type: 'int', default: '1800000', doc: 'Largest session timeout a consumer may ask for.' },
  { name: 'group.initial.rebalance.delay.ms', type: 'int', default: '3000', doc: 'How long the first rebalance of an empty group waits for more members to join.' },
  { name: 'group.max.size', type: 'int', default: '2147483647', doc: 'Most members a group may have.' },
  { name: 'group.consumer.heartbeat.interval.ms', type: 'int', default: '5000', doc: 'Consumer group protocol (KIP-848): how often a member heartbeats (the coordinator tells it in every ConsumerGroupHeartbeat response).' },
  { name: 'group.consumer.min.heartbeat.interval.ms', type: 'int', default: '5000', doc: 'Smallest group.consumer.heartbeat.interval.ms allowed (checked at start-up).' },
  { name: 'group.consumer.max.heartbeat.interval.ms', type: 'int', default: '15000', doc: 'Largest group.consumer.heartbeat.interval.ms allowed (checked at start-up).' },
  { name: 'group.consumer.session.timeout.ms', type: 'int', default: '45000', doc: 'Consumer group protocol: a member that has not heartbeated for this long is removed and its partitions are reassigned.' },
  { name: 'group.consumer.min.session.timeout.ms', type: 'int', default: '45000', doc: 'Smallest group.consumer.session.timeout.ms allowed (checked at start-up).' },
  { name: 'group.consumer.max.session.timeout.ms', type: 'int', default: '60000', doc: 'Largest group.consumer.session.timeout.ms allowed (checked at start-up).' },
  { name: 'group.consumer.max.size', type: 'int', default: '2147483647', doc: 'Most members a consumer-protocol group may have (GROUP_MAX_SIZE_REACHED beyond).' },
  { name: 'group.consumer.assignors', type: 'list', default: 'org.apache.kafka.coordinator.group.assignor.UniformAssignor,org.apache.kafka.coordinator.group.assignor.RangeAssignor', doc: 'The server-side assignors of the consumer group protocol, the first the default: uniform and range (by these class names or the short names).' },
  { name: 'broker.session.timeout.ms', type: 'int', default: '4000', kafkaDefault: { value: '9000', reason: 'Brook fails partitions over within 5 s of a broker\'s death (design target); Kafka\'s 9 s session alone would exceed it.' }, doc: 'A broker that has not renewed its liveness lease for this long is considered dead; its partitions fail over.' },
  { name: 'broker.heartbeat.interval.ms', type: 'int', default: '1000', kafkaDefault: { value: '2000', reason: 'about a quarter of broker.session.timeout.ms, as Kafka\'s 2 s is of its 9 s, so a lease survives missed renewals.' }, doc: 'How often a broker renews its liveness lease and bids for the controller lease.' },
  { name: 'replica.lag.time.max.ms', type: 'long', default: '30000', doc: 'A follower that has not caught up with the leader for this long leaves the ISR.' },
  { name: 'replica.high.watermark.checkpoint.interval.ms', type: 'long', default: '5000', doc: 'How often each partition\'s high watermark is written to replication-offset-checkpoint in the data directory (also on clean shutdown); a restarted replica resumes from it.' },
  { name: 'replica.fetch.wait.max.ms', type: 'int', default: '500', doc: 'Longest a follower\'s fetch waits at the leader for new data.' },
  { name: 'replica.fetch.max.bytes', type: 'int', default: '1048576', doc: 'Bytes a follower asks for per partition and fetch.' },
  { name: 'leader.replication.throttled.rate', type: 'long', default: LONG_MAX, dynamic: true, doc: 'Bytes per second this broker sends as leader to the replicas listed in topics\' leader.replication.throttled.replicas (followers outside the ISR only). Dynamic: IncrementalAlterConfigs on this broker, or on the cluster default.' },
  { name: 'follower.replication.throttled.rate', type: 'long', default: LONG_MAX, dynamic: true, doc: 'Bytes per second this broker fetches as follower for the replicas listed in topics\' follower.replication.throttled.replicas (while outside the ISR). Dynamic, as leader.replication.throttled.rate.' },
  { name: 'replica.alter.log.dirs.io.max.bytes.per.second', type: 'long', default: LONG_MAX, dynamic: true, noEffect: 'one log directory per broker: nothing moves between directories.', doc: 'Kafka\'s throttle for moving replicas between log directories of one broker. Brook keeps one log directory per broker, so nothing moves between directories: accepted (Kafka\'s tools set and clear it) and has no effect.' },
  { name: 'auto.leader.rebalance.enable', type: 'boolean', default: 'true', doc: 'Move leadership back to the preferred (first) replica when it is in sync.' },
  { name: 'leader.imbalance.check.interval.seconds', type: 'long', default: '300', doc: 'How often the controller checks for preferred leaders.' },
  { name: 'controlled.shutdown.enable', type: 'boolean', default: 'true', doc: 'A stopping broker hands its leaderships to other in-sync replicas first.' },
  { name: 'broker.rack', type: 'string', default: null, doc: 'Rack (zone) of this broker, reported in metadata.' },
  { name: 'listeners', type: 'string', default: null, doc: 'Listeners to bind, NAME://HOST:PORT comma-separated (e.g. INTERNAL://0.0.0.0:9092,EXTERNAL://0.0.0.0:9094). Unset: one PLAINTEXT listener from --listen (default 0.0.0.0:9092).' },
  { name: 'advertised.listeners', type: 'string', default: null, doc: 'Addresses clients are told per listener, NAME://HOST:PORT; a client gets those of the listener it connected on. A listener left out advertises its bind address (0.0.0.0: this host\'s first non-loopback address).' },
  { name: 'listener.security.protocol.map', type: 'string', default: null, doc: 'Security protocol per listener name, NAME:PROTOCOL comma-separated. Unset: each protocol name maps to itself. PLAINTEXT, SSL, SASL_PLAINTEXT and SASL_SSL are served.' },
  { name: 'inter.broker.listener.name', type: 'string', default: null, doc: 'The listener brokers replicate over. Unset: the listener named PLAINTEXT, else the first listener.' },
  { name: 'cluster.id', type: 'string', default: null, doc: 'Cluster id; taken from the metadata store when unset.' },
  // Security (SSL and SASL listeners). Each may also be given per listener as listener.name.<name>.<setting>
  // (e.g. listener.name.external.ssl.keystore.location), which wins over the unprefixed one, as in Kafka.
  { name: 'ssl.keystore.type', type: 'string', default: 'JKS', doc: 'Format of the key store: PEM (ssl.keystore.location holding the private key and the certificate chain, or ssl.keystore.key + ssl.keystore.certificate.chain inline) or PKCS12. JKS, Kafka\'s default, is a Java format Brook cannot read: name PEM or PKCS12.' },
  { name: 'ssl.keystore.location', type: 'string', default: null, doc: 'The key store file (the listener\'s private key and certificate chain). Re-read when it changes: new TLS handshakes use the new certificate, established connections stay.' },
  { name: 'ssl.keystore.password', type: 'string', default: null, sensitive: true, doc: 'Password of a PKCS12 key store (PEM: unused).' },
  { name: 'ssl.key.password', type: 'string', default: null, sensitive: true, doc: 'Password of an encrypted PEM private key.' },
  { name: 'ssl.keystore.certificate.chain', type: 'string', default: null, doc: 'The certificate chain in PEM, inline (with ssl.keystore.type=PEM and ssl.keystore.key).' },
  { name: 'ssl.keystore.key', type: 'string', default: null, sensitive: true, doc: 'The private key in PEM, inline (with ssl.keystore.type=PEM and ssl.keystore.certificate.chain).' },
  { name: 'ssl.truststore.type', type: 'string', default: 'JKS', doc: 'Format of the trust store: PEM (ssl.truststore.location, or ssl.truststore.certificates inline). JKS and PKCS12 trust stores are refused: name PEM.' },
  { name: 'ssl.truststore.location', type: 'string', default: null, doc: 'The trust store file: the CA certificates client certificates (ssl.client.auth) and, for the broker\'s own connections to other brokers, their certificates are checked against. Re-read when it changes.' },
  { name: 'ssl.truststore.password', type: 'string', default: null, sensitive: true, doc: 'Password of the trust store (PEM: unused).' },
  { name: 'ssl.truststore.certificates', type: 'string', default: null, doc: 'Trusted certificates in PEM, inline (with ssl.truststore.type=PEM).' },
  { name: 'ssl.client.auth', type: 'string', default: 'none', doc: 'TLS client authentication on SSL listeners: none, requested (a client may present a certificate; an untrusted one is refused) or required (mTLS). An authenticated client\'s principal is its certificate\'s subject (User:CN=...,O=...).' },
  { name: 'ssl.enabled.protocols', type: 'list', default: 'TLSv1.2,TLSv1.3', doc: 'TLS versions accepted (TLSv1.2, TLSv1.3).' },
  { name: 'ssl.protocol', type: 'string', default: 'TLSv1.3', doc: 'The TLS protocol of the SSLContext (Java); Brook negotiates within ssl.enabled.protocols.', noEffect: 'Node negotiates the highest version within ssl.enabled.protocols.' },
  { name: 'ssl.cipher.suites', type: 'list', default: '', doc: 'Cipher suites offered, by IANA name as Java names them (TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256) or by OpenSSL name; empty: Node\'s defaults.' },
  { name: 'ssl.endpoint.identification.algorithm', type: 'string', default: 'https', doc: 'For the broker\'s own TLS connections to other brokers: https checks that the peer\'s certificate names the host connected to; empty skips the check.' },
  { name: 'ssl.reload.check.interval.ms', type: 'long', default: '1000', doc: 'Brook\'s own: how often the key store and trust store files are checked for changes (a changed file is re-read and used for new handshakes).' },
  { name: 'sasl.enabled.mechanisms', type: 'list', default: 'GSSAPI', doc: 'SASL mechanisms served on SASL listeners: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512. GSSAPI (Kerberos, Kafka\'s default) and OAUTHBEARER are not served: a SASL listener must name one Brook serves.' },
  { name: 'sasl.mechanism.inter.broker.protocol', type: 'string', default: 'GSSAPI', doc: 'The mechanism brokers authenticate with on a SASL inter-broker listener; the credentials are the username and password of listener.name.<name>.<mechanism>.sasl.jaas.config.' },
  { name: 'connections.max.reauth.ms', type: 'long', default: '0', doc: 'KIP-368: a SASL session lasts this long (SaslAuthenticate v1 tells the client); the client re-authenticates on the same connection before it ends, else the connection is closed. 0: sessions never expire.' },
  { name: 'sasl.server.max.receive.size', type: 'int', default: '524288', doc: 'Largest SASL token accepted before authentication; a larger frame closes the connection.' },
  // Authorization (broker/security/authorizer.ts)
  { name: 'authorizer.class.name', type: 'string', default: '', doc: 'The authorizer: org.apache.kafka.metadata.authorizer.StandardAuthorizer (or kafka.security.authorizer.AclAuthorizer: the same rules) enforces the ACLs of the metadata store (kafka-acls); empty: no authorizer, every request is allowed and the ACL APIs answer SECURITY_DISABLED.' },
  { name: 'super.users', type: 'string', default: '', doc: 'Principals allowed everything whatever the ACLs say, separated by semicolons (User:admin;User:CN=broker-0,O=Brook).' },
  { name: 'allow.everyone.if.no.acl.found', type: 'boolean', default: 'false', doc: 'With an authorizer: a resource no ACL names at all is open to everyone (true) or to super users only (false, Kafka\'s default).' },
];

/**
 * Settings that may be given per listener (listener.name.<name>.<setting>), besides
 * `<mechanism>.sasl.jaas.config`, which exists only in that form (e.g.
 * listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config).
 */
const perListenerSettings = new Set([
  'ssl.keystore.type', 'ssl.keystore.location', 'ssl.keystore.password', 'ssl.key.password', 'ssl.keystore.certificate.chain', 'ssl.keystore.key',
  'ssl.truststore.type', 'ssl.truststore.location', 'ssl.truststore.password', 'ssl.truststore.certificates', 'ssl.client.auth',
  'ssl.enabled.protocols', 'ssl.protocol', 'ssl.cipher.suites', 'ssl.endpoint.identification.algorithm', 'sasl.enabled.mechanisms',
  'connections.max.reauth.ms', 'sasl.server.max.receive.size',
]);
/** Per-listener settings that IncrementalAlterConfigs may change at run time (Kafka's dynamic listener SSL configs). */
const dynamicListenerSettings = new Set([
  'ssl.keystore.type', 'ssl.keystore.location', 'ssl.keystore.password', 'ssl.key.password', 'ssl.keystore.certificate.chain', 'ssl.keystore.key',
  'ssl.truststore.type', 'ssl.truststore.location', 'ssl.truststore.password', 'ssl.truststore.certificates',
]);

/** `listener.name.<name>.<ssl key/trust store setting>`, normalised (listener lower case), or null. */
function dynamicListenerKey(name: string): string | null {
  const p = parseListenerPrefixed(name);
  return p && dynamicListenerSettings.has(p.setting) ? `listener.name.${p.listener}.${p.setting}` : null;
}

const LISTENER_PREFIXED = /^listener\.name\.([a-z0-9_.-]+?)\.((?:plain|scram-sha-256|scram-sha-512)\.sasl\.jaas\.config|[a-z.]+)$/i;

/** `listener.name.<name>.<setting>` split, or null when the name is not of that form. */
export function parseListenerPrefixed(name: string): { listener: string; setting: string } | null {
  const m = LISTENER_PREFIXED.exec(name);
  if (!m) return null;
  const setting = m[2]!.toLowerCase();
  if (!perListenerSettings.has(setting) && !setting.endsWith('.sasl.jaas.config')) return null;
  return { listener: m[1]!.toLowerCase(), setting };
}

/**
 * Every topic config of Apache Kafka 4.1 (LogConfig's ConfigDef in kafka-storage 4.1.1, read with
 * javap and printed from the jar), with Kafka's type, range and valid values, and the broker
 * setting that supplies its default (ServerTopicConfigSynonyms). `noEffect` names the ones Brook
 * accepts, stores and describes but does not act on, and why.
 */
export const topicSettings: readonly TopicSetting[] = [
  { name: 'cleanup.policy', type: 'list', brokerSynonym: 'log.cleanup.policy', listValues: ['compact', 'delete'], doc: 'delete or compact (or both).' },
  { name: 'compression.type', type: 'string', brokerSynonym: 'compression.type', validValues: ['uncompressed', 'zstd', 'lz4', 'snappy', 'gzip', 'producer'],
    doc: 'Codec of the stored batches: producer keeps the producer\'s codec; any other value makes the broker re-compress batches that arrive with a different codec, as Kafka does.' },
  { name: 'compression.gzip.level', type: 'int', brokerSynonym: 'compression.gzip.level', min: '1', max: '9', orMinusOne: true, doc: 'gzip level of batches the broker re-compresses (-1: zlib\'s default).' },
  { name: 'compression.lz4.level', type: 'int', brokerSynonym: 'compression.lz4.level', min: '1', max: '17', doc: 'lz4 level of batches the broker re-compresses.',
    noEffect: 'Brook\'s lz4 frame encoder (lz4-napi) has one level; re-compressed lz4 batches use it.' },
  { name: 'compression.zstd.level', type: 'int', brokerSynonym: 'compression.zstd.level', min: '-131072', max: '22', doc: 'zstd level of batches the broker re-compresses.' },
  { name: 'delete.retention.ms', type: 'long', brokerSynonym: 'log.cleaner.delete.retention.ms', min: '0', doc: 'How long tombstones are kept on compacted topics.' },
  { name: 'errors.deadletterqueue.group.enable', type: 'boolean', brokerSynonym: null, default: 'false', doc: 'Kafka 4.4: share groups may write undeliverable records to this topic (a dead-letter queue).',
    noEffect: 'share groups (KIP-932) are not implemented.' },
  { name: 'file.delete.delay.ms', type: 'long', brokerSynonym: 'log.segment.delete.delay.ms', min: '0', doc: 'How long a segment removed by retention stays on disk (renamed *.deleted) before its files are deleted.' },
  { name: 'flush.messages', type: 'long', brokerSynonym: 'log.flush.interval.messages', min: '1', doc: 'fsync after this many messages.' },
  { name: 'flush.ms', type: 'long', brokerSynonym: 'log.flush.interval.ms', min: '0', doc: 'fsync data older than this.' },
  { name: 'follower.replication.throttled.replicas', type: 'list', brokerSynonym: null, default: '', pattern: THROTTLED_REPLICAS,
    doc: 'Replicas (partition:broker,... or *) whose replication is throttled on the follower side, at the follower\'s follower.replication.throttled.rate.' },
  { name: 'index.interval.bytes', type: 'int', brokerSynonym: 'log.index.interval.bytes', min: '0', doc: 'Bytes of log between offset-index entries.' },
  { name: 'leader.replication.throttled.replicas', type: 'list', brokerSynonym: null, default: '', pattern: THROTTLED_REPLICAS,
    doc: 'Replicas (partition:broker,... or *) whose replication is throttled on the leader side, at the leader\'s leader.replication.throttled.rate.' },
  { name: 'local.retention.bytes', type: 'long', brokerSynonym: 'log.local.retention.bytes', min: '-2', doc: 'Tiered storage: bytes kept locally (-2: retention.bytes).',
    noEffect: 'tiered storage: Brook keeps every segment on the broker\'s disk; retention.bytes applies.' },
  { name: 'local.retention.ms', type: 'long', brokerSynonym: 'log.local.retention.ms', min: '-2', doc: 'Tiered storage: time kept locally (-2: retention.ms).',
    noEffect: 'tiered storage: Brook keeps every segment on the broker\'s disk; retention.ms applies.' },
  { name: 'max.compaction.lag.ms', type: 'long', brokerSynonym: 'log.cleaner.max.compaction.lag.ms', min: '1', doc: 'Compact a record at most this long after it was written.' },
  { name: 'max.decompressed.message.bytes', type: 'int', brokerSynonym: null, default: '2147483639', min: '1', max: '2147483639',
    doc: 'Kafka 4.4: the largest decompressed record accepted where the broker decompresses (produce validation, compaction, timestamp lookups).',
    noEffect: 'accepted and described; Brook bounds batches by max.message.bytes only.' },
  { name: 'max.message.bytes', type: 'int', brokerSynonym: 'message.max.bytes', min: '0', doc: 'Largest record batch accepted.' },
  { name: 'message.timestamp.after.max.ms', type: 'long', brokerSynonym: 'log.message.timestamp.after.max.ms', min: '0',
    doc: 'CreateTime topics refuse a batch with a record timestamped more than this far after the broker\'s clock (INVALID_TIMESTAMP).' },
  { name: 'message.timestamp.before.max.ms', type: 'long', brokerSynonym: 'log.message.timestamp.before.max.ms', min: '0',
    doc: 'CreateTime topics refuse a batch with a record timestamped more than this far before the broker\'s clock (INVALID_TIMESTAMP).' },
  { name: 'message.timestamp.type', type: 'string', brokerSynonym: 'log.message.timestamp.type', validValues: ['CreateTime', 'LogAppendTime'], doc: 'CreateTime or LogAppendTime.' },
  { name: 'min.cleanable.dirty.ratio', type: 'double', brokerSynonym: 'log.cleaner.min.cleanable.ratio', min: '0', max: '1', doc: 'Clean once dirty bytes reach this fraction of the cleanable log (0 to 1).' },
  { name: 'min.compaction.lag.ms', type: 'long', brokerSynonym: 'log.cleaner.min.compaction.lag.ms', min: '0', doc: 'Leave a record uncompacted at least this long.' },
  { name: 'min.insync.replicas', type: 'int', brokerSynonym: 'min.insync.replicas', min: '1', doc: 'Replicas that must be in sync for acks=all writes.' },
  { name: 'preallocate', type: 'boolean', brokerSynonym: 'log.preallocate', doc: 'Preallocate segment files.',
    noEffect: 'segments grow as they are written; nothing is preallocated.' },
  { name: 'remote.copy.lag.bytes', type: 'long', brokerSynonym: null, default: '-1', min: '-1', doc: 'Kafka 4.4, tiered storage: bytes of newer data after which a segment may be uploaded.',
    noEffect: 'tiered storage is not implemented.' },
  { name: 'remote.copy.lag.ms', type: 'long', brokerSynonym: null, default: '0', min: '-1', doc: 'Kafka 4.4, tiered storage: time after which a segment may be uploaded.',
    noEffect: 'tiered storage is not implemented.' },
  { name: 'remote.log.copy.disable', type: 'boolean', brokerSynonym: null, default: 'false', doc: 'Tiered storage: stop copying segments to remote storage.',
    noEffect: 'tiered storage is not implemented.' },
  { name: 'remote.log.delete.on.disable', type: 'boolean', brokerSynonym: null, default: 'false', doc: 'Tiered storage: delete remote data when tiering is turned off.',
    noEffect: 'tiered storage is not implemented.' },
  { name: 'remote.storage.enable', type: 'boolean', brokerSynonym: null, default: 'false', doc: 'Tiered storage: copy segments to remote storage.',
    noEffect: 'tiered storage is not implemented; true is stored and reported but nothing is copied.' },
  { name: 'retention.bytes', type: 'long', brokerSynonym: 'log.retention.bytes', doc: 'Delete old segments while the partition is larger than this; -1: no limit.' },
  { name: 'retention.ms', type: 'long', brokerSynonym: 'log.retention.ms', min: '-1', doc: 'Delete segments older than this; -1: keep forever.' },
  { name: 'segment.bytes', type: 'int', brokerSynonym: 'log.segment.bytes', min: '1048576', doc: 'Segment size.' },
  { name: 'segment.index.bytes', type: 'int', brokerSynonym: 'log.index.size.max.bytes', min: '4', doc: 'Maximum offset index size; a segment rolls when its index is full.' },
  { name: 'segment.jitter.ms', type: 'long', brokerSynonym: 'log.roll.jitter.ms', min: '0', doc: 'Random jitter subtracted from segment.ms.',
    noEffect: 'segments roll at segment.ms exactly, without jitter.' },
  { name: 'segment.ms', type: 'long', brokerSynonym: 'log.roll.ms', min: '1', doc: 'Roll the active segment after this long.' },
  { name: 'unclean.leader.election.enable', type: 'boolean', brokerSynonym: 'unclean.leader.election.enable', doc: 'Allow out-of-sync replicas to lead.' },
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

/**
 * Kafka's type check of a config value (ConfigDef.parseType): null when the value parses, else the
 * reason, worded as Kafka words it ("Not a number of type LONG").
 */
function checkType(type: ConfigType, value: string): string | null {
  const v = value.trim();
  switch (type) {
    case 'boolean':
      return /^(true|false)$/i.test(v) ? null : 'Expected value to be either true or false';
    case 'int':
      return /^[-+]?\d+$/.test(v) && BigInt(v) >= -(2n ** 31n) && BigInt(v) < 2n ** 31n ? null : 'Not a number of type INT';
    case 'long':
      return /^[-+]?\d+$/.test(v) && BigInt(v) >= -(2n ** 63n) && BigInt(v) < 2n ** 63n ? null : 'Not a number of type LONG';
    case 'double':
      return v !== '' && Number.isFinite(Number(v)) ? null : 'Not a number of type DOUBLE';
    default:
      return null;
  }
}

/** Compares decimal strings exactly (a long may exceed a double's precision). */
function compareNumber(type: ConfigType, a: string, b: string): number {
  if (type === 'double') return Math.sign(Number(a) - Number(b));
  const x = BigInt(a.trim().replace(/^\+/, ''));
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * Kafka's validator of one topic config value (type, Range, ValidString, ValidList, the throttled
 * replicas list): null when valid, else the reason after "Invalid value V for configuration N: ".
 */
function topicValueProblem(setting: TopicSetting, value: string): string | { shown: string; reason: string } | null {
  const typeProblem = checkType(setting.type, value);
  if (typeProblem) return typeProblem;
  const v = value.trim();
  if (setting.orMinusOne && compareNumber(setting.type, v, '-1') === 0) return null;
  if (setting.min !== undefined && compareNumber(setting.type, v, setting.min) < 0) {
    return setting.max !== undefined && setting.orMinusOne ? `Value must be between ${setting.min} and ${setting.max} or -1` : `Value must be at least ${setting.min}`;
  }
  if (setting.max !== undefined && compareNumber(setting.type, v, setting.max) > 0) {
    return setting.orMinusOne ? `Value must be between ${setting.min} and ${setting.max} or -1` : `Value must be no more than ${setting.max}`;
  }
  if (setting.validValues && !setting.validValues.includes(v)) return `String must be one of: ${setting.validValues.join(', ')}`;
  if (setting.listValues) {
    const items = v.split(',').map((x) => x.trim());
    const bad = items.find((x) => !setting.listValues!.includes(x));
    // Kafka's ValidList checks item by item and names the item in its message.
    if (bad !== undefined) return { shown: bad, reason: `String must be one of: ${setting.listValues.join(', ')}` };
  }
  if (setting.pattern && !setting.pattern.test(v)) {
    return 'must be the literal \'*\' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...';
  }
  return null;
}

/** Resolved broker settings; `get` returns the effective value (explicit or default). */
export type BrokerConfigSource = 'DYNAMIC_BROKER_CONFIG' | 'DYNAMIC_DEFAULT_BROKER_CONFIG' | 'STATIC_BROKER_CONFIG' | 'DEFAULT_CONFIG';

/** Derived values kept at most (distinct topic override sets, mostly): more and they start over. */
const MAX_DERIVED = 256;

export class BrokerSettings {
  private readonly values = new Map<string, string>();
  private dynamicForBroker: Record<string, string> = {};
  private dynamicDefault: Record<string, string> = {};
  /** Values derived from the settings (see `derive`); emptied whenever setDynamic changes them. */
  private readonly derived = new Map<string, unknown>();

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
    const prefixed = parseListenerPrefixed(name);
    if (prefixed) {
      const base = brokerByName.get(prefixed.setting);
      const problem = base ? checkType(base.type, value) : null;
      if (problem) throw new ConfigError(`Invalid value ${value} for configuration ${name}: ${problem}`);
      this.values.set(`listener.name.${prefixed.listener}.${prefixed.setting}`, value);
      return;
    }
    const setting = brokerByName.get(name);
    if (!setting) {
      throw new ConfigError(`unknown broker setting '${name}' (known: ${[...brokerByName.keys()].join(', ')})`);
    }
    const problem = checkType(setting.type, value);
    if (problem) throw new ConfigError(`Invalid value ${value} for configuration ${name}: ${problem}`);
    this.values.set(name, value);
  }

  get(name: string): string | null { return this.layers(name)[0]!.value; }

  /**
   * Where `name`'s value comes from, highest precedence first, as Kafka resolves a broker config:
   * a dynamic config for this broker, the dynamic cluster default, the static setting (config file
   * or --set), the default. The last entry is always the default.
   */
  layers(name: string): Array<{ value: string | null; source: BrokerConfigSource }> {
    const setting = brokerByName.get(name);
    if (!setting) throw new ConfigError(`unknown broker setting '${name}'`);
    const out: Array<{ value: string | null; source: BrokerConfigSource }> = [];
    if (this.dynamicForBroker[name] !== undefined) out.push({ value: this.dynamicForBroker[name]!, source: 'DYNAMIC_BROKER_CONFIG' });
    if (this.dynamicDefault[name] !== undefined) out.push({ value: this.dynamicDefault[name]!, source: 'DYNAMIC_DEFAULT_BROKER_CONFIG' });
    if (this.values.has(name)) out.push({ value: this.values.get(name)!, source: 'STATIC_BROKER_CONFIG' });
    out.push({ value: setting.default, source: 'DEFAULT_CONFIG' });
    return out;
  }

  /**
   * The dynamic broker configs in force (from the metadata store): this broker's own and the
   * cluster default. Only names marked dynamic are kept; they take effect on the next get().
   */
  setDynamic(forBroker: Readonly<Record<string, string>>, clusterDefault: Readonly<Record<string, string>>): void {
    const keep = (m: Readonly<Record<string, string>>) => Object.fromEntries(Object.entries(m)
      .map(([k, v]) => [brokerByName.get(k)?.dynamic ? k : dynamicListenerKey(k), v] as const).filter(([k]) => k !== null));
    this.dynamicForBroker = keep(forBroker);
    this.dynamicDefault = keep(clusterDefault);
    this.derived.clear();
  }

  /**
   * `make()`, computed once per `key` for as long as the settings stay as they are (a dynamic
   * config change forgets every derived value). What `make` throws is not remembered. For values
   * every topic needs (its effective configs, its LogConfig, its described configs), which are
   * the same for every topic without overrides: creating 1,000 topics computed them 3,000 times.
   * The value is shared: it must not be modified.
   */
  derive<T>(key: string, make: () => T): T {
    if (this.derived.has(key)) return this.derived.get(key) as T;
    const value = make();
    if (this.derived.size >= MAX_DERIVED) this.derived.clear();
    this.derived.set(key, value);
    return value;
  }

  isExplicit(name: string): boolean { return this.values.has(name); }

  /**
   * A setting as one listener sees it: `listener.name.<listener>.<name>` when given, else the
   * broker-wide `name` (for `<mechanism>.sasl.jaas.config`, which has no broker-wide form: null).
   */
  forListener(listener: string, name: string): string | null {
    const key = `listener.name.${listener.toLowerCase()}.${name}`;
    const dynamic = this.dynamicForBroker[key] ?? this.dynamicDefault[key];
    if (dynamic !== undefined) return dynamic;
    const own = this.values.get(key);
    if (own !== undefined) return own;
    return brokerByName.has(name) ? this.get(name) : null;
  }

  int(name: string): number { return Number(this.get(name)); }
  bool(name: string): boolean { return this.get(name) === 'true'; }

  /** A topic's effective configs: its overrides over these broker defaults. */
  topicConfigs(overrides: Readonly<Record<string, string>>): Record<string, string> {
    const defaults = this.derive('topic-defaults', () => {
      const out: Record<string, string> = {};
      for (const s of topicSettings) out[s.name] = (s.brokerSynonym ? this.get(s.brokerSynonym) : s.default) ?? '';
      return out;
    });
    const out = { ...defaults };
    for (const s of topicSettings) {
      const own = overrides[s.name];
      if (own !== undefined) out[s.name] = own;
    }
    return out;
  }
}

/**
 * Validates topic config overrides from CreateTopics / AlterConfigs / Topic resources as Kafka's
 * LogConfig does: an unknown name or an invalid value is INVALID_CONFIG with Kafka's message.
 */
export function validateTopicConfigs(configs: Readonly<Record<string, string | null>>): void {
  for (const [name, value] of Object.entries(configs)) {
    const setting = topicByName.get(name);
    if (!setting) throw new KafkaError('INVALID_CONFIG', `Unknown topic config name: ${name}`);
    if (value === null) continue;
    const problem = topicValueProblem(setting, value);
    if (problem === null) continue;
    const { shown, reason } = typeof problem === 'string' ? { shown: value, reason: problem } : problem;
    throw new KafkaError('INVALID_CONFIG', `Invalid value ${shown} for configuration ${name}: ${reason}`);
  }
}

export function topicSetting(name: string): TopicSetting | undefined { return topicByName.get(name); }
export function brokerSetting(name: string): BrokerSetting | undefined { return brokerByName.get(name); }

/** Broker configs Brook describes as read-only facts (not settings): altering them is refused as Kafka refuses it. */
const READ_ONLY_BROKER_FACTS = new Set(['broker.id', 'node.id', 'log.dirs', 'log.dir', 'inter.broker.protocol.version', 'process.roles']);

/**
 * Validates a dynamic broker config value (IncrementalAlterConfigs / AlterConfigs on a BROKER
 * resource) as Kafka's controller does: a config that cannot change at run time, or an invalid
 * value, is INVALID_REQUEST with Kafka's message.
 */
export function validateDynamicBrokerConfig(name: string, value: string): void {
  // A listener's key store and trust store (Kafka's way to rotate certificates without a restart).
  if (dynamicListenerKey(name) !== null) return;
  const setting = brokerByName.get(name);
  if (!setting && !READ_ONLY_BROKER_FACTS.has(name)) throw new KafkaError('INVALID_CONFIG', `Unknown broker config name: ${name}`);
  if (!setting?.dynamic) throw new KafkaError('INVALID_REQUEST', `Cannot update these configs dynamically: [${name}]`);
  const problem = checkType(setting.type, value);
  if (problem) throw new KafkaError('INVALID_REQUEST', `Invalid value ${value} for configuration ${name}: ${problem}`);
  // A topic config's broker default is validated as the topic config is (Kafka's validateBrokerLogConfigValues).
  const topic = topicSettings.find((t) => t.brokerSynonym === name);
  if (topic) {
    const reason = topicValueProblem(topic, value);
    if (reason !== null) throw new KafkaError('INVALID_REQUEST', `Invalid value ${typeof reason === 'string' ? value : reason.shown} for configuration ${name}: ${typeof reason === 'string' ? reason : reason.reason}`);
    return;
  }
  // The replication throttle rates (Kafka's DynamicConfig.Broker, validated apart from the log configs).
  if (setting.type === 'long' && BigInt(value) < 0n) throw new KafkaError('INVALID_CONFIG', `Invalid value ${value} for configuration ${name}: Value must be at least 0`);
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

/** Defaults of `brook local` (the fleet `npm start` runs) that differ from a lone broker's, and why. */
export const localFleetDefaults: ReadonlyArray<{ name: string; value: string; reason: string }> = [
  { name: 'default.replication.factor', value: 'min(3, brokers)', reason: 'the local fleet has several brokers so that topics created without a replication factor are replicated, as a production cluster\'s would be; Kafka\'s default is 1.' },
  { name: 'offsets.topic.replication.factor', value: 'min(3, brokers)', reason: 'so that a 1- or 2-broker local fleet can create __consumer_offsets (Kafka\'s 3 would wait for brokers that never come).' },
];

/**
 * What `brook settings` prints: every broker setting (dynamic ones marked), every topic config
 * with the broker setting that supplies its default, the names accepted without effect and why,
 * and every default that differs from Apache Kafka 4.1's, with the reason.
 */
export function settingsReference(): string {
  const lines: string[] = ['Broker settings (config file or --set key=value; [dynamic]: also IncrementalAlterConfigs on a BROKER resource):', ''];
  for (const s of brokerSettings) {
    lines.push(`${s.name} (${s.type}, default ${s.default ?? 'unset'})${s.dynamic ? ' [dynamic]' : ''}`, `    ${s.doc}`);
    if (s.noEffect) lines.push(`    Accepted, no effect: ${s.noEffect}`);
    if (s.kafkaDefault) lines.push(`    Apache Kafka's default is ${s.kafkaDefault.value}: ${s.kafkaDefault.reason}`);
  }
  lines.push('', 'Topic configs (CreateTopics, kafka-configs --alter, Topic resources), Apache Kafka 4.1\'s full set:', '');
  for (const t of topicSettings) {
    const from = t.brokerSynonym ? `default from ${t.brokerSynonym}` : `default ${t.default === '' ? '""' : t.default}`;
    lines.push(`${t.name} (${t.type}, ${from})`, `    ${t.doc}`);
    if (t.noEffect) lines.push(`    Accepted, no effect: ${t.noEffect}`);
  }
  lines.push('', 'Accepted but without effect (stored and described as Kafka describes them):', '');
  const seen = new Set<string>();
  for (const s of [...topicSettings, ...brokerSettings]) {
    if (s.noEffect && !seen.has(s.name)) lines.push(`  ${s.name}: ${s.noEffect}`);
    seen.add(s.name);
  }
  lines.push('', 'Defaults that differ from Apache Kafka 4.1\'s:', '');
  for (const s of brokerSettings) if (s.kafkaDefault) lines.push(`  ${s.name}: ${s.default} (Kafka: ${s.kafkaDefault.value}) - ${s.kafkaDefault.reason}`);
  for (const l of localFleetDefaults) lines.push(`  ${l.name} under brook local / npm start: ${l.value} - ${l.reason}`);
  return lines.join('\n') + '\n';
}
