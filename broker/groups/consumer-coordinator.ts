/**
 * ConsumerProtocol: the group coordinator's side of the consumer group protocol (KIP-848),
 * ConsumerGroupHeartbeat, for the groups of this broker's `__consumer_offsets` partitions (kept by
 * GroupStore, beside the classic groups). Kafka's semantics:
 *
 * - A member joins with epoch 0 and its subscription, heartbeats with its epoch, leaves with -1
 *   (a static member, `group.instance.id`, with -2: it keeps its partitions until its session
 *   expires, and a new member id with the same instance id takes them over without a rebalance).
 * - A join, a leave, an expired session, a changed subscription or a change in the subscribed
 *   topics' partitions bumps the group epoch; the server-side assignor (`uniform` by default, or
 *   `range`, per group.consumer.assignors and the members' choice) then computes the target
 *   assignment for that epoch. Each member reconciles towards its target one heartbeat at a time
 *   (consumer-group.ts): partitions are revoked from their owner before another member gets them.
 * - An epoch the coordinator does not know is FENCED_MEMBER_EPOCH (the member gives up its
 *   partitions and rejoins); an unknown member is UNKNOWN_MEMBER_ID; a member that does not revoke
 *   within its rebalance timeout, or does not heartbeat within group.consumer.session.timeout.ms,
 *   is removed.
 * - Offline migration: an empty classic group becomes a consumer group on the first heartbeat
 *   (and an empty consumer group becomes classic on the first JoinGroup); a non-empty group of the
 *   other type answers GROUP_ID_NOT_FOUND, as Kafka with group.consumer.migration.policy=disabled.
 *
 * Durability: a heartbeat that changed the group is answered once the group's whole state (one
 * record, offsets-records.ts) is on every in-sync replica of its partition; a successor
 * coordinator loads it and keeps every member's epoch and assignment. Everything runs on the
 * event loop, so a group is never touched concurrently.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode, errorCodeOf } from '../errors.ts';
import type { ErrorName } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { ASSIGNORS, ASSIGNOR_NAMES } from './assignors.ts';
import type { AssignorName, MemberAssignment } from './assignors.ts';
import type { GroupCoordinatorConfig } from './config.ts';
import { assignmentKey, isSubset, newConsumerMember, reconcile } from './consumer-group.ts';
import type { ConsumerGroupState, ConsumerMember } from './consumer-group.ts';
import type { Group } from './group.ts';
import type { GroupStore } from './group-store.ts';

/** What the consumer protocol needs to know of the cluster's topics. */
export interface TopicLookup {
  byName(name: string): { topicId: string; partitions: number } | undefined;
  nameById(topicId: string): string | undefined;
  /** Every topic name (for subscriptions by regular expression; internal topics are skipped). */
  names(): Iterable<string>;
}

export interface TopicPartitionsWire { topicId: string; partitions: number[] }

export interface ConsumerHeartbeatRequest {
  apiVersion: number;
  groupId: string;
  memberId: string;
  memberEpoch: number;
  instanceId: string | null;
  rackId: string | null;
  rebalanceTimeoutMs: number;
  subscribedTopicNames: string[] | null;
  subscribedTopicRegex: string | null;
  serverAssignor: string | null;
  topicPartitions: TopicPartitionsWire[] | null;
  clientId: string;
  clientHost: string;
}

export interface ConsumerHeartbeatResult {
  errorCode: number;
  errorMessage: string | null;
  memberId: string | null;
  memberEpoch: number;
  heartbeatIntervalMs: number;
  assignment: { topicPartitions: TopicPartitionsWire[] } | null;
}

const LEAVE_EPOCH = -1;
const STATIC_LEAVE_EPOCH = -2;

function failure(name: ErrorName, message: string | null = null): ConsumerHeartbeatResult {
  return { errorCode: ErrorCode[name], errorMessage: message, memberId: null, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null };
}

export function toWire(a: MemberAssignment): TopicPartitionsWire[] {
  return [...a].filter(([, s]) => s.size > 0).map(([topicId, s]) => ({ topicId, partitions: [...s].sort((x, y) => x - y) }));
}

/** Everything of a member that is persisted, as text, to tell whether a heartbeat changed it. */
function fingerprint(m: ConsumerMember): string {
  return JSON.stringify([m.instanceId, m.rackId, m.clientId, m.clientHost, m.memberEpoch, m.previousMemberEpoch, m.state, m.rebalanceTimeoutMs,
    m.subscribedTopicNames, m.subscribedTopicRegex, m.serverAssignor, assignmentKey(m.assigned), assignmentKey(m.pendingRevocation)]);
}

