/**
 * The records the transaction coordinator writes to `__transaction_state`, in Kafka's own layout
 * (TransactionLogKey v0 / TransactionLogValue v0 and v1) so the topic reads the same to Kafka's
 * tools. A key per transactional id; compaction keeps the latest state; a null value removes the id.
 *
 *   key   v0  transactionalId string
 *   value v0  producerId int64, producerEpoch int16, transactionTimeoutMs int32, transactionStatus int8,
 *             transactionPartitions [topic string, partitionIds []int32] (nullable),
 *             transactionLastUpdateTimestampMs int64, transactionStartTimestampMs int64
 *   value v1  the same fields, flexible (compact strings and arrays, tag buffers), with tagged fields
 *             previousProducerId (0), nextProducerId (1), clientTransactionVersion (2) and
 *             nextProducerEpoch (3). Written for producers of the transaction protocol v2 (KIP-890
 *             part 2: an epoch bump per transaction, a new producer id when the epoch runs out);
 *             v0 for the others, as before.
 *
 * Status codes are Kafka's TransactionState ids: Empty 0, Ongoing 1, PrepareCommit 2,
 * PrepareAbort 3, CompleteCommit 4, CompleteAbort 5, Dead 6, PrepareEpochFence 7. Encoded by the
 * coordinators' record codec (coordinator-common).
 */
import { RecordSchema, recordVersion } from '../coordinator-common/index.ts';
import type { FieldSpec } from '../protocol/index.ts';

export const TXN_STATES = ['Empty', 'Ongoing', 'PrepareCommit', 'PrepareAbort', 'CompleteCommit', 'CompleteAbort', 'Dead', 'PrepareEpochFence'] as const;
export type TxnState = typeof TXN_STATES[number];

const keySchema: readonly FieldSpec[] = [{ name: 'transactionalId', type: 'string', versions: '0+' }];
const valueSchema: readonly FieldSpec[] = [
  { name: 'producerId', type: 'int64', versions: '0+' },
  { name: 'previousProducerId', type: 'int64', versions: '1+', taggedVersions: '1+', tag: 0, default: -1n },
  { name: 'nextProducerId', type: 'int64', versions: '1+', taggedVersions: '1+', tag: 1, default: -1n },
  { name: 'producerEpoch', type: 'int16', versions: '0+' },
  { name: 'nextProducerEpoch', type: 'int16', versions: '1+', taggedVersions: '1+', tag: 3, default: -1 },
  { name: 'transactionTimeoutMs', type: 'int32', versions: '0+' },
  { name: 'transactionStatus', type: 'int8', versions: '0+' },
  { name: 'transactionPartitions', type: '[]PartitionsSchema', versions: '0+', nullableVersions: '0+', fields: [
    { name: 'topic', type: 'string', versions: '0+' },
    { name: 'partitionIds', type: '[]int32', versions: '0+' },
  ] },
  { name: 'transactionLastUpdateTimestampMs', type: 'int64', versions: '0+' },
  { name: 'transactionStartTimestampMs', type: 'int64', versions: '0+' },
  { name: 'clientTransactionVersion', type: 'int16', versions: '1+', taggedVersions: '1+', tag: 2, default: 0 },
];

const KEY_VERSION = 0;

/** TransactionLogValue as the schema names its fields (the tagged ones v1 only). */
interface TxnLogValueFields {
  producerId: bigint; previousProducerId?: bigint; nextProducerId?: bigint; clientTransactionVersion?: number;
  producerEpoch: number; transactionTimeoutMs: number; transactionStatus: number;
  transactionPartitions: Array<{ topic: string; partitionIds: number[] }> | null;
  transactionLastUpdateTimestampMs: bigint; transactionStartTimestampMs: bigint;
}
const TransactionLogKey = new RecordSchema<{ transactionalId: string }>('TransactionLogKey', keySchema);
const TransactionLogValue = new RecordSchema<TxnLogValueFields>('TransactionLogValue', valueSchema, { flexibleFrom: 1 });

export interface TxnLogValue {
  producerId: bigint;
  producerEpoch: number;
  timeoutMs: number;
  state: TxnState;
  /** topic → partitions */
  partitions: Map<string, number[]>;
  lastUpdateTimestamp: bigint;
  startTimestamp: bigint;
  /** The producer id before the last rotation (-1: none); v1 only. */
  previousProducerId: bigint;
  /** The producer id the producer was given for after this transaction (-1: none); v1 only. */
  nextProducerId: bigint;
  /** The transaction protocol the producer speaks: 2 bumps the epoch per transaction (0: v1). */
  clientTransactionVersion: number;
}

export function txnKey(transactionalId: string): Buffer {
  return TransactionLogKey.encode(KEY_VERSION, { transactionalId });
}

export function txnValue(v: TxnLogValue): Buffer {
  const version = v.clientTransactionVersion >= 2 || v.previousProducerId >= 0n || v.nextProducerId >= 0n ? 1 : 0;
  return TransactionLogValue.encode(version, {
    producerId: v.producerId, previousProducerId: v.previousProducerId, nextProducerId: v.nextProducerId,
    producerEpoch: v.producerEpoch, clientTransactionVersion: v.clientTransactionVersion, transactionTimeoutMs: v.timeoutMs,
    transactionStatus: TXN_STATES.indexOf(v.state),
    transactionPartitions: [...v.partitions].map(([topic, partitionIds]) => ({ topic, partitionIds })),
    transactionLastUpdateTimestampMs: v.lastUpdateTimestamp, transactionStartTimestampMs: v.startTimestamp,
  });
}

/** The transactional id of a key, or null for a key this version does not know. */
export function decodeTxnKey(key: Buffer): string | null {
  if (key.length < 2 || recordVersion(key) !== KEY_VERSION) return null;
  return TransactionLogKey.decode(key).transactionalId;
}

export function decodeTxnValue(value: Buffer): TxnLogValue {
  const version = recordVersion(value);
  if (version !== 0 && version !== 1) throw new Error(`unknown TransactionLogValue version ${version}`);
  const v = TransactionLogValue.decode(value);
  return {
    producerId: v.producerId, producerEpoch: v.producerEpoch, timeoutMs: v.transactionTimeoutMs,
    state: TXN_STATES[v.transactionStatus] ?? 'Dead',
    partitions: new Map((v.transactionPartitions ?? []).map((p) => [p.topic, p.partitionIds])),
    lastUpdateTimestamp: v.transactionLastUpdateTimestampMs, startTimestamp: v.transactionStartTimestampMs,
    previousProducerId: v.previousProducerId ?? -1n, nextProducerId: v.nextProducerId ?? -1n, clientTransactionVersion: v.clientTransactionVersion ?? 0,
  };
}
