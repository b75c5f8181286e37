/**
 * ConsumerGroupState: the state of a group that speaks the consumer group protocol (KIP-848),
 * kept beside the classic state of group.ts in the same Group (one id, one type at a time), and
 * the member reconciliation of Kafka's CurrentAssignmentBuilder.
 *
 * The coordinator owns the assignment. The group has an epoch, bumped whenever its membership or
 * a subscription (or the partitions of a subscribed topic) changes; the target assignment is
 * computed by the server-side assignor for that epoch (assignment epoch). Each member converges
 * to its target one heartbeat at a time, never owning a partition another member still owns:
 *
 *   STABLE ──target epoch moved──▶ (revoke needed) UNREVOKED ──member acknowledged──┐
 *      ▲                           (else)  ──────────────────────────────────────────┤
 *      │                                                                             ▼
 *      └──── all target partitions free ◀── UNRELEASED (waits for other members to revoke)
 *
 * A member's epoch moves to the assignment epoch only once it owns nothing outside its target
 * (revoke before assign). Pure data and pure functions; the coordinator (consumer-coordinator.ts)
 * drives them, owns the timers and persists the group.
 */
import type { MemberAssignment } from './assignors.ts';

export type ConsumerMemberState = 'stable' | 'unrevoked' | 'unreleased';

export interface ConsumerMember {
  memberId: string;
  instanceId: string | null;
  rackId: string | null;
  clientId: string;
  clientHost: string;
  /** The epoch of the assignment the member has; -2 while a static member is away. */
  memberEpoch: number;
  previousMemberEpoch: number;
  state: ConsumerMemberState;
  rebalanceTimeoutMs: number;
  subscribedTopicNames: string[];
  subscribedTopicRegex: string | null;
  serverAssignor: string | null;
  /** Partitions the member may use now. */
  assigned: MemberAssignment;
  /** Partitions the member must give up before its epoch moves on. */
  pendingRevocation: MemberAssignment;
  // runtime only
  sessionTimer: NodeJS.Timeout | null;
  rebalanceTimer: NodeJS.Timeout | null;
}

/** Kafka's ConsumerGroup states, as ListGroups / ConsumerGroupDescribe spell them. */
export type ConsumerGroupStateName = 'Empty' | 'Assigning' | 'Reconciling' | 'Stable' | 'Dead';

export class ConsumerGroupState {
  groupEpoch = 0;
  assignmentEpoch = 0;
  /** The assignor the target was computed with. */
  assignorName = '';
  readonly members = new Map<string, ConsumerMember>();
  /** member id → target assignment (for the assignment epoch). */
  readonly target = new Map<string, MemberAssignment>();
  /** What the subscribed topics looked like when the group epoch was last bumped (names, ids, partition counts). */
  subscriptionSignature = '';

  stateName(): ConsumerGroupStateName {
    if (this.members.size === 0) return 'Empty';
    if (this.groupEpoch > this.assignmentEpoch) return 'Assigning';
    for (const m of this.members.values()) {
      if (m.memberEpoch !== this.assignmentEpoch || m.state !== 'stable') return 'Reconciling';
    }
    return 'Stable';
  }

  staticMember(instanceId: string): ConsumerMember | undefined {
    for (const m of this.members.values()) if (m.instanceId === instanceId) return m;
    return undefined;
  }

  /** Whether a member other than `except` still owns (assigned or pending revocation) the partition. */
  ownedByOther(except: string, topicId: string, partition: number): boolean {
    for (const m of this.members.values()) {
      if (m.memberId === except) continue;
      if (m.assigned.get(topicId)?.has(partition) || m.pendingRevocation.get(topicId)?.has(partition)) return true;
    }
    return false;
  }
}

