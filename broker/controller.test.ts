import { describe, expect, test } from '@jest/globals';
import { planPartition } from './controller.ts';

const p = (leader: number, isr: number[], replicas = [0, 1, 2]) => ({ partition: 0, replicas, leader, isr, leaderEpoch: 5, partitionEpoch: 9 });
const live = (...ids: number[]) => new Set(ids);

describe('planPartition', () => {
  test('a healthy partition needs nothing', () => {
    expect(planPartition(p(0, [0, 1, 2]), { live: live(0, 1, 2), unclean: false, preferred: true })).toBeNull();
  });
  test('a dead leader is replaced by the first live ISR member in replica order; epochs bump', () => {
    expect(planPartition(p(0, [2, 1, 0]), { live: live(1, 2), unclean: false, preferred: false }))
      .toEqual({ partition: 0, replicas: [0, 1, 2], leader: 1, isr: [2, 1], leaderEpoch: 6, partitionEpoch: 10 });
  });
  test('a dead follower leaves the ISR without a leader change', () => {
    expect(planPartition(p(0, [0, 1, 2]), { live: live(0, 1), unclean: false, preferred: false }))
      .toMatchObject({ leader: 0, isr: [0, 1], leaderEpoch: 5, partitionEpoch: 10 });
  });
  test('no live ISR member: offline, the ISR kept, unless unclean election is allowed', () => {
    expect(planPartition(p(0, [0]), { live: live(1, 2), unclean: false, preferred: false })).toMatchObject({ leader: -1, isr: [0] });
    expect(planPartition(p(0, [0]), { live: live(1, 2), unclean: true, preferred: false })).toMatchObject({ leader: 1, isr: [1], leaderEpoch: 6 });
  });
  test('the last in-sync replica returning leads again', () => {
    expect(planPartition(p(-1, [0]), { live: live(0, 1), unclean: false, preferred: false })).toMatchObject({ leader: 0, isr: [0] });
  });
  test('preferred leader: only when the first replica is live and in sync', () => {
    expect(planPartition(p(1, [0, 1, 2]), { live: live(0, 1, 2), unclean: false, preferred: true })).toMatchObject({ leader: 0, leaderEpoch: 6 });
    expect(planPartition(p(1, [1, 2]), { live: live(0, 1, 2), unclean: false, preferred: true })).toBeNull();
  });
});
