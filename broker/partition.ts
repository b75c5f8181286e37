/**
 * Partition: one replica of a topic partition hosted by this broker — its log plus the partition
 * state the controller assigned (replicas, leader, ISR, epochs) — in one of two roles.
 *
 * Leader: appends producer batches; tracks each follower's log end and log start offsets from
 * its fetches; the high watermark is the smallest log end offset among the ISR and only moves
 * forward, the low watermark the smallest log start (DeleteRecords waits for it); proposes ISR
 * changes (a follower that caught up joins, one that lagged longer than replica.lag.time.max.ms
 * leaves) to the metadata store by compare-and-swap — never locally.
 * Follower: appends what the leader sends, keeping the leader's offsets and epochs; its high
 * watermark is min(leader's, own log end); its log start follows the leader's.
 * A replica opened after a restart resumes its high watermark from the checkpoint the broker
 * keeps (replication-offset-checkpoint), never past its log end.
 *
 * Everything runs on the event loop; appends are synchronous. Listeners are told when data
 * arrives (parked fetches), when the high watermark moves (parked acks=all produces and offset
 * commits) and when a follower reports a new log start (parked DeleteRecords). A change of
 * leader or leader epoch, or the replica leaving this broker (removed()), ends every one of those
 * waits at once, as Kafka completes its delayed operations.
 */
import { KafkaError } from './errors.ts';
import type { PartitionState } from './metadata/index.ts';
import type { AppendResult, LogConfig, PartitionLog } from './log/index.ts';

export interface FollowerState {
  /** The follower's log end offset, from the offset of its latest fetch. */
  logEndOffset: bigint;
  /**
   * The latest time the follower is known to have had everything the leader had (Kafka's
   * lastCaughtUpTimeMs): see recordFollowerFetch.
   */
  lastCaughtUpMs: number;
  lastFetchMs: number;
  /** The leader's log end offset when the follower's previous fetch arrived (-1: none yet). */
  lastFetchLeaderLogEndOffset: bigint;
  /** The follower's log start offset, as its latest fetch reported it (-1: not known yet). */
  logStartOffset: bigint;
}

export class Partition {
  readonly topic: string;
  readonly index: number;
  readonly topicId: string;
  readonly log: PartitionLog;
  private readonly nodeId: number;
  private readonly clock: () => number;
  private stateValue: PartitionState;
  private minIsr: number;
  private hw: bigint;
  private readonly followers = new Map<number, FollowerState>();
  /**
   * Followers proposed into the ISR and not yet in it here (Kafka's pending expansion, its
   * "maximal ISR"): the high watermark waits for them as for ISR members, because the store may
   * already list them in sync (and a reassignment may elect one) before this replica learns it.
   */
  private readonly joining = new Set<number>();
  private readonly appendListeners = new Set<() => void>();
  private readonly hwListeners = new Set<() => void>();
  private readonly roleListeners = new Set<() => void>();
  private readonly followerListeners = new Set<() => void>();

  /** The log end offset when this replica became leader at its current epoch (Kafka's leaderEpochStartOffset). */
  private epochStartOffsetValue = -1n;
  /** Set by removed(): this broker no longer hosts the partition. */
  private gone = false;

  constructor(opts: { topic: string; index: number; topicId: string; log: PartitionLog; nodeId: number;
    state: PartitionState; minInsyncReplicas: number; clock?: () => number;
    /** The high watermark from the replication-offset-checkpoint, if any: where a restarted replica resumes. */
    checkpointedHighWatermark?: bigint }) {
    this.topic = opts.topic;
    this.index = opts.index;
    this.topicId = opts.topicId;
    this.log = opts.log;
    this.nodeId = opts.nodeId;
    this.clock = opts.clock ?? Date.now;
    this.stateValue = opts.state;
    this.minIsr = opts.minInsyncReplicas;
    // Until the ISR reports, only what this replica alone can vouch for is committed, and what was
    // committed before a restart (the checkpoint, never past the log end).
    this.hw = opts.state.isr.length === 1 && opts.state.isr[0] === this.nodeId ? this.log.logEndOffset : this.log.logStartOffset;
    const checkpointed = opts.checkpointedHighWatermark;
    if (checkpointed !== undefined) {
      const resumed = checkpointed < this.log.logEndOffset ? checkpointed : this.log.logEndOffset;
      if (resumed > this.hw) this.hw = resumed;
    }
    if (this.isLeader) this.becomeLeader();
  }

