/**
 * ReplicaManager: the replication duties of one broker.
 * - As follower: one ReplicaFetcher per leader broker, holding the partitions it follows there;
 *   `follow()` moves a topic's partitions between fetchers when it is applied (leadership may
 *   have changed), `sync()` all of them when the live brokers change.
 * - As leader: ISR changes. A follower that caught up is proposed into the ISR; every half of
 *   replica.lag.time.max.ms the ISR is checked for followers that fell behind, which are
 *   proposed out. Proposals are written as compare-and-swaps of the topic in the metadata store
 *   that only take a partition's proposal if this broker still leads it at the leader epoch the
 *   proposal was made in — the ISR is never changed locally, so a leader cut off from the store
 *   cannot shrink it. A topic's proposals are batched, as Kafka's AlterPartition batches them:
 *   one write per topic at a time carries every proposal queued for it, so a broker leading
 *   thousands of partitions of one topic makes a handful of writes when they all change (after a
 *   follower restarts), not thousands of racing writes of the whole topic.
 */
import type { Logger } from '../logger.ts';
import type { BrokerMetrics } from '../metrics.ts';
import { StaleVersionError } from '../metadata/index.ts';
import type { MetadataStore } from '../metadata/index.ts';
import type { Partition } from '../partition.ts';
import { ReplicaFetcher } from './replica-fetcher.ts';
import type { ReplicationQuota } from './replication-quota.ts';
import type { ClientSecurity } from '../security/listener-security.ts';

function endpointKey(endpoint: { host: string; port: number }): string { return `${endpoint.host}:${endpoint.port}`; }

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

/** A proposed ISR and the leader epoch it was proposed at. */
interface Proposal { isr: number[]; leaderEpoch: number }

export class ReplicaManager {
  private readonly opts: ReplicaManagerOptions;
  private readonly fetchers = new Map<number, ReplicaFetcher>();
  /** Each partition's proposal queued or being written. */
  private readonly proposing = new Map<Partition, Proposal>();
  /** Proposals waiting for their topic's next write, by topic. */
  private readonly queued = new Map<string, Map<Partition, Proposal>>();
  /** Topics with a write in flight (or about to start one). */
  private readonly writing = new Set<string>();
  private timer: NodeJS.Timeout | null = null;

  constructor(opts: ReplicaManagerOptions) { this.opts = opts; }

  start(): void {
    this.timer = setInterval(() => this.shrinkLaggingIsrs(), Math.max(100, Math.floor(this.opts.lagMaxMs / 2)));
    this.timer.unref();
  }

