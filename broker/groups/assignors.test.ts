/**
 * The consumer protocol's server-side assignors (pure functions): every partition of a subscribed
 * topic goes to exactly one of its subscribers, `uniform` balances and is sticky, `range` gives
 * co-partitioned topics the same ranges. Property tests with fast-check.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { countPartitions, rangeAssignor, uniformAssignor } from './assignors.ts';
import type { AssignmentSpec, MemberAssignment } from './assignors.ts';

const topicId = (i: number) => `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`;

function spec(members: number, topics: number[], subscribe: (m: number, t: number) => boolean = () => true,
  current: Map<string, MemberAssignment> = new Map()): AssignmentSpec {
  return {
    members: Array.from({ length: members }, (_, m) => ({
      memberId: `m${String(m).padStart(3, '0')}`,
      subscribedTopicIds: new Set(topics.map((_, t) => topicId(t)).filter((_, t) => subscribe(m, t))),
    })),
    partitionCounts: new Map(topics.map((n, t) => [topicId(t), n])),
    current,
  };
}

/** Every partition of every topic with a subscriber is assigned once, to a subscriber. */
function checkComplete(s: AssignmentSpec, out: Map<string, MemberAssignment>): void {
  const problems: string[] = [];
  const seen = new Map<string, string>();
  for (const [memberId, a] of out) {
    const member = s.members.find((m) => m.memberId === memberId)!;
    for (const [t, ps] of a) {
      if (!member.subscribedTopicIds.has(t)) problems.push(`${memberId} got ${t} it does not subscribe to`);
      for (const p of ps) {
        if (seen.has(`${t}:${p}`)) problems.push(`${t}:${p} twice`);
        if (p >= s.partitionCounts.get(t)!) problems.push(`${t}:${p} does not exist`);
        seen.set(`${t}:${p}`, memberId);
      }
    }
  }
  for (const [t, n] of s.partitionCounts) {
    if (!s.members.some((m) => m.subscribedTopicIds.has(t))) continue;
    for (let p = 0; p < n; p++) if (!seen.has(`${t}:${p}`)) problems.push(`${t}:${p} unassigned`);
  }
  expect(problems).toEqual([]);
}

const counts = (out: Map<string, MemberAssignment>) => [...out.values()].map(countPartitions);

describe('uniform', () => {
  test('6 partitions over 1, 2, 3 members: 6 / 3+3 / 2+2+2', () => {
    for (const [members, expected] of [[1, [6]], [2, [3, 3]], [3, [2, 2, 2]]] as const) {
      const s = spec(members, [6]);
      const out = uniformAssignor(s);
      checkComplete(s, out);
      expect(counts(out)).toEqual(expected);
    }
  });

  test('property: complete, and with everyone subscribed to everything balanced within one partition', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 12 }), fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 4 }), (members, topics) => {
      const s = spec(members, topics);
      const out = uniformAssignor(s);
      checkComplete(s, out);
      const c = counts(out);
      expect(Math.max(...c) - Math.min(...c)).toBeLessThanOrEqual(1);
    }));
  });

  test('property: complete with mixed subscriptions', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 4 }), fc.integer(),
      (members, topics, seed) => {
        const s = spec(members, topics, (m, t) => ((seed >>> ((m * 4 + t) % 31)) & 1) === 1 || t === 0);
        checkComplete(s, uniformAssignor(s));
      }));
  });

  test('property: sticky — a member joining takes only its share; a member leaving only hands its own partitions out', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 60 }), (members, partitions) => {
      const before = uniformAssignor(spec(members, [partitions]));
      // join: only the newcomer's share moves
      const joined = uniformAssignor(spec(members + 1, [partitions], () => true, before));
      const moved = [...before].reduce((n, [id, a]) => n + [...(a.get(topicId(0)) ?? [])].filter((p) => !joined.get(id)!.get(topicId(0))?.has(p)).length, 0);
      expect(moved).toBe(countPartitions(joined.get(`m${String(members).padStart(3, '0')}`)!));
      expect(moved).toBeLessThanOrEqual(Math.ceil(partitions / (members + 1)));
      // leave (the last member): everybody else keeps what they had
      if (members > 1) {
        const left = uniformAssignor(spec(members - 1, [partitions], () => true, before));
        for (const [id, a] of left) for (const p of before.get(id)!.get(topicId(0)) ?? []) expect(a.get(topicId(0))?.has(p)).toBe(true);
      }
    }));
  });
});

describe('range', () => {
  test('two co-partitioned topics: each member gets the same partition range of both, the first members one more', () => {
    const s = spec(3, [7, 7]);
    const out = rangeAssignor(s);
    checkComplete(s, out);
    expect([...out.values()].map((a) => [...a.get(topicId(0))!].join(','))).toEqual(['0,1,2', '3,4', '5,6']);
    for (const a of out.values()) expect([...a.get(topicId(1))!]).toEqual([...a.get(topicId(0))!]);
  });

  test('property: complete', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.integer({ min: 0, max: 16 }), { minLength: 1, maxLength: 3 }), (members, topics) => {
      const s = spec(members, topics, (m, t) => (m + t) % 3 !== 1 || m === 0);
      checkComplete(s, rangeAssignor(s));
    }));
  });
});
