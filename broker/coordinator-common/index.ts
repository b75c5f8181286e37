/**
 * What the group and transaction coordinators share (Kafka's coordinator-common): loading a
 * coordinator's state by replaying its internal topic partition, and the versioned key/value
 * record codec of those topics.
 */
export { replayPartitionLog } from './partition-loader.ts';
export type { LoadedBatch } from './partition-loader.ts';
export { RecordSchema, recordVersion } from './record-codec.ts';
