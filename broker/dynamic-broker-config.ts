/**
 * Dynamic broker configs (`kafka-configs --entity-type brokers`), followed from the metadata
 * store and applied without a restart, as Kafka applies them: this broker's own entity over the
 * cluster default (entity '') over the static settings. On every change the replication
 * throttles (leader/follower.replication.throttled.rate) take their rate at once, the listeners'
 * key and trust store files are checked again (listener.name.X.ssl.keystore.location and
 * friends), and the topic defaults (log.retention.ms, compression.type, min.insync.replicas, ...)
 * are re-applied to every hosted partition whose topic does not override them.
 */
import type { BrokerSettings } from './config.ts';
import type { DynamicBrokerConfigs, MetadataStore } from './metadata/index.ts';
import { ReplicationQuota } from './replication/index.ts';

export interface DynamicBrokerConfigOptions {
  nodeId: number;
  settings: BrokerSettings;
  store: Pick<MetadataStore, 'watchBrokerConfigs'>;
  clock: () => number;
  /** Bytes a throttle held back, per side (the replication throttle metric). */
  onThrottled(side: 'leader' | 'follower', bytes: number): void;
  /** Checks the listeners' TLS files again. */
  checkTlsFiles(): void;
  /** Re-applies the effective topic configs to the hosted partitions. */
  reapplyTopicConfigs(): void;
}

export class DynamicBrokerConfig {
  /** The leader side's replication throttle (leader.replication.throttled.rate). */
  readonly leaderQuota: ReplicationQuota;
  /** The follower side's replication throttle (follower.replication.throttled.rate). */
  readonly followerQuota: ReplicationQuota;
  private readonly opts: DynamicBrokerConfigOptions;
  private configs: DynamicBrokerConfigs = {};
  private unwatch: (() => void) | null = null;

  constructor(opts: DynamicBrokerConfigOptions) {
    this.opts = opts;
    this.leaderQuota = new ReplicationQuota({ clock: opts.clock, onRecord: (n) => opts.onThrottled('leader', n) });
    this.followerQuota = new ReplicationQuota({ clock: opts.clock, onRecord: (n) => opts.onThrottled('follower', n) });
  }

  /** Follows the store's dynamic broker configs. */
  start(): void { this.unwatch = this.opts.store.watchBrokerConfigs((configs) => this.changed(configs)); }
  stop(): void { this.unwatch?.(); }

  /** The dynamic broker configs as the store has them (entity '' = cluster default). */
  current(): DynamicBrokerConfigs { return this.configs; }

  private changed(configs: DynamicBrokerConfigs): void {
    const own = String(this.opts.nodeId);
    this.configs = configs;
    this.opts.settings.setDynamic(configs[own] ?? {}, configs[''] ?? {});
    this.opts.checkTlsFiles();
    this.opts.reapplyTopicConfigs();
    const rate = (name: string) => {
      const value = Number(configs[own]?.[name] ?? configs['']?.[name] ?? this.opts.settings.get(name));
      return Number.isSafeInteger(value) ? value : null; // Kafka's default, Long.MAX_VALUE: no throttle
    };
    this.leaderQuota.setRate(rate('leader.replication.throttled.rate'));
    this.followerQuota.setRate(rate('follower.replication.throttled.rate'));
  }
}