export class ConsumerProtocol {
  private readonly store: GroupStore;
  private readonly config: GroupCoordinatorConfig;
  private readonly log: Logger;
  private readonly topics: TopicLookup;
  /** The assignment last sent to each member (by group and member id), so unchanged ones are not re-sent. */
  private readonly sent = new WeakMap<ConsumerMember, string>();

  constructor(opts: { store: GroupStore; config: GroupCoordinatorConfig; logger: Logger; topics: TopicLookup }) {
    this.store = opts.store;
    this.config = opts.config;
    this.log = opts.logger;
    this.topics = opts.topics;
  }

  private invalid(req: ConsumerHeartbeatRequest): string | null {
    if (!req.groupId) return 'GroupId can\'t be empty.';
    if (req.instanceId === '') return 'InstanceId can\'t be empty.';
    if (req.rackId === '') return 'RackId can\'t be empty.';
    if (req.memberId === '' && (req.apiVersion >= 1 || req.memberEpoch !== 0)) return 'MemberId can\'t be empty.';
    if (req.memberEpoch < STATIC_LEAVE_EPOCH) return 'MemberEpoch is invalid.';
    if (req.memberEpoch === STATIC_LEAVE_EPOCH && req.instanceId === null) return 'InstanceId can\'t be null.';
    if (req.memberEpoch === 0) {
      if (req.rebalanceTimeoutMs === -1) return 'RebalanceTimeoutMs must be provided in first request.';
      if (req.topicPartitions === null || req.topicPartitions.length > 0) return 'TopicPartitions must be empty when (re-)joining.';
      if (req.subscribedTopicNames === null && req.subscribedTopicRegex === null) return 'SubscribedTopicNames or SubscribedTopicRegex must be set in first request.';
    }
    if (req.subscribedTopicRegex !== null) {
      try { new RegExp(req.subscribedTopicRegex); } catch { return `SubscribedTopicRegex ${req.subscribedTopicRegex} is not a valid regular expression.`; }
    }
    return null;
  }

