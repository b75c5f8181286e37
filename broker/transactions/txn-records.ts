/**
 * The records the transaction coordinator writes to `__transaction_state`, in Kafka's own layout
 * (TransactionLogKey / TransactionLogValue v0) so the topic reads the same to Kafka's tools. A
 * key per transactional id; compaction keeps the latest state; a null value removes the id.
 *
 *   key   v0  transactionalId string
 *   value v0  producerId int64, producerEpoch int16, transactionTimeoutMs int32, transactionStatus int8,
 *             transactionPartitions [topic string, partitionIds []int32] (nullable),
 *             transactionLastUpdateTimestampMs int64, transactionStartTimestampMs int64
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
  { name: 'producerEpoch', type: 'int16', versions: '0+' },
  { name: 'transactionTimeoutMs', type: 'int32', versions: '0+' },
  { name: 'transactionStatus', type: 'int8', versions: '0+' },
  { name: 'transactionPartitions', type: '[]PartitionsSchema', versions: '0+', nullableVersions: '0+', fields: [
    { name: 'topic', type: 'string', versions: '0+' },
    { name: 'partitionIds', type: '[]int32', versions: '0+' },
  ] },
  { name: 'transactionLastUpdateTimestampMs', type: 'int64', versions: '0+' },
  { name: 'transactionStartTimestampMs', type: 'int64', versions: '0+' },
];

const KEY_VERSION = 0;
const VALUE_VERSION = 0;

/** TransactionLogValue as the schema names its fields. */
interface TxnLogValueFields {
  producerId: bigint; producerEpoch: number; transactionTimeoutMs: number; transactionStatus: number;
  transactionPartitions: Array<{ topic: string; partitionIds: number[] }> | null;
  transactionLastUpdateTimestampMs: bigint; transactionStartTimestampMs: bigint;
}
const TransactionLogKey = new RecordSchema<{ transactionalId: string }>('TransactionLogKey', keySchema);
const TransactionLogValue = new RecordSchema<TxnLogValueFields>('TransactionLogValue', valueSchema);

export interface TxnLogValue {
  producerId: bigint;
  producerEpoch: number;
  timeoutMs: number;
  state: TxnState;
  /** topic → partitions */
  partitions: Map<string, number[]>;
  lastUpdateTimestamp: bigint;
  startTimestamp: bigint;
}

export function txnKey(transactionalId: string): Buffer {
  return TransactionLogKey.encode(KEY_VERSION, { transactionalId });
}

export function txnValue(v: TxnLogValue): Buffer {
  return TransactionLogValue.encode(VALUE_VERSION, {
    producerId: v.producerId, producerEpoch: v.producerEpoch, transactionTimeoutMs: v.timeoutMs,
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
  if (version !== VALUE_VERSION) throw new Error(`unknown TransactionLogValue version ${version}`);
  const v = TransactionLogValue.decode(value);
  return {
    producerId: v.producerId, producerEpoch: v.producerEpoch, timeoutMs: v.transactionTimeoutMs,
    state: TXN_STATES[v.transactionStatus] ?? 'Dead',
    partitions: new Map((v.transactionPartitions ?? []).map((p) => [p.topic, p.partitionIds])),
    lastUpdateTimestamp: v.transactionLastUpdateTimestampMs, startTimestamp: v.transactionStartTimestampMs,
  };
}
