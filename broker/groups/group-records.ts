/**
 * Group state ↔ the values of `__consumer_offsets` records (Kafka's
 * GroupCoordinatorRecordHelpers): what a group's record says, and what replaying one does to the
 * in-memory group. Pure mappings; the byte formats are offsets-records.ts's, where and when the
 * records are written and replayed is group-store.ts's.
 */
import { Group, newMember } from './group.ts';
import type { CommittedOffset } from './group.ts';
import { ConsumerGroupState } from './consumer-group.ts';
import type { ConsumerMemberState } from './consumer-group.ts';
import type { MemberAssignment } from './assignors.ts';
import type { ConsumerGroupValue, GroupValue, OffsetValue, TopicPartitionsValue } from './offsets-records.ts';

/** A consumer-protocol member's state as stored (its index). */
const MEMBER_STATES: readonly ConsumerMemberState[] = ['stable', 'unrevoked', 'unreleased'];

function toValue(a: MemberAssignment): TopicPartitionsValue[] {
  return [...a].filter(([, s]) => s.size > 0).map(([topicId, s]) => ({ topicId, partitions: [...s].sort((x, y) => x - y) }));
}

function fromValue(v: TopicPartitionsValue[]): MemberAssignment {
  return new Map(v.map((t) => [t.topicId, new Set(t.partitions)]));
}

/** A committed offset as an OffsetCommit record's value holds it. */
export function committedOffsetOf(v: OffsetValue): CommittedOffset {
  return { offset: v.offset, leaderEpoch: v.leaderEpoch, metadata: v.metadata, commitTimestamp: v.commitTimestamp };
}

/** A classic group's membership and assignments (GroupMetadataValue). */
export function classicGroupValue(group: Group): GroupValue {
  return {
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
  };
}

/** Replays a GroupMetadataValue onto `group`: it becomes that classic group, Stable with members, else Empty. */
export function applyClassicGroupValue(group: Group, v: GroupValue): void {
  if (group.type !== 'classic') group.convertTo('classic');
  group.protocolType = v.protocolType;
  group.protocolName = v.protocol;
  group.generationId = v.generation;
  group.leaderId = v.leader;
  group.stateTimestamp = v.currentStateTimestamp;
  group.members.clear();
  group.staticMembers.clear();
  for (const m of v.members) {
    const member = newMember(m.memberId, m.groupInstanceId, m.clientId, m.clientHost, m.rebalanceTimeout, m.sessionTimeout,
      [{ name: v.protocol ?? '', metadata: m.subscription }]);
    member.assignment = m.assignment;
    group.members.set(m.memberId, member);
    if (m.groupInstanceId) group.staticMembers.set(m.groupInstanceId, m.memberId);
  }
  group.state = group.members.size > 0 ? 'Stable' : 'Empty';
}

/** A consumer-protocol group's whole state (members, epochs, assignments, target) as one record value. */
export function consumerGroupValue(c: ConsumerGroupState): ConsumerGroupValue {
  return {
    groupEpoch: c.groupEpoch, assignmentEpoch: c.assignmentEpoch, assignor: c.assignorName, subscriptionSignature: c.subscriptionSignature,
    members: [...c.members.values()].map((m) => ({
      memberId: m.memberId, instanceId: m.instanceId, rackId: m.rackId, clientId: m.clientId, clientHost: m.clientHost,
      memberEpoch: m.memberEpoch, previousMemberEpoch: m.previousMemberEpoch, state: MEMBER_STATES.indexOf(m.state),
      rebalanceTimeoutMs: m.rebalanceTimeoutMs, subscribedTopicNames: m.subscribedTopicNames, subscribedTopicRegex: m.subscribedTopicRegex,
      serverAssignor: m.serverAssignor, assigned: toValue(m.assigned), pendingRevocation: toValue(m.pendingRevocation),
      target: toValue(c.target.get(m.memberId) ?? new Map()),
    })),
  };
}

/** The consumer-protocol group state a record value holds (no timers running). */
export function consumerGroupStateOf(v: ConsumerGroupValue): ConsumerGroupState {
  const state = new ConsumerGroupState();
  state.groupEpoch = v.groupEpoch;
  state.assignmentEpoch = v.assignmentEpoch;
  state.assignorName = v.assignor;
  state.subscriptionSignature = v.subscriptionSignature;
  for (const m of v.members) {
    state.members.set(m.memberId, {
      memberId: m.memberId, instanceId: m.instanceId, rackId: m.rackId, clientId: m.clientId, clientHost: m.clientHost,
      memberEpoch: m.memberEpoch, previousMemberEpoch: m.previousMemberEpoch, state: MEMBER_STATES[m.state] ?? 'stable',
      rebalanceTimeoutMs: m.rebalanceTimeoutMs, subscribedTopicNames: m.subscribedTopicNames, subscribedTopicRegex: m.subscribedTopicRegex,
      serverAssignor: m.serverAssignor, assigned: fromValue(m.assigned), pendingRevocation: fromValue(m.pendingRevocation),
      sessionTimer: null, rebalanceTimer: null,
    });
    state.target.set(m.memberId, fromValue(m.target));
  }
  return state;
}
