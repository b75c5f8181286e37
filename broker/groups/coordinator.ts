/**
 * GroupCoordinator: Kafka's classic group protocol for the groups whose `__consumer_offsets`
 * partition this broker leads (partition = abs(javaHashCode(groupId)) % partitions).
 *
 * Durability: every committed offset and every settled group state is appended to that
 * partition and answered only once every in-sync replica has it (acks=all: the partition's high
 * watermark passed it, with the ISR still at min.insync.replicas) and it is flushed as the topic's
 * flush policy asks — so a coordinator that dies right after answering loses nothing its
 * successor (an ISR member) will not load. A write that cannot get there within
 * offsets.commit.timeout.ms fails with Kafka's coordinator errors (see asCoordinatorError);
 * the in-memory state changes only after success. When the broker becomes leader of a partition it
 * replays the partition's log to rebuild its groups (requests for them get
 * COORDINATOR_LOAD_IN_PROGRESS meanwhile). Compaction keeps the log to the latest record per key.
 *
 * Timers (session expiry, rebalance timeout, initial rebalance delay, pending-member expiry)
 * live here; everything runs on the event loop, so a group is never touched concurrently.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode, KafkaError, errorCodeOf, errorInfo } from '../errors.ts';
import type { ErrorName } from '../errors.ts';
import type { BrokerSettings } from '../config.ts';
import type { Logger } from '../logger.ts';
import { decodeBatchRecords, encodeRecordBatch, forEachBatch } from '../log/records.ts';
import type { NewRecord } from '../log/records.ts';
import type { Partition } from '../partition.ts';
import { EMPTY, Group, splitOffsetKey } from './group.ts';
import type { CommittedOffset, JoinResult, Member, SyncResult } from './group.ts';
import {
  decodeGroupValue, decodeKey, decodeOffsetValue, groupKey, groupValue, offsetKey, offsetValue,
} from './offsets-records.ts';

export const OFFSETS_TOPIC = '__consumer_offsets';

export interface GroupCoordinatorConfig {
  offsetsTopicPartitions: number;
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  initialRebalanceDelayMs: number;
  maxGroupSize: number;
  offsetMetadataMaxBytes: number;
  offsetsRetentionMs: number;
  offsetsRetentionCheckIntervalMs: number;
  /** offsets.commit.timeout.ms: how long a write waits for the ISR before failing. */
  commitTimeoutMs: number;
}

/** The group coordinator's settings from the broker's. */
export function groupCoordinatorConfig(settings: BrokerSettings): GroupCoordinatorConfig {
  return {
    offsetsTopicPartitions: settings.int('offsets.topic.num.partitions'),
    minSessionTimeoutMs: settings.int('group.min.session.timeout.ms'),
    maxSessionTimeoutMs: settings.int('group.max.session.timeout.ms'),
    initialRebalanceDelayMs: settings.int('group.initial.rebalance.delay.ms'),
    maxGroupSize: settings.int('group.max.size'),
    offsetMetadataMaxBytes: settings.int('offset.metadata.max.bytes'),
    offsetsRetentionMs: settings.int('offsets.retention.minutes') * 60_000,
    offsetsRetentionCheckIntervalMs: settings.int('offsets.retention.check.interval.ms'),
    commitTimeoutMs: settings.int('offsets.commit.timeout.ms'),
  };
}

/** Java's String.hashCode, which Kafka uses to map a group to its offsets partition. */
export function javaHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

export function partitionForGroup(groupId: string, partitions: number): number {
  return (javaHashCode(groupId) & 0x7fffffff) % partitions;
}

interface JoinRequest {
  groupId: string;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string;
  protocols: Array<{ name: string; metadata: Buffer }>;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  clientId: string;
  clientHost: string;
  requireKnownMemberId: boolean;
}

interface OffsetCommitPartition { partitionIndex: number; committedOffset: bigint; committedLeaderEpoch: number; committedMetadata: string | null }

export interface GroupSummary { groupId: string; protocolType: string; state: string }

interface LoadedPartition { partition: Partition; loading: Promise<void> | null }

const joinError = (errorCode: number, memberId = ''): JoinResult =>
  ({ errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId, members: [] });
const syncError = (errorCode: number): SyncResult => ({ errorCode, protocolType: null, protocolName: null, assignment: EMPTY });

export class GroupCoordinator {
  private readonly config: GroupCoordinatorConfig;
  private readonly log: Logger;
  private readonly clock: () => number;
  private readonly groups = new Map<string, Group>();
  private readonly owned = new Map<number, LoadedPartition>();
  private retentionTimer: NodeJS.Timeout | null = null;

  constructor(opts: { config: GroupCoordinatorConfig; logger: Logger; clock?: () => number }) {
    this.config = opts.config;
    this.log = opts.logger;
    this.clock = opts.clock ?? Date.now;
    this.retentionTimer = setInterval(() => { void this.expireOffsets(); }, this.config.offsetsRetentionCheckIntervalMs);
    this.retentionTimer.unref();
  }

  partitionFor(groupId: string): number { return partitionForGroup(groupId, this.config.offsetsTopicPartitions); }

