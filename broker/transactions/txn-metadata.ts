/**
 * What the transaction coordinator knows of one transactional id (TxnMetadata, Kafka's
 * TransactionMetadata) and how it maps to and from its `__transaction_state` record; the
 * coordinator's settings; the types its collaborators see (the markers it has written, the
 * answers it gives). Pure data and functions: no I/O, no state.
 *
 * Partitions in a transaction are kept as `topic\0partition` keys (tp / splitTp).
 */
import type { BrokerSettings } from '../config.ts';
import { javaHashCode } from '../groups/index.ts';
import type { TxnLogValue, TxnState } from './txn-records.ts';

export const TRANSACTION_STATE_TOPIC = '__transaction_state';
/** The producer epoch is an int16; an epoch that would reach this gets a new producer id instead. */
export const MAX_EPOCH = 32767;

export interface TransactionCoordinatorConfig {
  partitions: number;
  maxTimeoutMs: number;
  abortIntervalMs: number;
  writeTimeoutMs: number;
}

/** The transaction coordinator's settings (transaction.state.log.*, transaction.max.timeout.ms...). */
export function transactionCoordinatorConfig(settings: BrokerSettings): TransactionCoordinatorConfig {
  return {
    partitions: settings.int('transaction.state.log.num.partitions'),
    maxTimeoutMs: settings.int('transaction.max.timeout.ms'),
    abortIntervalMs: settings.int('transaction.abort.timed.out.transaction.cleanup.interval.ms'),
    writeTimeoutMs: settings.int('transaction.state.log.write.timeout.ms'),
  };
}

/** One transaction marker to write: the leaders of `partitions` append it. */
export interface TxnMarker {
  producerId: bigint;
  producerEpoch: number;
  commit: boolean;
  coordinatorEpoch: number;
  partitions: Array<{ topic: string; partition: number }>;
}

/** Writes markers to partition leaders; resolves with an error code per `topic\0partition` (NONE = written). */
export interface TxnMarkerWriter {
  write(marker: TxnMarker): Promise<Map<string, number>>;
}

export interface TxnMetadata {
  readonly transactionalId: string;
  producerId: bigint;
  producerEpoch: number;
  /** The epoch before the last bump (in memory only), to recognise a retried InitProducerId or EndTxn. */
  lastProducerEpoch: number;
  /** Protocol v2, epoch exhausted: the producer id the producer was given, until the markers are written (-1: none). */
  nextProducerId: bigint;
  /** The producer id before the last rotation (-1: none), to recognise a retried EndTxn. */
  previousProducerId: bigint;
  /** The transaction protocol of the producer's requests: 2 (KIP-890 part 2) or 0. */
  clientTransactionVersion: number;
  timeoutMs: number;
  state: TxnState;
  /** `topic\0partition` */
  partitions: Set<string>;
  startTimestamp: bigint;
  lastUpdateTimestamp: bigint;
}

export interface InitProducerIdResult { errorCode: number; producerId: bigint; producerEpoch: number }
/** EndTxn's answer; v5 (protocol v2) also gives the producer id and epoch of the next transaction. */
export type EndTxnResult = InitProducerIdResult;

export function partitionForTransactionalId(transactionalId: string, partitions: number): number {
  return (javaHashCode(transactionalId) & 0x7fffffff) % partitions;
}

export const tp = (topic: string, partition: number) => `${topic}\u0000${partition}`;
export function splitTp(key: string): { topic: string; partition: number } {
  const i = key.lastIndexOf('\u0000');
  return { topic: key.slice(0, i), partition: Number(key.slice(i + 1)) };
}

/** A transactional id's first metadata (or after InitProducerId): Empty, nothing in the transaction. */
export function freshTxn(transactionalId: string, producerId: bigint, epoch: number, timeoutMs: number, now: bigint): TxnMetadata {
  return {
    transactionalId, producerId, producerEpoch: epoch, lastProducerEpoch: -1, timeoutMs, state: 'Empty',
    nextProducerId: -1n, previousProducerId: -1n, clientTransactionVersion: 0,
    partitions: new Set(), startTimestamp: -1n, lastUpdateTimestamp: now,
  };
}

/** The metadata a `__transaction_state` record holds (lastProducerEpoch is not stored: -1). */
export function txnFromLogValue(transactionalId: string, v: TxnLogValue): TxnMetadata {
  return {
    transactionalId, producerId: v.producerId, producerEpoch: v.producerEpoch, lastProducerEpoch: -1, timeoutMs: v.timeoutMs,
    nextProducerId: v.nextProducerId, previousProducerId: v.previousProducerId, clientTransactionVersion: v.clientTransactionVersion,
    state: v.state, partitions: new Set([...v.partitions].flatMap(([t, ps]) => ps.map((p) => tp(t, p)))),
    startTimestamp: v.startTimestamp, lastUpdateTimestamp: v.lastUpdateTimestamp,
  };
}

/** The `__transaction_state` record value of `m`: its partitions grouped by topic. */
export function txnToLogValue(m: TxnMetadata): TxnLogValue {
  const partitions = new Map<string, number[]>();
  for (const k of m.partitions) {
    const { topic, partition: p } = splitTp(k);
    if (!partitions.has(topic)) partitions.set(topic, []);
    partitions.get(topic)!.push(p);
  }
  return {
    producerId: m.producerId, producerEpoch: m.producerEpoch, timeoutMs: m.timeoutMs, state: m.state, partitions,
    lastUpdateTimestamp: m.lastUpdateTimestamp, startTimestamp: m.startTimestamp,
    previousProducerId: m.previousProducerId, nextProducerId: m.nextProducerId, clientTransactionVersion: m.clientTransactionVersion,
  };
}
