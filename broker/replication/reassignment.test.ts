import { describe, expect, test } from '@jest/globals';
import { KafkaError } from '../errors.ts';
import type { PartitionState } from '../metadata/index.ts';
import { cancelReassignment, completeReassignment, startReassignment, validateTarget } from './reassignment.ts';

const p = (replicas: number[], isr: number[], leader: number, extra: Partial<PartitionState> = {}): PartitionState =>
  ({ partition: 0, replicas, leader, isr, leaderEpoch: 4, partitionEpoch: 7, ...extra });
const live = (...ids: number[]) => new Set(ids);
const errorName = (f: () => unknown) => { try { f(); } catch (e) { return (e as KafkaError).errorName; } return 'none'; };

describe('validateTarget: Kafka\'s checks of a manual assignment', () => {
  test.each([
    ['an empty list', [], 'INVALID_REPLICA_ASSIGNMENT'],
    ['a broker twice', [1, 2, 1], 'INVALID_REPLICA_ASSIGNMENT'],
    ['an unknown broker', [1, 7], 'INVALID_REPLICA_ASSIGNMENT'],
    ['known, distinct brokers', [2, 0, 1], 'none'],
  ])('%s', (_what, target, expected) => {
    expect(errorName(() => validateTarget(target, live(0, 1, 2)))).toBe(expected);
  });
});

describe('startReassignment', () => {
  test('replicas become target + the removed originals; adding and removing as Kafka computes them', () => {
    expect(startReassignment(p([0, 1, 2], [0, 1, 2], 0), [3, 1, 2], live(0, 1, 2, 3))).toEqual(
      p([3, 1, 2, 0], [0, 1, 2], 0, { partitionEpoch: 8, addingReplicas: [3], removingReplicas: [0] }));
  });
  test('a pure reorder completes at once and moves nobody', () => {
    expect(startReassignment(p([0, 1, 2], [0, 1, 2], 0), [2, 0, 1], live(0, 1, 2))).toEqual(p([2, 0, 1], [0, 1, 2], 0, { partitionEpoch: 8 }));
  });
  test('the same target again changes nothing', () => {
    expect(startReassignment(p([0, 1, 2], [0, 1, 2], 0), [0, 1, 2], live(0, 1, 2))).toBeNull();
    const moving = p([3, 1, 2, 0], [0, 1, 2], 0, { addingReplicas: [3], removingReplicas: [0] });
    expect(startReassignment(moving, [3, 1, 2], live(0, 1, 2, 3))).toBeNull();
  });
  test('shrinking to replicas already in sync completes at once; a removed leader hands over', () => {
    expect(startReassignment(p([0, 1, 2], [0, 1, 2], 0), [1, 2], live(0, 1, 2))).toEqual(
      p([1, 2], [1, 2], 1, { leaderEpoch: 5, partitionEpoch: 8 }));
  });
  test('a new target while one is in flight starts from the original replicas', () => {
    const moving = p([3, 1, 2, 0], [0, 1, 2], 0, { addingReplicas: [3], removingReplicas: [0] });
    expect(startReassignment(moving, [4, 1, 2], live(0, 1, 2, 3, 4))).toEqual(
      p([4, 1, 2, 0], [0, 1, 2], 0, { partitionEpoch: 8, addingReplicas: [4], removingReplicas: [0] }));
  });
});

describe('completeReassignment', () => {
  const moving = (isr: number[], leader = 0) => p([3, 4, 2, 0, 1], isr, leader, { addingReplicas: [3, 4], removingReplicas: [0, 1] });
  test('waits while an adding replica is not in the ISR', () => {
    expect(completeReassignment(moving([0, 1, 2, 3]), live(0, 1, 2, 3, 4))).toBeNull();
  });
  test('once all adding replicas are in sync: replicas = target, the removed leave the ISR, the removed leader hands over to the first target replica in sync', () => {
    expect(completeReassignment(moving([0, 1, 2, 3, 4]), live(0, 1, 2, 3, 4))).toEqual(
      p([3, 4, 2], [2, 3, 4], 3, { leaderEpoch: 5, partitionEpoch: 8 }));
  });
  test('a leader that stays keeps leading, same leader epoch', () => {
    expect(completeReassignment(moving([0, 1, 2, 3, 4], 2), live(0, 1, 2, 3, 4))).toEqual(
      p([3, 4, 2], [2, 3, 4], 2, { partitionEpoch: 8 }));
  });
  test('nothing in flight: null', () => {
    expect(completeReassignment(p([0, 1, 2], [0, 1, 2], 0), live(0, 1, 2))).toBeNull();
  });
});

describe('cancelReassignment', () => {
  test('back to the original replicas; the adding replicas leave the ISR', () => {
    const moving = p([3, 1, 2, 0], [0, 1, 2, 3], 0, { addingReplicas: [3], removingReplicas: [0] });
    expect(cancelReassignment(moving, live(0, 1, 2, 3))).toEqual(p([1, 2, 0], [0, 1, 2], 0, { partitionEpoch: 8 }));
  });
  test('an adding replica that leads (after a failover) hands back to an original one', () => {
    const moving = p([3, 1, 2, 0], [1, 3], 3, { addingReplicas: [3], removingReplicas: [0] });
    expect(cancelReassignment(moving, live(1, 2, 3))).toEqual(p([1, 2, 0], [1], 1, { leaderEpoch: 5, partitionEpoch: 8 }));
  });
  test('nothing in flight: NO_REASSIGNMENT_IN_PROGRESS', () => {
    expect(errorName(() => cancelReassignment(p([0, 1], [0, 1], 0), live(0, 1)))).toBe('NO_REASSIGNMENT_IN_PROGRESS');
  });
  test('no original replica in sync: refused (it would take an unclean election)', () => {
    const moving = p([3, 0], [3], 3, { addingReplicas: [3], removingReplicas: [0] });
    expect(errorName(() => cancelReassignment(moving, live(0, 3)))).toBe('INVALID_REPLICA_ASSIGNMENT');
  });
});
