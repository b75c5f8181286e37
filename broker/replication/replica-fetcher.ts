/**
 * ReplicaFetcher: one per leader broker. It keeps every partition this broker follows on that
 * leader up to date by sending Fetch requests with this broker's replica id over the ordinary
 * Kafka protocol (v12: LastFetchedEpoch in, DivergingEpoch out), appending what comes back
 * with the leader's offsets and epochs. Each lane keeps an incremental fetch session (KIP-227)
 * with the leader: after the first, full fetch, a fetch names only the partitions whose fetch
 * state moved, and the leader answers only those with something new, so a broker following
 * thousands of idle partitions exchanges empty fetches with their leaders. A refused session
 * (FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH) or a failed fetch starts a new one.
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

/** What the leader's fetch session holds for a partition: the fetch state this lane last sent it. */
interface Sent { topic: string; index: number; fetchOffset: bigint; leaderEpoch: number; lastFetchedEpoch: number; logStartOffset: bigint; round: number }

const INITIAL_EPOCH = 0;
const SESSION_ERRORS = new Set([ErrorCode.FETCH_SESSION_ID_NOT_FOUND, ErrorCode.INVALID_FETCH_SESSION_EPOCH]);

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
  /** How many partitions it follows. */
  get size(): number { return this.lanes.reduce((n, l) => n + l.size, 0); }

  add(p: Partition): void { this.laneOf(p).add(p); }
  /** Stops following `p`; false if it was not followed here. */
  remove(p: Partition): boolean { return this.laneOf(p).remove(p); }

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
  /** The followed partitions by topic and index (fetch responses name them so). */
  private readonly byName = new Map<string, Followed>();
  /**
   * The lane's incremental fetch session with the leader (KIP-227; id 0: none yet): once it is
   * open, a fetch names only the partitions whose fetch state moved since `sent`, and forgets the
   * ones no longer fetched, so an idle lane sends and gets empty fetches.
   */
  private session = { id: 0, epoch: INITIAL_EPOCH, sent: new Map<string, Sent>(), round: 0 };
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
  get size(): number { return this.followed.size; }

  add(p: Partition): void {
    if (!this.followed.has(p)) {
      const f = { partition: p, backoffUntil: 0 };
      this.followed.set(p, f);
      this.byName.set(nameOf(p.topic, p.index), f);
    }
    this.wake?.();
    if (!this.running) {
      this.running = true;
      this.loop = this.run();
    }
  }

  remove(p: Partition): boolean {
    if (!this.followed.delete(p)) return false;
    if (this.byName.get(nameOf(p.topic, p.index))?.partition === p) this.byName.delete(nameOf(p.topic, p.index));
    return true;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    this.conn.close();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      const now = this.opts.clock();
      const ready: Followed[] = [];
      this.followed.forEach((f) => { if (f.backoffUntil <= now && !f.partition.isLeader && !this.heldBack(f.partition)) ready.push(f); });
      if (ready.length === 0) {
        await this.sleep(this.followed.size === 0 ? 60_000 : 100);
        continue;
      }
      try {
        await this.fetchOnce(ready);
      } catch (err) {
        // the leader may or may not have taken the fetch (and moved the session's epoch): start over
        this.resetSession();
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

  private resetSession(): void {
    this.session = { id: 0, epoch: INITIAL_EPOCH, sent: new Map(), round: 0 };
  }

  /**
   * One fetch of the ready partitions: all of them when no session is open (asking the leader
   * for one), else those whose fetch offset, leader epoch, last fetched epoch or log start moved,
   * forgetting the ones not ready any more.
   */
  private async fetchOnce(ready: Followed[]): Promise<void> {
    const session = this.session;
    const incremental = session.id !== 0;
    const round = ++session.round;
    const byTopic = new Map<string, Array<Record<string, unknown>>>();
    for (const f of ready) {
      const p = f.partition;
      const fetchOffset = p.log.logEndOffset;
      const lastFetchedEpoch = p.log.latestEpoch;
      const logStartOffset = p.log.logStartOffset;
      const name = nameOf(p.topic, p.index);
      const known = session.sent.get(name);
      if (known) known.round = round;
      if (incremental && known && known.fetchOffset === fetchOffset && known.leaderEpoch === p.leaderEpoch
        && known.lastFetchedEpoch === lastFetchedEpoch && known.logStartOffset === logStartOffset) continue;
      session.sent.set(name, { topic: p.topic, index: p.index, fetchOffset, leaderEpoch: p.leaderEpoch, lastFetchedEpoch, logStartOffset, round });
      let list = byTopic.get(p.topic);
      if (!list) byTopic.set(p.topic, list = []);
      list.push({
        partition: p.index, currentLeaderEpoch: p.leaderEpoch, fetchOffset,
        lastFetchedEpoch, logStartOffset, partitionMaxBytes: this.opts.maxBytes,
      });
    }
    // Keyed by topic and index, not by Partition object: a replica re-created here (deleted and
    // made again by a reassignment or a topic re-created) is the same entry of the leader's
    // session, so it is never both named and forgotten in one fetch (which left the leader's
    // session without it while this lane thought it was there).
    const forgotten = new Map<string, number[]>();
    session.sent.forEach((sent, name) => {
      if (sent.round === round) return;
      session.sent.delete(name);
      if (!incremental) return;
      let list = forgotten.get(sent.topic);
      if (!list) forgotten.set(sent.topic, list = []);
      list.push(sent.index);
    });
    const response = await this.conn.send(FETCH, FETCH_VERSION, {
      replicaId: this.opts.nodeId, maxWaitMs: this.opts.maxWaitMs, minBytes: 1, maxBytes: Math.max(this.opts.maxBytes, RESPONSE_MAX_BYTES),
      isolationLevel: 0, sessionId: session.id, sessionEpoch: session.epoch,
      topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
      forgottenTopicsData: [...forgotten].map(([topic, partitions]) => ({ topic, partitions })), rackId: '',
    });
    if (SESSION_ERRORS.has(response.errorCode)) {
      this.opts.logger.debug(`fetch session ${session.id} with leader ${this.leaderId} refused (${response.errorCode}); starting a new one`);
      this.resetSession();
      return;
    }
    if (response.errorCode !== ErrorCode.NONE) throw KafkaError.fromCode(response.errorCode, `fetch from leader ${this.leaderId}`);
    if (incremental) session.epoch = session.epoch === 0x7fffffff ? 1 : session.epoch + 1;
    else if (response.sessionId !== 0) Object.assign(session, { id: response.sessionId, epoch: 1 });
    for (const t of response.responses) {
      for (const r of t.partitions) {
        const f = this.byName.get(nameOf(t.topic, r.partitionIndex));
        const p = f?.partition;
        const sent = session.sent.get(nameOf(t.topic, r.partitionIndex));
        if (!f || !p || !this.followed.has(p)) continue;
        // The partition may have changed role or epoch while the fetch was out.
        if (!sent || p.isLeader || p.leaderEpoch !== sent.leaderEpoch || p.log.logEndOffset !== sent.fetchOffset) continue;
        if (r.records && this.isThrottled(p)) this.opts.quota?.record(r.records.length);
        try {
          await this.handlePartition(f, r);
        } catch (err) {
          f.backoffUntil = this.opts.clock() + PARTITION_BACKOFF_MS;
          this.opts.logger.warn(`replicating ${p.name} from leader ${this.leaderId} failed: ${(err as Error).message}`);
        }
      }
    }
    // a leader that keeps no session (sessions off, or a Brook from before them) answers id 0: the
    // next fetch is a full one again
    if (!incremental && response.sessionId === 0) session.sent.clear();
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

function nameOf(topic: string, index: number): string {
  return `${topic}\u0000${index}`;
}
