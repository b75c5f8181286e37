/**
 * Partition reassignment as Kafka's controller runs it (KIP-455): pure functions from one
 * partition state to the next, which the callers write by compare-and-swap.
 *
 * - start (AlterPartitionReassignments with a target list): replicas become the target followed
 *   by the original replicas not in it; adding = target − original, removing = original −
 *   target. A reassignment already in flight is first reverted to its original replicas, then
 *   the new target applies. A target equal to the original as a set just reorders the replicas.
 * - the adding replicas fetch from the leader like any follower and join the ISR when caught up;
 * - complete (the controller's pass): once every adding replica is in the ISR, replicas become
 *   the target, the removing replicas leave the ISR, and a leader being removed hands over
 *   (electLeader's `reassignment` rule: the first target replica live and in sync). The removed
 *   brokers then see they no longer host the partition and delete their copy.
 * - cancel (a null target): replicas go back to the original, the adding replicas leave the
 *   ISR; a leader among them hands back. Refused with INVALID_REPLICA_ASSIGNMENT when no
 *   original replica is in sync (that would take an unclean election), as Kafka does.
 *
 * Every change bumps the partition epoch; a leader change bumps the leader epoch.
 */
import { KafkaError } from '../errors.ts';
import type { PartitionState } from '../metadata/index.ts';
import { electLeader } from './election.ts';

export function isReassigning(p: PartitionState): boolean {
  return (p.addingReplicas?.length ?? 0) > 0 || (p.removingReplicas?.length ?? 0) > 0;
}

/** The replicas before the reassignment in flight (all of them when none is). */
export function originalReplicas(p: PartitionState): number[] {
  const adding = p.addingReplicas ?? [];
  return p.replicas.filter((r) => !adding.includes(r));
}

/** The replicas the reassignment in flight moves to (all of them when none is). */
export function targetReplicas(p: PartitionState): number[] {
  const removing = p.removingReplicas ?? [];
  return p.replicas.filter((r) => !removing.includes(r));
}

/** Kafka's checks of a manual assignment: non-empty, no broker twice, every broker known. */
export function validateTarget(target: readonly number[], brokers: ReadonlySet<number>): void {
  if (target.length === 0) throw new KafkaError('INVALID_REPLICA_ASSIGNMENT', 'The manual partition assignment includes an empty replica list.');
  const seen = new Set<number>();
  for (const r of target) {
    if (seen.has(r)) throw new KafkaError('INVALID_REPLICA_ASSIGNMENT', `The manual partition assignment includes broker ${r} more than once.`);
    seen.add(r);
    if (!brokers.has(r)) throw new KafkaError('INVALID_REPLICA_ASSIGNMENT', `The manual partition assignment includes broker ${r}, but no such broker is registered.`);
  }
}

/** The state without its reassignment fields (none in flight). */
function settled(p: PartitionState, replicas: readonly number[], isr: readonly number[], leader: number): PartitionState {
  const { addingReplicas: _a, removingReplicas: _r, ...rest } = p;
  return {
    ...rest, replicas, isr, leader,
    leaderEpoch: leader !== p.leader ? p.leaderEpoch + 1 : p.leaderEpoch,
    partitionEpoch: p.partitionEpoch + 1,
  };
}

/**
 * Cancels the reassignment in flight: back to the original replicas. `live` decides who may
 * lead if the leader was one of the adding replicas.
 */
export function cancelReassignment(p: PartitionState, live: ReadonlySet<number>): PartitionState {
  if (!isReassigning(p)) throw new KafkaError('NO_REASSIGNMENT_IN_PROGRESS', `Partition ${p.partition} has no reassignment in progress.`);
  const original = originalReplicas(p);
  const isr = p.isr.filter((r) => original.includes(r));
  if (isr.length === 0) {
    throw new KafkaError('INVALID_REPLICA_ASSIGNMENT', `Unable to revert partition ${p.partition} to [${original.join(',')}]: that would take an unclean leader election.`);
  }
  const election = electLeader({ ...p, isr, live }, { kind: 'reassignment', target: original });
  const leader = election.elected ? election.leader : original.includes(p.leader) ? p.leader : -1;
  return settled(p, original, isr, leader);
}

/**
 * Starts a reassignment of `p` to `target` (validated by the caller with validateTarget), and
 * completes it at once when nothing needs to catch up. A target equal to what is in flight
 * changes nothing (null).
 */
export function startReassignment(p: PartitionState, target: readonly number[], live: ReadonlySet<number>): PartitionState | null {
  if (isReassigning(p) && sameList(targetReplicas(p), target)) return null;
  const base = isReassigning(p) ? cancelReassignment(p, live) : p;
  const original = base.replicas;
  const adding = target.filter((r) => !original.includes(r));
  const removing = original.filter((r) => !target.includes(r));
  let next: PartitionState;
  if (adding.length === 0 && removing.length === 0) {
    if (base === p && sameList(original, target)) return null;
    next = { ...base, replicas: [...target] };
  } else {
    const started: PartitionState = { ...base, replicas: [...target, ...removing], addingReplicas: adding, removingReplicas: removing };
    next = completeReassignment(started, live) ?? started;
  }
  // one change of the partition, however many steps it took
  return { ...next, leaderEpoch: next.leader !== p.leader ? p.leaderEpoch + 1 : p.leaderEpoch, partitionEpoch: p.partitionEpoch + 1 };
}

/**
 * The reassignment in flight finished, if every adding replica is in the ISR and some target
 * replica is in sync and can lead; null while it must wait (or when none is in flight).
 */
export function completeReassignment(p: PartitionState, live: ReadonlySet<number>): PartitionState | null {
  if (!isReassigning(p)) return null;
  const target = targetReplicas(p);
  const removing = p.removingReplicas ?? [];
  const isr = p.isr.filter((r) => !removing.includes(r));
  if (isr.length === 0 || !(p.addingReplicas ?? []).every((r) => isr.includes(r))) return null;
  const election = electLeader({ ...p, live }, { kind: 'reassignment', target });
  let leader = p.leader;
  if (election.elected) leader = election.leader;
  else if (election.reason !== 'ELECTION_NOT_NEEDED') return null; // the leader goes and no target replica can take over yet
  return settled(p, target, isr, leader);
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((r, i) => r === b[i]);
}