  get name(): string { return `${this.topic}-${this.index}`; }
  get state(): PartitionState { return this.stateValue; }
  get leaderEpoch(): number { return this.stateValue.leaderEpoch; }
  get isLeader(): boolean { return !this.gone && this.stateValue.leader === this.nodeId; }
  get highWatermark(): bigint { return this.hw; }
  /** The last stable offset: below it every transaction is decided (read_committed reads up to it). */
  get lastStableOffset(): bigint {
    const unstable = this.log.firstUnstableOffset;
    return unstable !== null && unstable < this.hw ? unstable : this.hw;
  }
  /** Fewer in-sync replicas than the replication factor (during a reassignment: the target's, as Kafka counts it). */
  get underReplicated(): boolean {
    return this.stateValue.isr.length < this.stateValue.replicas.length - (this.stateValue.removingReplicas?.length ?? 0);
  }
  get underMinIsr(): boolean { return this.stateValue.isr.length < this.minIsr; }
  get minInsyncReplicas(): number { return this.minIsr; }
  followerStates(): ReadonlyMap<number, FollowerState> { return this.followers; }

  /** Applies new state from the metadata store. Returns true when this broker's role changed. */
  updateState(state: PartitionState, minInsyncReplicas: number): boolean {
    const wasLeader = this.isLeader;
    const newEpoch = state.leaderEpoch !== this.stateValue.leaderEpoch;
    this.stateValue = state;
    this.minIsr = minInsyncReplicas;
    if (this.isLeader && (newEpoch || !wasLeader)) this.becomeLeader();
    else if (this.isLeader) this.followReplicaChanges();
    if (!this.isLeader) this.followers.clear();
    for (const r of this.joining) if (!this.isLeader || state.isr.includes(r) || !state.replicas.includes(r)) this.joining.delete(r);
    if (this.isLeader) this.maybeAdvanceHighWatermark();
    for (const l of [...this.roleListeners]) l();
    // parked fetches re-read now and answer NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH, as
    // Kafka completes its delayed fetches on a leader change, instead of waiting out their max wait
    const roleChanged = wasLeader !== this.isLeader;
    if (newEpoch || roleChanged) for (const l of [...this.appendListeners]) l();
    return roleChanged;
  }

  /**
   * False while a new leader's high watermark is still below its log end at election (KIP-207):
   * it may then be lower than what the previous leader served, so ListOffsets answers
   * OFFSET_NOT_AVAILABLE rather than an offset that would go backwards.
   */
  get highWatermarkEstablished(): boolean { return !this.isLeader || this.hw >= this.epochStartOffsetValue; }

  private becomeLeader(): void {
    this.epochStartOffsetValue = this.log.logEndOffset;
    this.log.assignEpochStartOffset(this.leaderEpoch, this.log.logEndOffset);
    this.followers.clear();
    this.joining.clear();
    this.followReplicaChanges();
    this.maybeAdvanceHighWatermark();
  }

  /**
   * Tracks a follower for every other replica (a new leader: all of them; a reassignment under
   * the same leader: the replicas it adds, from now) and forgets removed ones.
   */
  private followReplicaChanges(): void {
    const now = this.clock();
    for (const r of this.stateValue.replicas) {
      if (r !== this.nodeId && !this.followers.has(r)) {
        this.followers.set(r, { logEndOffset: -1n, lastCaughtUpMs: now, lastFetchMs: 0, lastFetchLeaderLogEndOffset: -1n, logStartOffset: -1n });
      }
    }
    for (const r of [...this.followers.keys()]) if (!this.stateValue.replicas.includes(r)) this.followers.delete(r);
  }

  updateConfig(config: LogConfig, minInsyncReplicas: number): void {
    this.log.updateConfig(config);
    this.minIsr = minInsyncReplicas;
  }

