import { afterAll, afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { ErrorCode, KafkaError } from '../errors.ts';
import { placeReplicas, validateTopicName } from './placement.ts';

const brokers = (n: number, racks = 0) => Array.from({ length: n }, (_, id) => ({ id, rack: racks ? `r${id % racks}` : null }));

describe('placeReplicas', () => {
  test('every partition gets RF distinct live brokers, leaders spread evenly', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 60 }), fc.double({ min: 0, max: 0.999, noNaN: true }),
      (n, partitions, r) => {
        const rf = 1 + (partitions % n);
        const plan = placeReplicas({ brokers: brokers(n), partitions, replicationFactor: rf, random: () => r });
        expect(plan).toHaveLength(partitions);
        const leaders = new Map<number, number>();
        for (const replicas of plan) {
          expect(new Set(replicas).size).toBe(rf);
          for (const b of replicas) expect(b >= 0 && b < n).toBe(true);
          leaders.set(replicas[0]!, (leaders.get(replicas[0]!) ?? 0) + 1);
        }
        const counts = [...leaders.values()];
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
      }));
  });

  test('replicas of a partition land in different racks when racks allow it', () => {
    const plan = placeReplicas({ brokers: brokers(6, 3), partitions: 12, replicationFactor: 3, random: () => 0.5 });
    for (const replicas of plan) expect(new Set(replicas.map((b) => b % 3)).size).toBe(3);
  });

  test('replication factor above the broker count is INVALID_REPLICATION_FACTOR', () => {
    expect(() => placeReplicas({ brokers: brokers(1), partitions: 1, replicationFactor: 2, random: Math.random }))
      .toThrow(expect.objectContaining({ errorCode: ErrorCode.INVALID_REPLICATION_FACTOR }));
  });
});

describe('validateTopicName', () => {
  test.each(['', '.', '..', 'a'.repeat(250), 'with space', 'slash/name', 'ümlaut'])('rejects %j', (name: string) => {
    expect(() => validateTopicName(name)).toThrow(KafkaError);
  });
  test.each(['orders', 'a.b_c-d', 'X'.repeat(249)])('accepts %j', (name: string) => {
    expect(() => validateTopicName(name)).not.toThrow();
  });
});
