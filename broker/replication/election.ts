/**
 * The leader-election rule, once. Every place that picks a partition leader — the controller's
 * pass (a dead leader, preferred-leader rebalancing, a finished reassignment), the ElectLeaders
 * API, and a broker's controlled shutdown — asks `electLeader` and writes what it answers by
 * compare-and-swap on the metadata store (fencing and epochs are the caller's).
 *
 * The rule (Kafka's): candidates are taken in the order of the replica list (the preferred
 * replica first); a candidate must be live and in the ISR. Only an unclean election, which the
 * topic must allow, may pick a live replica outside the ISR; its ISR is then that replica alone.
 *
 * Kinds:
 * - `offline`: the leader is not live (or there is none). The first live ISR member leads; the
 *   ISR loses its dead members. With `unclean`, any live replica when no ISR member is live.
 * - `preferred`: the first replica leads if it is live and in the ISR.
 * - `controlled-shutdown`: broker `leaving` leads and is going away; the next live ISR member
 *   that is not `leaving` leads, and `leaving` leaves the ISR.
 * - `reassignment`: the replica list becomes `target`; a leader outside it hands over to the
 *   first target replica that is live and in the ISR.
 *
 * No leader: the reason is the name of the error Kafka answers ElectLeaders with.
 */

export interface ElectionInput {
  /** Replica ids in order, the preferred replica first. */
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  /** The current leader, -1 for none. */
  readonly leader: number;
  readonly live: ReadonlySet<number>;
}

export type ElectionKind =
  | { readonly kind: 'offline'; readonly unclean: boolean }
  | { readonly kind: 'preferred' }
  | { readonly kind: 'controlled-shutdown'; readonly leaving: number }
  | { readonly kind: 'reassignment'; readonly target: readonly number[] };

export type NoLeaderReason = 'ELECTION_NOT_NEEDED' | 'PREFERRED_LEADER_NOT_AVAILABLE' | 'ELIGIBLE_LEADERS_NOT_AVAILABLE';

export type ElectionOutcome =
  | { readonly elected: true; readonly leader: number; readonly isr: readonly number[] }
  | { readonly elected: false; readonly reason: NoLeaderReason; readonly message: string };

function none(reason: NoLeaderReason, message: string): ElectionOutcome { return { elected: false, reason, message }; }

/** The first of `order` that is live and in the ISR and not `excluded`. */
function firstInSync(order: readonly number[], p: ElectionInput, excluded = -1): number | undefined {
  return order.find((r) => r !== excluded && p.live.has(r) && p.isr.includes(r));
}

export function electLeader(p: ElectionInput, election: ElectionKind): ElectionOutcome {
  const leaderLive = p.leader >= 0 && p.live.has(p.leader);
  switch (election.kind) {
    case 'offline': {
      if (leaderLive) return none('ELECTION_NOT_NEEDED', `Broker ${p.leader} is live and leads.`);
      const clean = firstInSync(p.replicas, p);
      if (clean !== undefined) return { elected: true, leader: clean, isr: p.isr.filter((r) => p.live.has(r)) };
      const anyLive = election.unclean ? p.replicas.find((r) => p.live.has(r)) : undefined;
      if (anyLive !== undefined) return { elected: true, leader: anyLive, isr: [anyLive] };
      return none('ELIGIBLE_LEADERS_NOT_AVAILABLE', election.unclean ? 'No replica is live.' : 'No in-sync replica is live.');
    }
    case 'preferred': {
      const preferred = p.replicas[0];
      if (preferred === undefined) return none('ELIGIBLE_LEADERS_NOT_AVAILABLE', 'The partition has no replicas.');
      if (p.leader === preferred) return none('ELECTION_NOT_NEEDED', 'The preferred replica already leads.');
      if (firstInSync([preferred], p) === undefined) return none('PREFERRED_LEADER_NOT_AVAILABLE', `Preferred replica ${preferred} is not live and in sync.`);
      return { elected: true, leader: preferred, isr: p.isr };
    }
    case 'controlled-shutdown': {
      if (p.leader !== election.leaving) return none('ELECTION_NOT_NEEDED', `Broker ${election.leaving} does not lead.`);
      const next = firstInSync(p.replicas, p, election.leaving);
      if (next === undefined) return none('ELIGIBLE_LEADERS_NOT_AVAILABLE', `No other in-sync replica than ${election.leaving} is live.`);
      return { elected: true, leader: next, isr: p.isr.filter((r) => r !== election.leaving) };
    }
    case 'reassignment': {
      if (leaderLive && election.target.includes(p.leader)) return none('ELECTION_NOT_NEEDED', `Broker ${p.leader} stays a replica and leads.`);
      const next = firstInSync(election.target, p);
      if (next === undefined) return none('ELIGIBLE_LEADERS_NOT_AVAILABLE', `No target replica [${election.target.join(',')}] is live and in sync.`);
      return { elected: true, leader: next, isr: p.isr };
    }
  }
}