  /** Checks a client's view of the leader epoch (Fetch v9+, ListOffsets v4+, ...): -1 skips the check. */
  checkLeaderEpoch(currentLeaderEpoch: number): void {
    if (currentLeaderEpoch < 0) return;
    if (currentLeaderEpoch < this.leaderEpoch) throw new KafkaError('FENCED_LEADER_EPOCH', `${this.name}: epoch ${currentLeaderEpoch} < ${this.leaderEpoch}`);
    if (currentLeaderEpoch > this.leaderEpoch) throw new KafkaError('UNKNOWN_LEADER_EPOCH', `${this.name}: epoch ${currentLeaderEpoch} > ${this.leaderEpoch}`);
  }

  requireLeader(): void {
    if (!this.isLeader) throw new KafkaError('NOT_LEADER_OR_FOLLOWER', `broker ${this.nodeId} does not lead ${this.name}`);
  }

  // ---------------------------------------------------------------- leader

  /** Appends a producer's record batches (validated, de-duplicated, stamped) as the leader. */
  appendAsLeader(records: Buffer, acks: number, coordinator = false): AppendResult {
    this.requireLeader();
    if (acks === -1 && this.underMinIsr) {
      throw new KafkaError('NOT_ENOUGH_REPLICAS',
        `${this.name}: ISR size ${this.stateValue.isr.length} < min.insync.replicas ${this.minIsr}`);
    }
    const result = this.log.append(records, { leaderEpoch: this.stateValue.leaderEpoch, coordinator });
    if (!result.duplicate) {
      this.maybeAdvanceHighWatermark();
      for (const l of this.appendListeners) l();
    }
    return result;
  }

  /** Writes a transaction marker as leader (WriteTxnMarkers); see PartitionLog.appendMarker. */
  appendMarker(producerId: bigint, producerEpoch: number, commit: boolean, coordinatorEpoch: number): AppendResult {
    this.requireLeader();
    // markers are written with acks=all: refused before the append when the ISR is too small, as Kafka does
    if (this.underMinIsr) {
      throw new KafkaError('NOT_ENOUGH_REPLICAS', `${this.name}: ISR size ${this.stateValue.isr.length} < min.insync.replicas ${this.minIsr}`);
    }
    const result = this.log.appendMarker(producerId, producerEpoch, commit, coordinatorEpoch, { leaderEpoch: this.stateValue.leaderEpoch });
    this.maybeAdvanceHighWatermark();
    for (const l of this.appendListeners) l();
    return result;
  }

  /**
   * A follower fetched from `fetchOffset`: everything below it is in its log. Returns an ISR
   * the leader should propose (the follower caught up and may join), or null.
   *
   * Caught up (Kafka's Replica.updateFetchStateOrThrow): a fetch at the leader's log end makes
   * the follower caught up now; a fetch at or past the leader's log end as of the follower's
   * previous fetch makes it caught up as of that previous fetch. Under sustained produce the
   * leader's log end moves between any two fetches, so only the second rule keeps a healthy
   * follower in the ISR.
   */
  recordFollowerFetch(replicaId: number, fetchOffset: bigint, logStartOffset = -1n): number[] | null {
    const f = this.followers.get(replicaId);
    if (!f) return null;
    if (logStartOffset !== f.logStartOffset) {
      f.logStartOffset = logStartOffset;
      for (const l of [...this.followerListeners]) l();
    }
    const now = this.clock();
    const leaderEnd = this.log.logEndOffset;
    if (fetchOffset >= leaderEnd) f.lastCaughtUpMs = Math.max(f.lastCaughtUpMs, now);
    else if (f.lastFetchLeaderLogEndOffset >= 0n && fetchOffset >= f.lastFetchLeaderLogEndOffset) f.lastCaughtUpMs = Math.max(f.lastCaughtUpMs, f.lastFetchMs);
    f.logEndOffset = fetchOffset;
    f.lastFetchMs = now;
    f.lastFetchLeaderLogEndOffset = leaderEnd;
    this.maybeAdvanceHighWatermark();
    const isr = this.stateValue.isr;
    if (!isr.includes(replicaId) && fetchOffset >= this.hw && fetchOffset >= this.epochStartOffset()) {
      this.joining.add(replicaId);
      return [...isr, replicaId];
    }
    return null;
  }

  /** An ISR proposal was not written (lost its compare-and-swap, leadership moved): its joiners stop holding the high watermark back. */
  isrProposalDropped(isr: readonly number[]): void {
    for (const r of isr) if (!this.stateValue.isr.includes(r)) this.joining.delete(r);
    this.maybeAdvanceHighWatermark();
  }

