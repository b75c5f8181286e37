/**
 * GroupCoordinator: the group coordinator of the groups whose `__consumer_offsets` partition this
 * broker leads — the one object the group handlers and the broker use. It follows partition
 * leadership (loading and forgetting groups), passes the classic protocol (JoinGroup, SyncGroup,
 * Heartbeat, LeaveGroup) to ClassicProtocol (classic-coordinator.ts) and ConsumerGroupHeartbeat to
 * ConsumerProtocol (consumer-coordinator.ts), and validates OffsetCommit and TxnOffsetCommit
 * itself (the member and generation checks of either protocol, offset.metadata.max.bytes). The
 * groups, their loading, storage and the offset/admin reads live in GroupStore (group-store.ts).
 * A commit is answered only once the store has it on every in-sync replica; in-memory state
 * changes only after success. Everything runs on the event loop, so a group is never touched
 * concurrently.
 */
import { ErrorCode } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Partition } from '../partition.ts';
import type { GroupCoordinatorConfig } from './config.ts';
import type { Group, CommittedOffset, JoinResult, SyncResult } from './group.ts';
import { GroupStore } from './group-store.ts';
import type { GroupSummary } from './group-store.ts';
import { ClassicProtocol, validateMember } from './classic-coordinator.ts';
import type { JoinRequest } from './classic-coordinator.ts';
import { ConsumerProtocol } from './consumer-coordinator.ts';
import type { ConsumerHeartbeatRequest, ConsumerHeartbeatResult, TopicLookup } from './consumer-coordinator.ts';

/** No topics: for coordinators built without a view of the cluster (unit tests of the classic protocol). */
const NO_TOPICS: TopicLookup = { byName: () => undefined, nameById: () => undefined, names: () => [] };

interface OffsetCommitPartition { partitionIndex: number; committedOffset: bigint; committedLeaderEpoch: number; committedMetadata: string | null }

export class GroupCoordinator {
  private readonly config: GroupCoordinatorConfig;
  private readonly log: Logger;
  private readonly clock: () => number;
  private readonly store: GroupStore;
  /** The classic group protocol for the groups of the store. */
  private readonly classic: ClassicProtocol;
  /** The consumer group protocol (KIP-848) for the groups of the same store. */
  readonly consumerProtocol: ConsumerProtocol;

  constructor(opts: { config: GroupCoordinatorConfig; logger: Logger; clock?: () => number; topics?: TopicLookup }) {
    this.config = opts.config;
    this.log = opts.logger;
    this.clock = opts.clock ?? Date.now;
    this.store = new GroupStore({ config: this.config, logger: this.log, clock: this.clock });
    this.classic = new ClassicProtocol({ store: this.store, config: this.config, logger: this.log, clock: this.clock });
    this.consumerProtocol = new ConsumerProtocol({ store: this.store, config: this.config, logger: this.log, topics: opts.topics ?? NO_TOPICS });
  }

  /** ConsumerGroupHeartbeat (KIP-848). */
  consumerHeartbeat(req: ConsumerHeartbeatRequest): Promise<ConsumerHeartbeatResult> { return this.consumerProtocol.heartbeat(req); }

  partitionFor(groupId: string): number { return this.store.partitionFor(groupId); }

  // ---------------------------------------------------------------- partition ownership

  /** This broker now leads `partition` of the offsets topic: load its groups. */
  becameLeader(partition: Partition): void {
    // Loaded members must heartbeat within their session timeout or be removed, as after a move.
    this.store.becameLeader(partition, (groups) => {
      for (const g of groups) {
        if (g.type === 'consumer') this.consumerProtocol.loaded(g);
        else for (const m of g.members.values()) this.classic.scheduleSessionExpiry(g, m);
      }
    });
  }

  /** This broker no longer leads `partition`: forget its groups (another broker loads them). */
  resigned(index: number): void {
    for (const g of this.store.resigned(index)) this.unload(g);
  }

  /** Resolves once every owned partition has been loaded (tests, start-up). */
  loaded(): Promise<void> { return this.store.loaded(); }

  /** The error code for a group this broker cannot serve right now, or NONE. */
  coordinatorError(groupId: string): number { return this.store.coordinatorError(groupId); }

