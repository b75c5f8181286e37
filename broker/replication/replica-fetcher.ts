/**
 * ReplicaFetcher: one per leader broker. It keeps every partition this broker follows on that
 * leader up to date by sending Fetch requests with this broker's replica id over the ordinary
 * Kafka protocol (v12: LastFetchedEpoch in, DivergingEpoch out), appending what comes back
 * with the leader's offsets and epochs.
 *
 * Divergence (this replica wrote past where the new leader's log agrees, e.g. as a cut-off
 * leader): the leader answers with the epoch and end offset where the logs part, and the
 * follower truncates to there before fetching on. The leader's log start offset (moved by
 * DeleteRecords or retention) becomes the follower's too, bounded by its own log end, so deleted
 * records do not come back after a failover. Out of range: the follower asks the leader
 * for its log start and end (ListOffsets with a replica id) and truncates or restarts its log.
 * A failure on one partition backs off that partition only; a connection failure backs off the
 * lane (below) and reconnects.
 *
 * Lanes: the partitions followed on one leader are spread over `lanes` fetch loops, each with
 * its own connection (Kafka's num.replica.fetchers), a partition always in the same lane (a
 * hash of topic and index). So up to `lanes` fetches per leader are in flight and the link
 * carries one response while the follower appends another, yet each partition has at most one
 * fetch in flight. More than one per partition is not safe: the fetch offset is the follower's
 * log end, which the leader takes as what the follower holds (high watermark, ISR); a second
 * fetch sent ahead, from where the first one's records would end, would let the leader count
 * records the follower has not written yet (and the follower cannot know where the first
 * answer ends before it arrives).
 */
