/**
 * Group: the state of one classic consumer group — members, generation, chosen protocol,
 * leader, assignments and committed offsets — and the transitions of Kafka's classic group
 * state machine:
 *
 *   Empty ──join──▶ PreparingRebalance ──all joined / timeout──▶ CompletingRebalance
 *     ▲                    ▲      │ (no members left)                   │ leader's SyncGroup
 *     └────────────────────┼──────┘                                     ▼
 *                          └──────────── join / leave / expiry ◀──── Stable
 *   any state ──DeleteGroups / all offsets expired while empty──▶ Dead
 *
 * A group of the consumer protocol (KIP-848) keeps its state in `consumer` (consumer-group.ts)
 * instead; an empty group may change type (offline migration).
 *
 * Pure data plus small helpers; the coordinator drives it, owns the timers and persists it.
 */
import { ConsumerGroupState } from './consumer-group.ts';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface JoinResult {
  errorCode: number;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leader: string;
  memberId: string;
  members: Array<{ memberId: string; groupInstanceId: string | null; metadata: Buffer }>;
}

export interface SyncResult {
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

export interface Member {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  protocols: Array<{ name: string; metadata: Buffer }>;
  assignment: Buffer;
  /** Set while the member waits in JoinGroup for the rebalance to complete. */
  joinWaiter: ((r: JoinResult) => void) | null;
  /** Set while the member waits in SyncGroup for the leader's assignment. */
  syncWaiter: ((r: SyncResult) => void) | null;
  sessionTimer: NodeJS.Timeout | null;
}

export interface CommittedOffset {
  offset: bigint;
  leaderEpoch: number;
  metadata: string;
  commitTimestamp: bigint;
}

export const EMPTY = Buffer.alloc(0);

/** Which protocol a group speaks: classic (JoinGroup/SyncGroup) or consumer (ConsumerGroupHeartbeat, KIP-848). */
export type GroupType = 'classic' | 'consumer';

export class Group {
  readonly id: string;
  type: GroupType = 'classic';
  /** The consumer-protocol state (consumer-group.ts); empty while the group is classic. */
  consumer = new ConsumerGroupState();
  state: GroupState = 'Empty';
  protocolType: string | null = null;
  protocolName: string | null = null;
  generationId = 0;
  leaderId: string | null = null;
  stateTimestamp: bigint;
  readonly members = new Map<string, Member>();
  /** Member ids handed out with MEMBER_ID_REQUIRED that have not joined yet, with their expiry. */
  readonly pendingMembers = new Map<string, NodeJS.Timeout>();
  /** group.instance.id → member id, for static members. */
  readonly staticMembers = new Map<string, string>();
  readonly offsets = new Map<string, CommittedOffset>();
  rebalanceTimer: NodeJS.Timeout | null = null;
  /** True during the initial delay of a rebalance that started from an empty group. */
  initialDelayActive = false;

  constructor(id: string, now: number) {
    this.id = id;
    this.stateTimestamp = BigInt(now);
  }

  is(state: GroupState): boolean { return this.state === state; }

  /** True while the group has no members of either protocol (offsets may expire, the group may be deleted or change type). */
  isEmpty(): boolean {
    return this.type === 'consumer' ? this.consumer.members.size === 0 : this.members.size === 0 && this.is('Empty');
  }

  /** The state as ListGroups and DescribeGroups name it, for either type. */
  stateName(): string { return this.type === 'consumer' ? this.consumer.stateName() : this.state; }

  /** An empty group changes type (offline migration between the classic and consumer protocols); offsets stay. */
  convertTo(type: GroupType): void {
    this.type = type;
    this.consumer = new ConsumerGroupState();
    this.state = 'Empty';
    this.protocolType = type === 'consumer' ? 'consumer' : null;
    this.protocolName = null;
    this.leaderId = null;
  }

  transition(state: GroupState, now: number): void {
    this.state = state;
    this.stateTimestamp = BigInt(now);
  }

  /** Protocols every member supports, in no particular order. */
  candidateProtocols(): string[] {
    const members = [...this.members.values()];
    if (members.length === 0) return [];
    return members[0]!.protocols.map((p) => p.name).filter((name) => members.every((m) => m.protocols.some((p) => p.name === name)));
  }

  /** Would a member with these protocols fit the group (same type, at least one protocol in common)? */
  supports(protocolType: string, protocols: ReadonlyArray<{ name: string }>): boolean {
    if (this.members.size === 0) return protocols.length > 0;
    if (this.protocolType !== protocolType) return false;
    const candidates = new Set(this.candidateProtocols());
    return protocols.some((p) => candidates.has(p.name));
  }

  /** Kafka's vote: each member votes for its most preferred candidate; the most votes win. */
  selectProtocol(): string {
    const candidates = new Set(this.candidateProtocols());
    const votes = new Map<string, number>();
    for (const m of this.members.values()) {
      const choice = m.protocols.find((p) => candidates.has(p.name))!.name;
      votes.set(choice, (votes.get(choice) ?? 0) + 1);
    }
    return [...votes.entries()].sort((a, b) => b[1] - a[1])[0]![0];
  }

  allJoined(): boolean {
    for (const m of this.members.values()) if (!m.joinWaiter) return false;
    return this.pendingMembers.size === 0;
  }

  maxRebalanceTimeoutMs(): number {
    let max = 0;
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs);
    return max;
  }

  metadataOf(m: Member): Buffer {
    return m.protocols.find((p) => p.name === this.protocolName)?.metadata ?? EMPTY;
  }

  offsetKey(topic: string, partition: number): string { return `${topic}\u0000${partition}`; }
}

export function splitOffsetKey(key: string): { topic: string; partition: number } {
  const i = key.lastIndexOf('\u0000');
  return { topic: key.slice(0, i), partition: Number(key.slice(i + 1)) };
}

/** A member as it joins (or is loaded): no assignment, no waiters, no session timer yet. */
export function newMember(memberId: string, groupInstanceId: string | null, clientId: string, clientHost: string,
  rebalanceTimeoutMs: number, sessionTimeoutMs: number, protocols: Array<{ name: string; metadata: Buffer }>): Member {
  return { memberId, groupInstanceId, clientId, clientHost, rebalanceTimeoutMs, sessionTimeoutMs, protocols,
    assignment: EMPTY, joinWaiter: null, syncWaiter: null, sessionTimer: null };
}
