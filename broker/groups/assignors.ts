/**
 * The server-side assignors of the consumer group protocol (KIP-848): pure functions from the
 * members' subscriptions, the subscribed topics' partition counts and the current target
 * assignment to a new target assignment.
 *
 * GOALS: every partition of a subscribed topic assigned to exactly one member subscribed to it;
 * balance; stickiness (a partition stays where it is unless balance needs it elsewhere), so a
 * join or a leave moves as few partitions as it can.
 *
 * - `uniform` (the default, Kafka's UniformAssignor): balances the total partition count per member
 *   across all topics. ALGORITHM: keep each member's current partitions that are still valid
 *   (topic subscribed, partition exists); give every unassigned partition to the subscribed member
 *   with the fewest partitions; then, while some partition's owner has at least two more partitions
 *   than another member subscribed to its topic, move one partition there. Members are visited in
 *   member-id order, so the result depends on nothing but the input.
 * - `range` (Kafka's RangeAssignor, co-partitioning): per topic, its subscribers sorted by member
 *   id get consecutive ranges of partitions, the first (partitions % members) one more.
 */

export interface AssignorMember {
  memberId: string;
  /** Topic ids the member is subscribed to (resolved, existing topics only). */
  subscribedTopicIds: ReadonlySet<string>;
}

/** topic id → set of partitions. */
export type MemberAssignment = Map<string, Set<number>>;

export interface AssignmentSpec {
  members: readonly AssignorMember[];
  /** topic id → partition count, for every topic somebody subscribes to. */
  partitionCounts: ReadonlyMap<string, number>;
  /** The current target assignment (member id → assignment), for stickiness. */
  current: ReadonlyMap<string, MemberAssignment>;
}

export type Assignor = (spec: AssignmentSpec) => Map<string, MemberAssignment>;

export const ASSIGNOR_NAMES = ['uniform', 'range'] as const;
export type AssignorName = (typeof ASSIGNOR_NAMES)[number];

function emptyAssignments(members: readonly AssignorMember[]): Map<string, MemberAssignment> {
  return new Map(members.map((m) => [m.memberId, new Map<string, Set<number>>()]));
}

function add(a: MemberAssignment, topicId: string, partition: number): void {
  let s = a.get(topicId);
  if (!s) a.set(topicId, s = new Set());
  s.add(partition);
}

function remove(a: MemberAssignment, topicId: string, partition: number): void {
  const s = a.get(topicId);
  if (!s) return;
  s.delete(partition);
  if (s.size === 0) a.delete(topicId);
}

export function countPartitions(a: MemberAssignment): number {
  let n = 0;
  for (const s of a.values()) n += s.size;
  return n;
}

export const uniformAssignor: Assignor = ({ members, partitionCounts, current }) => {
  const sortedMembers = [...members].sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
  const out = emptyAssignments(sortedMembers);
  const counts = new Map(sortedMembers.map((m) => [m.memberId, 0]));
  const owner = new Map<string, string>(); // "topicId:partition" → member id
  // 1. stickiness: keep what is still valid
  for (const m of sortedMembers) {
    for (const [topicId, partitions] of current.get(m.memberId) ?? []) {
      const n = partitionCounts.get(topicId);
      if (n === undefined || !m.subscribedTopicIds.has(topicId)) continue;
      for (const p of [...partitions].sort((a, b) => a - b)) {
        const key = `${topicId}:${p}`;
        if (p >= n || owner.has(key)) continue;
        owner.set(key, m.memberId);
        add(out.get(m.memberId)!, topicId, p);
        counts.set(m.memberId, counts.get(m.memberId)! + 1);
      }
    }
  }
  const subscribers = new Map<string, AssignorMember[]>();
  for (const topicId of [...partitionCounts.keys()].sort()) {
    subscribers.set(topicId, sortedMembers.filter((m) => m.subscribedTopicIds.has(topicId)));
  }
  const fewest = (candidates: AssignorMember[]): AssignorMember =>
    candidates.reduce((best, m) => (counts.get(m.memberId)! < counts.get(best.memberId)! ? m : best));
  // 2. every unassigned partition to the least loaded subscriber
  for (const [topicId, subs] of subscribers) {
    if (subs.length === 0) continue;
    for (let p = 0; p < partitionCounts.get(topicId)!; p++) {
      if (owner.has(`${topicId}:${p}`)) continue;
      const m = fewest(subs);
      owner.set(`${topicId}:${p}`, m.memberId);
      add(out.get(m.memberId)!, topicId, p);
      counts.set(m.memberId, counts.get(m.memberId)! + 1);
    }
  }
  // 3. balance: move partitions from the most to the least loaded eligible member
  for (let moved = true; moved;) {
    moved = false;
    for (const [topicId, subs] of subscribers) {
      if (subs.length < 2) continue;
      for (let p = 0; p < partitionCounts.get(topicId)!; p++) {
        const from = owner.get(`${topicId}:${p}`)!;
        const to = fewest(subs);
        if (counts.get(from)! - counts.get(to.memberId)! < 2) continue;
        remove(out.get(from)!, topicId, p);
        add(out.get(to.memberId)!, topicId, p);
        owner.set(`${topicId}:${p}`, to.memberId);
        counts.set(from, counts.get(from)! - 1);
        counts.set(to.memberId, counts.get(to.memberId)! + 1);
        moved = true;
      }
    }
  }
  return out;
};

export const rangeAssignor: Assignor = ({ members, partitionCounts }) => {
  const out = emptyAssignments(members);
  for (const [topicId, n] of partitionCounts) {
    const subs = members.filter((m) => m.subscribedTopicIds.has(topicId)).map((m) => m.memberId).sort();
    if (subs.length === 0) continue;
    const per = Math.floor(n / subs.length);
    const extra = n % subs.length;
    let next = 0;
    subs.forEach((memberId, i) => {
      const count = per + (i < extra ? 1 : 0);
      for (let k = 0; k < count; k++) add(out.get(memberId)!, topicId, next++);
    });
  }
  return out;
};

export const ASSIGNORS: Record<AssignorName, Assignor> = { uniform: uniformAssignor, range: rangeAssignor };
