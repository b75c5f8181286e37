/**
 * The internal topics' records in Kafka's byte layouts (golden bytes, written out field by field
 * from Kafka's schemas: OffsetCommitKey/Value, GroupMetadataKey, TransactionLogKey/Value v0 and v1), encoded
 * and decoded through the one record codec; records in versions Kafka wrote and Brook does not
 * (OffsetCommitValue v1 with expireTimestamp, OffsetCommitKey v0) decode too.
 */
import { describe, expect, test } from '@jest/globals';
import { decodeKey, decodeOffsetValue, groupKey, offsetKey, offsetValue } from '../groups/offsets-records.ts';
import { decodeTxnKey, decodeTxnValue, txnKey, txnValue } from '../transactions/txn-records.ts';
import { RecordSchema, recordVersion } from './record-codec.ts';

const hex = (...parts: string[]) => Buffer.from(parts.join(''), 'hex');

describe('__consumer_offsets records', () => {
  test('OffsetCommitKey v1 and GroupMetadataKey v2 are Kafka\'s bytes', () => {
    expect(offsetKey('g', 'tp', 7)).toEqual(hex('0001', '0001', '67', '0002', '7470', '00000007'));
    expect(groupKey('g')).toEqual(hex('0002', '0001', '67'));
    expect(decodeKey(hex('0000', '0001', '67', '0002', '7470', '00000007'))).toEqual({ kind: 'offset', group: 'g', topic: 'tp', partition: 7 });
    expect(decodeKey(hex('0002', '0001', '67'))).toEqual({ kind: 'group', group: 'g' });
    expect(decodeKey(hex('0005', '0001', '67'))).toBeNull();
  });

  test('OffsetCommitValue v3 is Kafka\'s bytes; a v1 value (with expireTimestamp) decodes', () => {
    const v = { offset: 42n, leaderEpoch: 3, metadata: 'm', commitTimestamp: 1_700_000_000_000n };
    const v3 = hex('0003', '000000000000002a', '00000003', '0001', '6d', '0000018bcfe56800');
    expect(offsetValue(v)).toEqual(v3);
    expect(decodeOffsetValue(v3)).toMatchObject(v);
    expect(decodeOffsetValue(hex('0001', '000000000000002a', '0001', '6d', '0000018bcfe56800', '0000018bcfe56801')))
      .toMatchObject({ offset: 42n, leaderEpoch: -1, metadata: 'm', commitTimestamp: 1_700_000_000_000n, expireTimestamp: 1_700_000_000_001n });
  });
});

describe('__transaction_state records', () => {
  test('TransactionLogKey and TransactionLogValue v0 are Kafka\'s bytes and decode back', () => {
    expect(txnKey('tx')).toEqual(hex('0000', '0002', '7478'));
    expect(decodeTxnKey(hex('0000', '0002', '7478'))).toBe('tx');
    expect(decodeTxnKey(hex('0001', '0002', '7478'))).toBeNull();
    const value = {
      producerId: 1000n, producerEpoch: 2, timeoutMs: 60_000, state: 'Ongoing' as const,
      partitions: new Map([['a', [0, 2]]]), lastUpdateTimestamp: 1_700_000_000_002n, startTimestamp: 1_700_000_000_000n,
      previousProducerId: -1n, nextProducerId: -1n, clientTransactionVersion: 0,
    };
    const bytes = hex('0000', '00000000000003e8', '0002', '0000ea60', '01',
      '00000001', '0001', '61', '00000002', '00000000', '00000002', '0000018bcfe56802', '0000018bcfe56800');
    expect(txnValue(value)).toEqual(bytes);
    expect(decodeTxnValue(bytes)).toEqual(value);
    expect(() => decodeTxnValue(hex('0002', '00'))).toThrow('unknown TransactionLogValue version 2');
  });

  test('TransactionLogValue v1 (flexible, tagged fields: a transaction protocol v2 producer) is Kafka\'s bytes and decodes back', () => {
    const value = {
      producerId: 1000n, producerEpoch: 7, timeoutMs: 60_000, state: 'PrepareCommit' as const,
      partitions: new Map([['a', [1]]]), lastUpdateTimestamp: 1_700_000_000_002n, startTimestamp: 1_700_000_000_000n,
      previousProducerId: -1n, nextProducerId: -1n, clientTransactionVersion: 2,
    };
    const bytes = hex('0001', '00000000000003e8', '0007', '0000ea60', '02',
      '02', '0261', '02', '00000001', '00', // compact array of 1: topic "a", partitionIds [1], its tag buffer
      '0000018bcfe56802', '0000018bcfe56800',
      '01', '02', '02', '0002'); // one tagged field: tag 2 (clientTransactionVersion), 2 bytes, 2
    expect(txnValue(value)).toEqual(bytes);
    expect(decodeTxnValue(bytes)).toEqual(value);
  });
});

describe('RecordSchema', () => {
  test('a key version that names a record kind takes a schema version of its own', () => {
    const schema = new RecordSchema<{ id: string; n?: number }>('Example', [
      { name: 'id', type: 'string', versions: '0+' },
      { name: 'n', type: 'int32', versions: '1+', default: 0 },
    ]);
    const record = schema.encode(1000, { id: 'x' }, 0);
    expect(record).toEqual(hex('03e8', '0001', '78'));
    expect(recordVersion(record)).toBe(1000);
    expect(schema.decode(record, 0)).toMatchObject({ id: 'x' }); // (n absent at version 0: its default)
    expect(schema.encode(1, { id: 'x', n: 5 })).toEqual(hex('0001', '0001', '78', '00000005'));
  });
});
