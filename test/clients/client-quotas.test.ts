/**
 * Client quotas through Apache Kafka's own `kafka-configs` (ConfigCommand, test/tools/kafka/pom.xml's
 * version): --alter / --describe / --delete-config for users, clients, a user+client pair, defaults
 * and ips (AlterClientQuotas, DescribeClientQuotas); bad values and keys refused with Kafka's
 * errors, nothing stored. Brook stores quotas but does not enforce them yet. Also run against Apache Kafka (BROOK_TEST_TARGET=kafka), which prints the same.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { startBroker, stopAllBrokers } from '../harness/brook.ts';
import type { BrokerHandle } from '../harness/brook.ts';
import { describeRun, expectSuccess, kafkaTool } from '../harness/tools.ts';
import { WireConnection } from '../harness/wire.ts';
import { decodeResponse, encodeRequest } from '../../broker/protocol/index.ts';

let broker: BrokerHandle;

beforeAll(async () => {
  broker = await startBroker({ set: { 'auto.create.topics.enable': 'false' } });
}, 300_000);

afterAll(async () => { await stopAllBrokers(); });

const configs = (...args: string[]) => kafkaTool('org.apache.kafka.tools.ConfigCommand', ['--bootstrap-server', broker.bootstrap, ...args]);
const lines = (out: Buffer) => out.toString().split('\n').map((l) => l.trim()).filter(Boolean).sort();

/**
 * DescribeClientQuotas v1 over the wire for one user (strict): `kafka-configs --describe --entity-type
 * users --entity-name X` also asks for the user's SCRAM credentials (DescribeUserScramCredentials),
 * which the security work brings; the quota half is checked here directly.
 */
async function roundTrip(apiKey: number, body: unknown): Promise<any> {
  const conn = await WireConnection.connect(broker.bootstrap);
  try {
    conn.write(Buffer.concat(encodeRequest(apiKey, 1, 7, 'quotas-test', body as never)));
    const r = await conn.next(30_000);
    if (r === 'closed' || r === 'timeout') throw new Error(`api ${apiKey}: ${r}`);
    const frame = Buffer.alloc(4 + r.body.length);
    frame.writeInt32BE(r.correlationId, 0);
    r.body.copy(frame, 4);
    return decodeResponse(apiKey, 1, frame).body;
  } finally {
    conn.close();
  }
}

async function quotasOf(entityType: string, name: string): Promise<Array<{ key: string; value: number }>> {
  const body = await roundTrip(48, { components: [{ entityType, matchType: 0, match: name }], strict: true }) as
    { errorCode: number; entries: Array<{ values: Array<{ key: string; value: number }> }> };
  expect(body.errorCode).toBe(0);
  return body.entries.flatMap((e) => e.values).sort((a, b) => (a.key < b.key ? -1 : 1));
}
const userQuotas = (user: string) => quotasOf('user', user);

test('kafka-configs --alter / --describe / --delete-config for users, clients, a user and client pair, defaults and ips', async () => {
  // nothing stored yet: an empty description
  expect(lines(expectSuccess(await configs('--describe', '--entity-type', 'clients')).stdout)).toEqual([]);
  expect(await userQuotas('alice')).toEqual([]);

  expectSuccess(await configs('--alter', '--entity-type', 'users', '--entity-name', 'alice', '--add-config', 'producer_byte_rate=1024,consumer_byte_rate=2048'));
  expectSuccess(await configs('--alter', '--entity-type', 'clients', '--entity-default', '--add-config', 'request_percentage=12.5'));
  expectSuccess(await configs('--alter', '--entity-type', 'users', '--entity-name', 'bob', '--entity-type', 'clients', '--entity-name', 'app-1',
    '--add-config', 'producer_byte_rate=4096'));
  expectSuccess(await configs('--alter', '--entity-type', 'ips', '--entity-name', '10.0.0.7', '--add-config', 'connection_creation_rate=5'));

  expect(await userQuotas('alice')).toEqual([{ key: 'consumer_byte_rate', value: 2048 }, { key: 'producer_byte_rate', value: 1024 }]);
  expect(lines(expectSuccess(await configs('--describe', '--entity-type', 'clients', '--entity-default')).stdout))
    .toEqual(['Quota configs for the default client-id are request_percentage=12.5']);
  expect(lines(expectSuccess(await configs('--describe', '--entity-type', 'users', '--entity-name', 'bob', '--entity-type', 'clients', '--entity-name', 'app-1')).stdout))
    .toEqual(["Quota configs for user-principal 'bob', client-id 'app-1' are producer_byte_rate=4096.0"]);
  expect(lines(expectSuccess(await configs('--describe', '--entity-type', 'ips', '--entity-name', '10.0.0.7')).stdout))
    .toEqual(["Quota configs for ip '10.0.0.7' are connection_creation_rate=5.0"]);

  expectSuccess(await configs('--alter', '--entity-type', 'users', '--entity-name', 'alice', '--delete-config', 'producer_byte_rate'));
  expect(await userQuotas('alice')).toEqual([{ key: 'consumer_byte_rate', value: 2048 }]);
}, 900_000);

test('a fractional byte rate and a user quota key on an ip are refused with INVALID_REQUEST; nothing is stored', async () => {
  const fractional = await configs('--alter', '--entity-type', 'users', '--entity-name', 'carol', '--add-config', 'producer_byte_rate=10.5');
  expect(fractional.code).not.toBe(0);
  expect(describeRun(fractional)).toContain('InvalidRequestException');
  // kafka-configs refuses this one itself; the broker must too
  const wrongKey = await roundTrip(49, { entries: [{ entity: [{ entityType: 'ip', entityName: '10.0.0.8' }],
    ops: [{ key: 'producer_byte_rate', value: 100, remove: false }] }], validateOnly: false }) as { entries: Array<{ errorCode: number }> };
  expect(wrongKey.entries.map((e) => e.errorCode)).toEqual([42]); // INVALID_REQUEST
  expect(await userQuotas('carol')).toEqual([]);
  expect(await quotasOf('ip', '10.0.0.8')).toEqual([]);
}, 600_000);