  // ---------------------------------------------------------------- partition ownership

  /** This broker now leads `partition` of the offsets topic: load its groups. */
  becameLeader(partition: Partition): void {
    const entry: LoadedPartition = { partition, loading: null };
    this.owned.set(partition.index, entry);
    entry.loading = this.load(partition).then(() => { entry.loading = null; }, (err: Error) => {
      this.log.error(`loading groups from ${partition.name} failed: ${err.stack}`);
      this.owned.delete(partition.index);
    });
  }

  /** This broker no longer leads `partition`: forget its groups (another broker loads them). */
  resigned(index: number): void {
    this.owned.delete(index);
    for (const g of [...this.groups.values()]) {
      if (this.partitionFor(g.id) === index) {
        this.failWaiters(g, ErrorCode.NOT_COORDINATOR);
        this.clearTimers(g);
        this.groups.delete(g.id);
      }
    }
  }

  /** Resolves once every owned partition has been loaded (tests, start-up). */
  async loaded(): Promise<void> {
    await Promise.all([...this.owned.values()].map((e) => e.loading));
  }

  private async load(partition: Partition): Promise<void> {
    const log = partition.log;
    let offset = log.logStartOffset;
    let records = 0;
    while (offset < log.logEndOffset) {
      const { records: bytes } = await log.read(offset, 1 << 20, { minOneBatch: true });
      if (bytes.length === 0) break;
      forEachBatch(bytes, (pos) => {
        for (const r of decodeBatchRecords(bytes, pos)) {
          this.replay(r.key, r.value);
          records++;
          offset = r.offset + 1n;
        }
        offset = bytes.readBigInt64BE(pos) + BigInt(bytes.readInt32BE(pos + 23)) + 1n;
      });
    }
    this.log.info(`loaded ${records} records from ${partition.name}: ${[...this.groups.values()].filter((g) => this.partitionFor(g.id) === partition.index).length} groups`);
  }

  private replay(keyBytes: Buffer | null, value: Buffer | null): void {
    if (!keyBytes) return;
    const key = decodeKey(keyBytes);
    if (!key) return;
    const now = this.clock();
    if (key.kind === 'offset') {
      const g = this.groups.get(key.group);
      if (value === null) {
        g?.offsets.delete(g.offsetKey(key.topic, key.partition));
        return;
      }
      const group = g ?? this.createGroup(key.group, now);
      const v = decodeOffsetValue(value);
      group.offsets.set(group.offsetKey(key.topic, key.partition),
        { offset: v.offset, leaderEpoch: v.leaderEpoch, metadata: v.metadata, commitTimestamp: v.commitTimestamp });
      return;
    }
    if (value === null) {
      this.groups.delete(key.group);
      return;
    }
    const v = decodeGroupValue(value);
    const group = this.groups.get(key.group) ?? this.createGroup(key.group, now);
    group.protocolType = v.protocolType;
    group.protocolName = v.protocol;
    group.generationId = v.generation;
    group.leaderId = v.leader;
    group.stateTimestamp = v.currentStateTimestamp;
    this.clearTimers(group);
    group.members.clear();
    group.staticMembers.clear();
    for (const m of v.members) {
      const member = this.newMember(m.memberId, m.groupInstanceId, m.clientId, m.clientHost, m.rebalanceTimeout, m.sessionTimeout,
        [{ name: v.protocol ?? '', metadata: m.subscription }]);
      member.assignment = m.assignment;
      group.members.set(m.memberId, member);
      if (m.groupInstanceId) group.staticMembers.set(m.groupInstanceId, m.memberId);
    }
    // Loaded members must heartbeat within their session timeout or be removed, as after a move.
    group.state = group.members.size > 0 ? 'Stable' : 'Empty';
    for (const m of group.members.values()) this.scheduleSessionExpiry(group, m);
  }

  /** The error code for a group this broker cannot serve right now, or NONE. */
  coordinatorError(groupId: string): number {
    if (!groupId) return ErrorCode.INVALID_GROUP_ID;
    const entry = this.owned.get(this.partitionFor(groupId));
    if (!entry) return ErrorCode.NOT_COORDINATOR;
    if (entry.loading) return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    return ErrorCode.NONE;
  }

  // ---------------------------------------------------------------- JoinGroup

