/**
 * Incremental fetch sessions (KIP-227), the leader's side. A fetcher that asks for a session
 * (session epoch 0) sends its partitions once; the broker keeps them, each with the fetch state
 * the fetcher last sent and what the last response told it. From then on a fetch (the session's
 * id and next epoch) names only the partitions whose fetch state changed, plus those to forget,
 * and its response carries only the partitions with records, an error, or a high watermark, last
 * stable offset or log start offset that moved. A follower of 1,000 idle partitions then sends and
 * receives an empty fetch every replica.fetch.wait.max.ms, not 1,000 partition entries each way.
 *
 * Epochs: 0 opens a session (the broker may decline: session id 0 in the answer), -1 fetches
 * without one (and, with a session id, closes it), N > 0 is the N-th incremental fetch; a fetch
 * with an unknown id gets FETCH_SESSION_ID_NOT_FOUND, one with any other epoch
 * INVALID_FETCH_SESSION_EPOCH, and the fetcher starts over with a full fetch.
 *
 * The cache holds at most `maxSessions` (Kafka's max.incremental.fetch.session.cache.slots); a new
 * session beyond that takes the place of the one used longest ago.
 */
import type { Request } from './index.ts';
import type { Target } from './fetch.ts';

export type FetchPartitionRequest = Request<1>['topics'][number]['partitions'][number];

/** Session epochs with a meaning of their own. */
export const INITIAL_EPOCH = 0;
export const FINAL_EPOCH = -1;

export interface SessionPartition {
  /** The topic's name (Fetch v7-12) or '' (v13+, which name topics by id). */
  readonly topic: string;
  /** The topic's id (v13+), or the zero uuid. */
  readonly topicId: string;
  /** The fetch state the fetcher last sent for this partition. */
  request: FetchPartitionRequest;
  /** What the last response said of the partition (-2: nothing yet). */
  sentHighWatermark: bigint;
  sentLastStableOffset: bigint;
  sentLogStartOffset: bigint;
  /** The fetch handler's target for the partition, kept for the session's next fetch. */
  target?: Target;
}

export class FetchSession {
  readonly id: number;
  /** The epoch the next incremental fetch must carry. */
  epoch = 1;
  lastUsed: number;
  /** By partitionKey(), in the order they were added. */
  readonly partitions = new Map<string, SessionPartition>();

  constructor(id: number, now: number) {
    this.id = id;
    this.lastUsed = now;
  }

  /** Adds or updates a partition the fetch names. */
  upsert(topic: string, topicId: string, request: FetchPartitionRequest): SessionPartition {
    const key = partitionKey(topic, topicId, request.partition);
    const known = this.partitions.get(key);
    if (known) {
      known.request = request;
      return known;
    }
    const added: SessionPartition = { topic, topicId, request, sentHighWatermark: -2n, sentLastStableOffset: -2n, sentLogStartOffset: -2n };
    this.partitions.set(key, added);
    return added;
  }

  forget(topic: string, topicId: string, partition: number): void {
    this.partitions.delete(partitionKey(topic, topicId, partition));
  }

  /** Moves to the next epoch (after INT32_MAX comes 1, as in Kafka). */
  advance(): void {
    this.epoch = this.epoch === 0x7fffffff ? 1 : this.epoch + 1;
  }
}

export function partitionKey(topic: string, topicId: string, partition: number): string {
  return `${topic === '' ? topicId : topic}\u0000${partition}`;
}

export class FetchSessionCache {
  private readonly sessions = new Map<number, FetchSession>();
  private readonly maxSessions: number;
  private readonly clock: () => number;
  private readonly random: () => number;

  constructor(opts: { maxSessions: number; clock: () => number; random?: () => number }) {
    this.maxSessions = opts.maxSessions;
    this.clock = opts.clock;
    this.random = opts.random ?? Math.random;
  }

  get size(): number { return this.sessions.size; }

  /** A new, empty session; null when sessions are off (max 0). */
  create(): FetchSession | null {
    if (this.maxSessions <= 0) return null;
    if (this.sessions.size >= this.maxSessions) {
      let oldest: FetchSession | undefined;
      for (const s of this.sessions.values()) if (!oldest || s.lastUsed < oldest.lastUsed) oldest = s;
      this.sessions.delete(oldest!.id);
    }
    let id = 0;
    while (id === 0 || this.sessions.has(id)) id = 1 + Math.floor(this.random() * 0x7ffffffe);
    const session = new FetchSession(id, this.clock());
    this.sessions.set(id, session);
    return session;
  }

  /** The session, marked as used now. */
  get(id: number): FetchSession | undefined {
    const s = this.sessions.get(id);
    if (s) s.lastUsed = this.clock();
    return s;
  }

  remove(id: number): void {
    this.sessions.delete(id);
  }
}
