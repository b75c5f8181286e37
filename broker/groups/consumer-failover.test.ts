/**
 * The consumer group protocol (KIP-848) across a coordinator failover, on three real brokers in
 * one process: a heartbeat that changed the group is answered once the group's state is on every
 * in-sync replica, so the successor coordinator loads the members' epochs, assignments and
 * pending revocations and the members carry on where they were, without rejoining. Unknown
 * members and unknown epochs are refused as Kafka refuses them.
 */
import { afterEach, expect, test } from '@jest/globals';
import { ErrorCode } from '../errors.ts';
import type { LocalFleet } from '../local-fleet.ts';
import { OFFSETS_TOPIC, partitionForGroup } from './config.ts';
import { connectTo, createTopic, startTestFleet, waitFor } from '../replication/fleet-testing.ts';
import type { TestFleet } from '../replication/fleet-testing.ts';

let t: TestFleet | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
});

const GROUP = 'kip848-failover';
const TOPIC = 'orders';

interface Beat { errorCode: number; memberEpoch: number; assignment: { topicPartitions: Array<{ topicId: string; partitions: number[] }> } | null }

async function heartbeat(f: LocalFleet, coordinator: number, body: Record<string, unknown>): Promise<Beat> {
  const conn = connectTo(f, coordinator);
  try {
    return await conn.send(68, 1, { groupId: GROUP, instanceId: null, rackId: null, rebalanceTimeoutMs: -1, subscribedTopicNames: null,
      subscribedTopicRegex: null, serverAssignor: null, topicPartitions: null, ...body }, 30_000);
  } finally {
    conn.close();
  }
}

const join = (f: LocalFleet, c: number, memberId: string) =>
  heartbeat(f, c, { memberId, memberEpoch: 0, rebalanceTimeoutMs: 30_000, subscribedTopicNames: [TOPIC], topicPartitions: [] });
const partitionsOf = (b: Beat) => (b.assignment?.topicPartitions ?? []).flatMap((tp) => tp.partitions).sort((x, y) => x - y);

async function coordinatorOf(f: LocalFleet, via: number): Promise<number> {
  const conn = connectTo(f, via);
  try {
    const r = await conn.send(10, 3, { key: GROUP, keyType: 0 });
    return r.errorCode === ErrorCode.NONE ? r.nodeId : -1;
  } finally {
    conn.close();
  }
}

test('consumer_group_failover: the new coordinator keeps member epochs, assignments and a pending revocation; members carry on without rejoining', async () => {
  t = await startTestFleet({ 'offsets.topic.replication.factor': '3' });
  const f = t.fleet;
  await createTopic(f, TOPIC, 4);
  await waitFor(async () => (await coordinatorOf(f, 0)) >= 0, 'a coordinator');
  const index = partitionForGroup(GROUP, 3);
  await waitFor(() => f.brokers.every((b) => b.topic(OFFSETS_TOPIC)?.partitions[index]?.isr.length === 3), 'offsets partition in sync');
  const coordinator = await coordinatorOf(f, 0);
  await waitFor(async () => (await join(f, coordinator, 'm1')).errorCode === ErrorCode.NONE, 'the coordinator loaded');

  // m1 joined alone: epoch 1, every partition
  const m1 = await heartbeat(f, coordinator, { memberId: 'm1', memberEpoch: 1, topicPartitions: [] });
  expect({ errorCode: m1.errorCode, epoch: m1.memberEpoch }).toEqual({ errorCode: 0, epoch: 1 });
  const topicId = f.broker(coordinator)!.topic(TOPIC)!.topicId;
  const own = (...ps: number[]) => [{ topicId, partitions: ps }];
  expect(partitionsOf(await heartbeat(f, coordinator, { memberId: 'm1', memberEpoch: 1, rebalanceTimeoutMs: 30_000,
    subscribedTopicNames: [TOPIC], topicPartitions: own(0, 1, 2, 3) }))).toEqual([0, 1, 2, 3]);
  // m2 joins: epoch 2; m2 waits for partitions m1 still owns; m1 is asked to revoke two
  const m2 = await join(f, coordinator, 'm2');
  expect({ errorCode: m2.errorCode, epoch: m2.memberEpoch, partitions: partitionsOf(m2) }).toEqual({ errorCode: 0, epoch: 2, partitions: [] });
  const revoke = await heartbeat(f, coordinator, { memberId: 'm1', memberEpoch: 1, topicPartitions: own(0, 1, 2, 3) });
  expect({ epoch: revoke.memberEpoch, partitions: partitionsOf(revoke).length }).toEqual({ epoch: 1, partitions: 2 });
  const kept = partitionsOf(revoke);

  await f.crash(coordinator);
  let next = -1;
  await waitFor(async () => {
    next = await coordinatorOf(f, f.brokers[0]!.nodeId);
    return next >= 0 && next !== coordinator;
  }, 'a new coordinator');
  // m1 confirms the revocation to the new coordinator, at the epoch the old one gave it
  let acked: Beat | null = null;
  await waitFor(async () => {
    acked = await heartbeat(f, next, { memberId: 'm1', memberEpoch: 1, topicPartitions: own(...kept) });
    return acked.errorCode !== ErrorCode.COORDINATOR_LOAD_IN_PROGRESS && acked.errorCode !== ErrorCode.NOT_COORDINATOR;
  }, 'the new coordinator loaded');
  expect({ errorCode: acked!.errorCode, epoch: acked!.memberEpoch }).toEqual({ errorCode: 0, epoch: 2 });
  const m2Next = await heartbeat(f, next, { memberId: 'm2', memberEpoch: 2, topicPartitions: own() });
  expect({ errorCode: m2Next.errorCode, epoch: m2Next.memberEpoch }).toEqual({ errorCode: 0, epoch: 2 });
  expect([...kept, ...partitionsOf(m2Next)].sort()).toEqual([0, 1, 2, 3]);

  // Kafka's refusals: an epoch ahead of the coordinator's, an unknown member
  expect((await heartbeat(f, next, { memberId: 'm2', memberEpoch: 7, topicPartitions: own() })).errorCode).toBe(ErrorCode.FENCED_MEMBER_EPOCH);
  expect((await heartbeat(f, next, { memberId: 'nobody', memberEpoch: 3 })).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
}, 120_000);
