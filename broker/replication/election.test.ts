import { describe, expect, test } from '@jest/globals';
import { electLeader } from './election.ts';
import type { ElectionKind, ElectionOutcome } from './election.ts';

interface Row {
  readonly name: string;
  readonly replicas: number[];
  readonly isr: number[];
  readonly leader: number;
  readonly live: number[];
  readonly election: ElectionKind;
  readonly expected: ElectionOutcome | { readonly elected: false; readonly reason: string };
}

const offline: ElectionKind = { kind: 'offline', unclean: false };
const unclean: ElectionKind = { kind: 'offline', unclean: true };
const preferred: ElectionKind = { kind: 'preferred' };
const leaving = (id: number): ElectionKind => ({ kind: 'controlled-shutdown', leaving: id });
const reassign = (...target: number[]): ElectionKind => ({ kind: 'reassignment', target });
const elected = (leader: number, isr: number[]) => ({ elected: true as const, leader, isr });
const refused = (reason: string) => ({ elected: false as const, reason });

const rows: Row[] = [
  // offline: the leader is dead or absent
  { name: 'offline: first live ISR member in replica order (not ISR order); dead members leave the ISR', replicas: [0, 1, 2], isr: [2, 1, 0], leader: 0, live: [1, 2], election: offline, expected: elected(1, [2, 1]) },
  { name: 'offline: a live replica outside the ISR is skipped for one inside it', replicas: [0, 1, 2], isr: [0, 2], leader: 0, live: [1, 2], election: offline, expected: elected(2, [2]) },
  { name: 'offline: no leader yet (-1), the last in-sync replica is back', replicas: [0, 1, 2], isr: [0], leader: -1, live: [0, 1], election: offline, expected: elected(0, [0]) },
  { name: 'offline: no live ISR member and clean only: none', replicas: [0, 1, 2], isr: [0], leader: 0, live: [1, 2], election: offline, expected: refused('ELIGIBLE_LEADERS_NOT_AVAILABLE') },
  { name: 'offline unclean: the first live replica, alone in the ISR', replicas: [0, 1, 2], isr: [0], leader: 0, live: [2, 1], election: unclean, expected: elected(1, [1]) },
  { name: 'offline unclean: an in-sync replica still wins over an out-of-sync one', replicas: [0, 1, 2], isr: [0, 2], leader: 0, live: [1, 2], election: unclean, expected: elected(2, [2]) },
  { name: 'offline unclean: nothing live', replicas: [0, 1], isr: [0], leader: 0, live: [5], election: unclean, expected: refused('ELIGIBLE_LEADERS_NOT_AVAILABLE') },
  { name: 'offline: a live leader needs no election', replicas: [0, 1, 2], isr: [0, 1, 2], leader: 1, live: [0, 1, 2], election: offline, expected: refused('ELECTION_NOT_NEEDED') },
  // preferred
  { name: 'preferred: the first replica, live and in sync, takes over; the ISR unchanged', replicas: [0, 1, 2], isr: [1, 2, 0], leader: 1, live: [0, 1, 2], election: preferred, expected: elected(0, [1, 2, 0]) },
  { name: 'preferred: already leading', replicas: [0, 1, 2], isr: [0, 1, 2], leader: 0, live: [0, 1, 2], election: preferred, expected: refused('ELECTION_NOT_NEEDED') },
  { name: 'preferred: live but not in sync', replicas: [0, 1, 2], isr: [1, 2], leader: 1, live: [0, 1, 2], election: preferred, expected: refused('PREFERRED_LEADER_NOT_AVAILABLE') },
  { name: 'preferred: in sync but not live', replicas: [0, 1, 2], isr: [0, 1, 2], leader: 1, live: [1, 2], election: preferred, expected: refused('PREFERRED_LEADER_NOT_AVAILABLE') },
  // controlled shutdown
  { name: 'controlled shutdown: the next live ISR member in replica order; the leaving broker leaves the ISR', replicas: [0, 1, 2], isr: [0, 2, 1], leader: 0, live: [1, 2], election: leaving(0), expected: elected(1, [2, 1]) },
  { name: 'controlled shutdown: a live replica out of sync is never picked', replicas: [0, 1, 2], isr: [0, 2], leader: 0, live: [1, 2], election: leaving(0), expected: elected(2, [2]) },
  { name: 'controlled shutdown: the leaving broker does not lead', replicas: [0, 1, 2], isr: [0, 1, 2], leader: 1, live: [1, 2], election: leaving(0), expected: refused('ELECTION_NOT_NEEDED') },
  { name: 'controlled shutdown: the only in-sync replica keeps leading', replicas: [0, 1, 2], isr: [0], leader: 0, live: [1, 2], election: leaving(0), expected: refused('ELIGIBLE_LEADERS_NOT_AVAILABLE') },
  // reassignment
  { name: 'reassignment: a leader that stays in the target keeps leading', replicas: [0, 1, 2, 3], isr: [0, 1, 2, 3], leader: 1, live: [0, 1, 2, 3], election: reassign(3, 1, 2), expected: refused('ELECTION_NOT_NEEDED') },
  { name: 'reassignment: a leader being removed hands over to the first target replica live and in sync', replicas: [0, 1, 2, 3], isr: [0, 1, 2, 3], leader: 0, live: [0, 1, 2, 3], election: reassign(3, 1, 2), expected: elected(3, [0, 1, 2, 3]) },
  { name: 'reassignment: target replicas not yet in sync are skipped', replicas: [0, 1, 3], isr: [0, 1], leader: 0, live: [0, 1, 3], election: reassign(3, 1), expected: elected(1, [0, 1]) },
  { name: 'reassignment: no target replica in sync', replicas: [0, 3], isr: [0], leader: 0, live: [0, 3], election: reassign(3), expected: refused('ELIGIBLE_LEADERS_NOT_AVAILABLE') },
];

describe('electLeader: one rule for every election', () => {
  test.each(rows)('$name', ({ replicas, isr, leader, live, election, expected }) => {
    const outcome = electLeader({ replicas, isr, leader, live: new Set(live) }, election);
    expect(outcome).toMatchObject(expected);
    if (!outcome.elected) expect(outcome.message).not.toBe('');
  });
});
