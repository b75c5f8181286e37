/**
 * Replication: the public surface. ReplicaManager runs one ReplicaFetcher per leader this broker
 * follows and proposes ISR changes for the partitions it leads; the broker composes it.
 * Leader election is one rule, electLeader (election.ts), used by the controller, ElectLeaders
 * and controlled shutdown (handOffLeadership, controlled-shutdown.ts). (fleet-testing.ts is a test harness, imported directly by tests.)
 */
export { ReplicaManager } from './replica-manager.ts';
export type { ReplicaManagerOptions } from './replica-manager.ts';
export { electLeader } from './election.ts';
export { handOffLeadership } from './controlled-shutdown.ts';
export type { ElectionInput, ElectionKind, ElectionOutcome, NoLeaderReason } from './election.ts';
export { cancelReassignment, completeReassignment, isReassigning, originalReplicas, startReassignment, targetReplicas, validateTarget } from './reassignment.ts';
export { isThrottledReplica, ReplicationQuota } from './replication-quota.ts';
