/**
 * ACLs and the authorizer through Kafka's own `kafka-acls` (AclCommand from the Kafka jars) and
 * kafkajs clients authenticating with SASL/PLAIN, against Brook and (BROOK_TEST_TARGET=kafka)
 * Apache Kafka configured the same way: StandardAuthorizer, super.users=User:admin (and
 * User:ANONYMOUS, the principal of the plaintext inter-broker and controller listeners),
 * allow.everyone.if.no.acl.found=false (Kafka's default).
 *
 * - Without ACLs a user who is not a super user is refused: TOPIC_AUTHORIZATION_FAILED on produce,
 *   and topics it may not DESCRIBE are left out of metadata.
 * - `kafka-acls --add` grants: WRITE on a topic lets the user produce; READ on the topic and its
 *   group lets it consume in that group; `--list` shows the bindings.
 * - A DENY wins over an ALLOW; `kafka-acls --remove` revokes.
 * - A PREFIXED pattern applies to every topic starting with it, and to none other.
 * - A consumer without READ on its group gets GROUP_AUTHORIZATION_FAILED.
 * - An offset commit (OffsetCommit, TxnOffsetCommit) needs READ on the group and on each topic: a
 *   refused topic's partitions fail and the others are committed; a refused group commits nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import type { Admin, Kafka as KafkaClient } from 'kafkajs';
import { KafkaConnection } from '../../broker/client/index.ts';
import { ErrorCode } from '../../broker/errors.ts';
import { startBroker, stopAllBrokers, tempDir } from '../harness/brook.ts';
import type { BrokerHandle } from '../harness/brook.ts';
import { createTopicAndWait } from '../harness/topics.ts';
import { describeRun, kafkaTool, kcat } from '../harness/tools.ts';

const { Kafka, logLevel } = kafkajs;

const USERS = { admin: 'admin-secret', alice: 'alice-secret', bob: 'bob-secret' } as const;
type User = keyof typeof USERS;

let broker: BrokerHandle;
let sasl: string;
let adminProps: string;
let admin: Admin;

function client(user: User, password: string = USERS[user]): KafkaClient {
  return new Kafka({
    brokers: [sasl], clientId: `acl-test-${user}`, logLevel: process.env.ACL_DEBUG ? logLevel.INFO : logLevel.NOTHING,
    sasl: { mechanism: 'plain', username: user, password }, retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 500 },
  });
}

beforeAll(async () => {
  broker = await startBroker({
    id: 0,
    listeners: [{ name: 'PLAINTEXT', protocol: 'PLAINTEXT' }, { name: 'SASL_PLAINTEXT', protocol: 'SASL_PLAINTEXT' }],
    set: {
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      'super.users': 'User:admin;User:ANONYMOUS',
      'allow.everyone.if.no.acl.found': 'false',
      'sasl.enabled.mechanisms': 'PLAIN',
      'listener.name.sasl_plaintext.plain.sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required ${
        Object.entries(USERS).map(([u, p]) => `user_${u}="${p}"`).join(' ')};`,
      'auto.create.topics.enable': 'false',
      'group.initial.rebalance.delay.ms': '0',
      // one offsets partition: Kafka loads 50 by default on the first group, slowly on a busy machine
      'offsets.topic.num.partitions': '1',
    },
  });
  sasl = `127.0.0.1:${broker.listenerPorts!.SASL_PLAINTEXT}`;
  adminProps = join(tempDir('brook-acls-'), 'admin.properties');
  writeFileSync(adminProps, [
    'security.protocol=SASL_PLAINTEXT', 'sasl.mechanism=PLAIN',
    `sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="${USERS.admin}";`,
  ].join('\n'));
  admin = client('admin').admin();
  await admin.connect();
  for (const topic of ['orders', 'secret', 'app-1']) expect(await createTopicAndWait(admin, { topic, numPartitions: 1, replicationFactor: 1 })).toBe(true);
}, 180_000);

afterAll(async () => {
  await admin?.disconnect();
  await stopAllBrokers();
});

const acls = async (...args: string[]) => {
  const r = await kafkaTool('org.apache.kafka.tools.AclCommand', ['--bootstrap-server', sasl, '--command-config', adminProps, ...args], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`kafka-acls ${args.join(' ')} failed\n${describeRun(r)}`);
  return r.stdout.toString();
};

/** The Kafka error name a kafkajs failure carries (it wraps protocol errors in retry errors). */
function errorType(err: unknown): string {
  for (let e = err as { type?: string; cause?: unknown; originalError?: unknown } | undefined; e; e = (e.cause ?? e.originalError) as typeof e) {
    if (e.type && e.type !== 'UNKNOWN') return e.type;
  }
  return String(err);
}

