/**
 * Commits and heartbeats from fenced group members get Kafka's error codes (issue 10, item 9):
 * an old generation is ILLEGAL_GENERATION, a member the group does not have is
 * UNKNOWN_MEMBER_ID, and the previous member id of a static member (group.instance.id) that
 * rejoined is FENCED_INSTANCE_ID — even though that member id has left the group, as in Kafka's
 * ClassicGroup.validateMember.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { ErrorCode } from '../errors.ts';
import type { LocalFleet } from '../local-fleet.ts';
import type { KafkaConnection } from '../client/kafka-connection.ts';
import { connectTo, createTopic, startTestFleet, waitFor } from '../replication/fleet-testing.ts';
import type { TestFleet } from '../replication/fleet-testing.ts';

let t: TestFleet | null = null;
afterEach(async () => { await t?.close(); t = null; });

const GROUP = 'fenced-group';
const SUBSCRIPTION = Buffer.from([0, 0, 0, 0, 0, 1, 0, 6, ...Buffer.from('fenced'), 0xff, 0xff, 0xff, 0xff]);

function join(conn: KafkaConnection, instance: string | null, memberId = ''): Promise<{ errorCode: number; generationId: number; memberId: string }> {
  return conn.send(11, 5, { groupId: GROUP, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId, groupInstanceId: instance,
    protocolType: 'consumer', protocols: [{ name: 'range', metadata: SUBSCRIPTION }] });
}

async function commit(conn: KafkaConnection, generationId: number, memberId: string, instance: string | null): Promise<number> {
  const res = await conn.send(8, 8, { groupId: GROUP, generationIdOrMemberEpoch: generationId, memberId, groupInstanceId: instance,
    topics: [{ name: 'fenced', partitions: [{ partitionIndex: 0, committedOffset: 5n, committedLeaderEpoch: -1, committedMetadata: '' }] }] });
  return res.topics[0].partitions[0].errorCode;
}

async function heartbeat(conn: KafkaConnection, generationId: number, memberId: string, instance: string | null): Promise<number> {
  return (await conn.send(12, 4, { groupId: GROUP, generationId, memberId, groupInstanceId: instance })).errorCode;
}

async function coordinatorConnection(f: LocalFleet): Promise<KafkaConnection> {
  const conn = connectTo(f, 0);
  await waitFor(async () => (await conn.send(10, 3, { key: GROUP, keyType: 0 })).errorCode === ErrorCode.NONE, 'a coordinator');
  return conn;
}

describe('fenced group members', () => {
  test('static_member_fenced_reported_unknown: commits and heartbeats from an old generation, an unknown member and a replaced static member id', async () => {
    t = await startTestFleet({ 'offsets.topic.replication.factor': '1' }, 1);
    const f = t.fleet;
    await createTopic(f, 'fenced', 1, { 'min.insync.replicas': '1' }, 1);
    const conn = await coordinatorConnection(f);
    try {
      let first = await join(conn, 'instance-1');
      await waitFor(async () => {
        if (first.errorCode === ErrorCode.NONE) return true;
        first = await join(conn, 'instance-1');
        return first.errorCode === ErrorCode.NONE;
      }, 'the coordinator loaded');
      const sync = await conn.send(14, 3, { groupId: GROUP, generationId: first.generationId, memberId: first.memberId, groupInstanceId: 'instance-1',
        assignments: [{ memberId: first.memberId, assignment: Buffer.alloc(0) }] });
      expect(sync.errorCode).toBe(ErrorCode.NONE);
      expect(await commit(conn, first.generationId, first.memberId, 'instance-1')).toBe(ErrorCode.NONE);

      expect(await commit(conn, first.generationId - 1, first.memberId, 'instance-1')).toBe(ErrorCode.ILLEGAL_GENERATION);
      expect(await heartbeat(conn, first.generationId - 1, first.memberId, 'instance-1')).toBe(ErrorCode.ILLEGAL_GENERATION);
      expect(await commit(conn, first.generationId, 'no-such-member', null)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
      expect(await commit(conn, first.generationId, 'no-such-member', 'no-such-instance')).toBe(ErrorCode.UNKNOWN_MEMBER_ID);

      // the same static instance comes back (a restarted consumer): it gets a new member id, the old one is fenced
      const second = await join(conn, 'instance-1');
      expect(second.errorCode).toBe(ErrorCode.NONE);
      expect(second.memberId).not.toBe(first.memberId);
      expect(await commit(conn, first.generationId, first.memberId, 'instance-1')).toBe(ErrorCode.FENCED_INSTANCE_ID);
      expect(await heartbeat(conn, first.generationId, first.memberId, 'instance-1')).toBe(ErrorCode.FENCED_INSTANCE_ID);
      expect(await commit(conn, second.generationId, second.memberId, 'instance-1')).toBe(ErrorCode.NONE);
    } finally {
      conn.close();
    }
  });
});
