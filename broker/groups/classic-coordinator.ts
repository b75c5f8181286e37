/**
 * ClassicProtocol: the group coordinator's side of Kafka's classic group protocol — JoinGroup,
 * SyncGroup, Heartbeat, LeaveGroup — for the classic groups of this broker's `__consumer_offsets`
 * partitions (kept by GroupStore). It drives the state machine of group.ts
 * (Empty → PreparingRebalance → CompletingRebalance → Stable) and owns its timers: session
 * expiry, rebalance timeout, the initial rebalance delay (group.initial.rebalance.delay.ms) and
 * pending-member expiry (KIP-394). Static members (KIP-345) rejoin under a new member id, fencing
 * the old one. A settled group state is answered only once the store has it on every in-sync
 * replica. Everything runs on the event loop, so a group is never touched concurrently.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode, errorCodeOf } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { GroupCoordinatorConfig } from './config.ts';
import { EMPTY, Group, newMember } from './group.ts';
import type { JoinResult, Member, SyncResult } from './group.ts';
import type { GroupStore } from './group-store.ts';

export interface JoinRequest {
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

const joinError = (errorCode: number, memberId = ''): JoinResult =>
  ({ errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId, members: [] });
const syncError = (errorCode: number): SyncResult => ({ errorCode, protocolType: null, protocolName: null, assignment: EMPTY });

export class ClassicProtocol {
  private readonly config: GroupCoordinatorConfig;
  private readonly log: Logger;
  private readonly clock: () => number;
  private readonly store: GroupStore;

  constructor(opts: { store: GroupStore; config: GroupCoordinatorConfig; logger: Logger; clock: () => number }) {
    this.store = opts.store;
    this.config = opts.config;
    this.log = opts.logger;
    this.clock = opts.clock;
  }

  private coordinatorError(groupId: string): number { return this.store.coordinatorError(groupId); }

  // ---------------------------------------------------------------- JoinGroup

  join(req: JoinRequest): Promise<JoinResult> | JoinResult {
    const err = this.coordinatorError(req.groupId);
    if (err !== ErrorCode.NONE) return joinError(err, req.memberId);
    if (req.sessionTimeoutMs < this.config.minSessionTimeoutMs || req.sessionTimeoutMs > this.config.maxSessionTimeoutMs) {
      return joinError(ErrorCode.INVALID_SESSION_TIMEOUT, req.memberId);
    }
    const now = this.clock();
    let group = this.store.groups.get(req.groupId);
    if (!group) {
      if (req.memberId !== '') return joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId);
      group = this.store.create(req.groupId);
    }
    if (group.is('Dead')) return joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, req.memberId);
    if (group.type === 'consumer') {
      // offline migration only: an empty consumer group becomes classic (Kafka's group.consumer.migration.policy=disabled)
      if (!group.isEmpty()) return joinError(ErrorCode.GROUP_ID_NOT_FOUND, req.memberId);
      this.log.info(`group ${group.id}: the empty consumer group becomes a classic group`);
      group.convertTo('classic');
    }
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
    const member = newMember(memberId, req.groupInstanceId, req.clientId, req.clientHost, req.rebalanceTimeoutMs,
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
      return this.store.storeGroup(group).then(() => response, (err: unknown) => joinError(errorCodeOf(err), memberId));
    }
    if (group.is('PreparingRebalance')) return this.awaitJoin(group, member);
    this.prepareRebalance(group, `static member ${req.groupInstanceId} rejoined`);
    return this.awaitJoin(group, member);
  }

  private addMemberAndRebalance(group: Group, memberId: string, req: JoinRequest): Promise<JoinResult> {
    const member = newMember(memberId, req.groupInstanceId, req.clientId, req.clientHost, req.rebalanceTimeoutMs,
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
      this.store.storeGroup(group).catch(() => { /* logged by persistGroup; the group stays as it is in memory */ });
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
    const group = this.store.groups.get(req.groupId);
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
          this.store.storeGroup(group).then(() => {
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
    const group = this.store.groups.get(req.groupId);
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
    const group = this.store.groups.get(groupId);
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

  /** (Re)starts `member`'s session timer: a heartbeat, a join, a sync or a commit from it. */
  scheduleSessionExpiry(group: Group, member: Member): void {
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    member.sessionTimer = setTimeout(() => {
      member.sessionTimer = null;
      if (group.members.get(member.memberId) !== member) return;
      this.log.info(`group ${group.id}: member ${member.memberId} missed its session timeout (${member.sessionTimeoutMs} ms)`);
      this.removeMemberAndRebalance(group, member, `member ${member.memberId} session expired`);
    }, member.sessionTimeoutMs);
    member.sessionTimer.unref();
  }

  // ---------------------------------------------------------------- unloading

  /** Answers every waiting JoinGroup and SyncGroup of `group` with `errorCode`. */
  failWaiters(group: Group, errorCode: number): void {
    for (const m of group.members.values()) {
      m.joinWaiter?.(joinError(errorCode, m.memberId));
      m.syncWaiter?.(syncError(errorCode));
      m.joinWaiter = null;
      m.syncWaiter = null;
    }
  }

  /** Stops the rebalance, session and pending-member timers of `group`. */
  clearTimers(group: Group): void {
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
export function validateMember(group: Group, memberId: string, groupInstanceId: string | null): number {
  if (groupInstanceId) {
    const current = group.staticMembers.get(groupInstanceId);
    if (current === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    return current === memberId ? ErrorCode.NONE : ErrorCode.FENCED_INSTANCE_ID;
  }
  return group.members.has(memberId) ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID;
}

function sameProtocols(a: ReadonlyArray<{ name: string; metadata: Buffer }>, b: ReadonlyArray<{ name: string; metadata: Buffer }>): boolean {
  return a.length === b.length && a.every((p, i) => p.name === b[i]!.name && p.metadata.equals(b[i]!.metadata));
}
