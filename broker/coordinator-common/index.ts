/**
 * What the group and transaction coordinators share (Kafka's coordinator-common): loading a
 * coordinator's state by replaying its internal topic partition.
 */
export { replayPartitionLog } from './partition-loader.ts';
export type { LoadedBatch } from './partition-loader.ts';