  async heartbeat(req: ConsumerHeartbeatRequest): Promise<ConsumerHeartbeatResult> {
    const invalid = this.invalid(req);
    if (invalid) return failure('INVALID_REQUEST', invalid);
    if (req.serverAssignor !== null && !(ASSIGNOR_NAMES as readonly string[]).includes(req.serverAssignor)) {
      return failure('UNSUPPORTED_ASSIGNOR', `ServerAssignor ${req.serverAssignor} is not supported. Supported assignors: ${this.config.consumerAssignors.join(', ')}.`);
    }
    const err = this.store.coordinatorError(req.groupId);
    if (err !== ErrorCode.NONE) return { ...failure('NONE'), errorCode: err };
    if (req.memberEpoch === LEAVE_EPOCH || req.memberEpoch === STATIC_LEAVE_EPOCH) return this.leave(req);

    let group = this.store.groups.get(req.groupId);
    if (!group) {
      if (req.memberEpoch !== 0) return failure('UNKNOWN_MEMBER_ID', `Member ${req.memberId} is not a member of group ${req.groupId}.`);
      group = this.store.create(req.groupId);
      group.convertTo('consumer');
    } else if (group.type !== 'consumer') {
      if (!group.isEmpty() || group.pendingMembers.size > 0) return failure('GROUP_ID_NOT_FOUND', `Group ${req.groupId} is not a consumer group.`);
      this.log.info(`group ${group.id}: the empty classic group becomes a consumer group`);
      group.convertTo('consumer');
    }
    const c = group.consumer;
    const before = new Map([...c.members].map(([id, m]) => [id, fingerprint(m)]));
    const epochsBefore = `${c.groupEpoch}/${c.assignmentEpoch}`;

    let member: ConsumerMember | undefined;
    let bump = false;
    if (req.memberEpoch === 0) {
      const memberId = req.memberId || randomUUID();
      if (req.instanceId !== null) {
        const existing = c.staticMember(req.instanceId);
        if (existing && existing.memberId !== memberId) {
          if (existing.memberEpoch !== STATIC_LEAVE_EPOCH) {
            return failure('UNRELEASED_INSTANCE_ID', `Static member ${memberId} with instance id ${req.instanceId} cannot join the group because the instance id is owned by ${existing.memberId} member.`);
          }
          member = this.replaceStatic(c, existing, memberId);
        }
      }
      if (!member) {
        const old = c.members.get(memberId);
        if (old) {
          // the same member id joins again: its previous incarnation and its partitions go
          this.removeMember(c, old);
          bump = true;
        }
        if (c.members.size >= this.config.consumerMaxSize) {
          return failure('GROUP_MAX_SIZE_REACHED', `The consumer group has reached its maximum capacity of ${this.config.consumerMaxSize} members.`);
        }
        member = newConsumerMember(memberId);
        member.instanceId = req.instanceId;
        c.members.set(memberId, member);
        bump = true;
        this.log.info(`group ${group.id}: member ${memberId}${req.instanceId ? ` (instance ${req.instanceId})` : ''} joins`);
      }
    } else {
      member = c.members.get(req.memberId);
      if (!member) return failure('UNKNOWN_MEMBER_ID', `Member ${req.memberId} is not a member of group ${req.groupId}.`);
      if (req.instanceId !== null && member.instanceId !== null && member.instanceId !== req.instanceId) {
        return failure('FENCED_INSTANCE_ID', `Member ${req.memberId} does not own instance id ${req.instanceId}.`);
      }
      if (req.memberEpoch > member.memberEpoch) {
        return failure('FENCED_MEMBER_EPOCH', `The consumer group member has a greater member epoch (${req.memberEpoch}) than the one known by the group coordinator (${member.memberEpoch}). The member must abandon all its partitions and rejoin.`);
      }
      if (req.memberEpoch < member.memberEpoch
        && (req.memberEpoch !== member.previousMemberEpoch || !isSubset(req.topicPartitions, member.assigned))) {
        return failure('FENCED_MEMBER_EPOCH', `The consumer group member has a smaller member epoch (${req.memberEpoch}) than the one known by the group coordinator (${member.memberEpoch}). The member must abandon all its partitions and rejoin.`);
      }
    }

    // the member's subscription and settings, where the request says them
    if (req.subscribedTopicNames !== null) {
      const names = [...new Set(req.subscribedTopicNames)].sort();
      if (names.join('\u0000') !== member.subscribedTopicNames.join('\u0000')) { member.subscribedTopicNames = names; bump = true; }
    }
    if (req.subscribedTopicRegex !== null && req.subscribedTopicRegex !== (member.subscribedTopicRegex ?? '')) {
      member.subscribedTopicRegex = req.subscribedTopicRegex === '' ? null : req.subscribedTopicRegex;
      bump = true;
    }
    if (req.serverAssignor !== null && req.serverAssignor !== member.serverAssignor) { member.serverAssignor = req.serverAssignor; bump = true; }
    if (req.rebalanceTimeoutMs !== -1) member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    if (req.rackId !== null) member.rackId = req.rackId;
    if (req.instanceId !== null) member.instanceId = req.instanceId;
    member.clientId = req.clientId;
    member.clientHost = req.clientHost;

    this.updateTarget(group, bump);
    const full = req.memberEpoch === 0 || (req.rebalanceTimeoutMs !== -1 && req.topicPartitions !== null
      && (req.subscribedTopicNames !== null || req.subscribedTopicRegex !== null));
    reconcile(c, member, req.topicPartitions);
    this.scheduleTimers(group, member);

    const changed = `${c.groupEpoch}/${c.assignmentEpoch}` !== epochsBefore || before.size !== c.members.size
      || [...c.members].some(([id, m]) => before.get(id) !== fingerprint(m));
    if (changed) {
      try {
        await this.store.storeConsumerGroup(group);
      } catch (e) {
        return { ...failure('NONE'), errorCode: errorCodeOf(e), errorMessage: (e as Error).message };
      }
    }
    const assigned = assignmentKey(member.assigned);
    const send = full || this.sent.get(member) !== assigned;
    if (send) this.sent.set(member, assigned);
    return {
      errorCode: ErrorCode.NONE, errorMessage: null, memberId: member.memberId, memberEpoch: member.memberEpoch,
      heartbeatIntervalMs: this.config.consumerHeartbeatIntervalMs,
      assignment: send ? { topicPartitions: toWire(member.assigned) } : null,
    };
  }

