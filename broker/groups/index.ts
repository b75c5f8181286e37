/**
 * Consumer groups: the public surface. GroupCoordinator runs Kafka's classic group protocol for
 * the __consumer_offsets partitions this broker leads; the group handlers and the broker use it.
 */
export { GroupCoordinator, groupCoordinatorConfig, OFFSETS_TOPIC, partitionForGroup } from './coordinator.ts';
export type { GroupCoordinatorConfig, GroupSummary } from './coordinator.ts';
export type { GroupState, JoinResult, SyncResult, CommittedOffset } from './group.ts';
