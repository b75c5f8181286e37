/**
 * Partition: one replica of a topic partition hosted by this broker — its log plus the partition
 * state the controller assigned (replicas, leader, ISR, epochs). The leader appends producer
 * batches and owns the high watermark. With a single in-sync replica the high watermark is the
 * log end offset; replication (followers, ISR-driven high watermark) builds on this class.
 * Not thread-safe by design: everything runs on the event loop; appends are synchronous.
 */
import { KafkaError } from './errors.ts';
import type { PartitionState } from './metadata/index.ts';
import type { AppendResult, LogConfig, PartitionLog } from './log/index.ts';

export class Partition {
  readonly topic: string;
  readonly index: number;
  readonly topicId: string;
  readonly log: PartitionLog;
  private readonly nodeId: number;
  private stateValue: PartitionState;
  private minIsr: number;
  private readonly appendListeners = new Set<() => void>();

  constructor(opts: { topic: string; index: number; topicId: string; log: PartitionLog; nodeId: number;
    state: PartitionState; minInsyncReplicas: number }) {
    this.topic = opts.topic;
    this.index = opts.index;
    this.topicId = opts.topicId;
    this.log = opts.log;
    this.nodeId = opts.nodeId;
    this.stateValue = opts.state;
    this.minIsr = opts.minInsyncReplicas;
    if (this.isLeader) this.log.assignEpochStartOffset(this.leaderEpoch, this.log.logEndOffset);
  }

  get name(): string { return `${this.topic}-${this.index}`; }
  get state(): PartitionState { return this.stateValue; }
  get leaderEpoch(): number { return this.stateValue.leaderEpoch; }
  get isLeader(): boolean { return this.stateValue.leader === this.nodeId; }
  get highWatermark(): bigint { return this.log.logEndOffset; }
  get underReplicated(): boolean { return this.stateValue.isr.length < this.stateValue.replicas.length; }
  get underMinIsr(): boolean { return this.stateValue.isr.length < this.minIsr; }

  /** Applies new state from the metadata store; a new leader epoch starts at the log end. */
  updateState(state: PartitionState, minInsyncReplicas: number): void {
    const newEpoch = state.leaderEpoch > this.stateValue.leaderEpoch;
    this.stateValue = state;
    this.minIsr = minInsyncReplicas;
    if (newEpoch && state.leader === this.nodeId) this.log.assignEpochStartOffset(state.leaderEpoch, this.log.logEndOffset);
  }

  updateConfig(config: LogConfig, minInsyncReplicas: number): void {
    this.log.updateConfig(config);
    this.minIsr = minInsyncReplicas;
  }

  /**
   * Checks a client's view of the leader epoch (Fetch v9+, ListOffsets v4+, ...): -1 skips the check.
   */
  checkLeaderEpoch(currentLeaderEpoch: number): void {
    if (currentLeaderEpoch < 0) return;
    if (currentLeaderEpoch < this.leaderEpoch) throw new KafkaError('FENCED_LEADER_EPOCH', `${this.name}: epoch ${currentLeaderEpoch} < ${this.leaderEpoch}`);
    if (currentLeaderEpoch > this.leaderEpoch) throw new KafkaError('UNKNOWN_LEADER_EPOCH', `${this.name}: epoch ${currentLeaderEpoch} > ${this.leaderEpoch}`);
  }

  requireLeader(): void {
    if (!this.isLeader) throw new KafkaError('NOT_LEADER_OR_FOLLOWER', `broker ${this.nodeId} does not lead ${this.name}`);
  }

  /** Appends a producer's record batches (validated, de-duplicated, stamped) as the leader. */
  appendAsLeader(records: Buffer, acks: number): AppendResult {
    this.requireLeader();
    if (acks === -1 && this.underMinIsr) {
      throw new KafkaError('NOT_ENOUGH_REPLICAS',
        `${this.name}: ISR size ${this.stateValue.isr.length} < min.insync.replicas ${this.minIsr}`);
    }
    const result = this.log.append(records, { leaderEpoch: this.stateValue.leaderEpoch });
    if (!result.duplicate) for (const l of this.appendListeners) l();
    return result;
  }

  /** Calls `listener` after each append; returns the unsubscribe function. */
  onAppend(listener: () => void): () => void {
    this.appendListeners.add(listener);
    return () => { this.appendListeners.delete(listener); };
  }
}
