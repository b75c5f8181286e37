/**
 * Consumer groups: the public surface. GroupCoordinator runs Kafka's classic group protocol for
 * the __consumer_offsets partitions this broker leads (its groups kept by GroupStore); the group
 * handlers and the broker use it.
 */
export { GroupCoordinator } from './coordinator.ts';
export { groupCoordinatorConfig, javaHashCode, OFFSETS_TOPIC, partitionForGroup } from './config.ts';
export { asCoordinatorError } from './group-store.ts';
export type { GroupCoordinatorConfig } from './config.ts';
export type { GroupSummary } from './group-store.ts';
export type { GroupState, JoinResult, SyncResult, CommittedOffset } from './group.ts';
