/**
 * Member reconciliation of the consumer group protocol (consumer-group.ts, pure): a partition
 * moves to its new owner only after the old owner confirmed it revoked it, and a member's epoch
 * moves to the assignment epoch only once it owns nothing outside its target.
 */
import { describe, expect, test } from '@jest/globals';
import type { MemberAssignment } from './assignors.ts';
import { ConsumerGroupState, isSubset, newConsumerMember, reconcile } from './consumer-group.ts';

const T = '00000000-0000-0000-0000-000000000001';
const parts = (...ps: number[]): MemberAssignment => new Map([[T, new Set(ps)]]);
const owned = (...ps: number[]) => [{ topicId: T, partitions: ps }];
const list = (a: MemberAssignment) => [...(a.get(T) ?? [])].sort((x, y) => x - y);

function group(): { g: ConsumerGroupState; a: ReturnType<typeof newConsumerMember>; b: ReturnType<typeof newConsumerMember> } {
  const g = new ConsumerGroupState();
  const a = newConsumerMember('a');
  const b = newConsumerMember('b');
  a.memberEpoch = 1;
  a.assigned = parts(0, 1, 2, 3);
  g.members.set('a', a);
  g.members.set('b', b);
  // b joined: epoch 2, target moves 2 and 3 to b
  g.groupEpoch = 2;
  g.assignmentEpoch = 2;
  g.target.set('a', parts(0, 1));
  g.target.set('b', parts(2, 3));
  return { g, a, b };
}

describe('reconciliation (revoke before assign)', () => {
  test('the newcomer waits for partitions the old owner still has (UNRELEASED), at the new epoch', () => {
    const { g, b } = group();
    reconcile(g, b, []);
    expect({ epoch: b.memberEpoch, state: b.state, assigned: list(b.assigned) }).toEqual({ epoch: 2, state: 'unreleased', assigned: [] });
    expect(g.stateName()).toBe('Reconciling');
  });

  test('the old owner keeps its epoch and is asked to revoke; it stays UNREVOKED while it still reports a revoked partition', () => {
    const { g, a } = group();
    reconcile(g, a, owned(0, 1, 2, 3));
    expect({ epoch: a.memberEpoch, state: a.state, assigned: list(a.assigned), pending: list(a.pendingRevocation) })
      .toEqual({ epoch: 1, state: 'unrevoked', assigned: [0, 1], pending: [2, 3] });
    reconcile(g, a, owned(0, 1, 3));
    expect(a.state).toBe('unrevoked');
    reconcile(g, a, null); // owned partitions unchanged since the last heartbeat: no acknowledgement
    expect(a.state).toBe('unrevoked');
  });

  test('once revoked, the old owner moves to the new epoch and the newcomer gets the partitions; the group is Stable', () => {
    const { g, a, b } = group();
    reconcile(g, b, []);
    reconcile(g, a, owned(0, 1, 2, 3));
    reconcile(g, b, null);
    expect(list(b.assigned)).toEqual([]); // still owned (pending revocation) by a
    reconcile(g, a, owned(0, 1));
    expect({ epoch: a.memberEpoch, previous: a.previousMemberEpoch, state: a.state, assigned: list(a.assigned) })
      .toEqual({ epoch: 2, previous: 1, state: 'stable', assigned: [0, 1] });
    reconcile(g, b, null);
    expect({ epoch: b.memberEpoch, state: b.state, assigned: list(b.assigned) }).toEqual({ epoch: 2, state: 'stable', assigned: [2, 3] });
    expect(g.stateName()).toBe('Stable');
  });

  test('a static member away (epoch -2) keeps its partitions and is not reconciled', () => {
    const { g, a } = group();
    a.memberEpoch = -2;
    reconcile(g, a, null);
    expect({ epoch: a.memberEpoch, assigned: list(a.assigned) }).toEqual({ epoch: -2, assigned: [0, 1, 2, 3] });
  });

  test('isSubset: what a member reports owning must be within its assignment (a heartbeat with the previous epoch)', () => {
    expect(isSubset(owned(0, 1), parts(0, 1, 2))).toBe(true);
    expect(isSubset(owned(0, 3), parts(0, 1, 2))).toBe(false);
    expect(isSubset(null, parts())).toBe(true);
  });
});
