/**
 * The rebalance planner's contract as data: what it is given (brokers, the current assignment,
 * sizes, limits) and what it answers (target assignment, moves, per-broker loads, issues), and
 * its errors (one table of stable codes: RebalancePlanErrorCode). The algorithm is
 * rebalance-plan.ts's; the planner's working state, phase 1 and the report rebalance-state.ts's.
 */
import { BrookError } from '../errors.ts';

export interface PlannerBroker {
  readonly id: number;
  readonly rack: string | null;
  /** A draining broker must end with no replicas (scale-down). */
  readonly draining?: boolean;
}

export interface CurrentPartition {
  readonly topic: string;
  readonly partition: number;
  /** In order; the first is the preferred leader. */
  readonly replicas: readonly number[];
  readonly leader?: number | null;
  /** When known: a replica that is the only in-sync one is never removed. */
  readonly isr?: readonly number[];
  readonly sizeBytes?: bigint;
}

export interface RebalanceInput {
  readonly brokers: readonly PlannerBroker[];
  readonly partitions: readonly CurrentPartition[];
  /** Per topic; a partition whose ISR is known and smaller moves only to satisfy a hard constraint. */
  readonly minInsyncReplicas?: ReadonlyMap<string, number>;
  /** Breaks ties between equally good brokers; same source, same plan. */
  readonly random: () => number;
  /** Which partitions may change (replicas or leader); default all. */
  readonly canMove?: (topic: string, partition: number) => boolean;
  /** At most this many partitions change their replica set (leader-only changes are not counted). */
  readonly maxMoves?: number;
  /** Replication throttle in bytes/s per broker, for `estimatedSeconds`. */
  readonly throttleBytesPerSecond?: number;
  /** Bytes goal: no broker above (1 + this) × the mean while a move can fix it. Default 0.1. */
  readonly bytesTolerance?: number;
}

export interface TargetPartition {
  readonly topic: string;
  readonly partition: number;
  /** Target replicas in order; the first is the preferred leader. */
  readonly replicas: number[];
  readonly changed: boolean;
}

export interface PartitionMove {
  readonly topic: string;
  readonly partition: number;
  readonly currentReplicas: number[];
  readonly targetReplicas: number[];
  /** Execution order: run with these first (target + removing) ... */
  readonly replicasDuringMove: number[];
  /** ... wait until all of these are in the ISR ... */
  readonly adding: number[];
  /** ... then drop these. */
  readonly removing: number[];
  /** size × adding.length; 0n when the size is unknown (see `sizeKnown`). */
  readonly bytesToCopy: bigint;
  readonly sizeKnown: boolean;
  /** The broker the added replicas copy from: the current leader (or the first current replica). */
  readonly sourceLeader: number;
  readonly leaderChanged: boolean;
}

export interface BrokerLoad {
  readonly replicas: number;
  /** Preferred leaders (first replicas). */
  readonly leaders: number;
  readonly bytes: bigint;
}

export interface BrokerLoadChange {
  readonly id: number;
  readonly rack: string | null;
  /** 'ghost': an id found in replica lists but not in the broker list. */
  readonly state: 'active' | 'draining' | 'ghost';
  readonly before: BrokerLoad;
  readonly after: BrokerLoad;
}

export type PlanIssueCode =
  | 'LastInSyncReplica' // the only in-sync replica sits where it may not stay; kept until another catches up
  | 'NoInSyncReplica' // no in-sync replica on a known broker: nothing to copy from, left as it is
  | 'NotMovable' // excluded by canMove but breaks a constraint
  | 'MoveLimitReached' // maxMoves reached before this partition's constraints or the balance were met
  | 'ReplicasUnbalanced' // no move (or chain of moves) can bring replica counts within one (racks)
  | 'LeadersUnbalanced'; // no chain of leadership changes can bring leader counts within one

export interface PlanIssue {
  readonly code: PlanIssueCode;
  readonly message: string;
  readonly topic?: string;
  readonly partition?: number;
}

export interface RebalancePlan {
  /** Every input partition, in input order. */
  readonly assignments: TargetPartition[];
  /** Partitions whose replica list changes (set or order), in input order. */
  readonly moves: PartitionMove[];
  readonly totals: {
    readonly partitionsMoved: number; // replica set changes
    readonly replicasMoved: number; // replicas added
    readonly bytesMoved: bigint;
    readonly leadersChanged: number;
    readonly movesOfUnknownSize: number;
  };
  /** Every eligible, draining and ghost broker, by id. */
  readonly brokers: BrokerLoadChange[];
  /** Constraints hold everywhere and replicas and leaders are within one per broker. */
  readonly balanced: boolean;
  readonly issues: PlanIssue[];
  /** At `throttleBytesPerSecond`, or null when none was given. */
  readonly estimatedSeconds: number | null;
}

export type RebalancePlanErrorCode = 'BROOK_ERR_REBALANCE_TOO_FEW_BROKERS' | 'BROOK_ERR_REBALANCE_INVALID_INPUT';

export class RebalancePlanError extends BrookError<RebalancePlanErrorCode> {
  /** The topics concerned (TOO_FEW_BROKERS), sorted. */
  readonly topics: string[];
  constructor(code: RebalancePlanErrorCode, message: string, topics: string[] = []) {
    super(code, message);
    this.topics = topics;
  }
}

/** BROOK_ERR_REBALANCE_INVALID_INPUT naming what is wrong with the input. */
export function invalid(message: string): RebalancePlanError {
  return new RebalancePlanError('BROOK_ERR_REBALANCE_INVALID_INPUT', message);
}