  /** The ISR without followers that have not caught up within `lagMaxMs`, or null if none lag. */
  laggingIsr(lagMaxMs: number): number[] | null {
    const now = this.clock();
    const keep = this.stateValue.isr.filter((r) => {
      if (r === this.nodeId) return true;
      const f = this.followers.get(r);
      return f !== undefined && now - f.lastCaughtUpMs <= lagMaxMs;
    });
    return keep.length < this.stateValue.isr.length ? keep : null;
  }

  /** Proposed joiners that stopped catching up within `lagMaxMs` (dead, or their proposal lost track of) no longer hold the high watermark back. */
  dropLaggingJoiners(lagMaxMs: number): void {
    const now = this.clock();
    let dropped = false;
    for (const r of this.joining) {
      const f = this.followers.get(r);
      if (!f || now - f.lastCaughtUpMs > lagMaxMs) {
        this.joining.delete(r);
        dropped = true;
      }
    }
    if (dropped) this.maybeAdvanceHighWatermark();
  }

  private epochStartOffset(): bigint {
    return this.log.endOffsetForEpoch(this.leaderEpoch - 1).endOffset;
  }

  /** The smaller of `min` and replica `r`'s log end as last fetched (-1 before its first fetch); `min` for this replica. */
  private lowerFollowerEnd(r: number, min: bigint): bigint {
    if (r === this.nodeId) return min;
    const leo = this.followers.get(r)?.logEndOffset ?? -1n;
    return leo < min ? leo : min;
  }

  private maybeAdvanceHighWatermark(): void {
    if (!this.isLeader) return;
    let min = this.log.logEndOffset;
    for (const r of this.stateValue.isr) min = this.lowerFollowerEnd(r, min);
    for (const r of this.joining) min = this.lowerFollowerEnd(r, min);
    if (min > this.hw) {
      this.hw = min;
      for (const l of [...this.hwListeners]) l();
    }
  }

  /**
   * The low watermark (Kafka's lowWatermarkIfLeader, over the ISR): the smallest log start offset
   * of this replica and every follower in the ISR; -1 while a follower has not reported one.
   */
  get lowWatermark(): bigint {
    let low = this.log.logStartOffset;
    for (const r of this.stateValue.isr) {
      if (r === this.nodeId) continue;
      const start = this.followers.get(r)?.logStartOffset ?? -1n;
      if (start < low) low = start;
    }
    return low;
  }

  /**
   * DeleteRecords (Kafka's DelayedDeleteRecords): resolves once every ISR member moved its log
   * start to `offset` or past it; REQUEST_TIMED_OUT after `timeoutMs`, NOT_LEADER_OR_FOLLOWER if
   * leadership moves first.
   */
  waitForLowWatermark(offset: bigint, timeoutMs: number): Promise<void> {
    return this.waitUntil(() => this.lowWatermark >= offset, timeoutMs, [this.followerListeners], 'the ISR did not apply the new log start');
  }

  // ---------------------------------------------------------------- follower

  /**
   * The leader's log start offset, from a fetch response: records the leader deleted
   * (DeleteRecords, retention) go here too, so they do not come back after a failover. Never
   * past this replica's own log end.
   */
  followLeaderLogStart(leaderLogStartOffset: bigint): void {
    const target = leaderLogStartOffset < this.log.logEndOffset ? leaderLogStartOffset : this.log.logEndOffset;
    if (target > this.log.logStartOffset) {
      this.log.deleteRecordsBefore(target);
      if (this.hw < target) this.hw = target;
    }
  }

  /** Appends batches fetched from the leader and takes the leader's high watermark. */
  appendAsFollower(records: Buffer | null, leaderHighWatermark: bigint): void {
    if (records && records.length > 0) {
      this.log.appendAsFollower(records);
      for (const l of this.appendListeners) l();
    }
    const hw = leaderHighWatermark < this.log.logEndOffset ? leaderHighWatermark : this.log.logEndOffset;
    if (hw > this.hw) this.hw = hw;
  }