  private async leave(req: ConsumerHeartbeatRequest): Promise<ConsumerHeartbeatResult> {
    const group = this.store.groups.get(req.groupId);
    const c = group?.type === 'consumer' ? group.consumer : null;
    const member = req.memberEpoch === STATIC_LEAVE_EPOCH && req.instanceId !== null ? c?.staticMember(req.instanceId) : c?.members.get(req.memberId);
    if (!group || !c || !member) return failure('UNKNOWN_MEMBER_ID', `Member ${req.memberId} is not a member of group ${req.groupId}.`);
    if (member.memberId !== req.memberId) return failure('FENCED_INSTANCE_ID', `Instance id ${req.instanceId} is owned by member ${member.memberId}.`);
    if (req.memberEpoch === STATIC_LEAVE_EPOCH) {
      // a static member away for now keeps its partitions until its session expires
      this.log.info(`group ${group.id}: static member ${member.memberId} (instance ${member.instanceId}) leaves for now`);
      member.memberEpoch = STATIC_LEAVE_EPOCH;
      if (member.rebalanceTimer) clearTimeout(member.rebalanceTimer);
      member.rebalanceTimer = null;
    } else {
      this.log.info(`group ${group.id}: member ${member.memberId} leaves`);
      this.removeMember(c, member);
      this.updateTarget(group, true);
    }
    try {
      await this.store.storeConsumerGroup(group);
    } catch (e) {
      return { ...failure('NONE'), errorCode: errorCodeOf(e), errorMessage: (e as Error).message };
    }
    return { errorCode: ErrorCode.NONE, errorMessage: null, memberId: req.memberId, memberEpoch: req.memberEpoch, heartbeatIntervalMs: 0, assignment: null };
  }

  /** A static member's instance id comes back under a new member id: it takes over the old member's partitions, no rebalance. */
  private replaceStatic(c: ConsumerGroupState, old: ConsumerMember, memberId: string): ConsumerMember {
    this.clearTimers(old);
    c.members.delete(old.memberId);
    const target = c.target.get(old.memberId);
    c.target.delete(old.memberId);
    const member: ConsumerMember = { ...old, memberId, memberEpoch: 0, previousMemberEpoch: -1, state: 'stable', sessionTimer: null, rebalanceTimer: null };
    c.members.set(memberId, member);
    if (target) c.target.set(memberId, target);
    this.log.info(`member ${memberId} replaces static member ${old.memberId} (instance ${old.instanceId})`);
    return member;
  }

  private removeMember(c: ConsumerGroupState, m: ConsumerMember): void {
    this.clearTimers(m);
    c.members.delete(m.memberId);
    c.target.delete(m.memberId);
  }

  private clearTimers(m: ConsumerMember): void {
    if (m.sessionTimer) clearTimeout(m.sessionTimer);
    if (m.rebalanceTimer) clearTimeout(m.rebalanceTimer);
    m.sessionTimer = null;
    m.rebalanceTimer = null;
  }

  /** Topic id → partition count of every existing topic a member subscribes to (by name or regex). */
  private subscribedTopics(m: ConsumerMember, regexCache: Map<string, string[]>): string[] {
    const names = new Set(m.subscribedTopicNames);
    if (m.subscribedTopicRegex) {
      let matched = regexCache.get(m.subscribedTopicRegex);
      if (!matched) {
        const re = new RegExp(`^(?:${m.subscribedTopicRegex})$`);
        matched = [...this.topics.names()].filter((n) => !n.startsWith('__') && re.test(n));
        regexCache.set(m.subscribedTopicRegex, matched);
      }
      for (const n of matched) names.add(n);
    }
    return [...names].filter((n) => this.topics.byName(n) !== undefined).sort();
  }

  /**
   * Bumps the group epoch if asked or if the subscribed topics changed (created, deleted, more
   * partitions), then computes the target assignment for a new epoch.
   */
  private updateTarget(group: Group, bump: boolean): void {
    const c = group.consumer;
    const regexCache = new Map<string, string[]>();
    const perMember = new Map([...c.members.values()].map((m) => [m.memberId, this.subscribedTopics(m, regexCache)]));
    const all = [...new Set([...perMember.values()].flat())].sort();
    const signature = all.map((n) => { const t = this.topics.byName(n)!; return `${n}:${t.topicId}:${t.partitions}`; }).join(';');
    if (bump || signature !== c.subscriptionSignature) {
      c.groupEpoch++;
      c.subscriptionSignature = signature;
    }
    if (c.groupEpoch <= c.assignmentEpoch) return;
    const assignor = this.chooseAssignor(c);
    const partitionCounts = new Map(all.map((n) => { const t = this.topics.byName(n)!; return [t.topicId, t.partitions]; }));
    const members = [...c.members.values()].map((m) => ({
      memberId: m.memberId, subscribedTopicIds: new Set(perMember.get(m.memberId)!.map((n) => this.topics.byName(n)!.topicId)),
    }));
    const target = ASSIGNORS[assignor]({ members, partitionCounts, current: c.target });
    c.target.clear();
    for (const [id, a] of target) c.target.set(id, a);
    c.assignmentEpoch = c.groupEpoch;
    c.assignorName = assignor;
    this.log.info(`group ${group.id}: epoch ${c.groupEpoch}, ${c.members.size} members, target assignment by ${assignor}`);
  }

