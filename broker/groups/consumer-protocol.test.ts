/**
 * The consumer group protocol (KIP-848) over the wire on three real brokers in one process:
 * static members, offline migration between classic and consumer groups, and a coordinator
 * failover: a heartbeat that changed the group is answered once the group's state is on every
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

async function describeGroup(f: LocalFleet, coordinator: number): Promise<{ groupEpoch: number; groupState: string; members: Array<{ memberId: string; instanceId: string | null; memberEpoch: number }> }> {
  const conn = connectTo(f, coordinator);
  try {
    const r = await conn.send(69, 1, { groupIds: [GROUP], includeAuthorizedOperations: false });
    return r.groups[0];
  } finally {
    conn.close();
  }
}

/** Starts a 3-broker fleet with `TOPIC` (4 partitions) and returns the group's coordinator, loaded. */
async function coordinatorReady(): Promise<{ f: LocalFleet; c: number; own: (...ps: number[]) => Array<{ topicId: string; partitions: number[] }> }> {
  t = await startTestFleet({ 'offsets.topic.replication.factor': '3' });
  const f = t.fleet;
  await createTopic(f, TOPIC, 4);
  await waitFor(async () => (await coordinatorOf(f, 0)) >= 0, 'a coordinator');
  const c = await coordinatorOf(f, 0);
  await waitFor(async () => (await describeGroup(f, c)).groupState !== undefined, 'the coordinator loaded');
  const topicId = f.broker(c)!.topic(TOPIC)!.topicId;
  return { f, c, own: (...ps: number[]) => [{ topicId, partitions: ps }] };
}

test('static members: leaving with epoch -2 keeps the partitions; the same instance id under a new member id takes them back at the same group epoch; a second live owner of an instance id is refused (UNRELEASED_INSTANCE_ID)', async () => {
  const { f, c, own } = await coordinatorReady();
  const joinStatic = (memberId: string, instanceId: string) => heartbeat(f, c, { memberId, memberEpoch: 0, instanceId, rebalanceTimeoutMs: 30_000,
    subscribedTopicNames: [TOPIC], topicPartitions: [] });
  const s1 = await joinStatic('s1', 'i1');
  expect(partitionsOf(s1)).toEqual([0, 1, 2, 3]);
  const s2 = await joinStatic('s2', 'i2');
  expect(s2.errorCode).toBe(0);
  // s1 revokes half, s2 gets them
  const revoke = await heartbeat(f, c, { memberId: 's1', memberEpoch: s1.memberEpoch, topicPartitions: own(0, 1, 2, 3) });
  const kept = partitionsOf(revoke);
  expect(kept).toHaveLength(2);
  expect((await heartbeat(f, c, { memberId: 's1', memberEpoch: s1.memberEpoch, topicPartitions: own(...kept) })).memberEpoch).toBe(s2.memberEpoch);
  const s2Assigned = partitionsOf(await heartbeat(f, c, { memberId: 's2', memberEpoch: s2.memberEpoch, topicPartitions: own() }));
  expect([...kept, ...s2Assigned].sort()).toEqual([0, 1, 2, 3]);
  const before = await describeGroup(f, c);

  // s1 goes away for now (epoch -2): no rebalance, s2 keeps its partitions
  expect((await heartbeat(f, c, { memberId: 's1', memberEpoch: -2, instanceId: 'i1' })).errorCode).toBe(0);
  const away = await describeGroup(f, c);
  expect({ epoch: away.groupEpoch, s1: away.members.find((m) => m.memberId === 's1')?.memberEpoch }).toEqual({ epoch: before.groupEpoch, s1: -2 });
  // instance i1 comes back as s1b: s1's partitions at once, same group epoch
  const back = await joinStatic('s1b', 'i1');
  expect({ errorCode: back.errorCode, epoch: back.memberEpoch, partitions: partitionsOf(back) }).toEqual({ errorCode: 0, epoch: before.groupEpoch, partitions: kept });
  const after = await describeGroup(f, c);
  expect({ epoch: after.groupEpoch, members: after.members.map((m) => m.memberId).sort() }).toEqual({ epoch: before.groupEpoch, members: ['s1b', 's2'] });
  // i2 is owned by the live s2
  expect((await joinStatic('s2b', 'i2')).errorCode).toBe(ErrorCode.UNRELEASED_INSTANCE_ID);
}, 120_000);

test('offline migration: an empty classic group becomes a consumer group and back, keeping its offsets; a non-empty group of the other type answers GROUP_ID_NOT_FOUND', async () => {
  const { f, c } = await coordinatorReady();
  const conn = connectTo(f, c);
  try {
    // a classic member (JoinGroup v3: no member id dance), alone in the group
    const joined = await conn.send(11, 3, { groupId: GROUP, sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 30_000, memberId: '',
      protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] }, 30_000);
    expect(joined.errorCode).toBe(0);
    expect((await join(f, c, 'k1')).errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
    expect((await conn.send(13, 0, { groupId: GROUP, memberId: joined.memberId })).errorCode).toBe(0);
    // empty now: a simple commit, then a consumer-protocol member takes the group over
    const committed = await conn.send(8, 8, { groupId: GROUP, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null,
      topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: 77n, committedLeaderEpoch: -1, committedMetadata: '' }] }] });
    expect(committed.topics[0].partitions[0].errorCode).toBe(0);
    const k1 = await join(f, c, 'k1');
    expect({ errorCode: k1.errorCode, partitions: partitionsOf(k1) }).toEqual({ errorCode: 0, partitions: [0, 1, 2, 3] });
    const fetched = await conn.send(9, 9, { groups: [{ groupId: GROUP, memberId: 'k1', memberEpoch: k1.memberEpoch, topics: [{ name: TOPIC, partitionIndexes: [0] }] }], requireStable: false });
    expect({ errorCode: fetched.groups[0].errorCode, offset: fetched.groups[0].topics[0].partitions[0].committedOffset }).toEqual({ errorCode: 0, offset: 77n });
    // a classic member cannot join the non-empty consumer group
    const refused = await conn.send(11, 3, { groupId: GROUP, sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 30_000, memberId: '',
      protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] }, 30_000);
    expect(refused.errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
    // k1 leaves: the empty consumer group is classic again for the next JoinGroup
    expect((await heartbeat(f, c, { memberId: 'k1', memberEpoch: -1 })).errorCode).toBe(0);
    const again = await conn.send(11, 3, { groupId: GROUP, sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 30_000, memberId: '',
      protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] }, 30_000);
    expect(again.errorCode).toBe(0);
  } finally {
    conn.close();
  }
}, 120_000);
