/**
 * Transactions: the public surface. TransactionCoordinator runs Kafka's transaction protocol for
 * the __transaction_state partitions this broker leads; writeMarkersLocally appends commit/abort
 * markers on partition leaders; TxnMarkerChannel takes a marker to each partition's leader.
 */
export { TransactionCoordinator } from './coordinator.ts';
export { TRANSACTION_STATE_TOPIC, partitionForTransactionalId, splitTp, transactionCoordinatorConfig } from './txn-metadata.ts';
export type { TransactionCoordinatorConfig, TxnMarker, TxnMarkerWriter, TxnMetadata, InitProducerIdResult } from './txn-metadata.ts';
export { writeMarkersLocally } from './markers.ts';
export { TxnMarkerChannel } from './marker-channel.ts';
export type { MarkerHost } from './markers.ts';
export type { TxnState } from './txn-records.ts';