  // ---------------------------------------------------------------- classic protocol (ClassicProtocol)

  join(req: JoinRequest): Promise<JoinResult> | JoinResult { return this.classic.join(req); }
  sync(req: Parameters<ClassicProtocol['sync']>[0]): Promise<SyncResult> | SyncResult { return this.classic.sync(req); }
  heartbeat(req: Parameters<ClassicProtocol['heartbeat']>[0]): number { return this.classic.heartbeat(req); }
  leave(...args: Parameters<ClassicProtocol['leave']>): ReturnType<ClassicProtocol['leave']> { return this.classic.leave(...args); }

  // ---------------------------------------------------------------- offsets

  async commitOffsets(req: { groupId: string; generationId: number; memberId: string; groupInstanceId: string | null;
    topics: Array<{ name: string; partitions: OffsetCommitPartition[] }>; apiVersion?: number }): Promise<Map<string, number>> {
    const errors = new Map<string, number>();
    const all = (code: number) => failEvery(req.topics, code, errors);
    const err = this.coordinatorError(req.groupId);
    if (err !== ErrorCode.NONE) return all(err);
    // Kafka's classic-group commit validation: a commit from a member must come from the current
    // member id of its static instance (FENCED_INSTANCE_ID), from a member the group has
    // (UNKNOWN_MEMBER_ID), at the current generation (ILLEGAL_GENERATION).
    let group = this.store.groups.get(req.groupId);
    if (!group) {
      if (req.generationId >= 0) return all(ErrorCode.ILLEGAL_GENERATION);
      // a standalone consumer (assign + commit) or an admin tool: a "simple" group
      group = this.store.create(req.groupId);
    }
    if (group.is('Dead')) return all(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (group.type === 'consumer') {
      const invalid = this.consumerProtocol.validateCommit(group, req.memberId, req.generationId, req.apiVersion ?? 9, false);
      if (invalid !== ErrorCode.NONE) return all(invalid);
    } else if (!(req.generationId < 0 && group.is('Empty'))) {
      if (req.generationId < 0 && req.memberId === '' && !req.groupInstanceId) return all(ErrorCode.UNKNOWN_MEMBER_ID);
      const invalid = validateMember(group, req.memberId, req.groupInstanceId);
      if (invalid !== ErrorCode.NONE) return all(invalid);
      if (req.generationId !== group.generationId) return all(ErrorCode.ILLEGAL_GENERATION);
      if (group.is('CompletingRebalance')) return all(ErrorCode.REBALANCE_IN_PROGRESS);
      this.classic.scheduleSessionExpiry(group, group.members.get(req.memberId)!);
    }
    const accepted = this.acceptOffsets(req.topics, errors);
    await this.store.storeOffsets(group, accepted, errors);
    return errors;
  }

  /**
   * TxnOffsetCommit: the same member validation as OffsetCommit when the request names a member
   * (v3+), then the offsets are held pending in the store until the producer's transaction ends
   * (completeTransaction, on the marker).
   */
  async txnCommitOffsets(req: { groupId: string; producerId: bigint; producerEpoch: number; generationId: number; memberId: string;
    groupInstanceId: string | null; topics: Array<{ name: string; partitions: OffsetCommitPartition[] }> }): Promise<Map<string, number>> {
    const errors = new Map<string, number>();
    const all = (code: number) => failEvery(req.topics, code, errors);
    const err = this.coordinatorError(req.groupId);
    if (err !== ErrorCode.NONE) return all(err);
    const group = this.store.groups.get(req.groupId) ?? this.store.create(req.groupId);
    if (group.is('Dead')) return all(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (group.type === 'consumer') {
      if (req.generationId >= 0 || req.memberId !== '') {
        const invalid = this.consumerProtocol.validateCommit(group, req.memberId, req.generationId, 9, true);
        if (invalid !== ErrorCode.NONE) return all(invalid);
      }
    } else if (req.generationId >= 0 || req.memberId !== '') {
      const invalid = validateMember(group, req.memberId, req.groupInstanceId);
      if (invalid !== ErrorCode.NONE) return all(invalid);
      if (req.generationId !== group.generationId) return all(ErrorCode.ILLEGAL_GENERATION);
    }
    const accepted = this.acceptOffsets(req.topics, errors);
    await this.store.storeTxnOffsets(group, req.producerId, req.producerEpoch, accepted, errors);
    return errors;
  }

  /** The offsets a commit may store (metadata within offset.metadata.max.bytes, else OFFSET_METADATA_TOO_LARGE in `errors`). */
  private acceptOffsets(topics: Array<{ name: string; partitions: OffsetCommitPartition[] }>, errors: Map<string, number>):
    Array<{ topic: string; partition: number; value: CommittedOffset }> {
    const now = BigInt(this.clock());
    const accepted: Array<{ topic: string; partition: number; value: CommittedOffset }> = [];
    for (const t of topics) {
      for (const p of t.partitions) {
        const metadata = p.committedMetadata ?? '';
        if (Buffer.byteLength(metadata) > this.config.offsetMetadataMaxBytes) {
          errors.set(`${t.name}\u0000${p.partitionIndex}`, ErrorCode.OFFSET_METADATA_TOO_LARGE);
          continue;
        }
        accepted.push({ topic: t.name, partition: p.partitionIndex, value: { offset: p.committedOffset, leaderEpoch: p.committedLeaderEpoch, metadata, commitTimestamp: now } });
      }
    }
    return accepted;
  }

  /** A transaction marker was written to offsets partition `index` (WriteTxnMarkers). */
  completeTransaction(index: number, producerId: bigint, commit: boolean): void { this.store.completeTransaction(index, producerId, commit); }
  hasPendingOffset(groupId: string, topic: string, partition: number): boolean { return this.store.hasPendingOffset(groupId, topic, partition); }

  // ---------------------------------------------------------------- reads and admin (the store's)

  fetchOffsets(...args: Parameters<GroupStore['fetchOffsets']>): ReturnType<GroupStore['fetchOffsets']> { return this.store.fetchOffsets(...args); }
  /** OffsetFetch v9+: the member and epoch a consumer-protocol member names must be current (NONE for classic groups and unnamed members). */
  validateOffsetFetch(groupId: string, memberId: string | null, memberEpoch: number): number {
    const group = this.store.groups.get(groupId);
    if (!group || group.type !== 'consumer' || this.coordinatorError(groupId) !== ErrorCode.NONE) return ErrorCode.NONE;
    return this.consumerProtocol.validateFetch(group, memberId, memberEpoch);
  }
  deleteOffsets(...args: Parameters<GroupStore['deleteOffsets']>): ReturnType<GroupStore['deleteOffsets']> { return this.store.deleteOffsets(...args); }
  listGroups(statesFilter: string[], typesFilter: string[] = []): GroupSummary[] { return this.store.listGroups(statesFilter, typesFilter); }
  describe(groupId: string): { errorCode: number; group: Group | null } { return this.store.describe(groupId); }
  deleteGroup(groupId: string): Promise<number> { return this.store.deleteGroup(groupId); }
  committedOffsets(): ReturnType<GroupStore['committedOffsets']> { return this.store.committedOffsets(); }
  groupCounts(): Map<string, number> { return this.store.groupCounts(); }
  /** offsets.retention.minutes: offsets of empty groups expire that long after their commit. */
  expireOffsets(): Promise<void> { return this.store.expireOffsets(); }

  close(): void {
    this.store.close();
    for (const g of this.store.groups.values()) this.unload(g);
  }

  /** `group` is no longer served here: its waiting requests get NOT_COORDINATOR, its timers stop. */
  private unload(group: Group): void {
    this.classic.failWaiters(group, ErrorCode.NOT_COORDINATOR);
    this.consumerProtocol.unloaded(group);
    this.classic.clearTimers(group);
  }
}

/** `code` for every partition a commit names, in `errors` (keyed topic NUL partition); returns `errors`. */
function failEvery(topics: ReadonlyArray<{ name: string; partitions: readonly OffsetCommitPartition[] }>, code: number, errors: Map<string, number>): Map<string, number> {
  for (const t of topics) for (const p of t.partitions) errors.set(`${t.name}\u0000${p.partitionIndex}`, code);
  return errors;
}