  /**
   * This broker no longer hosts the partition (reassigned away, or its topic deleted), and the
   * state it last had may still name it leader. From now on it is no one's leader, and every wait
   * on it ends at once, as Kafka completes its delayed operations when it stops a replica: acks=all
   * produces, offset commits and DeleteRecords with NOT_LEADER_OR_FOLLOWER, and parked fetches
   * re-read it, get NOT_LEADER_OR_FOLLOWER and answer.
   */
  removed(): void {
    if (this.gone) return;
    this.gone = true;
    this.followers.clear();
    this.joining.clear();
    for (const l of [...this.roleListeners]) l();
    for (const l of [...this.appendListeners]) l();
  }

  /** Cuts the log back to `offset` (divergence from the leader); the high watermark follows. */
  truncateTo(offset: bigint): void {
    this.log.truncateTo(offset);
    if (this.hw > this.log.logEndOffset) this.hw = this.log.logEndOffset;
  }

  truncateFullyAndStartAt(offset: bigint): void {
    this.log.truncateFullyAndStartAt(offset);
    this.hw = offset;
  }

  // ---------------------------------------------------------------- listeners

  /** Calls `listener` after each append; returns the unsubscribe function. */
  onAppend(listener: () => void): () => void {
    this.appendListeners.add(listener);
    return () => { this.appendListeners.delete(listener); };
  }

  /** onAppend without the unsubscribe closure, for a waiter on thousands of partitions (a parked fetch). */
  addAppendListener(listener: () => void): void { this.appendListeners.add(listener); }

  removeAppendListener(listener: () => void): void { this.appendListeners.delete(listener); }

  /** Calls `listener` whenever the high watermark advances; returns the unsubscribe function. */
  onHighWatermark(listener: () => void): () => void {
    this.hwListeners.add(listener);
    return () => { this.hwListeners.delete(listener); };
  }

  /**
   * Resolves when the high watermark covers `offset` (acks=all), or rejects with
   * REQUEST_TIMED_OUT after `timeoutMs`, or NOT_LEADER_OR_FOLLOWER if leadership moves first.
   */
  waitForHighWatermark(offset: bigint, timeoutMs: number): Promise<void> {
    return this.waitUntil(() => this.hw >= offset, timeoutMs, [this.hwListeners], 'not replicated to the ISR');
  }

  /**
   * The delayed-operation wait of this partition's leader: resolves when `done()` holds, checked
   * whenever one of `listeners` fires or the partition state changes; rejects with
   * NOT_LEADER_OR_FOLLOWER if leadership moves first, REQUEST_TIMED_OUT after `timeoutMs`.
   */
  private waitUntil(done: () => boolean, timeoutMs: number, listeners: Array<Set<() => void>>, what: string): Promise<void> {
    if (done()) return Promise.resolve();
    if (!this.isLeader) return Promise.reject(new KafkaError('NOT_LEADER_OR_FOLLOWER', `${this.name}: not the leader here (${what})`));
    return new Promise((resolve, reject) => {
      const epoch = this.leaderEpoch;
      const check = (): void => {
        if (!this.isLeader || this.leaderEpoch !== epoch) {
          finish();
          reject(new KafkaError('NOT_LEADER_OR_FOLLOWER', `${this.name}: leadership moved while waiting (${what})`));
        } else if (done()) {
          finish();
          resolve();
        }
      };
      const sets = [...listeners, this.roleListeners];
      for (const s of sets) s.add(check);
      const timer = setTimeout(() => {
        finish();
        reject(new KafkaError('REQUEST_TIMED_OUT', `${this.name}: ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const finish = (): void => { clearTimeout(timer); for (const s of sets) s.delete(check); };
    });
  }

  /**
   * acks=all: resolves once the ISR has everything below `upTo` (high watermark past it) and the
   * ISR is still at least min.insync.replicas; rejects with NOT_ENOUGH_REPLICAS_AFTER_APPEND if
   * it shrank below, or as waitForHighWatermark does.
   */
  async replicated(upTo: bigint, timeoutMs: number): Promise<void> {
    await this.waitForHighWatermark(upTo, timeoutMs);
    if (this.underMinIsr) {
      throw new KafkaError('NOT_ENOUGH_REPLICAS_AFTER_APPEND', `${this.name}: ISR shrank below min.insync.replicas ${this.minIsr}`);
    }
  }
}