  join(req: JoinRequest): Promise<JoinResult> | JoinResult {
    const err = this.coordinatorError(req.groupId);
    if (err !== ErrorCode.NONE) return joinError(err, req.memberId);
    if (req.sessionTimeoutMs < this.config.minSessionTimeoutMs || req.sessionTimeoutMs > this.config.maxSessionTimeoutMs) {
      return joinError(ErrorCode.INVALID_SESSION_TIMEOUT, req.memberId);
    }
    const now = this.clock();
    let group = this.groups.get(req.groupId);
    if (!group) {
      if (req.memberId !== '') return joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId);
      group = this.createGroup(req.groupId, now);
    }
    if (group.is('Dead')) return joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, req.memberId);
    if (!group.supports(req.protocolType, req.protocols)) return joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, req.memberId);

    if (req.memberId === '') {
      if (req.groupInstanceId) {
        const existing = group.staticMembers.get(req.groupInstanceId);
        if (existing) return this.rejoinStatic(group, existing, req);
      }
      if (group.members.size >= this.config.maxGroupSize) return joinError(ErrorCode.GROUP_MAX_SIZE_REACHED);
      const memberId = `${req.clientId || 'member'}-${randomUUID()}`;
      if (req.requireKnownMemberId && !req.groupInstanceId) {
        // KIP-394: hand out an id; the member must come back with it.
        const expiry = setTimeout(() => { group!.pendingMembers.delete(memberId); this.maybeCompleteJoin(group!); }, req.sessionTimeoutMs);
        expiry.unref();
        group.pendingMembers.set(memberId, expiry);
        return joinError(ErrorCode.MEMBER_ID_REQUIRED, memberId);
      }
      return this.addMemberAndRebalance(group, memberId, req);
    }

    const pending = group.pendingMembers.get(req.memberId);
    if (pending) {
      clearTimeout(pending);
      group.pendingMembers.delete(req.memberId);
      if (group.members.size >= this.config.maxGroupSize) return joinError(ErrorCode.GROUP_MAX_SIZE_REACHED, req.memberId);
      return this.addMemberAndRebalance(group, req.memberId, req);
    }
    const member = group.members.get(req.memberId);
    if (!member) return joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId);
    if (req.groupInstanceId && group.staticMembers.get(req.groupInstanceId) !== req.memberId) {
      return joinError(ErrorCode.FENCED_INSTANCE_ID, req.memberId);
    }
    const changed = !sameProtocols(member.protocols, req.protocols);
    member.protocols = req.protocols;
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    switch (group.state) {
      case 'PreparingRebalance':
        return this.awaitJoin(group, member);
      case 'CompletingRebalance':
        if (!changed) return this.joinResponse(group, member);
        this.prepareRebalance(group, `member ${member.memberId} changed its protocols`);
        return this.awaitJoin(group, member);
      case 'Stable':
        if (!changed && member.memberId !== group.leaderId) return this.joinResponse(group, member);
        this.prepareRebalance(group, `${member.memberId === group.leaderId ? 'leader' : 'member'} ${member.memberId} rejoined`);
        return this.awaitJoin(group, member);
      default:
        return joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId);
    }
  }

  private rejoinStatic(group: Group, oldMemberId: string, req: JoinRequest): Promise<JoinResult> | JoinResult {
    const old = group.members.get(oldMemberId)!;
    const memberId = `${req.groupInstanceId}-${randomUUID()}`;
    // The old member id is fenced: a waiter on it learns it was replaced.
    old.joinWaiter?.(joinError(ErrorCode.FENCED_INSTANCE_ID, oldMemberId));
    old.syncWaiter?.(syncError(ErrorCode.FENCED_INSTANCE_ID));
    if (old.sessionTimer) clearTimeout(old.sessionTimer);
    group.members.delete(oldMemberId);
    const member = this.newMember(memberId, req.groupInstanceId, req.clientId, req.clientHost, req.rebalanceTimeoutMs,
      req.sessionTimeoutMs, req.protocols);
    member.assignment = old.assignment;
    group.members.set(memberId, member);
    group.staticMembers.set(req.groupInstanceId!, memberId);
    if (group.leaderId === oldMemberId) group.leaderId = memberId;
    if (group.is('Stable') && sameProtocols(old.protocols, req.protocols)) {
      // KIP-345: a static member coming back with the same subscription keeps its assignment, no rebalance.
      // Answered once the new member id is stored on the ISR, as Kafka does.
      this.scheduleSessionExpiry(group, member);
      const response = { ...this.joinResponseFor(group, member), members: [] };
      return this.persistGroup(group).then(() => response, (err: unknown) => joinError(errorCodeOf(err), memberId));
    }
    if (group.is('PreparingRebalance')) return this.awaitJoin(group, member);
    this.prepareRebalance(group, `static member ${req.groupInstanceId} rejoined`);
    return this.awaitJoin(group, member);
  }

  private addMemberAndRebalance(group: Group, memberId: string, req: JoinRequest): Promise<JoinResult> {
    const member = this.newMember(memberId, req.groupInstanceId, req.clientId, req.clientHost, req.rebalanceTimeoutMs,
      req.sessionTimeoutMs, req.protocols);
    if (group.members.size === 0) group.protocolType = req.protocolType;
    group.members.set(memberId, member);
    if (req.groupInstanceId) group.staticMembers.set(req.groupInstanceId, memberId);
    const wait = this.awaitJoin(group, member);
    if (!group.is('PreparingRebalance')) this.prepareRebalance(group, `member ${memberId} joined`);
    else if (group.initialDelayActive) this.extendInitialDelay(group);
    this.maybeCompleteJoin(group);
    return wait;
  }

  private awaitJoin(group: Group, member: Member): Promise<JoinResult> {
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    member.sessionTimer = null;
    const p = new Promise<JoinResult>((resolve) => {
      member.joinWaiter?.(joinError(ErrorCode.REBALANCE_IN_PROGRESS, member.memberId));
      member.joinWaiter = resolve;
    });
    queueMicrotask(() => this.maybeCompleteJoin(group));
    return p;
  }

  private prepareRebalance(group: Group, reason: string): void {
    if (group.is('CompletingRebalance')) {
      for (const m of group.members.values()) {
        m.syncWaiter?.(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
        m.syncWaiter = null;
      }
    }
    const fromEmpty = group.is('Empty');
    group.transition('PreparingRebalance', this.clock());
    if (group.rebalanceTimer) clearTimeout(group.rebalanceTimer);
    this.log.info(`group ${group.id}: preparing rebalance (generation ${group.generationId}): ${reason}`);
    if (fromEmpty && this.config.initialRebalanceDelayMs > 0) {
      group.initialDelayActive = true;
      this.extendInitialDelay(group);
      return;
    }
    group.initialDelayActive = false;
    group.rebalanceTimer = setTimeout(() => this.rebalanceTimedOut(group), Math.max(1, group.maxRebalanceTimeoutMs()));
    group.rebalanceTimer.unref();
  }

  /** Kafka's group.initial.rebalance.delay.ms: wait for more members of a new group, up to the rebalance timeout. */
  private extendInitialDelay(group: Group): void {
    if (group.rebalanceTimer) clearTimeout(group.rebalanceTimer);
    group.rebalanceTimer = setTimeout(() => {
      group.initialDelayActive = false;
      group.rebalanceTimer = setTimeout(() => this.rebalanceTimedOut(group), Math.max(1, group.maxRebalanceTimeoutMs()));
      group.rebalanceTimer.unref();
      this.maybeCompleteJoin(group);
    }, this.config.initialRebalanceDelayMs);
    group.rebalanceTimer.unref();
  }

  private rebalanceTimedOut(group: Group): void {
    group.rebalanceTimer = null;
    if (!group.is('PreparingRebalance')) return;
    for (const m of [...group.members.values()]) {
      if (!m.joinWaiter) {
        this.log.info(`group ${group.id}: removing member ${m.memberId}, which did not rejoin within the rebalance timeout`);
        this.removeMember(group, m);
      }
    }
    for (const [id, t] of group.pendingMembers) { clearTimeout(t); group.pendingMembers.delete(id); }
    this.completeJoin(group);
  }

  private maybeCompleteJoin(group: Group): void {
    if (group.is('PreparingRebalance') && !group.initialDelayActive && group.allJoined()) this.completeJoin(group);
  }

  private completeJoin(group: Group): void {
    if (group.rebalanceTimer) clearTimeout(group.rebalanceTimer);
    group.rebalanceTimer = null;
    const now = this.clock();
    group.generationId++;
    if (group.members.size === 0) {
      group.protocolName = null;
      group.leaderId = null;
      group.transition('Empty', now);
      this.log.info(`group ${group.id}: empty at generation ${group.generationId}`);
      this.persistGroup(group).catch(() => { /* logged by persistGroup; the group stays as it is in memory */ });
      return;
    }
    group.protocolName = group.selectProtocol();
    if (!group.leaderId || !group.members.has(group.leaderId)) group.leaderId = group.members.keys().next().value!;
    group.transition('CompletingRebalance', now);
    this.log.info(`group ${group.id}: generation ${group.generationId} with ${group.members.size} members, protocol ${group.protocolName}`);
    for (const m of group.members.values()) {
      const waiter = m.joinWaiter;
      m.joinWaiter = null;
      waiter?.(this.joinResponseFor(group, m));
      this.scheduleSessionExpiry(group, m);
    }
  }

  private joinResponse(group: Group, member: Member): JoinResult {
    this.scheduleSessionExpiry(group, member);
    return this.joinResponseFor(group, member);
  }

  private joinResponseFor(group: Group, member: Member): JoinResult {
    const isLeader = member.memberId === group.leaderId;
    return {
      errorCode: ErrorCode.NONE,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leader: group.leaderId ?? '',
      memberId: member.memberId,
      members: isLeader ? [...group.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: group.metadataOf(m) })) : [],
    };
  }

  // ---------------------------------------------------------------- SyncGroup / Heartbeat / LeaveGroup

  sync(req: { groupId: string; generationId: number; memberId: string; groupInstanceId: string | null;
    protocolType: string | null; protocolName: string | null; assignments: Array<{ memberId: string; assignment: Buffer }> }): Promise<SyncResult> | SyncResult {
    const err = this.coordinatorError(req.groupId);
    if (err !== ErrorCode.NONE) return syncError(err);
    const group = this.groups.get(req.groupId);
    if (!group) return syncError(ErrorCode.UNKNOWN_MEMBER_ID);
    const invalid = validateMember(group, req.memberId, req.groupInstanceId);
    if (invalid !== ErrorCode.NONE) return syncError(invalid);
    const member = group.members.get(req.memberId)!;
    if (req.generationId !== group.generationId) return syncError(ErrorCode.ILLEGAL_GENERATION);
    if ((req.protocolType !== null && req.protocolType !== group.protocolType) || (req.protocolName !== null && req.protocolName !== group.protocolName)) {
      return syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    }
    this.scheduleSessionExpiry(group, member);
    switch (group.state) {
      case 'PreparingRebalance':
        return syncError(ErrorCode.REBALANCE_IN_PROGRESS);
      case 'Stable':
        return this.syncResponse(group, member);
      case 'CompletingRebalance': {
        const p = new Promise<SyncResult>((resolve) => { member.syncWaiter = resolve; });
        if (member.memberId === group.leaderId) {
          const given = new Map(req.assignments.map((a) => [a.memberId, a.assignment]));
          for (const m of group.members.values()) m.assignment = given.get(m.memberId) ?? EMPTY;
          const generation = group.generationId;
          this.persistGroup(group).then(() => {
            if (group.generationId !== generation || !group.is('CompletingRebalance')) return;
            group.transition('Stable', this.clock());
            for (const m of group.members.values()) {
              const waiter = m.syncWaiter;
              m.syncWaiter = null;
              waiter?.(this.syncResponse(group, m));
            }
          }, (e: Error) => {
            this.log.error(`group ${group.id}: storing the assignment failed: ${e.message}`);
            for (const m of group.members.values()) { m.syncWaiter?.(syncError(errorCodeOf(e))); m.syncWaiter = null; }
            this.prepareRebalance(group, 'storing the assignment failed');
          });
        }
        return p;
      }
      default:
        return syncError(ErrorCode.UNKNOWN_MEMBER_ID);
    }
  }

  private syncResponse(group: Group, member: Member): SyncResult {
    return { errorCode: ErrorCode.NONE, protocolType: group.protocolType, protocolName: group.protocolName, assignment: member.assignment };
  }

  heartbeat(req: { groupId: string; generationId: number; memberId: string; groupInstanceId: string | null }): number {
    const err = this.coordinatorError(req.groupId);
    if (err !== ErrorCode.NONE) return err;
    const group = this.groups.get(req.groupId);
    if (!group) return ErrorCode.UNKNOWN_MEMBER_ID;
    const invalid = validateMember(group, req.memberId, req.groupInstanceId);
    if (invalid !== ErrorCode.NONE) return invalid;
    const member = group.members.get(req.memberId)!;
    if (req.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    if (group.is('PreparingRebalance')) {
      if (!member.joinWaiter) this.scheduleSessionExpiry(group, member);
      return ErrorCode.REBALANCE_IN_PROGRESS;
    }
    this.scheduleSessionExpiry(group, member);
    return ErrorCode.NONE;
  }

  leave(groupId: string, members: Array<{ memberId: string; groupInstanceId: string | null }>): { errorCode: number; members: Array<{ memberId: string; groupInstanceId: string | null; errorCode: number }> } {
    const err = this.coordinatorError(groupId);
    if (err !== ErrorCode.NONE) return { errorCode: err, members: [] };
    const group = this.groups.get(groupId);
    const results = members.map((req) => {
      if (!group) return { ...req, errorCode: ErrorCode.UNKNOWN_MEMBER_ID };
      const memberId = req.groupInstanceId ? group.staticMembers.get(req.groupInstanceId) ?? '' : req.memberId;
      if (req.groupInstanceId && req.memberId && req.memberId !== memberId) return { ...req, errorCode: ErrorCode.FENCED_INSTANCE_ID };
      const member = group.members.get(memberId);
      if (!member) {
        if (group.pendingMembers.has(memberId)) {
          clearTimeout(group.pendingMembers.get(memberId)!);
          group.pendingMembers.delete(memberId);
          this.maybeCompleteJoin(group);
          return { ...req, errorCode: ErrorCode.NONE };
        }
        return { ...req, errorCode: ErrorCode.UNKNOWN_MEMBER_ID };
      }
      this.log.info(`group ${group.id}: member ${memberId} left`);
      this.removeMemberAndRebalance(group, member, `member ${memberId} left`);
      return { ...req, errorCode: ErrorCode.NONE };
    });
    return { errorCode: ErrorCode.NONE, members: results };
  }

  private removeMember(group: Group, member: Member): void {
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    member.joinWaiter?.(joinError(ErrorCode.UNKNOWN_MEMBER_ID, member.memberId));
    member.syncWaiter?.(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    group.members.delete(member.memberId);
    if (member.groupInstanceId && group.staticMembers.get(member.groupInstanceId) === member.memberId) {
      group.staticMembers.delete(member.groupInstanceId);
    }
  }

  private removeMemberAndRebalance(group: Group, member: Member, reason: string): void {
    this.removeMember(group, member);
    if (group.is('PreparingRebalance')) this.maybeCompleteJoin(group);
    else if (group.is('Stable') || group.is('CompletingRebalance')) {
      if (group.members.size === 0) this.completeEmptyRebalance(group);
      else this.prepareRebalance(group, reason);
    }
  }

  private completeEmptyRebalance(group: Group): void {
    this.prepareRebalance(group, 'no members left');
    this.completeJoin(group);
  }

  private scheduleSessionExpiry(group: Group, member: Member): void {
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    member.sessionTimer = setTimeout(() => {
      member.sessionTimer = null;
      if (group.members.get(member.memberId) !== member) return;
      this.log.info(`group ${group.id}: member ${member.memberId} missed its session timeout (${member.sessionTimeoutMs} ms)`);
      this.removeMemberAndRebalance(group, member, `member ${member.memberId} session expired`);
    }, member.sessionTimeoutMs);
    member.sessionTimer.unref();
  }

  // ---------------------------------------------------------------- offsets

  async commitOffsets(req: { groupId: string; generationId: number; memberId: string; groupInstanceId: string | null;
    topics: Array<{ name: string; partitions: OffsetCommitPartition[] }> }): Promise<Map<string, number>> {
    const errors = new Map<string, number>();
    const all = (code: number) => {
      for (const t of req.topics) for (const p of t.partitions) errors.set(`${t.name}\u0000${p.partitionIndex}`, code);
      return errors;
    };
    const err = this.coordinatorError(req.groupId);
    if (err !== ErrorCode.NONE) return all(err);
    // Kafka's classic-group commit validation: a commit from a member must come from the current
    // member id of its static instance (FENCED_INSTANCE_ID), from a member the group has
    // (UNKNOWN_MEMBER_ID), at the current generation (ILLEGAL_GENERATION).
    let group = this.groups.get(req.groupId);
    if (!group) {
      if (req.generationId >= 0) return all(ErrorCode.ILLEGAL_GENERATION);
      // a standalone consumer (assign + commit) or an admin tool: a "simple" group
      group = this.createGroup(req.groupId, this.clock());
    }
    if (group.is('Dead')) return all(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (!(req.generationId < 0 && group.is('Empty'))) {
      if (req.generationId < 0 && req.memberId === '' && !req.groupInstanceId) return all(ErrorCode.UNKNOWN_MEMBER_ID);
      const invalid = validateMember(group, req.memberId, req.groupInstanceId);
      if (invalid !== ErrorCode.NONE) return all(invalid);
      if (req.generationId !== group.generationId) return all(ErrorCode.ILLEGAL_GENERATION);
      if (group.is('CompletingRebalance')) return all(ErrorCode.REBALANCE_IN_PROGRESS);
      this.scheduleSessionExpiry(group, group.members.get(req.memberId)!);
    }
    const now = BigInt(this.clock());
    const records: NewRecord[] = [];
    const accepted: Array<[string, CommittedOffset]> = [];
    for (const t of req.topics) {
      for (const p of t.partitions) {
        const k = `${t.name}\u0000${p.partitionIndex}`;
        const metadata = p.committedMetadata ?? '';
        if (Buffer.byteLength(metadata) > this.config.offsetMetadataMaxBytes) {
          errors.set(k, ErrorCode.OFFSET_METADATA_TOO_LARGE);
          continue;
        }
        const value = { offset: p.committedOffset, leaderEpoch: p.committedLeaderEpoch, metadata, commitTimestamp: now };
        records.push({ key: offsetKey(req.groupId, t.name, p.partitionIndex), value: offsetValue(value) });
        accepted.push([k, value]);
      }
    }
    if (records.length > 0) {
      try {
        await this.append(req.groupId, records);
      } catch (e) {
        this.log.warn(`group ${req.groupId}: storing offsets failed: ${(e as Error).message}`);
        for (const [k] of accepted) errors.set(k, errorCodeOf(e));
        return errors;
      }
      for (const [k, v] of accepted) {
        group.offsets.set(k, v);
        errors.set(k, ErrorCode.NONE);
      }
    }
    return errors;
  }

  /** Committed offsets of a group; `topics` null means every partition the group has committed. */
  fetchOffsets(groupId: string, topics: Array<{ name: string; partitionIndexes: number[] }> | null):
    { errorCode: number; topics: Array<{ name: string; partitions: Array<{ partitionIndex: number; offset: CommittedOffset | null }> }> } {
    const err = this.coordinatorError(groupId);
    if (err !== ErrorCode.NONE) return { errorCode: err, topics: [] };
    const group = this.groups.get(groupId);
    if (topics === null) {
      const byTopic = new Map<string, Array<{ partitionIndex: number; offset: CommittedOffset | null }>>();
      for (const [k, v] of group?.offsets ?? []) {
        const { topic, partition } = splitOffsetKey(k);
        if (!byTopic.has(topic)) byTopic.set(topic, []);
        byTopic.get(topic)!.push({ partitionIndex: partition, offset: v });
      }
      return { errorCode: ErrorCode.NONE, topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })) };
    }
    return {
      errorCode: ErrorCode.NONE,
      topics: topics.map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((p) => ({ partitionIndex: p, offset: group?.offsets.get(`${t.name}\u0000${p}`) ?? null })),
      })),
    };
  }

  /** OffsetDelete: removes committed offsets of topics the group is not subscribed to. */
  async deleteOffsets(groupId: string, topics: Array<{ name: string; partitions: number[] }>, subscribed: (group: Group, topic: string) => boolean):
    Promise<{ errorCode: number; results: Map<string, number> }> {
    const results = new Map<string, number>();
    const err = this.coordinatorError(groupId);
    if (err !== ErrorCode.NONE) return { errorCode: err, results };
    const group = this.groups.get(groupId);
    if (!group) return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, results };
    const records: NewRecord[] = [];
    for (const t of topics) {
      for (const p of t.partitions) {
        const k = `${t.name}\u0000${p}`;
        if (!group.is('Empty') && subscribed(group, t.name)) {
          results.set(k, ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC);
          continue;
        }
        results.set(k, ErrorCode.NONE);
        if (group.offsets.has(k)) records.push({ key: offsetKey(groupId, t.name, p), value: null });
      }
    }
    if (records.length > 0) {
      try {
        await this.append(groupId, records);
      } catch (err) {
        return { errorCode: errorCodeOf(err), results: new Map() };
      }
      for (const [k, code] of results) if (code === ErrorCode.NONE) group.offsets.delete(k);
    }
    return { errorCode: ErrorCode.NONE, results };
  }

  // ---------------------------------------------------------------- admin

  listGroups(statesFilter: string[]): GroupSummary[] {
    const out: GroupSummary[] = [];
    for (const g of this.groups.values()) {
      if (g.is('Dead') || this.coordinatorError(g.id) !== ErrorCode.NONE) continue;
      if (statesFilter.length > 0 && !statesFilter.some((s) => s.toLowerCase() === g.state.toLowerCase())) continue;
      out.push({ groupId: g.id, protocolType: g.protocolType ?? '', state: g.state });
    }
    return out;
  }

  describe(groupId: string): { errorCode: number; group: Group | null } {
    const err = this.coordinatorError(groupId);
    if (err !== ErrorCode.NONE) return { errorCode: err, group: null };
    return { errorCode: ErrorCode.NONE, group: this.groups.get(groupId) ?? null };
  }

  async deleteGroup(groupId: string): Promise<number> {
    const err = this.coordinatorError(groupId);
    if (err !== ErrorCode.NONE) return err;
    const group = this.groups.get(groupId);
    if (!group || group.is('Dead')) return ErrorCode.GROUP_ID_NOT_FOUND;
    if (group.members.size > 0 || !group.is('Empty')) return ErrorCode.NON_EMPTY_GROUP;
    const records: NewRecord[] = [...group.offsets.keys()].map((k) => {
      const { topic, partition } = splitOffsetKey(k);
      return { key: offsetKey(groupId, topic, partition), value: null };
    });
    records.push({ key: groupKey(groupId), value: null });
    await this.append(groupId, records);
    group.transition('Dead', this.clock());
    this.groups.delete(groupId);
    this.log.info(`group ${groupId}: deleted`);
    return ErrorCode.NONE;
  }

  /** Lag needs the committed offsets of every group this broker coordinates. */
  *committedOffsets(): Generator<{ group: string; topic: string; partition: number; offset: bigint }> {
    for (const g of this.groups.values()) {
      for (const [k, v] of g.offsets) {
        const { topic, partition } = splitOffsetKey(k);
        yield { group: g.id, topic, partition, offset: v.offset };
      }
    }
  }

  groupCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const g of this.groups.values()) counts.set(g.state, (counts.get(g.state) ?? 0) + 1);
    return counts;
  }

  /** offsets.retention.minutes: offsets of empty groups expire that long after their commit. */
  async expireOffsets(): Promise<void> {
    const cutoff = BigInt(this.clock() - this.config.offsetsRetentionMs);
    for (const g of [...this.groups.values()]) {
      if (!g.is('Empty') || this.coordinatorError(g.id) !== ErrorCode.NONE) continue;
      const expired = [...g.offsets].filter(([, v]) => v.commitTimestamp < cutoff).map(([k]) => k);
      if (expired.length === 0) continue;
      const records: NewRecord[] = expired.map((k) => {
        const { topic, partition } = splitOffsetKey(k);
        return { key: offsetKey(g.id, topic, partition), value: null };
      });
      const dropGroup = expired.length === g.offsets.size;
      if (dropGroup) records.push({ key: groupKey(g.id), value: null });
      try {
        await this.append(g.id, records);
      } catch (err) {
        this.log.warn(`group ${g.id}: expiring offsets failed: ${(err as Error).message}`);
        continue;
      }
      for (const k of expired) g.offsets.delete(k);
      if (dropGroup) {
        g.transition('Dead', this.clock());
        this.groups.delete(g.id);
      }
      this.log.info(`group ${g.id}: expired ${expired.length} committed offsets${dropGroup ? ' and removed the group' : ''}`);
    }
  }

  close(): void {
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    for (const g of this.groups.values()) {
      this.failWaiters(g, ErrorCode.NOT_COORDINATOR);
      this.clearTimers(g);
    }
  }

  // ---------------------------------------------------------------- internals

  private createGroup(id: string, now: number): Group {
    const g = new Group(id, now);
    this.groups.set(id, g);
    return g;
  }

  private newMember(memberId: string, groupInstanceId: string | null, clientId: string, clientHost: string,
    rebalanceTimeoutMs: number, sessionTimeoutMs: number, protocols: Array<{ name: string; metadata: Buffer }>): Member {
    return { memberId, groupInstanceId, clientId, clientHost, rebalanceTimeoutMs, sessionTimeoutMs, protocols,
      assignment: EMPTY, joinWaiter: null, syncWaiter: null, sessionTimer: null };
  }

  private persistGroup(group: Group): Promise<void> {
    const value = groupValue({
      protocolType: group.protocolType ?? '',
      generation: group.generationId,
      protocol: group.protocolName,
      leader: group.leaderId,
      currentStateTimestamp: group.stateTimestamp,
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId, groupInstanceId: m.groupInstanceId, clientId: m.clientId, clientHost: m.clientHost,
        rebalanceTimeout: m.rebalanceTimeoutMs, sessionTimeout: m.sessionTimeoutMs,
        subscription: group.metadataOf(m), assignment: m.assignment,
      })),
    });
    return this.append(group.id, [{ key: groupKey(group.id), value }]).catch((err: Error) => {
      this.log.error(`group ${group.id}: storing group metadata failed: ${err.message}`);
      throw err;
    });
  }

  /**
   * Appends records to the group's offsets partition and resolves once every in-sync replica has
   * them (acks=all) and they are flushed per policy; rejects with a coordinator error
   * (asCoordinatorError) otherwise.
   */
  private async append(groupId: string, records: NewRecord[]): Promise<void> {
    const entry = this.owned.get(this.partitionFor(groupId));
    if (!entry) throw new KafkaError('NOT_COORDINATOR', `not the coordinator of ${groupId}`);
    const partition = entry.partition;
    try {
      const result = partition.appendAsLeader(encodeRecordBatch(records, BigInt(this.clock())), -1);
      await Promise.all([partition.log.flushed(result.lastOffset), partition.replicated(result.lastOffset + 1n, this.config.commitTimeoutMs)]);
    } catch (err) {
      throw asCoordinatorError(err, partition.name);
    }
  }

  private failWaiters(group: Group, errorCode: number): void {
    for (const m of group.members.values()) {
      m.joinWaiter?.(joinError(errorCode, m.memberId));
      m.syncWaiter?.(syncError(errorCode));
      m.joinWaiter = null;
      m.syncWaiter = null;
    }
  }

  private clearTimers(group: Group): void {
    if (group.rebalanceTimer) clearTimeout(group.rebalanceTimer);
    group.rebalanceTimer = null;
    for (const m of group.members.values()) if (m.sessionTimer) clearTimeout(m.sessionTimer);
    for (const t of group.pendingMembers.values()) clearTimeout(t);
  }
}