  /** Puts every followed partition in the fetcher of its current leader (after a change of the live brokers). */
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
      if (!endpoint || endpointKey(endpoint) !== fetcher.endpoint || !wanted.has(leaderId)) this.stopFetcher(leaderId);
    }
    for (const [leaderId, partitions] of wanted) {
      const fetcher = this.fetcherOf(leaderId);
      if (fetcher) for (const p of partitions) fetcher.add(p);
    }
    for (const [leaderId, fetcher] of this.fetchers) {
      const keep = wanted.get(leaderId);
      for (const p of fetcher.partitions) if (!keep?.has(p)) fetcher.remove(p);
    }
  }

  /**
   * What sync() does, for `partitions` only (a topic's, just applied): each goes to the fetcher of
   * its current leader and leaves any other, and a fetcher left with nothing stops. Applying N
   * topics so costs O(N), where a sync() per topic cost O(N²). A leader that moved to another
   * address since its fetcher started is sync()'s to handle.
   */
  follow(partitions: Iterable<Partition>): void {
    const emptied = new Set<number>();
    for (const p of partitions) {
      const leader = p.isLeader ? -1 : p.state.leader;
      for (const [leaderId, fetcher] of this.fetchers) {
        if (leaderId !== leader && fetcher.remove(p) && fetcher.size === 0) emptied.add(leaderId);
      }
      if (leader < 0) continue;
      const endpoint = this.opts.endpointOf(leader);
      const fetcher = this.fetchers.get(leader);
      if (fetcher && endpoint && endpointKey(endpoint) !== fetcher.endpoint) {
        this.sync();
        return;
      }
      this.fetcherOf(leader)?.add(p);
      emptied.delete(leader);
    }
    for (const leaderId of emptied) this.stopFetcher(leaderId);
  }

  /** Stops following `p` (its replica was deleted here). */
  unfollow(p: Partition): void {
    for (const [leaderId, fetcher] of this.fetchers) {
      if (fetcher.remove(p) && fetcher.size === 0) this.stopFetcher(leaderId);
    }
  }

  /** The fetcher from `leaderId`, started if there is none; undefined while the leader's address is unknown. */
  private fetcherOf(leaderId: number): ReplicaFetcher | undefined {
    const existing = this.fetchers.get(leaderId);
    if (existing) return existing;
    const endpoint = this.opts.endpointOf(leaderId);
    if (!endpoint) return undefined;
    const fetcher = new ReplicaFetcher({
      nodeId: this.opts.nodeId, leaderId, host: endpoint.host, port: endpoint.port,
      maxWaitMs: this.opts.fetchWaitMs, maxBytes: this.opts.fetchMaxBytes, logger: this.opts.logger, clock: this.opts.clock,
      quota: this.opts.followerQuota, throttled: this.opts.followerThrottled, security: this.opts.security,
    });
    this.fetchers.set(leaderId, fetcher);
    return fetcher;
  }

  private stopFetcher(leaderId: number): void {
    void this.fetchers.get(leaderId)?.stop();
    this.fetchers.delete(leaderId);
  }

  /**
   * Proposes a new ISR for a partition this broker leads (fire and forget): queued for its
   * topic's next write. A proposal that is not written (another one for the partition queued or
   * in flight, a lost race, leadership moved) is dropped, so that followers it added stop holding
   * the high watermark back.
   */
  proposeIsr(p: Partition, isr: number[]): void {
    const inFlight = this.proposing.get(p);
    if (inFlight) {
      p.isrProposalDropped(isr.filter((r) => !inFlight.isr.includes(r)));
      return;
    }
    const proposal = { isr, leaderEpoch: p.leaderEpoch };
    this.proposing.set(p, proposal);
    let batch = this.queued.get(p.topic);
    if (!batch) this.queued.set(p.topic, batch = new Map());
    batch.set(p, proposal);
    if (!this.writing.has(p.topic)) {
      this.writing.add(p.topic);
      // the rest of this turn's proposals (a fetch answered for many partitions) join the write
      setImmediate(() => void this.writeTopic(p.topic));
    }
  }

  /** Writes the topic's queued proposals, one batch at a time, until none is left. */
  private async writeTopic(topic: string): Promise<void> {
    try {
      for (let batch = this.queued.get(topic); batch !== undefined; batch = this.queued.get(topic)) {
        this.queued.delete(topic);
        let written: Set<Partition>;
        try {
          written = await this.casIsrs(topic, batch);
        } catch (err) {
          this.opts.logger.warn(`${topic}: proposing the ISR of ${batch.size} partition(s) failed: ${(err as Error).message}`);
          written = new Set();
        }
        for (const [p, proposal] of batch) {
          this.proposing.delete(p);
          if (!written.has(p)) p.isrProposalDropped(proposal.isr);
        }
      }
    } finally {
      this.writing.delete(topic);
    }
  }

  /**
   * One compare-and-swap of the topic with every proposal of `batch` that is still this broker's
   * to make (it leads the partition at the proposal's epoch), retried on a lost race with the
   * topic read again. Returns the partitions whose ISR the store holds afterwards.
   */
  private async casIsrs(topic: string, batch: ReadonlyMap<Partition, Proposal>): Promise<Set<Partition>> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const record = await this.opts.store.getTopic(topic);
      if (!record) return new Set();
      const held = new Set<Partition>();
      const changes = new Map<number, { p: Partition; isr: number[]; was: readonly number[] }>();
      for (const [p, { isr, leaderEpoch }] of batch) {
        const state = record.partitions[p.index];
        if (!state || state.leader !== this.opts.nodeId || state.leaderEpoch !== leaderEpoch) continue;
        if (state.isr.length === isr.length && state.isr.every((r, i) => r === isr[i])) held.add(p);
        else changes.set(p.index, { p, isr, was: state.isr });
      }
      if (changes.size === 0) return held;
      const partitions = record.partitions.map((s) => {
        const c = changes.get(s.partition);
        return c ? { ...s, isr: c.isr, partitionEpoch: s.partitionEpoch + 1 } : s;
      });
      try {
        await this.opts.store.updateTopic(topic, record.version, { partitions });
      } catch (err) {
        if (err instanceof StaleVersionError) continue;
        throw err;
      }
      for (const { p, isr, was } of changes.values()) {
        (isr.length > was.length ? this.opts.metrics.isrExpands : this.opts.metrics.isrShrinks).inc();
        this.opts.logger.info(`${p.name}: ISR [${was.join(',')}] → [${isr.join(',')}]`);
        held.add(p);
      }
      return held;
    }
    return new Set();
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