  /** The assignor most members ask for (ties: the configured order), else the first configured. */
  private chooseAssignor(c: ConsumerGroupState): AssignorName {
    const votes = new Map<string, number>();
    for (const m of c.members.values()) if (m.serverAssignor) votes.set(m.serverAssignor, (votes.get(m.serverAssignor) ?? 0) + 1);
    let best: AssignorName = this.config.consumerAssignors[0]!;
    let bestVotes = 0;
    for (const name of this.config.consumerAssignors) {
      const v = votes.get(name) ?? 0;
      if (v > bestVotes) { best = name; bestVotes = v; }
    }
    return best;
  }

  /** Session expiry (restarted by every heartbeat) and, while the member owes a revocation, its rebalance timeout. */
  scheduleTimers(group: Group, member: ConsumerMember): void {
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    member.sessionTimer = setTimeout(() => {
      member.sessionTimer = null;
      this.expel(group, member, `missed its session timeout (${this.config.consumerSessionTimeoutMs} ms)`);
    }, this.config.consumerSessionTimeoutMs);
    member.sessionTimer.unref();
    if (member.state !== 'unrevoked') {
      if (member.rebalanceTimer) clearTimeout(member.rebalanceTimer);
      member.rebalanceTimer = null;
    } else if (!member.rebalanceTimer) {
      member.rebalanceTimer = setTimeout(() => {
        member.rebalanceTimer = null;
        if (member.state === 'unrevoked') this.expel(group, member, `did not revoke its partitions within its rebalance timeout (${member.rebalanceTimeoutMs} ms)`);
      }, member.rebalanceTimeoutMs);
      member.rebalanceTimer.unref();
    }
  }

  /** Removes a member the coordinator gave up on; the others are reassigned its partitions. */
  private expel(group: Group, member: ConsumerMember, why: string): void {
    if (this.store.groups.get(group.id) !== group || group.consumer.members.get(member.memberId) !== member) return;
    if (this.store.coordinatorError(group.id) !== ErrorCode.NONE) return;
    this.log.info(`group ${group.id}: member ${member.memberId} ${why}: removed`);
    this.removeMember(group.consumer, member);
    this.updateTarget(group, true);
    this.store.storeConsumerGroup(group).catch(() => { /* logged by the store; the next change writes the whole group again */ });
  }

  /** After a load: every member must heartbeat within its session timeout, as after a coordinator move. */
  loaded(group: Group): void {
    for (const m of group.consumer.members.values()) this.scheduleTimers(group, m);
  }

  /** Forget a group's timers (the partition moved away, or the broker stops). */
  unloaded(group: Group): void {
    for (const m of group.consumer.members.values()) this.clearTimers(m);
  }

  /**
   * Kafka's ConsumerGroup.validateOffsetCommit: a commit with no member on an empty group is an
   * admin's or a standalone consumer's; otherwise the member must exist and commit at its current
   * epoch (STALE_MEMBER_EPOCH), with OffsetCommit v9+ (UNSUPPORTED_VERSION below).
   */
  validateCommit(group: Group, memberId: string, memberEpoch: number, apiVersion: number, transactional: boolean): number {
    const c = group.consumer;
    if (memberEpoch < 0 && memberId === '' && c.members.size === 0) return ErrorCode.NONE;
    const member = c.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (!transactional && apiVersion < 9) return ErrorCode.UNSUPPORTED_VERSION;
    if (memberEpoch !== member.memberEpoch) return transactional ? ErrorCode.ILLEGAL_GENERATION : ErrorCode.STALE_MEMBER_EPOCH;
    return ErrorCode.NONE;
  }

  /** Kafka's ConsumerGroup.validateOffsetFetch (OffsetFetch v9+ naming a member). */
  validateFetch(group: Group, memberId: string | null, memberEpoch: number): number {
    if (memberId === null || (memberId === '' && memberEpoch < 0)) return ErrorCode.NONE;
    const member = group.consumer.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    return memberEpoch === member.memberEpoch ? ErrorCode.NONE : ErrorCode.STALE_MEMBER_EPOCH;
  }
}
