/**
 * ReplicaManager: the replication duties of one broker.
 * - As follower: one ReplicaFetcher per leader broker, holding the partitions it follows there;
 *   `sync()` moves partitions between fetchers whenever leadership or the live brokers change.
 * - As leader: ISR changes. A follower that caught up is proposed into the ISR; every half of
 *   replica.lag.time.max.ms the ISR is checked for followers that fell behind, which are
 *   proposed out. A proposal is a compare-and-swap of the topic in the metadata store that
 *   only succeeds if this broker still leads at the same leader epoch — the ISR is never
 *   changed locally, so a leader cut off from the store cannot shrink it.
 */
import type { Logger } from '../logger.ts';
import type { BrokerMetrics } from '../metrics.ts';
import { StaleVersionError } from '../metadata/index.ts';
import type { MetadataStore } from '../metadata/index.ts';
import type { Partition } from '../partition.ts';
import { ReplicaFetcher } from './replica-fetcher.ts';
import type { ReplicationQuota } from './replication-quota.ts';
import type { ClientSecurity } from '../security/listener-security.ts';

export interface ReplicaManagerOptions {
  nodeId: number;
  store: MetadataStore;
  logger: Logger;
  metrics: BrokerMetrics;
  lagMaxMs: number;
  fetchWaitMs: number;
  fetchMaxBytes: number;
  endpointOf: (brokerId: number) => { host: string; port: number } | undefined;
  /** TLS and SASL of the inter-broker listener (absent: plain TCP). */
  security?: ClientSecurity;
  partitions: () => Iterable<Partition>;
  clock: () => number;
  /** The follower side's replication throttle, and which followed replicas it applies to. */
  followerQuota?: ReplicationQuota;
  followerThrottled?: (p: Partition) => boolean;
}

export class ReplicaManager {
  private readonly opts: ReplicaManagerOptions;
  private readonly fetchers = new Map<number, ReplicaFetcher>();
  /** The ISR each partition's proposal in flight writes. */
  private readonly proposing = new Map<Partition, number[]>();
  private timer: NodeJS.Timeout | null = null;

  constructor(opts: ReplicaManagerOptions) { this.opts = opts; }

  start(): void {
    this.timer = setInterval(() => this.shrinkLaggingIsrs(), Math.max(100, Math.floor(this.opts.lagMaxMs / 2)));
    this.timer.unref();
  }

  /** Puts every followed partition in the fetcher of its current leader. */
  sync(): void {
    const wanted = new Map<number, Set<Partition>>();
    for (const p of this.opts.partitions()) {
      const leader = p.state.leader;
      if (p.isLeader || leader < 0) continue;
      if (!wanted.has(leader)) wanted.set(leader, new Set());
      wanted.get(leader)!.add(p);
    }
    for (const [leaderId, fetcher] of this.fetchers) {
      const endpoint = this.opts.endpointOf(leaderId);
      const moved = !endpoint || `${endpoint.host}:${endpoint.port}` !== fetcher.endpoint;
      if (moved || !wanted.has(leaderId)) {
        void fetcher.stop();
        this.fetchers.delete(leaderId);
      }
    }
    for (const [leaderId, partitions] of wanted) {
      const endpoint = this.opts.endpointOf(leaderId);
      if (!endpoint) continue;
      let fetcher = this.fetchers.get(leaderId);
      if (!fetcher) {
        fetcher = new ReplicaFetcher({
          nodeId: this.opts.nodeId, leaderId, host: endpoint.host, port: endpoint.port,
          maxWaitMs: this.opts.fetchWaitMs, maxBytes: this.opts.fetchMaxBytes, logger: this.opts.logger, clock: this.opts.clock,
          quota: this.opts.followerQuota, throttled: this.opts.followerThrottled, security: this.opts.security,
        });
        this.fetchers.set(leaderId, fetcher);
      }
      for (const p of partitions) fetcher.add(p);
    }
    for (const [leaderId, fetcher] of this.fetchers) {
      const keep = wanted.get(leaderId);
      for (const p of fetcher.partitions) if (!keep?.has(p)) fetcher.remove(p);
    }
  }

  /**
   * Proposes a new ISR for a partition this broker leads (compare-and-swap; fire and forget). A
   * proposal that is not written (another in flight, a lost race, leadership moved) is dropped,
   * so that followers it added stop holding the high watermark back.
   */
  proposeIsr(p: Partition, isr: number[]): void {
    const inFlight = this.proposing.get(p);
    if (inFlight) {
      p.isrProposalDropped(isr.filter((r) => !inFlight.includes(r)));
      return;
    }
    this.proposing.set(p, isr);
    void this.casIsr(p, isr)
      .catch((err: unknown) => {
        this.opts.logger.warn(`${p.name}: proposing ISR [${isr.join(',')}] failed: ${(err as Error).message}`);
        return false;
      })
      .then((written) => { if (!written) p.isrProposalDropped(isr); })
      .finally(() => this.proposing.delete(p));
  }

  /** True when the store holds `isr` for the partition afterwards. */
  private async casIsr(p: Partition, isr: number[]): Promise<boolean> {
    const epoch = p.leaderEpoch;
    for (let attempt = 0; attempt < 5; attempt++) {
      const topic = await this.opts.store.getTopic(p.topic);
      const state = topic?.partitions[p.index];
      if (!topic || !state || state.leader !== this.opts.nodeId || state.leaderEpoch !== epoch) return false;
      if (state.isr.length === isr.length && state.isr.every((r, i) => r === isr[i])) return true;
      const grew = isr.length > state.isr.length;
      const partitions = topic.partitions.map((s) => (s.partition === p.index ? { ...s, isr, partitionEpoch: s.partitionEpoch + 1 } : s));
      try {
        await this.opts.store.updateTopic(p.topic, topic.version, { partitions });
        (grew ? this.opts.metrics.isrExpands : this.opts.metrics.isrShrinks).inc();
        this.opts.logger.info(`${p.name}: ISR [${state.isr.join(',')}] → [${isr.join(',')}]`);
        return true;
      } catch (err) {
        if (!(err instanceof StaleVersionError)) {
          this.opts.logger.warn(`${p.name}: proposing ISR [${isr.join(',')}] failed: ${(err as Error).message}`);
          return false;
        }
      }
    }
    return false;
  }

  private shrinkLaggingIsrs(): void {
    for (const p of this.opts.partitions()) {
      if (!p.isLeader) continue;
      p.dropLaggingJoiners(this.opts.lagMaxMs);
      const isr = p.laggingIsr(this.opts.lagMaxMs);
      if (isr) this.proposeIsr(p, isr);
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.all([...this.fetchers.values()].map((f) => f.stop()));
    this.fetchers.clear();
  }
}