export function newConsumerMember(memberId: string): ConsumerMember {
  return {
    memberId, instanceId: null, rackId: null, clientId: '', clientHost: '', memberEpoch: 0, previousMemberEpoch: -1,
    state: 'stable', rebalanceTimeoutMs: 300_000, subscribedTopicNames: [], subscribedTopicRegex: null, serverAssignor: null,
    assigned: new Map(), pendingRevocation: new Map(), sessionTimer: null, rebalanceTimer: null,
  };
}

export function copyAssignment(a: MemberAssignment): MemberAssignment {
  return new Map([...a].map(([t, s]) => [t, new Set(s)]));
}

/** A stable text form of an assignment (topic ids and partitions sorted), to compare two. */
export function assignmentKey(a: MemberAssignment): string {
  return [...a].filter(([, s]) => s.size > 0).sort(([x], [y]) => (x < y ? -1 : 1))
    .map(([t, s]) => `${t}:${[...s].sort((x, y) => x - y).join(',')}`).join(';');
}

/** Does the member own none of `partitions` (as reported in its heartbeat)? */
function ownsNoneOf(owned: ReadonlyArray<{ topicId: string; partitions: number[] }>, partitions: MemberAssignment): boolean {
  for (const t of owned) {
    const pending = partitions.get(t.topicId);
    if (pending && t.partitions.some((p) => pending.has(p))) return false;
  }
  return true;
}

/** Is every reported partition one of the member's assigned ones? */
export function isSubset(owned: ReadonlyArray<{ topicId: string; partitions: number[] }> | null, assigned: MemberAssignment): boolean {
  if (!owned) return true;
  return owned.every((t) => t.partitions.every((p) => assigned.get(t.topicId)?.has(p)));
}

/**
 * Moves `member` one step towards its target assignment (Kafka's CurrentAssignmentBuilder).
 * `owned` is what the member reported owning in this heartbeat (null: unchanged since the last).
 */
export function reconcile(group: ConsumerGroupState, member: ConsumerMember,
  owned: ReadonlyArray<{ topicId: string; partitions: number[] }> | null): void {
  if (member.memberEpoch < 0) return; // a static member that is away keeps what it has
  switch (member.state) {
    case 'unrevoked':
      // the member acknowledges a revocation by no longer reporting the revoked partitions
      if (owned !== null && ownsNoneOf(owned, member.pendingRevocation)) computeNext(group, member);
      return;
    case 'stable':
      if (member.memberEpoch !== group.assignmentEpoch) computeNext(group, member);
      return;
    case 'unreleased':
      computeNext(group, member);
      return;
  }
}

function computeNext(group: ConsumerGroupState, member: ConsumerMember): void {
  const target = group.target.get(member.memberId) ?? new Map<string, Set<number>>();
  const keep: MemberAssignment = new Map();
  const revoke: MemberAssignment = new Map();
  for (const [topicId, partitions] of member.assigned) {
    const t = target.get(topicId);
    for (const p of partitions) {
      const into = t?.has(p) ? keep : revoke;
      if (!into.has(topicId)) into.set(topicId, new Set());
      into.get(topicId)!.add(p);
    }
  }
  if (revoke.size > 0) {
    // revoke first: the epoch stays until the member confirms it let go
    member.assigned = keep;
    member.pendingRevocation = revoke;
    member.state = 'unrevoked';
    return;
  }
  let unreleased = false;
  for (const [topicId, partitions] of target) {
    for (const p of partitions) {
      if (keep.get(topicId)?.has(p)) continue;
      if (group.ownedByOther(member.memberId, topicId, p)) {
        unreleased = true;
        continue;
      }
      if (!keep.has(topicId)) keep.set(topicId, new Set());
      keep.get(topicId)!.add(p);
    }
  }
  member.assigned = keep;
  member.pendingRevocation = new Map();
  if (member.memberEpoch !== group.assignmentEpoch) {
    member.previousMemberEpoch = member.memberEpoch;
    member.memberEpoch = group.assignmentEpoch;
  }
  member.state = unreleased ? 'unreleased' : 'stable';
}
