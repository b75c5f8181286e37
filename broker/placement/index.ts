/**
 * Placement: where replicas go. `placeReplicas` places new partitions (the controller);
 * `planRebalance` plans moving existing ones (the operator's rebalancer, scale-up and drains).
 */
export { placeReplicas } from '../metadata/placement.ts';
export type { BrokerInfo } from '../metadata/placement.ts';
export { planRebalance } from './rebalance-plan.ts';
export { estimateRebalanceSeconds } from './rebalance-state.ts';
export { RebalancePlanError } from './rebalance-types.ts';
export { seededRandom } from './seeded-random.ts';
export type {
  BrokerLoad, BrokerLoadChange, CurrentPartition, PartitionMove, PlanIssue, PlanIssueCode, PlannerBroker,
  RebalanceInput, RebalancePlan, RebalancePlanErrorCode, TargetPartition,
} from './rebalance-types.ts';