/**
 * Kafka's ClassicGroup.validateMember: a static member (group.instance.id) is checked against the
 * member id its instance currently has — an older one is fenced even after it left the group —,
 * a dynamic one against the members.
 */
function validateMember(group: Group, memberId: string, groupInstanceId: string | null): number {
  if (groupInstanceId) {
    const current = group.staticMembers.get(groupInstanceId);
    if (current === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    return current === memberId ? ErrorCode.NONE : ErrorCode.FENCED_INSTANCE_ID;
  }
  return group.members.has(memberId) ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID;
}

/**
 * What a group client is told when writing to the offsets topic failed, as Kafka's group
 * coordinator maps it: too few replicas or no replication in time means "coordinator not
 * available, retry"; a lost leadership or a failed disk means "find the coordinator again".
 */
export function asCoordinatorError(err: unknown, partitionName: string): KafkaError {
  const name = errorInfo(errorCodeOf(err)).name;
  const mapped: ErrorName | null = ({
    UNKNOWN_TOPIC_OR_PARTITION: 'COORDINATOR_NOT_AVAILABLE',
    NOT_ENOUGH_REPLICAS: 'COORDINATOR_NOT_AVAILABLE',
    NOT_ENOUGH_REPLICAS_AFTER_APPEND: 'COORDINATOR_NOT_AVAILABLE',
    REQUEST_TIMED_OUT: 'COORDINATOR_NOT_AVAILABLE',
    NOT_LEADER_OR_FOLLOWER: 'NOT_COORDINATOR',
    KAFKA_STORAGE_ERROR: 'NOT_COORDINATOR',
    MESSAGE_TOO_LARGE: 'UNKNOWN_SERVER_ERROR',
    RECORD_LIST_TOO_LARGE: 'UNKNOWN_SERVER_ERROR',
  } as Record<string, ErrorName>)[name] ?? null;
  if (!mapped) return err instanceof KafkaError ? err : new KafkaError('UNKNOWN_SERVER_ERROR', `${partitionName}: ${(err as Error).message}`);
  return new KafkaError(mapped, `${partitionName}: ${(err as Error).message}`);
}

function sameProtocols(a: ReadonlyArray<{ name: string; metadata: Buffer }>, b: ReadonlyArray<{ name: string; metadata: Buffer }>): boolean {
  return a.length === b.length && a.every((p, i) => p.name === b[i]!.name && p.metadata.equals(b[i]!.metadata));
}