/** Produces one record as `user`; the Kafka error name on failure, 'ok' on success. */
async function produceAs(user: User, topic: string): Promise<string> {
  const producer = client(user).producer({ allowAutoTopicCreation: false, retry: { retries: 1 } });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: [{ value: `from ${user}` }] });
    return 'ok';
  } catch (err) {
    return errorType(err);
  } finally {
    await producer.disconnect();
  }
}

/** ACLs reach Kafka's brokers through its metadata log: wait until an effect shows. */
async function eventually(what: string, check: () => Promise<string>, want: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while ((last = await check()) !== want) {
    if (Date.now() > deadline) throw new Error(`${what}: wanted ${want}, still ${last}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

describe('ACLs and the authorizer', () => {
  test('without ACLs a user who is not a super user may not produce (TOPIC_AUTHORIZATION_FAILED) and sees no topics; the super user sees them all', async () => {
    expect(await produceAs('alice', 'orders')).toBe('TOPIC_AUTHORIZATION_FAILED');
    const aliceAdmin = client('alice').admin();
    await aliceAdmin.connect();
    try {
      expect((await aliceAdmin.listTopics()).filter((t) => !t.startsWith('__'))).toEqual([]);
    } finally {
      await aliceAdmin.disconnect();
    }
    expect((await admin.listTopics()).filter((t) => !t.startsWith('__')).sort()).toEqual(['app-1', 'orders', 'secret']);
  }, 120_000);

  test('kafka-acls --add grants: WRITE lets alice produce (DESCRIBE implied), READ on the topic and the group lets her consume; --list shows the bindings', async () => {
    await acls('--add', '--allow-principal', 'User:alice', '--operation', 'Write', '--operation', 'Read', '--topic', 'orders');
    await acls('--add', '--allow-principal', 'User:alice', '--operation', 'Read', '--group', 'alice-group');
    await eventually('alice produces to orders', () => produceAs('alice', 'orders'), 'ok');
    const listed = await acls('--list', '--topic', 'orders');
    expect(listed).toMatch(/principal=User:alice, host=\*, operation=WRITE, permissionType=ALLOW/);
    expect(listed).toMatch(/principal=User:alice, host=\*, operation=READ, permissionType=ALLOW/);

    const aliceAdmin = client('alice').admin();
    await aliceAdmin.connect();
    try {
      // DESCRIBE is implied by READ and WRITE: orders is visible now, secret still is not
      expect((await aliceAdmin.listTopics()).filter((t) => !t.startsWith('__'))).toEqual(['orders']);
    } finally {
      await aliceAdmin.disconnect();
    }
    const consumer = client('alice').consumer({ groupId: 'alice-group', retry: { retries: 8 } });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: 'orders', fromBeginning: true });
      const seen: string[] = [];
      await consumer.run({ eachMessage: async ({ message }) => { seen.push(message.value!.toString()); } });
      const deadline = Date.now() + 60_000;
      while (!seen.includes('from alice') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      expect(seen).toContain('from alice');
    } finally {
      await consumer.disconnect();
    }
  }, 180_000);

  test('a consumer without READ on its group gets GROUP_AUTHORIZATION_FAILED (kcat, librdkafka)', async () => {
    await acls('--add', '--allow-principal', 'User:bob', '--operation', 'Read', '--topic', 'secret');
    const r = await kcat([
      '-b', sasl, '-X', 'security.protocol=SASL_PLAINTEXT', '-X', 'sasl.mechanisms=PLAIN', '-X', 'sasl.username=bob', '-X', `sasl.password=${USERS.bob}`,
      '-G', 'bobs-group', 'secret',
    ], { timeoutMs: 15_000 });
    expect(r.stderr).toMatch(/Group authorization failed/i);
  }, 180_000);

  test('a DENY wins over the ALLOW, and kafka-acls --remove revokes', async () => {
    await acls('--add', '--deny-principal', 'User:alice', '--operation', 'Write', '--topic', 'orders');
    await eventually('the deny applies', () => produceAs('alice', 'orders'), 'TOPIC_AUTHORIZATION_FAILED');
    await acls('--remove', '--force', '--deny-principal', 'User:alice', '--operation', 'Write', '--topic', 'orders');
    await eventually('the deny is gone', () => produceAs('alice', 'orders'), 'ok');
    await acls('--remove', '--force', '--allow-principal', 'User:alice', '--operation', 'Write', '--topic', 'orders');
    await eventually('the allow is gone', () => produceAs('alice', 'orders'), 'TOPIC_AUTHORIZATION_FAILED');
    expect(await acls('--list', '--topic', 'orders')).not.toMatch(/operation=WRITE/);
  }, 180_000);

  test('a PREFIXED pattern applies to every topic starting with it and to none other', async () => {
    await acls('--add', '--allow-principal', 'User:bob', '--operation', 'Write', '--resource-pattern-type', 'prefixed', '--topic', 'app-');
    await eventually('bob produces to app-1', () => produceAs('bob', 'app-1'), 'ok');
    expect(await produceAs('bob', 'orders')).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await acls('--list', '--resource-pattern-type', 'prefixed', '--topic', 'app-')).toMatch(/ResourcePattern\(resourceType=TOPIC, name=app-, patternType=PREFIXED\)/);
  }, 180_000);

  test('an offset commit needs READ on the group and on each topic: a refused topic fails, the others are committed; a refused group commits nothing (OffsetCommit, TxnOffsetCommit)', async () => {
    await acls('--add', '--allow-principal', 'User:alice', '--operation', 'Read', '--topic', 'orders');
    await acls('--add', '--allow-principal', 'User:alice', '--operation', 'Read', '--group', 'alice-commits');
    await acls('--add', '--allow-principal', 'User:alice', '--operation', 'Write', '--transactional-id', 'alice-txn');
    await acls('--add', '--allow-principal', 'User:alice', '--operation', 'IdempotentWrite', '--cluster'); // (kafkajs's idempotent producer id at connect)
    const port = broker.listenerPorts!.SASL_PLAINTEXT!;
    const conn = new KafkaConnection({ host: '127.0.0.1', port, clientId: 'acl-test-alice', requestTimeoutMs: 30_000, security: { sasl: { mechanism: 'PLAIN', username: 'alice', password: USERS.alice } } });
    // a commit outside any generation, as kafka-consumer-groups --reset-offsets sends it
    const commit = async (groupId: string) => {
      const res = await conn.send(8, 8, {
        groupId, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null,
        topics: ['orders', 'secret'].map((name) => ({ name, partitions: [{ partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, committedMetadata: '' }] })),
      }) as { topics: Array<{ name: string; partitions: Array<{ errorCode: number }> }> };
      // (by topic name: Kafka answers the topics in an order of its own)
      return Object.fromEntries(res.topics.map((t) => [t.name, t.partitions[0]!.errorCode] as const).sort(([a], [b]) => a.localeCompare(b)));
    };
    const committed = async (groupId: string) => Object.fromEntries((await admin.fetchOffsets({ groupId, topics: ['orders', 'secret'] }))
      .map((t) => [t.topic, t.partitions[0]!.offset]));
    try {
      // (FindCoordinator creates __consumer_offsets if no group made it yet)
      await eventually('the group coordinator', async () => String((await conn.send(10, 3, { key: 'alice-commits', keyType: 0 }) as { errorCode: number }).errorCode), '0');
      await eventually('alice commits to orders', async () => JSON.stringify(await commit('alice-commits')),
        JSON.stringify({ orders: ErrorCode.NONE, secret: ErrorCode.TOPIC_AUTHORIZATION_FAILED }));
      expect(await committed('alice-commits')).toEqual({ orders: '1', secret: '-1' });
      expect(await commit('not-alices')).toEqual({ orders: ErrorCode.GROUP_AUTHORIZATION_FAILED, secret: ErrorCode.GROUP_AUTHORIZATION_FAILED });
      expect(await committed('not-alices')).toEqual({ orders: '-1', secret: '-1' });
    } finally {
      conn.close();
    }

    // TxnOffsetCommit (a transactional producer's sendOffsets): the refused topic fails the commit
    const producer = client('alice').producer({ transactionalId: 'alice-txn', idempotent: true, maxInFlightRequests: 1, retry: { retries: 1 } });
    await producer.connect();
    try {
      const txn = await producer.transaction();
      const refused = await txn.sendOffsets({
        consumerGroupId: 'alice-commits',
        topics: [{ topic: 'orders', partitions: [{ partition: 0, offset: '2' }] }, { topic: 'secret', partitions: [{ partition: 0, offset: '2' }] }],
      }).then(() => 'ok', (err: unknown) => errorType(err));
      expect(refused).toBe('TOPIC_AUTHORIZATION_FAILED');
      await txn.abort().catch(() => undefined);
    } finally {
      await producer.disconnect();
    }
    expect(await committed('alice-commits')).toEqual({ orders: '1', secret: '-1' });
  }, 180_000);
});