import { ErrorCode, KafkaError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { KafkaConnection } from '../client/kafka-connection.ts';
import type { ReplicationQuota } from './replication-quota.ts';
import type { ClientSecurity } from '../security/listener-security.ts';
import type { Partition } from '../partition.ts';

const FETCH = 1;
const FETCH_VERSION = 12;
const LIST_OFFSETS = 2;
const LIST_OFFSETS_VERSION = 5;
const PARTITION_BACKOFF_MS = 1000;
const CONNECTION_BACKOFF_MS = 300;
/** Fetch loops (connections) per leader, unless FetcherOptions.lanes says otherwise. */
export const DEFAULT_FETCH_LANES = 2;
/** Most bytes one fetch response may carry (Kafka's replica.fetch.response.max.bytes default). */
const RESPONSE_MAX_BYTES = 10 * 1024 * 1024;

export interface FetcherOptions {
  nodeId: number;
  leaderId: number;
  host: string;
  port: number;
  maxWaitMs: number;
  maxBytes: number;
  logger: Logger;
  /** The broker's clock (partition back-off deadlines). */
  clock: () => number;
  /** The follower side's replication throttle, and whether a partition's replica here is throttled by it. */
  quota?: ReplicationQuota;
  throttled?: (p: Partition) => boolean;
  /** TLS and SASL of the leader's inter-broker listener. */
  security?: ClientSecurity;
  /** Fetch loops, each with its own connection, over which the partitions are spread (default DEFAULT_FETCH_LANES). */
  lanes?: number;
}

interface Followed { partition: Partition; backoffUntil: number }

export class ReplicaFetcher {
  readonly leaderId: number;
  private readonly opts: FetcherOptions;
  private readonly lanes: FetchLane[];

  constructor(opts: FetcherOptions) {
    this.opts = opts;
    this.leaderId = opts.leaderId;
    this.lanes = Array.from({ length: Math.max(1, opts.lanes ?? DEFAULT_FETCH_LANES) }, (_, i) => new FetchLane(opts, i));
  }

  get endpoint(): string { return `${this.opts.host}:${this.opts.port}`; }
  get partitions(): Partition[] { return this.lanes.flatMap((l) => l.partitions); }

  add(p: Partition): void { this.laneOf(p).add(p); }
  remove(p: Partition): void { this.laneOf(p).remove(p); }

  async stop(): Promise<void> {
    await Promise.all(this.lanes.map((l) => l.stop()));
  }

  /** Kafka's fetcher id: abs(31 * hash(topic) + partition) % lanes. */
  private laneOf(p: Partition): FetchLane {
    let h = 0;
    for (let i = 0; i < p.topic.length; i++) h = (Math.imul(31, h) + p.topic.charCodeAt(i)) | 0;
    return this.lanes[Math.abs((Math.imul(31, h) + p.index) | 0) % this.lanes.length]!;
  }
}

/** One fetch loop and its connection to the leader, for the partitions of one lane. */
class FetchLane {
  private readonly opts: FetcherOptions;
  private readonly leaderId: number;
  private readonly conn: KafkaConnection;
  private readonly followed = new Map<Partition, Followed>();
  private running = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;

  constructor(opts: FetcherOptions, lane: number) {
    this.opts = opts;
    this.leaderId = opts.leaderId;
    this.conn = new KafkaConnection({ host: opts.host, port: opts.port, clientId: `brook-replica-${opts.nodeId}-${lane}`, requestTimeoutMs: opts.maxWaitMs + 15_000, security: opts.security });
  }

  private get endpoint(): string { return `${this.opts.host}:${this.opts.port}`; }
  get partitions(): Partition[] { return [...this.followed.keys()]; }

  add(p: Partition): void {
    if (!this.followed.has(p)) this.followed.set(p, { partition: p, backoffUntil: 0 });
    this.wake?.();
    if (!this.running) {
      this.running = true;
      this.loop = this.run();
    }
  }

  remove(p: Partition): void { this.followed.delete(p); }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    this.conn.close();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      const now = this.opts.clock();
      const ready = [...this.followed.values()].filter((f) => f.backoffUntil <= now && !f.partition.isLeader && !this.heldBack(f.partition));
      if (ready.length === 0) {
        await this.sleep(this.followed.size === 0 ? 60_000 : 100);
        continue;
      }
      try {
        await this.fetchOnce(ready);
      } catch (err) {
        if (!this.running) break;
        this.opts.logger.debug(`fetch from leader ${this.leaderId} (${this.endpoint}) failed: ${(err as Error).message}`);
        await this.sleep(CONNECTION_BACKOFF_MS);
      }
    }
  }

  /** A throttled replica out of the ISR waits while the follower quota is used up (Kafka's shouldFollowerThrottle). */
  private isThrottled(p: Partition): boolean {
    return this.opts.throttled !== undefined && !p.state.isr.includes(this.opts.nodeId) && this.opts.throttled(p);
  }

  private heldBack(p: Partition): boolean {
    return this.opts.quota !== undefined && this.isThrottled(p) && this.opts.quota.isExceeded();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void { clearTimeout(t); resolve(); }
      this.wake = () => { this.wake = null; done(); };
    });
  }

  private async fetchOnce(ready: Followed[]): Promise<void> {
    const byTopic = new Map<string, Followed[]>();
    for (const f of ready) {
      const list = byTopic.get(f.partition.topic) ?? [];
      list.push(f);
      byTopic.set(f.partition.topic, list);
    }
    const sent = new Map<string, { f: Followed; fetchOffset: bigint; epoch: number }>();
    const topics = [...byTopic].map(([topic, list]) => ({
      topic,
      partitions: list.map((f) => {
        const p = f.partition;
        sent.set(`${topic}\u0000${p.index}`, { f, fetchOffset: p.log.logEndOffset, epoch: p.leaderEpoch });
        return {
          partition: p.index, currentLeaderEpoch: p.leaderEpoch, fetchOffset: p.log.logEndOffset,
          lastFetchedEpoch: p.log.latestEpoch, logStartOffset: p.log.logStartOffset, partitionMaxBytes: this.opts.maxBytes,
        };
      }),
    }));
    const response = await this.conn.send(FETCH, FETCH_VERSION, {
      replicaId: this.opts.nodeId, maxWaitMs: this.opts.maxWaitMs, minBytes: 1, maxBytes: Math.max(this.opts.maxBytes, RESPONSE_MAX_BYTES),
      isolationLevel: 0, sessionId: 0, sessionEpoch: -1, topics, forgottenTopicsData: [], rackId: '',
    });
    if (response.errorCode !== ErrorCode.NONE) throw KafkaError.fromCode(response.errorCode, `fetch from leader ${this.leaderId}`);
    for (const t of response.responses) {
      for (const r of t.partitions) {
        const s = sent.get(`${t.topic}\u0000${r.partitionIndex}`);
        if (!s || !this.followed.has(s.f.partition)) continue;
        const p = s.f.partition;
        // The partition may have changed role or epoch while the fetch was out.
        if (p.isLeader || p.leaderEpoch !== s.epoch || p.log.logEndOffset !== s.fetchOffset) continue;
        if (r.records && this.isThrottled(p)) this.opts.quota?.record(r.records.length);
        try {
          await this.handlePartition(s.f, r);
        } catch (err) {
          s.f.backoffUntil = this.opts.clock() + PARTITION_BACKOFF_MS;
          this.opts.logger.warn(`replicating ${p.name} from leader ${this.leaderId} failed: ${(err as Error).message}`);
        }
      }
    }
  }

  private async handlePartition(f: Followed, r: {
    errorCode: number; highWatermark: bigint; logStartOffset: bigint; records: Buffer | null;
    divergingEpoch: { epoch: number; endOffset: bigint };
  }): Promise<void> {
    const p = f.partition;
    switch (r.errorCode) {
      case ErrorCode.NONE:
        if (r.divergingEpoch.epoch >= 0) {
          const ours = p.log.endOffsetForEpoch(r.divergingEpoch.epoch);
          const target = ours.endOffset < r.divergingEpoch.endOffset ? ours.endOffset : r.divergingEpoch.endOffset;
          this.opts.logger.info(`${p.name}: log diverges from leader ${this.leaderId} at epoch ${r.divergingEpoch.epoch}; truncating ${p.log.logEndOffset} → ${target}`);
          p.truncateTo(target < 0n ? 0n : target);
          return;
        }
        p.appendAsFollower(r.records, r.highWatermark);
        p.followLeaderLogStart(r.logStartOffset);
        return;
      case ErrorCode.OFFSET_OUT_OF_RANGE:
        await this.resetOutOfRange(p);
        return;
      case ErrorCode.NOT_LEADER_OR_FOLLOWER:
      case ErrorCode.FENCED_LEADER_EPOCH:
      case ErrorCode.UNKNOWN_LEADER_EPOCH:
      case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
        // metadata will catch up; try again shortly
        f.backoffUntil = this.opts.clock() + 200;
        return;
      default:
        throw KafkaError.fromCode(r.errorCode, `${p.name}: fetch from leader ${this.leaderId}`);
    }
  }

  private async resetOutOfRange(p: Partition): Promise<void> {
    const ask = async (timestamp: bigint): Promise<bigint> => {
      const res = await this.conn.send(LIST_OFFSETS, LIST_OFFSETS_VERSION, {
        replicaId: this.opts.nodeId, isolationLevel: 0,
        topics: [{ name: p.topic, partitions: [{ partitionIndex: p.index, currentLeaderEpoch: p.leaderEpoch, timestamp }] }],
      });
      const part = res.topics[0]?.partitions[0];
      if (!part || part.errorCode !== ErrorCode.NONE) throw KafkaError.fromCode(part?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR, `${p.name}: ListOffsets to leader ${this.leaderId}`);
      return part.offset as bigint;
    };
    const leaderStart = await ask(-2n);
    const leaderEnd = await ask(-1n);
    if (p.log.logEndOffset < leaderStart) {
      this.opts.logger.info(`${p.name}: behind the leader's log start ${leaderStart}; restarting the log there`);
      p.truncateFullyAndStartAt(leaderStart);
    } else if (p.log.logEndOffset > leaderEnd) {
      this.opts.logger.info(`${p.name}: ahead of the leader's log end ${leaderEnd}; truncating`);
      p.truncateTo(leaderEnd);
    }
  }
}
