/**
 * Replication over a secured inter-broker listener: two in-process brokers sharing a metadata
 * store, clients on a PLAINTEXT listener, replication on REPLICATION = SASL_SSL with
 * ssl.client.auth=required — so the replica fetcher (and any broker-to-broker connection) must
 * present the broker's certificate, trust the other's, and authenticate with SCRAM-SHA-512 as the
 * user of `listener.name.replication.scram-sha-512.sasl.jaas.config` (its credential added to
 * the store at start). acks=all with min.insync.replicas=2 completes only if the follower
 * replicates; a broker configured with a wrong inter-broker password cannot replicate.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { Broker } from '../broker.ts';
import { BrokerSettings } from '../config.ts';
import { resolveListeners } from '../listeners.ts';
import { createLogger } from '../logger.ts';
import { MemoryStore } from '../metadata/index.ts';
import { makeTestPki } from '../../test/harness/tls-pki.ts';
import { waitFor } from '../replication/fleet-testing.ts';

const { Kafka, logLevel } = kafkajs;

const dirs: string[] = [];
const brokers: Broker[] = [];
afterEach(async () => {
  await Promise.all(brokers.splice(0).map((b) => b.stop('crash').catch(() => undefined)));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function settingsFor(pki: ReturnType<typeof makeTestPki>, password: string): Record<string, string> {
  return {
    listeners: 'CLIENT://127.0.0.1:0,REPLICATION://127.0.0.1:0',
    'listener.security.protocol.map': 'CLIENT:PLAINTEXT,REPLICATION:SASL_SSL',
    'inter.broker.listener.name': 'REPLICATION',
    'ssl.keystore.type': 'PEM', 'ssl.keystore.location': pki.brokerKeystore, 'ssl.truststore.type': 'PEM', 'ssl.truststore.location': pki.caCert,
    'listener.name.replication.ssl.client.auth': 'required',
    'sasl.enabled.mechanisms': 'SCRAM-SHA-512', 'sasl.mechanism.inter.broker.protocol': 'SCRAM-SHA-512',
    'listener.name.replication.scram-sha-512.sasl.jaas.config': `org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="${password}";`,
    'offsets.topic.replication.factor': '1', 'group.initial.rebalance.delay.ms': '0', 'broker.session.timeout.ms': '4000',
  };
}

async function startBroker(id: number, store: MemoryStore, settings: Record<string, string>, dir: string): Promise<Broker> {
  const s = new BrokerSettings(settings);
  const plan = resolveListeners({
    listeners: s.get('listeners'), protocolMap: s.get('listener.security.protocol.map'), interBrokerListenerName: s.get('inter.broker.listener.name'),
  });
  const b = await Broker.start({ nodeId: id, listeners: plan, dataDir: join(dir, `b${id}`), store, settings: s, metricsPort: null, logger: createLogger(`broker-${id}`, 'warn') });
  brokers.push(b);
  return b;
}

describe('replication over SASL_SSL with mTLS', () => {
  test('the follower replicates over the secured inter-broker listener: acks=all with min.insync.replicas=2 completes, both logs end at the same offset', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'brook-repl-tls-'));
    dirs.push(dir);
    const pki = makeTestPki(join(dir));
    const store = new MemoryStore();
    const b0 = await startBroker(0, store, settingsFor(pki, 'broker-secret'), dir);
    const b1 = await startBroker(1, store, settingsFor(pki, 'broker-secret'), dir);
    await waitFor(() => b0.liveBrokers().length === 2 && b1.liveBrokers().length === 2, 'both brokers live');
    expect(b0.scramCredential('broker', 'SCRAM-SHA-512')).toBeDefined();

    const kafka = new Kafka({ clientId: 'repl', brokers: [`127.0.0.1:${b0.listenPorts().get('CLIENT')}`], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'secure', numPartitions: 2, replicationFactor: 2, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }], waitForLeaders: true });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    for (let i = 0; i < 20; i++) await producer.send({ topic: 'secure', acks: -1, messages: [{ key: `k${i}`, value: `v${i}` }] });
    await producer.disconnect();
    for (const index of [0, 1]) {
      await waitFor(() => {
        const [p0, p1] = [b0.partition('secure', index), b1.partition('secure', index)];
        return !!p0 && !!p1 && p0.log.logEndOffset === p1.log.logEndOffset && p0.state.isr.length === 2;
      }, `partition ${index} replicated`);
    }
    const total = [0, 1].reduce((n, i) => n + Number(b1.partition('secure', i)!.log.logEndOffset), 0);
    expect(total).toBe(20);
  }, 90_000);

  test('a broker whose inter-broker password is wrong cannot replicate: the partition it follows stays out of sync', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'brook-repl-tls-'));
    dirs.push(dir);
    const pki = makeTestPki(join(dir));
    const store = new MemoryStore();
    const b0 = await startBroker(0, store, settingsFor(pki, 'broker-secret'), dir);
    const b1 = await startBroker(1, store, settingsFor(pki, 'not-the-password'), dir);
    await waitFor(() => b0.liveBrokers().length === 2, 'both brokers live');
    const kafka = new Kafka({ clientId: 'repl', brokers: [`127.0.0.1:${b0.listenPorts().get('CLIENT')}`], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'locked', replicaAssignment: [{ partition: 0, replicas: [0, 1] }] }], waitForLeaders: true });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'locked', acks: 1, messages: [{ value: 'only on the leader' }] });
    await producer.disconnect();
    await new Promise((r) => setTimeout(r, 3_000));
    expect(b0.partition('locked', 0)!.log.logEndOffset).toBe(1n);
    expect(b1.partition('locked', 0)!.log.logEndOffset).toBe(0n);
  }, 90_000);
});
